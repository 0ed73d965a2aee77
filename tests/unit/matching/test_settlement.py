"""Settlement and holds: each trade moves exactly price x qty plus or minus each side's fee
(rounded down, per trade), every hold follows what its order still needs, bought units wait
for the T+1 release, and nothing is created or lost."""
import pytest

from helpers import (
    CER, SC, as_dicts, cancels, cash, event, funded_engine, kinds, ladder, market, open_account,
    reasons, rows, state, trades, units,
)
from matching import (
    CancelReason, CommandType, EventKind, OrderType, Reject, Side, StpMode, TimeInForce, TradeType,
    commands,
)

BUY, SELL = Side.BUY, Side.SELL
MARKET = OrderType.MARKET
IOC, FOK = TimeInForce.IOC, TimeInForce.FOK
ACCEPTED, REJECTED, TRADE, CANCELLED, REPLACED, DEPTH = (
    EventKind.ACCEPTED, EventKind.REJECTED, EventKind.TRADE, EventKind.CANCELLED,
    EventKind.REPLACED, EventKind.DEPTH)
SC_I, CQ_I, CER_I = 0, 1, 2
FEES = (30, 50)                 # buyer 0.30%, seller 0.50% of the notional, rounded down


def buying(engine, account, symbol):
    return engine.account(account)["holdings"][symbol]["buying"]


def refused(engine, reason, call):
    before = state(engine)[1]
    events = call()
    assert kinds(events) == [REJECTED]
    assert reasons(events) == [reason]
    assert state(engine)[1] == before


# ----------------------------------------------------------------------------- one trade
@pytest.mark.parametrize("aggressor", [BUY, SELL])
def test_a_trade_moves_cash_and_units_with_each_sides_fee(make_engine, aggressor):
    engine = funded_engine(make_engine, {1: (1_000_000, {}), 2: (0, {SC: 100})}, fees=FEES)  # 4 events
    first, second = (SELL, BUY) if aggressor == BUY else (BUY, SELL)
    account = {BUY: 1, SELL: 2}
    engine.submit(SC, account[first], first, 7, 5010)                                     # 5, 6
    events = engine.submit(SC, account[second], second, 7, 5010, seq=3)                   # 7, 8, 9
    buy_id, sell_id = (2, 1) if aggressor == BUY else (1, 2)
    # notional 7 x 5010 = 35,070; buyer floor(105.21) = 105; seller floor(175.35) = 175
    assert as_dicts(events[1:2]) == [event(
        TRADE, command=CommandType.NEW_ORDER, seq=8, cmd_seq=3, trade_id=1, instrument=SC_I,
        price=5010, qty=7, side=aggressor, trade_type=TradeType.CONTINUOUS, buy_order_id=buy_id,
        sell_order_id=sell_id, buy_account=1, sell_account=2, buy_leaves=0, sell_leaves=0,
        buy_fee=105, sell_fee=175)]
    assert cash(engine, 1) == (1_000_000 - 35_070 - 105, 0) == (964_825, 0)
    assert units(engine, 1, SC) == (0, 0, 7, 0)                 # bought today: locked
    assert buying(engine, 1, SC) == 0
    assert cash(engine, 2) == (35_070 - 175, 0) == (34_895, 0)
    assert units(engine, 2, SC) == (93, 0, 0, 0)
    assert engine.fees_collected == 105 + 175
    assert engine.net_deposits == 1_000_000


