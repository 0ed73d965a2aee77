"""Pre-trade risk: with risk on, every order is fully pre-funded from a created account in good
standing before it may match, and a refused order freezes nothing."""
import pytest

from helpers import (
    CQ, CER, SC, SC_MAX_QTY, as_dicts, cancels, cash, event, funded_engine, kinds, ladder,
    only, open_account, reasons, rows, state, trades, units,
)
from matching import (
    AccountStatus, CancelReason, CommandType, EventKind, InstrumentStatus, OrderType, Reject, Side,
    StpMode, TimeInForce, TradeType, commands,
)

BUY, SELL = Side.BUY, Side.SELL
LIMIT, MARKET = OrderType.LIMIT, OrderType.MARKET
GTC, IOC, FOK = TimeInForce.GTC, TimeInForce.IOC, TimeInForce.FOK
ACCEPTED, REJECTED, TRADE, CANCELLED, DEPTH = (EventKind.ACCEPTED, EventKind.REJECTED,
                                               EventKind.TRADE, EventKind.CANCELLED, EventKind.DEPTH)
SC_I, CQ_I, CER_I = 0, 1, 2
FEES = (30, 50)                 # buyer 0.30%, seller 0.50% of the notional, rounded down
RICH = 10**10                   # fen: more than any order here can need


def set_status(engine, account, status):
    assert kinds(engine.process(commands.set_account_status(account, status))) == [
        EventKind.ACCOUNT_UPDATED]


def set_floor(engine, account, symbol, qty):
    engine.process(commands.set_retention_floor(account, engine.instrument_index(symbol), qty))


def set_limit(engine, account, symbol, qty):
    engine.process(commands.set_position_limit(account, engine.instrument_index(symbol), qty))


def assert_refused(engine, reason, *args, **kwargs):
    """Submit an order that must be refused with ``reason`` and change no order, book or account."""
    before = state(engine)[1]
    events = engine.submit(*args, **kwargs)
    assert kinds(events) == [REJECTED]
    assert reasons(events) == [reason]
    assert state(engine)[1] == before
    return events


# ----------------------------------------------------------------------------- unknown account
def test_an_uncreated_account_cannot_trade_with_risk_on(make_engine):
    engine = funded_engine(make_engine, {1: (RICH, {SC: 100})}, fees=FEES)     # events 1-3
    events = assert_refused(engine, Reject.UNKNOWN_ACCOUNT, SC, 2, BUY, 10, 5000,
                            client_order_id=4, ts=6, seq=5)
    assert as_dicts(events) == [event(
        REJECTED, command=CommandType.NEW_ORDER, seq=4, cmd_seq=5, ts=6, reason=Reject.UNKNOWN_ACCOUNT,
        client_order_id=4, account=2, instrument=SC_I, side=BUY, order_type=LIMIT, tif=GTC,
        price=5000, qty=10)]
    assert engine.account(2) is None
    assert kinds(engine.submit(SC, 1, SELL, 10, 5000)) == [ACCEPTED, DEPTH]
    assert rows(engine.submit(SC, 1, SELL, 1, 5000), "order_id") == [(2,), (0,)]   # ids not used up


def test_unknown_account_comes_after_unknown_instrument_and_before_halted(make_engine):
    engine = funded_engine(make_engine, {1: (RICH, {})})
    assert_refused(engine, Reject.UNKNOWN_INSTRUMENT, 3, 2, BUY, 10, 5000)
    engine.set_instrument_status(SC, InstrumentStatus.HALTED)
    assert_refused(engine, Reject.UNKNOWN_ACCOUNT, SC, 2, BUY, 10, 5000)
    assert_refused(engine, Reject.INSTRUMENT_HALTED, SC, 1, BUY, 10, 5000)


# ----------------------------------------------------------------------------- account status
@pytest.mark.parametrize("side", [BUY, SELL])
def test_a_suspended_account_may_neither_buy_nor_sell(make_engine, side):
    engine = funded_engine(make_engine, {7: (RICH, {SC: 100})}, fees=FEES)
    set_status(engine, 7, AccountStatus.SUSPENDED)
    assert_refused(engine, Reject.ACCOUNT_SUSPENDED, SC, 7, side, 10, 5000)
    assert_refused(engine, Reject.ACCOUNT_SUSPENDED, SC, 7, side, 10, order_type=MARKET, tif=IOC)
    assert cash(engine, 7) == (RICH, 0)
    assert units(engine, 7, SC) == (100, 0, 0, 0)


