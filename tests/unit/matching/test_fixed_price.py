"""Fixed-price listings (point-select, 挂牌点选): a listing rests in its own book with its cash
or units frozen; a counterparty takes a listing it names, fully or in part (at least the
minimum take, or the whole remainder), at the listing's price; with must_take_best only the
best-priced listing may be taken. Trades are FIXED and pay the FIXED fees."""
import pytest

from helpers import (
    CER, CQ, SC, as_dicts, assert_rejected, cancels, cash, depth, event, kinds, ladder,
    listing_ladder, market, only, open_account, rows, trades, units,
)
from matching import (
    CancelReason, CommandType, EventKind, InstrumentStatus, OrderType, Reject, Side, TimeInForce,
    TradeType, commands,
)
from matching._state import BookView

BUY, SELL = Side.BUY, Side.SELL
ACCEPTED, REJECTED, TRADE, CANCELLED, REDUCED, DEPTH = (
    EventKind.ACCEPTED, EventKind.REJECTED, EventKind.TRADE, EventKind.CANCELLED, EventKind.REDUCED,
    EventKind.DEPTH)
FIXED = TradeType.FIXED
SC_I, CQ_I, CER_I = 0, 1, 2
FIXED_FEES = (25, 400)          # buyer 0.25%; seller 4%, as Hubei's fixed-price transfer


def list_(engine, account, side, qty, price, min_qty, symbol=SC, **kwargs):
    return engine.process(commands.list_fixed(engine.instrument_index(symbol), account, side, qty, price,
                                              min_qty, **kwargs))


def take(engine, order_id, account, qty, **kwargs):
    return engine.process(commands.take_fixed(order_id, account, qty, **kwargs))


def risk_engine(make_engine, accounts):
    """A risk-on engine with FIXED fees; ``accounts`` is ``{id: (cash, {symbol: qty})}``."""
    engine = make_engine(risk=True, fees={TradeType.FIXED: FIXED_FEES, TradeType.CONTINUOUS: (30, 50)})
    for account, (money, held) in accounts.items():
        open_account(engine, account, money, held)
    return engine


# ----------------------------------------------------------------------------- listing
def test_a_listing_rests_in_the_fixed_price_book_and_publishes_fixed_depth(engine):
    events = list_(engine, 1, SELL, 100, 5010, 10, client_order_id=5, ts=3, seq=4)
    assert as_dicts(events) == [
        event(ACCEPTED, command=CommandType.LIST_FIXED, seq=1, cmd_seq=4, ts=3, order_id=1,
              client_order_id=5, account=1, instrument=SC_I, side=SELL,
              order_type=OrderType.FIXED_LISTING, tif=TimeInForce.DAY, price=5010, qty=100, leaves=100),
        event(DEPTH, command=CommandType.LIST_FIXED, seq=2, cmd_seq=4, ts=3, instrument=SC_I, side=SELL,
              price=5010, qty=100, count=1, trade_type=FIXED),
    ]
    assert listing_ladder(engine, SC) == [(None, None, 5010, 100)]
    assert ladder(engine, SC) == []                     # not in the continuous book


def test_listings_are_shown_by_level_best_first(engine):
    list_(engine, 1, SELL, 100, 5010, 10)
    list_(engine, 2, SELL, 40, 5005, 40)
    list_(engine, 3, SELL, 60, 5010, 1)
    list_(engine, 4, BUY, 30, 4990, 10)
    list_(engine, 5, BUY, 20, 4995, 5)
    assert engine.listings(SC) == BookView(bids=[(4995, 20, 1), (4990, 30, 1)],
                                           asks=[(5005, 40, 1), (5010, 160, 2)])
    assert engine.listings(SC, 1) == BookView(bids=[(4995, 20, 1)], asks=[(5005, 40, 1)])
    assert engine.listings(CER) == BookView(bids=[], asks=[])


