"""SET_INSTRUMENT_PARAMETER: an operator changes an instrument's tick, lot, maximum order size,
reference price, band, block band, block minimum or close threshold mid-session. The change
judges the commands after it; a band it moves cancels what then rests outside it (reason
OUTSIDE_BAND); a value out of range, or one that leaves the band without a price, is refused
and changes nothing. A snapshot carries the changed parameters."""
import pytest

from helpers import (
    SC, SC_BAND, as_dicts, assert_rejected, cancels, event, kinds, ladder, listing_ladder, market, only, reasons, rows,
)
from matching import (
    CancelReason, CommandType, EventKind, InstrumentParameter as P, Reject, Side, commands,
)

BUY, SELL = Side.BUY, Side.SELL
SC_I = 0


def set_parameter(engine, parameter, value, instrument=SC_I):
    return engine.process(commands.set_instrument_parameter(instrument, parameter, value))


def sc(engine):
    return engine.instruments[SC_I]


def test_a_narrower_band_cancels_what_rests_outside_it_and_refuses_new_prices_there(engine):
    engine.submit(SC, 1, SELL, 10, 5450)                  # order 1: inside 4500..5500
    engine.submit(SC, 2, BUY, 10, 4900)                   # order 2: stays inside 4750..5250
    events = set_parameter(engine, P.BAND_BPS, 500)
    assert kinds(events)[:2] == [EventKind.INSTRUMENT_PARAMETER, EventKind.CANCELLED]
    assert rows(only(events, EventKind.INSTRUMENT_PARAMETER), "instrument", "reason", "value") == [
        (SC_I, P.BAND_BPS, 500)]
    assert cancels(events) == [(1, CancelReason.OUTSIDE_BAND, 10)]
    assert ladder(engine, SC) == [(10, 4900, None, None)]
    assert sc(engine).band == (4750, 5250) and sc(engine).band_bps == 500
    assert reasons(engine.submit(SC, 1, SELL, 10, 5440)) == [Reject.PRICE_OUTSIDE_BAND]
    assert kinds(engine.submit(SC, 1, SELL, 10, 5250))[0] == EventKind.ACCEPTED


def test_a_wider_band_cancels_nothing_and_admits_the_new_prices(engine):
    engine.submit(SC, 1, SELL, 10, 5450)
    assert reasons(engine.submit(SC, 1, SELL, 10, 5900)) == [Reject.PRICE_OUTSIDE_BAND]
    events = set_parameter(engine, P.BAND_BPS, 2000)
    assert kinds(events) == [EventKind.INSTRUMENT_PARAMETER]
    assert kinds(engine.submit(SC, 1, SELL, 10, 5900))[0] == EventKind.ACCEPTED


def test_a_new_reference_price_recentres_both_bands(engine):
    engine.submit(SC, 1, BUY, 10, 4600)
    engine.submit(SC, 1, SELL, 10, 5400)
    events = set_parameter(engine, P.REFERENCE_PRICE, 5300)        # band 4770..5830
    assert cancels(events) == [(1, CancelReason.OUTSIDE_BAND, 10)]
    assert sc(engine).reference_price == 5300 and sc(engine).band == (4770, 5830)
    assert sc(engine).block_band == (3710, 6890)


def test_listings_outside_a_moved_band_are_cancelled_too(engine):
    engine.process(commands.list_fixed(SC_I, 1, SELL, 10, 5450, 10))
    events = set_parameter(engine, P.BAND_BPS, 500)
    assert cancels(events) == [(1, CancelReason.OUTSIDE_BAND, 10)]
    assert listing_ladder(engine, SC) == []


def test_block_quotes_outside_a_moved_block_band_are_cancelled(make_engine):
    engine = make_engine()
    engine.process(commands.set_block_window(SC_I, True))
    quote = engine.process(commands.block_quote(SC_I, 1, SELL, 100_000, 6400))   # block band 3500..6500
    assert kinds(quote)[0] == EventKind.ACCEPTED
    events = set_parameter(engine, P.BLOCK_BAND_BPS, 2000)                     # 4000..6000
    assert cancels(events) == [(1, CancelReason.OUTSIDE_BAND, 100_000)]
    assert sc(engine).block_band == (4000, 6000)


@pytest.mark.parametrize("parameter, value, order, reason", [
    (P.LOT, 10, dict(qty=15, price=5000), Reject.OFF_LOT_QUANTITY),
    (P.TICK, 10, dict(qty=10, price=5005), Reject.OFF_TICK_PRICE),
    (P.MAX_ORDER_QTY, 50, dict(qty=60, price=5000), Reject.ORDER_TOO_LARGE),
])
def test_tick_lot_and_size_judge_the_orders_after_them_and_leave_resting_ones(engine, parameter, value, order,
                                                                              reason):
    engine.submit(SC, 1, BUY, order["qty"], order["price"] - 100)       # valid before the change
    before = ladder(engine, SC)
    set_parameter(engine, parameter, value)
    assert ladder(engine, SC) == before
    assert reasons(engine.submit(SC, 2, SELL, order["qty"], order["price"])) == [reason]


