"""Trading phases (TRADING, HALTED, CLOSED, PRE_OPEN) and what each allows; the end of day: the
day's statistics (open, high, low, the VWAP close of continuous and fixed-price trades, volume
and amount by trade type), the close re-centring the next day's band, expiries, the T+1 release
and a fresh day."""
import pytest

from helpers import (
    CER, CQ, SC, as_dicts, assert_rejected, cancels, event, kinds, ladder, listing_ladder, market, only,
    open_account, rows, trades, units,
)
from matching import (
    CancelReason, CommandType, EventKind, InstrumentParameter, InstrumentStatus, OrderType, Reject, Side, TimeInForce,
    TradeType, commands, price_band,
)

BUY, SELL = Side.BUY, Side.SELL
MARKET = OrderType.MARKET
GTC, DAY, IOC, FOK = TimeInForce.GTC, TimeInForce.DAY, TimeInForce.IOC, TimeInForce.FOK
ACCEPTED, TRADE, CANCELLED, REDUCED, REPLACED, DEPTH = (
    EventKind.ACCEPTED, EventKind.TRADE, EventKind.CANCELLED, EventKind.REDUCED, EventKind.REPLACED,
    EventKind.DEPTH)
STATS, VOLUME, BALANCE = EventKind.DAILY_STATS, EventKind.DAILY_VOLUME, EventKind.BALANCE
TRADING, HALTED, CLOSED, PRE_OPEN = (InstrumentStatus.TRADING, InstrumentStatus.HALTED,
                                     InstrumentStatus.CLOSED, InstrumentStatus.PRE_OPEN)
EOD = CommandType.END_OF_DAY
SC_I, CQ_I, CER_I = 0, 1, 2
RICH = 10**12
EMPTY_DAY = {"open": 0, "high": 0, "low": 0,
             "volume": {"CONTINUOUS": 0, "FIXED": 0, "BLOCK": 0, "AUCTION": 0},
             "amount": {"CONTINUOUS": 0, "FIXED": 0, "BLOCK": 0, "AUCTION": 0}}


def end_of_day(engine, instrument=commands.ALL_INSTRUMENTS, **kwargs):
    return engine.process(commands.end_of_day(instrument, **kwargs))


def close_of(events, instrument=SC_I):
    """The close and previous close in an END_OF_DAY's DAILY_STATS for ``instrument``."""
    stats = only(events, STATS)
    return rows(stats[stats["instrument"] == instrument], "price", "value")[0]


def trade_at(engine, symbol, price, qty, seller=1, buyer=2):
    """One continuous trade of ``qty`` at ``price`` (a resting sell hit by a buy)."""
    engine.submit(symbol, seller, SELL, qty, price)
    assert trades(engine.submit(symbol, buyer, BUY, qty, price))[0][:2] == (price, qty)


# ============================================================================= phases
def test_a_status_change_is_announced(engine):
    events = engine.set_instrument_status(CQ, PRE_OPEN, ts=4, seq=2)
    assert as_dicts(events) == [event(EventKind.INSTRUMENT_STATUS, command=CommandType.SET_INSTRUMENT_STATUS,
                                      seq=1, cmd_seq=2, ts=4, instrument=CQ_I, value=PRE_OPEN)]
    assert_rejected(engine, commands.set_instrument_status(CQ_I, max(InstrumentStatus) + 1), Reject.BAD_STATUS)
    assert_rejected(engine, commands.set_instrument_status(CQ_I, 0), Reject.BAD_STATUS)


@pytest.mark.parametrize("status, reason", [(HALTED, Reject.INSTRUMENT_HALTED),
                                            (CLOSED, Reject.MARKET_CLOSED)])
