"""ADD_INSTRUMENT: an operator lists a new instrument (a new vintage) on a running market, so
that a market's instruments come from its command journal. The instrument takes the next
index with the default trading parameters, empty books, an empty day and zero holdings in
every account; SET_INSTRUMENT_PARAMETER gives it its own parameters
(``commands.instrument_commands`` builds both). A listed symbol is INSTRUMENT_EXISTS; a
malformed definition, or a full market, is BAD_PARAMETER; either changes nothing."""
import numpy as np
import pytest

from helpers import (
    CER, SC, as_dicts, assert_rejected, cash, event, funded_engine, kinds, ladder, market, only, open_account,
    reasons, rows, state, trades, units,
)
from matching import (
    CommandType, Engine, EventKind, Instrument, InstrumentKind, InstrumentParameter as P, InstrumentStatus,
    ReferenceEngine, Region, Reject, Side, TradeType, commands,
)
from matching.instrument import MAX_INSTRUMENTS

BUY, SELL = Side.BUY, Side.SELL
NEW = "SCEA2027"
NEW_I = 3                                   # the test market has instruments 0, 1, 2


def add(engine, instrument):
    return engine.process(commands.add_instrument(instrument))


def raw_add(symbol: bytes = b"SCEA2027", **fields) -> np.ndarray:
    """An ADD_INSTRUMENT row carrying exactly ``symbol`` (up to 32 bytes, zero-filled) and
    otherwise a valid definition, with ``fields`` overwritten."""
    raw = symbol.ljust(32, b"\0")
    words = {name: int.from_bytes(raw[8 * k:8 * k + 8], "little", signed=True)
             for k, name in enumerate(commands.SYMBOL_FIELDS)}
    defaults = dict(order_type=InstrumentKind.ALLOWANCE, region=Region.SC, min_qty=2027,
                    status=InstrumentStatus.TRADING, flags=7)
    return commands.command(CommandType.ADD_INSTRUMENT, **{**words, **defaults, **fields})


# ----------------------------------------------------------------------- the command row
def test_the_row_packs_the_symbol_little_endian_over_four_int64_fields():
    ins = Instrument("重庆CCER2030-vintage-A", kind=InstrumentKind.CER, region=Region.CQ, year=2030,
                     status=InstrumentStatus.PRE_OPEN, t_plus_one=False, must_take_best=True, listings_expire=False)
    row = commands.add_instrument(ins, ts=9, seq=4)
    assert row.shape == (1,)
    raw = b"".join(int(row[name][0]).to_bytes(8, "little", signed=True)
                   for name in ("order_id", "client_order_id", "price", "qty"))
    assert raw == ins.symbol.encode().ljust(32, b"\0")
    assert (int(row["type"][0]), int(row["order_type"][0]), int(row["region"][0]), int(row["min_qty"][0]),
            int(row["status"][0]), int(row["flags"][0]), int(row["ts"][0]), int(row["seq"][0])) == (
        CommandType.ADD_INSTRUMENT, InstrumentKind.CER, Region.CQ, 2030, InstrumentStatus.PRE_OPEN, 2, 9, 4)
    assert commands.command_symbol(row) == ins.symbol


@pytest.mark.parametrize("flags, t_plus_one, must_take_best, listings_expire", [
    (0, False, False, False), (1, True, False, False), (2, False, True, False), (4, False, False, True),
    (7, True, True, True),
])
def test_flag_bits(flags, t_plus_one, must_take_best, listings_expire):
    ins = Instrument(NEW, t_plus_one=t_plus_one, must_take_best=must_take_best, listings_expire=listings_expire)
    assert int(commands.add_instrument(ins)["flags"][0]) == flags


@pytest.mark.parametrize("symbol", ["", "A" * 33, "重" * 11, "AB\0C"])
def test_a_symbol_that_does_not_fit_32_bytes_of_utf8_is_no_instrument(symbol):
    with pytest.raises(ValueError):
        Instrument(symbol)


