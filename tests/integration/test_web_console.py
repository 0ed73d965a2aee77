"""The web console through real processes: ``chuanyu engine`` on the embedded demo market (on a
fake clock inside its trading hours), ``chuanyu web`` beside it, and a real headless Chromium
(Debian's ``chromium`` and ``chromedriver``, driven by selenium) on loopback.

Without the browser, the HTTP checks still run; the browser tests skip saying what is missing.
With ``CHUANYU_SCREENSHOTS=1`` the browser tests write their screenshots to ``docs/screenshots``
(the README shows them); otherwise to the test's temporary folder.
"""
from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from conftest import REPO, Daemon, _env, admin_status, eventually
from exchange.config import example_toml
from exchange.passwords import hash_password
from gateway.protocol import MsgType
from matching import Side

YEAR = dt.date.today().year
SCEA, CQEA = f"SCEA{YEAR}", f"CQEA{YEAR}"
PASSWORD = "tianfu-operator-2026"
WEB = f'\n[web]\nconsole_user = "operator"\nconsole_password = "{hash_password(PASSWORD)}"\n'
CST = dt.timezone(dt.timedelta(hours=8))
CLOCK = {"CHUANYU_FAKE_CLOCK_START": f"{dt.datetime.now(CST):%Y-%m-%d}T10:00:00", "CHUANYU_FAKE_CLOCK_SPEED": "1"}
SHOTS = REPO / "docs" / "screenshots"


class Web:
    """A ``chuanyu web`` subprocess on a free port."""

    def __init__(self, state_dir: Path, config_path: Path) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "chuanyu.cli", "web", "--state-dir", str(state_dir), "--config", str(config_path),
             "--port", "0"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=_env())
        said = []                                   # warnings may come first (e.g. asyncio's, in development mode)
        while not (line := self.proc.stdout.readline()).startswith("chuanyu web: http://"):
            said.append(line)
            assert line, "chuanyu web did not start:\n" + "".join(said)
        self.url = line.split()[2].rstrip("/")

    def get(self, path: str, data: dict | None = None, headers: dict | None = None):
        """(status, body) of one request; ``data``: a form POST."""
        body = urllib.parse.urlencode(data).encode() if data is not None else None
        request = urllib.request.Request(self.url + path, data=body, headers=headers or {})
        try:
            with urllib.request.urlopen(request, timeout=10) as r:
                return r.status, r.read().decode()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read().decode()

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(10)
        self.proc.stdout.close()


@pytest.fixture(scope="module")
def market(tmp_path_factory):
    state = tmp_path_factory.mktemp("web") / "state"
    d = Daemon(state, example_toml(YEAR) + WEB, env=CLOCK)
    web = Web(state, d.config_path)
    eventually(lambda: json.loads(web.get("/api/overview")[1])["error"] is None, 15, interval=0.1,
               what="the web console to follow the feed")
    yield d, web
    web.stop()
    d.stop()


@pytest.fixture(scope="module")
def browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    chrome = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver")
    if not (chrome and driver):
        pytest.skip("no headless browser: install Debian's chromium and chromium-driver (.ci/run does)")
    options = webdriver.ChromeOptions()
    options.binary_location = chrome
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1200,900"):
        options.add_argument(arg)
    b = webdriver.Chrome(service=Service(driver), options=options)   # the given driver: selenium fetches none
    b.set_page_load_timeout(20)
    yield b
    b.quit()


def shot(browser, name: str, tmp_path: Path) -> None:
    folder = SHOTS if os.environ.get("CHUANYU_SCREENSHOTS") == "1" else tmp_path
    folder.mkdir(parents=True, exist_ok=True)
    height = browser.execute_script("return document.body.scrollHeight")
    browser.set_window_size(1200, min(max(height + 40, 600), 2400))
    browser.save_screenshot(str(folder / f"{name}.png"))
    browser.set_window_size(1200, 900)


def rows(browser, css: str) -> list[tuple[str | None, list[str]]]:
    """(data-symbol or data-trade-id, cell texts) of each row ``css`` finds, read at once: the
    page replaces its live part as updates come, so element handles go stale."""
    return [tuple(r) for r in browser.execute_script(
        "return Array.from(document.querySelectorAll(arguments[0])).map(r => ["
        "r.getAttribute('data-symbol') || r.getAttribute('data-trade-id'),"
        "Array.from(r.querySelectorAll('td')).map(td => td.textContent.trim())])", css)]


