"""Sealed-bid auctions: single-direction bidding (an initiator sells or buys a lot) and primary
allowance auctions (the issuer creates what it sells). Clearing follows EU Regulation
1031/2010 Art. 7: bids ranked by price (then time, or a seeded draw), the running total
reaching the volume at the marginal bid, uniform or pay-as-bid pricing, undersubscription
filled or failed, and primary auctions cancelled (too little volume, or a price too far below
the reference) with their volume rolled into the next four."""
import pytest

from helpers import (
    CQ, SC, as_dicts, assert_rejected, cancels, cash, event, kinds, ladder, listing_ladder, only,
    open_account, rows, state, trades, units,
)
from matching import (
    AuctionOutcome, CancelReason, CommandType, EventKind, InstrumentStatus, OrderType, Reject, Side,
    TimeInForce, TradeType, commands,
)
from matching.reference import splitmix64

BUY, SELL = Side.BUY, Side.SELL
ACCEPTED, TRADE, CANCELLED, RESULT = (EventKind.ACCEPTED, EventKind.TRADE, EventKind.CANCELLED,
                                      EventKind.AUCTION_RESULT)
AUCTION = TradeType.AUCTION
PAY_AS_BID, FAIL = commands.FLAG_PAY_AS_BID, commands.FLAG_FAIL_UNDERSUBSCRIBED
PRIMARY = commands.FLAG_PRIMARY
COMPLIANCE_ONLY, RANDOM_TIES = commands.FLAG_COMPLIANCE_ONLY, commands.FLAG_RANDOM_TIES
CLEARED, UNDERSUBSCRIBED, FAILED, CANCELLED_VOLUME, CANCELLED_PRICE = (
    AuctionOutcome.CLEARED, AuctionOutcome.UNDERSUBSCRIBED, AuctionOutcome.FAILED,
    AuctionOutcome.CANCELLED_VOLUME, AuctionOutcome.CANCELLED_PRICE)
BY_AUCTION = CancelReason.AUCTION
SC_I, CQ_I = 0, 1
ISSUER = 900
RICH = 10**12
AUCTION_FEES = (10, 20)         # buyer 0.10%, seller 0.20%


def open_auction(engine, account, side, volume, reserve, min_bid, cap=0, flags=0, cancel_bps=0, seed=0,
                 symbol=SC, **kwargs):
    return engine.process(commands.auction_open(engine.instrument_index(symbol), account, side, volume,
                                                reserve, min_bid, cap, flags, cancel_bps, seed, **kwargs))


def bid(engine, auction_id, account, qty, price, **kwargs):
    events = engine.process(commands.auction_bid(auction_id, account, qty, price, **kwargs))
    assert kinds(events) == [ACCEPTED], "the bid was refused"
    return events


def close(engine, symbol=SC, **kwargs):
    return engine.process(commands.auction_close(engine.instrument_index(symbol), **kwargs))


def result(events):
    """The AUCTION_RESULT as ``(outcome, price, sold, unsold, volume bid, bid count)``."""
    return rows(only(events, RESULT), "reason", "price", "qty", "leaves", "value", "count")[0]


# Five bids for 1,000 t offered by account 1 at a reserve of 40.00 (lot = order 1):
#   order  account  qty  price   rank  running total
#   2      11       300  4500    2     500
#   3      12       200  4800    1     200
#   4      13       400  4300    3     900
#   5      14       300  4200    4     1200  >= 1000: the marginal bid, fills 100
#   6      15       200  4100    5     -     nothing
FIVE_BIDS = [(11, 300, 4500), (12, 200, 4800), (13, 400, 4300), (14, 300, 4200), (15, 200, 4100)]


def five_bid_auction(engine, flags=0):
    open_auction(engine, 1, SELL, 1000, 4000, 100, flags=flags)
    for account, qty, price in FIVE_BIDS:
        bid(engine, 1, account, qty, price, client_order_id=account)
    return engine


# ----------------------------------------------------------------------------- clearing
def test_opening_an_auction_and_bidding_in_full(engine):
    events = open_auction(engine, 1, SELL, 1000, 4000, 100, seed=77, ts=2, seq=3)
    assert as_dicts(events) == [event(
        ACCEPTED, command=CommandType.AUCTION_OPEN, seq=1, cmd_seq=3, ts=2, order_id=1, account=1,
        instrument=SC_I, side=SELL, order_type=OrderType.AUCTION_LOT, tif=TimeInForce.GTC, price=4000,
        qty=1000, leaves=1000, value=77)]                       # the tie-break seed, recorded
    events = engine.process(commands.auction_bid(1, 11, 300, 4500, client_order_id=8, ts=3, seq=4))
    assert as_dicts(events) == [event(
        ACCEPTED, command=CommandType.AUCTION_BID, seq=2, cmd_seq=4, ts=3, order_id=2, client_order_id=8,
        account=11, instrument=SC_I, side=BUY, order_type=OrderType.AUCTION_BID, tif=TimeInForce.GTC,
        price=4500, qty=300, leaves=300)]                       # sealed: no DEPTH