def test_instrument_commands_list_it_then_set_every_parameter_with_the_tick_last():
    ins = market()[1]                                      # CQEA2026: tick 10, lot 100
    rows_ = commands.instrument_commands(7, ins)
    assert int(rows_["type"][0]) == CommandType.ADD_INSTRUMENT
    params = rows_[1:]
    assert set(params["type"].tolist()) == {CommandType.SET_INSTRUMENT_PARAMETER}
    assert set(params["instrument"].tolist()) == {7}
    assert [(P(int(r["status"])), int(r["value"])) for r in params] == [
        (P.TICK, 1), (P.REFERENCE_PRICE, 3005), (P.BAND_BPS, 1000), (P.BLOCK_BAND_BPS, 3000), (P.LOT, 100),
        (P.MAX_ORDER_QTY, 50_000), (P.BLOCK_MIN_QTY, 100_000), (P.MIN_CLOSE_VOLUME, 0), (P.DYNAMIC_BAND_BPS, 0),
        (P.SELECT_DEPTH, 0), (P.SELECT_FIFO, 0), (P.CER_CAP_BPS, 500),
        (P.TICK, 10)]
    assert int(commands.instrument_commands(0, market()[0])[1]["status"]) == P.REFERENCE_PRICE   # tick 1: no detour


# ------------------------------------------------------------------------ listing
def test_an_added_instrument_takes_the_next_index_with_the_default_parameters(engine):
    events = add(engine, Instrument(NEW, year=2027))
    assert as_dicts(events) == [event(EventKind.INSTRUMENT_ADDED, command=CommandType.ADD_INSTRUMENT, seq=1,
                                      instrument=NEW_I, value=InstrumentStatus.TRADING)]
    assert len(engine.instruments) == 4
    assert engine.instruments[NEW_I].to_dict() == Instrument(NEW, year=2027).to_dict()
    assert engine.instrument_index(NEW) == NEW_I
    assert ladder(engine, NEW) == [] and engine.listings(NEW) == ([], [])
    assert engine.daily(NEW)["volume"] == {t.name: 0 for t in TradeType}
    assert [i.to_dict() for i in engine.instruments[:3]] == [i.to_dict() for i in market()]


def test_the_definition_round_trips_through_the_engine(engine):
    ins = Instrument("重庆CCER2030-vintage-A", kind=InstrumentKind.CER, region=Region.CQ, year=2030,
                     status=InstrumentStatus.PRE_OPEN, t_plus_one=False, must_take_best=False, listings_expire=True)
    full = Instrument("Z" * 32, year=2100, status=InstrumentStatus.HALTED)
    assert rows(add(engine, ins), "kind", "instrument", "value") == [
        (EventKind.INSTRUMENT_ADDED, NEW_I, InstrumentStatus.PRE_OPEN)]
    assert rows(add(engine, full), "kind", "instrument", "value") == [
        (EventKind.INSTRUMENT_ADDED, NEW_I + 1, InstrumentStatus.HALTED)]
    assert engine.instruments[NEW_I].to_dict() == ins.to_dict()
    assert engine.instruments[NEW_I + 1].to_dict() == full.to_dict()
    assert engine.instrument_index(ins.symbol) == NEW_I and engine.instrument_index(full.symbol) == NEW_I + 1
    meta, _ = state(engine)
    assert meta["instruments"][NEW_I] == ins.to_dict()


def test_book_by_symbol_knows_an_instrument_added_after_it_was_first_asked(engine):
    with pytest.raises(KeyError):
        engine.book(NEW)
    engine.submit(SC, 1, BUY, 10, 5000)                    # the symbol index is in use
    add(engine, Instrument(NEW))
    engine.submit(NEW, 1, SELL, 10, 5100)
    assert ladder(engine, NEW) == [(None, None, 5100, 10)]


def test_the_added_instrument_trades_and_closes_its_day(engine):
    add(engine, Instrument(NEW, year=2027))
    assert reasons(engine.submit(NEW, 1, SELL, 10, 5600)) == [Reject.PRICE_OUTSIDE_BAND]     # band 4500..5500
    sell = engine.submit(NEW, 1, SELL, 30, 5100)
    assert rows(only(sell, EventKind.ACCEPTED), "order_id", "instrument") == [(1, NEW_I)]
    buy = engine.submit(NEW, 2, BUY, 20, 5200)
    assert trades(buy) == [(5100, 20, 2, 1)]
    assert rows(only(buy, EventKind.TRADE), "instrument", "trade_type") == [(NEW_I, TradeType.CONTINUOUS)]
    assert ladder(engine, NEW) == [(None, None, 5100, 10)]
    assert ladder(engine, SC) == []
    assert engine.daily(NEW)["volume"]["CONTINUOUS"] == 20
    eod = engine.process(commands.end_of_day(NEW_I))
    assert rows(only(eod, EventKind.DAILY_STATS), "instrument", "price", "value", "qty") == [(NEW_I, 5100, 5000, 20)]
    assert engine.instruments[NEW_I].reference_price == 5100
    engine.check_invariants()


