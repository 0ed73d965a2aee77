"""Block trades (大宗协议): during the block window a participant quotes a block of at least the
block minimum (100,000 t) within the wider block band (±30% of the reference), public or
directed to one account; a counterparty accepts it, in part only when the quote allows. Block
quotes are private (no depth), block trades never touch the continuous book, and closing the
window expires the quotes."""
import pytest

from helpers import (
    CQ, SC, as_dicts, assert_rejected, cancels, cash, event, kinds, ladder, listing_ladder, market,
    open_account, rows, trades, units,
)
from matching import (
    CancelReason, CommandType, EventKind, InstrumentStatus, OrderType, Reject, Side, TimeInForce,
    TradeType, commands, price_band,
)

BUY, SELL = Side.BUY, Side.SELL
ACCEPTED, TRADE, CANCELLED, REDUCED, BLOCK_WINDOW = (
    EventKind.ACCEPTED, EventKind.TRADE, EventKind.CANCELLED, EventKind.REDUCED, EventKind.BLOCK_WINDOW)
BLOCK = TradeType.BLOCK
PUBLIC = commands.PUBLIC
SC_I, CQ_I = 0, 1
BIG = 100_000                   # the default block minimum, tonnes
# SC's block band: 5000 ± 5000 x 3000 / 10,000 = 5000 ± 1500, tick 1
SC_BLOCK_BAND = (3500, 6500)
BLOCK_FEES = (10, 20)           # buyer 0.10%, seller 0.20%


def window(engine, symbol=SC, open=True, **kwargs):
    return engine.process(commands.set_block_window(engine.instrument_index(symbol), open, **kwargs))


def quote(engine, account, side, qty, price, contra=PUBLIC, partial=False, symbol=SC, **kwargs):
    return engine.process(commands.block_quote(engine.instrument_index(symbol), account, side, qty, price,
                                               contra, partial, **kwargs))


def accept(engine, order_id, account, qty, **kwargs):
    return engine.process(commands.block_accept(order_id, account, qty, **kwargs))


@pytest.fixture
def open_window(engine):
    """The risk-off engine with SC's block window open (one BLOCK_WINDOW event)."""
    window(engine)
    return engine


def test_the_block_band_is_the_wider_one():
    assert price_band(5000, 3000, 1) == SC_BLOCK_BAND
    assert market()[SC_I].block_band == SC_BLOCK_BAND


# ----------------------------------------------------------------------------- the window
def test_a_block_quote_needs_the_block_window(engine):
    assert_rejected(engine, commands.block_quote(SC_I, 1, SELL, BIG, 5000), Reject.BLOCK_WINDOW_CLOSED)
    events = window(engine, ts=2, seq=5)
    assert as_dicts(events) == [event(BLOCK_WINDOW, command=CommandType.SET_BLOCK_WINDOW, seq=2, cmd_seq=5,
                                      ts=2, instrument=SC_I, value=1)]
    assert kinds(quote(engine, 1, SELL, BIG, 5000)) == [ACCEPTED]
    assert_rejected(engine, commands.block_quote(CQ_I, 1, SELL, BIG, 3000), Reject.BLOCK_WINDOW_CLOSED)


def test_the_block_window_is_independent_of_the_trading_phase(open_window):
    engine = open_window
    engine.set_instrument_status(SC, InstrumentStatus.CLOSED)
    assert kinds(quote(engine, 1, SELL, BIG, 5000)) == [ACCEPTED]
    assert kinds(accept(engine, 1, 2, BIG)) == [ACCEPTED, TRADE]


def test_a_halted_instrument_takes_no_block_quotes_or_acceptances(open_window):
    engine = open_window
    quote(engine, 1, SELL, BIG, 5000)
    engine.set_instrument_status(SC, InstrumentStatus.HALTED)
    assert_rejected(engine, commands.block_quote(SC_I, 1, SELL, BIG, 5000), Reject.INSTRUMENT_HALTED)
    assert_rejected(engine, commands.block_accept(1, 2, BIG), Reject.INSTRUMENT_HALTED)


def test_an_unknown_status_for_the_window_is_rejected(engine):
    assert_rejected(engine, commands.command(CommandType.SET_BLOCK_WINDOW, instrument=SC_I, status=2),
                    Reject.BAD_STATUS)
    assert_rejected(engine, commands.set_block_window(3, True), Reject.UNKNOWN_INSTRUMENT)