def test_listings_are_never_matched_automatically(engine):
    engine.submit(SC, 1, BUY, 50, 5020)                 # a continuous bid above the listing
    events = list_(engine, 2, SELL, 50, 5000, 1)
    assert kinds(events) == [ACCEPTED, DEPTH]
    events = list_(engine, 3, BUY, 50, 5030, 1)         # a buy listing above the sell listing
    assert kinds(events) == [ACCEPTED, DEPTH]
    events = engine.submit(SC, 4, SELL, 50, 4990)       # a continuous sell: trades the bid only
    assert trades(events) == [(5020, 50, 1, 4)]
    assert listing_ladder(engine, SC) == [(50, 5030, 5000, 50)]


def test_a_continuous_order_does_not_see_the_listings(engine):
    list_(engine, 1, SELL, 50, 5000, 1)
    events = engine.submit(SC, 2, BUY, 50, 5010)
    assert kinds(events) == [ACCEPTED, DEPTH]
    assert ladder(engine, SC) == [(50, 5010, None, None)]


@pytest.mark.parametrize("qty, price, min_qty, reason", [
    (100, 5501, 10, Reject.PRICE_OUTSIDE_BAND),         # the ±10% band (4500, 5500), not the block band
    (100, 4499, 10, Reject.PRICE_OUTSIDE_BAND),
    (100_000, 5000, 10, Reject.ORDER_TOO_LARGE),        # listings are under 100,000 t
    (100, 5000, 0, Reject.BAD_QUANTITY),                # the minimum take must be at least one lot
    (100, 5000, 101, Reject.BAD_QUANTITY),              # ... and no more than the listing
    (0, 5000, 0, Reject.BAD_QUANTITY),
])
def test_a_listing_is_validated_like_an_order(engine, qty, price, min_qty, reason):
    assert_rejected(engine, commands.list_fixed(SC_I, 1, SELL, qty, price, min_qty), reason)


def test_a_listings_minimum_take_must_be_on_the_lot(engine):
    assert_rejected(engine, commands.list_fixed(CQ_I, 1, SELL, 500, 3000, 150), Reject.BAD_QUANTITY)
    assert kinds(list_(engine, 1, SELL, 500, 3000, 200, symbol=CQ)) == [ACCEPTED, DEPTH]


def test_the_band_edges_are_listable(engine):
    assert kinds(list_(engine, 1, SELL, 1, 5500, 1)) == [ACCEPTED, DEPTH]
    assert kinds(list_(engine, 1, BUY, 1, 4500, 1)) == [ACCEPTED, DEPTH]
    assert kinds(list_(engine, 1, BUY, 99_999, 5000, 99_999)) == [ACCEPTED, DEPTH]


# ----------------------------------------------------------------------------- taking
def test_taking_a_whole_listing_trades_at_its_price(engine):
    list_(engine, 1, SELL, 100, 5010, 10, client_order_id=11, seq=1)      # events 1, 2
    events = take(engine, 1, 2, 100, client_order_id=21, ts=9, seq=2)
    assert as_dicts(events) == [
        event(ACCEPTED, command=CommandType.TAKE_FIXED, seq=3, cmd_seq=2, ts=9, order_id=2,
              client_order_id=21, account=2, instrument=SC_I, side=BUY, order_type=OrderType.FIXED_TAKE,
              tif=TimeInForce.IOC, price=5010, qty=100, leaves=100),
        event(TRADE, command=CommandType.TAKE_FIXED, seq=4, cmd_seq=2, ts=9, trade_id=1, instrument=SC_I,
              price=5010, qty=100, side=BUY, trade_type=FIXED, buy_order_id=2, sell_order_id=1,
              buy_account=2, sell_account=1, buy_leaves=0, sell_leaves=0),
        event(DEPTH, command=CommandType.TAKE_FIXED, seq=5, cmd_seq=2, ts=9, instrument=SC_I, side=SELL,
              price=5010, qty=0, count=0, trade_type=FIXED),
    ]
    assert listing_ladder(engine, SC) == []
    assert engine.order(1) is None


def test_a_seller_takes_a_buy_listing(engine):
    list_(engine, 1, BUY, 80, 4990, 20)
    events = take(engine, 1, 2, 30)
    assert trades(events) == [(4990, 30, 1, 2)]
    assert rows(only(events, TRADE), "side", "trade_type", "buy_leaves", "sell_leaves") == [
        (SELL, FIXED, 50, 0)]
    assert depth(events) == [(BUY, 4990, 50, 1)]
    assert listing_ladder(engine, SC) == [(50, 4990, None, None)]