def test_suspended_is_reported_before_a_lack_of_cash_or_units(make_engine):
    engine = funded_engine(make_engine, {7: (0, {})}, fees=FEES)
    set_status(engine, 7, AccountStatus.SUSPENDED)
    assert_refused(engine, Reject.ACCOUNT_SUSPENDED, SC, 7, BUY, 10, 5000)
    assert_refused(engine, Reject.ACCOUNT_SUSPENDED, SC, 7, SELL, 10, 5000)


def test_a_sell_only_account_may_sell_but_not_buy(make_engine):
    engine = funded_engine(make_engine, {7: (RICH, {SC: 100})}, fees=FEES)
    set_status(engine, 7, AccountStatus.SELL_ONLY)
    assert_refused(engine, Reject.ACCOUNT_SELL_ONLY, SC, 7, BUY, 10, 5000)
    assert_refused(engine, Reject.ACCOUNT_SELL_ONLY, SC, 7, BUY, 10, order_type=MARKET, tif=IOC)
    assert_refused(engine, Reject.ACCOUNT_SELL_ONLY, CER, 7, BUY, 1, 6000)
    assert kinds(engine.submit(SC, 7, SELL, 10, 5000)) == [ACCEPTED, DEPTH]
    assert units(engine, 7, SC) == (90, 10, 0, 0)


def test_sell_only_is_reported_before_a_lack_of_cash(make_engine):
    engine = funded_engine(make_engine, {7: (0, {})})
    set_status(engine, 7, AccountStatus.SELL_ONLY)
    assert_refused(engine, Reject.ACCOUNT_SELL_ONLY, SC, 7, BUY, 10, 5000)
    assert_refused(engine, Reject.INSUFFICIENT_HOLDINGS, SC, 7, SELL, 10, 5000)


# ----------------------------------------------------------------------------- cash
@pytest.mark.parametrize("deposit, accepted", [
    (35_021, False),        # the notional alone: 7 x 5003
    (35_125, False),        # one fen short of notional plus fee
    (35_126, True),         # 35,021 + floor(35,021 x 30 / 10,000 = 105.063) = 35,021 + 105
])
def test_a_buy_needs_free_cash_for_its_notional_plus_its_fee(make_engine, deposit, accepted):
    engine = funded_engine(make_engine, {7: (deposit, {})}, fees=FEES)
    if accepted:
        assert kinds(engine.submit(SC, 7, BUY, 7, 5003)) == [ACCEPTED, DEPTH]
        assert cash(engine, 7) == (0, 35_126)
        assert engine.account(7)["holdings"][SC]["buying"] == 7
    else:
        assert_refused(engine, Reject.INSUFFICIENT_CASH, SC, 7, BUY, 7, 5003)
        assert cash(engine, 7) == (deposit, 0)


def test_only_free_cash_pays_for_a_new_buy(make_engine):
    engine = funded_engine(make_engine, {7: (60_000, {})}, fees=FEES)
    engine.submit(SC, 7, BUY, 10, 5000)          # holds 50,000 + 150 = 50,150; 9,850 free
    engine.submit(SC, 7, BUY, 2, 4900)           # holds 9,800 + floor(29.4) = 9,829; 21 free
    assert cash(engine, 7) == (21, 59_979)
    assert_refused(engine, Reject.INSUFFICIENT_CASH, SC, 7, BUY, 1, 4500)    # 4,500 + 13 > 21
    assert_refused(engine, Reject.INSUFFICIENT_CASH, CER, 7, BUY, 1, 4800)   # other instruments too


def test_the_buyer_fee_rate_sets_the_hold(make_engine):
    # 10 x 5000 = 50,000; at 1,000 bps the hold is 50,000 + 5,000 = 55,000
    engine = funded_engine(make_engine, {7: (54_999, {}), 8: (55_000, {})}, fees=(1000, 0))
    assert_refused(engine, Reject.INSUFFICIENT_CASH, SC, 7, BUY, 10, 5000)
    assert kinds(engine.submit(SC, 8, BUY, 10, 5000)) == [ACCEPTED, DEPTH]
    assert cash(engine, 8) == (0, 55_000)


