"""Metrics and structured logs of the real daemon: ``chuanyu engine --metrics-port N --log-json``
in a subprocess, trading through ``gateway.client.Client``, scraping ``/metrics`` over HTTP."""
import json
import socket
import subprocess
import sys
import urllib.request

import pytest
from prometheus_client.parser import text_string_to_metric_families

from conftest import MARKET, Daemon, _env, eventually
from exchange.admin import AdminClient
from gateway.client import load_keys
from gateway.protocol import MsgType
from matching import Reject, Side

SCEA = 0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ObservedDaemon(Daemon):
    """The conftest daemon with extra ``chuanyu engine`` arguments and stderr (the log) on its own."""

    def __init__(self, state_dir, args=(), config_text=MARKET) -> None:
        self.args = list(args)
        self.log_path = state_dir.parent / f"{state_dir.name}.log"
        super().__init__(state_dir, config_text)

    def start(self) -> None:
        endpoints = self.state_dir / "endpoints.json"
        if endpoints.exists():
            endpoints.unlink()
        self.out = open(self.out_path, "a")
        self.err = open(self.log_path, "a")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "chuanyu.cli", "engine", "--config", str(self.config_path),
             "--state-dir", str(self.state_dir), *self.args],
            stdout=self.out, stderr=self.err, cwd=self.state_dir.parent, env=_env())
        eventually(lambda: endpoints.exists() or self.proc.poll() is not None, 20, what="the daemon to start")
        if self.proc.poll() is not None:
            raise AssertionError(f"daemon exited {self.proc.returncode}:\n{self.output()}\n{self.log()}")
        self.info = json.loads(endpoints.read_text())

    def log(self) -> str:
        self.err.flush()
        return self.log_path.read_text()

    def stop(self) -> int:
        code = super().stop()
        self.err.close()
        return code


def scrape(url: str) -> dict:
    """{(sample name, frozenset of label items): value} of one scrape."""
    with urllib.request.urlopen(url, timeout=5) as r:
        text = r.read().decode()
    return {(s.name, frozenset(s.labels.items())): s.value
            for f in text_string_to_metric_families(text) for s in f.samples}


def sample(samples: dict, name: str, **labels) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


@pytest.fixture(scope="module")
def observed(tmp_path_factory):
    port = free_port()
    d = ObservedDaemon(tmp_path_factory.mktemp("metrics") / "state", ["--metrics-port", str(port), "--log-json"])
    d.port = port
    yield d
    d.stop()


def test_trading_shows_in_the_scraped_order_trade_and_reject_counters(observed, connect):
    assert observed.info["metrics"] == f"http://127.0.0.1:{observed.port}/metrics"
    sc, cq = connect(observed, 1), connect(observed, 2)
    sc.login()
    cq.login()
    sell = sc.submit(SCEA, 1, Side.SELL, qty=100, price=5010)
    sc.wait_for(lambda r: r.client_order_id == sell and r.msg_type == MsgType.ACK)
    buy = cq.submit(SCEA, 4, Side.BUY, qty=60, price=5020)            # cross-regional: fills 60 t
    cq.wait_for(lambda r: r.client_order_id == buy and r.msg_type == MsgType.FILL)
    wrong = sc.submit(SCEA, 3, Side.BUY, qty=1, price=5000)           # a CQ member's account
    assert sc.wait_for(lambda r: r.client_order_id == wrong).reason == Reject.NOT_AUTHORISED

    m = scrape(observed.info["metrics"])
    assert sample(m, "chuanyu_orders_total", trade_type="continuous") >= 2
    assert sample(m, "chuanyu_trades_total", trade_type="continuous") >= 1
    assert sample(m, "chuanyu_traded_tonnes_total", trade_type="continuous") >= 60
    assert sample(m, "chuanyu_rejects_total", reason="NOT_AUTHORISED") >= 1
    assert sample(m, "chuanyu_sessions_logged_in") == 2
    assert sample(m, "chuanyu_session_logged_in", session="sc-platform") == 1
    assert sample(m, "chuanyu_resting_orders") >= 1                   # 40 t of the sell rest
    assert sample(m, "chuanyu_batch_commands_count") >= 2
    assert sample(m, "chuanyu_round_trip_seconds_count") >= 3
    assert sample(m, "chuanyu_journal_bytes_total") > 0
    assert sample(m, "chuanyu_journal_fsync_seconds_count") >= 2      # durability fsync: one per batch
    assert sample(m, "chuanyu_last_seq") >= 16