def test_the_eu_clearing_rule_in_full(engine):
    five_bid_auction(engine)                                    # events 1-6
    events = close(engine, ts=20, seq=30)
    common = dict(command=CommandType.AUCTION_CLOSE, cmd_seq=30, ts=20, instrument=SC_I)

    def fill(seq, trade_id, qty, bid_id, account, bid_leaves, lot_leaves):
        return event(TRADE, seq=seq, trade_id=trade_id, price=4200, qty=qty, side=SELL, trade_type=AUCTION,
                     buy_order_id=bid_id, sell_order_id=1, buy_account=account, sell_account=1,
                     buy_leaves=bid_leaves, sell_leaves=lot_leaves, **common)

    def unfilled(seq, bid_id, account, price, qty):
        return event(CANCELLED, seq=seq, order_id=bid_id, client_order_id=account, account=account, side=BUY,
                     order_type=OrderType.AUCTION_BID, tif=TimeInForce.GTC, price=price, qty=qty, leaves=0,
                     reason=BY_AUCTION, **common)

    assert as_dicts(events) == [
        # everyone pays the marginal bid's 4200; the lot goes 1000 -> 800 -> 500 -> 100 -> 0
        fill(7, 1, 200, 3, 12, 0, 800),
        fill(8, 2, 300, 2, 11, 0, 500),
        fill(9, 3, 400, 4, 13, 0, 100),
        fill(10, 4, 100, 5, 14, 200, 0),                        # the marginal bid: what is left
        unfilled(11, 5, 14, 4200, 200),
        unfilled(12, 6, 15, 4100, 200),                         # below the clearing price: nothing
        event(RESULT, seq=13, order_id=1, account=1, side=SELL, reason=CLEARED, price=4200, qty=1000,
              leaves=0, value=1400, count=5, **common),
    ]
    assert engine.resting_orders == 0
    assert_rejected(engine, commands.auction_bid(1, 11, 100, 4500), Reject.NO_AUCTION)


def test_uniform_and_pay_as_bid_on_the_same_bids(make_engine):
    uniform = five_bid_auction(make_engine())
    pay_as_bid = five_bid_auction(make_engine(), flags=PAY_AS_BID)
    uniform_events, pab_events = close(uniform), close(pay_as_bid)
    assert trades(uniform_events) == [(4200, 200, 3, 1), (4200, 300, 2, 1), (4200, 400, 4, 1),
                                      (4200, 100, 5, 1)]
    assert trades(pab_events) == [(4800, 200, 3, 1), (4500, 300, 2, 1), (4300, 400, 4, 1),
                                  (4200, 100, 5, 1)]
    # the same winners and quantities; the seller takes 1000 x 4200 = 4,200,000 against
    # 960,000 + 1,350,000 + 1,720,000 + 420,000 = 4,450,000
    assert sum(p * q for p, q, _, _ in trades(uniform_events)) == 4_200_000
    assert sum(p * q for p, q, _, _ in trades(pab_events)) == 4_450_000
    assert cancels(uniform_events) == cancels(pab_events) == [(5, BY_AUCTION, 200), (6, BY_AUCTION, 200)]
    assert result(uniform_events) == result(pab_events) == (CLEARED, 4200, 1000, 0, 1400, 5)


def test_a_bid_exactly_reaching_the_volume_is_the_marginal_bid_and_fills_in_full(engine):
    open_auction(engine, 1, SELL, 500, 4000, 100)
    bid(engine, 1, 11, 200, 4600)
    bid(engine, 1, 12, 300, 4400)                               # running total exactly 500
    bid(engine, 1, 13, 300, 4400)                               # same price, later: nothing
    events = close(engine)
    assert trades(events) == [(4400, 200, 2, 1), (4400, 300, 3, 1)]
    assert cancels(events) == [(4, BY_AUCTION, 300)]
    assert result(events) == (CLEARED, 4400, 500, 0, 800, 3)


def test_a_bid_at_the_reserve_may_set_the_price(engine):
    open_auction(engine, 1, SELL, 500, 4000, 100)
    bid(engine, 1, 11, 400, 4300)
    bid(engine, 1, 12, 400, 4000)
    assert trades(close(engine)) == [(4000, 400, 2, 1), (4000, 100, 3, 1)]


