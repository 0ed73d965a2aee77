"""Taker-select, the national carbon market's listing trade: in an instrument with
``select_depth`` N > 0, continuous orders rest unmatched (the book may rest crossed) and a
taker names one resting order (TAKE_FIXED with its id) within the best N price levels of its
side, trading at that order's price for the taker's quantity; with ``select_fifo`` only the
first order at a level may be taken. Setting ``select_depth`` back to 0 uncrosses the book.

SCEA2026: reference 5000, tick 1, lot 1.
"""
import pytest

from helpers import SC, assert_rejected, cash, funded_engine, kinds, ladder, only, rows, trades, units
from matching import (
    EventKind, InstrumentParameter, OrderType, Reject, Side, TimeInForce, TradeType, commands,
)

BUY, SELL = Side.BUY, Side.SELL
SC_I = 0
P = InstrumentParameter


def select(engine, depth=5, fifo=0):
    engine.process(commands.set_instrument_parameter(SC_I, P.SELECT_DEPTH, depth))
    engine.process(commands.set_instrument_parameter(SC_I, P.SELECT_FIFO, fifo))
    return engine


def asks(engine, *prices, account=1, qty=10):
    """Rest one sell of ``qty`` at each price, in turn (ids from the engine's next)."""
    return [int(only(engine.submit(SC, account, SELL, qty, p), EventKind.ACCEPTED)["order_id"][0]) for p in prices]


def take(engine, order_id, account, qty):
    return engine.process(commands.take_fixed(order_id, account, qty))


def test_orders_rest_unmatched_and_the_book_may_rest_crossed(engine):
    select(engine)
    engine.submit(SC, 1, SELL, 10, 4990)
    events = engine.submit(SC, 2, BUY, 10, 5010)
    assert not trades(events) and kinds(events)[0] == EventKind.ACCEPTED
    assert ladder(engine, SC) == [(10, 5010, 4990, 10)]
    engine.check_invariants()


def test_market_ioc_and_fok_orders_have_no_place_in_taker_select(engine):
    select(engine)
    for cmd in (commands.new_order(SC_I, 2, BUY, 10, order_type=OrderType.MARKET, tif=TimeInForce.IOC),
                commands.new_order(SC_I, 2, BUY, 10, 5000, tif=TimeInForce.IOC),
                commands.new_order(SC_I, 2, BUY, 10, 5000, tif=TimeInForce.FOK)):
        assert_rejected(engine, cmd, Reject.WRONG_ORDER_KIND)


def test_a_taker_takes_the_order_it_names_at_its_price(engine):
    select(engine)
    first, second, third = asks(engine, 5010, 5020, 5030)
    events = take(engine, third, 2, 4)                         # the third level: within 5
    assert rows(only(events, EventKind.ACCEPTED), "order_type", "tif", "side", "price", "qty") == [
        (OrderType.LIMIT, TimeInForce.IOC, BUY, 5030, 4)]
    assert rows(only(events, EventKind.TRADE), "price", "qty", "sell_order_id", "trade_type", "side") == [
        (5030, 4, third, TradeType.CONTINUOUS, BUY)]
    assert ladder(engine, SC) == [(None, None, 5010, 10), (None, None, 5020, 10), (None, None, 5030, 6)]
    assert engine.daily(SC)["volume"]["CONTINUOUS"] == 4       # a listing trade: in the day and the close


@pytest.mark.parametrize("depth, takes", [(3, True), (2, False), (1, False)])
def test_the_depth_limit_counts_price_levels_from_the_best(engine, depth, takes):
    select(engine, depth)
    *_, third = asks(engine, 5010, 5020, 5030)
    cmd = commands.take_fixed(third, 2, 5)
    if takes:
        assert trades(engine.process(cmd)) == [(5030, 5, 4, third)]
    else:
        assert_rejected(engine, cmd, Reject.BEYOND_SELECT_DEPTH)


def test_several_orders_at_one_level_any_of_them_or_first_come_first(engine):
    select(engine, depth=5, fifo=0)
    early, late = asks(engine, 5010, 5010)
    assert trades(take(engine, late, 2, 3)) == [(5010, 3, 3, late)]           # any order at a level
    engine.process(commands.set_instrument_parameter(SC_I, P.SELECT_FIFO, 1))
    assert_rejected(engine, commands.take_fixed(late, 2, 3), Reject.NOT_FIRST_AT_LEVEL)
    assert trades(take(engine, early, 2, 10)) == [(5010, 10, 4, early)]       # the first: taken whole
    assert trades(take(engine, late, 2, 7)) == [(5010, 7, 5, late)]           # now the first


def test_a_take_is_checked_like_any_take(engine):
    select(engine)
    (order,) = asks(engine, 5010)
    assert_rejected(engine, commands.take_fixed(order, 1, 5), Reject.SELF_TAKE)
    assert_rejected(engine, commands.take_fixed(order, 2, 11), Reject.EXCEEDS_REMAINING)
    assert_rejected(engine, commands.take_fixed(order, 2, 0), Reject.BAD_QUANTITY)
    assert_rejected(engine, commands.take_fixed(999, 2, 5), Reject.UNKNOWN_ORDER)


def test_without_taker_select_a_limit_order_cannot_be_taken(engine):
    (order,) = asks(engine, 5010)
    assert_rejected(engine, commands.take_fixed(order, 2, 5), Reject.UNKNOWN_ORDER)   # another's: private
    assert_rejected(engine, commands.take_fixed(order, 1, 5), Reject.WRONG_ORDER_KIND)


def test_back_to_auto_match_the_crossed_book_uncrosses_at_once(engine):
    select(engine)
    engine.submit(SC, 1, SELL, 10, 4990)
    engine.submit(SC, 2, BUY, 10, 5010)
    events = engine.process(commands.set_instrument_parameter(SC_I, P.SELECT_DEPTH, 0))
    assert kinds(events)[0] == EventKind.INSTRUMENT_PARAMETER
    # 4990 and 5010: 10 vs 10, no surplus, both 10 from 5000: the higher
    assert trades(events) == [(5010, 10, 2, 1)]
    assert ladder(engine, SC) == []
    engine.check_invariants()


def test_the_taker_pays_the_resting_price_and_the_continuous_fee(make_engine):
    engine = funded_engine(make_engine, {1: (0, {SC: 100}), 2: (1_000_000, {})}, fees=(50, 50))
    select(engine)
    (order,) = asks(engine, 5010, qty=20)
    take(engine, order, 2, 10)
    fee = 5010 * 10 * 50 // 10000
    assert cash(engine, 2) == (1_000_000 - 50_100 - fee, 0)
    assert units(engine, 2, SC)[2] == 10                       # bought today: locked until T+1
    assert cash(engine, 1)[0] == 50_100 - fee
    engine.check_invariants()


def test_a_crossed_taker_select_book_stays_crossed_through_a_move_to_trading(engine):
    from matching import InstrumentStatus
    select(engine)
    engine.submit(SC, 1, SELL, 10, 4990)
    engine.submit(SC, 2, BUY, 10, 5010)
    assert not trades(engine.set_instrument_status(SC, InstrumentStatus.HALTED))
    assert not trades(engine.set_instrument_status(SC, InstrumentStatus.TRADING))    # a resume: no uncrossing
    engine.set_instrument_status(SC, InstrumentStatus.CALL)
    assert trades(engine.set_instrument_status(SC, InstrumentStatus.TRADING)) == [(5010, 10, 2, 1)]  # a call's end
