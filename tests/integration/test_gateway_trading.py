"""Two regional platforms trade across regions through the real daemon; keys and
authorisation keep each to its own members' accounts."""
import asyncio

import pytest
import zmq.auth

from conftest import SOCKET_PATHS, daemon_on_socket_path, drain
from gateway.client import AsyncClient, Client, SessionError, load_keys
from gateway.protocol import GatewayReject, MsgType, ReportFlag
from matching import CancelReason, Reject, Side, TradeType


@pytest.fixture(scope="module", params=SOCKET_PATHS)
def daemon(request, tmp_path_factory):
    """The module's daemon, once on each socket path."""
    yield from daemon_on_socket_path(request, tmp_path_factory)


SC_ACCOUNT, CQ_ACCOUNT = 1, 4          # members 101 (Sichuan) and 202 (Chongqing)
SCEA, CQEA = 0, 1


def _of(reports, msg_type):
    return [r for r in reports if r.msg_type == msg_type]


def test_cross_regional_trade_reports_to_both_platforms_and_the_drop_copy(daemon, connect):
    sc, cq, reg = connect(daemon, 1), connect(daemon, 2), connect(daemon, 9)
    for c in (sc, cq, reg):
        c.login()
    sell = sc.submit(SCEA, SC_ACCOUNT, Side.SELL, qty=300, price=5010)
    ack = sc.wait_for(lambda r: r.msg_type == MsgType.ACK and r.client_order_id == sell)
    assert (ack.account, ack.qty, ack.leaves, ack.price, ack.session) == (SC_ACCOUNT, 300, 300, 5010, 1)

    buy = cq.submit(SCEA, CQ_ACCOUNT, Side.BUY, qty=100, price=5020)
    cq_reports = drain(cq, lambda got: _of(got, MsgType.FILL))
    sc_reports = drain(sc, lambda got: _of(got, MsgType.FILL))

    buy_ack, = _of(cq_reports, MsgType.ACK)
    assert buy_ack.client_order_id == buy
    cq_fill, = _of(cq_reports, MsgType.FILL)
    sc_fill, = _of(sc_reports, MsgType.FILL)
    assert (cq_fill.side, cq_fill.account, cq_fill.price, cq_fill.qty, cq_fill.leaves) == \
        (Side.BUY, CQ_ACCOUNT, 5010, 100, 0)
    assert (sc_fill.side, sc_fill.account, sc_fill.price, sc_fill.qty, sc_fill.leaves) == \
        (Side.SELL, SC_ACCOUNT, 5010, 100, 200)
    assert cq_fill.trade_id == sc_fill.trade_id and cq_fill.seq == sc_fill.seq
    assert cq_fill.trade_type == sc_fill.trade_type == TradeType.CONTINUOUS
    assert cq_fill.order_id == buy_ack.order_id and sc_fill.order_id == ack.order_id
    assert sc_fill.client_order_id == sell and cq_fill.client_order_id == buy
    assert cq_fill.flags & ReportFlag.AGGRESSOR and not sc_fill.flags & ReportFlag.AGGRESSOR
    assert cq_fill.fee == 5010 * 100 * 50 // 10000 == sc_fill.fee
    # report sequence numbers are per session and gap-free
    for reports in (cq_reports, sc_reports):
        seqs = [r.report_seq for r in reports]
        assert seqs == list(range(seqs[0], seqs[0] + len(seqs)))

    # the regulator's drop copy sees both fills, flagged as copies
    copies = drain(reg, lambda got: len(_of(got, MsgType.FILL)) >= 2)
    fills = _of(copies, MsgType.FILL)
    assert {(f.side, f.account) for f in fills} == {(Side.BUY, CQ_ACCOUNT), (Side.SELL, SC_ACCOUNT)}
    assert all(r.flags & ReportFlag.DROP_COPY for r in copies)

    # the owner cancels the rest; the other platform may not
    cq.cancel(ack.order_id, SC_ACCOUNT)
    refused = cq.wait_for(lambda r: r.msg_type == MsgType.REJECT)
    assert refused.reason == GatewayReject.NOT_AUTHORISED and refused.order_id == ack.order_id
    sc.cancel(ack.order_id, SC_ACCOUNT)
    done = sc.wait_for(lambda r: r.msg_type == MsgType.CANCELLED)
    assert (done.order_id, done.qty, done.leaves, done.reason) == (ack.order_id, 200, 0, CancelReason.USER)