def test_a_buying_auction_takes_the_lowest_offers_first(engine):
    # account 1 buys 1000 at up to 50.00: offers at or below the reserve, cheapest first
    open_auction(engine, 1, BUY, 1000, 5000, 100)
    bid(engine, 1, 11, 400, 4800)                               # order 2: rank 2, total 900
    bid(engine, 1, 12, 300, 4900)                               # order 3: rank 3, marginal: 100
    bid(engine, 1, 13, 500, 4700)                               # order 4: rank 1, total 500
    assert_rejected(engine, commands.auction_bid(1, 14, 200, 5001), Reject.BELOW_RESERVE)
    bid(engine, 1, 14, 200, 5000)                               # order 5: at the reserve, last
    events = close(engine)
    assert trades(events) == [(4900, 500, 1, 4), (4900, 400, 1, 2), (4900, 100, 1, 3)]
    assert rows(only(events, TRADE), "side", "trade_type", "buy_account", "sell_account") == [
        (BUY, AUCTION, 1, 13), (BUY, AUCTION, 1, 11), (BUY, AUCTION, 1, 12)]
    assert cancels(events) == [(3, BY_AUCTION, 200), (5, BY_AUCTION, 200)]
    assert rows(only(events, RESULT), "side", "reason", "price", "qty", "leaves", "value", "count") == [
        (BUY, CLEARED, 4900, 1000, 0, 1400, 4)]


def test_a_buying_auction_pay_as_bid_pays_each_offer_its_price(engine):
    open_auction(engine, 1, BUY, 1000, 5000, 100, flags=PAY_AS_BID)
    bid(engine, 1, 11, 400, 4800)
    bid(engine, 1, 12, 300, 4900)
    bid(engine, 1, 13, 500, 4700)
    assert trades(close(engine)) == [(4700, 500, 1, 4), (4800, 400, 1, 2), (4900, 100, 1, 3)]


# ----------------------------------------------------------------------------- undersubscribed
def undersubscribed(engine, flags=0):
    """1000 offered, 500 bid: 300 at 4500 (order 2) and 200 at 4300 (order 3)."""
    open_auction(engine, 1, SELL, 1000, 4000, 100, flags=flags)
    bid(engine, 1, 11, 300, 4500)
    bid(engine, 1, 12, 200, 4300)
    return close(engine)


def test_an_undersubscribed_auction_fills_every_bid_at_the_lowest_bid_price(engine):
    events = undersubscribed(engine)
    assert trades(events) == [(4300, 300, 2, 1), (4300, 200, 3, 1)]
    assert cancels(events) == []
    assert result(events) == (UNDERSUBSCRIBED, 4300, 500, 500, 500, 2)


def test_an_undersubscribed_pay_as_bid_auction_fills_every_bid_at_its_price(engine):
    events = undersubscribed(engine, PAY_AS_BID)
    assert trades(events) == [(4500, 300, 2, 1), (4300, 200, 3, 1)]
    assert result(events) == (UNDERSUBSCRIBED, 4300, 500, 500, 500, 2)


@pytest.mark.parametrize("flags", [FAIL, FAIL | PAY_AS_BID])
def test_an_undersubscribed_auction_fails_when_told_to(engine, flags):
    events = undersubscribed(engine, flags)
    assert kinds(events) == [CANCELLED, CANCELLED, RESULT]
    assert cancels(events) == [(2, BY_AUCTION, 300), (3, BY_AUCTION, 200)]
    assert result(events) == (FAILED, 4300, 0, 1000, 500, 2)         # the price it would have cleared at
    assert engine.resting_orders == 0


def test_a_fully_subscribed_auction_clears_even_with_the_fail_flag(engine):
    open_auction(engine, 1, SELL, 500, 4000, 100, flags=FAIL)
    bid(engine, 1, 11, 500, 4100)
    assert result(close(engine)) == (CLEARED, 4100, 500, 0, 500, 1)


def test_an_auction_without_bids_sells_nothing(engine):
    open_auction(engine, 1, SELL, 500, 4000, 100)
    events = close(engine)
    assert kinds(events) == [RESULT]
    assert result(events) == (UNDERSUBSCRIBED, 0, 0, 500, 0, 0)


# ----------------------------------------------------------------------------- ties
def three_ties(engine, flags=0, seed=0):
    """Auction 1 of 250 t: order 2 bids 100 @ 4600, then orders 3, 4, 5 bid 100 @ 4500 each."""
    open_auction(engine, 1, SELL, 250, 4000, 100, flags=flags, seed=seed)
    bid(engine, 1, 11, 100, 4600)
    for account in (12, 13, 14):
        bid(engine, 1, account, 100, 4500)
    return close(engine)


def test_equal_bids_rank_by_time(engine):
    events = three_ties(engine)
    assert trades(events) == [(4500, 100, 2, 1), (4500, 100, 3, 1), (4500, 50, 4, 1)]
    assert cancels(events) == [(4, BY_AUCTION, 50), (5, BY_AUCTION, 100)]


