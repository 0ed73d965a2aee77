"""DEPTH events: after a command's other events, one per price level it changed, in the order
the levels were first changed, with the level's new quantity and order count (zero when gone)."""
from helpers import CQ, SC, as_dicts, depth, event, kinds
from matching import CommandType, EventKind, Side, StpMode, TimeInForce

BUY, SELL = Side.BUY, Side.SELL
ACCEPTED, TRADE, CANCELLED, DEPTH = (EventKind.ACCEPTED, EventKind.TRADE, EventKind.CANCELLED,
                                     EventKind.DEPTH)


def test_resting_order_publishes_its_level(engine):
    engine.submit(SC, 1, BUY, 10, 5000)
    events = engine.submit(CQ, 1, SELL, 200, 3000, seq=6)
    assert as_dicts(events)[1:] == [
        event(DEPTH, command=CommandType.NEW_ORDER, seq=4, cmd_seq=6, instrument=1, side=SELL,
              price=3000, qty=200, count=1)]


def test_joining_a_level_publishes_its_total(engine):
    engine.submit(SC, 1, BUY, 10, 5000)
    assert depth(engine.submit(SC, 2, BUY, 15, 5000)) == [(BUY, 5000, 25, 2)]


def test_sweep_publishes_each_level_in_walk_order_then_the_resting_level(engine):
    for price in (5001, 5002, 5003):
        engine.submit(SC, 1, SELL, 10, price)
    events = engine.submit(SC, 2, BUY, 35, 5003)
    assert kinds(events) == [ACCEPTED, TRADE, TRADE, TRADE, DEPTH, DEPTH, DEPTH, DEPTH]
    assert depth(events) == [
        (SELL, 5001, 0, 0), (SELL, 5002, 0, 0), (SELL, 5003, 0, 0), (BUY, 5003, 5, 1)]


def test_several_trades_at_one_level_publish_it_once(engine):
    for account in (1, 2, 3):
        engine.submit(SC, account, SELL, 10, 5001)
    events = engine.submit(SC, 4, BUY, 25, 5001)
    assert kinds(events) == [ACCEPTED, TRADE, TRADE, TRADE, DEPTH]
    assert depth(events) == [(SELL, 5001, 5, 1)]


def test_the_same_price_on_each_side_is_two_levels(engine):
    engine.submit(SC, 1, BUY, 10, 5000)
    events = engine.submit(SC, 2, SELL, 25, 5000)
    assert depth(events) == [(BUY, 5000, 0, 0), (SELL, 5000, 15, 1)]


def test_levels_come_in_first_change_order_not_price_order(engine):
    engine.submit(SC, 1, BUY, 10, 4990)
    engine.submit(SC, 2, SELL, 4, 5001)
    engine.submit(SC, 2, SELL, 4, 5003)
    events = engine.replace(1, 1, 5005, 10)
    assert depth(events) == [
        (BUY, 4990, 0, 0), (SELL, 5001, 0, 0), (SELL, 5003, 0, 0), (BUY, 5005, 2, 1)]


def test_a_level_emptied_and_refilled_publishes_its_final_state_once(engine):
    engine.submit(SC, 1, BUY, 10, 5000)
    events = engine.replace(1, 1, 5000, 30)     # larger: leaves the level and rejoins it
    assert depth(events) == [(BUY, 5000, 30, 1)]


def test_cancel_and_reduce_publish_the_level(engine):
    engine.submit(SC, 1, SELL, 10, 5001)
    engine.submit(SC, 2, SELL, 20, 5001)
    assert depth(engine.reduce(2, 2, 5)) == [(SELL, 5001, 15, 2)]
    assert depth(engine.cancel(1, 1)) == [(SELL, 5001, 5, 1)]
    assert depth(engine.cancel(2, 2)) == [(SELL, 5001, 0, 0)]


def test_self_trade_cancel_and_trade_at_one_level_publish_it_once(make_engine):
    engine = make_engine(default_stp=StpMode.CANCEL_OLDEST)
    engine.submit(SC, 7, SELL, 10, 5000)
    engine.submit(SC, 8, SELL, 10, 5000)
    engine.submit(SC, 9, SELL, 10, 5000)
    events = engine.submit(SC, 7, BUY, 15, 5000)
    assert kinds(events) == [ACCEPTED, CANCELLED, TRADE, TRADE, DEPTH]
    assert depth(events) == [(SELL, 5000, 5, 1)]


def test_expiry_of_several_orders_at_one_level_publishes_it_once(engine):
    engine.submit(SC, 1, BUY, 10, 5000, tif=TimeInForce.DAY)
    engine.submit(SC, 2, BUY, 7, 5000, tif=TimeInForce.GTC)
    engine.submit(SC, 3, BUY, 10, 5000, tif=TimeInForce.DAY)
    events = engine.expire_day_orders(SC)
    assert kinds(events) == [CANCELLED, CANCELLED, DEPTH]
    assert depth(events) == [(BUY, 5000, 7, 1)]


def test_commands_that_change_no_level_publish_no_depth(engine):
    engine.submit(SC, 1, BUY, 10, 5000)
    assert depth(engine.submit(SC, 2, BUY, 10, 4000)) == []                        # rejected
    assert depth(engine.submit(SC, 2, SELL, 10, 5001, tif=TimeInForce.IOC)) == []  # nothing rests
    assert depth(engine.replace(1, 1, 5000, 10)) == []                             # same order
    assert depth(engine.set_account_stp(1, StpMode.CANCEL_BOTH)) == []
