"""The call auction (InstrumentStatus.CALL): orders rest without matching, crossing ones too;
each change publishes the indicative uncrossing; the move to TRADING uncrosses the book at one
price. Every case is computed by hand in its comment; both engines must agree with it.

The market under test is SCEA2026: reference 5000, tick 1, lot 1, band 4500..5500.
"""
import pytest

from helpers import (
    SC, as_dicts, assert_rejected, cancels, cash, event, funded_engine, kinds, ladder, market, only, rows, trades,
    units,
)
from matching import (
    CancelReason, CommandType, Engine, EventKind, InstrumentStatus, OrderType, ReferenceEngine, Reject, Side,
    TimeInForce, commands,
)

BUY, SELL = Side.BUY, Side.SELL
MARKET, IOC, FOK = OrderType.MARKET, TimeInForce.IOC, TimeInForce.FOK
TRADING, HALTED, CLOSED, PRE_OPEN, CALL = (InstrumentStatus.TRADING, InstrumentStatus.HALTED,
                                           InstrumentStatus.CLOSED, InstrumentStatus.PRE_OPEN, InstrumentStatus.CALL)
INDICATIVE = EventKind.INDICATIVE
SC_I = 0
M = None        # an order's price of None: a market order (IOC)


def call(engine, orders):
    """Open a call on SC, enter ``orders`` ``(account, side, qty, price or M)`` in turn (ids 1..n)
    and return the last INDICATIVE event as ``(price, qty, surplus, surplus side)``."""
    engine.set_instrument_status(SC, CALL)
    last = None
    for account, side, qty, price in orders:
        if price is M:
            events = engine.submit(SC, account, side, qty, order_type=MARKET, tif=IOC)
        else:
            events = engine.submit(SC, account, side, qty, price)
        assert kinds(events)[0] == EventKind.ACCEPTED and not trades(events), "a call must not trade"
        assert kinds(events)[-1] == INDICATIVE, "every change in a call ends with an INDICATIVE event"
        last = rows(only(events, INDICATIVE), "price", "qty", "leaves", "side")[-1]
    return last


