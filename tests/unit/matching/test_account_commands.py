"""Operator commands on accounts: create, cash in and out, units in and out, position bounds,
sanctions' status values and the end-of-day T+1 release, each with its exact events."""
import pytest

from helpers import (
    CER, CQ, MAX_ACCOUNTS, SC, as_dicts, cash, event, kinds, open_account, reasons, state, units,
)
from matching import (
    AccountStatus, CommandType, EventKind, Region, Reject, Sector, Side, commands,
)
from matching.money import MAX_CASH, MAX_HOLDING

BUY, SELL = Side.BUY, Side.SELL
ACCOUNT_UPDATED, BALANCE, REJECTED = EventKind.ACCOUNT_UPDATED, EventKind.BALANCE, EventKind.REJECTED
SC_I, CQ_I, CER_I = 0, 1, 2             # instrument indices in helpers.market()
EMPTY = dict(available=0, frozen=0, locked=0, non_tradable=0, floor=0, limit=0, buying=0, obligation=0)


@pytest.fixture
def risk_engine(make_engine):
    return make_engine(risk=True)


def refused(engine, cmd, reason):
    before = state(engine)[1]
    events = engine.process(cmd)
    assert kinds(events) == [REJECTED]
    assert reasons(events) == [reason]
    assert state(engine)[1] == before
    return events


# ----------------------------------------------------------------------------- create
def test_create_account_announces_it_active_and_empty(risk_engine):
    assert risk_engine.account(7) is None
    events = risk_engine.process(commands.create_account(7, 70, Region.CQ, Sector.STEEL, ts=5, seq=9))
    assert as_dicts(events) == [event(ACCOUNT_UPDATED, command=CommandType.CREATE_ACCOUNT, seq=1,
                                      cmd_seq=9, ts=5, account=7, value=AccountStatus.ACTIVE)]
    assert risk_engine.account(7) == {
        "cash_available": 0, "cash_frozen": 0, "account": 7, "member": 70, "region": Region.CQ,
        "sector": Sector.STEEL, "status": AccountStatus.ACTIVE, "fines_owed": 0,
        "holdings": {SC: EMPTY, CQ: EMPTY, CER: EMPTY},
    }
    assert risk_engine.account(8) is None


def test_the_first_and_last_account_ids_can_be_created(risk_engine):
    for account in (0, MAX_ACCOUNTS - 1):
        events = risk_engine.process(commands.create_account(account, 1, Region.SC, Sector.POWER))
        assert kinds(events) == [ACCOUNT_UPDATED]
        assert risk_engine.account(account)["account"] == account


def test_creating_an_existing_account_is_rejected_and_keeps_the_first(risk_engine):
    risk_engine.process(commands.create_account(7, 70, Region.CQ, Sector.STEEL))
    events = refused(
        risk_engine, commands.create_account(7, 71, Region.SC, Sector.POWER, ts=3, seq=4),
        Reject.ACCOUNT_EXISTS)
    assert as_dicts(events) == [event(REJECTED, command=CommandType.CREATE_ACCOUNT, seq=2, cmd_seq=4,
                                      ts=3, account=7, reason=Reject.ACCOUNT_EXISTS)]
    view = risk_engine.account(7)
    assert (view["member"], view["region"], view["sector"]) == (70, Region.CQ, Sector.STEEL)


@pytest.mark.parametrize("account, region, sector, reason", [
    (-1, Region.SC, Sector.POWER, Reject.UNKNOWN_ACCOUNT),
    (MAX_ACCOUNTS, Region.SC, Sector.POWER, Reject.UNKNOWN_ACCOUNT),
    (MAX_ACCOUNTS, 0, 0, Reject.UNKNOWN_ACCOUNT),           # the id is checked first
    (7, 0, Sector.POWER, Reject.BAD_REGION),
    (7, 3, Sector.POWER, Reject.BAD_REGION),                 # only SC = 1 and CQ = 2 exist
    (7, 0, 0, Reject.BAD_REGION),                            # region before sector
    (7, Region.SC, 0, Reject.BAD_SECTOR),
    (7, Region.CQ, 11, Reject.BAD_SECTOR),                   # sectors run 1..10
])
def test_create_account_validates_id_region_and_sector(risk_engine, account, region, sector, reason):
    events = refused(
        risk_engine, commands.create_account(account, 1, region, sector), reason)
    assert as_dicts(events) == [event(REJECTED, command=CommandType.CREATE_ACCOUNT, seq=1,
                                      account=account, reason=reason)]
    assert risk_engine.account(account) is None


