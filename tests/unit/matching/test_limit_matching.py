"""Limit orders: price-time priority, trades at the resting price, partial fills, sweeps, and
the numbering of orders, trades and events."""
import numpy as np

from helpers import CER, CQ, SC, as_dicts, command, event, kinds, ladder, only, rows, trades
from matching import (
    CommandType, EventKind, OrderType, Side, StpMode, TimeInForce, TradeType,
)
from matching._state import OrderView

BUY, SELL = Side.BUY, Side.SELL
ACCEPTED, TRADE, DEPTH = EventKind.ACCEPTED, EventKind.TRADE, EventKind.DEPTH


def test_orders_that_do_not_cross_rest_on_both_sides(engine):
    engine.submit(SC, 1, BUY, 10, 5000)
    engine.submit(SC, 2, SELL, 20, 5001)
    engine.submit(SC, 3, BUY, 5, 4999)
    events = engine.submit(SC, 4, SELL, 7, 5003)
    assert kinds(events) == [ACCEPTED, DEPTH]
    assert ladder(engine, SC) == [
        (10, 5000, 5001, 20),
        (5, 4999, 5003, 7),
    ]
    assert engine.resting_orders == 4


def test_accepted_order_events_in_full(engine):
    events = engine.submit(SC, 4, BUY, 30, 5000, client_order_id=11, ts=100, seq=9)
    assert as_dicts(events) == [
        event(ACCEPTED, command=CommandType.NEW_ORDER, seq=1, cmd_seq=9, ts=100, order_id=1,
              client_order_id=11, account=4, instrument=0, side=BUY, order_type=OrderType.LIMIT,
              tif=TimeInForce.GTC, price=5000, qty=30, leaves=30),
        event(DEPTH, command=CommandType.NEW_ORDER, seq=2, cmd_seq=9, ts=100, instrument=0,
              side=BUY, price=5000, qty=30, count=1),
    ]


def test_trade_events_in_full(engine):
    engine.submit(SC, 2, SELL, 10, 5000, client_order_id=21, seq=1)
    events = engine.submit(SC, 3, BUY, 4, 5010, client_order_id=31, ts=5, seq=2)
    assert as_dicts(events) == [
        event(ACCEPTED, command=CommandType.NEW_ORDER, seq=3, cmd_seq=2, ts=5, order_id=2,
              client_order_id=31, account=3, instrument=0, side=BUY, order_type=OrderType.LIMIT,
              tif=TimeInForce.GTC, price=5010, qty=4, leaves=4),
        event(TRADE, command=CommandType.NEW_ORDER, seq=4, cmd_seq=2, ts=5, trade_id=1,
              instrument=0, price=5000, qty=4, side=BUY, trade_type=TradeType.CONTINUOUS,
              buy_order_id=2, sell_order_id=1, buy_account=3, sell_account=2, buy_leaves=0,
              sell_leaves=6),
        event(DEPTH, command=CommandType.NEW_ORDER, seq=5, cmd_seq=2, ts=5, instrument=0, side=SELL,
              price=5000, qty=6, count=1),
    ]


def test_equal_prices_cross(engine):
    engine.submit(SC, 1, SELL, 10, 5000)
    assert trades(engine.submit(SC, 2, BUY, 10, 5000)) == [(5000, 10, 2, 1)]
    assert ladder(engine, SC) == []


def test_buy_trades_at_the_resting_ask(engine):
    engine.submit(SC, 1, SELL, 10, 5000)
    assert trades(engine.submit(SC, 2, BUY, 10, 5100)) == [(5000, 10, 2, 1)]


def test_sell_trades_at_the_resting_bid(engine):
    engine.submit(SC, 1, BUY, 10, 5100)
    events = engine.submit(SC, 2, SELL, 10, 4900)
    assert trades(events) == [(5100, 10, 1, 2)]
    assert rows(only(events, TRADE), "side", "buy_account", "sell_account") == [(SELL, 1, 2)]