# ----------------------------------------------------------------------------- market buys
@pytest.fixture
def asks_below_the_band_top(make_engine):
    """Account 2 offers SC 4 @ 5000 and 3 @ 5010 (orders 1, 2); the band top is 5500."""
    engine = funded_engine(make_engine, {2: (0, {SC: 100})}, fees=FEES)
    engine.submit(SC, 2, SELL, 4, 5000)
    engine.submit(SC, 2, SELL, 3, 5010)
    return engine


def test_a_market_buy_needs_cash_at_the_top_of_the_band(asks_below_the_band_top):
    engine = asks_below_the_band_top
    # 10 x 5500 = 55,000 plus floor(55,000 x 30 / 10,000 = 165) = 55,165, though the asks cost less
    open_account(engine, 7, cash=55_164)
    assert_refused(engine, Reject.INSUFFICIENT_CASH, SC, 7, BUY, 10, order_type=MARKET, tif=IOC)
    assert cash(engine, 7) == (55_164, 0)
    open_account(engine, 8, cash=55_165)
    assert kinds(engine.submit(SC, 8, BUY, 10, order_type=MARKET, tif=IOC))[0] == ACCEPTED


def test_a_market_buy_releases_what_its_fills_did_not_use(asks_below_the_band_top):
    engine = asks_below_the_band_top
    open_account(engine, 7, cash=55_165)
    events = engine.submit(SC, 7, BUY, 10, order_type=MARKET, tif=IOC)
    assert rows(only(events, TRADE), "price", "qty", "buy_fee", "sell_fee") == [
        (5000, 4, 60, 100),             # 20,000: floor(60.0), floor(100.0)
        (5010, 3, 45, 75),              # 15,030: floor(45.09), floor(75.15)
    ]
    assert cancels(events) == [(3, CancelReason.IOC_REMAINDER, 3)]
    # paid 20,060 + 15,075 = 35,135; the rest of the 55,165 hold comes back
    assert cash(engine, 7) == (55_165 - 35_135, 0) == (20_030, 0)
    assert units(engine, 7, SC) == (0, 0, 7, 0)
    assert engine.account(7)["holdings"][SC]["buying"] == 0
    assert cash(engine, 2) == (19_900 + 14_955, 0)       # 20,000 - 100 and 15,030 - 75
    assert engine.fees_collected == 60 + 45 + 100 + 75


def test_a_market_fok_buy_also_holds_at_the_top_of_the_band(asks_below_the_band_top):
    engine = asks_below_the_band_top
    # 7 x 5500 = 38,500 plus floor(115.5) = 38,615
    open_account(engine, 7, cash=38_614)
    assert_refused(engine, Reject.INSUFFICIENT_CASH, SC, 7, BUY, 7, order_type=MARKET, tif=FOK)
    engine.process(commands.deposit(7, 1))
    events = engine.submit(SC, 7, BUY, 7, order_type=MARKET, tif=FOK)
    assert trades(events) == [(5000, 4, 3, 1), (5010, 3, 3, 2)]
    assert cash(engine, 7) == (38_615 - 35_135, 0)


# ----------------------------------------------------------------------------- position limit
def test_a_buy_may_not_take_holdings_plus_open_buys_over_the_position_limit(make_engine):
    engine = funded_engine(make_engine, fees=FEES)
    open_account(engine, 7, cash=RICH, units={SC: 30}, non_tradable={SC: 20})
    set_limit(engine, 7, SC, 100)
    engine.submit(SC, 7, SELL, 5, 5500)              # units offered are still held
    engine.submit(SC, 7, BUY, 40, 4600)              # 25 + 5 + 20 held + 40 buying = 90
    assert_refused(engine, Reject.POSITION_LIMIT, SC, 7, BUY, 11, 4600)                 # 101
    assert_refused(engine, Reject.POSITION_LIMIT, SC, 7, BUY, 11, order_type=MARKET, tif=IOC)
    assert kinds(engine.submit(SC, 7, BUY, 10, 4600)) == [ACCEPTED, DEPTH]             # 100
    assert_refused(engine, Reject.POSITION_LIMIT, SC, 7, BUY, 1, 4600)
    assert kinds(engine.submit(CER, 7, BUY, 1_000, 6000)) == [ACCEPTED, DEPTH]          # SC only
    set_limit(engine, 7, SC, 0)                                                         # no cap
    assert kinds(engine.submit(SC, 7, BUY, 1, 4600)) == [ACCEPTED, DEPTH]


