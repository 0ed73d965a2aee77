"""``chuanyu feed``: the terminal view of a real daemon's feed and its JSON lines, run as a
user would."""
import json
import queue
import signal
import subprocess
import sys
import threading
import time

from conftest import REPO, _env, drain, eventually
from exchange.admin import AdminClient
from gateway.client import load_keys
from matching import Side


def _feed(daemon, *args, timeout=20):
    return subprocess.run([sys.executable, "-m", "chuanyu.cli", "feed", "--state-dir", str(daemon.state_dir), *args],
                          capture_output=True, text=True, timeout=timeout, cwd=REPO, env=_env())


def test_once_prints_the_book_and_the_last_trade_of_the_chosen_instrument(daemon, connect):
    sc, cq = connect(daemon, 1), connect(daemon, 2)
    sc.login(), cq.login()
    sc.submit(1, 1, Side.SELL, qty=40, price=4521)       # CQEA2026: the only orders on it in this module
    sc.submit(1, 1, Side.SELL, qty=15, price=4530)
    cq.submit(1, 3, Side.BUY, qty=25, price=4521)
    cq.submit(1, 3, Side.BUY, qty=9, price=4470)
    got = drain(cq, lambda g: sum(r.type_name == "ACK" for r in g) == 2 and any(r.type_name == "FILL" for r in g))
    assert [r.qty for r in got if r.type_name == "FILL"] == [25]
    run = _feed(daemon, "CQEA2026", "--once")
    assert run.returncode == 0, run.stderr
    out = run.stdout
    assert "CQEA2026" in out and "SCEA2026" not in out
    assert "45.21" in out and "45.30" in out and "44.70" in out          # both sides of the ladder, in yuan
    assert "15" in out and "9" in out
    assert "last trades" in out and "CONTINUOUS" in out and "25" in out