def test_closing_the_window_expires_the_quotes(open_window):
    engine = open_window
    quote(engine, 1, SELL, BIG, 5200, client_order_id=11)               # order 1
    quote(engine, 2, BUY, BIG, 4800, contra=1)                          # order 2
    quote(engine, 3, BUY, 2 * BIG, 4900, partial=True)                   # order 3
    events = window(engine, open=False, ts=8, seq=9)
    assert kinds(events) == [BLOCK_WINDOW, CANCELLED, CANCELLED, CANCELLED]      # and no DEPTH
    assert as_dicts(events[:2]) == [
        event(BLOCK_WINDOW, command=CommandType.SET_BLOCK_WINDOW, seq=5, cmd_seq=9, ts=8, instrument=SC_I),
        event(CANCELLED, command=CommandType.SET_BLOCK_WINDOW, seq=6, cmd_seq=9, ts=8, order_id=3, account=3,
              instrument=SC_I, side=BUY, order_type=OrderType.BLOCK_QUOTE, tif=TimeInForce.DAY,
              price=4900, qty=2 * BIG, leaves=0, reason=CancelReason.EXPIRY),
    ]
    # canonical order: bids best first, then asks
    assert cancels(events) == [(3, CancelReason.EXPIRY, 2 * BIG), (2, CancelReason.EXPIRY, BIG),
                               (1, CancelReason.EXPIRY, BIG)]
    assert engine.resting_orders == 0
    assert_rejected(engine, commands.block_quote(SC_I, 1, SELL, BIG, 5000), Reject.BLOCK_WINDOW_CLOSED)


def test_closing_one_instruments_window_keeps_the_others_quotes(open_window):
    engine = open_window
    window(engine, CQ)
    quote(engine, 1, SELL, BIG, 5000)
    quote(engine, 1, SELL, BIG, 3000, symbol=CQ)
    assert cancels(window(engine, SC, open=False)) == [(1, CancelReason.EXPIRY, BIG)]
    assert kinds(accept(engine, 2, 2, BIG)) == [ACCEPTED, TRADE]


# ----------------------------------------------------------------------------- size and band
def test_a_block_below_the_minimum_is_rejected(open_window):
    assert_rejected(open_window, commands.block_quote(SC_I, 1, SELL, BIG - 1, 5000), Reject.BELOW_MINIMUM)
    assert kinds(quote(open_window, 1, SELL, BIG, 5000)) == [ACCEPTED]


def test_the_block_minimum_is_the_instruments(impl):
    instruments = market()
    instruments[SC_I].block_min_qty = 5_000
    engine = impl(instruments)
    window(engine)
    assert_rejected(engine, commands.block_quote(SC_I, 1, SELL, 4_999, 5000), Reject.BELOW_MINIMUM)
    assert kinds(quote(engine, 1, SELL, 5_000, 5000)) == [ACCEPTED]


def test_a_block_may_exceed_the_largest_order(open_window):
    # SC orders and listings stop at 99,999 t; a block goes up to 10,000,000 t (MAX_QTY)
    assert kinds(quote(open_window, 1, SELL, 10_000_000, 5000)) == [ACCEPTED]
    assert_rejected(open_window, commands.block_quote(SC_I, 1, SELL, 10_000_001, 5000),
                    Reject.ORDER_TOO_LARGE)


@pytest.mark.parametrize("price, accepted", [
    (3499, False), (3500, True),            # the block band's lower edge
    (4000, True),                           # outside ±10% (4500, 5500), inside ±30%
    (6000, True), (6500, True),
    (6501, False),
])
def test_a_block_price_must_be_inside_the_block_band(open_window, price, accepted):
    for side in (BUY, SELL):
        cmd = commands.block_quote(SC_I, 1, side, BIG, price)
        if accepted:
            assert kinds(open_window.process(cmd)) == [ACCEPTED]
        else:
            assert_rejected(open_window, cmd, Reject.PRICE_OUTSIDE_BAND)