def test_each_fill_pays_its_own_fee_rounded_down(make_engine):
    engine = funded_engine(make_engine, {1: (90_631, {}), 2: (0, {SC: 9}), 3: (0, {SC: 9})},
                           fees=FEES)
    engine.submit(SC, 2, SELL, 9, 5020)
    engine.submit(SC, 3, SELL, 9, 5020)
    # hold: 18 x 5020 = 90,360 + floor(271.08) = 90,631; each fill of 9 is 45,180 with a buyer
    # fee of floor(135.54) = 135 and a seller fee of floor(225.9) = 225
    events = engine.submit(SC, 1, BUY, 18, 5020)
    assert rows(events[events["kind"] == TRADE], "qty", "buy_fee", "sell_fee") == [
        (9, 135, 225), (9, 135, 225)]
    assert cash(engine, 1) == (90_631 - 2 * (45_180 + 135), 0) == (1, 0)   # the spare fen comes back
    assert cash(engine, 2) == cash(engine, 3) == (45_180 - 225, 0)
    assert engine.fees_collected == 2 * 135 + 2 * 225


def test_fees_follow_the_configured_rates(make_engine):
    engine = funded_engine(make_engine, {1: (1_000_000, {}), 2: (0, {SC: 100})}, fees=(0, 1000))
    engine.submit(SC, 2, SELL, 10, 5000)
    engine.submit(SC, 1, BUY, 10, 5000)
    assert cash(engine, 1) == (1_000_000 - 50_000, 0)          # the buyer pays no fee
    assert cash(engine, 2) == (50_000 - 5_000, 0)              # 10% of 50,000
    assert engine.fees_collected == 5_000


# ----------------------------------------------------------------------------- improvement
def test_a_buy_filled_below_its_limit_gets_the_difference_back_at_once(make_engine):
    engine = funded_engine(make_engine, {2: (0, {SC: 40})}, fees=FEES)
    # hold at 5020: 40 x 5020 = 200,800 + floor(602.4) = 201,402
    open_account(engine, 1, cash=201_402)
    engine.submit(SC, 2, SELL, 40, 5010)
    engine.submit(SC, 1, BUY, 40, 5020)
    # paid 40 x 5010 = 200,400 + floor(601.2) = 201,001: back 400 on price and 1 on the fee
    assert cash(engine, 1) == (401, 0)
    assert units(engine, 1, SC) == (0, 0, 40, 0)


def test_a_partly_filled_buy_keeps_frozen_exactly_what_its_leaves_need(make_engine):
    engine = funded_engine(make_engine, {2: (0, {SC: 15}), 3: (0, {SC: 25})}, fees=FEES)
    open_account(engine, 1, cash=201_402)                   # the hold of 40 at 5020, as above
    engine.submit(SC, 2, SELL, 15, 5010)
    engine.submit(SC, 1, BUY, 40, 5020)                      # 15 fill at 5010, 25 rest at 5020
    # leaves need 25 x 5020 = 125,500 + floor(376.5) = 125,876
    # paid 15 x 5010 = 75,150 + floor(225.45) = 75,375; free 201,402 - 125,876 - 75,375 = 151
    assert cash(engine, 1) == (151, 125_876)
    assert buying(engine, 1, SC) == 25
    assert ladder(engine, SC) == [(25, 5020, None, None)]
    engine.submit(SC, 3, SELL, 25, 5000)                     # trades at the resting 5020
    assert cash(engine, 1) == (151, 0)                       # paid exactly the 125,876 held
    assert units(engine, 1, SC) == (0, 0, 40, 0)
    assert buying(engine, 1, SC) == 0


def test_a_sell_filled_above_its_limit_receives_the_better_price(make_engine):
    engine = funded_engine(make_engine, {1: (1_000_000, {}), 2: (0, {SC: 10})}, fees=FEES)
    engine.submit(SC, 1, BUY, 10, 5020)
    engine.submit(SC, 2, SELL, 10, 5000)
    assert cash(engine, 2) == (50_200 - 251, 0)              # floor(50,200 x 50 / 10,000 = 251.0)


# ----------------------------------------------------------------------------- releases
@pytest.fixture
def buyer_and_seller(make_engine):
    """Account 1 has 100,000 fen, account 2 has 100 SC, account 3 has 100 SC (fees 30/50)."""
    return funded_engine(make_engine, {1: (100_000, {}), 2: (0, {SC: 100}), 3: (0, {SC: 100})},
                         fees=FEES)