def test_equal_bids_rank_by_the_seeded_draw_with_random_ties(engine):
    seed = 11
    draw_order = sorted([3, 4, 5], key=lambda order_id: splitmix64(seed ^ order_id))
    assert draw_order != [3, 4, 5]                              # the draw must change the order here
    first, second, third = draw_order
    events = three_ties(engine, RANDOM_TIES, seed)
    # the better price keeps its place; only the tie at 4500 is drawn
    assert trades(events) == [(4500, 100, 2, 1), (4500, 100, first, 1), (4500, 50, second, 1)]
    assert cancels(events) == [(second, BY_AUCTION, 50), (third, BY_AUCTION, 100)]


def test_the_seeded_draw_is_repeatable_and_depends_on_the_seed(make_engine):
    by_seed = {}
    for seed in (11, 12):
        by_seed[seed] = trades(three_ties(make_engine(), RANDOM_TIES, seed))
        assert trades(three_ties(make_engine(), RANDOM_TIES, seed)) == by_seed[seed]
    assert [sorted([3, 4, 5], key=lambda i: splitmix64(s ^ i)) for s in (11, 12)] == [[5, 4, 3], [3, 4, 5]]
    assert [t[2] for t in by_seed[11]] == [2, 5, 4]
    assert [t[2] for t in by_seed[12]] == [2, 3, 4]


# ----------------------------------------------------------------------------- bids
def test_bids_are_irrevocable(engine):
    open_auction(engine, 1, SELL, 1000, 4000, 100)
    bid(engine, 1, 11, 300, 4500)
    assert_rejected(engine, commands.cancel(2, 11), Reject.WRONG_ORDER_KIND)
    assert_rejected(engine, commands.reduce(2, 11, 200), Reject.WRONG_ORDER_KIND)
    assert_rejected(engine, commands.replace(2, 11, 4600, 300), Reject.WRONG_ORDER_KIND)
    assert_rejected(engine, commands.cancel(2, 12), Reject.UNKNOWN_ORDER)     # another's bid: as if none
    assert_rejected(engine, commands.cancel(1, 1), Reject.UNKNOWN_ORDER)      # nor is the lot an order


def test_a_bid_below_the_reserve_is_rejected(engine):
    open_auction(engine, 1, SELL, 1000, 4000, 100)
    assert_rejected(engine, commands.auction_bid(1, 11, 300, 3999), Reject.BELOW_RESERVE)
    bid(engine, 1, 11, 300, 4000)


def test_auction_prices_need_not_be_in_the_daily_band(engine):
    open_auction(engine, 1, SELL, 1000, 4000, 100)
    bid(engine, 1, 11, 300, 6000)                               # above the band's 5500
    assert_rejected(engine, commands.auction_bid(1, 11, 300, 0), Reject.BAD_PRICE)
    assert trades(close(engine)) == [(6000, 300, 2, 1)]


def test_a_bid_below_the_minimum_bid_is_rejected(engine):
    open_auction(engine, 1, SELL, 1000, 4000, 100)
    assert_rejected(engine, commands.auction_bid(1, 11, 99, 4500), Reject.BELOW_MINIMUM)
    bid(engine, 1, 11, 100, 4500)


def test_a_bid_is_on_the_lot_and_the_tick(engine):
    open_auction(engine, 1, SELL, 1000, 2900, 100, symbol=CQ)
    assert_rejected(engine, commands.auction_bid(1, 11, 150, 3000), Reject.OFF_LOT_QUANTITY)
    assert_rejected(engine, commands.auction_bid(1, 11, 200, 3005), Reject.OFF_TICK_PRICE)
    bid(engine, 1, 11, 200, 3000)


def test_a_bidders_bids_add_up_to_at_most_the_cap(engine):
    open_auction(engine, 1, SELL, 1000, 4000, 100, cap=500)
    bid(engine, 1, 11, 300, 4500)
    assert_rejected(engine, commands.auction_bid(1, 11, 201, 4100), Reject.BIDDER_CAP)
    bid(engine, 1, 11, 200, 4100)                               # exactly the cap
    assert_rejected(engine, commands.auction_bid(1, 11, 100, 4800), Reject.BIDDER_CAP)
    assert_rejected(engine, commands.auction_bid(1, 12, 600, 4800), Reject.BIDDER_CAP)
    bid(engine, 1, 12, 500, 4800)                               # each bidder has its own cap