def test_a_take_in_part_leaves_the_rest_listed(engine):
    list_(engine, 1, SELL, 100, 5010, 30)
    events = take(engine, 1, 2, 30)                     # exactly the minimum take
    assert trades(events) == [(5010, 30, 2, 1)]
    assert rows(only(events, TRADE), "sell_leaves") == [(70,)]
    assert depth(events) == [(SELL, 5010, 70, 1)]
    assert engine.order(1).qty == 70
    assert trades(take(engine, 1, 3, 45)) == [(5010, 45, 3, 1)]
    assert listing_ladder(engine, SC) == [(None, None, 5010, 25)]


def test_the_whole_remainder_may_be_taken_even_below_the_minimum(engine):
    list_(engine, 1, SELL, 100, 5010, 30)
    take(engine, 1, 2, 80)                              # 20 left: below the minimum take of 30
    assert_rejected(engine, commands.take_fixed(1, 3, 10), Reject.BELOW_MINIMUM)
    assert trades(take(engine, 1, 3, 20)) == [(5010, 20, 3, 1)]     # taker ids 2, 3: a reject uses none
    assert listing_ladder(engine, SC) == []


def test_a_take_below_the_minimum_take_is_rejected(engine):
    list_(engine, 1, SELL, 100, 5010, 30, seq=1)                    # events 1, 2
    events = assert_rejected(engine, commands.take_fixed(1, 2, 29, client_order_id=7, ts=4, seq=2),
                             Reject.BELOW_MINIMUM)
    assert as_dicts(events) == [event(
        REJECTED, command=CommandType.TAKE_FIXED, seq=3, cmd_seq=2, ts=4, reason=Reject.BELOW_MINIMUM,
        order_id=1, client_order_id=7, account=2, qty=29)]
    assert listing_ladder(engine, SC) == [(None, None, 5010, 100)]
    assert trades(take(engine, 1, 2, 30)) == [(5010, 30, 2, 1)]


def test_a_take_of_more_than_remains_is_rejected(engine):
    list_(engine, 1, SELL, 100, 5010, 10)
    take(engine, 1, 2, 60)
    assert_rejected(engine, commands.take_fixed(1, 3, 41), Reject.EXCEEDS_REMAINING)
    assert_rejected(engine, commands.take_fixed(1, 3, 101), Reject.EXCEEDS_REMAINING)
    assert trades(take(engine, 1, 3, 40)) == [(5010, 40, 3, 1)]


def test_a_take_is_on_the_lot(engine):
    list_(engine, 1, SELL, 1000, 3000, 100, symbol=CQ)
    assert_rejected(engine, commands.take_fixed(1, 2, 150), Reject.OFF_LOT_QUANTITY)
    assert_rejected(engine, commands.take_fixed(1, 2, 0), Reject.BAD_QUANTITY)
    assert trades(take(engine, 1, 2, 200)) == [(3000, 200, 2, 1)]


def test_taking_ones_own_listing_is_rejected(engine):
    list_(engine, 1, SELL, 100, 5010, 10)
    assert_rejected(engine, commands.take_fixed(1, 1, 50), Reject.SELF_TAKE)


def test_only_listings_can_be_taken(engine):
    engine.submit(SC, 1, SELL, 100, 5010)                            # order 1: a limit order
    engine.process(commands.set_block_window(SC_I, True))
    engine.process(commands.block_quote(SC_I, 1, SELL, 100_000, 5000))   # order 2: a block quote
    list_(engine, 1, SELL, 100, 5010, 10)                            # order 3
    assert_rejected(engine, commands.take_fixed(1, 1, 50), Reject.WRONG_ORDER_KIND)    # its own limit order
    # another account's limit order is answered as if it did not exist; a public quote and a
    # listing are offers to all, so the kind may be named
    assert_rejected(engine, commands.take_fixed(1, 2, 50), Reject.UNKNOWN_ORDER)
    assert_rejected(engine, commands.take_fixed(2, 2, 100_000), Reject.WRONG_ORDER_KIND)
    assert_rejected(engine, commands.block_accept(3, 2, 100), Reject.WRONG_ORDER_KIND)
    assert_rejected(engine, commands.take_fixed(99, 2, 50), Reject.UNKNOWN_ORDER)
    assert ladder(engine, SC) == [(None, None, 5010, 100)]