def test_units_bought_today_count_towards_the_position_limit(make_engine):
    engine = funded_engine(make_engine, {1: (0, {SC: 50}), 7: (RICH, {})}, fees=FEES)
    set_limit(engine, 7, SC, 10)
    engine.submit(SC, 1, SELL, 10, 5000)
    engine.submit(SC, 7, BUY, 10, 5000)
    assert units(engine, 7, SC) == (0, 0, 10, 0)
    assert_refused(engine, Reject.POSITION_LIMIT, SC, 7, BUY, 1, 5000)


def test_a_sell_is_not_bound_by_the_position_limit(make_engine):
    engine = funded_engine(make_engine, {7: (0, {SC: 50})})
    set_limit(engine, 7, SC, 10)                     # already over the cap
    assert kinds(engine.submit(SC, 7, SELL, 50, 5000)) == [ACCEPTED, DEPTH]


# ----------------------------------------------------------------------------- units
def test_a_sell_needs_that_many_available_units(make_engine):
    engine = funded_engine(make_engine, {1: (0, {SC: 50}), 7: (RICH, {SC: 10})}, fees=FEES)
    open_account(engine, 8, non_tradable={SC: 50})
    assert_refused(engine, Reject.INSUFFICIENT_HOLDINGS, SC, 8, SELL, 1, 5000)        # non-tradable
    engine.submit(SC, 1, SELL, 5, 5000)
    engine.submit(SC, 7, BUY, 5, 5000)
    assert units(engine, 7, SC) == (10, 0, 5, 0)
    assert_refused(engine, Reject.INSUFFICIENT_HOLDINGS, SC, 7, SELL, 11, 5000)       # locked
    assert_refused(engine, Reject.INSUFFICIENT_HOLDINGS, SC, 7, SELL, 11, order_type=MARKET, tif=IOC)
    assert kinds(engine.submit(SC, 7, SELL, 10, 5100)) == [ACCEPTED, DEPTH]
    assert units(engine, 7, SC) == (0, 10, 5, 0)
    assert_refused(engine, Reject.INSUFFICIENT_HOLDINGS, SC, 7, SELL, 1, 5100)        # frozen
    assert_refused(engine, Reject.INSUFFICIENT_HOLDINGS, CQ, 7, SELL, 100, 3000)      # other instrument


def test_a_sell_must_leave_the_retention_floor_held(make_engine):
    engine = funded_engine(make_engine, fees=FEES)
    open_account(engine, 7, units={SC: 100}, non_tradable={SC: 30})
    set_floor(engine, 7, SC, 120)
    # 100 available + 30 non-tradable - 11 = 119 < 120
    assert_refused(engine, Reject.RETENTION_FLOOR, SC, 7, SELL, 11, 5000)
    assert_refused(engine, Reject.RETENTION_FLOOR, SC, 7, SELL, 11, order_type=MARKET, tif=IOC)
    assert kinds(engine.submit(SC, 7, SELL, 10, 5000)) == [ACCEPTED, DEPTH]            # leaves 120
    assert units(engine, 7, SC) == (90, 10, 0, 30)
    # units offered no longer count: 90 + 30 - 1 = 119
    assert_refused(engine, Reject.RETENTION_FLOOR, SC, 7, SELL, 1, 5000)
    set_floor(engine, 7, SC, 119)
    assert kinds(engine.submit(SC, 7, SELL, 1, 5000)) == [ACCEPTED, DEPTH]


def test_a_retention_floor_blocks_selling_down_to_it(make_engine):
    engine = funded_engine(make_engine, {7: (0, {SC: 40})})
    set_floor(engine, 7, SC, 40)
    assert_refused(engine, Reject.RETENTION_FLOOR, SC, 7, SELL, 1, 5000)
    assert units(engine, 7, SC) == (40, 0, 0, 0)


def test_units_bought_today_count_towards_the_retention_floor(make_engine):
    engine = funded_engine(make_engine, {1: (0, {SC: 50}), 7: (RICH, {SC: 20})})
    set_floor(engine, 7, SC, 20)
    engine.submit(SC, 1, SELL, 10, 5000)
    engine.submit(SC, 7, BUY, 10, 5000)              # 20 available + 10 locked
    assert kinds(engine.submit(SC, 7, SELL, 10, 5100)) == [ACCEPTED, DEPTH]    # 20 + 10 - 10 = 20
    assert_refused(engine, Reject.RETENTION_FLOOR, SC, 7, SELL, 1, 5100)


