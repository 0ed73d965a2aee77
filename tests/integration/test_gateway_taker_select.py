"""Taker-select through the real daemon: CQEA2026 configured with ``select_depth = 3``.
Crossing orders rest unmatched, a broker's FeedClient learns their ids from the feed's ORDER
channel, and a take names one: both sides get their fills at the named order's price."""
import pytest

from conftest import Daemon, drain, instrument_setting
from feeds.client import FeedClient
from gateway.protocol import MsgType
from matching import Side, TradeType

SYMBOLS = ["SCEA2026", "CQEA2026", "CCER2025"]
CQEA, SC_ACCOUNT, CQ_ACCOUNT = 1, 1, 4


@pytest.fixture
def selecting_daemon(tmp_path):
    d = Daemon(tmp_path / "state", instrument_setting(4480, "select_depth = 3"))
    yield d
    d.stop()


def test_a_taker_names_an_order_it_learned_from_the_feed(selecting_daemon, connect, zctx):
    d = selecting_daemon
    sc, cq = connect(d, 1), connect(d, 2)
    sc.login()
    cq.login()
    cq.submit(CQEA, CQ_ACCOUNT, Side.SELL, qty=30, price=4470)
    ask = drain(cq, lambda got: any(r.msg_type == MsgType.ACK for r in got))[-1]
    sc.submit(CQEA, SC_ACCOUNT, Side.BUY, qty=10, price=4490)             # crosses: rests all the same
    got = drain(sc, lambda got: any(r.msg_type == MsgType.ACK for r in got))
    assert not [r for r in got if r.msg_type == MsgType.FILL]
    feed = FeedClient(d.info["feed"], d.info["feed_snapshots"], SYMBOLS, ctx=zctx)
    feed.start()
    assert feed.orders[CQEA] == {ask.order_id: [Side.SELL, 4470, 30], got[-1].order_id: [Side.BUY, 4490, 10]}
    coid = sc.take_fixed(ask.order_id, SC_ACCOUNT, 12)                    # the Sichuan platform takes it
    reports = drain(sc, lambda got: any(r.msg_type == MsgType.FILL and r.client_order_id == coid for r in got))
    fill = next(r for r in reports if r.msg_type == MsgType.FILL and r.client_order_id == coid)
    assert (fill.price, fill.qty, fill.trade_type) == (4470, 12, TradeType.CONTINUOUS)
    sold = drain(cq, lambda got: any(r.msg_type == MsgType.FILL for r in got))
    assert next(r for r in sold if r.msg_type == MsgType.FILL).leaves == 18
    for _ in range(100):
        feed.poll(20)
        if feed.orders[CQEA].get(ask.order_id, [0, 0, 0])[2] == 18:
            break
    assert feed.orders[CQEA][ask.order_id] == [Side.SELL, 4470, 18]
    feed.close()
    for c in (sc, cq):
        c.logout(timeout_ms=1000)