def test_smaller_aggressor_partially_fills_the_resting_order(engine):
    engine.submit(SC, 1, SELL, 100, 5000)
    events = engine.submit(SC, 2, BUY, 30, 5000)
    assert rows(only(events, TRADE), "qty", "buy_leaves", "sell_leaves") == [(30, 0, 70)]
    assert ladder(engine, SC) == [(None, None, 5000, 70)]
    assert engine.order(1).qty == 70
    assert engine.order(2) is None


def test_larger_aggressor_rests_its_remainder_at_its_own_price(engine):
    engine.submit(SC, 1, SELL, 100, 5000)
    events = engine.submit(SC, 2, BUY, 150, 5005)
    assert rows(only(events, TRADE), "qty", "buy_leaves", "sell_leaves") == [(100, 50, 0)]
    assert ladder(engine, SC) == [(50, 5005, None, None)]
    assert engine.order(1) is None
    assert engine.order(2).qty == 50


def test_better_prices_trade_first(engine):
    engine.submit(SC, 1, SELL, 10, 5003)
    engine.submit(SC, 2, SELL, 10, 5001)
    engine.submit(SC, 3, SELL, 10, 5002)
    assert trades(engine.submit(SC, 4, BUY, 30, 5003)) == [
        (5001, 10, 4, 2),
        (5002, 10, 4, 3),
        (5003, 10, 4, 1),
    ]


def test_higher_bids_trade_first(engine):
    engine.submit(SC, 1, BUY, 10, 4998)
    engine.submit(SC, 2, BUY, 10, 5000)
    engine.submit(SC, 3, BUY, 10, 4999)
    assert trades(engine.submit(SC, 4, SELL, 30, 4998)) == [
        (5000, 10, 2, 4),
        (4999, 10, 3, 4),
        (4998, 10, 1, 4),
    ]


def test_earlier_orders_at_a_price_trade_first(engine):
    for account in (1, 2, 3):
        engine.submit(SC, account, SELL, 10, 5001)
    assert trades(engine.submit(SC, 4, BUY, 25, 5001)) == [
        (5001, 10, 4, 1),
        (5001, 10, 4, 2),
        (5001, 5, 4, 3),
    ]
    assert ladder(engine, SC) == [(None, None, 5001, 5)]
    assert engine.order(3).qty == 5


def test_time_priority_follows_the_engine_clock_not_a_late_timestamp(engine):
    engine.submit(SC, 1, SELL, 10, 5001, ts=100)
    engine.submit(SC, 2, SELL, 10, 5001, ts=50)     # stamped 100: the clock never runs back
    assert engine.order(2).ts == 100
    assert trades(engine.submit(SC, 3, BUY, 10, 5001, ts=60)) == [(5001, 10, 3, 1)]


def test_sweep_stops_at_the_limit_and_rests_the_remainder(engine):
    for price in (5001, 5002, 5003):
        engine.submit(SC, 1, SELL, 10, price)
    events = engine.submit(SC, 2, BUY, 25, 5002)
    assert trades(events) == [(5001, 10, 4, 1), (5002, 10, 4, 2)]
    assert ladder(engine, SC) == [(5, 5002, 5003, 10)]


def test_sell_sweep_walks_down_the_bids(engine):
    engine.submit(SC, 1, BUY, 10, 5000)
    engine.submit(SC, 2, BUY, 10, 4999)
    engine.submit(SC, 2, BUY, 10, 4990)
    events = engine.submit(SC, 3, SELL, 30, 4999)
    assert trades(events) == [(5000, 10, 1, 4), (4999, 10, 2, 4)]
    assert ladder(engine, SC) == [(10, 4990, 4999, 10)]


