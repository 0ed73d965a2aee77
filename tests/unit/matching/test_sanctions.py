"""Sanctions: suspending an account cancels all its resting orders, sell-only cancels its
resting buys, each in canonical book order and releasing every hold; new orders are then
refused until the operator restores the account."""
import pytest

from helpers import (
    CER, CQ, SC, as_dicts, cash, event, funded_engine, kinds, ladder, reasons, rows, units,
)
from matching import (
    AccountStatus, CancelReason, CommandType, EventKind, InstrumentStatus, OrderType, Reject, Side,
    TimeInForce, commands,
)

BUY, SELL = Side.BUY, Side.SELL
ACCEPTED, REJECTED, CANCELLED, DEPTH, ACCOUNT_UPDATED = (
    EventKind.ACCEPTED, EventKind.REJECTED, EventKind.CANCELLED, EventKind.DEPTH,
    EventKind.ACCOUNT_UPDATED)
SC_I, CQ_I, CER_I = 0, 1, 2
FEES = (30, 50)
ME, OTHER = 5, 6

# Resting orders, entered in this order at ts = order id; client order id = 100 + order id.
ORDERS = [
    # id  account symbol side qty   price   hold for ME's buys: notional + floor(30 bps)
    (1,  ME,    SC,  BUY,  10,  4990),    # 49,900 + 149 = 50,049
    (2,  OTHER, SC,  BUY,  10,  5000),
    (3,  ME,    SC,  BUY,  5,   5000),    # 25,000 + 75 = 25,075
    (4,  ME,    SC,  SELL, 20,  5100),
    (5,  ME,    SC,  SELL, 7,   5050),
    (6,  OTHER, SC,  SELL, 3,   5050),
    (7,  ME,    CER, SELL, 4,   6500),
    (8,  ME,    CER, BUY,  2,   5500),    # 11,000 + 33 = 11,033
    (9,  ME,    SC,  BUY,  4,   5000),    # 20,000 + 60 = 20,060
    (10, ME,    CQ,  BUY,  100, 2900),    # 290,000 + 870 = 290,870
]
ME_FROZEN = 50_049 + 25_075 + 11_033 + 20_060 + 290_870           # 397,087
SETUP_EVENTS = 4 + 4 + 2 * len(ORDERS)                             # 28: accounts, then orders


@pytest.fixture
def books(make_engine):
    engine = funded_engine(make_engine, fees=FEES)
    for account in (ME, OTHER):
        engine.process(commands.create_account(account, account, 1, 1))
        engine.process(commands.deposit(account, 1_000_000))
        engine.process(commands.credit_holdings(account, SC_I, 100))
        engine.process(commands.credit_holdings(account, CER_I, 50))
    for n, account, symbol, side, qty, price in ORDERS:
        events = engine.submit(symbol, account, side, qty, price, client_order_id=100 + n, ts=n)
        assert rows(events, "kind", "order_id") == [(ACCEPTED, n), (DEPTH, 0)]
    assert cash(engine, ME) == (1_000_000 - ME_FROZEN, ME_FROZEN)
    assert units(engine, ME, SC) == (100 - 27, 27, 0, 0)
    assert units(engine, ME, CER) == (50 - 4, 4, 0, 0)
    return engine


def sanction_cancel(seq, n, common):
    """The CANCELLED event for ME's order ``n`` (see ORDERS)."""
    _, _, symbol, side, qty, price = ORDERS[n - 1]
    return event(CANCELLED, seq=seq, **common, order_id=n, client_order_id=100 + n, account=ME,
                 instrument=[SC, CQ, CER].index(symbol), side=side, order_type=OrderType.LIMIT,
                 tif=TimeInForce.GTC, price=price, qty=qty, leaves=0, reason=CancelReason.SANCTION)