def trade(connect, d: Daemon, qty: int, price: int) -> int:
    """Account 1 (Sichuan) sells to account 3 (Chongqing) through the gateway; the trade's price."""
    sc, cq = connect(d, 1), connect(d, 2)
    sc.login()
    cq.login()
    sc.submit(0, 1, Side.SELL, qty=qty, price=price)
    assert sc.wait_for(lambda r: r.msg_type in (MsgType.ACK, MsgType.REJECT), timeout_ms=3000).msg_type == MsgType.ACK
    cq.submit(0, 3, Side.BUY, qty=qty, price=price)
    fill = cq.wait_for(lambda r: r.msg_type == MsgType.FILL, timeout_ms=3000)
    sc.logout()
    cq.logout()
    return fill.price


# ------------------------------------------------------------------ over HTTP, no browser
def test_pages_answer_and_the_console_is_never_open_without_credentials(market):
    d, web = market
    status, html = web.get("/")
    assert status == 200 and SCEA in html and "<script" in html and "live.js" in html
    assert web.get("/instrument/NOPE")[0] == 404 and web.get("/eod/notadate")[0] == 404
    status, html = web.get("/console")                       # no login: to the login form
    assert status == 200 and 'action="/console/login"' in html and "Operator console" in html
    assert web.get("/console/login", {"user": "operator", "password": "wrong"})[0] == 401
    assert web.get("/console/login", {"user": "operator", "password": "x" * 5000})[0] == 413     # 4 KiB at most
    status, _ = web.get("/console/login", headers={"Content-Type": "multipart/form-data; boundary=x"},
                        data={"user": "operator"})
    assert status == 413                                                 # url-encoded forms only
    assert web.get("/console/action", {"action": "halt", "instrument": SCEA, "confirmed": "yes"})[0] in (200, 303)
    assert admin_status(_ctx(), d)["instruments"][0]["status"] != "HALTED"      # nothing was done
    guessing = Web(d.state_dir, d.config_path)          # its own count of failures (the browser's server keeps none)
    try:
        for _ in range(5):
            assert guessing.get("/console/login", {"user": "operator", "password": "guess"})[0] == 401
        assert guessing.get("/console/login", {"user": "operator", "password": PASSWORD})[0] == 429   # now wait
    finally:
        guessing.stop()


def test_a_console_without_a_password_is_closed(tmp_path):
    state = tmp_path / "state"
    state.mkdir()
    config = tmp_path / "market.toml"
    config.write_text(example_toml(YEAR))
    web = Web(state, config)
    try:
        status, html = web.get("/console")
        assert status == 403 and "console_password" in html
        assert web.get("/console/login", {"user": "operator", "password": "anything"})[0] == 403
        status, html = web.get("/")
        assert status == 200 and "waiting for the daemon" in html           # no daemon: says so, no crash
    finally:
        web.stop()


def test_the_event_stream_carries_a_trade(market, connect):
    d, web = market
    with urllib.request.urlopen(f"{web.url}/events?symbol={SCEA}", timeout=10) as stream:
        assert stream.readline().startswith(b"retry:")
        price = trade(connect, d, 100, 4990)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            line = stream.readline()
            if line.startswith(b"data:"):
                message = json.loads(line[5:])
                assert message["type"] in ("update", "resync") and message.get("symbols", [SCEA]) == [SCEA]
                if message.get("trades"):
                    break
        else:
            raise AssertionError("no trade on the event stream")
    assert message["trades"] == {SCEA: 1}
    row = next(r for r in json.loads(web.get("/api/overview")[1])["instruments"] if r["symbol"] == SCEA)
    assert row["last"] == price and row["volume"]["CONTINUOUS"] >= 100


def _ctx():
    import zmq
    return zmq.Context.instance()


# ------------------------------------------------------------------ in a real browser
def test_the_overview_shows_the_demo_market(market, browser, tmp_path):
    from selenium.webdriver.common.by import By
    d, web = market
    browser.get(web.url + "/")
    eventually(lambda: browser.find_element(By.ID, "live").get_attribute("data-updated"), 5, interval=0.05,
               what="the page to connect its event stream")
    shown = rows(browser, "table.overview tbody tr")
    assert [symbol for symbol, _ in shown] == [SCEA, CQEA, f"CCER{YEAR - 1}"]
    assert "allowance SC" in shown[0][1][0] and "allowance CQ" in shown[1][1][0] and "cer" in shown[2][1][0]
    assert {cells[1] for _, cells in shown} == {"TRADING"}
    shot(browser, "overview", tmp_path)