def test_operator_events_and_sessions_appear_as_json_log_lines(observed, connect, zctx):
    before = len(observed.log().splitlines())
    public, secret = load_keys(observed.keys, "admin")
    op = AdminClient(observed.info["admin"], observed.info["server_public_key"], public, secret,
                     timeout_ms=3000, context=zctx)
    try:
        op.request("halt", instrument="CQEA2026")
        op.request("resume", instrument="CQEA2026")
        op.request("suspend", account=2)
        op.request("restore", account=2)
    finally:
        op.sock.close(linger=0)
    c = connect(observed, 2)
    c.login()
    c.logout()

    def lines():
        every = [json.loads(line) for line in observed.log().splitlines()]      # each line is JSON
        new = every[before:]
        done = any(x["event"] == "session_logout" and x["session"] == "cq-platform" for x in new)
        return (every, new) if done else None

    every, new = eventually(lines, what="the logout log line")
    assert [x["event"] for x in every if x["event"] in ("start", "recovery", "bind")] == ["start", "recovery", "bind"]
    assert [x["event"] for x in new if (x["event"] or "").startswith("session")] == \
        ["session_login", "session_logout"]
    status = [(x["instrument"], x["status"]) for x in new if x["event"] == "instrument_status"]
    assert ("CQEA2026", "HALTED") in status and ("CQEA2026", "TRADING") in status
    assert [(x["account"], x["status"]) for x in new if x["event"] == "account_status"] == \
        [(2, "SUSPENDED"), (2, "ACTIVE")]
    login = next(x for x in new if x["event"] == "session_login")
    assert {"ts", "level", "logger", "message", "session", "session_id"} <= set(login)


def test_the_config_key_turns_metrics_on_and_a_busy_port_is_a_clear_error(tmp_path):
    port = free_port()
    d = ObservedDaemon(tmp_path / "state", [], MARKET.replace("[daemon]\n", f"[daemon]\nmetrics_port = {port}\n"))
    try:
        assert d.info["metrics"] == f"http://127.0.0.1:{port}/metrics"
        m = scrape(d.info["metrics"])
        assert ("chuanyu_orders_total", frozenset({("trade_type", "block")})) in m
        # a second daemon asked for the same metrics port fails to start, naming it
        busy = subprocess.run(
            [sys.executable, "-m", "chuanyu.cli", "engine", "--config", str(d.config_path),
             "--state-dir", str(tmp_path / "other"), "--metrics-port", str(port), "--log-json"],
            capture_output=True, text=True, env=_env(), timeout=60)
        assert busy.returncode == 1
        assert f"cannot serve metrics on 127.0.0.1:{port}" in busy.stderr
        errors = [json.loads(line) for line in busy.stderr.splitlines() if line.startswith("{")]
        assert errors[-1]["event"] == "error" and errors[-1]["level"] == "ERROR"
    finally:
        assert d.stop() == 0
    assert f"chuanyu engine: metrics http://127.0.0.1:{port}/metrics" in d.out_path.read_text()


def test_a_daemon_without_metrics_serves_none(fresh_daemon):
    assert fresh_daemon.info["metrics"] is None


def test_scraping_during_a_demo_finds_order_and_trade_counters(tmp_path):
    port = free_port()
    demo = subprocess.Popen(
        [sys.executable, "-m", "chuanyu.cli", "demo", "--headless", "--duration", "8", "--seed", "3",
         "--metrics-port", str(port), "--state-dir", str(tmp_path / "demo")],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=_env())
    url = f"http://127.0.0.1:{port}/metrics"
    seen = {}
    try:
        def traded():
            if demo.poll() is not None:
                return True                           # ended: the assertions below say what was missing
            try:
                m = scrape(url)
            except OSError:                           # the daemon is not serving yet
                return None
            seen["orders"] = sum(sample(m, "chuanyu_orders_total", trade_type=t)
                                 for t in ("continuous", "fixed", "block", "auction"))
            seen["trades"] = sum(sample(m, "chuanyu_trades_total", trade_type=t)
                                 for t in ("continuous", "fixed", "block", "auction"))
            seen["sessions"] = sample(m, "chuanyu_sessions_logged_in")
            return seen["orders"] > 0 and seen["trades"] > 0

        eventually(traded, timeout=60, interval=0.2, what="non-zero order and trade counters")
        out, _ = demo.communicate(timeout=90)
    finally:
        if demo.poll() is None:
            demo.kill()
            demo.communicate()
    assert seen.get("orders", 0) > 0 and seen.get("trades", 0) > 0, (seen, out[-2000:])
    assert seen["sessions"] >= 2                      # the two platforms (and the regulator) logged in
    assert demo.returncode == 0, out[-2000:]
    assert f"metrics {url}" in out