# (what it shows, orders, indicative (price, volume, surplus, side), trades (price, qty, buy id, sell id),
#  the book left: bids, asks as (price, qty, count))
CASES = [
    ("buy surplus at every price: the highest",
     # 4990: bids 100, asks 60 -> 60, +40; 5010: the same -> the buy surplus takes the higher
     [(1, BUY, 100, 5010), (2, SELL, 60, 4990)],
     (5010, 60, 40, BUY), [(5010, 60, 1, 2)], ([(5010, 40, 1)], [])),
    ("sell surplus at every price: the lowest",
     [(1, BUY, 60, 5010), (2, SELL, 100, 4990)],
     (4990, 60, 40, SELL), [(4990, 60, 1, 2)], ([], [(4990, 40, 1)])),
    ("the most volume decides",
     # 4950: 70 vs 20 -> 20; 5000: 70 vs 80 -> 70, -10; 5050: 30 vs 80 -> 30
     [(1, BUY, 30, 5050), (2, BUY, 40, 5000), (3, SELL, 20, 4950), (4, SELL, 60, 5000)],
     (5000, 70, 10, SELL), [(5000, 20, 1, 3), (5000, 10, 1, 4), (5000, 40, 2, 4)], ([], [(5000, 10, 1)])),
    ("of equal volumes, the least surplus; then the sell pressure's lowest",
     # 4990 and 5010: 70 vs 50 -> 50, +20; 5020 and 5030: 50 vs 60 -> 50, -10
     [(1, BUY, 50, 5030), (2, BUY, 20, 5010), (3, SELL, 50, 4990), (4, SELL, 10, 5020)],
     (5020, 50, 10, SELL), [(5020, 50, 1, 3)], ([(5010, 20, 1)], [(5020, 10, 1)])),
    ("no surplus anywhere: the price nearest the reference",
     # 4980 and 5010 both clear 50 with no surplus; 5010 is 10 from 5000, 4980 is 20
     [(1, BUY, 50, 5010), (2, SELL, 50, 4980)],
     (5010, 50, 0, 0), [(5010, 50, 1, 2)], ([], [])),
    ("no surplus, two prices as near the reference: the higher",
     [(1, BUY, 50, 5020), (2, SELL, 50, 4980)],
     (5020, 50, 0, 0), [(5020, 50, 1, 2)], ([], [])),
    ("surpluses of both signs: nearest the reference, and its own surplus",
     # 4980, 4995: 50 vs 40 -> 40, +10; 5010, 5020: 40 vs 50 -> 40, -10; 4995 is 5 from 5000
     [(1, BUY, 40, 5020), (2, BUY, 10, 4995), (3, SELL, 40, 4980), (4, SELL, 10, 5010)],
     (4995, 40, 10, BUY), [(4995, 40, 1, 3)], ([(4995, 10, 1)], [(5010, 10, 1)])),
    ("surpluses of both signs as near the reference: the higher, and its own surplus",
     # as above with the small bid at 4990: 4990 and 5010 are both 10 from 5000
     [(1, BUY, 40, 5020), (2, BUY, 10, 4990), (3, SELL, 40, 4980), (4, SELL, 10, 5010)],
     (5010, 40, 10, SELL), [(5010, 40, 1, 3)], ([(4990, 10, 1)], [(5010, 10, 1)])),
    ("everything crosses and everything trades",
     # 4990: 30 vs 30 -> 30, 0; 5005: 30 vs 30 -> 30, 0; 5020: 20 vs 30 -> 20. 5005 is nearer 5000
     [(1, BUY, 20, 5020), (2, BUY, 10, 5005), (3, SELL, 30, 4990)],
     (5005, 30, 0, 0), [(5005, 20, 1, 3), (5005, 10, 2, 3)], ([], [])),
    ("nothing crosses: no indicative price, nothing trades",
     [(1, BUY, 10, 4990), (2, SELL, 10, 5010)],
     (0, 0, 0, 0), [], ([(4990, 10, 1)], [(5010, 10, 1)])),
    ("time priority at the marginal level",
     # 4990 and 5000: 70 vs 100 -> 70, -30: the lowest. Ask 1 (earlier) fills first
     [(2, SELL, 50, 4990), (3, SELL, 50, 4990), (1, BUY, 70, 5000)],
     (4990, 70, 30, SELL), [(4990, 50, 3, 1), (4990, 20, 3, 2)], ([], [(4990, 30, 1)])),
    ("price priority before time: the better ask fills first though it came later",
     # 4990: 40 vs 30 -> 30, +10; 5000: 40 vs 60 -> 40, -20: the most volume at 5000
     [(2, SELL, 30, 5000), (3, SELL, 30, 4990), (1, BUY, 40, 5000)],
     (5000, 40, 20, SELL), [(5000, 30, 3, 2), (5000, 10, 3, 1)], ([], [(5000, 20, 1)])),
    ("market orders alone meet at the reference price",
     [(1, BUY, 30, M), (2, SELL, 20, M)],
     (5000, 20, 10, BUY), [(5000, 20, 1, 2)], ([], [])),
    ("a market buy against limit asks: the asks' prices are the candidates",
     # 4990: 50 vs 30 -> 30, +20; 5010: 50 vs 70 -> 50, -20
     [(1, BUY, 50, M), (2, SELL, 30, 4990), (3, SELL, 40, 5010)],
     (5010, 50, 20, SELL), [(5010, 30, 1, 2), (5010, 20, 1, 3)], ([], [(5010, 20, 1)])),
    ("market orders on both sides and limits: the limits set the price",
     # 4995: bids 20 + 10 = 30 vs asks 20 -> 20, +10; 5005: 20 vs 20 + 15 -> 20, -15. +10 is the least
     [(1, BUY, 20, M), (2, SELL, 20, M), (3, BUY, 10, 4995), (4, SELL, 15, 5005)],
     (4995, 20, 10, BUY), [(4995, 20, 1, 2)], ([(4995, 10, 1)], [(5005, 15, 1)])),
    ("one side only: no uncrossing",
     [(1, BUY, 30, M), (2, BUY, 10, 5100)],
     (0, 0, 0, 0), [], ([(5100, 10, 1)], [])),
]


@pytest.mark.parametrize("what, orders, indicative, expected_trades, book", CASES, ids=[c[0] for c in CASES])
def test_uncrossing_by_hand(engine, what, orders, indicative, expected_trades, book):
    assert call(engine, orders) == indicative
    events = engine.set_instrument_status(SC, TRADING)
    assert trades(events) == expected_trades
    # the trades, then the market orders' cancellations, then the new status, then depth
    assert kinds(events) == ([EventKind.TRADE] * len(expected_trades)
                             + [EventKind.CANCELLED] * len(cancels(events))
                             + [EventKind.INSTRUMENT_STATUS] + [EventKind.DEPTH] * len(only(events, EventKind.DEPTH)))
    market_left = sum(qty for _, side, qty, price in orders if price is M) - sum(
        qty for price, qty, buy, sell in expected_trades for n in (buy, sell) if orders[n - 1][3] is M)
    assert [(reason, qty) for _, reason, qty in cancels(events)] == (
        [(CancelReason.IOC_REMAINDER, market_left)] if market_left else [])
    view = engine.book(SC)
    assert ([tuple(map(int, level)) for level in view.bids], [tuple(map(int, level)) for level in view.asks]) == book
    engine.check_invariants()