def test_halted_and_closed_take_no_new_orders_or_replaces(engine, status, reason):
    engine.submit(SC, 1, BUY, 10, 4990)                               # order 1
    engine.set_instrument_status(SC, status)
    assert_rejected(engine, commands.new_order(SC_I, 2, BUY, 10, 4990), reason)
    assert_rejected(engine, commands.new_order(SC_I, 2, SELL, 10, 4990, tif=IOC), reason)
    assert_rejected(engine, commands.new_order(SC_I, 2, SELL, 10, order_type=MARKET, tif=IOC), reason)
    assert_rejected(engine, commands.replace(1, 1, 4995, 10), reason)
    assert_rejected(engine, commands.list_fixed(SC_I, 2, SELL, 10, 5000, 1), reason)
    assert kinds(engine.submit(CQ, 2, BUY, 100, 3000)) == [ACCEPTED, DEPTH]    # other instruments trade


@pytest.mark.parametrize("status", [HALTED, CLOSED, PRE_OPEN])
def test_cancel_and_reduce_are_allowed_in_every_phase(engine, status):
    engine.submit(SC, 1, BUY, 10, 4990)
    engine.submit(SC, 1, BUY, 10, 4980)
    engine.set_instrument_status(SC, status)
    assert kinds(engine.reduce(1, 1, 4)) == [REDUCED, DEPTH]
    assert cancels(engine.cancel(2, 1)) == [(2, CancelReason.USER, 10)]
    assert ladder(engine, SC) == [(4, 4990, None, None)]


def test_pre_open_rests_orders_that_do_not_cross(engine):
    engine.submit(SC, 1, SELL, 10, 5010)                              # order 1, while trading
    engine.set_instrument_status(SC, PRE_OPEN)
    assert kinds(engine.submit(SC, 2, BUY, 10, 5009)) == [ACCEPTED, DEPTH]
    assert kinds(engine.submit(SC, 2, BUY, 5, 5000, tif=DAY)) == [ACCEPTED, DEPTH]
    assert kinds(engine.submit(SC, 3, SELL, 5, 5020)) == [ACCEPTED, DEPTH]
    assert ladder(engine, SC) == [(10, 5009, 5010, 10), (5, 5000, 5020, 5)]


@pytest.mark.parametrize("side, price", [(BUY, 5010), (BUY, 5500), (SELL, 5000), (SELL, 4500)])
def test_pre_open_rejects_an_order_that_would_cross(engine, side, price):
    engine.submit(SC, 1, SELL, 10, 5010)
    engine.submit(SC, 1, BUY, 10, 5000)
    engine.set_instrument_status(SC, PRE_OPEN)
    assert_rejected(engine, commands.new_order(SC_I, 2, side, 10, price), Reject.WOULD_CROSS)
    assert ladder(engine, SC) == [(10, 5000, 5010, 10)]


@pytest.mark.parametrize("order_type, tif", [(OrderType.LIMIT, IOC), (OrderType.LIMIT, FOK), (MARKET, IOC),
                                             (MARKET, FOK)])
def test_pre_open_rejects_orders_that_must_trade_now(engine, order_type, tif):
    engine.submit(SC, 1, SELL, 10, 5010)
    engine.set_instrument_status(SC, PRE_OPEN)
    price = 4990 if order_type == OrderType.LIMIT else 0                # would not even cross
    assert_rejected(engine, commands.new_order(SC_I, 2, BUY, 10, price, order_type, tif),
                    Reject.MARKET_CLOSED)


def test_pre_open_replace_may_move_an_order_but_not_across_the_book(engine):
    engine.submit(SC, 1, SELL, 10, 5010)
    engine.submit(SC, 2, BUY, 10, 5000)                               # order 2
    engine.set_instrument_status(SC, PRE_OPEN)
    assert_rejected(engine, commands.replace(2, 2, 5010, 10), Reject.WOULD_CROSS)
    assert kinds(engine.replace(2, 2, 5009, 12)) == [REPLACED, DEPTH, DEPTH]
    assert ladder(engine, SC) == [(12, 5009, 5010, 10)]