def test_with_an_eligibility_list_only_listed_accounts_may_bid(engine):
    open_auction(engine, 1, SELL, 1000, 4000, 100)
    bid(engine, 1, 12, 100, 4500)                               # no list yet: anyone
    events = engine.process(commands.auction_eligible(1, 11, ts=5, seq=6))
    assert as_dicts(events) == [event(EventKind.ACCOUNT_UPDATED, command=CommandType.AUCTION_ELIGIBLE,
                                      seq=3, cmd_seq=6, ts=5, account=11, order_id=1, value=1)]
    assert_rejected(engine, commands.auction_bid(1, 12, 100, 4500), Reject.NOT_ELIGIBLE)
    bid(engine, 1, 11, 100, 4500)
    engine.process(commands.auction_eligible(1, 12))
    bid(engine, 1, 12, 100, 4500)
    assert_rejected(engine, commands.auction_eligible(1, 1000), Reject.UNKNOWN_ACCOUNT)
    assert_rejected(engine, commands.auction_eligible(9, 13), Reject.NO_AUCTION)


def test_the_initiator_may_not_bid(engine):
    open_auction(engine, 1, SELL, 1000, 4000, 100)
    assert_rejected(engine, commands.auction_bid(1, 1, 300, 4500), Reject.SELF_TAKE)


def test_one_open_auction_per_instrument(engine):
    open_auction(engine, 1, SELL, 1000, 4000, 100)
    assert_rejected(engine, commands.auction_open(SC_I, 2, BUY, 500, 5000, 100), Reject.AUCTION_IN_PROGRESS)
    assert kinds(open_auction(engine, 2, SELL, 500, 2900, 100, symbol=CQ)) == [ACCEPTED]     # auction 2
    bid(engine, 2, 11, 500, 2900)                               # bids go to the auction named
    close(engine)
    assert kinds(open_auction(engine, 2, BUY, 500, 5000, 100)) == [ACCEPTED]                # after close


def test_an_unknown_auction_is_rejected(engine):
    engine.submit(SC, 1, SELL, 10, 5000)                        # order 1: not an auction
    assert_rejected(engine, commands.auction_bid(1, 11, 100, 5000), Reject.NO_AUCTION)
    assert_rejected(engine, commands.auction_bid(99, 11, 100, 5000), Reject.NO_AUCTION)
    assert_rejected(engine, commands.auction_close(SC_I), Reject.NO_AUCTION)
    assert_rejected(engine, commands.auction_close(3), Reject.UNKNOWN_INSTRUMENT)


@pytest.mark.parametrize("volume, min_bid, cap, cancel_bps, reason", [
    (1000, 1001, 0, 0, Reject.BAD_QUANTITY),                    # the minimum bid above the volume
    (1000, 0, 0, 0, Reject.BAD_QUANTITY),
    (1000, 100, 99, 0, Reject.BAD_QUANTITY),                    # a cap below the minimum bid
    (0, 0, 0, 0, Reject.BAD_QUANTITY),
    (1000, 100, 0, 10_001, Reject.BAD_PRICE),
])
def test_an_auction_is_validated_when_it_opens(engine, volume, min_bid, cap, cancel_bps, reason):
    assert_rejected(engine, commands.auction_open(SC_I, 1, SELL, volume, 4000, min_bid, cap, 0, cancel_bps),
                    reason)


def test_a_primary_auction_sells(engine):
    assert_rejected(engine, commands.auction_open(SC_I, ISSUER, BUY, 1000, 4000, 100, flags=PRIMARY),
                    Reject.BAD_SIDE)


def test_a_halted_instrument_takes_no_auction_or_bids(engine):
    open_auction(engine, 1, SELL, 1000, 4000, 100, symbol=CQ)
    engine.set_instrument_status(SC, InstrumentStatus.HALTED)
    engine.set_instrument_status(CQ, InstrumentStatus.HALTED)
    assert_rejected(engine, commands.auction_open(SC_I, 1, SELL, 1000, 4000, 100), Reject.INSTRUMENT_HALTED)
    assert_rejected(engine, commands.auction_bid(1, 11, 100, 4000), Reject.INSTRUMENT_HALTED)


def test_bids_are_sealed(engine):
    engine.submit(SC, 5, BUY, 10, 4900)
    assert kinds(open_auction(engine, 1, SELL, 1000, 4000, 100)) == [ACCEPTED]
    for account, qty, price in FIVE_BIDS:
        assert kinds(engine.process(commands.auction_bid(2, account, qty, price))) == [ACCEPTED]
    assert ladder(engine, SC) == [(10, 4900, None, None)]       # the bids are in neither book
    assert listing_ladder(engine, SC) == []
    events = close(engine)
    assert EventKind.DEPTH not in kinds(events)
    assert ladder(engine, SC) == [(10, 4900, None, None)]