def test_an_end_of_day_for_all_covers_the_added_instrument(engine):
    add(engine, Instrument(NEW))
    eod = engine.process(commands.end_of_day())
    assert rows(only(eod, EventKind.DAILY_STATS), "instrument") == [(0,), (1,), (2,), (NEW_I,)]


def test_holdings_of_the_added_instrument_are_credited_debited_and_settled(make_engine):
    engine = funded_engine(make_engine, {1: (0, {SC: 100, CER: 7}), 2: (10_000_000, {})})
    add(engine, Instrument(NEW, year=2027))
    for account in (1, 2):                                 # created before the listing: nothing held
        assert units(engine, account, NEW) == (0, 0, 0, 0)
    open_account(engine, 3, units={NEW: 40})               # created after it
    assert kinds(engine.process(commands.credit_holdings(1, NEW_I, 500))) == [EventKind.BALANCE]
    assert kinds(engine.process(commands.debit_holdings(1, NEW_I, 100))) == [EventKind.BALANCE]
    assert units(engine, 1, NEW) == (400, 0, 0, 0)
    assert units(engine, 1, SC) == (100, 0, 0, 0) and units(engine, 1, CER) == (7, 0, 0, 0)
    assert reasons(engine.submit(NEW, 1, SELL, 401, 5000)) == [Reject.INSUFFICIENT_HOLDINGS]
    engine.submit(NEW, 1, SELL, 300, 5000)
    assert units(engine, 1, NEW) == (100, 300, 0, 0)
    buy = engine.submit(NEW, 2, BUY, 200, 5000)
    assert trades(buy) == [(5000, 200, 2, 1)]
    assert units(engine, 1, NEW) == (100, 100, 0, 0)
    assert units(engine, 2, NEW) == (0, 0, 200, 0)         # T+1: locked until the end of day
    assert cash(engine, 2) == (10_000_000 - 1_000_000, 0)
    engine.process(commands.end_of_day(NEW_I))
    assert units(engine, 2, NEW) == (200, 0, 0, 0)
    assert units(engine, 3, NEW) == (40, 0, 0, 0)
    engine.check_invariants()


def test_listing_instruments_keeps_every_account_s_holdings_in_place(make_engine):
    engine = make_engine(risk=True)
    for account in range(40):                              # more accounts than the first holdings block
        open_account(engine, account, 1000 + account, {SC: 1 + account, CER: 100 + account})
        engine.process(commands.set_retention_floor(account, 1, account))
    before = {a: engine.account(a) for a in range(40)}
    for year in (2027, 2028, 2029):
        add(engine, Instrument(f"SCEA{year}", year=year))
    engine.check_invariants()
    for account in range(40):
        view = engine.account(account)
        assert {k: view["holdings"].pop(f"SCEA{k}") for k in (2027, 2028, 2029)} == {
            k: dict.fromkeys(("available", "frozen", "locked", "non_tradable", "floor", "limit", "buying",
                              "obligation"), 0) for k in (2027, 2028, 2029)}
        assert view == before[account]
    open_account(engine, 40, units={"SCEA2029": 5})
    assert units(engine, 40, "SCEA2029") == (5, 0, 0, 0) and units(engine, 39, "SCEA2029") == (0, 0, 0, 0)


def test_resting_orders_of_the_other_instruments_stay(engine):
    engine.submit(SC, 1, SELL, 10, 5100)
    engine.submit(CER, 2, BUY, 5, 6000)
    add(engine, Instrument(NEW))
    assert ladder(engine, SC) == [(None, None, 5100, 10)]
    assert ladder(engine, CER) == [(5, 6000, None, None)]
    assert trades(engine.submit(SC, 3, BUY, 10, 5100)) == [(5100, 10, 3, 1)]