def test_trading_again_after_pre_open_matches_as_usual(engine):
    engine.set_instrument_status(SC, PRE_OPEN)
    engine.submit(SC, 1, SELL, 10, 5010)
    engine.submit(SC, 2, BUY, 10, 5000)
    engine.set_instrument_status(SC, TRADING)
    assert trades(engine.submit(SC, 3, BUY, 4, 5010)) == [(5010, 4, 3, 1)]
    assert trades(engine.submit(SC, 3, SELL, 4, order_type=MARKET, tif=IOC)) == [(5000, 4, 2, 4)]


# ============================================================================= end of day
@pytest.fixture
def a_day(make_engine):
    """SC's day with risk on and no fees. Trades, in order:

    ======================  =========  =====  =======  ============
    trade                   type       qty    price    amount
    ======================  =========  =====  =======  ============
    block quote 1 accepted  BLOCK      100000  6000    600,000,000
    orders 3 / 4            CONTINUOUS  10     5011    50,110       (the open)
    listing 5 taken         FIXED       20     4997    99,940       (the low)
    orders 7 / 8            CONTINUOUS  10     5013    50,130       (the high)
    auction 9, bid 10       AUCTION     1000   4200    4,200,000
    ======================  =========  =====  =======  ============

    then resting: GTC bid 5 @ 4500 (order 11, account 2), DAY bid 5 @ 4600 (order 12,
    account 2), GTC ask 5 @ 5500 (order 13, account 1), listing 10 @ 5050 (order 14,
    account 3) and block quote 100,000 @ 5000 (order 15, account 4).
    """
    engine = make_engine(risk=True)
    for account in range(1, 7):
        open_account(engine, account, cash=RICH, units={SC: 1_000_000})
    steps = [
        commands.set_block_window(SC_I, True),
        commands.block_quote(SC_I, 1, SELL, 100_000, 6000),
        commands.block_accept(1, 2, 100_000),
        commands.new_order(SC_I, 1, SELL, 10, 5011),
        commands.new_order(SC_I, 2, BUY, 10, 5011),
        commands.list_fixed(SC_I, 3, SELL, 20, 4997, 5),
        commands.take_fixed(5, 4, 20),
        commands.new_order(SC_I, 2, BUY, 10, 5013),
        commands.new_order(SC_I, 1, SELL, 10, 5013),
        commands.auction_open(SC_I, 5, SELL, 1000, 4000, 100),
        commands.auction_bid(9, 6, 1000, 4200),
        commands.auction_close(SC_I),
        commands.new_order(SC_I, 2, BUY, 5, 4500),
        commands.new_order(SC_I, 2, BUY, 5, 4600, tif=DAY),
        commands.new_order(SC_I, 1, SELL, 5, 5500),
        commands.list_fixed(SC_I, 3, SELL, 10, 5050, 1),
        commands.block_quote(SC_I, 4, SELL, 100_000, 5000),
    ]
    for n, cmd in enumerate(steps):
        events = engine.process(cmd)
        assert EventKind.REJECTED not in kinds(events), f"step {n} was rejected"
    assert engine.resting_orders == 5
    return engine


def test_the_day_so_far_is_in_daily(a_day):
    assert a_day.daily(SC) == {
        "open": 5011, "high": 5013, "low": 4997,
        "volume": {"CONTINUOUS": 20, "FIXED": 20, "BLOCK": 100_000, "AUCTION": 1000},
        "amount": {"CONTINUOUS": 100_240, "FIXED": 99_940, "BLOCK": 600_000_000, "AUCTION": 4_200_000},
    }
    assert a_day.daily(CQ) == EMPTY_DAY