def test_an_unknown_taker_is_rejected(engine):
    list_(engine, 1, SELL, 100, 5010, 10)
    assert_rejected(engine, commands.take_fixed(1, 1000, 50), Reject.UNKNOWN_ACCOUNT)   # max_accounts 1000


# ----------------------------------------------------------------------------- best listing
@pytest.mark.parametrize("side, best, worse", [(SELL, 5005, 5010), (BUY, 4995, 4990)])
def test_with_must_take_best_only_the_best_priced_listing_may_be_taken(engine, side, best, worse):
    list_(engine, 1, side, 100, worse, 10)              # order 1, listed first
    list_(engine, 2, side, 100, best, 10)               # order 2, the better price
    assert_rejected(engine, commands.take_fixed(1, 3, 10), Reject.NOT_BEST_LISTING)
    assert trades(take(engine, 2, 3, 100))[0][:2] == (best, 100)
    assert trades(take(engine, 1, 3, 10))[0][:2] == (worse, 10)      # now the best


def test_any_listing_at_the_best_price_may_be_taken(engine):
    list_(engine, 1, SELL, 100, 5005, 10)
    list_(engine, 2, SELL, 100, 5005, 10)
    assert trades(take(engine, 2, 3, 100)) == [(5005, 100, 3, 2)]    # the later one, by choice
    assert listing_ladder(engine, SC) == [(None, None, 5005, 100)]


def test_without_must_take_best_a_worse_listing_may_be_taken(impl):
    instruments = market()
    instruments[SC_I].must_take_best = False
    engine = impl(instruments)
    list_(engine, 1, SELL, 100, 5010, 10)
    list_(engine, 2, SELL, 100, 5005, 10)
    assert trades(take(engine, 1, 3, 10)) == [(5010, 10, 3, 1)]
    assert listing_ladder(engine, SC) == [(None, None, 5005, 100), (None, None, 5010, 90)]


# ----------------------------------------------------------------------------- cancel, reduce, replace
def test_a_listing_can_be_cancelled(engine):
    list_(engine, 1, SELL, 100, 5010, 10, client_order_id=4)
    take(engine, 1, 2, 30)
    events = engine.cancel(1, 1, ts=6, seq=3)
    assert as_dicts(events) == [
        event(CANCELLED, command=CommandType.CANCEL, seq=6, cmd_seq=3, ts=6, order_id=1, client_order_id=4,
              account=1, instrument=SC_I, side=SELL, order_type=OrderType.FIXED_LISTING,
              tif=TimeInForce.DAY, price=5010, qty=70, leaves=0, reason=CancelReason.USER),
        event(DEPTH, command=CommandType.CANCEL, seq=7, cmd_seq=3, ts=6, instrument=SC_I, side=SELL,
              price=5010, qty=0, count=0, trade_type=FIXED),
    ]
    assert listing_ladder(engine, SC) == []
    assert_rejected(engine, commands.take_fixed(1, 2, 10), Reject.UNKNOWN_ORDER)


def test_a_listing_can_be_reduced_but_only_by_its_owner(engine):
    list_(engine, 1, SELL, 100, 5010, 10)
    assert_rejected(engine, commands.reduce(1, 2, 40), Reject.UNKNOWN_ORDER)   # another's: as if it did not exist
    events = engine.reduce(1, 1, 40)
    assert kinds(events) == [REDUCED, DEPTH]
    assert rows(events, "order_type", "qty", "leaves", "trade_type") == [
        (OrderType.FIXED_LISTING, 60, 40, 0), (0, 40, 0, FIXED)]
    assert listing_ladder(engine, SC) == [(None, None, 5010, 40)]
    assert_rejected(engine, commands.take_fixed(1, 2, 41), Reject.EXCEEDS_REMAINING)


def test_a_listing_cannot_be_replaced(engine):
    list_(engine, 1, SELL, 100, 5010, 10)
    assert_rejected(engine, commands.replace(1, 1, 5005, 100), Reject.WRONG_ORDER_KIND)
    assert listing_ladder(engine, SC) == [(None, None, 5010, 100)]