# ----------------------------------------------------------------------------- primary auctions
def test_a_cancelled_primary_auction_rolls_its_volume_into_the_next_four(engine):
    # CQ lots are 100 t: 1000 t is 10 lots, 10 = 4 x 2 + 2, so the next four get 3, 3, 2, 2 lots
    open_auction(engine, ISSUER, SELL, 1000, 2500, 100, flags=PRIMARY, symbol=CQ)     # auction 1
    bid(engine, 1, 11, 500, 2600)
    bid(engine, 1, 12, 300, 2550)
    events = close(engine, CQ)
    assert kinds(events) == [CANCELLED, CANCELLED, RESULT]
    assert cancels(events) == [(2, BY_AUCTION, 500), (3, BY_AUCTION, 300)]
    assert result(events) == (CANCELLED_VOLUME, 2550, 0, 1000, 800, 2)
    volumes = []
    for n in range(5):
        events = open_auction(engine, ISSUER, SELL, 1000, 2500, 100, flags=PRIMARY, symbol=CQ)
        (auction_id, volume), = rows(events, "order_id", "qty")
        volumes.append(volume)
        bid(engine, auction_id, 11, volume, 2500)               # clears: nothing more rolls over
        assert result(close(engine, CQ))[0] == CLEARED
        if n == 0:                                              # a non-primary auction takes no share
            events = open_auction(engine, 1, SELL, 500, 2500, 100, symbol=CQ)
            assert rows(events, "qty", "leaves") == [(500, 500)]
            close(engine, CQ)
    assert volumes == [1300, 1300, 1200, 1200, 1000]


def test_rolled_volume_that_is_cancelled_again_rolls_on(engine):
    # SC lots are 1 t: 1002 = 4 x 250 + 2 -> 251, 251, 250, 250
    open_auction(engine, ISSUER, SELL, 1002, 4000, 1, flags=PRIMARY)
    close(engine)
    # the next one offers 1000 + 251 = 1251 and is cancelled too: 1251 = 4 x 312 + 3
    events = open_auction(engine, ISSUER, SELL, 1000, 4000, 1, flags=PRIMARY)
    assert rows(events, "qty") == [(1251,)]
    assert result(close(engine)) == (CANCELLED_VOLUME, 0, 0, 1251, 0, 0)
    volumes = []
    for _ in range(5):
        (auction_id, volume), = rows(open_auction(engine, ISSUER, SELL, 1000, 4000, 1, flags=PRIMARY),
                                     "order_id", "qty")
        volumes.append(volume)
        bid(engine, auction_id, 11, volume, 4000)
        assert result(close(engine))[0] == CLEARED
    # slots after the first cancel: [251, 250, 250, 0]; plus [313, 313, 313, 312]
    assert volumes == [1000 + 251 + 313, 1000 + 250 + 313, 1000 + 250 + 313, 1000 + 312, 1000]


@pytest.mark.parametrize("symbol, clearing, outcome, rolled", [
    # CQ: reference 3005, 10% below is 2704.5; tick 10
    (CQ, 2700, CANCELLED_PRICE, 300),   # 2700 x 10,000 < 3005 x 9,000: more than 10% below; 10 lots -> 3
    (CQ, 2710, CLEARED, 0),             # 27,100,000 >= 27,045,000
    # SC: reference 5000, 10% below is exactly 4500
    (SC, 4499, CANCELLED_PRICE, 250),   # 1000 lots of 1 t -> 250 each
    (SC, 4500, CLEARED, 0),             # exactly 10% below is not more than 10% below
])
def test_a_primary_auction_clearing_too_far_below_the_reference_is_cancelled(
        engine, symbol, clearing, outcome, rolled):
    open_auction(engine, ISSUER, SELL, 1000, 2000, 100, flags=PRIMARY, cancel_bps=1000, symbol=symbol)
    bid(engine, 1, 11, 600, 4600 if symbol == SC else 3000)
    bid(engine, 1, 12, 600, clearing)                           # the marginal bid sets the price
    events = close(engine, symbol)
    if outcome == CLEARED:
        assert trades(events) == [(clearing, 600, 2, 1), (clearing, 400, 3, 1)]
        assert result(events) == (CLEARED, clearing, 1000, 0, 1200, 2)
    else:
        assert trades(events) == []
        assert cancels(events) == [(2, BY_AUCTION, 600), (3, BY_AUCTION, 600)]
        assert result(events) == (CANCELLED_PRICE, clearing, 0, 1000, 1200, 2)   # the price that failed
    events = open_auction(engine, ISSUER, SELL, 1000, 2000, 100, flags=PRIMARY, symbol=symbol)
    (volume,), = rows(events, "qty")
    assert volume == 1000 + rolled


def test_the_price_test_is_off_without_a_threshold_and_for_other_auctions(engine):
    open_auction(engine, ISSUER, SELL, 1000, 2000, 100, flags=PRIMARY, symbol=CQ)
    bid(engine, 1, 11, 1000, 2000)                              # a third below the reference
    assert result(close(engine, CQ))[0] == CLEARED
    open_auction(engine, 1, SELL, 1000, 2000, 100, cancel_bps=1000, symbol=CQ)   # not primary
    bid(engine, 3, 11, 1000, 2000)
    assert result(close(engine, CQ))[0] == CLEARED