def test_end_of_day_in_full(a_day):
    events = end_of_day(a_day, SC_I, ts=50, seq=40, trading_date=20261207)
    first = int(events["seq"][0])
    assert [int(s) for s in events["seq"]] == list(range(first, first + len(events)))
    common = dict(command=EOD, cmd_seq=40, ts=50, instrument=SC_I)

    def expired(order_id, account, side, order_type, tif, price, qty, reason=CancelReason.EXPIRY):
        return event(CANCELLED, order_id=order_id, account=account, side=side, order_type=order_type, tif=tif,
                     price=price, qty=qty, leaves=0, reason=reason, **common)

    # close = VWAP of the continuous and fixed trades only:
    # (50,110 + 99,940 + 50,130) / (10 + 20 + 10) = 200,180 / 40 = 5004.5, half up to 5005
    # new band: price_band(5005, 1000, 1) = 5005 ± floor(500.5) = (4505, 5505)
    expected = [
        expired(12, 2, BUY, OrderType.LIMIT, DAY, 4600, 5),                     # DAY order
        expired(14, 3, SELL, OrderType.FIXED_LISTING, DAY, 5050, 10),           # listing
        expired(15, 4, SELL, OrderType.BLOCK_QUOTE, DAY, 5000, 100_000),        # block quote
        # in circulation: the six accounts' 1,000,000 each, however they moved between them
        event(STATS, price=5005, value=5000, open=5011, high=5013, low=4997, qty=40, leaves=6_000_000,
              count=20261207, **common),
        event(VOLUME, trade_type=TradeType.CONTINUOUS, qty=20, value=100_240, **common),
        event(VOLUME, trade_type=TradeType.FIXED, qty=20, value=99_940, **common),
        event(VOLUME, trade_type=TradeType.BLOCK, qty=100_000, value=600_000_000, **common),
        event(VOLUME, trade_type=TradeType.AUCTION, qty=1000, value=4_200_000, **common),
        expired(11, 2, BUY, OrderType.LIMIT, GTC, 4500, 5, CancelReason.OUTSIDE_BAND),
        event(BALANCE, account=2, qty=100_000 + 10 + 10, **common),             # T+1: bought today
        event(BALANCE, account=4, qty=20, **common),
        event(BALANCE, account=6, qty=1000, **common),
        event(DEPTH, side=BUY, price=4600, qty=0, count=0, **common),
        event(DEPTH, side=SELL, price=5050, qty=0, count=0, trade_type=TradeType.FIXED, **common),
        event(DEPTH, side=BUY, price=4500, qty=0, count=0, **common),
    ]
    assert as_dicts(events) == [dict(e, seq=first + n) for n, e in enumerate(expected)]
    assert price_band(5005, 1000, 1) == (4505, 5505)
    a_day.check_invariants()


def test_after_the_end_of_day_gtc_orders_in_the_band_stay_and_the_day_restarts(a_day):
    end_of_day(a_day, SC_I)
    assert ladder(a_day, SC) == [(None, None, 5500, 5)]                 # order 13, still in the band
    assert a_day.order(13).qty == 5
    assert listing_ladder(a_day, SC) == []
    assert a_day.resting_orders == 1
    assert a_day.daily(SC) == EMPTY_DAY
    assert units(a_day, 2, SC) == (1_000_000 + 100_020, 0, 0, 0)        # released and sellable
    assert units(a_day, 1, SC) == (1_000_000 - 100_020 - 5, 5, 0, 0)    # order 13 still frozen
    assert units(a_day, 3, SC)[:2] == (1_000_000 - 20, 0)               # the listing's units are back
    assert units(a_day, 4, SC)[:2] == (1_000_000 + 20, 0)               # and the block quote's
    assert a_day.account(2)["cash_frozen"] == 0                         # both bids' holds released


