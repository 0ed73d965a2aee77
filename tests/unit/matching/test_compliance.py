"""The compliance deadline (SURRENDER): allowances meet their own instrument's obligation,
CERs an allowance's up to its cer_cap_bps of the obligation; surrendered units are retired
(never tradable or surrenderable again); what is left of an obligation is the shortfall;
units are conserved throughout. Hand cases over both engines."""
import pytest

from helpers import CER, SC, as_dicts, assert_rejected, event, funded_engine, open_account, state, units
from matching import CommandType, EventKind, InstrumentParameter, Reject, Side, commands
from matching._state import pack_state, unpack_state

SC_I, CQ_I, CER_I = 0, 1, 2
FIRM = 1


@pytest.fixture
def firm(make_engine):
    """Account 1: obliged to surrender 10,000 t of SCEA; 2,000 t of it held non-tradable,
    7,000 t tradable, and 1,200 t of CERs. The CER cap is the default 5%: 500 t."""
    engine = funded_engine(make_engine)
    open_account(engine, FIRM, 1_000_000, {SC: 7_000, CER: 1_200}, non_tradable={SC: 2_000})
    engine.process(commands.set_obligation(FIRM, SC_I, 10_000))
    return engine


def surrender(engine, qty, instrument=SC_I, obligation=None, account=FIRM):
    return engine.process(commands.surrender(account, instrument, qty, obligation))


def obligation(engine, symbol=SC, account=FIRM):
    return engine.account(account)["holdings"][symbol]["obligation"]


def test_allowances_surrendered_are_retired_non_tradable_ones_first(firm):
    events = surrender(firm, 7_000)
    assert as_dicts(events) == [event(EventKind.SURRENDERED, command=CommandType.SURRENDER, seq=events["seq"][0],
                                      account=FIRM, instrument=SC_I, qty=7_000, value=SC_I, leaves=3_000)]
    assert units(firm, FIRM, SC) == (2_000, 0, 0, 0)          # the 2,000 non-tradable went first
    assert obligation(firm) == 3_000                           # the shortfall so far
    meta = state(firm)[0]
    assert meta["retired"][SC_I] == 7_000 and meta["net_credits"][SC_I] == 2_000
    assert meta["surrendered"] == [[FIRM, SC_I, 7_000, 0]]
    assert firm.surrendered(FIRM) == {SC: (7_000, 0)}
    firm.check_invariants()


@pytest.mark.parametrize("cer_qty, reason", [
    (300, None),                     # below the cap
    (500, None),                     # at the cap: 5% of 10,000
    (501, Reject.CER_CAP),           # above it
])
def test_cers_count_up_to_the_cap_of_the_obligation(firm, cer_qty, reason):
    if reason:
        assert_rejected(firm, commands.surrender(FIRM, CER_I, cer_qty, SC_I), reason)
        return
    events = surrender(firm, cer_qty, CER_I, SC_I)
    assert [(EventKind(int(e["kind"])).name, int(e["instrument"]), int(e["value"]), int(e["leaves"]))
            for e in events] == [("SURRENDERED", CER_I, SC_I, 10_000 - cer_qty)]
    assert units(firm, FIRM, CER) == (1_200 - cer_qty, 0, 0, 0)
    assert firm.surrendered(FIRM) == {SC: (cer_qty, cer_qty)}
    firm.check_invariants()


def test_the_cap_counts_what_was_surrendered_before_and_holds_as_the_obligation_shrinks(firm):
    surrender(firm, 300, CER_I, SC_I)
    surrender(firm, 5_000)                                     # allowances: the obligation, 10,000, stays the base
    surrender(firm, 200, CER_I, SC_I)                          # 500 CERs in all: at the cap
    assert_rejected(firm, commands.surrender(FIRM, CER_I, 1, SC_I), Reject.CER_CAP)
    assert firm.surrendered(FIRM) == {SC: (5_500, 500)} and obligation(firm) == 4_500


def test_a_higher_cap_lets_more_cers_count(firm):
    events = firm.process(commands.set_instrument_parameter(SC_I, InstrumentParameter.CER_CAP_BPS, 1_000))
    assert EventKind.REJECTED not in events["kind"] and firm.instruments[SC_I].cer_cap_bps == 1_000
    surrender(firm, 1_000, CER_I, SC_I)
    assert obligation(firm) == 9_000
    assert_rejected(firm, commands.set_instrument_parameter(SC_I, InstrumentParameter.CER_CAP_BPS, 10_001),
                    Reject.BAD_PARAMETER)


def test_retired_units_can_be_neither_sold_nor_surrendered_again(firm):
    surrender(firm, 9_000)                                     # everything it held
    assert units(firm, FIRM, SC) == (0, 0, 0, 0)
    sell = firm.submit(SC, FIRM, Side.SELL, 1, 5000)
    assert [int(e["reason"]) for e in sell if e["kind"] == EventKind.REJECTED] == [Reject.INSUFFICIENT_HOLDINGS]
    assert_rejected(firm, commands.surrender(FIRM, SC_I, 1), Reject.INSUFFICIENT_HOLDINGS)
    assert obligation(firm) == 1_000                           # the shortfall stays on record
    firm.check_invariants()


def test_units_held_by_open_sells_are_not_surrendered(firm):
    firm.submit(SC, FIRM, Side.SELL, 6_000, 5200)             # freezes 6,000 of the 7,000 available
    assert_rejected(firm, commands.surrender(FIRM, SC_I, 3_001), Reject.INSUFFICIENT_HOLDINGS)
    surrender(firm, 3_000)
    assert units(firm, FIRM, SC) == (0, 6_000, 0, 0)
    firm.check_invariants()