def test_an_existing_account_is_reported_before_a_bad_region(risk_engine):
    risk_engine.process(commands.create_account(7, 70, Region.SC, Sector.POWER))
    refused(risk_engine, commands.create_account(7, 70, 0, 0), Reject.ACCOUNT_EXISTS)


# ----------------------------------------------------------------------------- cash
def test_deposit_adds_cash_with_a_positive_balance_event(risk_engine):
    open_account(risk_engine, 7)                                            # event 1
    events = risk_engine.process(commands.deposit(7, 1_000_000, ts=4, seq=2))
    assert as_dicts(events) == [event(BALANCE, command=CommandType.DEPOSIT, seq=2, cmd_seq=2, ts=4,
                                      account=7, instrument=-1, value=1_000_000)]
    risk_engine.process(commands.deposit(7, 234))
    assert cash(risk_engine, 7) == (1_000_234, 0)                          # 1,000,000 + 234
    assert risk_engine.net_deposits == 1_000_234


def test_withdraw_takes_cash_with_a_negative_balance_event(risk_engine):
    open_account(risk_engine, 7, cash=1_000_000)                            # events 1, 2
    events = risk_engine.process(commands.withdraw(7, 300_001, ts=6, seq=3))
    assert as_dicts(events) == [event(BALANCE, command=CommandType.WITHDRAW, seq=3, cmd_seq=3, ts=6,
                                      account=7, instrument=-1, value=-300_001)]
    assert cash(risk_engine, 7) == (699_999, 0)                            # 1,000,000 - 300,001
    assert risk_engine.net_deposits == 699_999
    risk_engine.process(commands.withdraw(7, 699_999))                     # all of it
    assert cash(risk_engine, 7) == (0, 0)
    assert risk_engine.net_deposits == 0


@pytest.mark.parametrize("amount", [0, -1, -1_000_000])
@pytest.mark.parametrize("build", [commands.deposit, commands.withdraw], ids=["deposit", "withdraw"])
def test_cash_amounts_must_be_positive(risk_engine, build, amount):
    open_account(risk_engine, 7, cash=1_000_000)
    events = refused(risk_engine, build(7, amount), Reject.BAD_AMOUNT)
    assert as_dicts(events) == [event(REJECTED, command=int(build(7, 1)["type"][0]), seq=3, account=7,
                                      value=amount, reason=Reject.BAD_AMOUNT)]
    assert cash(risk_engine, 7) == (1_000_000, 0)


def test_deposit_may_not_take_an_account_over_max_cash(risk_engine):
    open_account(risk_engine, 7)
    refused(risk_engine, commands.deposit(7, MAX_CASH + 1), Reject.BAD_AMOUNT)
    risk_engine.process(commands.deposit(7, MAX_CASH - 100))
    refused(risk_engine, commands.deposit(7, 101), Reject.BAD_AMOUNT)
    assert kinds(risk_engine.process(commands.deposit(7, 100))) == [BALANCE]
    assert cash(risk_engine, 7) == (MAX_CASH, 0)


def test_frozen_cash_counts_towards_max_cash(risk_engine):
    open_account(risk_engine, 7, cash=MAX_CASH - 1)
    risk_engine.submit(SC, 7, BUY, 10, 5000)                  # no fees: freezes 10 x 5000 = 50,000
    assert cash(risk_engine, 7) == (MAX_CASH - 1 - 50_000, 50_000)
    refused(risk_engine, commands.deposit(7, 2), Reject.BAD_AMOUNT)
    assert kinds(risk_engine.process(commands.deposit(7, 1))) == [BALANCE]