def test_a_block_price_is_on_the_tick(open_window):
    engine = open_window
    window(engine, CQ)
    # CQ: 3005 ± floor(901.5) = (2104, 3906), rounded inwards to the tick of 10: (2110, 3900)
    assert_rejected(engine, commands.block_quote(CQ_I, 1, SELL, BIG, 3905), Reject.OFF_TICK_PRICE)
    assert_rejected(engine, commands.block_quote(CQ_I, 1, SELL, BIG, 2100), Reject.PRICE_OUTSIDE_BAND)
    assert_rejected(engine, commands.block_quote(CQ_I, 1, SELL, BIG, 3910), Reject.PRICE_OUTSIDE_BAND)
    assert kinds(quote(engine, 1, SELL, BIG, 2110, symbol=CQ)) == [ACCEPTED]
    assert kinds(quote(engine, 1, SELL, BIG, 3900, symbol=CQ)) == [ACCEPTED]


def test_a_quote_directed_to_oneself_or_to_no_account_is_rejected(open_window):
    assert_rejected(open_window, commands.block_quote(SC_I, 1, SELL, BIG, 5000, contra_account=1),
                    Reject.SELF_TAKE)
    assert_rejected(open_window, commands.block_quote(SC_I, 1, SELL, BIG, 5000, contra_account=1000),
                    Reject.UNKNOWN_ACCOUNT)
    assert_rejected(open_window, commands.block_quote(SC_I, 1, SELL, BIG, 5000, contra_account=-2),
                    Reject.UNKNOWN_ACCOUNT)


# ----------------------------------------------------------------------------- acceptance
def test_a_directed_quote_is_accepted_by_its_counterparty(open_window):
    engine = open_window
    events = quote(engine, 1, SELL, BIG, 6000, contra=2, client_order_id=17, ts=3, seq=2)
    assert as_dicts(events) == [
        event(ACCEPTED, command=CommandType.BLOCK_QUOTE, seq=2, cmd_seq=2, ts=3, order_id=1,
              client_order_id=17, account=1, instrument=SC_I, side=SELL, order_type=OrderType.BLOCK_QUOTE,
              tif=TimeInForce.DAY, price=6000, qty=BIG, leaves=BIG)]
    assert_rejected(engine, commands.block_accept(1, 3, BIG), Reject.UNKNOWN_ORDER)    # not quoted to 3
    events = accept(engine, 1, 2, BIG, client_order_id=27, ts=4, seq=3)
    assert as_dicts(events) == [
        event(ACCEPTED, command=CommandType.BLOCK_ACCEPT, seq=4, cmd_seq=3, ts=4, order_id=2,
              client_order_id=27, account=2, instrument=SC_I, side=BUY, order_type=OrderType.BLOCK_ACCEPT,
              tif=TimeInForce.IOC, price=6000, qty=BIG, leaves=BIG),
        event(TRADE, command=CommandType.BLOCK_ACCEPT, seq=5, cmd_seq=3, ts=4, trade_id=1, instrument=SC_I,
              price=6000, qty=BIG, side=BUY, trade_type=BLOCK, buy_order_id=2, sell_order_id=1,
              buy_account=2, sell_account=1, buy_leaves=0, sell_leaves=0),
    ]
    assert engine.resting_orders == 0


def test_a_directed_block_trade_accepted_by_the_wrong_account_is_rejected(open_window):
    # UNKNOWN_ORDER, not NOT_COUNTERPARTY: a private quote to another account is answered like an
    # id that does not exist (test_order_id_privacy.py)
    engine = open_window
    quote(engine, 1, BUY, BIG, 5000, contra=2, seq=1)                  # events 1 (window), 2
    events = assert_rejected(engine, commands.block_accept(1, 3, BIG, seq=2), Reject.UNKNOWN_ORDER)
    assert as_dicts(events) == [event(EventKind.REJECTED, command=CommandType.BLOCK_ACCEPT, seq=3, cmd_seq=2,
                                      reason=Reject.UNKNOWN_ORDER, order_id=1, account=3, qty=BIG)]
    assert engine.order(1).qty == BIG
    assert trades(accept(engine, 1, 2, BIG)) == [(5000, BIG, 1, 2)]


def test_a_public_quote_may_be_accepted_by_anyone(open_window):
    engine = open_window
    quote(engine, 1, SELL, 3 * BIG, 5100, partial=True)
    assert trades(accept(engine, 1, 2, BIG)) == [(5100, BIG, 2, 1)]
    assert trades(accept(engine, 1, 3, BIG)) == [(5100, BIG, 3, 1)]
    assert trades(accept(engine, 1, 999, BIG)) == [(5100, BIG, 4, 1)]
    assert engine.resting_orders == 0


