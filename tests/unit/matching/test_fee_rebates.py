"""Fee rebates (SET_FEE_REBATE): a designated account pays the market's fee less its rebate,
per trade type and per side it trades on, never below zero; buys keep holding cash at the
market's fee, so a rebate may change while they rest; rebates survive snapshots."""
import pytest

from helpers import (
    SC, as_dicts, assert_rejected, cash, event, funded_engine, open_account, state, trades,
)
from matching import CommandType, EventKind, Reject, Side, TradeType, commands
from matching._state import pack_state, unpack_state

BUY, SELL = Side.BUY, Side.SELL
FEES = {TradeType.CONTINUOUS: (30, 50), TradeType.FIXED: (25, 400)}
MAKER, OTHER = 1, 2


@pytest.fixture
def market(make_engine):
    engine = make_engine(risk=True, fees=FEES)
    open_account(engine, MAKER, 10_000_000, {SC: 1_000})
    open_account(engine, OTHER, 10_000_000, {SC: 1_000})
    return engine


def rebate(engine, account, trade_type, bps):
    return engine.process(commands.set_fee_rebate(account, trade_type, bps))


def fees_of(events):
    return [(row["buy_account"], row["buy_fee"], row["sell_account"], row["sell_fee"])
            for row in as_dicts(events[events["kind"] == EventKind.TRADE])]


def test_setting_a_rebate_reports_the_trade_type_and_basis_points(market):
    events = rebate(market, MAKER, TradeType.CONTINUOUS, 20)
    assert as_dicts(events) == [event(EventKind.ACCOUNT_UPDATED, command=CommandType.SET_FEE_REBATE,
                                      seq=events["seq"][0], account=MAKER,
                                      trade_type=TradeType.CONTINUOUS, value=20)]