def test_withdraw_over_max_cash_is_a_bad_amount_not_a_lack_of_cash(risk_engine):
    open_account(risk_engine, 7, cash=5)
    refused(risk_engine, commands.withdraw(7, MAX_CASH + 1), Reject.BAD_AMOUNT)
    refused(risk_engine, commands.withdraw(7, MAX_CASH), Reject.INSUFFICIENT_CASH)


def test_withdraw_more_than_available_is_rejected(risk_engine):
    open_account(risk_engine, 7, cash=1_000)
    events = refused(risk_engine, commands.withdraw(7, 1_001, seq=5),
                                           Reject.INSUFFICIENT_CASH)
    assert as_dicts(events) == [event(REJECTED, command=CommandType.WITHDRAW, seq=3, cmd_seq=5,
                                      account=7, value=1_001, reason=Reject.INSUFFICIENT_CASH)]
    assert cash(risk_engine, 7) == (1_000, 0)
    assert risk_engine.net_deposits == 1_000


def test_frozen_cash_cannot_be_withdrawn(risk_engine):
    open_account(risk_engine, 7, cash=100_000)
    risk_engine.submit(SC, 7, BUY, 10, 5000)                    # freezes 50,000; 50,000 left free
    refused(risk_engine, commands.withdraw(7, 50_001), Reject.INSUFFICIENT_CASH)
    risk_engine.process(commands.withdraw(7, 50_000))
    assert cash(risk_engine, 7) == (0, 50_000)
    assert risk_engine.net_deposits == 50_000                   # 100,000 - 50,000


@pytest.mark.parametrize("build", [
    lambda: commands.deposit(7, 100), lambda: commands.withdraw(7, 100),
    lambda: commands.credit_holdings(7, SC_I, 10), lambda: commands.debit_holdings(7, SC_I, 10),
    lambda: commands.set_retention_floor(7, SC_I, 10), lambda: commands.set_position_limit(7, SC_I, 10),
    lambda: commands.set_account_status(7, AccountStatus.SUSPENDED),
    lambda: commands.credit_holdings(7, 9, 10),                # the account is checked first
], ids=["deposit", "withdraw", "credit", "debit", "floor", "limit", "status", "credit-bad-instrument"])
def test_commands_on_an_uncreated_account_are_rejected(risk_engine, build):
    cmd = build()
    events = refused(risk_engine, cmd, Reject.UNKNOWN_ACCOUNT)
    assert as_dicts(events) == [event(REJECTED, command=int(cmd["type"][0]), seq=1, account=7,
                                      instrument=int(cmd["instrument"][0]), qty=int(cmd["qty"][0]),
                                      value=int(cmd["value"][0]), reason=Reject.UNKNOWN_ACCOUNT)]
    assert risk_engine.account(7) is None
    assert risk_engine.net_deposits == 0


# ----------------------------------------------------------------------------- units
def test_credit_adds_tradable_units_with_a_positive_balance_event(risk_engine):
    open_account(risk_engine, 7)
    events = risk_engine.process(commands.credit_holdings(7, CQ_I, 500, ts=2, seq=8))
    assert as_dicts(events) == [event(BALANCE, command=CommandType.CREDIT_HOLDINGS, seq=2, cmd_seq=8,
                                      ts=2, account=7, instrument=CQ_I, qty=500)]
    assert units(risk_engine, 7, CQ) == (500, 0, 0, 0)
    assert units(risk_engine, 7, SC) == units(risk_engine, 7, CER) == (0, 0, 0, 0)


