"""Market orders: IOC or FOK only, limited by the band edge, trading at resting prices, never
resting."""
from helpers import SC, as_dicts, cancels, event, kinds, ladder, reasons, trades
from matching import (
    CancelReason, CommandType, EventKind, OrderType, Reject, Side, TimeInForce, TradeType,
)

BUY, SELL = Side.BUY, Side.SELL
MARKET, IOC, FOK = OrderType.MARKET, TimeInForce.IOC, TimeInForce.FOK
ACCEPTED, TRADE, CANCELLED, DEPTH = (EventKind.ACCEPTED, EventKind.TRADE, EventKind.CANCELLED,
                                     EventKind.DEPTH)


def test_market_buy_sweeps_the_asks_and_cancels_its_remainder(engine):
    engine.submit(SC, 1, SELL, 10, 5001)
    engine.submit(SC, 1, SELL, 10, 5003)
    events = engine.submit(SC, 2, BUY, 25, order_type=MARKET, tif=IOC, client_order_id=8, seq=3)
    common = dict(cmd_seq=3, instrument=0, command=CommandType.NEW_ORDER)
    order = dict(common, order_id=3, client_order_id=8, account=2, side=BUY, order_type=MARKET, tif=IOC)
    assert as_dicts(events) == [
        event(ACCEPTED, seq=5, **order, price=0, qty=25, leaves=25),
        event(TRADE, seq=6, **common, trade_id=1, price=5001, qty=10, side=BUY,
              trade_type=TradeType.CONTINUOUS, buy_order_id=3, sell_order_id=1, buy_account=2,
              sell_account=1, buy_leaves=15, sell_leaves=0),
        event(TRADE, seq=7, **common, trade_id=2, price=5003, qty=10, side=BUY,
              trade_type=TradeType.CONTINUOUS, buy_order_id=3, sell_order_id=2, buy_account=2,
              sell_account=1, buy_leaves=5, sell_leaves=0),
        event(CANCELLED, seq=8, **order, price=0, qty=5, leaves=0, reason=CancelReason.IOC_REMAINDER),
        event(DEPTH, seq=9, **common, side=SELL, price=5001, qty=0, count=0),
        event(DEPTH, seq=10, **common, side=SELL, price=5003, qty=0, count=0),
    ]
    assert ladder(engine, SC) == []
    assert engine.order(3) is None
    assert engine.resting_orders == 0


def test_market_order_on_an_empty_side_is_cancelled_whole(engine):
    engine.submit(SC, 1, BUY, 10, 5000)
    events = engine.submit(SC, 2, BUY, 40, order_type=MARKET, tif=IOC)
    assert kinds(events) == [ACCEPTED, CANCELLED]
    assert cancels(events) == [(2, CancelReason.IOC_REMAINDER, 40)]
    assert ladder(engine, SC) == [(10, 5000, None, None)]


def test_market_sell_walks_down_the_bids(engine):
    engine.submit(SC, 1, BUY, 10, 5000)
    engine.submit(SC, 1, BUY, 10, 4600)
    events = engine.submit(SC, 2, SELL, 15, order_type=MARKET, tif=IOC)
    assert trades(events) == [(5000, 10, 1, 3), (4600, 5, 2, 3)]
    assert kinds(events) == [ACCEPTED, TRADE, TRADE, DEPTH, DEPTH]
    assert ladder(engine, SC) == [(5, 4600, None, None)]


def test_market_buy_reaches_the_top_of_the_band_and_goes_no_further(engine):
    engine.submit(SC, 1, SELL, 10, 5499)
    engine.submit(SC, 1, SELL, 10, 5500)
    events = engine.submit(SC, 2, BUY, 30, order_type=MARKET, tif=IOC)
    assert trades(events) == [(5499, 10, 3, 1), (5500, 10, 3, 2)]
    assert cancels(events) == [(3, CancelReason.IOC_REMAINDER, 10)]
    assert ladder(engine, SC) == []


def test_market_sell_reaches_the_bottom_of_the_band(engine):
    engine.submit(SC, 1, BUY, 10, 4500)
    events = engine.submit(SC, 2, SELL, 11, order_type=MARKET, tif=IOC)
    assert trades(events) == [(4500, 10, 1, 2)]
    assert cancels(events) == [(2, CancelReason.IOC_REMAINDER, 1)]


def test_market_order_never_rests(engine):
    engine.submit(SC, 1, SELL, 10, 5001)
    engine.submit(SC, 2, BUY, 50, order_type=MARKET, tif=IOC)
    assert ladder(engine, SC) == []
    assert engine.order(2) is None
    assert engine.resting_orders == 0


def test_market_fok_fills_exactly_the_whole_side(engine):
    engine.submit(SC, 1, SELL, 10, 5001)
    engine.submit(SC, 1, SELL, 10, 5500)
    events = engine.submit(SC, 2, BUY, 20, order_type=MARKET, tif=FOK)
    assert kinds(events) == [ACCEPTED, TRADE, TRADE, DEPTH, DEPTH]
    assert trades(events) == [(5001, 10, 3, 1), (5500, 10, 3, 2)]
    assert ladder(engine, SC) == []


def test_market_fok_larger_than_the_side_is_rejected_and_changes_nothing(engine):
    engine.submit(SC, 1, BUY, 10, 5000)
    engine.submit(SC, 1, BUY, 10, 4500)
    events = engine.submit(SC, 2, SELL, 21, order_type=MARKET, tif=FOK)
    assert reasons(events) == [Reject.FOK_NOT_FILLABLE]
    assert ladder(engine, SC) == [(10, 5000, None, None), (10, 4500, None, None)]
    assert engine.order(1).qty == 10