def test_an_end_of_day_whose_vwap_close_recentres_the_next_days_band(a_day):
    # before: 5000 ± 500 = (4500, 5500); block 5000 ± 1500 = (3500, 6500)
    assert_rejected(a_day, commands.new_order(SC_I, 1, SELL, 1, 5505), Reject.PRICE_OUTSIDE_BAND)
    assert_rejected(a_day, commands.block_quote(SC_I, 1, SELL, 100_000, 6506), Reject.PRICE_OUTSIDE_BAND)
    assert close_of(end_of_day(a_day, SC_I)) == (5005, 5000)
    assert a_day.instruments[SC_I].reference_price == 5005
    # after: price_band(5005, 1000, 1) = (4505, 5505); block price_band(5005, 3000, 1) = 5005 ± 1501
    assert price_band(5005, 3000, 1) == (3504, 6506)
    assert_rejected(a_day, commands.new_order(SC_I, 2, BUY, 1, 4500), Reject.PRICE_OUTSIDE_BAND)
    assert_rejected(a_day, commands.new_order(SC_I, 2, BUY, 1, 4504), Reject.PRICE_OUTSIDE_BAND)
    assert_rejected(a_day, commands.new_order(SC_I, 1, SELL, 1, 5506), Reject.PRICE_OUTSIDE_BAND)
    assert_rejected(a_day, commands.list_fixed(SC_I, 2, BUY, 1, 4504, 1), Reject.PRICE_OUTSIDE_BAND)
    assert_rejected(a_day, commands.block_quote(SC_I, 1, SELL, 100_000, 3503), Reject.PRICE_OUTSIDE_BAND)
    assert kinds(a_day.submit(SC, 2, BUY, 1, 4505)) == [ACCEPTED, DEPTH]
    assert kinds(a_day.submit(SC, 1, SELL, 1, 5505)) == [ACCEPTED, DEPTH]
    assert kinds(a_day.process(commands.block_quote(SC_I, 1, SELL, 100_000, 6506))) == [ACCEPTED]


def test_the_next_end_of_day_reports_the_new_previous_close(a_day):
    end_of_day(a_day, SC_I)
    events = end_of_day(a_day, SC_I)
    assert rows(only(events, STATS), "price", "value", "open", "high", "low", "qty") == [
        (5005, 5005, 5005, 5005, 5005, 0)]
    assert rows(only(events, VOLUME), "trade_type", "qty", "value") == [(1, 0, 0), (2, 0, 0), (3, 0, 0),
                                                                         (4, 0, 0)]
    assert only(events, BALANCE).size == 0                              # nothing left to release


@pytest.mark.parametrize("fills, close", [
    ([(5001, 1), (5002, 1)], 5002),        # 10,003 / 2 = 5001.5, up
    ([(5004, 1), (5005, 1)], 5005),        # 5004.5, up (not to the even 5004)
    ([(5000, 2), (5001, 1)], 5000),        # 15,001 / 3 = 5000.33
    ([(5000, 1), (5001, 2)], 5001),        # 15,002 / 3 = 5000.67
    ([(4600, 7)], 4600),
])
def test_the_close_is_the_vwap_rounded_half_up_to_the_fen(engine, fills, close):
    for price, qty in fills:
        trade_at(engine, SC, price, qty)
    assert close_of(end_of_day(engine, SC_I)) == (close, 5000)


def test_the_close_weighs_continuous_and_fixed_trades_by_volume(engine):
    trade_at(engine, SC, 5100, 30)                                       # 153,000
    engine.process(commands.list_fixed(SC_I, 3, BUY, 10, 4900, 10))     # order 3
    engine.process(commands.take_fixed(3, 4, 10))                       # 49,000
    # (153,000 + 49,000) / 40 = 5050
    assert close_of(end_of_day(engine, SC_I)) == (5050, 5000)


def test_without_trades_the_close_is_the_previous_close(engine):
    events = end_of_day(engine, CQ_I)
    assert rows(only(events, STATS), "instrument", "price", "value", "open", "high", "low", "qty") == [
        (CQ_I, 3005, 3005, 3005, 3005, 3005, 0)]
    assert engine.instruments[CQ_I].band == (2710, 3300)