def test_a_trade_through_the_gateway_appears_on_the_instrument_page_within_a_second(market, browser, connect,
                                                                                      tmp_path):
    from selenium.webdriver.common.by import By
    d, web = market
    browser.get(f"{web.url}/instrument/{SCEA}")
    eventually(lambda: browser.find_element(By.ID, "live").get_attribute("data-updated"), 5, interval=0.05,
               what="the page to connect its event stream")
    before = {trade_id for trade_id, _ in rows(browser, "#trades tr[data-trade-id]")}
    start = time.monotonic()
    trade(connect, d, 300, 5010)
    sent = time.monotonic()

    def shown():
        new = [cells for trade_id, cells in rows(browser, "#trades tr[data-trade-id]") if trade_id not in before]
        return new[0] if new else None
    cells = eventually(shown, 5, interval=0.02, what="the trade on the page")
    seen = time.monotonic()
    assert cells[1:4] == ["continuous", "50.10", "300"]
    assert seen - sent < 1.0, f"the trade took {seen - sent:.2f} s to appear (the order round trip took {sent - start:.2f} s)"


def test_the_book_on_the_page_equals_the_engines(market, browser, connect, tmp_path):
    d, web = market
    sc, cq = connect(d, 1), connect(d, 2)
    sc.login()
    cq.login()
    for account, client, side, qty, price in ((1, sc, Side.SELL, 700, 5080), (2, sc, Side.SELL, 300, 5080),
                                              (1, sc, Side.SELL, 500, 5120), (3, cq, Side.BUY, 400, 4900),
                                              (4, cq, Side.BUY, 600, 4850)):
        client.submit(0, account, side, qty=qty, price=price)
        assert client.wait_for(lambda r: r.msg_type in (MsgType.ACK, MsgType.REJECT),
                               timeout_ms=3000).msg_type == MsgType.ACK
    engine_book = _engine_book(d)
    browser.get(f"{web.url}/instrument/{SCEA}")

    def page_book():
        bids, asks = [], []
        for _, cells in rows(browser, "#book tbody tr"):
            if cells[2]:
                bids.append((_fen(cells[2]), int(cells[1].replace(",", "")), int(cells[0])))
            if cells[3]:
                asks.append((_fen(cells[3]), int(cells[4].replace(",", "")), int(cells[5])))
        return (bids, asks) if (bids, asks) == engine_book else None
    eventually(page_book, 5, interval=0.05, what=f"the page's book to equal the engine's {engine_book}")
    assert ((5080, 1000, 2) in engine_book[1]) and ((4900, 400, 1) in engine_book[0])
    shot(browser, "instrument", tmp_path)
    sc.logout()
    cq.logout()


def test_the_console_refuses_without_credentials_and_halts_an_instrument_with_them(market, browser, tmp_path):
    from selenium.webdriver.common.by import By
    d, web = market
    browser.delete_all_cookies()
    browser.get(web.url + "/console")
    assert "/console/login" in browser.current_url
    browser.find_element(By.NAME, "user").send_keys("operator")
    browser.find_element(By.NAME, "password").send_keys("not the password")
    browser.find_element(By.CSS_SELECTOR, "form.login button").click()
    assert "Wrong user or password" in text_of(browser, "p.error")
    browser.get(web.url + "/console/login")
    browser.find_element(By.NAME, "user").send_keys("operator")
    browser.find_element(By.NAME, "password").send_keys(PASSWORD)
    browser.find_element(By.CSS_SELECTOR, "form.login button").click()
    cqea = f'table.console-instruments tr[data-symbol="{CQEA}"]'
    assert "TRADING" in text_of(browser, cqea)
    shot(browser, "console", tmp_path)
    browser.find_element(By.CSS_SELECTOR, f'{cqea} button[value="halt"]').click()
    assert "Halt" in text_of(browser, "p.confirm")                                 # asked first
    assert admin_status(_ctx(), d)["instruments"][1]["status"] == "TRADING"
    browser.find_element(By.ID, "confirm").click()
    assert "done" in text_of(browser, "p.notice")
    assert admin_status(_ctx(), d)["instruments"][1]["status"] == "HALTED"
    assert "HALTED" in text_of(browser, cqea)
    browser.find_element(By.CSS_SELECTOR, f'{cqea} button[value="resume"]').click()
    text_of(browser, "p.confirm")
    browser.find_element(By.ID, "confirm").click()
    assert "Resume" in text_of(browser, "p.notice")
    assert admin_status(_ctx(), d)["instruments"][1]["status"] == "TRADING"