def test_instrument_commands_give_it_its_own_parameters(engine):
    ins = Instrument(NEW, year=2027, reference_price=3005, tick=10, lot=100, band_bps=1000, max_order_qty=500,
                     block_band_bps=2000, block_min_qty=1000, min_close_volume=50)
    events = engine.process(commands.instrument_commands(NEW_I, ins))
    assert set(kinds(events)) == {EventKind.INSTRUMENT_ADDED, EventKind.INSTRUMENT_PARAMETER}
    assert engine.instruments[NEW_I].to_dict() == ins.to_dict()
    assert engine.instruments[NEW_I].band == (2710, 3300)
    assert reasons(engine.submit(NEW, 1, BUY, 150, 3000)) == [Reject.OFF_LOT_QUANTITY]


# ------------------------------------------------------------------------ rejects
@pytest.mark.parametrize("symbol", [SC, CER])
def test_a_listed_symbol_is_refused(engine, symbol):
    assert_rejected(engine, commands.add_instrument(Instrument(symbol)), Reject.INSTRUMENT_EXISTS)


def test_a_symbol_added_before_is_refused(engine):
    add(engine, Instrument(NEW))
    assert_rejected(engine, commands.add_instrument(Instrument(NEW, year=2030)), Reject.INSTRUMENT_EXISTS)
    assert_rejected(engine, raw_add(NEW.encode(), order_type=9), Reject.INSTRUMENT_EXISTS)   # the symbol first


@pytest.mark.parametrize("cmd", [
    raw_add(b""),                                          # empty
    raw_add(b"\0SCEA2027"),                                # the first byte NUL
    raw_add(b"SCEA\0" + b"2027"),                          # bytes after the first NUL
    raw_add(b"SCEA2027".ljust(31, b"\0") + b"X"),          # ... even the last
    raw_add(b"SC\xffEA"),                                  # not UTF-8
    raw_add(b"SC\xe9\x87"),                                # a truncated UTF-8 sequence
    raw_add(b"SC\xed\xa0\x80"),                            # an encoded surrogate
    raw_add(b"SC\xc0\xaf"),                                # an overlong encoding
    raw_add(b"SCEA2050\xe9\x87\x8d" * 3 + b"SCEA\xe9\x87"),  # 32 bytes ending inside a character
    raw_add(order_type=0), raw_add(order_type=3),          # kind
    raw_add(region=0), raw_add(region=3),                  # region
    raw_add(status=0), raw_add(status=max(InstrumentStatus) + 1),  # status
    raw_add(min_qty=1999), raw_add(min_qty=2101), raw_add(min_qty=-2027),    # year
    raw_add(raw_add(b"SC\xffEA")["order_id"][0].tobytes(), order_type=0),   # both: one reason
], ids=lambda c: f"{commands.command_symbol(c)!r}-{int(c['order_type'][0])}-{int(c['region'][0])}-"
                 f"{int(c['status'][0])}-{int(c['min_qty'][0])}-{int(c['order_id'][0])}")
def test_a_malformed_definition_is_refused(engine, cmd):
    assert_rejected(engine, cmd, Reject.BAD_PARAMETER)
    assert len(engine.instruments) == 3


def test_the_valid_extremes_are_accepted(engine):
    for i, (symbol, year) in enumerate([(b"A", 2000), (b"\xe9\x87\x8d" * 10 + b"AB", 2100),
                                        ("\U0001F600".encode(), 2050)]):
        events = engine.process(raw_add(symbol, min_qty=year, flags=255))       # unknown flag bits ignored
        assert kinds(events) == [EventKind.INSTRUMENT_ADDED]
        ins = engine.instruments[NEW_I + i]
        assert (ins.symbol.encode(), ins.year, ins.t_plus_one, ins.must_take_best, ins.listings_expire) == (
            symbol, year, True, True, True)