def test_a_changed_tick_that_moves_the_band_cancels_by_the_new_band(engine):
    engine.submit(SC, 1, SELL, 10, 5500)
    events = set_parameter(engine, P.TICK, 300)                          # band 4500..5400
    assert sc(engine).band == (4500, 5400)
    assert cancels(events) == [(1, CancelReason.OUTSIDE_BAND, 10)]


def test_block_minimum_and_close_threshold_apply_from_the_next_command(make_engine):
    engine = make_engine()
    engine.process(commands.set_block_window(SC_I, True))
    set_parameter(engine, P.BLOCK_MIN_QTY, 500)
    assert kinds(engine.process(commands.block_quote(SC_I, 1, SELL, 600, 5000)))[0] == EventKind.ACCEPTED
    set_parameter(engine, P.MIN_CLOSE_VOLUME, 100)
    assert sc(engine).block_min_qty == 500 and sc(engine).min_close_volume == 100


@pytest.mark.parametrize("parameter, value", [
    (0, 10), (max(P) + 1, 10), (255, 10), (P.DYNAMIC_BAND_BPS, -1), (P.DYNAMIC_BAND_BPS, 10_001),
    (P.TICK, 0), (P.TICK, 10**8 + 1), (P.LOT, 0), (P.LOT, 10**7 + 1), (P.MAX_ORDER_QTY, 0),
    (P.REFERENCE_PRICE, 0), (P.REFERENCE_PRICE, -5000), (P.BAND_BPS, -1), (P.BAND_BPS, 10_001),
    (P.BLOCK_BAND_BPS, 10_001), (P.BLOCK_MIN_QTY, 0), (P.MIN_CLOSE_VOLUME, -1), (P.MIN_CLOSE_VOLUME, 10**15 + 1),
    (P.TICK, 6000),                  # 4500..5500 holds no multiple of 6000: the band would be empty
])
def test_a_value_out_of_range_is_refused_and_changes_nothing(engine, parameter, value):
    engine.submit(SC, 1, SELL, 10, 5450)
    assert_rejected(engine, commands.set_instrument_parameter(SC_I, parameter, value), Reject.BAD_PARAMETER)
    assert sc(engine).band == SC_BAND


def test_an_unknown_instrument_is_refused(engine):
    assert_rejected(engine, commands.set_instrument_parameter(7, P.BAND_BPS, 500), Reject.UNKNOWN_INSTRUMENT)
    assert_rejected(engine, commands.set_instrument_parameter(-1, P.BAND_BPS, 500), Reject.UNKNOWN_INSTRUMENT)


def test_the_event_says_what_changed(engine):
    assert as_dicts(set_parameter(engine, P.LOT, 5)) == [
        event(EventKind.INSTRUMENT_PARAMETER, command=CommandType.SET_INSTRUMENT_PARAMETER, seq=1,
              instrument=SC_I, reason=P.LOT, value=5)]


def test_a_snapshot_keeps_the_changed_parameters(impl, engine):
    set_parameter(engine, P.BAND_BPS, 500)
    set_parameter(engine, P.LOT, 5)
    set_parameter(engine, P.REFERENCE_PRICE, 5100)
    restored = impl.restore(engine.snapshot())
    assert restored.state_digest() == engine.state_digest()
    assert [i.to_dict() for i in restored.instruments] == [i.to_dict() for i in engine.instruments]
    assert reasons(restored.submit(SC, 1, SELL, 7, 5000)) == [Reject.OFF_LOT_QUANTITY]


def test_a_listing_that_does_not_expire_is_cancelled_at_the_close_when_outside_the_new_band(impl):
    instruments = market()
    instruments[SC_I].listings_expire = False
    engine = impl(instruments)
    engine.process(commands.list_fixed(SC_I, 1, SELL, 10, 5450, 10))       # rests into the next day
    engine.submit(SC, 2, SELL, 10, 4600)
    engine.submit(SC, 3, BUY, 10, 4600)                                   # the day's VWAP: 4600
    events = engine.process(commands.end_of_day(SC_I))                    # band 4140..5060
    assert (1, CancelReason.OUTSIDE_BAND, 10) in cancels(events)        # the listing
    assert listing_ladder(engine, SC) == []
    assert only(engine.process(commands.take_fixed(1, 4, 10)), EventKind.REJECTED)["reason"].tolist() == [
        Reject.UNKNOWN_ORDER]


def test_a_listing_inside_the_band_survives_a_parameter_change(engine):
    engine.process(commands.list_fixed(SC_I, 1, SELL, 10, 5000, 10))
    set_parameter(engine, P.LOT, 5)
    set_parameter(engine, P.BAND_BPS, 100)
    assert listing_ladder(engine, SC) == [(None, None, 5000, 10)]