def text_of(browser, css: str) -> str:
    """The text of the first element ``css`` finds, once the page that has it has loaded."""
    from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException
    from selenium.webdriver.common.by import By

    def find():
        try:
            return browser.find_element(By.CSS_SELECTOR, css).text or None
        except (NoSuchElementException, StaleElementReferenceException):
            return None
    return eventually(find, 5, interval=0.02, what=f"{css} on the page")


def _fen(yuan: str) -> int:
    return round(float(yuan.replace(",", "")) * 100)


def _engine_book(d: Daemon):
    """SCEA's continuous book from the daemon's own state (``chuanyu admin`` over the admin socket)."""
    from conftest import admin_request
    reply = admin_request(_ctx(), d, "book", instrument=SCEA)
    return ([tuple(level) for level in reply["book"]["bids"]], [tuple(level) for level in reply["book"]["asks"]])


def test_pages_fit_a_phone_and_the_end_of_day_page_needs_no_script(market, browser, tmp_path):
    d, web = market
    run = subprocess.run([sys.executable, "-m", "chuanyu.cli", "admin", "--state-dir", str(d.state_dir),
                          "end-of-day", CQEA], capture_output=True, text=True, env=_env(), timeout=60)
    assert run.returncode == 0, run.stdout + run.stderr
    eventually(lambda: list(d.state_dir.glob("eod-*.json")), 10, what="the end-of-day report")
    status, html = web.get("/eod")
    assert status == 200 and "<script" not in html and CQEA in html and "Block trades and auctions" in html
    browser.set_window_size(390, 844)
    try:
        for path in ("/", f"/instrument/{SCEA}", "/eod"):
            browser.get(web.url + path)
            widths = browser.execute_script("return [document.documentElement.scrollWidth, window.innerWidth]")
            assert widths[0] <= widths[1], f"{path} is wider than a phone: {widths}"
        browser.save_screenshot(str((SHOTS if os.environ.get("CHUANYU_SCREENSHOTS") == "1" else tmp_path)
                                    / "eod-phone.png"))
    finally:
        browser.set_window_size(1200, 900)


def test_after_the_daemon_restarts_the_page_follows_the_new_feed(market, browser, connect, tmp_path):
    d, web = market
    browser.get(f"{web.url}/instrument/{SCEA}")
    d.proc.kill()                                     # kill -9: the web console loses its feed
    d.proc.wait(10)
    d.start()                                         # new ports: the web console reads endpoints.json again
    eventually(lambda: json.loads(web.get("/api/overview")[1])["error"] is None and _connected(web, d), 20,
               interval=0.1, what="the web console to follow the restarted daemon's feed")
    before = {trade_id for trade_id, _ in rows(browser, "#trades tr[data-trade-id]")}
    trade(connect, d, 200, 5020)

    def shown():
        return [cells for trade_id, cells in rows(browser, "#trades tr[data-trade-id]") if trade_id not in before]
    assert eventually(shown, 10, interval=0.05, what="a trade after the restart on the page")[0][2] == "50.20"


def _connected(web: Web, d: Daemon) -> bool:
    """Whether the web console's book is the restarted daemon's (the feed's sequence goes on)."""
    status, body = web.get(f"/api/book/{SCEA}")
    return status == 200 and json.loads(body)["seq"] is not None


def test_the_engine_starts_its_web_console_and_stops_it(tmp_path):
    import re
    d = Daemon(tmp_path / "state", re.sub(r"(?m)^(\w+_port) = \d+", r"\1 = 0", example_toml(YEAR)) + WEB, env=CLOCK)
    d.stop()
    d.start("--web-port", "0")
    try:
        found = eventually(lambda: re.search(r"chuanyu web: (http://\S+)/", d.output()), 20, interval=0.1,
                           what="the web console's address in the daemon's output")
        url = found.group(1)
        with urllib.request.urlopen(url + "/", timeout=10) as page:
            assert page.status == 200 and SCEA in page.read().decode()
    finally:
        assert d.stop() == 0
    with pytest.raises(urllib.error.URLError):
        urllib.request.urlopen(url + "/", timeout=5)