@pytest.mark.parametrize("maker_side", [BUY, SELL])
def test_the_rebated_side_pays_less_and_the_other_side_pays_the_market_fee(market, maker_side):
    rebate(market, MAKER, TradeType.CONTINUOUS, 20)
    collected = market.fees_collected
    market.submit(SC, MAKER, maker_side, 100, 5000)
    events = market.submit(SC, OTHER, SELL if maker_side == BUY else BUY, 100, 5000)
    # notional 500,000: buyer 30 bps = 1,500, seller 50 bps = 2,500; the maker 20 bps less
    buyer_fee, seller_fee = (500_000 * 10 // 10_000, 2_500) if maker_side == BUY else (1_500, 500_000 * 30 // 10_000)
    buyer, seller = (MAKER, OTHER) if maker_side == BUY else (OTHER, MAKER)
    assert fees_of(events) == [(buyer, buyer_fee, seller, seller_fee)]
    assert market.fees_collected - collected == buyer_fee + seller_fee
    assert cash(market, buyer)[0] == 10_000_000 - 500_000 - buyer_fee
    assert cash(market, seller)[0] == 10_000_000 + 500_000 - seller_fee
    market.check_invariants()


def test_a_rebate_beyond_the_fee_makes_the_fee_zero_not_negative(market):
    rebate(market, MAKER, TradeType.CONTINUOUS, 1000)
    market.submit(SC, OTHER, BUY, 10, 5000)
    events = market.submit(SC, MAKER, SELL, 10, 5000)
    assert fees_of(events) == [(OTHER, 150, MAKER, 0)]
    market.check_invariants()


def test_a_rebate_applies_to_its_own_trade_type_only(market):
    rebate(market, MAKER, TradeType.CONTINUOUS, 50)
    listed = market.process(commands.list_fixed(0, MAKER, SELL, 100, 5000, 10))
    events = market.process(commands.take_fixed(int(listed["order_id"][0]), OTHER, 100))
    assert fees_of(events) == [(OTHER, 500_000 * 25 // 10_000, MAKER, 500_000 * 400 // 10_000)]
    rebate(market, MAKER, TradeType.FIXED, 100)
    listed = market.process(commands.list_fixed(0, MAKER, SELL, 100, 5000, 10))
    events = market.process(commands.take_fixed(int(listed["order_id"][0]), OTHER, 100))
    assert fees_of(events) == [(OTHER, 1_250, MAKER, 500_000 * 300 // 10_000)]


def test_a_resting_buy_holds_at_the_market_fee_and_gets_the_difference_back_when_it_trades(market):
    market.submit(SC, MAKER, BUY, 100, 5000)
    assert cash(market, MAKER) == (10_000_000 - 501_500, 501_500)      # 30 bps on 500,000
    rebate(market, MAKER, TradeType.CONTINUOUS, 30)                      # granted while the buy rests
    market.submit(SC, OTHER, SELL, 100, 5000)
    assert cash(market, MAKER) == (10_000_000 - 500_000, 0)
    rebate(market, MAKER, TradeType.CONTINUOUS, 0)                       # and withdrawn
    market.submit(SC, MAKER, BUY, 10, 5000)
    market.submit(SC, OTHER, SELL, 10, 5000)
    assert cash(market, MAKER) == (10_000_000 - 500_000 - 50_000 - 150, 0)
    market.check_invariants()


@pytest.mark.parametrize("account, trade_type, bps, reason", [
    (MAKER, 0, 10, Reject.BAD_PARAMETER),
    (MAKER, 5, 10, Reject.BAD_PARAMETER),
    (MAKER, TradeType.CONTINUOUS, -1, Reject.BAD_PARAMETER),
    (MAKER, TradeType.CONTINUOUS, 1001, Reject.BAD_PARAMETER),
    (-1, TradeType.CONTINUOUS, 10, Reject.UNKNOWN_ACCOUNT),
    (10**6, TradeType.CONTINUOUS, 10, Reject.UNKNOWN_ACCOUNT),
])
def test_a_bad_rebate_is_refused_and_changes_nothing(market, account, trade_type, bps, reason):
    assert_rejected(market, commands.set_fee_rebate(account, trade_type, bps), reason)


def test_rebates_survive_a_snapshot_and_old_snapshots_restore_without_any(market, impl):
    rebate(market, MAKER, TradeType.CONTINUOUS, 20)
    rebate(market, OTHER, TradeType.BLOCK, 5)
    meta, _ = state(market)
    assert meta["fee_rebates"] == [[MAKER, TradeType.CONTINUOUS, 20], [OTHER, TradeType.BLOCK, 5]]
    restored = impl.restore(market.snapshot())
    restored.submit(SC, OTHER, BUY, 10, 5000)
    assert fees_of(restored.submit(SC, MAKER, SELL, 10, 5000)) == [(OTHER, 150, MAKER, 150)]
    meta, sections = unpack_state(market.snapshot())
    del meta["fee_rebates"]                                    # as written before rebates existed
    old = impl.restore(pack_state(meta, sections))
    old.submit(SC, OTHER, BUY, 10, 5000)
    assert fees_of(old.submit(SC, MAKER, SELL, 10, 5000)) == [(OTHER, 150, MAKER, 250)]
    rebate(market, MAKER, TradeType.CONTINUOUS, 0)
    rebate(market, OTHER, TradeType.BLOCK, 0)
    assert state(market)[0]["fee_rebates"] == []


def test_an_account_not_yet_created_may_be_given_a_rebate_it_keeps_once_opened(make_engine):
    engine = funded_engine(make_engine, {OTHER: (10_000_000, {SC: 100})}, fees=(30, 50))
    rebate(engine, MAKER, TradeType.CONTINUOUS, 30)
    open_account(engine, MAKER, 10_000_000)
    engine.submit(SC, OTHER, SELL, 10, 5000)
    assert trades(engine.submit(SC, MAKER, BUY, 10, 5000))
    assert cash(engine, MAKER)[0] == 10_000_000 - 50_000