def test_cancel_releases_a_buys_hold(buyer_and_seller):
    engine = buyer_and_seller
    engine.submit(SC, 1, BUY, 10, 5000)                      # 50,000 + 150 = 50,150
    assert cash(engine, 1) == (49_850, 50_150)
    assert buying(engine, 1, SC) == 10
    engine.cancel(1, 1)
    assert cash(engine, 1) == (100_000, 0)
    assert buying(engine, 1, SC) == 0


def test_cancel_of_a_partly_filled_buy_releases_the_rest(buyer_and_seller):
    engine = buyer_and_seller
    engine.submit(SC, 1, BUY, 10, 5000)
    engine.submit(SC, 2, SELL, 4, 5000)                      # pays 20,000 + 60 = 20,060
    assert cash(engine, 1) == (49_850, 30_090)               # leaves: 30,000 + 90
    engine.cancel(1, 1)
    assert cash(engine, 1) == (100_000 - 20_060, 0)


def test_cancel_releases_a_sells_units(buyer_and_seller):
    engine = buyer_and_seller
    engine.submit(SC, 2, SELL, 30, 5000)
    assert units(engine, 2, SC) == (70, 30, 0, 0)
    engine.cancel(1, 2)
    assert units(engine, 2, SC) == (100, 0, 0, 0)


def test_an_ioc_remainder_releases_its_hold(buyer_and_seller):
    engine = buyer_and_seller
    engine.submit(SC, 2, SELL, 4, 5000)
    events = engine.submit(SC, 1, BUY, 10, 5010, tif=IOC)    # held 50,100 + floor(150.3) = 50,250
    assert cancels(events) == [(2, CancelReason.IOC_REMAINDER, 6)]
    assert cash(engine, 1) == (100_000 - 20_060, 0)          # paid 20,000 + 60
    assert buying(engine, 1, SC) == 0


def test_an_ioc_sell_remainder_returns_its_units(buyer_and_seller):
    engine = buyer_and_seller
    engine.submit(SC, 1, BUY, 4, 5000)
    engine.submit(SC, 2, SELL, 10, 5000, tif=IOC)
    assert units(engine, 2, SC) == (96, 0, 0, 0)
    assert cash(engine, 2) == (20_000 - 100, 0)
    assert cash(engine, 1) == (100_000 - 20_060, 0)


@pytest.mark.parametrize("side", [BUY, SELL])
def test_a_filled_fok_leaves_nothing_frozen(buyer_and_seller, side):
    engine = buyer_and_seller
    if side == BUY:
        engine.submit(SC, 2, SELL, 10, 4990)
        engine.submit(SC, 1, BUY, 10, 5010, tif=FOK)         # pays 49,900 + floor(149.7) = 50,049
        assert cash(engine, 1) == (100_000 - 50_049, 0)
        assert buying(engine, 1, SC) == 0
    else:
        engine.submit(SC, 1, BUY, 10, 5010)
        engine.submit(SC, 2, SELL, 10, 4990, tif=FOK)        # receives 50,100 - floor(250.5)
        assert units(engine, 2, SC) == (90, 0, 0, 0)
        assert cash(engine, 2) == (50_100 - 250, 0)
    assert engine.resting_orders == 0


def test_reduce_releases_what_the_cut_quantity_held(buyer_and_seller):
    engine = buyer_and_seller
    engine.submit(SC, 1, BUY, 10, 5003)                      # 50,030 + floor(150.09) = 50,180
    assert cash(engine, 1) == (49_820, 50_180)
    engine.reduce(1, 1, 7)                                   # 35,021 + floor(105.063) = 35,126
    assert cash(engine, 1) == (100_000 - 35_126, 35_126)
    assert buying(engine, 1, SC) == 7
    engine.submit(SC, 2, SELL, 30, 5100)
    engine.reduce(2, 2, 12)
    assert units(engine, 2, SC) == (88, 12, 0, 0)