def test_credit_with_the_non_tradable_flag_adds_non_tradable_units(risk_engine):
    open_account(risk_engine, 7, units={SC: 40})
    events = risk_engine.process(commands.credit_holdings(7, SC_I, 25, non_tradable=True))
    assert as_dicts(events) == [event(BALANCE, command=CommandType.CREDIT_HOLDINGS, seq=3, account=7,
                                      instrument=SC_I, qty=25)]
    assert units(risk_engine, 7, SC) == (40, 0, 0, 25)


def test_credit_must_be_positive_and_keep_the_holding_within_max_holding(risk_engine):
    open_account(risk_engine, 7)
    for qty in (0, -5, MAX_HOLDING + 1):
        events = refused(risk_engine, commands.credit_holdings(7, SC_I, qty),
                                               Reject.BAD_AMOUNT)
        assert as_dicts(events)[0]["qty"] == qty
    risk_engine.process(commands.credit_holdings(7, SC_I, MAX_HOLDING - 5))
    # non-tradable units count towards the holding: 5 more fit, the sixth does not
    refused(risk_engine, commands.credit_holdings(7, SC_I, 6, non_tradable=True),
                                  Reject.BAD_AMOUNT)
    risk_engine.process(commands.credit_holdings(7, SC_I, 5, non_tradable=True))
    refused(risk_engine, commands.credit_holdings(7, SC_I, 1), Reject.BAD_AMOUNT)
    assert units(risk_engine, 7, SC) == (MAX_HOLDING - 5, 0, 0, 5)
    assert kinds(risk_engine.process(commands.credit_holdings(7, CER_I, 1))) == [BALANCE]


def test_debit_takes_units_with_a_negative_balance_event(risk_engine):
    open_account(risk_engine, 7, units={SC: 100}, non_tradable={SC: 30})    # events 1-3
    events = risk_engine.process(commands.debit_holdings(7, SC_I, 60, seq=1))
    assert as_dicts(events) == [event(BALANCE, command=CommandType.DEBIT_HOLDINGS, seq=4, cmd_seq=1,
                                      account=7, instrument=SC_I, qty=-60)]
    assert units(risk_engine, 7, SC) == (40, 0, 0, 30)                     # 100 - 60
    events = risk_engine.process(commands.debit_holdings(7, SC_I, 30, non_tradable=True))
    assert as_dicts(events) == [event(BALANCE, command=CommandType.DEBIT_HOLDINGS, seq=5, account=7,
                                      instrument=SC_I, qty=-30)]
    assert units(risk_engine, 7, SC) == (40, 0, 0, 0)


def test_debit_must_be_positive(risk_engine):
    open_account(risk_engine, 7, units={SC: 100})
    for qty in (0, -1, MAX_HOLDING + 1):
        refused(risk_engine, commands.debit_holdings(7, SC_I, qty), Reject.BAD_AMOUNT)


def test_debit_takes_only_from_the_kind_of_units_named(risk_engine):
    open_account(risk_engine, 7, units={SC: 10}, non_tradable={SC: 50})
    events = refused(risk_engine, commands.debit_holdings(7, SC_I, 11),
                                           Reject.INSUFFICIENT_HOLDINGS)
    assert as_dicts(events) == [event(REJECTED, command=CommandType.DEBIT_HOLDINGS, seq=4, account=7,
                                      instrument=SC_I, qty=11, reason=Reject.INSUFFICIENT_HOLDINGS)]
    refused(risk_engine, commands.debit_holdings(7, SC_I, 51, non_tradable=True),
                                  Reject.INSUFFICIENT_HOLDINGS)
    assert units(risk_engine, 7, SC) == (10, 0, 0, 50)


def test_frozen_and_locked_units_cannot_be_debited(risk_engine):
    open_account(risk_engine, 1, units={SC: 30})
    open_account(risk_engine, 2, cash=100_000)
    risk_engine.submit(SC, 1, SELL, 20, 5000)                   # account 1: 10 available, 20 frozen
    risk_engine.submit(SC, 2, BUY, 5, 5000)                     # account 2: 5 locked; 1: 15 frozen
    assert units(risk_engine, 1, SC) == (10, 15, 0, 0)
    assert units(risk_engine, 2, SC) == (0, 0, 5, 0)
    refused(risk_engine, commands.debit_holdings(1, SC_I, 11), Reject.INSUFFICIENT_HOLDINGS)
    refused(risk_engine, commands.debit_holdings(2, SC_I, 1), Reject.INSUFFICIENT_HOLDINGS)
    assert kinds(risk_engine.process(commands.debit_holdings(1, SC_I, 10))) == [BALANCE]
    assert units(risk_engine, 1, SC) == (0, 15, 0, 0)