# ----------------------------------------------------------------------------- phases
@pytest.mark.parametrize("status, reason", [
    (InstrumentStatus.PRE_OPEN, Reject.MARKET_CLOSED),
    (InstrumentStatus.CLOSED, Reject.MARKET_CLOSED),
    (InstrumentStatus.HALTED, Reject.INSTRUMENT_HALTED),
])
def test_taking_needs_the_market_to_be_trading(engine, status, reason):
    list_(engine, 1, SELL, 100, 5010, 10)
    engine.set_instrument_status(SC, status)
    assert_rejected(engine, commands.take_fixed(1, 2, 50), reason)
    engine.set_instrument_status(SC, InstrumentStatus.TRADING)
    assert trades(take(engine, 1, 2, 50)) == [(5010, 50, 2, 1)]


def test_listing_is_allowed_in_pre_open_but_not_when_closed_or_halted(engine):
    engine.set_instrument_status(SC, InstrumentStatus.PRE_OPEN)
    engine.submit(SC, 9, BUY, 10, 5020)                 # a continuous bid above the listing
    assert kinds(list_(engine, 1, SELL, 100, 5010, 10)) == [ACCEPTED, DEPTH]     # no WOULD_CROSS
    engine.set_instrument_status(SC, InstrumentStatus.CLOSED)
    assert_rejected(engine, commands.list_fixed(SC_I, 1, SELL, 100, 5010, 10), Reject.MARKET_CLOSED)
    engine.set_instrument_status(SC, InstrumentStatus.HALTED)
    assert_rejected(engine, commands.list_fixed(SC_I, 1, SELL, 100, 5010, 10), Reject.INSTRUMENT_HALTED)
    assert listing_ladder(engine, SC) == [(None, None, 5010, 100)]


@pytest.mark.parametrize("status", [InstrumentStatus.CLOSED, InstrumentStatus.HALTED])
def test_a_listing_can_be_cancelled_or_reduced_in_any_phase(engine, status):
    list_(engine, 1, SELL, 100, 5010, 10)
    list_(engine, 1, SELL, 100, 5010, 10)
    engine.set_instrument_status(SC, status)
    assert kinds(engine.reduce(1, 1, 40)) == [REDUCED, DEPTH]
    assert cancels(engine.cancel(2, 1)) == [(2, CancelReason.USER, 100)]
    assert listing_ladder(engine, SC) == [(None, None, 5010, 40)]


# ----------------------------------------------------------------------------- risk and fees
def test_a_sell_listing_freezes_its_units(make_engine):
    engine = risk_engine(make_engine, {1: (0, {SC: 150})})
    list_(engine, 1, SELL, 100, 5010, 10)
    assert units(engine, 1, SC) == (50, 100, 0, 0)
    assert_rejected(engine, commands.list_fixed(SC_I, 1, SELL, 51, 5010, 10), Reject.INSUFFICIENT_HOLDINGS)
    engine.check_invariants()


def test_a_buy_listing_freezes_its_notional_plus_the_fixed_buyer_fee(make_engine):
    # 20 x 5000 = 100,000 + floor(100,000 x 25 / 10,000 = 250) = 100,250
    engine = risk_engine(make_engine, {1: (100_249, {}), 2: (100_250, {})})
    assert_rejected(engine, commands.list_fixed(SC_I, 1, BUY, 20, 5000, 1), Reject.INSUFFICIENT_CASH)
    assert kinds(list_(engine, 2, BUY, 20, 5000, 1)) == [ACCEPTED, DEPTH]
    assert cash(engine, 2) == (0, 100_250)
    assert engine.account(2)["holdings"][SC]["buying"] == 20
    engine.check_invariants()