def test_replace_down_releases_cash(buyer_and_seller):
    engine = buyer_and_seller
    engine.submit(SC, 1, BUY, 10, 5003)                      # 50,180 held
    engine.replace(1, 1, 4990, 10)                           # 49,900 + floor(149.7) = 50,049
    assert cash(engine, 1) == (100_000 - 50_049, 50_049)
    engine.replace(1, 1, 4990, 6)                            # 29,940 + floor(89.82) = 30,029
    assert cash(engine, 1) == (100_000 - 30_029, 30_029)
    engine.replace(1, 1, 4995, 4)                            # 19,980 + floor(59.94) = 20,039
    assert cash(engine, 1) == (100_000 - 20_039, 20_039)
    assert buying(engine, 1, SC) == 4


def test_replace_down_returns_units(buyer_and_seller):
    engine = buyer_and_seller
    engine.submit(SC, 2, SELL, 30, 5100)
    engine.replace(1, 2, 5050, 12)
    assert units(engine, 2, SC) == (88, 12, 0, 0)
    engine.replace(1, 2, 5200, 12)                           # a new price alone needs no units
    assert units(engine, 2, SC) == (88, 12, 0, 0)


@pytest.mark.parametrize("mode, cash_after, units_after, resting", [
    (StpMode.CANCEL_NEWEST, (100_000, 0), (90, 10, 0, 0), 1),          # the buy goes
    (StpMode.CANCEL_OLDEST, (49_850, 50_150), (100, 0, 0, 0), 1),      # the sell goes, buy rests
    (StpMode.CANCEL_BOTH, (100_000, 0), (100, 0, 0, 0), 0),
])
def test_self_trade_cancels_release_their_holds(make_engine, mode, cash_after, units_after, resting):
    engine = funded_engine(make_engine, {7: (100_000, {SC: 100})}, fees=FEES)
    engine.submit(SC, 7, SELL, 10, 5000)
    events = engine.submit(SC, 7, BUY, 10, 5000, stp=mode)
    assert trades(events) == []
    assert {reason for _, reason, _ in cancels(events)} == {CancelReason.SELF_TRADE}
    assert cash(engine, 7) == cash_after
    assert units(engine, 7, SC) == units_after
    assert engine.resting_orders == resting


def test_expiry_releases_a_day_orders_hold(buyer_and_seller):
    engine = buyer_and_seller
    engine.submit(SC, 1, BUY, 10, 5000, tif=TimeInForce.DAY)
    engine.submit(SC, 2, SELL, 10, 5100, tif=TimeInForce.DAY)
    engine.expire_day_orders(SC)
    assert cash(engine, 1) == (100_000, 0)
    assert units(engine, 2, SC) == (100, 0, 0, 0)


# ----------------------------------------------------------------------------- replace up
def test_replace_up_needs_the_extra_cash(make_engine):
    engine = funded_engine(make_engine, {1: (50_150 + 99, {})}, fees=FEES)
    engine.submit(SC, 1, BUY, 10, 5000, ts=3)                # holds 50,150; 99 free
    # 10 at 5010 needs 50,100 + floor(150.3) = 50,250: 100 more than held
    refused(engine, Reject.INSUFFICIENT_CASH, lambda: engine.replace(1, 1, 5010, 10, ts=4))
    # 11 at 5000 needs 55,000 + 165 = 55,165
    refused(engine, Reject.INSUFFICIENT_CASH, lambda: engine.replace(1, 1, 5000, 11, ts=4))
    view = engine.order(1)
    assert (view.price, view.qty, view.ts) == (5000, 10, 3)
    assert cash(engine, 1) == (99, 50_150)
    engine.process(commands.deposit(1, 1))
    assert kinds(engine.replace(1, 1, 5010, 10))[0] == REPLACED
    assert cash(engine, 1) == (0, 50_250)