def test_count_follows_the_live_feed_and_exits(daemon, connect):
    sc = connect(daemon, 1)
    sc.login()
    proc = subprocess.Popen([sys.executable, "-m", "chuanyu.cli", "feed", "--state-dir", str(daemon.state_dir),
                             "SCEA2026", "--count", "2", "--duration", "20"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, cwd=REPO, env=_env())
    try:
        price = 5100

        def traded():                    # keep the feed moving until the view has seen two messages
            nonlocal price
            if proc.poll() is not None:
                return True
            price += 1
            sc.submit(0, 2, Side.SELL, qty=1, price=price)
            return False
        eventually(traded, 20, interval=0.05, what="chuanyu feed --count 2 to exit")
        out, err = proc.communicate(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, err
    assert "SCEA2026" in out and "51." in out                               # the new asks, 51.xx yuan


def test_an_unknown_symbol_or_no_daemon_is_a_clear_error(daemon, tmp_path):
    run = _feed(daemon, "NOPE2026", "--once")
    assert run.returncode == 2 and "unknown instrument 'NOPE2026'" in run.stderr
    run = subprocess.run([sys.executable, "-m", "chuanyu.cli", "feed", "--state-dir", str(tmp_path), "--once"],
                         capture_output=True, text=True, timeout=20, cwd=REPO, env=_env())
    assert run.returncode == 1 and "no feed found" in run.stderr


class _Lines:
    """A running ``chuanyu feed --json``: its stdout's lines as they come (read on a thread,
    so that a test can wait for one with a deadline)."""

    def __init__(self, daemon, *args):
        self.proc = subprocess.Popen([sys.executable, "-m", "chuanyu.cli", "feed", "--state-dir",
                                      str(daemon.state_dir), "--json", *args], stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True, cwd=REPO, env=_env())
        self.lines, self._q = [], queue.Queue()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self):
        for line in self.proc.stdout:
            self._q.put(json.loads(line))
        self._q.put(None)

    def until(self, predicate, timeout=20.0, what="a line"):
        """Take lines until ``predicate(line)``; return that line."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                line = self._q.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                raise AssertionError(f"no {what} within {timeout} s; got {self.lines}") from None
            if line is None:
                raise AssertionError(f"chuanyu feed exited ({self.proc.wait()}) before {what}: "
                                     f"{self.proc.stderr.read()}; got {self.lines}")
            self.lines.append(line)
            if predicate(line):
                return line

    def finish(self, sig=None, timeout=20):
        """Stop it (``sig``) or let it end; its exit status and stderr. The lines are all read."""
        if sig is not None:
            self.proc.send_signal(sig)
        try:
            code = self.proc.wait(timeout)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait()
        self._reader.join(10)
        while (line := self._q.get_nowait()) is not None:
            self.lines.append(line)
        return code, self.proc.stderr.read()


def _admin(daemon, zctx):
    public, secret = load_keys(daemon.keys, "admin")
    return AdminClient(daemon.info["admin"], daemon.info["server_public_key"], public, secret, timeout_ms=5000,
                       context=zctx)


def test_json_lines_describe_the_trades_the_phase_and_the_listings(fresh_daemon, connect, zctx):
    """Phase changes, a listing and a take, a continuous trade and the end of day through the
    real daemon: first as the snapshot's lines of a subscriber that joins late, then live."""
    admin = _admin(fresh_daemon, zctx)
    try:
        admin.request("phase", instrument="SCEA2026", status="PRE_OPEN")
        admin.request("phase", instrument="SCEA2026", status="TRADING")
        sc, cq = connect(fresh_daemon, 1), connect(fresh_daemon, 2)
        sc.login(), cq.login()
        coid = sc.list_fixed(0, 1, Side.SELL, qty=500, price=5000, min_qty=100)
        listing = sc.wait_for(lambda r: r.client_order_id == coid)
        assert listing.type_name == "ACK"

        feed = _Lines(fresh_daemon, "SCEA2026", "--duration", "60")
        marker = feed.until(lambda o: o["type"] == "snapshot", what="the snapshot marker")
        assert marker["symbols"] == ["SCEA2026"] and marker["seq"] >= 3
        # the live updates: a take of the listing, a continuous trade, a halt, the end of day
        coid = cq.take_fixed(listing.order_id, 3, 200)
        assert cq.wait_for(lambda r: r.client_order_id == coid).type_name == "ACK"
        coid = sc.submit(0, 1, Side.SELL, qty=40, price=5010)
        assert sc.wait_for(lambda r: r.client_order_id == coid).type_name == "ACK"     # rests before the buy
        cq.submit(0, 3, Side.BUY, qty=25, price=5010)
        drain(cq, lambda g: any(r.type_name == "FILL" and r.price == 5010 for r in g))
        admin.request("halt", instrument="SCEA2026")
        admin.request("end_of_day", instrument="SCEA2026")
        feed.until(lambda o: o["type"] == "daily_stats", what="the daily statistics")
        code, err = feed.finish(signal.SIGINT)          # Ctrl-C ends a follow quietly
    finally:
        admin.close()
    assert code == 0 and "Traceback" not in err, err
    lines = feed.lines
    assert all(o["symbol"] == "SCEA2026" for o in lines[1:])
    snap = [o for o in lines[1:] if o["snapshot"]]
    live = [o for o in lines[1:] if not o["snapshot"]]
    assert {"type": "phase", "phase": "TRADING", "block_window": False}.items() <= snap[0].items()
    assert any(o["type"] == "listing" and (o["side"], o["price_fen"], o["qty_t"], o["listings"]) ==
               ("SELL", 5000, 500, 1) for o in snap)
    seqs = [o["seq"] for o in live]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs) and seqs[0] > marker["seq"]

    def one(kind, **fields):
        found = [o for o in live if o["type"] == kind and fields.items() <= o.items()]
        assert len(found) == 1, (kind, fields, live)
        return found[0]
    take = one("trade", trade_type="FIXED")
    assert (take["price_fen"], take["qty_t"]) == (5000, 200)
    one("listing", side="SELL", price_fen=5000, qty_t=300, listings=1)        # what the take left
    trade = one("trade", trade_type="CONTINUOUS")
    assert (trade["price_fen"], trade["qty_t"], trade["aggressor"]) == (5010, 25, "BUY")
    assert trade["trade_id"] > take["trade_id"] and trade["ts_ns"] > 0
    one("depth", side="SELL", price_fen=5010, qty_t=15, orders=1)
    one("bbo", ask_fen=5010, ask_qty_t=15)
    one("phase", phase="HALTED")
    stats = one("daily_stats")
    assert stats["volume_t_by_type"] == {"continuous": 25, "fixed": 200, "block": 0, "auction": 0}
    assert stats["amount_fen_by_type"]["fixed"] == 200 * 5000 and stats["volume_t"] == 225
    one("listing", side="SELL", price_fen=5000, qty_t=0)                      # the end of day expired it

    # a subscriber that comes now gets all of it as the snapshot's lines, and --once ends there
    run = subprocess.run([sys.executable, "-m", "chuanyu.cli", "feed", "--state-dir", str(fresh_daemon.state_dir),
                          "--json", "--once"], capture_output=True, text=True, timeout=30, cwd=REPO, env=_env())
    assert run.returncode == 0, run.stderr
    again = [json.loads(line) for line in run.stdout.splitlines()]
    assert again[0]["type"] == "snapshot" and again[0]["symbols"] == ["SCEA2026", "CQEA2026", "CCER2025"]
    assert all(o["snapshot"] for o in again[1:])
    sce = {o["type"]: o for o in again[1:] if o["symbol"] == "SCEA2026"}
    assert sce["phase"]["phase"] == "HALTED"
    assert (sce["trade"]["trade_id"], sce["trade"]["price_fen"]) == (trade["trade_id"], 5010)
    assert sce["daily_stats"] == {**stats, "snapshot": True}
    assert "listing" not in sce                                                 # none left


def test_json_count_stops_after_n_live_lines_of_the_chosen_instrument(daemon, connect):
    cq = connect(daemon, 2)
    cq.login()
    feed = _Lines(daemon, "CCER2025", "--count", "3", "--duration", "30")
    feed.until(lambda o: o["type"] == "snapshot", what="the snapshot marker")
    price = 5000

    def exited():                        # keep the feed moving: bids on CCER2025 and trades elsewhere
        nonlocal price
        if feed.proc.poll() is not None:
            return True
        price += 5
        cq.submit(2, 4, Side.BUY, qty=1, price=price)
        cq.submit(1, 3, Side.BUY, qty=1, price=4400)
        return False
    eventually(exited, 20, interval=0.05, what="chuanyu feed --json --count 3 to exit")
    code, err = feed.finish()
    assert code == 0, err
    live = [o for o in feed.lines if o["type"] != "snapshot" and not o["snapshot"]]
    assert len(live) == 3 and all(o["symbol"] == "CCER2025" for o in live)
    assert {o["type"] for o in live} <= {"depth", "bbo"}