# ----------------------------------------------------------------------------- risk
@pytest.fixture
def funded(make_engine):
    """Risk on, AUCTION fees 10/20 bps. Account 1 holds 1000 SC; bidders 11-15 are rich;
    the issuer exists and holds nothing."""
    engine = make_engine(risk=True, fees={TradeType.AUCTION: AUCTION_FEES})
    open_account(engine, 1, cash=RICH, units={SC: 1000})
    for account in (11, 12, 13, 14, 15):
        open_account(engine, account, cash=RICH, units={SC: 1000})
    open_account(engine, ISSUER)
    return engine


def test_the_initiators_lot_is_frozen_for_the_auctions_life(funded):
    assert_rejected(funded, commands.auction_open(SC_I, 1, SELL, 1001, 4000, 100),
                    Reject.INSUFFICIENT_HOLDINGS)
    open_auction(funded, 1, SELL, 800, 4000, 100)
    assert units(funded, 1, SC) == (200, 800, 0, 0)
    assert_rejected(funded, commands.new_order(SC_I, 1, SELL, 201, 5000), Reject.INSUFFICIENT_HOLDINGS)
    funded.check_invariants()
    bid(funded, 1, 11, 300, 4500)
    bid(funded, 1, 12, 200, 4300)
    events = close(funded)
    assert result(events) == (UNDERSUBSCRIBED, 4300, 500, 300, 500, 2)
    # sold 500 at 4300 = 2,150,000 less floor(4,300) seller fee; the unsold 300 come back
    assert units(funded, 1, SC) == (500, 0, 0, 0)
    assert cash(funded, 1) == (RICH + 2_150_000 - 4_300, 0)
    funded.check_invariants()


def test_a_bid_holds_its_price_and_pays_the_clearing_price(funded):
    open_auction(funded, 1, SELL, 500, 4000, 100)
    bid(funded, 1, 11, 300, 4500)                               # 1,350,000 + floor(1,350) = 1,351,350
    assert cash(funded, 11) == (RICH - 1_351_350, 1_351_350)
    assert_rejected(funded, commands.auction_bid(1, 16, 100, 4500), Reject.UNKNOWN_ACCOUNT)
    bid(funded, 1, 12, 300, 4200)
    events = close(funded)
    # 300 x 4200 = 1,260,000 + floor(1,260) = 1,261,260; seller fee floor(2,520)
    assert rows(only(events, TRADE), "price", "qty", "buy_fee", "sell_fee") == [
        (4200, 300, 1_260, 2_520), (4200, 200, 840, 1_680)]
    assert cash(funded, 11) == (RICH - 1_261_260, 0)
    assert cash(funded, 12) == (RICH - 840_840, 0)              # the 100 not filled is released too
    assert units(funded, 11, SC) == (1000, 0, 300, 0)           # bought today: locked
    funded.check_invariants()


def test_a_bid_needs_the_cash_for_its_price_plus_the_fee(make_engine):
    engine = make_engine(risk=True, fees={TradeType.AUCTION: AUCTION_FEES})
    open_account(engine, 1, units={SC: 1000})
    open_account(engine, 11, cash=450_449)                      # 100 x 4500 + floor(450) = 450,450
    open_auction(engine, 1, SELL, 1000, 4000, 100)
    assert_rejected(engine, commands.auction_bid(1, 11, 100, 4500), Reject.INSUFFICIENT_CASH)
    bid(engine, 1, 11, 100, 4499)


def test_a_failed_auction_releases_every_bid_and_the_lot(funded):
    open_auction(funded, 1, SELL, 800, 4000, 100, flags=FAIL)
    bid(funded, 1, 11, 300, 4500)
    bid(funded, 1, 12, 200, 4300)
    assert result(close(funded)) == (FAILED, 4300, 0, 800, 500, 2)
    assert [cash(funded, a) for a in (1, 11, 12)] == [(RICH, 0)] * 3
    assert [units(funded, a, SC) for a in (1, 11, 12)] == [(1000, 0, 0, 0)] * 3
    assert funded.fees_collected == 0
    funded.check_invariants()


