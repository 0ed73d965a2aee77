"""Volatility interruptions: a continuous trade that would print further than the dynamic band
(``dynamic_band_bps``) from the last trade before the incoming order (the reference price
before the day's first) does not happen; the instrument goes into a call auction at once,
the order waits in it, and the call ends like any other (the move to TRADING uncrosses).

SCEA2026: reference 5000, tick 1, band 4500..5500. A dynamic band of 100 bps is 50 fen
around 5000.
"""
from helpers import SC, assert_rejected, cancels, kinds, ladder, only, rows, trades
from matching import (
    EventKind, InstrumentParameter, InstrumentStatus, OrderType, Reject, Side, StatusCause, TimeInForce, commands,
)

BUY, SELL = Side.BUY, Side.SELL
SC_I = 0
TRADING, CALL = InstrumentStatus.TRADING, InstrumentStatus.CALL
STATUS, INDICATIVE = EventKind.INSTRUMENT_STATUS, EventKind.INDICATIVE


def banded(engine, bps=100):
    engine.process(commands.set_instrument_parameter(SC_I, InstrumentParameter.DYNAMIC_BAND_BPS, bps))
    return engine


def status(engine):
    return engine.instruments[SC_I].status


def test_without_a_dynamic_band_any_trade_inside_the_static_band_prints(engine):
    engine.submit(SC, 1, SELL, 10, 5400)
    assert trades(engine.submit(SC, 2, BUY, 10, 5400)) == [(5400, 10, 2, 1)]
    assert status(engine) == TRADING


def test_a_trade_outside_the_dynamic_band_starts_a_call_instead(engine):
    banded(engine)
    engine.submit(SC, 1, SELL, 10, 5051)                       # 51 fen above the reference: outside
    events = engine.submit(SC, 2, BUY, 10, 5100)
    assert kinds(events) == [EventKind.ACCEPTED, STATUS, EventKind.DEPTH, INDICATIVE]
    assert rows(only(events, STATUS), "value", "reason") == [(CALL, StatusCause.VOLATILITY)]
    assert not trades(events) and status(engine) == CALL
    assert ladder(engine, SC) == [(10, 5100, 5051, 10)]        # the buy waits in the call, crossed
    # 5051 and 5100: 10 vs 10, no surplus; 5051 is nearer the reference
    assert rows(only(events, INDICATIVE), "price", "qty") == [(5051, 10)]
    engine.check_invariants()


def test_the_edge_of_the_band_still_trades(engine):
    banded(engine)
    engine.submit(SC, 1, SELL, 10, 5050)                       # exactly 1%: inside
    assert trades(engine.submit(SC, 2, BUY, 10, 5100)) == [(5050, 10, 2, 1)]
    assert status(engine) == TRADING


def test_a_sweep_trades_up_to_the_band_then_the_call_takes_the_rest(engine):
    banded(engine)
    for account, price in ((1, 5010), (3, 5040), (4, 5070)):
        engine.submit(SC, account, SELL, 10, price)
    # 5010 and 5040 are within 50 of 5000; 5070 is not, though it is within 50 of 5040:
    # the centre is the last trade before the order, so a sweep cannot walk the band along
    events = engine.submit(SC, 2, BUY, 30, 5100)
    assert trades(events) == [(5010, 10, 4, 1), (5040, 10, 4, 2)]
    assert kinds(events)[3] == STATUS and status(engine) == CALL
    assert ladder(engine, SC) == [(10, 5100, 5070, 10)]


def test_the_band_follows_the_last_trade_of_the_day(engine):
    banded(engine)
    engine.submit(SC, 1, SELL, 10, 5040)
    engine.submit(SC, 2, BUY, 10, 5040)                        # last 5040
    engine.submit(SC, 1, SELL, 10, 5085)                       # 45 above 5040: inside now
    assert trades(engine.submit(SC, 2, BUY, 10, 5100)) == [(5085, 10, 4, 3)]
    engine.submit(SC, 1, SELL, 10, 4990)
    events = engine.submit(SC, 1 + 1, BUY, 5, 4990)            # 95 below 5085: interrupted
    assert status(engine) == CALL and not trades(events)


def test_a_market_order_that_would_leave_the_band_waits_in_the_call_at_the_edge(engine):
    banded(engine)
    engine.submit(SC, 1, SELL, 10, 5030)
    engine.submit(SC, 1, SELL, 10, 5090)
    events = engine.submit(SC, 2, BUY, 25, order_type=OrderType.MARKET, tif=TimeInForce.IOC)
    assert trades(events) == [(5030, 10, 3, 1)] and status(engine) == CALL
    assert not cancels(events)                                 # the IOC remainder waits for the call
    assert ladder(engine, SC) == [(15, 5500, 5090, 10)]
    assert engine.order(3).price == 5500
    # the operator (or the daemon, after the interruption) ends the call: it uncrosses
    events = engine.set_instrument_status(SC, TRADING)
    # 5090 is the only limit price: 15 vs 10 -> 10, a buy surplus of 5
    assert trades(events) == [(5090, 10, 3, 2)]
    assert cancels(events) == [(3, 2, 5)]                      # IOC_REMAINDER after the call
    assert status(engine) == TRADING


def test_fok_never_interrupts_it_is_judged_within_the_band(engine):
    banded(engine)
    engine.submit(SC, 1, SELL, 10, 5030)
    engine.submit(SC, 1, SELL, 10, 5090)
    assert_rejected(engine, commands.new_order(SC_I, 2, BUY, 15, 5100, tif=TimeInForce.FOK), Reject.FOK_NOT_FILLABLE)
    assert trades(engine.submit(SC, 2, BUY, 10, 5100, tif=TimeInForce.FOK)) == [(5030, 10, 3, 1)]   # ids: refused take none
    assert status(engine) == TRADING


def test_a_call_and_a_halt_check_no_band_and_the_uncrossing_sets_the_next_centre(engine):
    banded(engine)
    engine.set_instrument_status(SC, CALL)
    engine.submit(SC, 1, SELL, 10, 5200)
    engine.submit(SC, 2, BUY, 10, 5300)                        # far from 5000, but a call has no band
    assert trades(engine.set_instrument_status(SC, TRADING)) == [(5200, 10, 2, 1)]
    engine.submit(SC, 1, SELL, 10, 5240)                       # 40 from the uncrossing price
    assert trades(engine.submit(SC, 2, BUY, 10, 5240)) == [(5240, 10, 4, 3)]


def test_self_trade_prevention_acts_before_the_band_is_judged(make_engine):
    # the buy meets only its own account's offer beyond the band: prevention cancels it,
    # no trade would print, so no interruption (a call would have crossed the two)
    engine = banded(make_engine())                             # accounts default to CANCEL_NEWEST
    engine.submit(SC, 1, SELL, 10, 5100)
    events = engine.submit(SC, 1, BUY, 10, 5100)
    assert status(engine) == TRADING and not only(events, STATUS).size
    assert cancels(events) == [(2, 3, 10)]                     # SELF_TRADE, the newest
