"""Reconnect gap fill through the real daemon (issue 6): a session that comes back with the
last ``report_seq`` it saw receives exactly the reports it missed, in order, before new ones;
also after a graceful restart (the snapshot's kept window) and after ``kill -9`` (the window
rebuilt by replaying the journal); a request older than the window, or ahead of the
session, is refused with its reason; gateway rejects stay outside the numbering.
"""
from __future__ import annotations

import asyncio

import numpy as np
import pytest

from conftest import MARKET, Daemon, drain, eventually
from gapfill_helpers import SC, SCEA, fill_while_away, numbered, resting_sells
from gateway.client import AsyncClient, SessionError, as_reports, load_keys
from gateway.protocol import REPORT_DTYPE, GatewayReject, MsgType, encode
from matching import Side

SC2 = 2                                 # an account of session 1 (sc-platform) besides gapfill_helpers.SC


def _recv_rows(c, until, timeout: float = 5.0) -> np.ndarray:
    """REPORT_DTYPE rows (copies) until ``until(rows so far)``."""
    got = [np.zeros(0, dtype=REPORT_DTYPE)]
    eventually(lambda: (got.append(_copy(c.recv(20))) or until(np.concatenate(got))), timeout,
               interval=0, what="reports")
    return np.concatenate(got)


def _copy(rows):
    return np.zeros(0, dtype=REPORT_DTYPE) if rows is None else rows.copy()


def test_a_reconnecting_session_receives_exactly_what_it_missed_in_order(fresh_daemon, connect):
    d = fresh_daemon
    c = connect(d, 1)
    c.login()
    c.send_orders(resting_sells(30))
    seen = _recv_rows(c, lambda r: (r["msg_type"] == MsgType.ACK).sum() >= 30)
    before = c.last_report_seq
    assert before == int(numbered(seen)["report_seq"].max()) >= 30
    # mid-stream: more orders go out, then the connection is dropped without reading the answers
    c.send_orders(resting_sells(10, price=5310))
    assert c.sock.poll(5000)                                 # answered (so sent), never read
    c.sock.close(linger=0)
    fill_while_away(connect(d, 2), 12)                      # reports for session 1 while it is away
    ack = c.reconnect(timeout_ms=10_000)                     # retried until the server saw the drop
    assert ack.report_seq >= before + 10 + 12
    missed = ack.report_seq - before
    filled = _recv_rows(c, lambda r: len(numbered(r)) >= missed)
    got = numbered(filled)
    assert got["report_seq"].tolist() == list(range(before + 1, ack.report_seq + 1))
    kinds = as_reports(got)
    assert sum(r.msg_type == MsgType.ACK and r.price == 5310 for r in kinds) == 10
    assert sum(r.msg_type == MsgType.FILL and r.account == SC for r in kinds) == 12
    # new reports continue the numbering after the gap fill
    coid = c.submit(SCEA, SC, Side.SELL, qty=1, price=5320)
    new = c.wait_for(lambda r: r.client_order_id == coid)
    assert new.report_seq == ack.report_seq + 1
    assert c.last_report_seq == new.report_seq


def test_gateway_rejects_are_not_numbered_and_a_plain_login_gets_no_gap_fill(fresh_daemon, connect):
    c = connect(fresh_daemon, 1)
    c.login()
    c.send_raw(b"\x01" * 10)                                  # malformed frame: a gateway reject
    coid = c.submit(SCEA, 3, Side.SELL, qty=1, price=5300)    # another region's account
    c.submit(SCEA, SC, Side.SELL, qty=1, price=5300)
    got = drain(c, lambda g: any(r.msg_type == MsgType.ACK for r in g))
    rejects = [r for r in got if r.msg_type == MsgType.REJECT]
    assert {r.reason for r in rejects} == {GatewayReject.MALFORMED_FRAME, GatewayReject.NOT_AUTHORISED}
    assert all(r.report_seq == 0 for r in rejects) and any(r.client_order_id == coid for r in rejects)
    ack_report = next(r for r in got if r.msg_type == MsgType.ACK)
    assert ack_report.report_seq == 1
    c.logout()
    c2 = connect(fresh_daemon, 1)
    assert c2.login().report_seq == 1
    assert [r for r in c2.reports(300) if r.msg_type != MsgType.SERVER_HEARTBEAT] == []   # no GAP_FILL: nothing re-sent


