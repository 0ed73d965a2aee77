"""The daemon drives the trading schedule: a real daemon on a fake clock (CHUANYU_FAKE_CLOCK_START,
running 40 times as fast as real time) through a compressed trading day of one-minute sessions.

Fake timeline (Monday 2026-11-30, UTC+8), and real seconds after the daemon's loop starts:

    10:00 pre-open   10:01 continuous   10:02 break   10:03 continuous + block   10:04 close, end of day
    0 s              1.5 s              3 s           4.5 s                      6 s

The test follows the phases through the admin ``status`` request and places orders in them.
"""
import pytest

from conftest import MARKET, Daemon, eventually
from exchange.admin import AdminClient
from gateway.client import load_keys
from gateway.protocol import MsgType
from matching import CancelReason, Reject, Side, TimeInForce

SCEA, CQEA = 0, 1
DAY = "2026-11-30"
SCHEDULE = """
[schedule]
timezone = "UTC+08:00"
pre_open = "10:00"
continuous = [["10:01", "10:02"], ["10:03", "10:04"]]
block = [["10:03", "10:04"]]
end_of_day = "10:04"
"""
CLOCK = {"CHUANYU_FAKE_CLOCK_START": f"{DAY}T10:00:00", "CHUANYU_FAKE_CLOCK_SPEED": "40"}


@pytest.fixture
def scheduled_daemon(tmp_path):
    d = Daemon(tmp_path / "state", MARKET + SCHEDULE, env=CLOCK)
    yield d
    d.stop()


@pytest.fixture
def admin(scheduled_daemon, zctx):
    d = scheduled_daemon
    public, secret = load_keys(d.keys, "admin")
    a = AdminClient(d.info["admin"], d.info["server_public_key"], public, secret, timeout_ms=3000, context=zctx)
    yield a
    a.close()


def test_the_daemon_drives_phases_block_window_and_end_of_day(scheduled_daemon, admin, connect):
    seen = []                                  # (fake time, SCEA status, CQEA status, SCEA block window)

    def status():
        for client in (sc, cq):                # the sessions wait with us: keep them alive
            client.heartbeat()
        st = admin.request("status")["status"]
        sched = st["schedule"]
        row = (sched["now"], st["instruments"][SCEA]["status"], st["instruments"][CQEA]["status"],
               sched["instruments"][SCEA]["block_window"])
        if not seen or seen[-1][1:] != row[1:]:
            seen.append(row)
        return st

    def wait(what, predicate):
        """Poll the status until ``predicate`` holds; return that status."""
        def check():
            st = status()
            return st if predicate(st) else None
        return eventually(check, timeout=10, interval=0.02, what=what)

    def phase(st, n=SCEA):
        return st["instruments"][n]["status"]

    assert "fake clock" in scheduled_daemon.output()
    sc, cq = connect(scheduled_daemon, 1, heartbeat_ms=2000), connect(scheduled_daemon, 2, heartbeat_ms=2000)
    sc.login()
    cq.login()

    # Morning session: a DAY order is accepted and rests; the operator halts CQEA.
    wait("the morning session", lambda st: phase(st) == "TRADING" and st["schedule"]["now"] < f"{DAY}T10:02")
    coid = sc.submit(SCEA, 1, Side.BUY, qty=5, price=4900, tif=TimeInForce.DAY)
    ack = sc.wait_for(lambda r: r.client_order_id == coid, timeout_ms=3000)
    assert ack.msg_type == MsgType.ACK
    assert admin.request("halt", instrument="CQEA2026")["events"][0]["kind"] == "INSTRUMENT_STATUS"

    # The lunch break: orders are refused MARKET_CLOSED; the halt stands.
    st = wait("the lunch break", lambda st: phase(st) == "CLOSED")
    assert f"{DAY}T10:02" <= st["schedule"]["now"] < f"{DAY}T10:03" and phase(st, CQEA) == "HALTED"
    coid = sc.submit(SCEA, 2, Side.SELL, qty=5, price=5000)
    assert sc.wait_for(lambda r: r.client_order_id == coid, timeout_ms=3000).reason == Reject.MARKET_CLOSED

    # The afternoon session opens with the block window; CQEA stays halted until resumed.
    st = wait("the afternoon session", lambda st: phase(st) == "TRADING")
    assert st["schedule"]["instruments"][SCEA]["block_window"] and phase(st, CQEA) == "HALTED"
    coid = cq.submit(CQEA, 3, Side.SELL, qty=1, price=4480)
    assert cq.wait_for(lambda r: r.client_order_id == coid, timeout_ms=3000).reason == Reject.INSTRUMENT_HALTED
    admin.request("resume", instrument="CQEA2026")
    assert phase(status(), CQEA) in ("TRADING", "CLOSED")       # the scheduled phase of the moment

    # The close and the end of day: the DAY order expires (session 0: the schedule's command).
    st = wait("the end of day", lambda st: st["schedule"]["instruments"][SCEA]["eod_done"] == DAY)
    assert phase(st) == "CLOSED" and phase(st, CQEA) == "CLOSED"
    assert not st["schedule"]["instruments"][SCEA]["block_window"]
    expired = sc.wait_for(lambda r: r.msg_type == MsgType.CANCELLED, timeout_ms=3000)
    assert (expired.order_id, expired.reason, expired.session) == (ack.order_id, CancelReason.EXPIRY, 0)

    phases = [s for n, (_, s, _, _) in enumerate(seen) if n == 0 or s != seen[n - 1][1]]
    assert phases[-4:] == ["TRADING", "CLOSED", "TRADING", "CLOSED"], seen
    assert st["schedule"]["trading_day"] is True