@pytest.mark.parametrize("build", [commands.credit_holdings, commands.debit_holdings,
                                   commands.set_retention_floor, commands.set_position_limit],
                         ids=["credit", "debit", "floor", "limit"])
@pytest.mark.parametrize("instrument", [3, -1, 1000])
def test_unit_commands_need_a_known_instrument(risk_engine, build, instrument):
    open_account(risk_engine, 7, units={SC: 10})                         # events 1, 2
    events = refused(risk_engine, build(7, instrument, 5), Reject.UNKNOWN_INSTRUMENT)
    assert as_dicts(events) == [event(REJECTED, command=int(build(7, 0, 5)["type"][0]), seq=3, account=7,
                                      instrument=instrument, qty=5, reason=Reject.UNKNOWN_INSTRUMENT)]


# ----------------------------------------------------------------------------- bounds
@pytest.mark.parametrize("build, field", [(commands.set_retention_floor, "floor"),
                                          (commands.set_position_limit, "limit")],
                         ids=["floor", "limit"])
def test_position_bounds_are_set_per_instrument(risk_engine, build, field):
    open_account(risk_engine, 7)
    events = risk_engine.process(build(7, CER_I, 250, ts=3, seq=6))
    assert as_dicts(events) == [event(ACCOUNT_UPDATED, command=int(build(7, 0, 0)["type"][0]), seq=2,
                                      cmd_seq=6, ts=3, account=7, instrument=CER_I, qty=250)]
    holdings = risk_engine.account(7)["holdings"]
    assert holdings[CER] == dict(EMPTY, **{field: 250})
    assert holdings[SC] == holdings[CQ] == EMPTY
    risk_engine.process(build(7, CER_I, MAX_HOLDING))
    assert risk_engine.account(7)["holdings"][CER][field] == MAX_HOLDING
    risk_engine.process(build(7, CER_I, 0))                      # zero clears the bound
    assert risk_engine.account(7)["holdings"][CER] == EMPTY


@pytest.mark.parametrize("qty", [-1, MAX_HOLDING + 1])
@pytest.mark.parametrize("build", [commands.set_retention_floor, commands.set_position_limit],
                         ids=["floor", "limit"])
def test_position_bounds_must_be_between_zero_and_max_holding(risk_engine, build, qty):
    open_account(risk_engine, 7)
    risk_engine.process(build(7, SC_I, 40))
    refused(risk_engine, build(7, SC_I, qty), Reject.BAD_AMOUNT)


# ----------------------------------------------------------------------------- status
@pytest.mark.parametrize("status", [AccountStatus.SELL_ONLY, AccountStatus.SUSPENDED,
                                    AccountStatus.ACTIVE])
def test_set_account_status_announces_the_new_status(risk_engine, status):
    open_account(risk_engine, 7)
    events = risk_engine.process(commands.set_account_status(7, status, ts=8, seq=3))
    assert as_dicts(events) == [event(ACCOUNT_UPDATED, command=CommandType.SET_ACCOUNT_STATUS, seq=2,
                                      cmd_seq=3, ts=8, account=7, value=status)]
    assert risk_engine.account(7)["status"] == status


@pytest.mark.parametrize("status", [0, 4, 255])
def test_set_account_status_rejects_an_unknown_status(risk_engine, status):
    open_account(risk_engine, 7)
    events = refused(risk_engine, commands.set_account_status(7, status),
                                           Reject.BAD_STATUS)
    assert as_dicts(events) == [event(REJECTED, command=CommandType.SET_ACCOUNT_STATUS, seq=2,
                                      account=7, reason=Reject.BAD_STATUS)]
    assert risk_engine.account(7)["status"] == AccountStatus.ACTIVE


