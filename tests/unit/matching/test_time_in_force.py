"""Time in force: IOC cancels its remainder, FOK fills completely or is rejected, DAY orders
rest until expire_day_orders while GTC orders stay."""
from helpers import (
    CQ, SC, as_dicts, cancels, depth, event, kinds, ladder, only, reasons, rows, state, trades,
)
from matching import CancelReason, CommandType, EventKind, OrderType, Reject, Side, TimeInForce

BUY, SELL = Side.BUY, Side.SELL
GTC, DAY, IOC, FOK = TimeInForce.GTC, TimeInForce.DAY, TimeInForce.IOC, TimeInForce.FOK
ACCEPTED, TRADE, CANCELLED, DEPTH = (EventKind.ACCEPTED, EventKind.TRADE, EventKind.CANCELLED,
                                     EventKind.DEPTH)


def test_ioc_trades_what_it_can_and_cancels_the_rest(engine):
    engine.submit(SC, 1, SELL, 10, 5001)
    events = engine.submit(SC, 2, BUY, 25, 5002, tif=IOC, client_order_id=4, seq=2)
    assert kinds(events) == [ACCEPTED, TRADE, CANCELLED, DEPTH]
    assert trades(events) == [(5001, 10, 2, 1)]
    assert as_dicts(events[2:3]) == [event(
        CANCELLED, command=CommandType.NEW_ORDER, seq=5, cmd_seq=2, order_id=2, client_order_id=4,
        account=2, instrument=0, side=BUY, order_type=OrderType.LIMIT, tif=IOC, price=5002, qty=15,
        leaves=0, reason=CancelReason.IOC_REMAINDER)]
    assert depth(events) == [(SELL, 5001, 0, 0)]
    assert ladder(engine, SC) == []


def test_ioc_that_does_not_cross_is_cancelled_whole(engine):
    engine.submit(SC, 1, SELL, 10, 5001)
    events = engine.submit(SC, 2, BUY, 25, 5000, tif=IOC)
    assert kinds(events) == [ACCEPTED, CANCELLED]
    assert cancels(events) == [(2, CancelReason.IOC_REMAINDER, 25)]
    assert ladder(engine, SC) == [(None, None, 5001, 10)]


def test_ioc_filled_completely_has_no_cancel(engine):
    engine.submit(SC, 1, BUY, 10, 5000)
    events = engine.submit(SC, 2, SELL, 10, 5000, tif=IOC)
    assert kinds(events) == [ACCEPTED, TRADE, DEPTH]


def test_ioc_stops_at_its_limit(engine):
    engine.submit(SC, 1, SELL, 10, 5001)
    engine.submit(SC, 1, SELL, 10, 5003)
    events = engine.submit(SC, 2, BUY, 20, 5002, tif=IOC)
    assert trades(events) == [(5001, 10, 3, 1)]
    assert cancels(events) == [(3, CancelReason.IOC_REMAINDER, 10)]
    assert ladder(engine, SC) == [(None, None, 5003, 10)]


def test_fok_that_exactly_fits_fills_across_levels(engine):
    engine.submit(SC, 1, SELL, 10, 5001)
    engine.submit(SC, 1, SELL, 10, 5002)
    engine.submit(SC, 1, SELL, 10, 5003)
    events = engine.submit(SC, 2, BUY, 20, 5002, tif=FOK)
    assert kinds(events) == [ACCEPTED, TRADE, TRADE, DEPTH, DEPTH]
    assert trades(events) == [(5001, 10, 4, 1), (5002, 10, 4, 2)]
    assert ladder(engine, SC) == [(None, None, 5003, 10)]


def test_fok_short_by_one_is_rejected_and_changes_nothing(engine):
    engine.submit(SC, 1, BUY, 10, 5000)
    engine.submit(SC, 1, BUY, 10, 4999)
    before = state(engine)[1]
    events = engine.submit(SC, 2, SELL, 21, 4999, tif=FOK)
    assert reasons(events) == [Reject.FOK_NOT_FILLABLE]
    assert state(engine)[1] == before
    assert ladder(engine, SC) == [(10, 5000, None, None), (10, 4999, None, None)]
    assert rows(only(engine.submit(SC, 2, SELL, 1, 5100), ACCEPTED), "order_id") == [(3,)]


