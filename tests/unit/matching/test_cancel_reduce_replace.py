"""Cancel, reduce and replace of resting orders: ownership, priority kept or lost, and what is
allowed while the instrument is halted."""
import pytest

from helpers import (
    CQ, CQ_MAX_QTY, SC, SC_MAX_QTY, as_dicts, cancels, depth, event, kinds, ladder, reasons,
    rows, state, trades,
)
from matching import (
    CancelReason, CommandType, EventKind, InstrumentStatus, OrderType, Reject, Side, TimeInForce,
    TradeType,
)

BUY, SELL = Side.BUY, Side.SELL
ACCEPTED, TRADE, CANCELLED, REDUCED, REPLACED, DEPTH, REJECTED = (
    EventKind.ACCEPTED, EventKind.TRADE, EventKind.CANCELLED, EventKind.REDUCED,
    EventKind.REPLACED, EventKind.DEPTH, EventKind.REJECTED)
LIMIT = OrderType.LIMIT
GTC, DAY = TimeInForce.GTC, TimeInForce.DAY


@pytest.fixture
def two_bids(engine):
    """SC bids at 5000: order 1 (account 1) ahead of order 2 (account 2), 10 each, at ts 5."""
    engine.submit(SC, 1, BUY, 10, 5000, client_order_id=101, ts=5)
    engine.submit(SC, 2, BUY, 10, 5000, client_order_id=102, ts=5)
    return engine


def assert_rejected_and_unchanged(engine, call, reason):
    before = state(engine)[1]
    events = call()
    assert kinds(events) == [REJECTED]
    assert reasons(events) == [reason]
    assert state(engine)[1] == before


# ------------------------------------------------------------------------------------ cancel
def test_cancel_removes_the_order(engine):
    engine.submit(SC, 1, SELL, 10, 5001, client_order_id=5)
    events = engine.cancel(1, 1, ts=3, seq=4)
    assert as_dicts(events) == [
        event(CANCELLED, command=CommandType.CANCEL, seq=3, cmd_seq=4, ts=3, order_id=1,
              client_order_id=5, account=1, instrument=0, side=SELL, order_type=LIMIT, tif=GTC,
              price=5001, qty=10, leaves=0, reason=CancelReason.USER),
        event(DEPTH, command=CommandType.CANCEL, seq=4, cmd_seq=4, ts=3, instrument=0, side=SELL,
              price=5001, qty=0, count=0),
    ]
    assert ladder(engine, SC) == []
    assert engine.order(1) is None
    assert engine.resting_orders == 0


def test_cancel_of_a_partly_filled_order_cancels_what_is_left(engine):
    engine.submit(SC, 1, SELL, 10, 5001)
    engine.submit(SC, 2, BUY, 4, 5001)
    assert cancels(engine.cancel(1, 1)) == [(1, CancelReason.USER, 6)]


def test_cancel_leaves_the_rest_of_the_level(two_bids):
    events = two_bids.cancel(1, 1)
    assert depth(events) == [(BUY, 5000, 10, 1)]
    assert ladder(two_bids, SC) == [(10, 5000, None, None)]


def test_cancel_of_an_unknown_order_is_rejected(two_bids):
    events = two_bids.cancel(99, 1, seq=8)
    assert as_dicts(events) == [event(REJECTED, command=CommandType.CANCEL, seq=5, cmd_seq=8, ts=5,
                                      reason=Reject.UNKNOWN_ORDER, order_id=99, account=1)]


def test_cancel_of_a_filled_or_cancelled_order_is_rejected(two_bids):
    two_bids.submit(SC, 3, SELL, 10, 5000)
    two_bids.cancel(2, 2)
    assert_rejected_and_unchanged(two_bids, lambda: two_bids.cancel(1, 1), Reject.UNKNOWN_ORDER)
    assert_rejected_and_unchanged(two_bids, lambda: two_bids.cancel(2, 2), Reject.UNKNOWN_ORDER)


def test_cancel_by_another_account_is_rejected_as_an_unknown_order(two_bids):
    # not NOT_OWNER: another account's live order is answered like an id that does not exist
    # (test_order_id_privacy.py), so order ids tell nobody which are other members' live orders
    assert_rejected_and_unchanged(two_bids, lambda: two_bids.cancel(1, 2), Reject.UNKNOWN_ORDER)
    assert ladder(two_bids, SC) == [(20, 5000, None, None)]


# ------------------------------------------------------------------------------------ reduce
def test_reduce_lowers_the_remaining_quantity(engine):
    engine.submit(SC, 1, SELL, 10, 5001, client_order_id=5, tif=DAY)
    events = engine.reduce(1, 1, 4, seq=2)
    assert as_dicts(events) == [
        event(REDUCED, command=CommandType.REDUCE, seq=3, cmd_seq=2, order_id=1, client_order_id=5,
              account=1, instrument=0, side=SELL, order_type=LIMIT, tif=DAY, price=5001, qty=6,
              leaves=4),
        event(DEPTH, command=CommandType.REDUCE, seq=4, cmd_seq=2, instrument=0, side=SELL,
              price=5001, qty=4, count=1),
    ]
    assert engine.order(1).qty == 4


