"""A volatility interruption through the real daemon on a fake clock (10 times real time): the
operator sets SCEA2026's dynamic band to 1%; an order that would trade 80 fen from the
reference (1.6%) is accepted but does not trade: the instrument goes into a call, the log
says why, and the daemon's schedule ends the call ``interruption_s`` (20 fake seconds) later,
uncrossing it at one price: both platforms get their fills."""
import pytest

from conftest import MARKET, Daemon, admin_request, drain, eventually, instrument_setting
from gateway.protocol import MsgType
from matching import Side

SCEA, SC_ACCOUNT, CQ_ACCOUNT = 0, 1, 4
SCHEDULE = """
[schedule]
timezone = "UTC+08:00"
pre_open = "09:59"
continuous = [["10:00", "11:00"]]
block = []
end_of_day = "11:00"
interruption_s = 20
"""
CLOCK = {"CHUANYU_FAKE_CLOCK_START": "2026-11-30T10:00:00", "CHUANYU_FAKE_CLOCK_SPEED": "10"}


@pytest.fixture
def scheduled_daemon(tmp_path):
    d = Daemon(tmp_path / "state", MARKET + SCHEDULE, env=CLOCK)
    yield d
    d.stop()


def test_an_order_outside_the_dynamic_band_starts_an_interruption_the_schedule_ends(scheduled_daemon, connect, zctx):
    d = scheduled_daemon
    reply = admin_request(zctx, d, "instrument", instrument="SCEA2026", parameter="DYNAMIC_BAND_BPS", value=100)
    assert [e["kind"] for e in reply["events"]] == ["INSTRUMENT_PARAMETER"]
    sc, cq = connect(d, 1), connect(d, 2)
    sc.login()
    cq.login()
    sc.submit(SCEA, SC_ACCOUNT, Side.SELL, qty=10, price=5080)
    sell = drain(sc, lambda got: any(r.msg_type == MsgType.ACK for r in got))[-1]
    cq.submit(SCEA, CQ_ACCOUNT, Side.BUY, qty=10, price=5100)
    got = drain(cq, lambda got: any(r.msg_type == MsgType.ACK for r in got))
    buy = got[-1]
    assert not [r for r in got if r.msg_type == MsgType.FILL]
    status = admin_request(zctx, d, "status")["status"]
    assert status["instruments"][SCEA]["status"] == "CALL"
    assert "SCEA2026: volatility interruption" in d.output()
    # 20 fake seconds are 2 real ones: the schedule's TRADING uncrosses the call
    fills = {sc: [], cq: []}

    def filled():
        for client, got in fills.items():      # the sessions wait with us: keep them alive
            client.heartbeat()
            got += [r for r in client.reports(50) if r.msg_type == MsgType.FILL]
        return all(fills.values())
    eventually(filled, timeout=10, what="the interruption's end")
    fill_s, fill_b = fills[sc][0], fills[cq][0]
    # 5080 and 5100 both execute 10 with no surplus: 5080 is nearer the reference (5000)
    assert (fill_s.order_id, fill_s.price, fill_s.qty) == (sell.order_id, 5080, 10)
    assert (fill_b.order_id, fill_b.price, fill_b.qty) == (buy.order_id, 5080, 10)
    eventually(lambda: admin_request(zctx, d, "status")["status"]["instruments"][SCEA]["status"] == "TRADING",
               what="trading again")
    for c in (sc, cq):
        c.logout(timeout_ms=1000)


@pytest.fixture
def banded_daemon(tmp_path):
    """As scheduled_daemon, SCEA2026's 1% dynamic band in its configuration."""
    d = Daemon(tmp_path / "state", instrument_setting(5000, "dynamic_band_bps = 100") + SCHEDULE, env=CLOCK)
    yield d
    d.stop()


def test_an_interruption_under_way_at_a_crash_is_ended_after_the_restart(banded_daemon, connect, zctx):
    d = banded_daemon
    sc, cq = connect(d, 1), connect(d, 2)
    sc.login()
    cq.login()
    sc.submit(SCEA, SC_ACCOUNT, Side.SELL, qty=10, price=5080)
    drain(sc, lambda got: any(r.msg_type == MsgType.ACK for r in got))
    cq.submit(SCEA, CQ_ACCOUNT, Side.BUY, qty=10, price=5100)
    drain(cq, lambda got: any(r.msg_type == MsgType.ACK for r in got))
    assert admin_request(zctx, d, "status")["status"]["instruments"][SCEA]["status"] == "CALL"
    d.proc.kill()                                  # kill -9 inside the interruption's 20 fake seconds
    d.proc.wait(10)
    d.start()                                      # the fake clock restarts at 10:00: trading hours
    status = admin_request(zctx, d, "status")["status"]
    assert status["instruments"][SCEA]["status"] == "CALL"          # recovered in its call
    # the restarted schedule ends it interruption_s after the start: the book uncrosses at 5080
    eventually(lambda: admin_request(zctx, d, "status")["status"]["instruments"][SCEA]["status"] == "TRADING",
               timeout=10, what="the interruption's end after the restart")
    assert "instrument SCEA2026: TRADING" in d.output().rsplit("engine starting", 1)[1]
    sc2 = connect(d, 1)
    sc2.login(last_report_seq=0)                   # gap fill: every report of the session
    fills = drain(sc2, lambda got: any(r.msg_type == MsgType.FILL for r in got), timeout=10)
    fill = next(r for r in fills if r.msg_type == MsgType.FILL)
    assert (fill.price, fill.qty) == (5080, 10)