def test_block_and_auction_trades_do_not_set_the_close(engine):
    engine.process(commands.set_block_window(SC_I, True))
    engine.process(commands.block_quote(SC_I, 1, SELL, 100_000, 6000))
    engine.process(commands.block_accept(1, 2, 100_000))
    engine.process(commands.auction_open(SC_I, 3, SELL, 500, 4000, 100))
    engine.process(commands.auction_bid(3, 4, 500, 4100))
    assert rows(only(engine.process(commands.auction_close(SC_I)), TRADE), "price", "qty") == [(4100, 500)]
    events = end_of_day(engine, SC_I)
    assert rows(only(events, STATS), "price", "value", "open", "high", "low", "qty") == [
        (5000, 5000, 5000, 5000, 5000, 0)]
    assert rows(only(events, VOLUME), "trade_type", "qty", "value") == [
        (1, 0, 0), (2, 0, 0), (3, 100_000, 600_000_000), (4, 500, 2_050_000)]
    assert engine.instruments[SC_I].band == (4500, 5500)


def test_the_open_may_be_a_fixed_price_trade(engine):
    engine.process(commands.list_fixed(SC_I, 1, SELL, 10, 4950, 10))
    engine.process(commands.take_fixed(1, 2, 10))
    trade_at(engine, SC, 5050, 10)
    assert rows(only(end_of_day(engine, SC_I), STATS), "open", "high", "low", "price") == [
        (4950, 5050, 4950, 5000)]


@pytest.mark.parametrize("volume, close", [(99, 5000), (100, 5000), (101, 5100)])
def test_up_to_the_minimum_close_volume_the_close_stays(impl, volume, close):
    """Guangdong's rule: a day of at most 100 t keeps the previous close; above it, the VWAP."""
    instruments = market()
    instruments[SC_I].min_close_volume = 100
    engine = impl(instruments)
    trade_at(engine, SC, 5100, volume)
    events = end_of_day(engine, SC_I)
    assert rows(only(events, STATS), "price", "value", "open", "qty") == [(close, 5000, 5100, volume)]
    assert engine.instruments[SC_I].band == price_band(close, 1000, 1)


@pytest.mark.parametrize("close, gone", [
    # 5400 ± 540 = (4860, 5940): bids below 4860 go
    (5400, [(1, CancelReason.OUTSIDE_BAND, 10)]),
    # 4600 ± 460 = (4140, 5060): asks above 5060 go
    (4600, [(3, CancelReason.OUTSIDE_BAND, 10)]),
])
def test_gtc_orders_outside_the_new_band_are_cancelled(engine, close, gone):
    engine.submit(SC, 1, BUY, 10, 4859)                                  # order 1
    engine.submit(SC, 1, BUY, 10, 4860)                                  # order 2
    engine.submit(SC, 2, SELL, 10, 5061)                                 # order 3
    engine.submit(SC, 2, SELL, 10, 5060)                                 # order 4
    engine.process(commands.list_fixed(SC_I, 3, SELL, 1, close, 1))     # order 5: a fixed trade
    engine.process(commands.take_fixed(5, 4, 1))                        # sets the close alone
    events = end_of_day(engine, SC_I)
    assert close_of(events) == (close, 5000)
    assert cancels(events) == gone
    assert engine.resting_orders == 3


def test_gtc_orders_keep_their_priority_over_the_end_of_day(engine):
    engine.submit(SC, 1, SELL, 10, 5010)
    engine.submit(SC, 2, SELL, 10, 5010, tif=DAY)
    engine.submit(SC, 3, SELL, 10, 5010)
    end_of_day(engine, SC_I)
    assert trades(engine.submit(SC, 4, BUY, 15, 5010)) == [(5010, 10, 4, 1), (5010, 5, 4, 3)]


def test_end_of_day_releases_the_holds_of_what_expires(make_engine):
    engine = make_engine(risk=True)
    open_account(engine, 1, cash=RICH, units={SC: 200_000})
    engine.process(commands.set_block_window(SC_I, True))
    engine.submit(SC, 1, BUY, 10, 5000, tif=DAY)
    engine.process(commands.list_fixed(SC_I, 1, SELL, 30, 5050, 1))
    engine.process(commands.block_quote(SC_I, 1, SELL, 150_000, 5000))
    assert engine.account(1)["cash_frozen"] == 50_000
    assert units(engine, 1, SC) == (200_000 - 150_030, 30 + 150_000, 0, 0)
    end_of_day(engine, SC_I)
    assert engine.account(1)["cash_frozen"] == 0
    assert units(engine, 1, SC) == (200_000, 0, 0, 0)
    engine.check_invariants()