def test_reduce_keeps_time_priority(two_bids):
    two_bids.reduce(1, 1, 3, ts=50)
    assert two_bids.order(1).ts == 5
    assert trades(two_bids.submit(SC, 3, SELL, 5, 5000)) == [(5000, 3, 1, 3), (5000, 2, 2, 3)]


@pytest.mark.parametrize("symbol, qty, new_qty, reason", [
    (SC, 10, 10, Reject.REDUCE_NOT_SMALLER),
    (SC, 10, 11, Reject.REDUCE_NOT_SMALLER),
    (SC, 10, 0, Reject.BAD_QUANTITY),
    (SC, 10, -3, Reject.BAD_QUANTITY),
    (CQ, 200, 150, Reject.OFF_LOT_QUANTITY),
    (CQ, 200, 250, Reject.OFF_LOT_QUANTITY),       # the lot is checked before the size
    (CQ, 200, 200, Reject.REDUCE_NOT_SMALLER),
    (CQ, 200, 0, Reject.BAD_QUANTITY),
])
def test_reduce_must_be_positive_on_the_lot_and_smaller(engine, symbol, qty, new_qty, reason):
    engine.submit(symbol, 1, SELL, qty, 3000 if symbol == CQ else 5000)
    assert_rejected_and_unchanged(engine, lambda: engine.reduce(1, 1, new_qty), reason)


def test_reduce_checks_the_order_and_owner_first(two_bids):
    assert_rejected_and_unchanged(two_bids, lambda: two_bids.reduce(99, 1, 0), Reject.UNKNOWN_ORDER)
    assert_rejected_and_unchanged(two_bids, lambda: two_bids.reduce(1, 2, 0), Reject.UNKNOWN_ORDER)   # not its own


# ------------------------------------------------------------------------------------ replace
def test_replace_to_a_new_price_moves_the_order(two_bids):
    events = two_bids.replace(1, 1, 4999, 10, ts=9, seq=3)
    assert as_dicts(events) == [
        event(REPLACED, command=CommandType.REPLACE, seq=5, cmd_seq=3, ts=9, order_id=1,
              client_order_id=101, account=1, instrument=0, side=BUY, order_type=LIMIT, tif=GTC,
              price=4999, qty=10, leaves=10, value=0),
        event(DEPTH, command=CommandType.REPLACE, seq=6, cmd_seq=3, ts=9, instrument=0, side=BUY,
              price=5000, qty=10, count=1),
        event(DEPTH, command=CommandType.REPLACE, seq=7, cmd_seq=3, ts=9, instrument=0, side=BUY,
              price=4999, qty=10, count=1),
    ]
    assert ladder(two_bids, SC) == [(10, 5000, None, None), (10, 4999, None, None)]
    assert two_bids.order(1).ts == 9


def test_replace_away_and_back_loses_time_priority(two_bids):
    two_bids.replace(1, 1, 4999, 10)
    two_bids.replace(1, 1, 5000, 10)
    assert trades(two_bids.submit(SC, 3, SELL, 15, 5000)) == [(5000, 10, 2, 3), (5000, 5, 1, 3)]


def test_replace_to_a_larger_size_loses_time_priority(two_bids):
    events = two_bids.replace(1, 1, 5000, 12, ts=20)
    assert kinds(events) == [REPLACED, DEPTH]
    assert rows(events[:1], "qty", "leaves", "value") == [(12, 12, 0)]
    assert depth(events) == [(BUY, 5000, 22, 2)]
    assert two_bids.order(1).ts == 20
    assert trades(two_bids.submit(SC, 3, SELL, 15, 5000)) == [(5000, 10, 2, 3), (5000, 5, 1, 3)]


def test_replace_to_a_smaller_size_at_the_same_price_keeps_priority(two_bids):
    events = two_bids.replace(1, 1, 5000, 6, ts=20, seq=4)
    assert as_dicts(events) == [
        event(REPLACED, command=CommandType.REPLACE, seq=5, cmd_seq=4, ts=20, order_id=1,
              client_order_id=101, account=1, instrument=0, side=BUY, order_type=LIMIT, tif=GTC,
              price=5000, qty=6, leaves=6, value=1),
        event(DEPTH, command=CommandType.REPLACE, seq=6, cmd_seq=4, ts=20, instrument=0, side=BUY,
              price=5000, qty=16, count=2),
    ]
    assert two_bids.order(1).ts == 5
    assert trades(two_bids.submit(SC, 3, SELL, 8, 5000)) == [(5000, 6, 1, 3), (5000, 2, 2, 3)]


def test_replace_with_nothing_changed_keeps_priority_and_publishes_no_depth(two_bids):
    events = two_bids.replace(1, 1, 5000, 10)
    assert rows(events, "kind", "value") == [(REPLACED, 1)]
    assert trades(two_bids.submit(SC, 3, SELL, 10, 5000)) == [(5000, 10, 1, 3)]