def test_platform_acting_for_another_regions_account_is_not_authorised(daemon, connect):
    sc = connect(daemon, 1)
    sc.login()
    coid = sc.submit(CQEA, CQ_ACCOUNT, Side.BUY, qty=10, price=4480)
    r = sc.wait_for(lambda r: r.client_order_id == coid)
    assert r.msg_type == MsgType.REJECT and r.reason == GatewayReject.NOT_AUTHORISED
    assert r.reason_name == "NOT_AUTHORISED" and r.seq == 0 and r.ref_type == MsgType.NEW_ORDER
    # an account that exists nowhere, and one out of every range
    for account in (500, -7, 2**31 - 1):
        coid = sc.submit(SCEA, account, Side.BUY, qty=10, price=5000)
        assert sc.wait_for(lambda r: r.client_order_id == coid).reason == GatewayReject.NOT_AUTHORISED


def test_engine_rejects_and_reduce_replace_reach_the_owner(daemon, connect):
    sc = connect(daemon, 1)
    sc.login()
    coid = sc.submit(SCEA, 2, Side.BUY, qty=10, price=9999)          # outside the ±10% band
    r = sc.wait_for(lambda r: r.client_order_id == coid)
    assert r.msg_type == MsgType.REJECT and r.reason == Reject.PRICE_OUTSIDE_BAND and r.seq > 0
    coid = sc.submit(SCEA, 2, Side.BUY, qty=50, price=4900)
    ack = sc.wait_for(lambda r: r.client_order_id == coid and r.msg_type == MsgType.ACK)
    sc.reduce(ack.order_id, 2, qty=30)
    red = sc.wait_for(lambda r: r.msg_type == MsgType.REDUCED)
    assert (red.order_id, red.qty, red.leaves) == (ack.order_id, 20, 30)
    sc.replace(ack.order_id, 2, price=4910, qty=40)
    rep = sc.wait_for(lambda r: r.msg_type == MsgType.REPLACED)
    assert (rep.order_id, rep.price, rep.qty, rep.leaves) == (ack.order_id, 4910, 40, 40)
    assert not rep.flags & ReportFlag.PRIORITY_KEPT
    sc.cancel(ack.order_id, 1)          # right platform, wrong account: as if the order did not exist
    assert sc.wait_for(lambda r: r.msg_type == MsgType.REJECT).reason == Reject.UNKNOWN_ORDER
    sc.cancel(ack.order_id, 2)
    assert sc.wait_for(lambda r: r.msg_type == MsgType.CANCELLED).order_id == ack.order_id


def test_a_session_with_an_unknown_key_is_refused(daemon, zctx, tmp_path):
    zmq.auth.create_certificates(str(tmp_path), "stranger")
    public, secret = load_keys(tmp_path, "stranger")
    c = Client(daemon.info["orders"], daemon.info["server_public_key"], public, secret, 1, context=zctx)
    try:
        with pytest.raises(SessionError, match="no answer"):      # CURVE handshake refused by ZAP
            c.login(timeout_ms=800)
    finally:
        c.sock.close(linger=0)


def test_a_known_key_cannot_log_in_as_another_session(daemon, connect):
    c = connect(daemon, 2, key="regulator")            # the regulator's key, the CQ platform's session
    with pytest.raises(SessionError) as err:
        c.login()
    assert err.value.reason == GatewayReject.KEY_NOT_ALLOWED


def test_async_client_trades(daemon):
    async def main():
        keys = daemon.keys
        pub, sec = load_keys(keys, "cq-platform")
        async with AsyncClient(daemon.info["orders"], daemon.info["server_public_key"], pub, sec, 2) as c:
            ack = await c.login()
            assert ack.session == 2
            coid = await c.submit(CQEA, 3, Side.SELL, qty=7, price=4490)
            r = await c.wait_for(lambda r: r.client_order_id == coid)
            assert r.msg_type == MsgType.ACK
            await c.cancel(r.order_id, 3)
            assert (await c.wait_for(lambda r: r.msg_type == MsgType.CANCELLED)).order_id == r.order_id
            assert (await c.logout()).msg_type == MsgType.SERVER_LOGOUT
    asyncio.run(main())