def test_resting_order_view(engine):
    engine.submit(SC, 2, SELL, 10, 5000, client_order_id=21, ts=7)
    engine.submit(SC, 3, BUY, 4, 5000, ts=8)
    assert engine.order(1) == OrderView(order_id=1, client_order_id=21, instrument=0, account=2,
                                        side=SELL, price=5000, qty=6, tif=TimeInForce.GTC,
                                        stp=StpMode.OFF, ts=7)
    assert engine.order(2) is None
    assert engine.order(99) is None


def test_instruments_have_separate_books(engine):
    engine.submit(SC, 1, SELL, 10, 5000)
    events = engine.submit(CER, 2, BUY, 10, 5000)
    assert kinds(events) == [ACCEPTED, DEPTH]
    assert ladder(engine, SC) == [(None, None, 5000, 10)]
    assert ladder(engine, CER) == [(10, 5000, None, None)]
    assert ladder(engine, CQ) == []


def test_order_ids_are_engine_wide_and_sequential(engine):
    ids = []
    for symbol, qty, price in [(SC, 1, 5000), (CQ, 100, 3000), (CER, 1, 6000), (SC, 1, 5001)]:
        ids += rows(only(engine.submit(symbol, 1, BUY, qty, price), ACCEPTED), "order_id")
    assert ids == [(1,), (2,), (3,), (4,)]


def test_trade_ids_are_sequential_across_commands_and_instruments(engine):
    engine.submit(SC, 1, SELL, 10, 5001)
    engine.submit(SC, 1, SELL, 10, 5002)
    engine.submit(CER, 1, SELL, 10, 6000)
    first = engine.submit(SC, 2, BUY, 20, 5002)
    second = engine.submit(CER, 2, BUY, 10, 6000)
    assert rows(only(first, TRADE), "trade_id") == [(1,), (2,)]
    assert rows(only(second, TRADE), "trade_id") == [(3,)]


def test_event_sequence_numbers_rise_by_one_across_every_command(engine):
    events = [
        engine.submit(SC, 1, SELL, 10, 5001, seq=1),
        engine.submit(SC, 2, BUY, 0, 5001, seq=2),                # rejected
        engine.process(command(type=77, seq=3)),                   # unknown command
        engine.submit(SC, 2, BUY, 15, 5001, seq=4),
        engine.set_account_stp(2, StpMode.CANCEL_BOTH, seq=5),
        engine.cancel(2, 2, seq=6),
    ]
    seqs = [int(s) for batch in events for s in batch["seq"]]
    assert seqs == list(range(1, 1 + len(seqs)))
    assert [sorted({int(c) for c in batch["cmd_seq"]}) for batch in events] == [[n] for n in range(1, 7)]


def test_events_carry_the_engine_clock(engine):
    first = engine.submit(SC, 1, SELL, 10, 5001, ts=100)
    late = engine.submit(SC, 2, BUY, 5, 5001, ts=40)
    later = engine.submit(SC, 2, BUY, 5, 5001, ts=130)
    assert {int(t) for t in first["ts"]} == {100}
    assert {int(t) for t in late["ts"]} == {100}
    assert {int(t) for t in later["ts"]} == {130}


def test_a_batch_gives_the_same_events_as_single_calls(make_engine):
    single, batched = make_engine(default_stp=StpMode.OFF), make_engine(default_stp=StpMode.OFF)
    orders = [(2, SELL, 10, 5001), (2, SELL, 5, 5000), (3, BUY, 12, 5001), (4, BUY, 9, 4999)]
    expected = []
    for n, (account, side, qty, price) in enumerate(orders):
        expected += as_dicts(single.submit(SC, account, side, qty, price, ts=10 * n, seq=n))
    batch = np.concatenate([
        command(type=CommandType.NEW_ORDER, instrument=0, account=account, side=side, qty=qty,
                price=price, order_type=OrderType.LIMIT, tif=TimeInForce.GTC, ts=10 * n, seq=n)
        for n, (account, side, qty, price) in enumerate(orders)])
    assert as_dicts(batched.process(batch)) == expected
    assert batched.state_digest() == single.state_digest()