def test_accepting_ones_own_quote_is_rejected(open_window):
    quote(open_window, 1, SELL, BIG, 5000)
    assert_rejected(open_window, commands.block_accept(1, 1, BIG), Reject.SELF_TAKE)


def test_only_block_quotes_can_be_accepted(open_window):
    engine = open_window
    engine.submit(SC, 1, SELL, 10, 5000)
    assert_rejected(engine, commands.block_accept(1, 1, 10), Reject.WRONG_ORDER_KIND)   # its own limit order
    assert_rejected(engine, commands.block_accept(1, 2, 10), Reject.UNKNOWN_ORDER)      # another's: as if none
    assert_rejected(engine, commands.block_accept(9, 2, BIG), Reject.UNKNOWN_ORDER)


def test_partial_acceptance_needs_the_partial_flag(open_window):
    engine = open_window
    quote(engine, 1, SELL, 2 * BIG, 5000)
    assert_rejected(engine, commands.block_accept(1, 2, BIG), Reject.PARTIAL_NOT_ALLOWED)
    assert_rejected(engine, commands.block_accept(1, 2, 2 * BIG + 1), Reject.EXCEEDS_REMAINING)
    assert trades(accept(engine, 1, 2, 2 * BIG)) == [(5000, 2 * BIG, 2, 1)]


def test_a_partial_acceptance_leaves_nothing_or_at_least_the_block_minimum(open_window):
    engine = open_window
    quote(engine, 1, SELL, 250_000, 5000, partial=True)
    assert_rejected(engine, commands.block_accept(1, 2, BIG - 1), Reject.BELOW_MINIMUM)
    # 170,000 would leave 80,000: a block below the minimum that could then trade whole
    assert_rejected(engine, commands.block_accept(1, 2, 170_000), Reject.BELOW_MINIMUM)
    events = accept(engine, 1, 2, 150_000)
    assert rows(events[events["kind"] == TRADE], "qty", "sell_leaves") == [(150_000, 100_000)]
    assert_rejected(engine, commands.block_accept(1, 3, 40_000), Reject.BELOW_MINIMUM)
    assert trades(accept(engine, 1, 3, 100_000)) == [(5000, 100_000, 3, 1)]


def test_a_block_quote_cannot_be_reduced_below_the_block_minimum(open_window):
    engine = open_window
    quote(engine, 1, SELL, 2 * BIG, 5000, partial=True)
    assert_rejected(engine, commands.reduce(1, 1, BIG - 1), Reject.BELOW_MINIMUM)
    assert kinds(engine.reduce(1, 1, BIG)) == [REDUCED]


def test_a_quote_can_be_withdrawn_or_reduced(open_window):
    engine = open_window
    quote(engine, 1, SELL, 3 * BIG, 5000, partial=True)
    quote(engine, 2, BUY, BIG, 4900)
    events = engine.reduce(1, 1, 2 * BIG)
    assert kinds(events) == [REDUCED]                                   # no depth for block quotes
    assert_rejected(engine, commands.block_accept(1, 3, 2 * BIG + 1), Reject.EXCEEDS_REMAINING)
    events = engine.cancel(2, 2)
    assert kinds(events) == [CANCELLED]
    assert cancels(events) == [(2, CancelReason.USER, BIG)]
    assert_rejected(engine, commands.replace(1, 1, 5000, BIG), Reject.WRONG_ORDER_KIND)


# ----------------------------------------------------------------------------- private, apart
def test_block_quotes_and_trades_publish_no_depth_and_stay_out_of_the_books(open_window):
    engine = open_window
    assert kinds(quote(engine, 1, SELL, BIG, 5000)) == [ACCEPTED]
    assert kinds(quote(engine, 2, BUY, BIG, 4000, contra=1)) == [ACCEPTED]
    assert engine.book(SC).bids == engine.book(SC).asks == []
    assert listing_ladder(engine, SC) == []
    assert engine.resting_orders == 2
    assert kinds(accept(engine, 1, 3, BIG)) == [ACCEPTED, TRADE]
    assert kinds(engine.cancel(2, 2)) == [CANCELLED]