def test_too_few_units_is_reported_before_the_floor(make_engine):
    engine = funded_engine(make_engine, {7: (0, {SC: 10})})
    set_floor(engine, 7, SC, 40)
    assert_refused(engine, Reject.INSUFFICIENT_HOLDINGS, SC, 7, SELL, 11, 5000)


# ----------------------------------------------------------------------------- check order
@pytest.mark.parametrize("symbol, side, qty, price, kwargs, reason", [
    (SC, 3, 10, 5000, {}, Reject.BAD_SIDE),
    (SC, BUY, 10, 5000, {"order_type": 3}, Reject.BAD_ORDER_TYPE),
    (SC, SELL, 10, 5000, {"tif": 5}, Reject.BAD_TIME_IN_FORCE),
    (SC, BUY, 10, 0, {"order_type": MARKET, "tif": GTC}, Reject.BAD_TIME_IN_FORCE),
    (SC, BUY, 10, 5000, {"stp": 5}, Reject.BAD_STP_MODE),
    (SC, SELL, 0, 5000, {}, Reject.BAD_QUANTITY),
    (CQ, BUY, 150, 3000, {}, Reject.OFF_LOT_QUANTITY),
    (SC, BUY, SC_MAX_QTY + 1, 5000, {}, Reject.ORDER_TOO_LARGE),
    (SC, BUY, 10, 0, {}, Reject.BAD_PRICE),
    (CQ, SELL, 100, 3005, {}, Reject.OFF_TICK_PRICE),
    (SC, BUY, 10, 5501, {}, Reject.PRICE_OUTSIDE_BAND),
    (SC, SELL, 10, 4499, {"tif": FOK}, Reject.PRICE_OUTSIDE_BAND),
])
@pytest.mark.parametrize("status", [AccountStatus.ACTIVE, AccountStatus.SELL_ONLY,
                                    AccountStatus.SUSPENDED])
def test_order_validation_comes_before_risk(make_engine, status, symbol, side, qty, price, kwargs,
                                            reason):
    engine = funded_engine(make_engine, {7: (0, {})}, fees=FEES)        # no cash, no units
    set_status(engine, 7, status)
    assert_refused(engine, reason, symbol, 7, side, qty, price, **kwargs)


def test_a_halted_instrument_is_reported_before_risk(make_engine):
    engine = funded_engine(make_engine, {7: (0, {})})
    set_status(engine, 7, AccountStatus.SUSPENDED)
    engine.set_instrument_status(SC, InstrumentStatus.HALTED)
    assert_refused(engine, Reject.INSTRUMENT_HALTED, SC, 7, BUY, 10, 5000)


@pytest.mark.parametrize("book_fills_it", [False, True])
@pytest.mark.parametrize("side, status, reason", [
    (BUY, AccountStatus.ACTIVE, Reject.INSUFFICIENT_CASH),
    (SELL, AccountStatus.ACTIVE, Reject.INSUFFICIENT_HOLDINGS),
    (BUY, AccountStatus.SELL_ONLY, Reject.ACCOUNT_SELL_ONLY),
    (SELL, AccountStatus.SUSPENDED, Reject.ACCOUNT_SUSPENDED),
])
def test_risk_comes_before_the_fok_check(make_engine, side, status, reason, book_fills_it):
    engine = funded_engine(make_engine, {1: (RICH, {SC: 100}), 7: (0, {})}, fees=FEES)
    if book_fills_it:
        engine.submit(SC, 1, BUY if side == SELL else SELL, 10, 5000)
    set_status(engine, 7, status)
    assert_refused(engine, reason, SC, 7, side, 10, 5000, tif=FOK)


def test_a_funded_fok_that_cannot_fill_is_still_refused(make_engine):
    engine = funded_engine(make_engine, {7: (RICH, {})}, fees=FEES)
    assert_refused(engine, Reject.FOK_NOT_FILLABLE, SC, 7, BUY, 10, 5000, tif=FOK)
    assert cash(engine, 7) == (RICH, 0)