def test_fok_counts_only_liquidity_within_its_limit(engine):
    engine.submit(SC, 1, SELL, 10, 5001)
    engine.submit(SC, 1, SELL, 10, 5002)
    assert reasons(engine.submit(SC, 2, BUY, 20, 5001, tif=FOK)) == [Reject.FOK_NOT_FILLABLE]
    assert trades(engine.submit(SC, 2, BUY, 20, 5002, tif=FOK)) == [(5001, 10, 3, 1), (5002, 10, 3, 2)]


def test_fok_smaller_than_the_first_order_fills(engine):
    engine.submit(SC, 1, SELL, 10, 5001)
    events = engine.submit(SC, 2, BUY, 3, 5001, tif=FOK)
    assert trades(events) == [(5001, 3, 2, 1)]
    assert ladder(engine, SC) == [(None, None, 5001, 7)]


def test_day_order_rests_and_trades_like_gtc(engine):
    engine.submit(SC, 1, SELL, 10, 5001, tif=DAY)
    assert engine.order(1).tif == DAY
    assert trades(engine.submit(SC, 2, BUY, 4, 5001)) == [(5001, 4, 2, 1)]
    assert ladder(engine, SC) == [(None, None, 5001, 6)]


def test_expiry_cancels_day_orders_of_one_instrument_in_book_order(engine):
    engine.submit(SC, 1, BUY, 10, 4990, tif=DAY)        # 1
    engine.submit(SC, 1, BUY, 10, 5000, tif=DAY)        # 2
    engine.submit(SC, 2, BUY, 7, 5000, tif=GTC)         # 3
    engine.submit(SC, 1, SELL, 10, 5010, tif=DAY)       # 4
    engine.submit(SC, 3, BUY, 4, 5010, tif=IOC)         # 5: leaves 6 of order 4
    engine.submit(SC, 2, SELL, 9, 5020, tif=GTC)        # 6
    engine.submit(CQ, 1, BUY, 100, 3000, tif=DAY)       # 7, another instrument
    events = engine.expire_day_orders(SC, ts=900, seq=12)
    assert kinds(events) == [CANCELLED, CANCELLED, CANCELLED, DEPTH, DEPTH, DEPTH]
    assert cancels(events) == [
        (2, CancelReason.EXPIRY, 10),
        (1, CancelReason.EXPIRY, 10),
        (4, CancelReason.EXPIRY, 6),
    ]
    assert depth(events) == [(BUY, 5000, 7, 1), (BUY, 4990, 0, 0), (SELL, 5010, 0, 0)]
    assert ladder(engine, SC) == [(7, 5000, 5020, 9)]
    assert ladder(engine, CQ) == [(100, 3000, None, None)]
    assert as_dicts(events[2:3]) == [event(
        CANCELLED, command=CommandType.EXPIRE_DAY_ORDERS, seq=18, cmd_seq=12, ts=900, order_id=4,
        account=1, instrument=0, side=SELL, order_type=OrderType.LIMIT, tif=DAY, price=5010, qty=6,
        leaves=0, reason=CancelReason.EXPIRY)]


def test_expiry_without_day_orders_emits_nothing(engine):
    engine.submit(SC, 1, BUY, 10, 5000, tif=GTC)
    engine.submit(CQ, 1, BUY, 100, 3000, tif=DAY)
    assert len(engine.expire_day_orders(SC)) == 0
    assert ladder(engine, SC) == [(10, 5000, None, None)]


def test_expiring_twice_finds_nothing_the_second_time(engine):
    engine.submit(SC, 1, BUY, 10, 5000, tif=DAY)
    assert cancels(engine.expire_day_orders(SC)) == [(1, CancelReason.EXPIRY, 10)]
    assert len(engine.expire_day_orders(SC)) == 0