def test_a_block_trade_never_touches_the_continuous_book(open_window):
    engine = open_window
    engine.submit(SC, 4, BUY, 50, 5100)                 # a better continuous bid than the block
    engine.submit(SC, 5, SELL, 50, 5200)
    quote(engine, 1, SELL, BIG, 4000)                   # below the continuous bid: no match
    events = accept(engine, 3, 2, BIG)
    assert trades(events) == [(4000, BIG, 4, 3)]
    assert ladder(engine, SC) == [(50, 5100, 5200, 50)]
    day = engine.daily(SC)
    assert (day["open"], day["high"], day["low"]) == (0, 0, 0)          # a block sets no price
    assert day["volume"]["BLOCK"] == BIG and day["amount"]["BLOCK"] == 400_000_000
    assert day["volume"]["CONTINUOUS"] == day["volume"]["FIXED"] == 0


# ----------------------------------------------------------------------------- risk
@pytest.fixture
def funded(make_engine):
    """Risk on, BLOCK fees 10/20 bps, SC's window open. Account 1: 200,000 SC; account 2:
    1,000,000,000 fen; account 3: 500,000,000 fen; account 4: 99,999 SC."""
    engine = make_engine(risk=True, fees={TradeType.BLOCK: BLOCK_FEES})
    open_account(engine, 1, units={SC: 2 * BIG})
    open_account(engine, 2, cash=1_000_000_000)
    open_account(engine, 3, cash=500_000_000)
    open_account(engine, 4, units={SC: BIG - 1})
    window(engine)
    return engine


def test_a_sell_quote_freezes_its_units(funded):
    quote(funded, 1, SELL, 150_000, 5000, partial=True)
    assert units(funded, 1, SC) == (50_000, 150_000, 0, 0)
    assert_rejected(funded, commands.block_quote(SC_I, 4, SELL, BIG, 5000), Reject.INSUFFICIENT_HOLDINGS)
    assert_rejected(funded, commands.block_quote(SC_I, 1, SELL, BIG, 5000), Reject.INSUFFICIENT_HOLDINGS)
    funded.check_invariants()


def test_a_buy_quote_freezes_its_notional_plus_the_block_buyer_fee(funded):
    # 100,000 x 5000 = 500,000,000 + floor(500,000) = 500,500,000 > 500,000,000
    assert_rejected(funded, commands.block_quote(SC_I, 3, BUY, BIG, 5000), Reject.INSUFFICIENT_CASH)
    # 100,000 x 4990 = 499,000,000 + 499,000 = 499,499,000
    assert kinds(quote(funded, 3, BUY, BIG, 4990)) == [ACCEPTED]
    assert cash(funded, 3) == (501_000, 499_499_000)
    funded.check_invariants()


def test_both_sides_of_an_acceptance_are_risk_checked(funded):
    quote(funded, 1, SELL, BIG, 5000)                   # order 1
    quote(funded, 2, BUY, BIG, 5000)                    # order 2: holds 500,500,000
    assert_rejected(funded, commands.block_accept(1, 3, BIG), Reject.INSUFFICIENT_CASH)
    assert_rejected(funded, commands.block_accept(2, 4, BIG), Reject.INSUFFICIENT_HOLDINGS)
    assert_rejected(funded, commands.block_accept(2, 5, BIG), Reject.UNKNOWN_ACCOUNT)     # not created


def test_a_block_trade_settles_with_the_block_fees(funded):
    quote(funded, 1, SELL, 2 * BIG, 6000, partial=True)
    events = accept(funded, 1, 2, BIG)
    # 100,000 x 6000 = 600,000,000; buyer floor(600,000) = 600,000, seller 1,200,000
    assert rows(events[events["kind"] == TRADE], "trade_type", "buy_fee", "sell_fee") == [
        (BLOCK, 600_000, 1_200_000)]
    assert cash(funded, 2) == (1_000_000_000 - 600_000_000 - 600_000, 0) == (399_400_000, 0)
    assert units(funded, 2, SC) == (0, 0, BIG, 0)                       # locked until T+1
    assert cash(funded, 1) == (600_000_000 - 1_200_000, 0)
    assert units(funded, 1, SC) == (0, BIG, 0, 0)
    assert funded.fees_collected == 1_800_000
    funded.check_invariants()


def test_closing_the_window_releases_the_quotes_holds(funded):
    quote(funded, 1, SELL, 2 * BIG, 6000, partial=True)
    quote(funded, 3, BUY, BIG, 4990)
    accept(funded, 1, 2, BIG)
    window(funded, open=False)
    assert units(funded, 1, SC) == (BIG, 0, 0, 0)
    assert cash(funded, 3) == (500_000_000, 0)
    assert funded.account(3)["holdings"][SC]["buying"] == 0
    funded.check_invariants()