def test_a_buying_auction_holds_the_initiators_cash(funded):
    open_auction(funded, 1, BUY, 1000, 5000, 100)               # 5,000,000 + floor(5,000) held
    assert cash(funded, 1) == (RICH - 5_005_000, 5_005_000)
    bid(funded, 1, 11, 600, 4800)
    assert units(funded, 11, SC) == (400, 600, 0, 0)            # an offer freezes its units
    bid(funded, 1, 12, 600, 4900)
    funded.check_invariants()
    events = close(funded)
    assert trades(events) == [(4900, 600, 1, 2), (4900, 400, 1, 3)]
    # paid 1000 x 4900 = 4,900,000 + floor(4,900)
    assert cash(funded, 1) == (RICH - 4_904_900, 0)
    assert units(funded, 1, SC) == (1000, 0, 1000, 0)
    assert units(funded, 12, SC) == (600, 0, 0, 0)              # 200 not sold come back
    funded.check_invariants()


def test_a_primary_auction_creates_the_allowances_it_sells(funded):
    credits_before = state(funded)[0]["net_credits"][SC_I]
    assert units(funded, ISSUER, SC) == (0, 0, 0, 0)
    open_auction(funded, ISSUER, SELL, 1000, 4000, 100, flags=PRIMARY)
    assert units(funded, ISSUER, SC) == (0, 0, 0, 0)            # nothing is held for it
    funded.check_invariants()
    bid(funded, 1, 11, 600, 4400)
    bid(funded, 1, 12, 600, 4200)
    events = close(funded)
    assert trades(events) == [(4200, 600, 2, 1), (4200, 400, 3, 1)]
    assert state(funded)[0]["net_credits"][SC_I] == credits_before + 1000
    assert units(funded, ISSUER, SC) == (0, 0, 0, 0)
    # 2,520,000 + 1,680,000 less the seller fees floor(5,040.0) + floor(3,360.0)
    assert cash(funded, ISSUER) == (4_200_000 - 8_400, 0)
    assert units(funded, 11, SC) == (1000, 0, 600, 0)
    assert units(funded, 12, SC) == (1000, 0, 400, 0)
    funded.check_invariants()


def test_a_cancelled_primary_auction_creates_nothing(funded):
    credits_before = state(funded)[0]["net_credits"]
    open_auction(funded, ISSUER, SELL, 1000, 4000, 100, flags=PRIMARY)
    bid(funded, 1, 11, 600, 4400)
    assert result(close(funded)) == (CANCELLED_VOLUME, 4400, 0, 1000, 600, 1)
    assert state(funded)[0]["net_credits"] == credits_before
    assert cash(funded, 11) == (RICH, 0)
    funded.check_invariants()


def test_compliance_only_units_are_non_tradable(funded):
    open_auction(funded, ISSUER, SELL, 500, 4000, 100, flags=PRIMARY | COMPLIANCE_ONLY)
    bid(funded, 1, 11, 500, 4000)
    close(funded)
    assert units(funded, 11, SC) == (1000, 0, 0, 500)
    funded.process(commands.end_of_day(SC_I))
    assert units(funded, 11, SC) == (1000, 0, 0, 500)           # not released by T+1
    assert_rejected(funded, commands.new_order(SC_I, 11, SELL, 1001, 5000), Reject.INSUFFICIENT_HOLDINGS)
    funded.check_invariants()


def test_the_primary_auction_issuer_must_exist_with_risk_on(funded):
    assert_rejected(funded, commands.auction_open(SC_I, 901, SELL, 1000, 4000, 100, flags=PRIMARY),
                    Reject.UNKNOWN_ACCOUNT)


def test_auction_trades_count_in_the_days_auction_volume_only(engine):
    five_bid_auction(engine)
    close(engine)
    day = engine.daily(SC)
    assert (day["open"], day["high"], day["low"]) == (0, 0, 0)
    assert day["volume"]["AUCTION"] == 1000 and day["amount"]["AUCTION"] == 4_200_000


def test_a_bidder_may_bid_no_more_than_its_compliance_shortfall(funded):
    # Chongqing 2024: only entities short of allowances bid, each capped at its shortfall.
    # Account 11 holds 1000 SC and must surrender 1600: its shortfall is 600.
    events = funded.process(commands.set_obligation(11, SC_I, 1600))
    assert rows(events, "kind", "account", "instrument", "qty") == [(EventKind.ACCOUNT_UPDATED, 11, SC_I, 1600)]
    assert funded.account(11)["holdings"][SC]["obligation"] == 1600
    open_auction(funded, ISSUER, SELL, 1000, 4000, 100, flags=PRIMARY | commands.FLAG_CAP_SHORTFALL)
    bid(funded, 1, 11, 400, 4100)
    assert_rejected(funded, commands.auction_bid(1, 11, 300, 4100), Reject.BIDDER_CAP)    # 700 > 600
    bid(funded, 1, 11, 200, 4050)                                                          # 600 in all
    # account 12 has no obligation, so no shortfall: it may not bid at all
    assert_rejected(funded, commands.auction_bid(1, 12, 100, 4100), Reject.BIDDER_CAP)
    funded.check_invariants()