def test_refused_gap_fills_name_their_reason(tmp_path, connect):
    d = Daemon(tmp_path / "state", config_text=MARKET + "\n[durability]\nretain_reports = 5\n")
    try:
        c = connect(d, 1)
        c.login()
        c.send_orders(resting_sells(20))
        drain(c, lambda g: sum(r.msg_type == MsgType.ACK for r in g) >= 20)
        c.logout()
        c2 = connect(d, 1)
        with pytest.raises(SessionError) as old:
            c2.login(last_report_seq=3)
        assert old.value.reason == GatewayReject.REPORTS_NOT_RETAINED and old.value.report_seq == 16
        assert "REPORTS_NOT_RETAINED" in str(old.value) and "16" in str(old.value)
        with pytest.raises(SessionError) as ahead:
            c2.login(last_report_seq=21)
        assert ahead.value.reason == GatewayReject.REPORT_SEQ_AHEAD and ahead.value.report_seq == 20
        c2.send_raw(encode(MsgType.LOGIN, version=1, session=1, flags=0x82))     # an unknown flag bit
        assert c2.reports(2000)[0].reason == GatewayReject.RESERVED_NOT_ZERO
        ack = c2.login(last_report_seq=15)                    # the oldest the window can serve
        got = numbered(_recv_rows(c2, lambda r: len(numbered(r)) >= 5))
        assert ack.report_seq == 20 and got["report_seq"].tolist() == [16, 17, 18, 19, 20]
    finally:
        d.stop()


@pytest.mark.parametrize("how", ["graceful restart", "kill -9"])
def test_gap_fill_after_a_restart_resends_the_same_reports_byte_for_byte(tmp_path, connect, how):
    d = Daemon(tmp_path / "state")
    try:
        c = connect(d, 1)
        c.login()
        c.send_orders(resting_sells(25))
        first = numbered(_recv_rows(c, lambda r: (r["msg_type"] == MsgType.ACK).sum() >= 25))
        fill_while_away(connect(d, 2), 5)                    # session 1 still logged in: it gets them
        first = np.concatenate([first, numbered(_recv_rows(c, lambda r: len(numbered(r)) >= 5))])
        c.send_orders(resting_sells(8, price=5330))          # answered, never read before the crash
        eventually(lambda: c.poll(20), 5, what="reports in flight")
        if how == "kill -9":
            d.proc.kill()
            d.proc.wait(10)
        else:
            assert d.stop() == 0
        last_seen = c.last_report_seq
        d.start()                                             # on new ports
        ack = c.reconnect(timeout_ms=10_000, endpoint=d.info["orders"])
        assert ack.report_seq == 25 + 5 + 8
        filled = numbered(_recv_rows(c, lambda r: len(numbered(r)) >= ack.report_seq - last_seen))
        assert filled["report_seq"].tolist() == list(range(last_seen + 1, ack.report_seq + 1))
        assert sum(r.msg_type == MsgType.ACK and r.price == 5330 for r in as_reports(filled)) == 8
        # everything from the start, rebuilt from the snapshot's window or the journal, is what
        # was sent before the restart, byte for byte
        c.logout()
        c3 = connect(d, 1)
        c3.login(last_report_seq=0)
        again = numbered(_recv_rows(c3, lambda r: len(numbered(r)) >= ack.report_seq))
        assert again["report_seq"].tolist() == list(range(1, ack.report_seq + 1))
        assert again[:len(first)].tobytes() == first.tobytes()
        assert again[last_seen:].tobytes() == filled.tobytes()
    finally:
        d.stop()


def test_the_async_client_reconnects_with_gap_fill_after_a_kill(tmp_path):
    d = Daemon(tmp_path / "state")

    async def main():
        pub, sec = load_keys(d.keys, "sc-platform")
        async with AsyncClient(d.info["orders"], d.info["server_public_key"], pub, sec, 1) as c:
            await c.login()
            await c.send_orders(resting_sells(6))
            got = []
            while sum(r.msg_type == MsgType.ACK for r in got) < 3:
                got += await c.reports(2000)
            seen = [r.report_seq for r in got]
            await c.send_orders(resting_sells(4, price=5340))      # answered while the client is not reading
            assert await c.sock.poll(5000)
            d.proc.kill()
            d.proc.wait(10)
            d.start()
            ack = await c.reconnect(timeout_ms=10_000, endpoint=d.info["orders"])
            assert ack.report_seq == 10 and c.last_report_seq == seen[-1]
            while len(seen) < 10:
                rows = await c.reports(2000)
                assert rows, f"gap fill stopped after {seen}"
                seen += [r.report_seq for r in rows if r.report_seq]
            assert seen == list(range(1, 11))
            coid = await c.submit(SCEA, SC, Side.SELL, qty=1, price=5350)
            r = await c.wait_for(lambda r: r.client_order_id == coid)
            assert r.report_seq == 11
            await c.logout()
    try:
        asyncio.run(main())
    finally:
        d.stop()