def test_a_call_starts_with_its_status_and_an_empty_indicative(engine):
    events = engine.set_instrument_status(SC, CALL, ts=7, seq=3)
    common = dict(command=CommandType.SET_INSTRUMENT_STATUS, cmd_seq=3, ts=7, instrument=SC_I)
    assert as_dicts(events) == [event(EventKind.INSTRUMENT_STATUS, seq=1, value=CALL, **common),
                                event(INDICATIVE, seq=2, **common)]


def test_a_call_takes_crossing_orders_where_pre_open_refuses_them(engine):
    engine.set_instrument_status(SC, PRE_OPEN)
    engine.submit(SC, 1, SELL, 10, 4990)
    assert_rejected(engine, commands.new_order(SC_I, 2, BUY, 10, 5000), Reject.WOULD_CROSS)
    assert_rejected(engine, commands.new_order(SC_I, 2, BUY, 10, order_type=MARKET, tif=IOC), Reject.MARKET_CLOSED)
    engine.set_instrument_status(SC, CALL)
    events = engine.submit(SC, 2, BUY, 10, 5000)
    assert kinds(events) == [EventKind.ACCEPTED, EventKind.DEPTH, INDICATIVE]
    assert rows(only(events, INDICATIVE), "price", "qty", "leaves", "side") == [(5000, 10, 0, 0)]


def test_fok_waits_for_nothing_in_a_call(engine):
    engine.set_instrument_status(SC, CALL)
    assert_rejected(engine, commands.new_order(SC_I, 2, BUY, 10, 5000, tif=FOK), Reject.MARKET_CLOSED)
    assert_rejected(engine, commands.new_order(SC_I, 2, BUY, 10, order_type=MARKET, tif=FOK), Reject.MARKET_CLOSED)


def test_a_market_order_in_a_call_rests_at_the_band_edge(engine):
    engine.set_instrument_status(SC, CALL)
    buy = engine.submit(SC, 1, BUY, 10, order_type=MARKET, tif=IOC)
    sell = engine.submit(SC, 2, SELL, 5, order_type=MARKET, tif=IOC)
    assert rows(only(buy, EventKind.ACCEPTED), "price", "order_type", "tif") == [(5500, MARKET, IOC)]
    assert rows(only(sell, EventKind.ACCEPTED), "price") == [(4500,)]
    assert ladder(engine, SC) == [(10, 5500, 4500, 5)]
    assert engine.order(1).price == 5500


def test_the_later_order_is_the_aggressor(engine):
    call(engine, [(1, BUY, 10, 5010), (2, SELL, 5, 4990), (3, BUY, 5, 5020)])
    # 4990: 15 vs 5 -> 5, +10; 5010: 15 vs 5 -> 5, +10; 5020: 5 vs 5 -> 5, 0: the least surplus
    events = engine.set_instrument_status(SC, TRADING)
    assert rows(only(events, EventKind.TRADE), "price", "qty", "buy_order_id", "sell_order_id", "side") == [
        (5020, 5, 3, 2, BUY)]        # order 3 came after order 2


def test_changes_in_a_call_move_the_indicative_and_trade_nothing(engine):
    call(engine, [(1, BUY, 10, 5010), (2, SELL, 10, 5020)])
    events = engine.replace(2, 2, 5000, 10)
    assert not trades(events) and kinds(events)[-1] == INDICATIVE
    # 5000 and 5010: 10 vs 10, no surplus; 5000 is the reference itself
    assert rows(only(events, INDICATIVE), "price", "qty") == [(5000, 10)]
    events = engine.cancel(1, 1)
    assert rows(only(events, INDICATIVE), "price", "qty", "leaves", "side") == [(0, 0, 0, 0)]