def test_a_fixed_trade_settles_with_the_fixed_fees(make_engine):
    engine = risk_engine(make_engine, {1: (0, {SC: 100}), 2: (1_000_000, {})})
    list_(engine, 1, SELL, 100, 5010, 10)
    events = take(engine, 1, 2, 40)
    # notional 40 x 5010 = 200,400; buyer floor(501.0) = 501; seller floor(8,016.0) = 8,016
    assert rows(only(events, TRADE), "price", "qty", "trade_type", "buy_fee", "sell_fee") == [
        (5010, 40, FIXED, 501, 8_016)]
    assert cash(engine, 2) == (1_000_000 - 200_400 - 501, 0) == (799_099, 0)
    assert units(engine, 2, SC) == (0, 0, 40, 0)                    # bought today: locked (T+1)
    assert cash(engine, 1) == (200_400 - 8_016, 0) == (192_384, 0)
    assert units(engine, 1, SC) == (0, 60, 0, 0)                    # the rest stays frozen
    assert engine.fees_collected == 501 + 8_016
    engine.check_invariants()


def test_a_buy_listing_taken_releases_exactly_what_the_fill_held(make_engine):
    engine = risk_engine(make_engine, {1: (1_000_000, {}), 2: (0, {SC: 50})})
    list_(engine, 1, BUY, 80, 4990, 10)                 # 399,200 + floor(998.0) = 400,198 held
    take(engine, 1, 2, 30)                              # 149,700 + floor(374.25) = 150,074 paid
    # leaves 50 hold 249,500 + floor(623.75) = 250,123; the spare 400,198 - 150,074 - 250,123 = 1
    # fen of fee rounding comes back at once
    assert cash(engine, 1) == (1_000_000 - 400_198 + 1, 250_123)
    assert units(engine, 1, SC) == (0, 0, 30, 0)
    assert cash(engine, 2) == (149_700 - 5_988, 0)                  # floor(149,700 x 4%) = 5,988
    assert units(engine, 2, SC) == (20, 0, 0, 0)
    engine.cancel(1, 1)
    assert cash(engine, 1) == (1_000_000 - 150_074, 0)
    engine.check_invariants()


def test_a_taker_must_be_funded(make_engine):
    # taking 10 at 5010 costs 50,100 + floor(125.25) = 50,225
    engine = risk_engine(make_engine, {1: (0, {SC: 100}), 2: (50_224, {}), 3: (0, {SC: 9}),
                                       4: (1_000_000, {})})
    list_(engine, 1, SELL, 100, 5010, 10)               # order 1
    list_(engine, 4, BUY, 10, 4990, 10)                 # order 2
    assert_rejected(engine, commands.take_fixed(1, 2, 10), Reject.INSUFFICIENT_CASH)
    assert_rejected(engine, commands.take_fixed(2, 3, 10), Reject.INSUFFICIENT_HOLDINGS)
    assert_rejected(engine, commands.take_fixed(1, 5, 10), Reject.UNKNOWN_ACCOUNT)    # never created
    engine.process(commands.deposit(2, 1))
    assert trades(take(engine, 1, 2, 10)) == [(5010, 10, 3, 1)]
    assert cash(engine, 2) == (0, 0)


def test_cancel_and_reduce_release_a_listings_hold(make_engine):
    engine = risk_engine(make_engine, {1: (0, {SC: 100}), 2: (100_250, {})})
    list_(engine, 1, SELL, 100, 5010, 10)
    list_(engine, 2, BUY, 20, 5000, 1)                  # holds 100,250
    engine.reduce(1, 1, 30)
    assert units(engine, 1, SC) == (70, 30, 0, 0)
    engine.reduce(2, 2, 8)                              # 40,000 + floor(100.0) = 40,100
    assert cash(engine, 2) == (60_150, 40_100)
    engine.cancel(1, 1)
    engine.cancel(2, 2)
    assert units(engine, 1, SC) == (100, 0, 0, 0)
    assert cash(engine, 2) == (100_250, 0)
    engine.check_invariants()


def test_a_fixed_trade_counts_in_the_days_fixed_volume_and_prices(engine):
    list_(engine, 1, SELL, 100, 5010, 10)
    list_(engine, 2, BUY, 100, 4980, 10)
    take(engine, 1, 3, 40)
    take(engine, 2, 4, 10)
    day = engine.daily(SC)
    assert (day["open"], day["high"], day["low"]) == (5010, 5010, 4980)
    assert day["volume"] == {"CONTINUOUS": 0, "FIXED": 50, "BLOCK": 0, "AUCTION": 0}
    assert day["amount"]["FIXED"] == 40 * 5010 + 10 * 4980 == 250_200