# ----------------------------------------------------------------------------- nothing frozen
def test_refused_orders_freeze_nothing_and_use_no_order_id(make_engine):
    engine = funded_engine(make_engine, {1: (RICH, {SC: 100})}, fees=FEES)
    open_account(engine, 7, cash=50_149, units={SC: 50}, non_tradable={CER: 5})
    set_floor(engine, 7, SC, 45)
    set_limit(engine, 7, CER, 10)
    assert_refused(engine, Reject.INSUFFICIENT_CASH, SC, 7, BUY, 10, 5000)          # needs 50,150
    assert_refused(engine, Reject.POSITION_LIMIT, CER, 7, BUY, 6, 4800)             # 5 + 6 > 10
    assert_refused(engine, Reject.INSUFFICIENT_HOLDINGS, SC, 7, SELL, 51, 5000)
    assert_refused(engine, Reject.RETENTION_FLOOR, SC, 7, SELL, 6, 5000)            # 44 < 45
    assert_refused(engine, Reject.INSUFFICIENT_HOLDINGS, CER, 7, SELL, 1, 6000)
    set_status(engine, 7, AccountStatus.SELL_ONLY)
    assert_refused(engine, Reject.ACCOUNT_SELL_ONLY, SC, 7, BUY, 1, 5000)
    set_status(engine, 7, AccountStatus.SUSPENDED)
    assert_refused(engine, Reject.ACCOUNT_SUSPENDED, SC, 7, SELL, 1, 5000)
    assert cash(engine, 7) == (50_149, 0)
    holdings = engine.account(7)["holdings"]
    assert [units(engine, 7, s) for s in (SC, CQ, CER)] == [(50, 0, 0, 0), (0, 0, 0, 0), (0, 0, 0, 5)]
    assert [holdings[s]["buying"] for s in (SC, CQ, CER)] == [0, 0, 0]
    assert ladder(engine, SC) == ladder(engine, CER) == []
    assert engine.resting_orders == 0
    assert rows(engine.submit(SC, 1, SELL, 1, 5000), "order_id") == [(1,), (0,)]


# ----------------------------------------------------------------------------- risk off
def test_risk_off_ignores_cash_units_bounds_and_fees(make_engine):
    engine = make_engine(risk=False, fees={TradeType.CONTINUOUS: FEES}, default_stp=StpMode.OFF)
    open_account(engine, 7)                                   # no cash, no units
    set_limit(engine, 7, SC, 1)
    set_floor(engine, 7, SC, 100)
    assert kinds(engine.submit(SC, 7, BUY, 10, 5000)) == [ACCEPTED, DEPTH]
    assert kinds(engine.submit(SC, 7, SELL, 10, 5100)) == [ACCEPTED, DEPTH]
    events = engine.submit(SC, 99, SELL, 10, 5000)            # never created
    assert trades(events) == [(5000, 10, 1, 3)]
    events = engine.submit(SC, 98, BUY, 10, 5100, tif=FOK)
    assert trades(events) == [(5100, 10, 4, 2)]
    # nothing settles with risk off, so no fee is reported either
    assert rows(only(events, EventKind.TRADE), "buy_fee", "sell_fee") == [(0, 0)]
    assert cash(engine, 7) == (0, 0)
    assert units(engine, 7, SC) == (0, 0, 0, 0)
    assert engine.account(7)["holdings"][SC]["buying"] == 0
    assert engine.account(99) is None
    assert engine.fees_collected == 0
    assert engine.net_deposits == 0


def test_risk_off_still_applies_sanctions_to_created_accounts(make_engine):
    engine = make_engine(risk=False, default_stp=StpMode.OFF)
    open_account(engine, 7)
    set_status(engine, 7, AccountStatus.SELL_ONLY)
    assert_refused(engine, Reject.ACCOUNT_SELL_ONLY, SC, 7, BUY, 1, 5000)
    assert kinds(engine.submit(SC, 7, SELL, 10, 5100)) == [ACCEPTED, DEPTH]
    events = engine.process(commands.set_account_status(7, AccountStatus.SUSPENDED))
    assert kinds(events) == [EventKind.ACCOUNT_UPDATED, CANCELLED, DEPTH]       # its sell goes
    assert_refused(engine, Reject.ACCOUNT_SUSPENDED, SC, 7, SELL, 1, 5100)
    assert kinds(engine.submit(SC, 8, BUY, 10, 5000)) == [ACCEPTED, DEPTH]     # never created: no status