def test_one_indicative_per_instrument_per_command(engine):
    call(engine, [(1, BUY, 10, 5010), (1, BUY, 10, 5011), (2, SELL, 10, 4990), (2, SELL, 10, 4991)])
    events = engine.process(commands.cancel_all(SC_I, account=1))
    assert len(only(events, EventKind.DEPTH)) == 2 and len(only(events, INDICATIVE)) == 1
    assert kinds(events)[-1] == INDICATIVE


def test_a_halted_call_keeps_its_crossed_book_until_trading_resumes(engine):
    call(engine, [(1, BUY, 10, 5010), (2, SELL, 10, 4990), (3, BUY, 4, M)])
    events = engine.set_instrument_status(SC, HALTED)
    assert cancels(events) == [(3, CancelReason.IOC_REMAINDER, 4)] and not trades(events)
    assert not only(events, INDICATIVE).size
    assert ladder(engine, SC) == [(10, 5010, 4990, 10)]        # crossed, and nothing trades
    assert_rejected(engine, commands.new_order(SC_I, 4, BUY, 1, 5000), Reject.INSTRUMENT_HALTED)
    engine.check_invariants()
    events = engine.set_instrument_status(SC, TRADING)
    # 4990 and 5010: 10 vs 10, no surplus, each 10 from 5000: the higher
    assert trades(events) == [(5010, 10, 1, 2)]
    assert ladder(engine, SC) == []


def test_the_uncrossing_opens_the_day(engine):
    call(engine, [(1, BUY, 10, 5010), (2, SELL, 10, 4990)])
    engine.set_instrument_status(SC, TRADING)
    day = engine.daily(SC)
    assert (day["open"], day["high"], day["low"], day["volume"]["CONTINUOUS"]) == (5010, 5010, 5010, 10)


def test_each_buyer_pays_the_uncrossing_price_and_gets_its_hold_back(make_engine):
    engine = funded_engine(make_engine, {1: (1_000_000, {}), 2: (0, {SC: 100}), 3: (1_000_000, {})})
    engine.set_instrument_status(SC, CALL)
    engine.submit(SC, 1, BUY, 10, 5010)
    engine.submit(SC, 3, BUY, 10, order_type=MARKET, tif=IOC)
    assert cash(engine, 1) == (1_000_000 - 50_100, 50_100)
    assert cash(engine, 3) == (1_000_000 - 55_000, 55_000)           # a market buy holds at the edge
    engine.submit(SC, 2, SELL, 30, 4990)
    # 4990: 20 vs 30 -> 20, -10; 5010: 20 vs 30 -> 20, -10: the lowest
    events = engine.set_instrument_status(SC, TRADING)
    assert trades(events) == [(4990, 10, 2, 3), (4990, 10, 1, 3)]   # the market buy first: it rests at 5500
    assert cash(engine, 1) == (1_000_000 - 49_900, 0)
    assert cash(engine, 3) == (1_000_000 - 49_900, 0)
    assert cash(engine, 2) == (99_800, 0)
    assert units(engine, 2, SC) == (70, 10, 0, 0)
    engine.check_invariants()


def test_a_snapshot_in_a_call_resumes_the_same_call(impl):
    engine = impl(market())
    call(engine, [(1, BUY, 10, M), (2, SELL, 4, 4990), (3, SELL, 4, 4995), (1, BUY, 3, 5005)])
    blob = engine.snapshot()
    expected = engine.set_instrument_status(SC, TRADING)
    for restore_with in (Engine, ReferenceEngine):
        resumed = restore_with.restore(blob)
        assert ladder(resumed, SC) == [(10, 5500, 4990, 4), (3, 5005, 4995, 4)]
        assert as_dicts(resumed.set_instrument_status(SC, TRADING)) == as_dicts(expected)


def test_a_closing_call_uncrosses_into_the_close_and_pre_open_does_not(engine):
    call(engine, [(1, BUY, 10, 5010), (2, SELL, 10, 4990)])
    assert trades(engine.set_instrument_status(SC, CLOSED)) == [(5010, 10, 1, 2)]
    call(engine, [(1, BUY, 10, 5010), (2, SELL, 10, 4990)])
    events = engine.set_instrument_status(SC, PRE_OPEN)
    assert not trades(events) and ladder(engine, SC) == [(10, 5010, 4990, 10)]
    # a crossed book in PRE_OPEN refuses what would cross it further, and trades on the open
    assert_rejected(engine, commands.new_order(SC_I, 4, BUY, 1, 5000), Reject.WOULD_CROSS)
    assert trades(engine.set_instrument_status(SC, TRADING)) == [(5010, 10, 3, 4)]