# ----------------------------------------------------------------------------- T+1 release
@pytest.fixture
def bought_today(risk_engine):
    """Units bought today (no fees): account 1 holds 30 SC locked, account 3 holds 10 SC and
    5 CER locked; account 2 sold them. 22 events so far."""
    open_account(risk_engine, 1, cash=1_000_000)                           # events 1-2
    open_account(risk_engine, 2, units={SC: 100, CER: 50})                 # 3-5
    open_account(risk_engine, 3, cash=1_000_000)                           # 6-7
    risk_engine.submit(SC, 2, SELL, 30, 5000)                              # 8-9   accepted, depth
    risk_engine.submit(SC, 1, BUY, 30, 5000)                               # 10-12 + trade
    risk_engine.submit(CER, 2, SELL, 5, 6000)                              # 13-14
    risk_engine.submit(CER, 3, BUY, 5, 6000)                               # 15-17
    risk_engine.submit(SC, 2, SELL, 10, 5000)                              # 18-19
    risk_engine.submit(SC, 3, BUY, 10, 5000)                               # 20-22
    assert units(risk_engine, 1, SC) == (0, 0, 30, 0)
    assert units(risk_engine, 3, SC) == (0, 0, 10, 0)
    assert units(risk_engine, 3, CER) == (0, 0, 5, 0)
    assert units(risk_engine, 2, SC) == (60, 0, 0, 0)                      # 100 - 30 - 10
    return risk_engine


def test_release_t1_of_one_instrument_frees_only_its_units(bought_today):
    events = bought_today.process(commands.release_t1(SC_I, ts=50, seq=7))
    common = dict(command=CommandType.RELEASE_T1, cmd_seq=7, ts=50, instrument=SC_I)
    assert as_dicts(events) == [
        event(BALANCE, seq=23, **common, account=1, qty=30),
        event(BALANCE, seq=24, **common, account=3, qty=10),
    ]
    assert units(bought_today, 1, SC) == (30, 0, 0, 0)
    assert units(bought_today, 3, SC) == (10, 0, 0, 0)
    assert units(bought_today, 3, CER) == (0, 0, 5, 0)


def test_release_t1_of_all_instruments_goes_account_by_account(bought_today):
    events = bought_today.process(commands.release_t1(ts=50))
    common = dict(command=CommandType.RELEASE_T1, ts=50)
    assert as_dicts(events) == [
        event(BALANCE, seq=23, **common, account=1, instrument=SC_I, qty=30),
        event(BALANCE, seq=24, **common, account=3, instrument=SC_I, qty=10),
        event(BALANCE, seq=25, **common, account=3, instrument=CER_I, qty=5),
    ]
    assert units(bought_today, 3, CER) == (5, 0, 0, 0)
    assert bought_today.process(commands.release_t1()).size == 0       # nothing left to release


def test_release_t1_with_nothing_locked_emits_nothing(risk_engine):
    open_account(risk_engine, 7, units={SC: 10})
    assert risk_engine.process(commands.release_t1(SC_I)).size == 0
    assert risk_engine.process(commands.release_t1()).size == 0
    assert units(risk_engine, 7, SC) == (10, 0, 0, 0)


@pytest.mark.parametrize("instrument", [3, -2, 1000])
def test_release_t1_of_an_unknown_instrument_is_rejected(bought_today, instrument):
    events = refused(bought_today, commands.release_t1(instrument),
                                           Reject.UNKNOWN_INSTRUMENT)
    assert as_dicts(events) == [event(REJECTED, command=CommandType.RELEASE_T1, seq=23,
                                      instrument=instrument, reason=Reject.UNKNOWN_INSTRUMENT)]
    assert units(bought_today, 1, SC) == (0, 0, 30, 0)