def test_suspending_cancels_every_resting_order_in_canonical_book_order(books):
    events = books.process(commands.set_account_status(ME, AccountStatus.SUSPENDED, ts=50, seq=77))
    common = dict(command=CommandType.SET_ACCOUNT_STATUS, cmd_seq=77, ts=50)
    first = SETUP_EVENTS + 1
    # SC bids 5000 (3, 9 behind OTHER's 2) then 4990 (1); SC asks 5050 (5) then 5100 (4);
    # CQ bid (10); CER bid (8) then ask (7)
    order = [3, 9, 1, 5, 4, 10, 8, 7]
    assert as_dicts(events) == [
        event(ACCOUNT_UPDATED, seq=first, **common, account=ME, value=AccountStatus.SUSPENDED),
        *[sanction_cancel(first + 1 + k, n, common) for k, n in enumerate(order)],
        *[event(DEPTH, seq=first + 9 + k, **common, instrument=ins, side=side, price=price,
                qty=qty, count=count)
          for k, (ins, side, price, qty, count) in enumerate([
              (SC_I, BUY, 5000, 10, 1), (SC_I, BUY, 4990, 0, 0), (SC_I, SELL, 5050, 3, 1),
              (SC_I, SELL, 5100, 0, 0), (CQ_I, BUY, 2900, 0, 0), (CER_I, BUY, 5500, 0, 0),
              (CER_I, SELL, 6500, 0, 0)])],
    ]
    assert ladder(books, SC) == [(10, 5000, 5050, 3)]
    assert ladder(books, CQ) == ladder(books, CER) == []
    assert books.resting_orders == 2
    books.check_invariants()


def test_suspending_releases_every_hold(books):
    books.process(commands.set_account_status(ME, AccountStatus.SUSPENDED))
    assert cash(books, ME) == (1_000_000, 0)
    assert units(books, ME, SC) == (100, 0, 0, 0)
    assert units(books, ME, CER) == (50, 0, 0, 0)
    assert [books.account(ME)["holdings"][s]["buying"] for s in (SC, CQ, CER)] == [0, 0, 0]
    # the other account keeps its orders and holds: 10 x 5000 + 150 and 3 units
    assert cash(books, OTHER) == (1_000_000 - 50_150, 50_150)
    assert units(books, OTHER, SC) == (97, 3, 0, 0)


@pytest.mark.parametrize("symbol, side, qty, price", [
    (SC, BUY, 1, 5000), (SC, SELL, 1, 5000), (CER, SELL, 1, 6000), (CQ, BUY, 100, 2900)])
def test_a_suspended_account_cannot_enter_orders(books, symbol, side, qty, price):
    books.process(commands.set_account_status(ME, AccountStatus.SUSPENDED))
    assert reasons(books.submit(symbol, ME, side, qty, price)) == [Reject.ACCOUNT_SUSPENDED]
    assert cash(books, ME) == (1_000_000, 0)


def test_sell_only_cancels_only_the_resting_buys(books):
    events = books.process(commands.set_account_status(ME, AccountStatus.SELL_ONLY, ts=50, seq=77))
    common = dict(command=CommandType.SET_ACCOUNT_STATUS, cmd_seq=77, ts=50)
    first = SETUP_EVENTS + 1
    order = [3, 9, 1, 10, 8]          # SC bids 5000, 4990; CQ bid; CER bid
    assert as_dicts(events) == [
        event(ACCOUNT_UPDATED, seq=first, **common, account=ME, value=AccountStatus.SELL_ONLY),
        *[sanction_cancel(first + 1 + k, n, common) for k, n in enumerate(order)],
        *[event(DEPTH, seq=first + 6 + k, **common, instrument=ins, side=BUY, price=price,
                qty=qty, count=count)
          for k, (ins, price, qty, count) in enumerate([
              (SC_I, 5000, 10, 1), (SC_I, 4990, 0, 0), (CQ_I, 2900, 0, 0), (CER_I, 5500, 0, 0)])],
    ]
    assert ladder(books, SC) == [(10, 5000, 5050, 10), (None, None, 5100, 20)]
    assert ladder(books, CER) == [(None, None, 6500, 4)]
    assert cash(books, ME) == (1_000_000, 0)
    assert units(books, ME, SC) == (73, 27, 0, 0)            # the sells keep their units
    assert units(books, ME, CER) == (46, 4, 0, 0)
    books.check_invariants()