def test_replace_up_must_stay_under_the_position_limit(make_engine):
    engine = funded_engine(make_engine, {1: (1_000_000, {})}, fees=FEES)
    engine.process(commands.set_position_limit(1, SC_I, 10))
    engine.submit(SC, 1, BUY, 10, 5000)
    refused(engine, Reject.POSITION_LIMIT, lambda: engine.replace(1, 1, 5000, 11))
    assert kinds(engine.replace(1, 1, 5010, 10))[0] == REPLACED       # a new price alone fits


def test_a_sell_replaced_up_needs_the_extra_units(make_engine):
    engine = funded_engine(make_engine, {2: (0, {SC: 12})})
    engine.submit(SC, 2, SELL, 10, 5100)
    assert units(engine, 2, SC) == (2, 10, 0, 0)
    refused(engine, Reject.INSUFFICIENT_HOLDINGS, lambda: engine.replace(1, 2, 5100, 13))
    assert kinds(engine.replace(1, 2, 5100, 12))[0] == REPLACED
    assert units(engine, 2, SC) == (0, 12, 0, 0)


def test_a_sell_replaced_up_must_keep_the_retention_floor(make_engine):
    engine = funded_engine(make_engine, {2: (0, {SC: 20})})
    engine.process(commands.set_retention_floor(2, SC_I, 8))
    engine.submit(SC, 2, SELL, 10, 5100)
    # 10 available - 3 more = 7 < 8
    refused(engine, Reject.RETENTION_FLOOR, lambda: engine.replace(1, 2, 5100, 13))
    assert kinds(engine.replace(1, 2, 5100, 12))[0] == REPLACED       # 8 left
    assert units(engine, 2, SC) == (8, 12, 0, 0)


# ----------------------------------------------------------------------------- T+1
def test_units_bought_are_locked_until_the_t1_release(buyer_and_seller):
    engine = buyer_and_seller
    engine.submit(SC, 2, SELL, 10, 5000)
    engine.submit(SC, 1, BUY, 10, 5000)
    assert units(engine, 1, SC) == (0, 0, 10, 0)
    open_account(engine, 4, cash=100_000)
    assert kinds(engine.submit(SC, 4, BUY, 10, 4900)) == [ACCEPTED, DEPTH]     # someone to sell to
    refused(engine, Reject.INSUFFICIENT_HOLDINGS, lambda: engine.submit(SC, 1, SELL, 10, 4900))
    engine.process(commands.release_t1(CER_I))               # another instrument: no effect
    assert units(engine, 1, SC) == (0, 0, 10, 0)
    engine.process(commands.release_t1(SC_I))
    assert units(engine, 1, SC) == (10, 0, 0, 0)
    assert trades(engine.submit(SC, 1, SELL, 10, 4900)) == [(4900, 10, 3, 4)]
    assert units(engine, 1, SC) == (0, 0, 0, 0)


def test_without_t_plus_one_bought_units_are_available_at_once(impl):
    instruments = market()
    instruments[2].t_plus_one = False                        # CER settles T+0 here
    engine = impl(instruments, risk=True, fees={TradeType.CONTINUOUS: FEES})
    open_account(engine, 1, cash=100_000)
    open_account(engine, 2, units={CER: 10, SC: 10})
    engine.submit(CER, 2, SELL, 5, 6000)
    engine.submit(CER, 1, BUY, 5, 6000)                      # 30,000 + 90
    assert units(engine, 1, CER) == (5, 0, 0, 0)
    assert cash(engine, 1) == (100_000 - 30_090, 0)
    assert kinds(engine.submit(CER, 1, SELL, 5, 6100)) == [ACCEPTED, DEPTH]
    assert units(engine, 1, CER) == (0, 5, 0, 0)
    engine.submit(SC, 2, SELL, 5, 5000)                      # SC still has T+1
    engine.submit(SC, 1, BUY, 5, 5000)
    assert units(engine, 1, SC) == (0, 0, 5, 0)


