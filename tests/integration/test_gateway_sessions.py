"""Session rules through the real daemon: rate limit, client order ids, heartbeats,
cancel-on-disconnect, re-login."""
import pytest

from conftest import drain, eventually
from exchange.admin import AdminClient
from gateway.client import SessionError, load_keys, orders
from gateway.protocol import GatewayReject, MsgType
from matching import CancelReason, Side

SCEA, CQEA, CCER = 0, 1, 2


def _admin(daemon, zctx):
    public, secret = load_keys(daemon.keys, "admin")
    return AdminClient(daemon.info["admin"], daemon.info["server_public_key"], public, secret, context=zctx)


def test_messages_over_the_rate_limit_are_rejected_and_the_session_stays(daemon, connect):
    c = connect(daemon, 3)                 # 5 messages/s, burst 5
    c.login()
    batch = orders(12, side=Side.BUY, instrument=CQEA, account=4, qty=1, price=4100, order_type=1, tif=1)
    c.send_orders(batch)
    got = drain(c, lambda got: len([r for r in got if r.msg_type in (MsgType.ACK, MsgType.REJECT)]) >= 12)
    verdicts = [(r.msg_type, r.reason) for r in got if r.msg_type in (MsgType.ACK, MsgType.REJECT)]
    limited = [v for v in verdicts if v == (MsgType.REJECT, GatewayReject.RATE_LIMITED)]
    assert len(verdicts) == 12 and len(limited) >= 6        # the burst of 5 (+ a token refilled) passes
    assert all(v[0] == MsgType.ACK for v in verdicts[:5]), verdicts
    # the session is kept: once tokens refill, orders pass again
    def accepted_again():
        coid = c.submit(CQEA, 4, Side.BUY, qty=1, price=4100)
        r = c.wait_for(lambda r: r.client_order_id == coid)
        return r.msg_type == MsgType.ACK
    eventually(accepted_again, timeout=5, interval=0.25, what="a token to refill")


def test_duplicate_and_non_increasing_client_order_ids_are_rejected(daemon, connect):
    c = connect(daemon, 2)
    c.login()
    first = c.submit(CQEA, 3, Side.SELL, qty=5, price=4600, client_order_id=10_000)
    assert c.wait_for(lambda r: r.client_order_id == first).msg_type == MsgType.ACK
    for coid, reason in ((10_000, GatewayReject.DUPLICATE_CLIENT_ORDER_ID),
                         (9_999, GatewayReject.DUPLICATE_CLIENT_ORDER_ID),
                         (0, GatewayReject.BAD_CLIENT_ORDER_ID)):
        c.submit(CQEA, 3, Side.SELL, qty=5, price=4600, client_order_id=coid)
        r = c.wait_for(lambda r: r.msg_type == MsgType.REJECT)
        assert (r.reason, r.client_order_id) == (reason, coid)
    # duplicates inside one frame: the second of each pair is refused
    batch = orders(4, side=Side.SELL, instrument=CQEA, account=3, qty=1, price=4600, order_type=1, tif=1,
                   client_order_id=[20_001, 20_001, 20_002, 20_002])
    c.send_orders(batch)
    got = drain(c, lambda got: len([r for r in got if r.client_order_id > 20_000]) >= 4)
    mine = [(r.client_order_id, r.msg_type) for r in got if r.client_order_id > 20_000]
    assert mine == [(20_001, MsgType.REJECT), (20_002, MsgType.REJECT), (20_001, MsgType.ACK),
                    (20_002, MsgType.ACK)] or sorted(mine) == [(20_001, MsgType.ACK), (20_001, MsgType.REJECT),
                                                              (20_002, MsgType.ACK), (20_002, MsgType.REJECT)]
    # the high-water mark survives a re-login, and LOGIN_ACK tells it
    c.logout()
    c2 = connect(daemon, 2)
    assert c2.login().last_client_order_id == 20_002
    c2.submit(CQEA, 3, Side.SELL, qty=5, price=4600, client_order_id=20_002)
    assert c2.wait_for(lambda r: r.msg_type == MsgType.REJECT).reason == GatewayReject.DUPLICATE_CLIENT_ORDER_ID