def test_a_full_market_is_refused(impl, monkeypatch):
    limit = MAX_INSTRUMENTS
    if impl is ReferenceEngine:          # its 32,767 instruments take seconds to build; the rule is the same
        limit = 5
        monkeypatch.setattr("matching.reference.MAX_INSTRUMENTS", limit)
    engine = impl([Instrument(f"I{n}") for n in range(limit - 1)], max_accounts=10)
    assert rows(add(engine, Instrument(NEW)), "kind", "instrument") == [(EventKind.INSTRUMENT_ADDED, limit - 1)]
    assert reasons(add(engine, Instrument("SCEA2028"))) == [Reject.BAD_PARAMETER]
    assert len(engine.instruments) == limit and engine.instrument_index(NEW) == limit - 1
    with pytest.raises(KeyError):
        engine.instrument_index("SCEA2028")
    assert reasons(add(engine, Instrument(NEW))) == [Reject.INSTRUMENT_EXISTS]


def test_a_rejected_add_reports_the_command_fields(engine):
    cmd = raw_add(b"SCEA2026", client_order_id=0)          # SC: listed
    assert rows(engine.process(cmd), "kind", "reason", "order_id", "command") == [
        (EventKind.REJECTED, Reject.INSTRUMENT_EXISTS, int.from_bytes(b"SCEA2026", "little"),
         CommandType.ADD_INSTRUMENT)]


# ----------------------------------------------------------------- snapshots and empty engines
def test_a_snapshot_carries_added_instruments_to_either_engine(impl, make_engine):
    engine = funded_engine(make_engine, {1: (0, {}), 2: (5_000_000, {})})
    add(engine, Instrument(NEW, year=2027, t_plus_one=False))
    engine.process(commands.instrument_parameters(NEW_I, Instrument(NEW, reference_price=4000, tick=5)))
    engine.process(commands.credit_holdings(1, NEW_I, 300))
    engine.submit(NEW, 1, SELL, 100, 4100)
    engine.submit(NEW, 2, BUY, 40, 4100)
    engine.submit(NEW, 2, BUY, 10, 3900)
    blob = engine.snapshot()
    for restore_with in (Engine, ReferenceEngine):
        restored = restore_with.restore(blob)
        assert restored.state_digest() == engine.state_digest()
        assert [i.to_dict() for i in restored.instruments] == [i.to_dict() for i in engine.instruments]
        assert restored.account(1) == engine.account(1) and restored.account(2) == engine.account(2)
        assert ladder(restored, NEW) == ladder(engine, NEW) == [(10, 3900, 4100, 60)]
        assert restored.daily(NEW) == engine.daily(NEW)
        assert trades(restored.submit(NEW, 2, BUY, 60, 4100)) == [(4100, 60, 4, 1)]
        assert units(restored, 2, NEW) == (100, 0, 0, 0)                   # no T+1 on this one
        assert kinds(restored.process(commands.add_instrument(Instrument("SCEA2028")))) == [
            EventKind.INSTRUMENT_ADDED]
        restored.check_invariants()


def test_both_engines_agree_on_a_market_built_from_commands():
    digests = set()
    for impl in (Engine, ReferenceEngine):
        engine = impl([], risk=True)
        rows_ = [commands.instrument_commands(n, ins) for n, ins in enumerate(market())]
        engine.process(np.concatenate(rows_))
        open_account(engine, 1, 1_000_000, {SC: 50})
        engine.submit(SC, 1, SELL, 20, 5010)
        digests.add(engine.state_digest())
    assert len(digests) == 1


def test_an_engine_without_instruments(impl):
    engine = impl([])
    assert engine.instruments == [] and engine.resting_orders == 0
    assert reasons(engine.submit(0, 1, BUY, 10, 5000)) == [Reject.UNKNOWN_INSTRUMENT]
    assert kinds(engine.process(commands.end_of_day())) == []
    with pytest.raises(KeyError):
        engine.book(SC)
    engine.check_invariants()
    assert [i.to_dict() for i in impl.restore(engine.snapshot()).instruments] == []


def test_an_empty_engine_plus_instrument_commands_is_the_configured_market(impl):
    engine = impl([])
    for n, ins in enumerate(market()):
        events = engine.process(commands.instrument_commands(n, ins))
        assert rows(events[:1], "kind", "instrument") == [(EventKind.INSTRUMENT_ADDED, n)]
        assert EventKind.REJECTED not in kinds(events)
    assert [i.to_dict() for i in engine.instruments] == [i.to_dict() for i in impl(market()).instruments]
    assert [i.band for i in engine.instruments] == [i.band for i in market()]
    assert [engine.instrument_index(i.symbol) for i in market()] == [0, 1, 2]