def test_replace_that_crosses_trades_at_once(engine):
    engine.submit(SC, 1, BUY, 10, 4990)
    engine.submit(SC, 2, SELL, 6, 5000)
    events = engine.replace(1, 1, 5000, 10, seq=7)
    assert kinds(events) == [REPLACED, TRADE, DEPTH, DEPTH, DEPTH]
    assert as_dicts(events[1:2]) == [event(
        TRADE, command=CommandType.REPLACE, seq=6, cmd_seq=7, trade_id=1, instrument=0, price=5000,
        qty=6, side=BUY, trade_type=TradeType.CONTINUOUS, buy_order_id=1, sell_order_id=2,
        buy_account=1, sell_account=2, buy_leaves=4, sell_leaves=0)]
    assert depth(events) == [(BUY, 4990, 0, 0), (SELL, 5000, 0, 0), (BUY, 5000, 4, 1)]
    assert ladder(engine, SC) == [(4, 5000, None, None)]


def test_replace_that_fills_completely_leaves_nothing_behind(engine):
    engine.submit(SC, 1, SELL, 10, 5010)
    engine.submit(SC, 2, BUY, 10, 5000)
    events = engine.replace(1, 1, 5000, 10)
    assert trades(events) == [(5000, 10, 2, 1)]
    assert ladder(engine, SC) == []
    assert engine.resting_orders == 0


def test_replace_keeps_the_order_id_and_time_in_force(engine):
    engine.submit(SC, 1, BUY, 10, 5000, tif=DAY)
    engine.replace(1, 1, 4990, 20)
    assert (engine.order(1).price, engine.order(1).qty, engine.order(1).tif) == (4990, 20, DAY)
    assert cancels(engine.expire_day_orders(SC)) == [(1, CancelReason.EXPIRY, 20)]


@pytest.mark.parametrize("symbol, price, qty, reason", [
    (SC, 5000, 0, Reject.BAD_QUANTITY),
    (SC, 0, 0, Reject.BAD_QUANTITY),               # quantity is checked before price
    (SC, 5000, -5, Reject.BAD_QUANTITY),
    (SC, 5000, SC_MAX_QTY + 1, Reject.ORDER_TOO_LARGE),
    (SC, 0, 10, Reject.BAD_PRICE),
    (SC, 4499, 10, Reject.PRICE_OUTSIDE_BAND),
    (SC, 5501, 10, Reject.PRICE_OUTSIDE_BAND),
    (CQ, 3000, 150, Reject.OFF_LOT_QUANTITY),
    (CQ, 3000, CQ_MAX_QTY + 100, Reject.ORDER_TOO_LARGE),
    (CQ, 3005, 100, Reject.OFF_TICK_PRICE),
    (CQ, 2700, 100, Reject.PRICE_OUTSIDE_BAND),
])
def test_replace_validates_the_new_quantity_and_price(engine, symbol, price, qty, reason):
    engine.submit(symbol, 1, BUY, 100 if symbol == CQ else 10, 3000 if symbol == CQ else 5000)
    assert_rejected_and_unchanged(engine, lambda: engine.replace(1, 1, price, qty), reason)


def test_replace_checks_the_order_and_owner_first(two_bids):
    assert_rejected_and_unchanged(two_bids, lambda: two_bids.replace(99, 1, 0, 0), Reject.UNKNOWN_ORDER)
    assert_rejected_and_unchanged(two_bids, lambda: two_bids.replace(1, 2, 0, 0), Reject.UNKNOWN_ORDER)  # not its own


# ------------------------------------------------------------------------------------ halted
def test_replace_is_rejected_while_halted(two_bids):
    two_bids.set_instrument_status(SC, InstrumentStatus.HALTED)
    assert_rejected_and_unchanged(two_bids, lambda: two_bids.replace(1, 1, 4999, 10),
                                  Reject.INSTRUMENT_HALTED)
    assert_rejected_and_unchanged(two_bids, lambda: two_bids.replace(1, 1, 5000, 5),
                                  Reject.INSTRUMENT_HALTED)
    assert_rejected_and_unchanged(two_bids, lambda: two_bids.replace(1, 1, 0, 0),
                                  Reject.INSTRUMENT_HALTED)
    assert_rejected_and_unchanged(two_bids, lambda: two_bids.replace(1, 2, 4999, 10),
                                  Reject.UNKNOWN_ORDER)          # another account's: as if it did not exist


def test_cancel_and_reduce_are_allowed_while_halted(two_bids):
    two_bids.set_instrument_status(SC, InstrumentStatus.HALTED)
    assert kinds(two_bids.reduce(2, 2, 4)) == [REDUCED, DEPTH]
    assert cancels(two_bids.cancel(1, 1)) == [(1, CancelReason.USER, 10)]
    assert ladder(two_bids, SC) == [(4, 5000, None, None)]


def test_halting_keeps_resting_orders(two_bids):
    events = two_bids.set_instrument_status(SC, InstrumentStatus.HALTED)
    assert kinds(events) == [EventKind.INSTRUMENT_STATUS]
    assert ladder(two_bids, SC) == [(20, 5000, None, None)]
    two_bids.set_instrument_status(SC, InstrumentStatus.TRADING)
    assert trades(two_bids.submit(SC, 3, SELL, 10, 5000)) == [(5000, 10, 1, 3)]