def test_orders_are_cancelled_when_a_cancel_on_disconnect_session_goes_silent(daemon, connect, zctx):
    cod = connect(daemon, 4)
    cod.login()
    acks = []
    for price in (4800, 4810):
        coid = cod.submit(SCEA, 2, Side.BUY, qty=3, price=price)
        acks.append(cod.wait_for(lambda r: r.client_order_id == coid and r.msg_type == MsgType.ACK))
    reg = connect(daemon, 9)
    reg.login()
    cod.sock.close(linger=0)               # vanish: no LOGOUT, no more heartbeats
    ids = {a.order_id for a in acks}
    cancels = drain(reg, lambda got: ids <= {r.order_id for r in got if r.msg_type == MsgType.CANCELLED},
                    timeout=5)
    cancelled = [r for r in cancels if r.msg_type == MsgType.CANCELLED and r.order_id in ids]
    assert all(r.reason == CancelReason.USER and r.session == 4 for r in cancelled)
    with _admin(daemon, zctx) as admin:
        status = admin.request("status")["status"]
    cod_status = next(s for s in status["sessions"] if s["id"] == 4)
    assert not cod_status["logged_in"]


def test_logout_cancels_for_cancel_on_disconnect_and_not_otherwise(daemon, connect):
    cod, sc = connect(daemon, 4), connect(daemon, 1)
    cod.login()
    sc.login()
    coid = cod.submit(CCER, 2, Side.SELL, qty=1, price=6000)
    r = cod.wait_for(lambda r: r.client_order_id == coid)
    assert r.msg_type == MsgType.REJECT          # account 2 holds no CCER: INSUFFICIENT_HOLDINGS
    coid = cod.submit(SCEA, 2, Side.SELL, qty=4, price=5400)
    cod_ack = cod.wait_for(lambda r: r.client_order_id == coid and r.msg_type == MsgType.ACK)
    coid = sc.submit(SCEA, 2, Side.SELL, qty=4, price=5401)
    sc_ack = sc.wait_for(lambda r: r.client_order_id == coid and r.msg_type == MsgType.ACK)
    assert cod.logout().reason == 0
    sc.logout()
    # session 1 (no cancel-on-disconnect) keeps its order; session 4's is gone
    again = connect(daemon, 1)
    again.login()
    again.cancel(cod_ack.order_id, 2)
    assert again.wait_for(lambda r: r.msg_type == MsgType.REJECT).reason_name == "UNKNOWN_ORDER"
    again.cancel(sc_ack.order_id, 2)
    assert again.wait_for(lambda r: r.msg_type == MsgType.CANCELLED).order_id == sc_ack.order_id


def test_heartbeats_keep_a_quiet_session_alive_and_the_server_sends_its_own(daemon, connect):
    c = connect(daemon, 2)
    ack = c.login()
    assert ack.heartbeat_ms == 200
    beats = []
    eventually(lambda: beats.extend(r for r in c.reports(100) if r.msg_type == MsgType.SERVER_HEARTBEAT)
               or len(beats) >= 3, timeout=5, interval=0, what="three server heartbeats")
    assert c.logged_out is None          # 600+ ms of quiet, kept alive by the client's heartbeats
    coid = c.submit(CQEA, 3, Side.SELL, qty=1, price=4700)
    assert c.wait_for(lambda r: r.client_order_id == coid).msg_type == MsgType.ACK


def test_second_login_of_a_logged_in_session_is_refused(daemon, connect):
    a, b = connect(daemon, 1), connect(daemon, 1)
    a.login()
    with pytest.raises(SessionError) as err:
        b.login()
    assert err.value.reason == GatewayReject.ALREADY_LOGGED_IN


@pytest.mark.parametrize("fast_path", [True, False])
def test_a_session_for_no_member_is_read_only(daemon, connect, fast_path):
    """The regulator's drop-copy session acts for no account: every order it sends is refused
    READ_ONLY_SESSION (not NOT_AUTHORISED), one frame at a time or many in one."""
    reg = connect(daemon, 9)
    reg.login()
    if fast_path:
        coid = reg.submit(SCEA, 1, Side.BUY, qty=1, price=5000)
        assert reg.wait_for(lambda r: r.client_order_id == coid).reason == GatewayReject.READ_ONLY_SESSION
    else:                                   # a malformed frame in the batch sends it down the numpy path
        reg.sock.send(b"\x01" * 7)
        coid = reg.submit(SCEA, 4, Side.SELL, qty=1, price=5000)
        got = drain(reg, lambda got: any(r.client_order_id == coid for r in got))
        assert [r.reason for r in got if r.client_order_id == coid] == [GatewayReject.READ_ONLY_SESSION]
    reg.logout()