# ----------------------------------------------------------------------------- conservation
def test_a_wash_trade_costs_only_the_fees(make_engine):
    engine = funded_engine(make_engine, {7: (100_000, {SC: 100})}, fees=FEES,
                           default_stp=StpMode.OFF)
    engine.submit(SC, 7, SELL, 10, 5000)
    events = engine.submit(SC, 7, BUY, 10, 5000)
    assert rows(events[events["kind"] == TRADE], "buy_account", "sell_account", "buy_fee",
                "sell_fee") == [(7, 7, 150, 250)]           # 50,000 x 30 and x 50 bps
    assert cash(engine, 7) == (100_000 - 50_150 + 49_750, 0) == (99_600, 0)
    assert units(engine, 7, SC) == (90, 0, 10, 0)            # the 10 sold came back locked
    assert engine.fees_collected == 400
    assert cash(engine, 7)[0] + engine.fees_collected == engine.net_deposits == 100_000
    engine.check_invariants()


def test_cash_and_units_are_conserved_through_a_mixed_day(make_engine):
    engine = funded_engine(make_engine, fees=FEES)
    open_account(engine, 1, cash=500_000, units={SC: 200})
    open_account(engine, 2, cash=300_000, units={SC: 100, CER: 50}, non_tradable={CER: 10})
    open_account(engine, 3, cash=1_000_000)
    engine.process(commands.withdraw(1, 50_000))
    engine.process(commands.debit_holdings(2, SC_I, 20))
    engine.submit(SC, 1, SELL, 50, 5010)                              # order 1
    engine.submit(SC, 3, BUY, 30, 5020)                               # 30 @ 5010: 150,300; 450 / 751
    engine.submit(CER, 2, SELL, 20, 6000)                             # order 3
    engine.submit(CER, 3, BUY, 25, order_type=MARKET, tif=IOC)        # 20 @ 6000: 120,000; 360 / 600
    engine.submit(SC, 2, BUY, 30, 5010)                               # 20 @ 5010: 100,200; 300 / 501
    engine.cancel(5, 2)                                               # its 10 left
    engine.process(commands.release_t1())
    engine.submit(SC, 3, SELL, 10, 5000)                              # order 6
    engine.submit(SC, 1, BUY, 10, 5000)                               # 10 @ 5000: 50,000; 150 / 250
    engine.process(commands.withdraw(3, 100_000))

    deposits = 500_000 + 300_000 + 1_000_000 - 50_000 - 100_000
    fees = 450 + 751 + 360 + 600 + 300 + 501 + 150 + 250
    assert (engine.net_deposits, engine.fees_collected) == (deposits, fees) == (1_650_000, 3_362)
    # account 1: 450,000 + (150,300 - 751) + (100,200 - 501) - 50,150
    # account 2: 300,000 + (120,000 - 600) - 100,500
    # account 3: 1,000,000 - 150,750 - 120,360 + (50,000 - 250) - 100,000
    assert [cash(engine, a) for a in (1, 2, 3)] == [(649_098, 0), (318_900, 0), (678_640, 0)]
    assert sum(cash(engine, a)[0] for a in (1, 2, 3)) + fees == deposits
    assert [units(engine, a, SC) for a in (1, 2, 3)] == [(150, 0, 10, 0), (100, 0, 0, 0), (20, 0, 0, 0)]
    assert [units(engine, a, CER) for a in (1, 2, 3)] == [(0, 0, 0, 0), (30, 0, 0, 10), (20, 0, 0, 0)]
    assert sum(sum(units(engine, a, SC)) for a in (1, 2, 3)) == 300 - 20    # credits - debits
    assert sum(sum(units(engine, a, CER)) for a in (1, 2, 3)) == 60
    assert state(engine)[0]["net_credits"] == [280, 0, 60]
    engine.check_invariants()