def test_a_sell_only_account_may_sell_but_not_buy(books):
    books.process(commands.set_account_status(ME, AccountStatus.SELL_ONLY))
    assert reasons(books.submit(SC, ME, BUY, 1, 4600)) == [Reject.ACCOUNT_SELL_ONLY]
    assert kinds(books.submit(SC, ME, SELL, 10, 5200)) == [ACCEPTED, DEPTH]
    assert units(books, ME, SC) == (63, 37, 0, 0)
    events = books.submit(SC, OTHER, BUY, 7, 5050)            # its resting sells still trade
    assert rows(events[events["kind"] == EventKind.TRADE], "qty", "sell_order_id", "sell_account") == [
        (7, 5, ME)]
    assert cash(books, ME) == (1_000_000 + 35_350 - 176, 0)  # 7 x 5050, less floor(176.75)


def test_restoring_active_allows_buying_again(books):
    books.process(commands.set_account_status(ME, AccountStatus.SELL_ONLY))
    events = books.process(commands.set_account_status(ME, AccountStatus.ACTIVE))
    # sell-only took events SETUP_EVENTS + 1 .. SETUP_EVENTS + 10
    assert as_dicts(events) == [event(ACCOUNT_UPDATED, seq=SETUP_EVENTS + 11,
                                      command=CommandType.SET_ACCOUNT_STATUS, ts=10, account=ME,
                                      value=AccountStatus.ACTIVE)]
    assert kinds(books.submit(SC, ME, BUY, 10, 4990)) == [ACCEPTED, DEPTH]
    assert cash(books, ME) == (1_000_000 - 50_049, 50_049)


def test_restoring_a_suspended_account_allows_both_sides_again(books):
    books.process(commands.set_account_status(ME, AccountStatus.SUSPENDED))
    books.process(commands.set_account_status(ME, AccountStatus.ACTIVE))
    assert kinds(books.submit(SC, ME, SELL, 100, 5200)) == [ACCEPTED, DEPTH]
    assert kinds(books.submit(SC, ME, BUY, 10, 4990)) == [ACCEPTED, DEPTH]
    assert books.resting_orders == 2 + 2


def test_suspending_a_sell_only_account_cancels_its_remaining_sells(books):
    books.process(commands.set_account_status(ME, AccountStatus.SELL_ONLY))
    events = books.process(commands.set_account_status(ME, AccountStatus.SUSPENDED))
    assert rows(events[events["kind"] == CANCELLED], "order_id", "reason") == [
        (5, CancelReason.SANCTION), (4, CancelReason.SANCTION), (7, CancelReason.SANCTION)]
    assert units(books, ME, SC) == (100, 0, 0, 0)
    assert units(books, ME, CER) == (50, 0, 0, 0)


def test_suspending_cancels_orders_on_a_halted_instrument_too(books):
    books.set_instrument_status(CER, InstrumentStatus.HALTED)
    events = books.process(commands.set_account_status(ME, AccountStatus.SUSPENDED))
    assert [n for n, ins in rows(events[events["kind"] == CANCELLED], "order_id", "instrument")
            if ins == CER_I] == [8, 7]
    assert ladder(books, CER) == []
    assert units(books, ME, CER) == (50, 0, 0, 0)


def test_sanctioning_an_account_without_orders_only_announces_it(books):
    books.cancel(2, OTHER)
    books.cancel(6, OTHER)
    events = books.process(commands.set_account_status(OTHER, AccountStatus.SUSPENDED))
    assert kinds(events) == [ACCOUNT_UPDATED]
    assert books.resting_orders == len(ORDERS) - 2


def test_a_refused_status_change_cancels_nothing(books):
    events = books.process(commands.set_account_status(ME, 0))
    assert reasons(events) == [Reject.BAD_STATUS]
    assert books.resting_orders == len(ORDERS)
    assert cash(books, ME) == (1_000_000 - ME_FROZEN, ME_FROZEN)