def test_a_retention_floor_stays_as_the_operator_set_it(firm):
    firm.process(commands.set_retention_floor(FIRM, SC_I, 8_000))
    surrender(firm, 5_000)                                     # 4,000 held now, under the floor
    assert firm.account(FIRM)["holdings"][SC]["floor"] == 8_000
    sell = firm.submit(SC, FIRM, Side.SELL, 1, 5000)
    assert [int(e["reason"]) for e in sell if e["kind"] == EventKind.REJECTED] == [Reject.RETENTION_FLOOR]


@pytest.mark.parametrize("args, reason", [
    ((FIRM, SC_I, 10_001, SC_I), Reject.EXCEEDS_REMAINING),   # more than the obligation
    ((FIRM, SC_I, 100, CQ_I), Reject.BAD_PARAMETER),          # an allowance meets its own obligation only
    ((FIRM, CER_I, 100, CER_I), Reject.BAD_PARAMETER),        # an obligation is in an allowance
    ((FIRM, SC_I, 0, SC_I), Reject.BAD_AMOUNT),
    ((FIRM, SC_I, -5, SC_I), Reject.BAD_AMOUNT),
    ((FIRM, SC_I, 100, 9), Reject.UNKNOWN_INSTRUMENT),
    ((FIRM, 9, 100, SC_I), Reject.UNKNOWN_INSTRUMENT),
    ((77, SC_I, 100, SC_I), Reject.UNKNOWN_ACCOUNT),
    ((FIRM, CQ_I, 100, CQ_I), Reject.EXCEEDS_REMAINING),      # no obligation in CQEA
])
def test_a_bad_surrender_is_refused_and_changes_nothing(firm, args, reason):
    assert_rejected(firm, commands.surrender(*args), reason)


def test_surrenders_survive_a_snapshot_and_old_snapshots_restore_without_any(firm, impl):
    surrender(firm, 4_000)
    surrender(firm, 250, CER_I, SC_I)
    restored = impl.restore(firm.snapshot())
    assert restored.state_digest() == firm.state_digest()
    assert restored.surrendered(FIRM) == {SC: (4_250, 250)}
    # the cap still counts the CERs surrendered before the snapshot
    assert_rejected(restored, commands.surrender(FIRM, CER_I, 251, SC_I), Reject.CER_CAP)
    meta, sections = unpack_state(firm.snapshot())
    for key in ("retired", "surrendered"):
        del meta[key]                                          # as written before the compliance cycle
    meta["net_credits"][SC_I] += 4_000                        # (then units left only by a debit)
    meta["net_credits"][CER_I] += 250
    sections["holdings"]["available"][(sections["holdings"]["account"] == FIRM)
                                      & (sections["holdings"]["instrument"] == SC_I)] += 4_000
    sections["holdings"]["available"][(sections["holdings"]["account"] == FIRM)
                                      & (sections["holdings"]["instrument"] == CER_I)] += 250
    old = impl.restore(pack_state(meta, sections))
    assert old.surrendered(FIRM) == {} and state(old)[0]["retired"] == [0, 0, 0]


def test_each_account_is_judged_on_its_own_obligation(firm):
    open_account(firm, 2, 0, {SC: 500, CER: 500})
    firm.process(commands.set_obligation(2, SC_I, 1_000))
    surrender(firm, 50, CER_I, SC_I, account=2)               # 5% of 1,000
    assert_rejected(firm, commands.surrender(2, CER_I, 1, SC_I), Reject.CER_CAP)
    surrender(firm, 500, CER_I, SC_I)                          # account 1's cap is its own: 5% of 10,000
    assert firm.surrendered(2) == {SC: (50, 50)} and firm.surrendered(FIRM) == {SC: (500, 500)}
    firm.check_invariants()


def circulation(engine, trading_date):
    """Each instrument's units in circulation, and the trading date, as END_OF_DAY reports them."""
    events = engine.process(commands.end_of_day(trading_date=trading_date))
    stats = events[events["kind"] == EventKind.DAILY_STATS]
    assert set(stats["count"].tolist()) == {trading_date}
    return dict(zip(stats["instrument"].tolist(), stats["leaves"].tolist()))


def test_the_close_counts_units_in_circulation_less_those_retired_plus_those_a_primary_auction_created(firm):
    assert circulation(firm, 20261228) == {SC_I: 9_000, CQ_I: 0, CER_I: 1_200}
    surrender(firm, 7_000)
    surrender(firm, 500, CER_I, SC_I)
    open_account(firm, 900, 0, {})                               # the issuer: creates what it sells
    open_account(firm, 2, 10**9, {})
    opened = firm.process(commands.auction_open(SC_I, 900, Side.SELL, 1_000, 4_000, 100,
                                                flags=commands.FLAG_PRIMARY))
    firm.process(commands.auction_bid(int(opened["order_id"][0]), 2, 1_000, 4_000))
    firm.process(commands.auction_close(SC_I))
    assert units(firm, 2, SC)[2] == 1_000                       # bought today: locked until the close
    assert circulation(firm, 20261229) == {SC_I: 2_000 + 1_000, CQ_I: 0, CER_I: 700}
    assert state(firm)[0]["net_credits"] == [3_000, 0, 700]
