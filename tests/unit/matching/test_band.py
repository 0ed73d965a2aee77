"""The price band: reference ± bps rounded inwards to the tick, never below one tick; and the
instrument and engine configuration checks around it."""
from fractions import Fraction
from math import ceil, floor

import pytest

from helpers import CER_BAND, CQ_BAND, SC_BAND, kinds, reasons
from matching import (
    EventKind, Instrument, InstrumentKind, InstrumentStatus, Region, Reject, Side, StpMode, price_band,
)
from matching.instrument import MAX_PRICE, MAX_QTY


@pytest.mark.parametrize("reference, bps, tick, band", [
    (5000, 1000, 1, (4500, 5500)),       # the docstring's cases
    (4999, 1000, 10, (4500, 5490)),      # 4499.1 .. 5498.9 -> up to 4500, down to 5490
    (4999, 1000, 1, (4500, 5498)),       # fractional bps amount rounds inwards on both sides
    (3005, 1000, 10, (2710, 3300)),      # 2704.5 .. 3305.5
    (5000, 0, 1, (5000, 5000)),          # a zero band is the reference alone
    (5000, 10000, 1, (1, 10000)),        # 0 .. 10000, raised to one tick
    (5000, 10000, 100, (100, 10000)),
    (101, 9999, 1, (1, 201)),            # 0.0101 .. 201.9899
    (7, 5000, 5, (5, 10)),               # 3.5 .. 10.5
    (6000, 2000, 5, (4800, 7200)),
    (MAX_PRICE, 10000, 1, (1, 2 * MAX_PRICE)),
])
def test_price_band(reference, bps, tick, band):
    assert price_band(reference, bps, tick) == band


@pytest.mark.parametrize("tick", [1, 2, 5, 10, 25])
@pytest.mark.parametrize("bps", [0, 1, 333, 999, 1000, 2500, 9999, 10000])
def test_price_band_is_the_widest_tick_range_inside_the_exact_band(tick, bps):
    for reference in range(1, 400, 7):
        exact_low = Fraction(reference) * (10000 - bps) / 10000
        exact_high = Fraction(reference) * (10000 + bps) / 10000
        low = max(tick, ceil(exact_low / tick) * tick)
        high = floor(exact_high / tick) * tick
        assert price_band(reference, bps, tick) == (low, high), reference


def test_instrument_band_is_computed_from_its_fields():
    ins = Instrument("X", reference_price=4999, tick=10, band_bps=1000)
    assert ins.band == (4500, 5490)


@pytest.mark.parametrize("field, value", [
    ("symbol", ""),
    ("symbol", "S" * 33),
    ("symbol", 7),
    ("tick", 0),
    ("tick", -1),
    ("tick", MAX_PRICE + 1),
    ("lot", 0),
    ("lot", MAX_QTY + 1),
    ("reference_price", 0),
    ("reference_price", -5000),
    ("reference_price", MAX_PRICE + 1),
    ("band_bps", -1),
    ("band_bps", 10001),
    ("max_order_qty", 0),
    ("max_order_qty", MAX_QTY + 1),
])
def test_instrument_rejects_an_invalid_field(field, value):
    kwargs = {"symbol": "X", field: value}
    with pytest.raises(ValueError, match=f"invalid {field}="):
        Instrument(**kwargs)


@pytest.mark.parametrize("field, value", [("kind", 3), ("region", 0), ("status", 9)])
def test_instrument_rejects_an_unknown_enum_value(field, value):
    with pytest.raises(ValueError):
        Instrument("X", **{field: value})


def test_instrument_accepts_the_limits():
    ins = Instrument("S" * 32, tick=MAX_PRICE, lot=MAX_QTY, reference_price=MAX_PRICE,
                     band_bps=10000, max_order_qty=MAX_QTY)
    assert ins.band == (MAX_PRICE, 2 * MAX_PRICE)
    assert Instrument("Y", band_bps=0).band == (5000, 5000)


def test_engine_exposes_the_instruments_with_their_bands(engine):
    assert [ins.symbol for ins in engine.instruments] == ["SCEA2026", "CQEA2026", "CCER2025"]
    assert [ins.band for ins in engine.instruments] == [SC_BAND, CQ_BAND, CER_BAND]
    assert [ins.kind for ins in engine.instruments] == [
        InstrumentKind.ALLOWANCE, InstrumentKind.ALLOWANCE, InstrumentKind.CER]
    assert [ins.region for ins in engine.instruments] == [Region.SC, Region.CQ, Region.SC]
    assert [ins.status for ins in engine.instruments] == [InstrumentStatus.TRADING] * 3


def test_engine_with_a_zero_band_accepts_only_the_previous_close(impl):
    engine = impl([Instrument("FLAT", reference_price=5000, band_bps=0)])
    assert reasons(engine.submit("FLAT", 1, Side.BUY, 1, 4999)) == [Reject.PRICE_OUTSIDE_BAND]
    assert reasons(engine.submit("FLAT", 1, Side.BUY, 1, 5001)) == [Reject.PRICE_OUTSIDE_BAND]
    assert kinds(engine.submit("FLAT", 1, Side.BUY, 1, 5000)) == [EventKind.ACCEPTED, EventKind.DEPTH]


def test_engine_with_a_full_band_accepts_one_tick_but_not_zero(impl):
    engine = impl([Instrument("WIDE", reference_price=5000, band_bps=10000, tick=5)])
    assert reasons(engine.submit("WIDE", 1, Side.SELL, 1, 0)) == [Reject.BAD_PRICE]
    assert reasons(engine.submit("WIDE", 1, Side.SELL, 1, 3)) == [Reject.OFF_TICK_PRICE]
    assert reasons(engine.submit("WIDE", 1, Side.SELL, 1, 10005)) == [Reject.PRICE_OUTSIDE_BAND]
    assert kinds(engine.submit("WIDE", 1, Side.SELL, 1, 5)) == [EventKind.ACCEPTED, EventKind.DEPTH]
    assert kinds(engine.submit("WIDE", 1, Side.SELL, 1, 10000)) == [EventKind.ACCEPTED, EventKind.DEPTH]


def test_engine_rejects_duplicate_symbols(impl):
    with pytest.raises(ValueError):
        impl([Instrument("A"), Instrument("B"), Instrument("A")])


@pytest.mark.parametrize("max_accounts", [0, -1, 2**31])
def test_engine_rejects_max_accounts_out_of_range(impl, max_accounts):
    with pytest.raises(ValueError):
        impl([Instrument("A")], max_accounts=max_accounts)


@pytest.mark.parametrize("default_stp", [StpMode.ACCOUNT_DEFAULT, 5])
def test_engine_default_stp_must_be_a_concrete_mode(impl, default_stp):
    with pytest.raises(ValueError):
        impl([Instrument("A")], default_stp=default_stp)


def test_engine_accepts_the_largest_account_range(impl):
    engine = impl([Instrument("A")], max_accounts=2**31 - 1)
    assert kinds(engine.submit("A", 2**31 - 2, Side.BUY, 1, 5000)) == [EventKind.ACCEPTED,
                                                                       EventKind.DEPTH]
