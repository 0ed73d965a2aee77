"""A session that floods far past its rate limit is logged out (SERVER_LOGOUT RATE_LIMITED,
cancel on disconnect, one log line) after at most ``rate_limit + burst`` RATE_LIMITED
rejects, through the real daemon; the other platform's orders keep being answered."""
from conftest import MARKET, Daemon, drain, eventually
from exchange.admin import AdminClient
from gateway.client import load_keys, orders
from gateway.protocol import GatewayReject, MsgType
from matching import CancelReason, Side

CQEA = 1
# session 3 "limited": 5 messages/s, burst 5, for account 4; here with cancel on disconnect
CONFIG = MARKET.replace('rate_limit = 5\nburst = 5\n', 'rate_limit = 5\nburst = 5\ncancel_on_disconnect = true\n')
MOST_REJECTS = 5 + 5                      # rate_limit + burst RATE_LIMITED rejects, then the logout


def d_status(d) -> dict:
    public, secret = load_keys(d.keys, "admin")
    with AdminClient(d.info["admin"], d.info["server_public_key"], public, secret, timeout_ms=5000) as op:
        return op.request("status")["status"]


def test_a_flooding_session_is_logged_out_and_the_other_keeps_trading(tmp_path, connect):
    assert CONFIG != MARKET
    d = Daemon(tmp_path / "state", CONFIG)
    try:
        flooder, cq = connect(d, 3), connect(d, 2)
        flooder.login()
        cq.login()
        resting = flooder.submit(CQEA, 4, Side.BUY, qty=1, price=4100)
        rest_ack = flooder.wait_for(lambda r: r.client_order_id == resting and r.msg_type == MsgType.ACK)

        flood = orders(400, side=Side.BUY, instrument=CQEA, account=4, qty=1, price=4100, order_type=1, tif=1)
        answered = []
        for n in range(10):                               # 4,000 messages at once: 400x its burst
            flooder.send_orders(flood)
            coid = cq.submit(CQEA, 3, Side.SELL, qty=1, price=4700 + n)
            answered.append(cq.wait_for(lambda r, coid=coid: r.client_order_id == coid, timeout_ms=10_000))
        assert [r.msg_type for r in answered] == [MsgType.ACK] * 10

        got = drain(flooder, lambda got: flooder.logged_out is not None, timeout=15)
        assert flooder.logged_out.reason == GatewayReject.RATE_LIMITED
        rate_limited = [r for r in got if r.msg_type == MsgType.REJECT and r.reason == GatewayReject.RATE_LIMITED]
        assert 1 <= len(rate_limited) <= MOST_REJECTS
        acks = [r for r in got if r.msg_type == MsgType.ACK]
        assert len(acks) <= 5                             # its burst (a token or so refilled at most)

        line = eventually(lambda: [ln for ln in d.output().splitlines() if "logged out" in ln
                                   and "RATE_LIMITED" in ln and "limited" in ln], 10, what="the logout logged")
        flood_lines = [ln for ln in d.output().splitlines() if "far past its rate limit" in ln]
        assert len(flood_lines) == 1, flood_lines
        assert line

        # cancel on disconnect applies as for any disconnect: a new login with gap fill sees it
        again = connect(d, 3)
        again.login(last_report_seq=0)
        cancelled = again.wait_for(lambda r: r.msg_type == MsgType.CANCELLED and r.order_id == rest_ack.order_id,
                                   timeout_ms=10_000)
        assert (cancelled.reason, cancelled.session) == (CancelReason.USER, 3)
        coid = cq.submit(CQEA, 3, Side.SELL, qty=1, price=4800)
        assert cq.wait_for(lambda r: r.client_order_id == coid).msg_type == MsgType.ACK
        status = d_status(d)
        assert [s["rate_limit_logouts"] for s in status["sessions"] if s["id"] == 3] == [1]
    finally:
        d.stop()