def test_without_t_plus_one_the_end_of_day_releases_nothing(impl):
    instruments = market()
    instruments[CER_I].t_plus_one = False
    engine = impl(instruments, risk=True)
    open_account(engine, 1, cash=RICH, units={CER: 10})
    open_account(engine, 2, cash=RICH)
    trade_at(engine, CER, 6000, 10)
    assert units(engine, 2, CER) == (10, 0, 0, 0)
    assert only(end_of_day(engine, CER_I), BALANCE).size == 0


def test_end_of_day_for_all_instruments_closes_each_in_turn(engine):
    trade_at(engine, SC, 5100, 10)                                       # orders 1, 2
    engine.submit(CQ, 1, BUY, 100, 3000, tif=DAY)                        # order 3
    trade_at(engine, CER, 6200, 5)                                       # orders 4, 5
    events = end_of_day(engine)
    assert rows(only(events, STATS), "instrument", "price", "value") == [
        (SC_I, 5100, 5000), (CQ_I, 3005, 3005), (CER_I, 6200, 6000)]
    assert [(int(e["kind"]), int(e["instrument"])) for e in events if e["kind"] != DEPTH] == (
        [(STATS, SC_I)] + [(VOLUME, SC_I)] * 4
        + [(CANCELLED, CQ_I), (STATS, CQ_I)] + [(VOLUME, CQ_I)] * 4
        + [(STATS, CER_I)] + [(VOLUME, CER_I)] * 4)
    assert cancels(events) == [(3, CancelReason.EXPIRY, 100)]
    # 6200 ± 20% = 6200 ± 1240, tick 5: (4960, 7440)
    assert engine.instruments[CER_I].band == price_band(6200, 2000, 5) == (4960, 7440)
    assert [engine.daily(s) for s in (SC, CQ, CER)] == [EMPTY_DAY] * 3


def test_end_of_day_of_an_unknown_instrument_is_rejected(engine):
    assert_rejected(engine, commands.end_of_day(3), Reject.UNKNOWN_INSTRUMENT)
    assert_rejected(engine, commands.end_of_day(-2), Reject.UNKNOWN_INSTRUMENT)


@pytest.mark.parametrize("listings_expire, left", [(True, []), (False, [(None, None, 4950, 10)])])
def test_listings_expire_at_the_end_of_the_day_as_configured(impl, listings_expire, left):
    instruments = market()
    instruments[SC_I].listings_expire = listings_expire
    engine = impl(instruments)
    engine.process(commands.list_fixed(SC_I, 1, SELL, 10, 4950, 10))
    events = end_of_day(engine, SC_I)
    assert cancels(events) == ([] if left else [(1, CancelReason.EXPIRY, 10)])
    assert listing_ladder(engine, SC) == left


def test_the_next_reference_is_the_close_on_the_tick(impl):
    """CCER2025 trades on a 5-fen tick: a VWAP of 6002.5 publishes the close 6003 (half up, in
    fen) and makes 6005 the next reference, so the band around it always holds a price, even
    a zero-width band (before, it was left empty and the state could not be snapshot)."""
    engine = impl(market())
    trade_at(engine, CER, 6000, 1)
    trade_at(engine, CER, 6005, 1)
    engine.process(commands.set_instrument_parameter(CER_I, InstrumentParameter.BAND_BPS, 0))
    events = end_of_day(engine, CER_I)
    assert rows(only(events, STATS), "price", "value") == [(6003, 6000)]
    assert engine.instruments[CER_I].reference_price == 6005 and engine.instruments[CER_I].band == (6005, 6005)
    assert type(engine).restore(engine.snapshot()).state_digest() == engine.state_digest()
