"""The reference engine: a pure-Python executable specification of the matching rules.

It is written to be read, not to be fast. The Cython engine (``matching.Engine``) must
produce exactly the same event arrays and the same state digests for any command stream;
the differential tests in ``tests/property`` hold both to that.

Rules, in the order the engine applies them
-------------------------------------------
NEW_ORDER is validated in this order, the first failure rejecting it with that reason:
unknown instrument, unknown account, the instrument's phase (HALTED: INSTRUMENT_HALTED;
CLOSED: MARKET_CLOSED), side, order type, time in force (a market order must be IOC or
FOK), STP mode, quantity > 0, quantity on the lot, quantity within the instrument's maximum,
and for limit orders price > 0, price on the tick, price within the band; in PRE_OPEN a
market, IOC or FOK order is MARKET_CLOSED and a limit order that would cross WOULD_CROSS
(orders rest, nothing trades); in CALL a FOK order is MARKET_CLOSED; then the account
checks below; last, a FOK order that could not fill completely is rejected. A rejected
command changes nothing.

CALL is a call auction (opening, closing or a volatility interruption's): accepted orders
rest without matching, crossing ones too; a market order rests at the band edge (its limit,
and the price it shows and holds cash at) and an IOC order waits for the uncrossing. After
every command that changed an instrument's continuous book in a call, and when the call
starts, one INDICATIVE event gives the price, volume and surplus it would uncross at now
(``_uncross_price``), after the command's DEPTH events. SET_INSTRUMENT_STATUS to TRADING
first uncrosses the book (``_uncross``: all trades at one price), whatever the phase before,
so a book that stays crossed in a halted call trades when trading resumes; so does CALL to
CLOSED (a closing call). Leaving CALL then cancels the IOC and market orders still resting
(IOC_REMAINDER); the INSTRUMENT_STATUS event comes after those trades and cancellations.

Volatility interruptions (``dynamic_band_bps`` > 0, in TRADING): an incoming order's walk
stops before a trade (self-trade prevention acts first) at a price further than the dynamic
band from the centre, the
day's last continuous trade before the order (the reference price before the first; so no
sweep moves the band with its own fills). The instrument goes into CALL at once (an
INSTRUMENT_STATUS event with reason StatusCause.VOLATILITY, after the trades made within
the band) and the order's remainder rests in the call whatever its time in force (a market
order at its band edge); the call ends like any other. A FOK order counts only what lies
within the band, so it never interrupts. The uncrossing of a call is not self-trade
prevented: an account whose orders cross each other in a call trades with itself.

Taker-select (``select_depth`` > 0, the national market's listing trade): limit GTC and DAY
orders rest without matching, so the book may rest crossed; a market, IOC or FOK order is
WRONG_ORDER_KIND. Such an instrument's resting limit orders are public: TAKE_FIXED naming one
is checked like a listing's take (phase, SELF_TAKE, the quantity on the lot and within the
instrument's maximum, EXCEEDS_REMAINING), then its price level must be among the best
``select_depth`` of its side (BEYOND_SELECT_DEPTH) and, with ``select_fifo``, it must be the
first order at its level (NOT_FIRST_AT_LEVEL); the taker is an IOC limit order at that price,
risk-checked like any, and trades the named order alone (a continuous trade). Setting
``select_depth`` back to 0 in TRADING uncrosses the book at once (after the
INSTRUMENT_PARAMETER event); in the mode, SET_INSTRUMENT_STATUS to TRADING uncrosses the
book only at the end of a call.

An accepted order is given the next order id and walks the opposite side from the best
level while that level's price crosses its limit (a market order's limit is the band edge:
it never trades outside the band). Each resting order in time priority either trades with it
at the resting price or, when both belong to the same account and self-trade prevention is
on, is handled by the incoming order's mode: cancel-newest cancels the incoming remainder,
cancel-oldest cancels the resting order and goes on, cancel-both cancels both. After the
walk, a GTC or DAY limit remainder rests at the back of its level; an IOC or market
remainder is cancelled.

After the matching checks and before the FOK check come the account checks: a suspended
account is rejected and a sell-only account may not buy (the operator's sanctions apply to
every created account). With risk on (``risk=True``, what the daemon runs), accounts must
also be created first and every order is fully pre-funded: a buy needs room under any
position limit (which counts everything held, open sells included, plus open buys), then
free cash for ``buy_hold(limit, qty)`` (a market buy: at the band's upper edge); a sell
needs that many available units and must leave the retention floor held. An
accepted order freezes exactly that cash or those units; fills, cancels, reduces and
replaces move or release exactly what the order no longer needs, so a buy filled below its
limit gets the difference back at once. Each trade settles: the buyer pays price x qty plus
its fee, the seller receives price x qty less its fee, the fees go to the exchange, and the
units bought are locked until the end-of-day T+1 release (where the instrument has T+1).
With risk off no cash or units move and trades carry no fees.

Fixed-price listings, block quotes and auctions follow the docstrings of ``_post``,
``_take`` and ``_auction_close``. A partial block acceptance must leave nothing or at least
the block minimum, and a block quote cannot be reduced below it, so every block trade is a
block.

Every event and every order's time stamp carry the engine clock: the latest command
timestamp seen so far, so time priority never runs backwards. A rejected command changes no
order, book or account; like every command it still advances the clock and the event
sequence, which record that it happened.

Events of one command come in this order: ACCEPTED or REJECTED, then trades and
cancellations as they happen, then one DEPTH event per price level the command changed, in
the order they were first changed, carrying the level's new quantity and order count (zero
when the level is gone) and the book in ``trade_type`` (CONTINUOUS, or FIXED for listings).
Block quotes are private to their parties and auction bids sealed: their books never
publish depth.

ADD_INSTRUMENT lists a new instrument (``matching.commands.add_instrument`` gives the
fields). It is validated in this order, each failure rejecting it and changing nothing: the
symbol must be 1..32 bytes of UTF-8, NUL-padded (an empty symbol, a non-NUL byte after the
first NUL, or bytes that are not UTF-8: BAD_PARAMETER); a symbol already listed is
INSTRUMENT_EXISTS; the kind, region and status must be members of their enums and the year
within 2000..2100, and the market must hold fewer than MAX_INSTRUMENTS instruments (else
BAD_PARAMETER). The new instrument takes the next index with the ``Instrument`` defaults
for every trading parameter (``SET_INSTRUMENT_PARAMETER`` sets its own), an empty day, no
auction, empty books, its block window closed, zero net credits and zero holdings in every
account; one INSTRUMENT_ADDED event reports its index and status.
"""
from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

import numpy as np
from sortedcontainers import SortedDict

from . import commands as build
from ._state import BookView, OrderView, account_view, daily_view, digest, pack_state, unpack_state
from .codes import (
    AccountStatus, AuctionOutcome, CancelReason, CommandType, EventKind, FineReason, InstrumentKind, InstrumentParameter,
    InstrumentStatus, OrderType, Region, Reject, Sector, Side, StatusCause, StpMode, TimeInForce, TradeType,
)
from .dtypes import ACCOUNT_DTYPE, BOOK_ORDER_DTYPE, COMMAND_DTYPE, EVENT_DTYPE, HOLDING_DTYPE
from .instrument import (
    MAX_CLOSE_VOLUME, MAX_INSTRUMENTS, MAX_PRICE, MAX_QTY, MAX_SELECT_DEPTH, MAX_YEAR, MIN_YEAR, Instrument,
    engine_market,
)
from .money import MAX_CASH, MAX_FEE_BPS, MAX_HOLDING, N_TRADE_TYPES, buy_hold, fee, fee_table
from .results import OrderResult, fold

__all__ = ["ReferenceEngine"]

_COMMAND_FIELDS = COMMAND_DTYPE.names


def _event_array(events: list[dict]) -> np.ndarray:
    """Events, each a dict of the fields its kind sets, as an EVENT_DTYPE array. Fields of
    other kinds share bytes (see matching.dtypes), so each row gets only its own fields."""
    out = np.zeros(len(events), dtype=EVENT_DTYPE)
    columns: dict[str, tuple[list, list]] = {}
    for i, ev in enumerate(events):
        for name, value in ev.items():
            column = columns.get(name)
            if column is None:
                column = columns[name] = ([], [])
            column[0].append(i)
            column[1].append(value)
    for name, (rows, values) in columns.items():
        out[name][rows] = values
    return out
_SIDES = (Side.BUY, Side.SELL)

# Each instrument has four books: continuous orders, fixed-price listings, block quotes and
# the bids of its open auction.
CONTINUOUS_BOOK, FIXED_BOOK, BLOCK_BOOK, AUCTION_BOOK = 0, 1, 2, 3
_BOOKS = (CONTINUOUS_BOOK, FIXED_BOOK, BLOCK_BOOK, AUCTION_BOOK)
_BOOK_OF = {OrderType.LIMIT: CONTINUOUS_BOOK, OrderType.MARKET: CONTINUOUS_BOOK,
            OrderType.FIXED_LISTING: FIXED_BOOK, OrderType.FIXED_TAKE: FIXED_BOOK,
            OrderType.BLOCK_QUOTE: BLOCK_BOOK, OrderType.BLOCK_ACCEPT: BLOCK_BOOK,
            OrderType.AUCTION_BID: AUCTION_BOOK, OrderType.AUCTION_LOT: AUCTION_BOOK}
_TRADE_TYPE_OF_BOOK = (TradeType.CONTINUOUS, TradeType.FIXED, TradeType.BLOCK, TradeType.AUCTION)
# Block quotes are private to their parties and auction bids are sealed: neither is in the
# depth feed.
_PUBLISHED_BOOKS = (CONTINUOUS_BOOK, FIXED_BOOK)
# Phases that take orders into the books without trading them.
_ORDER_ENTRY_ONLY = (InstrumentStatus.PRE_OPEN, InstrumentStatus.CALL)
_ROLLOVER_AUCTIONS = 4      # a cancelled primary auction's volume spreads over the next four
_MASK64 = 2**64 - 1
# InstrumentParameter -> (Instrument field, lowest value, highest value)
_PARAMETERS = {
    InstrumentParameter.TICK: ("tick", 1, MAX_PRICE),
    InstrumentParameter.LOT: ("lot", 1, MAX_QTY),
    InstrumentParameter.MAX_ORDER_QTY: ("max_order_qty", 1, MAX_QTY),
    InstrumentParameter.REFERENCE_PRICE: ("reference_price", 1, MAX_PRICE),
    InstrumentParameter.BAND_BPS: ("band_bps", 0, 10000),
    InstrumentParameter.BLOCK_BAND_BPS: ("block_band_bps", 0, 10000),
    InstrumentParameter.BLOCK_MIN_QTY: ("block_min_qty", 1, MAX_QTY),
    InstrumentParameter.MIN_CLOSE_VOLUME: ("min_close_volume", 0, MAX_CLOSE_VOLUME),
    InstrumentParameter.DYNAMIC_BAND_BPS: ("dynamic_band_bps", 0, 10000),
    InstrumentParameter.SELECT_DEPTH: ("select_depth", 0, MAX_SELECT_DEPTH),
    InstrumentParameter.SELECT_FIFO: ("select_fifo", 0, 1),
    InstrumentParameter.CER_CAP_BPS: ("cer_cap_bps", 0, 10000),
}


def splitmix64(x: int) -> int:
    """The seeded tie-break draw: SplitMix64 of ``x`` (both engines compute it alike).

    >>> splitmix64(0)
    16294208416658607535
    """
    z = (x + 0x9E3779B97F4A7C15) & _MASK64
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK64
    return z ^ (z >> 31)


def _opposite(side: int) -> int:
    return Side.SELL if side == Side.BUY else Side.BUY


def _crosses(side: int, limit: int, level_price: int) -> bool:
    """True when an incoming order on ``side`` with ``limit`` may trade at ``level_price``."""
    return level_price <= limit if side == Side.BUY else level_price >= limit


def _visible(o, account: int) -> bool:
    """May ``account`` learn that the resting order ``o`` exists? (TAKE_FIXED, BLOCK_ACCEPT)

    Its own orders, fixed-price listings and block quotes offered to all or to it: offers
    made to it. Any other order id is answered UNKNOWN_ORDER, like one that does not exist.
    """
    return (o.account == account or o.order_type == OrderType.FIXED_LISTING
            or (o.order_type == OrderType.BLOCK_QUOTE and o.terms in (build.PUBLIC, account)))


def _selectable(o, instrument) -> bool:
    """A resting limit order of a taker-select instrument: public, for takers to name."""
    return o.order_type == OrderType.LIMIT and instrument.select_depth > 0


@dataclass(eq=False)       # orders are compared by identity
class _Order:
    order_id: int
    client_order_id: int
    instrument: int
    account: int
    side: int
    order_type: int
    tif: int
    stp: int
    price: int
    qty: int
    ts: int
    terms: int = 0          # listing: minimum take; block quote: contra account or PUBLIC
    flags: int = 0          # block quote: FLAG_PARTIAL

    @property
    def book(self) -> int:
        return _BOOK_OF[self.order_type]


@dataclass(eq=False)
class _Day:
    """An instrument's trading day so far."""

    volume: list = field(default_factory=lambda: [0] * N_TRADE_TYPES)     # by TradeType
    amount: list = field(default_factory=lambda: [0] * N_TRADE_TYPES)
    open: int = 0
    high: int = 0
    low: int = 0
    last: int = 0           # the latest continuous trade's price: the dynamic band's centre


@dataclass(eq=False)
class _Auction:
    """An instrument's open auction; ``lot`` is the initiator's side, its id the auction's."""

    lot: _Order
    volume: int
    min_bid: int
    cap: int
    flags: int
    cancel_bps: int
    seed: int
    eligible: list = field(default_factory=list)


@dataclass(eq=False)
class _Holding:
    available: int = 0
    frozen: int = 0
    locked: int = 0
    non_tradable: int = 0
    floor: int = 0
    limit: int = 0
    buying: int = 0
    obligation: int = 0

    @property
    def held(self) -> int:
        return self.available + self.frozen + self.locked + self.non_tradable


@dataclass(eq=False)
class _Account:
    account: int
    member: int
    region: int
    sector: int
    holdings: list
    status: int = AccountStatus.ACTIVE
    cash_available: int = 0
    cash_frozen: int = 0
    fines_owed: int = 0


class _Level:
    __slots__ = ("price", "orders")

    def __init__(self, price: int) -> None:
        self.price = price
        self.orders: deque[_Order] = deque()

    @property
    def qty(self) -> int:
        return sum(o.qty for o in self.orders)


class _Book:
    """Both sides of one instrument. Keys sort best first: bids by -price, asks by price."""

    def __init__(self) -> None:
        self.sides = {Side.BUY: SortedDict(), Side.SELL: SortedDict()}

    @staticmethod
    def key(side: int, price: int) -> int:
        return -price if side == Side.BUY else price

    def levels(self, side: int):
        """Levels of one side, best first."""
        return self.sides[side].values()

    def level(self, side: int, price: int):
        return self.sides[side].get(self.key(side, price))

    def add(self, order: _Order) -> None:
        levels = self.sides[order.side]
        key = self.key(order.side, order.price)
        if key not in levels:
            levels[key] = _Level(order.price)
        levels[key].orders.append(order)

    def remove(self, order: _Order) -> None:
        levels = self.sides[order.side]
        key = self.key(order.side, order.price)
        level = levels[key]
        level.orders.remove(order)
        if not level.orders:
            del levels[key]


class ReferenceEngine:
    """Pure-Python twin of :class:`matching.Engine` with the same API and event dtype.

    Parameters
    ----------
    instruments : sequence of Instrument
        The instruments, indexed by position.
    max_accounts : int
        Account ids run from 0 to ``max_accounts - 1``.
    default_stp : StpMode
        Self-trade prevention for accounts that have not set their own.
    risk : bool
        Pre-fund every order from created accounts and settle every trade.
    fees : dict, optional
        ``{TradeType: (buyer_bps, seller_bps)}``; unlisted trade types are free.
    """

    def __init__(self, instruments, *, max_accounts: int = 100_000,
                 default_stp: int = StpMode.CANCEL_NEWEST, risk: bool = False,
                 fees: dict | None = None) -> None:
        self.instruments, self._index = engine_market(instruments, max_accounts, default_stp)
        self.max_accounts = max_accounts
        self.default_stp = int(default_stp)
        self.risk = bool(risk)
        self.fees = fee_table(fees)
        self._account_stp: dict[int, int] = {}
        self._rebates: dict[tuple[int, int], int] = {}     # (account, trade type) -> bps off the market's fees
        self._accounts: dict[int, _Account] = {}
        self.fees_collected = 0
        self.fines_collected = 0
        self.net_deposits = 0
        self.net_credits = [0] * len(self.instruments)
        self.retired = [0] * len(self.instruments)         # units surrendered for compliance, by instrument
        self._surrendered: dict[tuple[int, int], list[int]] = {}   # (account, allowance) -> [units, of them CERs]
        self._books = [tuple(_Book() for _ in _BOOKS) for _ in self.instruments]
        self._days = [_Day() for _ in self.instruments]
        self._block_window = [False] * len(self.instruments)
        self._auctions: list[_Auction | None] = [None] * len(self.instruments)
        self._rollover = [[0] * _ROLLOVER_AUCTIONS for _ in self.instruments]
        self._orders: dict[int, _Order] = {}
        self.next_order_id = 1
        self.next_trade_id = 1
        self.next_event_seq = 1
        self.clock = 0      # the engine's time: the latest command timestamp seen
        self._handlers = {
            CommandType.NEW_ORDER: self._new_order,
            CommandType.CANCEL: self._cancel,
            CommandType.REDUCE: self._reduce,
            CommandType.REPLACE: self._replace,
            CommandType.SET_INSTRUMENT_STATUS: self._set_instrument_status,
            CommandType.SET_ACCOUNT_STP: self._set_account_stp,
            CommandType.SET_FEE_REBATE: self._set_fee_rebate,
            CommandType.SURRENDER: self._surrender,
            CommandType.FINE: self._fine,
            CommandType.SET_INSTRUMENT_PARAMETER: self._set_instrument_parameter,
            CommandType.CANCEL_ALL: self._cancel_all,
            CommandType.EXPIRE_DAY_ORDERS: self._expire_day_orders,
            CommandType.CREATE_ACCOUNT: self._create_account,
            CommandType.SET_ACCOUNT_STATUS: self._set_account_status,
            CommandType.DEPOSIT: self._deposit,
            CommandType.WITHDRAW: self._withdraw,
            CommandType.CREDIT_HOLDINGS: self._credit_holdings,
            CommandType.DEBIT_HOLDINGS: self._debit_holdings,
            CommandType.SET_RETENTION_FLOOR: self._set_position_bound,
            CommandType.SET_POSITION_LIMIT: self._set_position_bound,
            CommandType.SET_OBLIGATION: self._set_position_bound,
            CommandType.RELEASE_T1: self._release_t1,
            CommandType.LIST_FIXED: self._list_fixed,
            CommandType.TAKE_FIXED: self._take,
            CommandType.BLOCK_QUOTE: self._block_quote,
            CommandType.BLOCK_ACCEPT: self._take,
            CommandType.SET_BLOCK_WINDOW: self._set_block_window,
            CommandType.END_OF_DAY: self._end_of_day,
            CommandType.AUCTION_OPEN: self._auction_open,
            CommandType.AUCTION_BID: self._auction_bid,
            CommandType.AUCTION_ELIGIBLE: self._auction_eligible,
            CommandType.AUCTION_CLOSE: self._auction_close,
            CommandType.ADD_INSTRUMENT: self._add_instrument,
        }

    # ----------------------------------------------------------------- batch API
    def process(self, commands: np.ndarray) -> np.ndarray:
        """Apply a batch of ``COMMAND_DTYPE`` commands; return their events in order."""
        if not isinstance(commands, np.ndarray) or commands.dtype != COMMAND_DTYPE or commands.ndim != 1:
            raise TypeError("commands must be a 1-d numpy array of COMMAND_DTYPE")
        self._events: list[dict] = []
        for row in commands.tolist():
            self._command(dict(zip(_COMMAND_FIELDS, row)))
        return _event_array(self._events)

    # ------------------------------------------------------------- per-call API
    def instrument_index(self, instrument) -> int:
        if isinstance(instrument, str):
            try:
                return self._index[instrument]
            except KeyError:
                raise KeyError(f"unknown instrument {instrument!r}") from None
        return int(instrument)

    def submit(self, instrument, account, side, qty, price=0, order_type=OrderType.LIMIT,
               tif=TimeInForce.GTC, stp=StpMode.ACCOUNT_DEFAULT, client_order_id=0, ts=0, seq=0):
        """Enter a new order; return the events it caused."""
        return self.process(build.new_order(self.instrument_index(instrument), account, side, qty,
                                            price, order_type, tif, stp, client_order_id, ts, seq))

    def cancel(self, order_id, account, ts=0, seq=0):
        """Cancel a resting order."""
        return self.process(build.cancel(order_id, account, ts, seq))

    def reduce(self, order_id, account, qty, ts=0, seq=0):
        """Reduce a resting order's remaining quantity to ``qty``, keeping its priority."""
        return self.process(build.reduce(order_id, account, qty, ts, seq))

    def replace(self, order_id, account, price, qty, ts=0, seq=0):
        """Change a resting order's price and remaining quantity."""
        return self.process(build.replace(order_id, account, price, qty, ts, seq))

    def place(self, instrument, account, side, qty, price=0, order_type=OrderType.LIMIT,
              tif=TimeInForce.GTC, stp=StpMode.ACCOUNT_DEFAULT, client_order_id=0, ts=0, seq=0) -> OrderResult:
        """Enter a new order; return its :class:`~matching.results.OrderResult`."""
        return fold(self.submit(instrument, account, side, qty, price, order_type, tif, stp, client_order_id,
                                ts, seq))

    def withdraw(self, order_id, account, ts=0, seq=0) -> OrderResult:
        """Cancel a resting order; return its :class:`~matching.results.OrderResult`."""
        return fold(self.cancel(order_id, account, ts, seq))

    def amend(self, order_id, account, price, qty, ts=0, seq=0) -> OrderResult:
        """Replace a resting order; return its :class:`~matching.results.OrderResult`."""
        return fold(self.replace(order_id, account, price, qty, ts, seq))

    def set_instrument_status(self, instrument, status, ts=0, seq=0):
        return self.process(build.set_instrument_status(self.instrument_index(instrument), status, ts, seq))

    def set_instrument_parameter(self, instrument, parameter, value, ts=0, seq=0):
        return self.process(build.set_instrument_parameter(self.instrument_index(instrument), parameter, value,
                                                           ts, seq))

    def set_account_stp(self, account, mode, ts=0, seq=0):
        return self.process(build.set_account_stp(account, mode, ts, seq))

    def expire_day_orders(self, instrument, ts=0, seq=0):
        return self.process(build.expire_day_orders(self.instrument_index(instrument), ts, seq))

    # ------------------------------------------------------------------ queries
    def book(self, instrument, depth: int = 10) -> BookView:
        """The best ``depth`` levels of each side as (price, quantity, order count)."""
        return self._view(self._books[self.instrument_index(instrument)][CONTINUOUS_BOOK], depth)

    def listings(self, instrument, depth: int = 10) -> BookView:
        """The fixed-price listings' best ``depth`` levels, as :meth:`book` shows orders."""
        return self._view(self._books[self.instrument_index(instrument)][FIXED_BOOK], depth)

    def queue(self, instrument, depth: int = 10) -> BookView:
        """The orders of the continuous book's best ``depth`` levels of each side, in
        priority order, as (order id, price, quantity): what a taker-select taker names."""
        book = self._books[self.instrument_index(instrument)][CONTINUOUS_BOOK]
        return BookView(*([(o.order_id, o.price, o.qty) for level in list(book.levels(side))[:depth]
                           for o in level.orders] for side in _SIDES))

    def daily(self, instrument) -> dict:
        """The instrument's day so far: open, high, low, and volume and amount by trade type."""
        day = self._days[self.instrument_index(instrument)]
        return daily_view(day.open, day.high, day.low, day.volume, day.amount)

    @staticmethod
    def _view(book: "_Book", depth: int) -> BookView:
        view = []
        for side in _SIDES:
            rows = []
            for level in book.levels(side):
                if len(rows) == depth:
                    break
                rows.append((level.price, level.qty, len(level.orders)))
            view.append(rows)
        return BookView(*view)

    def order(self, order_id: int):
        o = self._orders.get(order_id)
        if o is None:
            return None
        return OrderView(o.order_id, o.client_order_id, o.instrument, o.account, o.side,
                         o.price, o.qty, o.tif, o.stp, o.ts)

    @property
    def resting_orders(self) -> int:
        return len(self._orders)

    def account(self, account: int):
        """Balances of a created account as a dict (see ``matching.commands.account_view``)."""
        a = self._accounts.get(account)
        if a is None:
            return None
        acct_row = (a.cash_available, a.cash_frozen, a.account, a.member, a.region, a.sector, a.status)
        rows = [(h.available, h.frozen, h.locked, h.non_tradable, h.floor, h.limit, h.buying, h.obligation,
                 a.account, n) for n, h in enumerate(a.holdings)]
        return account_view(acct_row, rows, [ins.symbol for ins in self.instruments], a.fines_owed)

    # ------------------------------------------------------------ state
    def _canonical_orders(self) -> np.ndarray:
        rows = []
        for books in self._books:
            for book in books:
                for side in _SIDES:
                    for level in book.levels(side):
                        for o in level.orders:
                            rows.append((o.order_id, o.client_order_id, o.price, o.qty, o.ts, o.account,
                                         o.instrument, o.terms, o.side, o.tif, o.stp, o.order_type, o.flags))
        out = np.zeros(len(rows), dtype=BOOK_ORDER_DTYPE)
        for i, row in enumerate(rows):
            out[i] = row
        return out

    def _canonical_accounts(self) -> tuple[np.ndarray, np.ndarray]:
        accounts = sorted(self._accounts.values(), key=lambda a: a.account)
        acct = np.zeros(len(accounts), dtype=ACCOUNT_DTYPE)
        hold = np.zeros(len(accounts) * len(self.instruments), dtype=HOLDING_DTYPE)
        k = 0
        for i, a in enumerate(accounts):
            acct[i] = (a.cash_available, a.cash_frozen, a.account, a.member, a.region, a.sector, a.status)
            for n, h in enumerate(a.holdings):
                hold[k] = (h.available, h.frozen, h.locked, h.non_tradable, h.floor, h.limit, h.buying,
                           h.obligation, a.account, n)
                k += 1
        return acct, hold

    def _meta(self) -> dict:
        return {
            "instruments": [ins.to_dict() for ins in self.instruments],
            "max_accounts": self.max_accounts,
            "default_stp": self.default_stp,
            "risk": self.risk,
            "fees": self.fees,
            "fees_collected": self.fees_collected,
            "fines_collected": self.fines_collected,
            "fines_owed": [[a, acct.fines_owed] for a, acct in sorted(self._accounts.items()) if acct.fines_owed],
            "net_deposits": self.net_deposits,
            "net_credits": self.net_credits,
            "retired": self.retired,
            "surrendered": sorted([a, n, units, cer] for (a, n), (units, cer) in self._surrendered.items()),
            "days": [[d.open, d.high, d.low, d.volume, d.amount, d.last] for d in self._days],
            "block_window": [int(w) for w in self._block_window],
            "rollover": self._rollover,
            "auctions": [None if a is None else {
                "id": a.lot.order_id, "account": a.lot.account, "side": a.lot.side, "reserve": a.lot.price,
                "unsold": a.lot.qty, "ts": a.lot.ts, "volume": a.volume, "min_bid": a.min_bid, "cap": a.cap,
                "flags": a.flags, "cancel_bps": a.cancel_bps, "seed": a.seed, "eligible": a.eligible}
                for a in self._auctions],
            "account_stp": sorted([a, m] for a, m in self._account_stp.items() if m != self.default_stp),
            "fee_rebates": sorted([a, t, bps] for (a, t), bps in self._rebates.items() if bps),
            "next_order_id": self.next_order_id,
            "next_trade_id": self.next_trade_id,
            "next_event_seq": self.next_event_seq,
            "clock": self.clock,
        }

    def snapshot(self) -> bytes:
        """The full state as bytes; :meth:`restore` rebuilds an identical engine."""
        accounts, holdings = self._canonical_accounts()
        return pack_state(self._meta(), {"orders": self._canonical_orders(), "accounts": accounts,
                                         "holdings": holdings})

    def state_digest(self) -> str:
        """A hash of the full state, equal across implementations for equal states."""
        return digest(self.snapshot())

    @classmethod
    def restore(cls, blob: bytes) -> "ReferenceEngine":
        """Build an engine from :meth:`snapshot` bytes; damaged bytes raise ValueError."""
        meta, sections = unpack_state(blob)
        try:
            engine = cls._restore(meta, sections)
            engine.check_invariants()
        except (KeyError, IndexError, TypeError, AssertionError) as exc:
            raise ValueError(f"snapshot is inconsistent: {exc!r}") from None
        return engine

    @classmethod
    def _restore(cls, meta: dict, sections: dict) -> "ReferenceEngine":
        engine = cls([Instrument(**d) for d in meta["instruments"]],
                     max_accounts=meta["max_accounts"], default_stp=meta["default_stp"],
                     risk=meta["risk"], fees=meta["fees"])
        for day, (opening, high, low, volume, amount, *last) in zip(engine._days, meta["days"]):
            day.open, day.high, day.low, day.volume, day.amount = opening, high, low, list(volume), list(amount)
            day.last = last[0] if last else 0           # snapshots before dynamic bands had none
        engine._block_window = [bool(w) for w in meta["block_window"]]
        engine._rollover = [list(r) for r in meta["rollover"]]
        for n, a in enumerate(meta["auctions"]):
            if a is not None:
                lot = _Order(a["id"], 0, n, a["account"], a["side"], OrderType.AUCTION_LOT, TimeInForce.GTC,
                             StpMode.OFF, a["reserve"], a["unsold"], a["ts"])
                engine._auctions[n] = _Auction(lot, a["volume"], a["min_bid"], a["cap"], a["flags"],
                                               a["cancel_bps"], a["seed"], list(a["eligible"]))
        engine.fees_collected = meta["fees_collected"]
        engine.fines_collected = meta.get("fines_collected", 0)      # snapshots from before fines have none
        engine.net_deposits = meta["net_deposits"]
        engine.net_credits = list(meta["net_credits"])
        # snapshots from before the compliance cycle have no surrenders
        engine.retired = list(meta.get("retired", [0] * len(engine.instruments)))
        engine._surrendered = {(int(a), int(n)): [int(u), int(c)] for a, n, u, c in meta.get("surrendered", [])}
        for row in sections["accounts"]:
            a = int(row["account"])
            engine._accounts[a] = _Account(a, int(row["member"]), int(row["region"]), int(row["sector"]),
                                           [_Holding() for _ in engine.instruments], int(row["status"]),
                                           int(row["cash_available"]), int(row["cash_frozen"]))
        for row in sections["holdings"]:
            h = engine._accounts[int(row["account"])].holdings[int(row["instrument"])]
            for name in ("available", "frozen", "locked", "non_tradable", "floor", "limit", "buying", "obligation"):
                setattr(h, name, int(row[name]))
        orders = sections["orders"]
        engine._account_stp = {int(a): int(m) for a, m in meta["account_stp"]}
        for a, owed in meta.get("fines_owed", []):
            engine._accounts[int(a)].fines_owed = int(owed)
        # snapshots from before fee rebates have none
        engine._rebates = {(int(a), int(t)): int(bps) for a, t, bps in meta.get("fee_rebates", [])}
        engine.next_order_id = meta["next_order_id"]
        engine.next_trade_id = meta["next_trade_id"]
        engine.next_event_seq = meta["next_event_seq"]
        engine.clock = meta["clock"]
        for row in orders:
            o = _Order(int(row["order_id"]), int(row["client_order_id"]), int(row["instrument"]),
                       int(row["account"]), int(row["side"]), OrderType(int(row["order_type"])),
                       int(row["tif"]), int(row["stp"]), int(row["price"]), int(row["qty"]),
                       int(row["ts"]), int(row["terms"]), int(row["flags"]))
            engine._books[o.instrument][o.book].add(o)
            engine._orders[o.order_id] = o
        return engine

    def check_invariants(self) -> None:
        """Raise AssertionError if any structural invariant is broken. O(n)."""
        seen = 0
        for n, books in enumerate(self._books):
            for kind, book in enumerate(books):
                for side in _SIDES:
                    for key, level in book.sides[side].items():
                        assert level.orders, "empty level left in the book"
                        assert key == book.key(side, level.price)
                        last_ts = None
                        for o in level.orders:
                            assert last_ts is None or last_ts <= o.ts, "time priority broken"
                            last_ts = o.ts
                            assert o.qty > 0 and o.price == level.price and o.side == side
                            assert o.instrument == n and o.book == kind and self._orders.get(o.order_id) is o
                            seen += 1
            bids, asks = books[CONTINUOUS_BOOK].sides[Side.BUY], books[CONTINUOUS_BOOK].sides[Side.SELL]
            status = self.instruments[n].status
            if bids and asks and status == InstrumentStatus.TRADING and not self.instruments[n].select_depth:
                assert bids.peekitem(0)[1].price < asks.peekitem(0)[1].price, "book crossed at rest"
            assert status == InstrumentStatus.CALL or not any(
                o.tif == TimeInForce.IOC for side in _SIDES for level in books[CONTINUOUS_BOOK].levels(side)
                for o in level.orders), "an IOC order rests outside a call"
        assert seen == len(self._orders), "order index and book disagree"
        self._check_accounts()

    def _check_accounts(self) -> None:
        cash = 0
        held = [0] * len(self.instruments)
        for a in self._accounts.values():
            assert a.cash_available >= 0 and a.cash_frozen >= 0, "negative cash"
            cash += a.cash_available + a.cash_frozen
            for n, h in enumerate(a.holdings):
                assert min(h.available, h.frozen, h.locked, h.non_tradable, h.buying) >= 0, "negative holding"
                held[n] += h.held
        assert cash + self.fees_collected + self.fines_collected == self.net_deposits, "cash created or lost"
        assert held == self.net_credits, "units created or lost"
        if not self.risk:
            return
        need = {a: [0, [0] * len(self.instruments), [0] * len(self.instruments)] for a in self._accounts}
        held_lots = [a.lot for a in self._auctions if a is not None and not a.flags & build.FLAG_PRIMARY]
        for o in [*self._orders.values(), *held_lots]:
            frozen_cash, frozen_units, buying = need[o.account]
            if o.side == Side.BUY:
                frozen_cash += self._buy_need(o, o.qty)
                buying[o.instrument] += o.qty
            else:
                frozen_units[o.instrument] += o.qty
            need[o.account][0] = frozen_cash
        for account, (frozen_cash, frozen_units, buying) in need.items():
            a = self._accounts[account]
            assert a.cash_frozen == frozen_cash, "frozen cash is not what the open buys need"
            assert [h.frozen for h in a.holdings] == frozen_units, "frozen units are not the open sells"
            assert [h.buying for h in a.holdings] == buying, "open buy quantity is wrong"

    # ------------------------------------------------------------ the rules
    def _emit(self, cmd, kind, **fields) -> None:
        ev = fields
        ev["seq"] = self.next_event_seq
        self.next_event_seq += 1
        ev["cmd_seq"] = int(cmd["seq"])
        ev["ts"] = self.clock
        ev["kind"] = kind
        ev["command"] = int(cmd["type"])
        self._events.append(ev)

    def _emit_order(self, cmd, kind, o: _Order, **fields) -> None:
        self._emit(cmd, kind, order_id=o.order_id, client_order_id=o.client_order_id,
                   account=o.account, instrument=o.instrument, side=o.side,
                   order_type=o.order_type, tif=o.tif,
                   price=o.price, **fields)

    def _reject(self, cmd, reason: int) -> None:
        self._emit(cmd, EventKind.REJECTED, reason=reason,
                   **{k: int(cmd[k]) for k in ("order_id", "client_order_id", "account", "instrument",
                                               "side", "order_type", "tif", "price", "qty", "value")})

    def _touch(self, o: _Order) -> None:
        """Note that the level of ``o``'s price on its side of its book is changing."""
        if o.book not in _PUBLISHED_BOOKS:
            return
        key = (o.instrument, o.book, o.side, o.price)
        if key not in self._touched_set:
            self._touched_set.add(key)
            self._touched.append(key)

    def _command(self, cmd) -> None:
        self._touched: list[tuple[int, int, int, int]] = []
        self._touched_set: set = set()
        self.clock = max(self.clock, int(cmd["ts"]))
        handler = self._handlers.get(int(cmd["type"]))
        if handler is None:
            self._reject(cmd, Reject.UNKNOWN_COMMAND)
            return
        handler(cmd)
        for instrument, kind, side, price in self._touched:
            level = self._books[instrument][kind].level(side, price)
            self._emit(cmd, EventKind.DEPTH, instrument=instrument, side=side, price=price,
                       trade_type=_TRADE_TYPE_OF_BOOK[kind],
                       qty=level.qty if level else 0, count=len(level.orders) if level else 0)
        for instrument in dict.fromkeys(n for n, kind, _, _ in self._touched if kind == CONTINUOUS_BOOK):
            if self.instruments[instrument].status == InstrumentStatus.CALL:
                self._emit_indicative(cmd, instrument)

    @staticmethod
    def _validate_qty(ins: Instrument, qty: int, max_qty: int | None = None) -> int:
        """Reject reason for an order quantity on ``ins``, or 0."""
        if qty <= 0:
            return Reject.BAD_QUANTITY
        if qty % ins.lot:
            return Reject.OFF_LOT_QUANTITY
        if qty > (ins.max_order_qty if max_qty is None else max_qty):
            return Reject.ORDER_TOO_LARGE
        return 0

    @staticmethod
    def _validate_price(ins: Instrument, price: int, band: tuple[int, int] | None = None) -> int:
        if price <= 0:
            return Reject.BAD_PRICE
        if price % ins.tick:
            return Reject.OFF_TICK_PRICE
        low, high = band or ins.band
        if not low <= price <= high:
            return Reject.PRICE_OUTSIDE_BAND
        return 0

    def _phase_reason(self, ins: Instrument, pre_open_ok: bool) -> int:
        """Why the instrument's phase refuses an order entry, or 0."""
        if ins.status == InstrumentStatus.HALTED:
            return Reject.INSTRUMENT_HALTED
        if ins.status == InstrumentStatus.CLOSED or (ins.status in _ORDER_ENTRY_ONLY and not pre_open_ok):
            return Reject.MARKET_CLOSED
        return 0

    def _would_cross(self, n_ins: int, side: int, price: int) -> bool:
        levels = self._books[n_ins][CONTINUOUS_BOOK].sides[_opposite(side)]
        return bool(levels) and _crosses(side, price, levels.peekitem(0)[1].price)

    # ..................................................... risk: holds and settlement
    def _hold_price(self, o: _Order) -> int:
        """The price a buy holds cash at: its limit, or the band's top for a market buy."""
        if o.order_type == OrderType.MARKET and not o.price:
            return self.instruments[o.instrument].band[1]
        return o.price          # a market buy resting in a call holds at the edge it rests at

    def _buy_need(self, o: _Order, leaves: int) -> int:
        return buy_hold(self._hold_price(o), leaves, self.fees[_TRADE_TYPE_OF_BOOK[o.book]][0])

    @staticmethod
    def _buy_room(a: _Account, h: _Holding, extra_qty: int, extra_cash: int) -> int:
        if extra_qty > 0 and h.limit and h.held + h.buying + extra_qty > h.limit:
            return Reject.POSITION_LIMIT
        if extra_cash > a.cash_available:
            return Reject.INSUFFICIENT_CASH
        return 0

    @staticmethod
    def _sell_room(h: _Holding, extra_qty: int) -> int:
        if extra_qty > h.available:
            return Reject.INSUFFICIENT_HOLDINGS
        if h.available + h.locked + h.non_tradable - extra_qty < h.floor:
            return Reject.RETENTION_FLOOR
        return 0

    def _risk_reason(self, o: _Order) -> int:
        """Why account checks refuse the new order ``o``, or 0."""
        a = self._accounts.get(o.account)
        if a is None:               # risk off: an account that was never created
            return 0
        if a.status == AccountStatus.SUSPENDED:
            return Reject.ACCOUNT_SUSPENDED
        if o.side == Side.BUY and a.status == AccountStatus.SELL_ONLY:
            return Reject.ACCOUNT_SELL_ONLY
        if not self.risk:
            return 0
        h = a.holdings[o.instrument]
        if o.side == Side.BUY:
            return self._buy_room(a, h, o.qty, self._buy_need(o, o.qty))
        return self._sell_room(h, o.qty)

    def _hold(self, o: _Order, old_need: int, old_leaves: int) -> None:
        """Move the order's hold from what ``old_leaves`` needed to what ``o.qty`` needs.

        A negative move releases: on cancels, reduces, IOC remainders and improvements.
        """
        if not self.risk:
            return
        a = self._accounts[o.account]
        h = a.holdings[o.instrument]
        if o.side == Side.BUY:
            delta = self._buy_need(o, o.qty) - old_need
            a.cash_available -= delta
            a.cash_frozen += delta
            h.buying += o.qty - old_leaves
        else:
            delta = o.qty - old_leaves
            h.available -= delta
            h.frozen += delta

    def _set_leaves(self, o: _Order, leaves: int) -> None:
        old = o.qty
        need = self._buy_need(o, old) if o.side == Side.BUY else 0
        o.qty = leaves
        self._hold(o, need, old)

    def _settle(self, buy: _Order, sell: _Order, price: int, qty: int, buy_fee: int, sell_fee: int) -> None:
        """Move cash and units for one trade; the orders' leaves have not been lowered yet."""
        if not self.risk:
            return
        ins = self.instruments[buy.instrument]
        b, s = self._accounts[buy.account], self._accounts[sell.account]
        hb, hs = b.holdings[buy.instrument], s.holdings[sell.instrument]
        release = self._buy_need(buy, buy.qty) - self._buy_need(buy, buy.qty - qty)
        b.cash_frozen -= release
        b.cash_available += release - (price * qty + buy_fee)
        hb.buying -= qty
        if buy.flags & build.FLAG_COMPLIANCE_ONLY:
            hb.non_tradable += qty
        elif ins.t_plus_one:
            hb.locked += qty
        else:
            hb.available += qty
        hs.frozen -= qty
        s.cash_available += price * qty - sell_fee
        self.fees_collected += buy_fee + sell_fee

    # ..................................................... orders
    def _new_order(self, cmd) -> None:
        n_ins, account = int(cmd["instrument"]), int(cmd["account"])
        side, otype, tif, stp = int(cmd["side"]), int(cmd["order_type"]), int(cmd["tif"]), int(cmd["stp"])
        price, qty = int(cmd["price"]), int(cmd["qty"])
        if not 0 <= n_ins < len(self.instruments):
            return self._reject(cmd, Reject.UNKNOWN_INSTRUMENT)
        ins = self.instruments[n_ins]
        if not 0 <= account < self.max_accounts or (self.risk and account not in self._accounts):
            return self._reject(cmd, Reject.UNKNOWN_ACCOUNT)
        reason = self._phase_reason(ins, pre_open_ok=True)
        if reason:
            return self._reject(cmd, reason)
        if side not in (Side.BUY, Side.SELL):
            return self._reject(cmd, Reject.BAD_SIDE)
        if otype not in (OrderType.LIMIT, OrderType.MARKET):
            return self._reject(cmd, Reject.BAD_ORDER_TYPE)
        if tif not in (TimeInForce.GTC, TimeInForce.DAY, TimeInForce.IOC, TimeInForce.FOK) or (
                otype == OrderType.MARKET and tif not in (TimeInForce.IOC, TimeInForce.FOK)):
            return self._reject(cmd, Reject.BAD_TIME_IN_FORCE)
        if stp > StpMode.CANCEL_BOTH:
            return self._reject(cmd, Reject.BAD_STP_MODE)
        reason = self._validate_qty(ins, qty)
        if otype == OrderType.LIMIT:
            reason = reason or self._validate_price(ins, price)
            limit = price
        else:
            limit = ins.band[1] if side == Side.BUY else ins.band[0]
        if reason:
            return self._reject(cmd, reason)
        if ins.status == InstrumentStatus.PRE_OPEN and (
                otype == OrderType.MARKET or tif in (TimeInForce.IOC, TimeInForce.FOK)):
            return self._reject(cmd, Reject.MARKET_CLOSED)
        if ins.status == InstrumentStatus.PRE_OPEN and self._would_cross(n_ins, side, price):
            return self._reject(cmd, Reject.WOULD_CROSS)
        in_call = ins.status == InstrumentStatus.CALL
        if in_call and tif == TimeInForce.FOK:
            return self._reject(cmd, Reject.MARKET_CLOSED)
        if ins.select_depth and (otype == OrderType.MARKET or tif in (TimeInForce.IOC, TimeInForce.FOK)):
            return self._reject(cmd, Reject.WRONG_ORDER_KIND)     # taker-select: orders rest, takers take
        if stp == StpMode.ACCOUNT_DEFAULT:
            stp = self._account_stp.get(account, self.default_stp)
        order = _Order(self.next_order_id, int(cmd["client_order_id"]), n_ins, account, side, otype,
                       tif, stp, price if otype == OrderType.LIMIT else (limit if in_call else 0), qty, self.clock)
        reason = self._risk_reason(order)
        if reason:
            return self._reject(cmd, reason)
        if tif == TimeInForce.FOK and not self._fok_fillable(n_ins, account, side, limit, qty, stp):
            return self._reject(cmd, Reject.FOK_NOT_FILLABLE)
        self.next_order_id += 1
        self._hold(order, 0, 0)
        self._emit_order(cmd, EventKind.ACCEPTED, order, qty=qty, leaves=qty)
        self._match_or_call(cmd, order, limit)

    def _fok_fillable(self, n_ins, account, side, limit, qty, stp) -> bool:
        available, centre = 0, self._band_centre(n_ins)
        for level in self._books[n_ins][CONTINUOUS_BOOK].levels(_opposite(side)):
            if not _crosses(side, limit, level.price) or self._interrupts(n_ins, level.price, centre):
                break
            for resting in level.orders:
                if stp != StpMode.OFF and resting.account == account:
                    if stp == StpMode.CANCEL_OLDEST:
                        continue
                    return False
                available += resting.qty
                if available >= qty:
                    return True
        return False

    def _match_or_call(self, cmd, order: _Order, limit: int) -> None:
        """Match and rest an incoming order; in a call, or in taker-select, it only rests,
        whatever it crosses."""
        ins = self.instruments[order.instrument]
        if ins.status == InstrumentStatus.CALL or ins.select_depth:
            self._rest(order)
        else:
            self._match_and_rest(cmd, order, limit)

    def _match_and_rest(self, cmd, order: _Order, limit: int) -> None:
        book = self._books[order.instrument][CONTINUOUS_BOOK]
        contra_side = _opposite(order.side)
        centre = self._band_centre(order.instrument)
        while order.qty > 0:
            levels = book.sides[contra_side]
            if not levels:
                break
            level = levels.peekitem(0)[1]
            if not _crosses(order.side, limit, level.price):
                break
            resting = level.orders[0]
            if order.stp != StpMode.OFF and resting.account == order.account:
                if order.stp in (StpMode.CANCEL_OLDEST, StpMode.CANCEL_BOTH):
                    self._remove_cancelled(cmd, resting, CancelReason.SELF_TRADE)
                if order.stp in (StpMode.CANCEL_NEWEST, StpMode.CANCEL_BOTH):
                    self._drop_incoming(cmd, order, CancelReason.SELF_TRADE)
                    return
                continue
            if self._interrupts(order.instrument, level.price, centre):     # only a trade is judged
                self._interrupt(cmd, order.instrument)
                break
            self._trade(cmd, order, resting, min(order.qty, resting.qty))
        if order.qty == 0:
            return
        if self.instruments[order.instrument].status == InstrumentStatus.CALL:   # interrupted
            order.price = limit          # a market order waits at the band edge, as in any call
            self._rest(order)
        elif order.order_type == OrderType.LIMIT and order.tif in (TimeInForce.GTC, TimeInForce.DAY):
            self._rest(order)
        else:
            self._drop_incoming(cmd, order, CancelReason.IOC_REMAINDER)

    def _band_centre(self, n_ins: int) -> int:
        """The dynamic band's centre for an incoming order: the day's last continuous trade
        before it arrived (the reference price before the first), so that no sweep can walk
        the band along with its own fills."""
        return self._days[n_ins].last or self.instruments[n_ins].reference_price

    def _interrupts(self, n_ins: int, price: int, centre: int) -> bool:
        """Would a continuous trade at ``price`` print outside the dynamic band: further than
        ``dynamic_band_bps`` from ``centre``?"""
        ins = self.instruments[n_ins]
        if not ins.dynamic_band_bps or ins.status != InstrumentStatus.TRADING:
            return False
        return abs(price - centre) * 10000 > centre * ins.dynamic_band_bps

    def _interrupt(self, cmd, n_ins: int) -> None:
        """A volatility interruption: the instrument goes into a call auction at once."""
        self.instruments[n_ins].status = InstrumentStatus.CALL
        self._emit(cmd, EventKind.INSTRUMENT_STATUS, instrument=n_ins, value=InstrumentStatus.CALL,
                   reason=StatusCause.VOLATILITY)

    def _rest(self, o: _Order) -> None:
        self._books[o.instrument][o.book].add(o)
        self._orders[o.order_id] = o
        self._touch(o)

    def _drop_incoming(self, cmd, order: _Order, reason: int) -> None:
        """Cancel the rest of an order that is not in the book."""
        self._emit_order(cmd, EventKind.CANCELLED, order, qty=order.qty, leaves=0, reason=reason)
        self._set_leaves(order, 0)

    def _trade(self, cmd, aggressor: _Order, resting: _Order, qty: int, price: int | None = None) -> None:
        """Trade ``qty`` at ``price`` (the resting order's, unless given); the trade type is
        the resting book's."""
        price = resting.price if price is None else price
        trade_type = _TRADE_TYPE_OF_BOOK[resting.book]
        buy, sell = (aggressor, resting) if aggressor.side == Side.BUY else (resting, aggressor)
        buy_bps, sell_bps = self.fees[trade_type] if self.risk else (0, 0)
        buy_bps = max(0, buy_bps - self._rebates.get((buy.account, trade_type), 0))
        sell_bps = max(0, sell_bps - self._rebates.get((sell.account, trade_type), 0))
        buy_fee, sell_fee = fee(price * qty, buy_bps), fee(price * qty, sell_bps)
        self._settle(buy, sell, price, qty, buy_fee, sell_fee)
        self._touch(resting)
        aggressor.qty -= qty
        resting.qty -= qty
        self._emit(cmd, EventKind.TRADE, trade_id=self.next_trade_id, instrument=aggressor.instrument,
                   price=price, qty=qty, side=aggressor.side, trade_type=trade_type,
                   buy_order_id=buy.order_id, sell_order_id=sell.order_id,
                   buy_account=buy.account, sell_account=sell.account,
                   buy_leaves=buy.qty, sell_leaves=sell.qty, buy_fee=buy_fee, sell_fee=sell_fee)
        self.next_trade_id += 1
        self._record_trade(aggressor.instrument, trade_type, price, qty)
        if resting.qty == 0:
            self._books[resting.instrument][resting.book].remove(resting)
            del self._orders[resting.order_id]

    def _record_trade(self, n_ins: int, trade_type: int, price: int, qty: int) -> None:
        day = self._days[n_ins]
        day.volume[trade_type] += qty
        day.amount[trade_type] += price * qty
        if trade_type == TradeType.CONTINUOUS:
            day.last = price
        if trade_type in (TradeType.CONTINUOUS, TradeType.FIXED):
            if not day.open:
                day.open = day.high = day.low = price
            day.high, day.low = max(day.high, price), min(day.low, price)

    def _remove_cancelled(self, cmd, o: _Order, reason: int) -> None:
        self._books[o.instrument][o.book].remove(o)
        del self._orders[o.order_id]
        self._touch(o)
        self._drop_incoming(cmd, o, reason)

    def _owned_order(self, cmd):
        """The order a CANCEL, REDUCE or REPLACE names; another account's is UNKNOWN_ORDER.

        Answering another account's live order like an id that does not exist keeps order
        ids from telling a broker which ids are other members' live orders.
        """
        o = self._orders.get(int(cmd["order_id"]))
        if o is None or o.account != int(cmd["account"]):
            self._reject(cmd, Reject.UNKNOWN_ORDER)
            return None
        return o

    def _owned_revocable_order(self, cmd):
        """The resting order a CANCEL or REDUCE names; auction bids are irrevocable."""
        o = self._owned_order(cmd)
        if o is not None and o.order_type == OrderType.AUCTION_BID:
            self._reject(cmd, Reject.WRONG_ORDER_KIND)
            return None
        return o

    def _cancel(self, cmd) -> None:
        o = self._owned_revocable_order(cmd)
        if o is not None:
            self._remove_cancelled(cmd, o, CancelReason.USER)

    def _reduce(self, cmd) -> None:
        o = self._owned_revocable_order(cmd)
        if o is None:
            return
        qty = int(cmd["qty"])
        lot = self.instruments[o.instrument].lot
        if qty <= 0:
            return self._reject(cmd, Reject.BAD_QUANTITY)
        if qty % lot:
            return self._reject(cmd, Reject.OFF_LOT_QUANTITY)
        if qty >= o.qty:
            return self._reject(cmd, Reject.REDUCE_NOT_SMALLER)
        if o.order_type == OrderType.BLOCK_QUOTE and qty < self.instruments[o.instrument].block_min_qty:
            return self._reject(cmd, Reject.BELOW_MINIMUM)
        reduced_by = o.qty - qty
        self._touch(o)
        self._set_leaves(o, qty)
        self._emit_order(cmd, EventKind.REDUCED, o, qty=reduced_by, leaves=qty)

    def _replace(self, cmd) -> None:
        o = self._owned_order(cmd)
        if o is None:
            return
        if o.order_type != OrderType.LIMIT:
            return self._reject(cmd, Reject.WRONG_ORDER_KIND)
        ins = self.instruments[o.instrument]
        price, qty = int(cmd["price"]), int(cmd["qty"])
        reason = self._phase_reason(ins, pre_open_ok=True)
        if reason:
            return self._reject(cmd, reason)
        reason = self._validate_qty(ins, qty) or self._validate_price(ins, price)
        if reason:
            return self._reject(cmd, reason)
        if price == o.price and qty <= o.qty:
            if qty != o.qty:
                self._touch(o)
                self._set_leaves(o, qty)
            self._emit_order(cmd, EventKind.REPLACED, o, qty=qty, leaves=qty, value=1)
            return
        if ins.status == InstrumentStatus.PRE_OPEN and self._would_cross(o.instrument, o.side, price):
            return self._reject(cmd, Reject.WOULD_CROSS)
        old_qty, old_need = o.qty, (self._buy_need(o, o.qty) if o.side == Side.BUY else 0)
        if self.risk:
            a = self._accounts[o.account]
            h = a.holdings[o.instrument]
            if o.side == Side.BUY:
                new_need = buy_hold(price, qty, self.fees[TradeType.CONTINUOUS][0])
                reason = self._buy_room(a, h, qty - old_qty, new_need - old_need)
            elif qty > old_qty:
                reason = self._sell_room(h, qty - old_qty)
            if reason:
                return self._reject(cmd, reason)
        self._books[o.instrument][CONTINUOUS_BOOK].remove(o)
        del self._orders[o.order_id]
        self._touch(o)
        o.price, o.qty, o.ts = price, qty, self.clock
        self._hold(o, old_need, old_qty)
        self._emit_order(cmd, EventKind.REPLACED, o, qty=qty, leaves=qty, value=0)
        self._match_or_call(cmd, o, price)

    # ..................................................... fixed-price listings and block quotes
    def _list_fixed(self, cmd) -> None:
        """LIST_FIXED: a listing rests in the fixed-price book until taken, cancelled or expired."""
        self._post(cmd, OrderType.FIXED_LISTING)

    def _block_quote(self, cmd) -> None:
        """BLOCK_QUOTE: a quote rests in the block book until accepted, withdrawn or expired."""
        self._post(cmd, OrderType.BLOCK_QUOTE)

    def _post(self, cmd, otype: int) -> None:
        n_ins, account = int(cmd["instrument"]), int(cmd["account"])
        side, price, qty = int(cmd["side"]), int(cmd["price"]), int(cmd["qty"])
        if not 0 <= n_ins < len(self.instruments):
            return self._reject(cmd, Reject.UNKNOWN_INSTRUMENT)
        ins = self.instruments[n_ins]
        if not 0 <= account < self.max_accounts or (self.risk and account not in self._accounts):
            return self._reject(cmd, Reject.UNKNOWN_ACCOUNT)
        if otype == OrderType.FIXED_LISTING:
            reason = self._phase_reason(ins, pre_open_ok=True)
        else:
            reason = self._block_phase_reason(n_ins)
        if reason:
            return self._reject(cmd, reason)
        if side not in (Side.BUY, Side.SELL):
            return self._reject(cmd, Reject.BAD_SIDE)
        if otype == OrderType.FIXED_LISTING:
            terms, flags = int(cmd["min_qty"]), 0
            reason = self._validate_qty(ins, qty) or self._validate_price(ins, price)
            if not reason and not (0 < terms <= qty and terms % ins.lot == 0):
                reason = Reject.BAD_QUANTITY
        else:
            terms, flags = int(cmd["contra_account"]), int(cmd["flags"]) & build.FLAG_PARTIAL
            reason = (self._validate_qty(ins, qty, max_qty=MAX_QTY)
                      or self._validate_price(ins, price, ins.block_band))
            if not reason and qty < ins.block_min_qty:
                reason = Reject.BELOW_MINIMUM
            if not reason and terms == account:
                reason = Reject.SELF_TAKE
            if not reason and not (terms == build.PUBLIC or 0 <= terms < self.max_accounts):
                reason = Reject.UNKNOWN_ACCOUNT
        if reason:
            return self._reject(cmd, reason)
        order = _Order(self.next_order_id, int(cmd["client_order_id"]), n_ins, account, side, otype,
                       TimeInForce.DAY, StpMode.OFF, price, qty, self.clock, terms, flags)
        reason = self._risk_reason(order)
        if reason:
            return self._reject(cmd, reason)
        self.next_order_id += 1
        self._hold(order, 0, 0)
        self._emit_order(cmd, EventKind.ACCEPTED, order, qty=qty, leaves=qty)
        self._rest(order)

    def _block_phase_reason(self, n_ins: int) -> int:
        if self.instruments[n_ins].status == InstrumentStatus.HALTED:
            return Reject.INSTRUMENT_HALTED
        if not self._block_window[n_ins]:
            return Reject.BLOCK_WINDOW_CLOSED
        return 0

    def _take(self, cmd) -> None:
        """TAKE_FIXED and BLOCK_ACCEPT: trade part or all of one resting listing or quote."""
        take_fixed = int(cmd["type"]) == CommandType.TAKE_FIXED
        posted_type = OrderType.FIXED_LISTING if take_fixed else OrderType.BLOCK_QUOTE
        posted = self._orders.get(int(cmd["order_id"]))
        account, qty = int(cmd["account"]), int(cmd["qty"])
        selected = take_fixed and posted is not None and _selectable(posted, self.instruments[posted.instrument])
        if posted is None or not (_visible(posted, account) or selected):
            return self._reject(cmd, Reject.UNKNOWN_ORDER)
        if posted.order_type != posted_type and not selected:
            return self._reject(cmd, Reject.WRONG_ORDER_KIND)
        ins = self.instruments[posted.instrument]
        if not 0 <= account < self.max_accounts or (self.risk and account not in self._accounts):
            return self._reject(cmd, Reject.UNKNOWN_ACCOUNT)
        if take_fixed:
            reason = self._phase_reason(ins, pre_open_ok=False)
        else:
            reason = self._block_phase_reason(posted.instrument)
        if reason:
            return self._reject(cmd, reason)
        if account == posted.account:
            return self._reject(cmd, Reject.SELF_TAKE)
        reason = self._validate_qty(ins, qty, max_qty=None if selected else MAX_QTY)
        if reason:
            return self._reject(cmd, reason)
        if qty > posted.qty:
            return self._reject(cmd, Reject.EXCEEDS_REMAINING)
        if selected:
            levels = self._books[posted.instrument][CONTINUOUS_BOOK].sides[posted.side]
            rank = levels.index(_Book.key(posted.side, posted.price)) + 1       # 1: the best level
            if rank > ins.select_depth:
                return self._reject(cmd, Reject.BEYOND_SELECT_DEPTH)
            if ins.select_fifo and levels[_Book.key(posted.side, posted.price)].orders[0] is not posted:
                return self._reject(cmd, Reject.NOT_FIRST_AT_LEVEL)
        elif take_fixed:
            if qty < posted.qty and qty < posted.terms:
                return self._reject(cmd, Reject.BELOW_MINIMUM)
            best = self._books[posted.instrument][FIXED_BOOK].sides[posted.side].peekitem(0)[1]
            if ins.must_take_best and best.price != posted.price:
                return self._reject(cmd, Reject.NOT_BEST_LISTING)
        elif qty < posted.qty:
            if not posted.flags & build.FLAG_PARTIAL:
                return self._reject(cmd, Reject.PARTIAL_NOT_ALLOWED)
            if qty < ins.block_min_qty or posted.qty - qty < ins.block_min_qty:
                return self._reject(cmd, Reject.BELOW_MINIMUM)        # every block trade is a block
        kind = OrderType.LIMIT if selected else OrderType.FIXED_TAKE if take_fixed else OrderType.BLOCK_ACCEPT
        taker = _Order(self.next_order_id, int(cmd["client_order_id"]), posted.instrument, account,
                       _opposite(posted.side), kind, TimeInForce.IOC, StpMode.OFF, posted.price, qty, self.clock)
        reason = self._risk_reason(taker)
        if reason:
            return self._reject(cmd, reason)
        self.next_order_id += 1
        self._hold(taker, 0, 0)
        self._emit_order(cmd, EventKind.ACCEPTED, taker, qty=qty, leaves=qty)
        self._trade(cmd, taker, posted, qty)

    # ..................................................... operator commands
    def _instrument_arg(self, cmd, allow_all: bool = False):
        n_ins = int(cmd["instrument"])
        if 0 <= n_ins < len(self.instruments) or (allow_all and n_ins == build.ALL_INSTRUMENTS):
            return n_ins
        self._reject(cmd, Reject.UNKNOWN_INSTRUMENT)
        return None

    def _instruments_arg(self, cmd):
        """The instruments a command names: one, or all for ALL_INSTRUMENTS; None if unknown."""
        n_ins = self._instrument_arg(cmd, allow_all=True)
        if n_ins is None:
            return None
        return range(len(self.instruments)) if n_ins == build.ALL_INSTRUMENTS else [n_ins]

    def _account_arg(self, cmd):
        a = self._accounts.get(int(cmd["account"]))
        if a is None:
            self._reject(cmd, Reject.UNKNOWN_ACCOUNT)
        return a

    def _set_instrument_status(self, cmd) -> None:
        n_ins = self._instrument_arg(cmd)
        if n_ins is None:
            return
        status = int(cmd["status"])
        if status not in set(InstrumentStatus):
            return self._reject(cmd, Reject.BAD_STATUS)
        ins = self.instruments[n_ins]
        was = ins.status
        ins.status = InstrumentStatus(status)
        # a taker-select book may rest crossed: only the end of a call uncrosses it
        if (status == InstrumentStatus.TRADING and (not ins.select_depth or was == InstrumentStatus.CALL)) or (
                was == InstrumentStatus.CALL and status == InstrumentStatus.CLOSED):
            self._uncross(cmd, n_ins)
        if was == InstrumentStatus.CALL and status != InstrumentStatus.CALL:
            self._cancel_where(cmd, [n_ins], (CONTINUOUS_BOOK,), lambda o: o.tif == TimeInForce.IOC,
                               CancelReason.IOC_REMAINDER)
        self._emit(cmd, EventKind.INSTRUMENT_STATUS, instrument=n_ins, value=status)
        if status == InstrumentStatus.CALL:
            self._emit_indicative(cmd, n_ins)

    # ..................................................... call auctions
    def _uncross_price(self, n_ins: int):
        """``(price, volume, surplus)`` the continuous book would uncross at, or None.

        The candidates are the prices of the levels holding a limit order between the best
        ask and the best bid (a market order rests at its band edge and names no price); with
        none, the reference price. At each, the volume is the lesser of the bids at or above
        it and the asks at or below it, the surplus the bids' excess (negative: the asks').
        The price executes the most volume; of equals, the least absolute surplus; of those,
        the highest when every surplus is on the buy side, the lowest when every one is on
        the sell side, else the one nearest the reference price (of two as near, the higher).
        """
        book = self._books[n_ins][CONTINUOUS_BOOK]
        bids, asks = list(book.levels(Side.BUY)), list(book.levels(Side.SELL))
        if not bids or not asks or bids[0].price < asks[0].price:
            return None
        low, high = asks[0].price, bids[0].price
        reference = self.instruments[n_ins].reference_price
        prices = sorted({level.price for level in bids + asks if low <= level.price <= high
                         and any(o.order_type == OrderType.LIMIT for o in level.orders)}) or [reference]
        rows = []
        for price in prices:
            buy = sum(level.qty for level in bids if level.price >= price)
            sell = sum(level.qty for level in asks if level.price <= price)
            if min(buy, sell) > 0:
                rows.append((price, min(buy, sell), buy - sell))
        if not rows:
            return None
        most = max(volume for _, volume, _ in rows)
        rows = [row for row in rows if row[1] == most]
        least = min(abs(surplus) for _, _, surplus in rows)
        rows = [row for row in rows if abs(row[2]) == least]
        if all(surplus > 0 for _, _, surplus in rows):
            return rows[-1]
        if all(surplus < 0 for _, _, surplus in rows):
            return rows[0]
        return min(rows, key=lambda row: (abs(row[0] - reference), -row[0]))

    def _uncross(self, cmd, n_ins: int) -> None:
        """Execute the call: the best bid and the best ask trade at the one uncrossing price,
        in price-time priority on both sides, until its volume is done. Each trade's aggressor
        is the later of its two orders (time stamp, then order id)."""
        found = self._uncross_price(n_ins)
        if found is None:
            return
        price, volume, _ = found
        book = self._books[n_ins][CONTINUOUS_BOOK]
        while volume > 0:
            buy = book.sides[Side.BUY].peekitem(0)[1].orders[0]
            sell = book.sides[Side.SELL].peekitem(0)[1].orders[0]
            qty = min(buy.qty, sell.qty, volume)
            later, earlier = (buy, sell) if (buy.ts, buy.order_id) > (sell.ts, sell.order_id) else (sell, buy)
            self._trade(cmd, later, earlier, qty, price)
            self._touch(later)
            if later.qty == 0:
                book.remove(later)
                del self._orders[later.order_id]
            volume -= qty

    def _emit_indicative(self, cmd, n_ins: int) -> None:
        price, volume, surplus = self._uncross_price(n_ins) or (0, 0, 0)
        self._emit(cmd, EventKind.INDICATIVE, instrument=n_ins, price=price, qty=volume, leaves=abs(surplus),
                   side=Side.BUY if surplus > 0 else Side.SELL if surplus < 0 else 0)

    def _set_instrument_parameter(self, cmd) -> None:
        """Change one trading parameter from the next command on; a band it moves cancels
        what then rests outside it (``InstrumentParameter``)."""
        n_ins = self._instrument_arg(cmd)
        if n_ins is None:
            return
        parameter, value = int(cmd["status"]), int(cmd["value"])
        spec = _PARAMETERS.get(parameter)
        if spec is None or not spec[1] <= value <= spec[2]:
            return self._reject(cmd, Reject.BAD_PARAMETER)
        ins = self.instruments[n_ins]
        name, band, block_band = spec[0], ins.band, ins.block_band
        previous = getattr(ins, name)
        setattr(ins, name, value)
        ins.recentre(ins.reference_price)
        if ins.band[0] > ins.band[1]:                 # as at construction: a band must hold a price
            setattr(ins, name, previous)
            ins.recentre(ins.reference_price)
            return self._reject(cmd, Reject.BAD_PARAMETER)
        self._emit(cmd, EventKind.INSTRUMENT_PARAMETER, instrument=n_ins, reason=parameter, value=value)
        if parameter == InstrumentParameter.SELECT_DEPTH and not value and ins.status == InstrumentStatus.TRADING:
            self._uncross(cmd, n_ins)               # back to matching: a crossed book trades at once
        if ins.band != band:
            low, high = ins.band
            self._cancel_where(cmd, [n_ins], (CONTINUOUS_BOOK, FIXED_BOOK), lambda o: not low <= o.price <= high,
                               CancelReason.OUTSIDE_BAND)
        if ins.block_band != block_band:
            low_b, high_b = ins.block_band
            self._cancel_where(cmd, [n_ins], (BLOCK_BOOK,), lambda o: not low_b <= o.price <= high_b,
                               CancelReason.OUTSIDE_BAND)

    def _add_instrument(self, cmd) -> None:
        """ADD_INSTRUMENT: list a new instrument at the next index (see the module docstring)."""
        symbol = build.command_symbol(cmd)
        if symbol is None:
            return self._reject(cmd, Reject.BAD_PARAMETER)
        if symbol in self._index:
            return self._reject(cmd, Reject.INSTRUMENT_EXISTS)
        kind, region, status, year = int(cmd["order_type"]), int(cmd["region"]), int(cmd["status"]), int(cmd["min_qty"])
        if (kind not in set(InstrumentKind) or region not in set(Region) or status not in set(InstrumentStatus)
                or not MIN_YEAR <= year <= MAX_YEAR or len(self.instruments) >= MAX_INSTRUMENTS):
            return self._reject(cmd, Reject.BAD_PARAMETER)
        flags = int(cmd["flags"])
        n = len(self.instruments)
        self.instruments.append(Instrument(symbol, kind=kind, region=region, year=year, status=status,
                                           t_plus_one=bool(flags & build.FLAG_T_PLUS_ONE),
                                           must_take_best=bool(flags & build.FLAG_MUST_TAKE_BEST),
                                           listings_expire=bool(flags & build.FLAG_LISTINGS_EXPIRE)))
        self._index[symbol] = n
        self.net_credits.append(0)
        self.retired.append(0)
        self._books.append(tuple(_Book() for _ in _BOOKS))
        self._days.append(_Day())
        self._block_window.append(False)
        self._auctions.append(None)
        self._rollover.append([0] * _ROLLOVER_AUCTIONS)
        for a in self._accounts.values():
            a.holdings.append(_Holding())
        self._emit(cmd, EventKind.INSTRUMENT_ADDED, instrument=n, value=status)

    def _cancel_all(self, cmd) -> None:
        """The operator's mass cancel; auction bids are irrevocable and stay."""
        which = self._instruments_arg(cmd)
        if which is None:
            return
        account, member = int(cmd["account"]), int(cmd["member"])
        if account != -1 and not 0 <= account < self.max_accounts:
            return self._reject(cmd, Reject.UNKNOWN_ACCOUNT)

        def doomed(o) -> bool:
            owner = self._accounts.get(o.account)
            return ((account == -1 or o.account == account)
                    and (member == -1 or (owner is not None and owner.member == member)))
        self._cancel_where(cmd, which, (CONTINUOUS_BOOK, FIXED_BOOK, BLOCK_BOOK), doomed, CancelReason.OPERATOR)

    def _set_block_window(self, cmd) -> None:
        n_ins = self._instrument_arg(cmd)
        if n_ins is None:
            return
        status = int(cmd["status"])
        if status not in (0, 1):
            return self._reject(cmd, Reject.BAD_STATUS)
        self._block_window[n_ins] = bool(status)
        self._emit(cmd, EventKind.BLOCK_WINDOW, instrument=n_ins, value=status)
        if not status:
            self._cancel_where(cmd, [n_ins], (BLOCK_BOOK,), lambda o: True, CancelReason.EXPIRY)

    def _set_account_stp(self, cmd) -> None:
        account, mode = int(cmd["account"]), int(cmd["stp"])
        if not 0 <= account < self.max_accounts:
            return self._reject(cmd, Reject.UNKNOWN_ACCOUNT)
        if not StpMode.OFF <= mode <= StpMode.CANCEL_BOTH:
            return self._reject(cmd, Reject.BAD_STP_MODE)
        self._account_stp[account] = mode
        self._emit(cmd, EventKind.ACCOUNT_UPDATED, account=account, value=mode)

    def _set_fee_rebate(self, cmd) -> None:
        """SET_FEE_REBATE: the account pays ``value`` bps less than the market's fee on trades
        of trade type ``status`` (never below zero). Buys still hold cash at the market's fee:
        the hold covers any rebate, so a rebate can change while orders rest."""
        account, trade_type, bps = int(cmd["account"]), int(cmd["status"]), int(cmd["value"])
        if not 0 <= account < self.max_accounts:
            return self._reject(cmd, Reject.UNKNOWN_ACCOUNT)
        if not (0 < trade_type < N_TRADE_TYPES and 0 <= bps <= MAX_FEE_BPS):
            return self._reject(cmd, Reject.BAD_PARAMETER)
        self._rebates[account, trade_type] = bps
        self._emit(cmd, EventKind.ACCOUNT_UPDATED, account=account, trade_type=trade_type, value=bps)

    def _cancel_where(self, cmd, instruments, books, doomed, reason: int) -> None:
        """Cancel, in canonical book order, the resting orders in ``books`` of ``instruments``
        for which ``doomed`` is true."""
        orders = [o for n in instruments for kind in books for side in _SIDES
                  for level in self._books[n][kind].levels(side) for o in level.orders if doomed(o)]
        for o in orders:
            self._remove_cancelled(cmd, o, reason)

    def _expire_day_orders(self, cmd) -> None:
        n_ins = self._instrument_arg(cmd)
        if n_ins is not None:
            self._cancel_where(cmd, [n_ins], (CONTINUOUS_BOOK,), lambda o: o.tif == TimeInForce.DAY,
                               CancelReason.EXPIRY)

    def _end_of_day(self, cmd) -> None:
        """Close the day of one or all instruments.

        For each instrument in turn: DAY orders, listings and block quotes expire; the day's
        statistics go out (DAILY_STATS, then DAILY_VOLUME per trade type); the close, rounded
        to the tick, becomes the reference price and re-centres the bands; GTC orders and
        listings now outside the band are cancelled; units bought today are released (T+1);
        the day starts again. DAILY_STATS also carries the units held in accounts at the close
        (``leaves``: the instrument's units in circulation) and the trading date the command
        names (``count``: its ``value`` as YYYYMMDD, 0 when it names none).
        """
        which = self._instruments_arg(cmd)
        if which is None:
            return
        trading_date = int(cmd["value"]) if 0 < int(cmd["value"]) <= 2**31 - 1 else 0
        for n in which:
            ins, day = self.instruments[n], self._days[n]
            self._cancel_where(cmd, [n], _BOOKS, lambda o: (o.order_type == OrderType.FIXED_LISTING and ins.listings_expire)
                               or o.order_type == OrderType.BLOCK_QUOTE
                               or (o.order_type == OrderType.LIMIT and o.tif == TimeInForce.DAY),
                               CancelReason.EXPIRY)
            previous = ins.reference_price
            volume = day.volume[TradeType.CONTINUOUS] + day.volume[TradeType.FIXED]
            amount = day.amount[TradeType.CONTINUOUS] + day.amount[TradeType.FIXED]
            close = reference = previous
            if volume > ins.min_close_volume:            # at most the threshold: the previous close stands
                close = (2 * amount + volume) // (2 * volume)         # VWAP, half up, in fen
                # the next reference is the close on the tick (half up): a band always holds it
                reference = (2 * close + ins.tick) // (2 * ins.tick) * ins.tick
            opening = day.open or previous
            self._emit(cmd, EventKind.DAILY_STATS, instrument=n, price=close, value=previous,
                       open=opening, high=day.high or opening, low=day.low or opening, qty=volume,
                       leaves=self.net_credits[n], count=trading_date)
            for trade_type in TradeType:
                self._emit(cmd, EventKind.DAILY_VOLUME, instrument=n, trade_type=trade_type,
                           qty=day.volume[trade_type], value=day.amount[trade_type])
            ins.recentre(reference)
            low, high = ins.band
            # listings that do not expire stay only inside the new band: none trades outside it
            self._cancel_where(cmd, [n], (CONTINUOUS_BOOK, FIXED_BOOK), lambda o: not low <= o.price <= high,
                               CancelReason.OUTSIDE_BAND)
            self._release_units(cmd, [n])
            self._days[n] = _Day()

    def _create_account(self, cmd) -> None:
        account = int(cmd["account"])
        region, sector = int(cmd["region"]), int(cmd["sector"])
        if not 0 <= account < self.max_accounts:
            return self._reject(cmd, Reject.UNKNOWN_ACCOUNT)
        if account in self._accounts:
            return self._reject(cmd, Reject.ACCOUNT_EXISTS)
        if region not in set(Region):
            return self._reject(cmd, Reject.BAD_REGION)
        if sector not in set(Sector):
            return self._reject(cmd, Reject.BAD_SECTOR)
        self._accounts[account] = _Account(account, int(cmd["member"]), region, sector,
                                           [_Holding() for _ in self.instruments])
        self._emit(cmd, EventKind.ACCOUNT_UPDATED, account=account, value=AccountStatus.ACTIVE)

    def _set_account_status(self, cmd) -> None:
        a = self._account_arg(cmd)
        if a is None:
            return
        status = int(cmd["status"])
        if status not in set(AccountStatus):
            return self._reject(cmd, Reject.BAD_STATUS)
        a.status = status
        self._emit(cmd, EventKind.ACCOUNT_UPDATED, account=a.account, value=status)
        if status == AccountStatus.SUSPENDED:
            self._cancel_where(cmd, range(len(self.instruments)), _BOOKS, lambda o: o.account == a.account,
                               CancelReason.SANCTION)
        elif status == AccountStatus.SELL_ONLY:
            self._cancel_where(cmd, range(len(self.instruments)), _BOOKS,
                               lambda o: o.account == a.account and o.side == Side.BUY, CancelReason.SANCTION)

    def _deposit(self, cmd) -> None:
        a = self._account_arg(cmd)
        if a is None:
            return
        amount = int(cmd["value"])
        if not 0 < amount <= MAX_CASH - a.cash_available - a.cash_frozen:
            return self._reject(cmd, Reject.BAD_AMOUNT)
        a.cash_available += amount
        self.net_deposits += amount
        self._emit(cmd, EventKind.BALANCE, account=a.account, instrument=-1, value=amount)

    def _withdraw(self, cmd) -> None:
        a = self._account_arg(cmd)
        if a is None:
            return
        amount = int(cmd["value"])
        if not 0 < amount <= MAX_CASH:
            return self._reject(cmd, Reject.BAD_AMOUNT)
        if amount > a.cash_available:
            return self._reject(cmd, Reject.INSUFFICIENT_CASH)
        a.cash_available -= amount
        self.net_deposits -= amount
        self._emit(cmd, EventKind.BALANCE, account=a.account, instrument=-1, value=-amount)

    def _credit_holdings(self, cmd) -> None:
        a = self._account_arg(cmd)
        n_ins = None if a is None else self._instrument_arg(cmd)
        if n_ins is None:
            return
        h, qty = a.holdings[n_ins], int(cmd["qty"])
        if not 0 < qty <= MAX_HOLDING - h.held:
            return self._reject(cmd, Reject.BAD_AMOUNT)
        if int(cmd["flags"]) & build.FLAG_NON_TRADABLE:
            h.non_tradable += qty
        else:
            h.available += qty
        self.net_credits[n_ins] += qty
        self._emit(cmd, EventKind.BALANCE, account=a.account, instrument=n_ins, qty=qty)

    def _debit_holdings(self, cmd) -> None:
        a = self._account_arg(cmd)
        n_ins = None if a is None else self._instrument_arg(cmd)
        if n_ins is None:
            return
        h, qty = a.holdings[n_ins], int(cmd["qty"])
        if not 0 < qty <= MAX_HOLDING:
            return self._reject(cmd, Reject.BAD_AMOUNT)
        non_tradable = int(cmd["flags"]) & build.FLAG_NON_TRADABLE
        if qty > (h.non_tradable if non_tradable else h.available):
            return self._reject(cmd, Reject.INSUFFICIENT_HOLDINGS)
        if non_tradable:
            h.non_tradable -= qty
        else:
            h.available -= qty
        self.net_credits[n_ins] -= qty
        self._emit(cmd, EventKind.BALANCE, account=a.account, instrument=n_ins, qty=-qty)

    def _set_position_bound(self, cmd) -> None:
        """SET_RETENTION_FLOOR, SET_POSITION_LIMIT and SET_OBLIGATION: a per-instrument quantity."""
        a = self._account_arg(cmd)
        n_ins = None if a is None else self._instrument_arg(cmd)
        if n_ins is None:
            return
        qty = int(cmd["qty"])
        if not 0 <= qty <= MAX_HOLDING:
            return self._reject(cmd, Reject.BAD_AMOUNT)
        h = a.holdings[n_ins]
        if int(cmd["type"]) == CommandType.SET_RETENTION_FLOOR:
            h.floor = qty
        elif int(cmd["type"]) == CommandType.SET_POSITION_LIMIT:
            h.limit = qty
        else:
            h.obligation = qty
        self._emit(cmd, EventKind.ACCOUNT_UPDATED, account=a.account, instrument=n_ins, qty=qty)

    def _surrender(self, cmd) -> None:
        """SURRENDER: ``qty`` units of ``instrument`` retired against the account's obligation in
        the allowance ``value``. Allowances meet their own instrument's obligation; CERs any
        allowance's, up to its ``cer_cap_bps`` of the obligation (what is left plus what was
        surrendered). Units come from the non-tradable ones first, then the available ones
        (frozen and locked units stay); they leave the market for good (``retired``). A
        retention floor stays as the operator set it (a new compliance period sets new ones)."""
        a = self._account_arg(cmd)
        n_ins = None if a is None else self._instrument_arg(cmd)
        if n_ins is None:
            return
        target, qty = int(cmd["value"]), int(cmd["qty"])
        if not 0 <= target < len(self.instruments):
            return self._reject(cmd, Reject.UNKNOWN_INSTRUMENT)
        units, owed = self.instruments[n_ins], self.instruments[target]
        cer = units.kind == InstrumentKind.CER
        if owed.kind != InstrumentKind.ALLOWANCE or (not cer and target != n_ins):
            return self._reject(cmd, Reject.BAD_PARAMETER)
        if not 0 < qty <= MAX_HOLDING:
            return self._reject(cmd, Reject.BAD_AMOUNT)
        h, obliged = a.holdings[n_ins], a.holdings[target]
        if qty > obliged.obligation:
            return self._reject(cmd, Reject.EXCEEDS_REMAINING)
        done = self._surrendered.get((a.account, target), [0, 0])
        if cer and (done[1] + qty) * 10000 > owed.cer_cap_bps * (obliged.obligation + done[0]):
            return self._reject(cmd, Reject.CER_CAP)
        if qty > h.non_tradable + h.available:
            return self._reject(cmd, Reject.INSUFFICIENT_HOLDINGS)
        from_nt = min(qty, h.non_tradable)
        h.non_tradable -= from_nt
        h.available -= qty - from_nt
        obliged.obligation -= qty
        self._surrendered[a.account, target] = [done[0] + qty, done[1] + (qty if cer else 0)]
        self.net_credits[n_ins] -= qty
        self.retired[n_ins] += qty
        self._emit(cmd, EventKind.SURRENDERED, account=a.account, instrument=n_ins, qty=qty, value=target,
                   leaves=obliged.obligation)

    def _fine(self, cmd) -> None:
        """FINE: ``value`` fen debited from the account's available cash, what it lacks recorded
        as owed; ``value`` 0 collects what is owed as far as the cash goes. Cash frozen by open
        buys is not touched: a fine does not cancel orders (suspend the account for that)."""
        a = self._account_arg(cmd)
        if a is None:
            return
        amount, reason = int(cmd["value"]), int(cmd["status"])
        if reason not in set(FineReason):
            return self._reject(cmd, Reject.BAD_PARAMETER)
        if not 0 <= amount <= MAX_CASH - a.fines_owed or (amount == 0 and a.fines_owed == 0):
            return self._reject(cmd, Reject.BAD_AMOUNT)
        due = a.fines_owed + amount
        paid = min(due, a.cash_available)
        a.cash_available -= paid
        a.fines_owed = due - paid
        self.fines_collected += paid
        self._emit(cmd, EventKind.FINED, account=a.account, instrument=-1, value=amount, qty=paid,
                   leaves=a.fines_owed, order_id=int(cmd["order_id"]), reason=reason)

    def surrendered(self, account: int) -> dict:
        """What the account surrendered against each allowance's obligation: ``{symbol: (units,
        of them CERs)}`` (allowances it surrendered against only)."""
        return {self.instruments[n].symbol: tuple(v) for (a, n), v in sorted(self._surrendered.items())
                if a == account}

    def _release_t1(self, cmd) -> None:
        which = self._instruments_arg(cmd)
        if which is not None:
            self._release_units(cmd, which)

    def _release_units(self, cmd, which) -> None:
        """Make units bought today sellable, account by account."""
        for account in sorted(self._accounts):
            a = self._accounts[account]
            for n in which:
                h = a.holdings[n]
                if h.locked:
                    self._emit(cmd, EventKind.BALANCE, account=account, instrument=n, qty=h.locked)
                    h.available += h.locked
                    h.locked = 0

    # ..................................................... auctions
    def _auction_open(self, cmd) -> None:
        """AUCTION_OPEN: one open auction per instrument; the initiator's lot is held."""
        n_ins, account = int(cmd["instrument"]), int(cmd["account"])
        side, volume, reserve = int(cmd["side"]), int(cmd["qty"]), int(cmd["price"])
        min_bid, cap, flags = int(cmd["min_qty"]), int(cmd["value"]), int(cmd["flags"])
        cancel_bps = int(cmd["contra_account"])
        if not 0 <= n_ins < len(self.instruments):
            return self._reject(cmd, Reject.UNKNOWN_INSTRUMENT)
        ins = self.instruments[n_ins]
        if not 0 <= account < self.max_accounts or (self.risk and account not in self._accounts):
            return self._reject(cmd, Reject.UNKNOWN_ACCOUNT)
        if ins.status == InstrumentStatus.HALTED:
            return self._reject(cmd, Reject.INSTRUMENT_HALTED)
        if self._auctions[n_ins] is not None:
            return self._reject(cmd, Reject.AUCTION_IN_PROGRESS)
        primary = flags & build.FLAG_PRIMARY
        if side not in (Side.BUY, Side.SELL) or (primary and side != Side.SELL):
            return self._reject(cmd, Reject.BAD_SIDE)
        reason = self._validate_qty(ins, volume, max_qty=MAX_QTY)
        if not reason and not (0 < min_bid <= volume and min_bid % ins.lot == 0
                               and (cap == 0 or min_bid <= cap <= MAX_QTY)):
            reason = Reject.BAD_QUANTITY
        if not reason:
            reason = self._validate_price(ins, reserve, (ins.tick, 2 * MAX_PRICE))
        if not reason and not 0 <= cancel_bps <= 10000:
            reason = Reject.BAD_PRICE
        if reason:
            return self._reject(cmd, reason)
        lot = _Order(self.next_order_id, 0, n_ins, account, side, OrderType.AUCTION_LOT, TimeInForce.GTC,
                     StpMode.OFF, reserve, volume, self.clock)
        if not primary:
            reason = self._risk_reason(lot)
            if reason:
                return self._reject(cmd, reason)
        self.next_order_id += 1
        if primary:
            rollover = self._rollover[n_ins]
            lot.qty += rollover.pop(0)
            rollover.append(0)
        else:
            self._hold(lot, 0, 0)
        seed = int(cmd["client_order_id"])
        self._auctions[n_ins] = _Auction(lot, lot.qty, min_bid, cap, flags, cancel_bps, seed)
        self._emit_order(cmd, EventKind.ACCEPTED, lot, qty=lot.qty, leaves=lot.qty, value=seed)

    def _find_auction(self, cmd):
        auction_id = int(cmd["order_id"])
        for auction in self._auctions:
            if auction is not None and auction.lot.order_id == auction_id:
                return auction
        self._reject(cmd, Reject.NO_AUCTION)
        return None

    def _auction_eligible(self, cmd) -> None:
        auction = self._find_auction(cmd)
        if auction is None:
            return
        account = int(cmd["account"])
        if not 0 <= account < self.max_accounts:
            return self._reject(cmd, Reject.UNKNOWN_ACCOUNT)
        if account not in auction.eligible:
            auction.eligible.append(account)
        self._emit(cmd, EventKind.ACCOUNT_UPDATED, account=account, order_id=auction.lot.order_id, value=1)

    def _auction_bid(self, cmd) -> None:
        """AUCTION_BID: sealed (no depth), irrevocable, at the reserve or better."""
        auction = self._find_auction(cmd)
        if auction is None:
            return
        lot, account = auction.lot, int(cmd["account"])
        ins = self.instruments[lot.instrument]
        price, qty = int(cmd["price"]), int(cmd["qty"])
        if not 0 <= account < self.max_accounts or (self.risk and account not in self._accounts):
            return self._reject(cmd, Reject.UNKNOWN_ACCOUNT)
        if ins.status == InstrumentStatus.HALTED:
            return self._reject(cmd, Reject.INSTRUMENT_HALTED)
        if account == lot.account:
            return self._reject(cmd, Reject.SELF_TAKE)
        if auction.eligible and account not in auction.eligible:
            return self._reject(cmd, Reject.NOT_ELIGIBLE)
        reason = self._validate_qty(ins, qty, max_qty=MAX_QTY)
        if not reason and qty < auction.min_bid:
            reason = Reject.BELOW_MINIMUM
        if not reason:
            reason = self._validate_price(ins, price, (ins.tick, 2 * MAX_PRICE))
        if reason:
            return self._reject(cmd, reason)
        if not _crosses(_opposite(lot.side), price, lot.price):
            return self._reject(cmd, Reject.BELOW_RESERVE)
        bids = self._books[lot.instrument][AUCTION_BOOK]
        total = qty + sum(o.qty for side in _SIDES for level in bids.levels(side)
                          for o in level.orders if o.account == account)
        if auction.cap and total > auction.cap:
            return self._reject(cmd, Reject.BIDDER_CAP)
        if auction.flags & build.FLAG_CAP_SHORTFALL:
            a = self._accounts.get(account)
            h = a.holdings[lot.instrument] if a else _Holding()
            if total > max(0, h.obligation - h.held):
                return self._reject(cmd, Reject.BIDDER_CAP)
        bid = _Order(self.next_order_id, int(cmd["client_order_id"]), lot.instrument, account,
                     _opposite(lot.side), OrderType.AUCTION_BID, TimeInForce.GTC, StpMode.OFF, price, qty,
                     self.clock, 0, auction.flags & build.FLAG_COMPLIANCE_ONLY)
        reason = self._risk_reason(bid)
        if reason:
            return self._reject(cmd, reason)
        self.next_order_id += 1
        self._hold(bid, 0, 0)
        self._emit_order(cmd, EventKind.ACCEPTED, bid, qty=qty, leaves=qty)
        self._rest(bid)

    def _auction_close(self, cmd) -> None:
        """AUCTION_CLOSE: clear the instrument's open auction.

        Bids rank by price (best for the initiator first), then by time or, with
        FLAG_RANDOM_TIES, by ``splitmix64(seed ^ order_id)``. Quantities add up from the top;
        the bid at which the running total first reaches the volume is the marginal bid:
        bids above it fill in full, it fills with what is left, and its price is the uniform
        clearing price (each winner's own price with FLAG_PAY_AS_BID). Bids short of the
        volume fill in full at the lowest bid price, unless FLAG_FAIL_UNDERSUBSCRIBED fails
        the auction. A primary auction is cancelled when bids fall short, or when the
        clearing price is more than ``cancel_below_bps`` below the reference; its volume then
        spreads evenly (in lots) over the next four primary auctions. Trades come first, in
        rank order, then the cancellations of what did not fill, then AUCTION_RESULT, whose
        price is the clearing price even when the auction fails or is cancelled (the price it
        would have cleared at; 0 with no bids).
        """
        n_ins = self._instrument_arg(cmd)
        if n_ins is None:
            return
        auction = self._auctions[n_ins]
        if auction is None:
            return self._reject(cmd, Reject.NO_AUCTION)
        lot, ins = auction.lot, self.instruments[n_ins]
        primary = auction.flags & build.FLAG_PRIMARY
        book = self._books[n_ins][AUCTION_BOOK]
        bids = []
        for level in book.levels(_opposite(lot.side)):
            orders = list(level.orders)
            if auction.flags & build.FLAG_RANDOM_TIES:
                orders.sort(key=lambda o: splitmix64(auction.seed ^ o.order_id))
            bids.extend(orders)
        bid_volume = sum(o.qty for o in bids)
        fills, remaining = [], auction.volume
        for o in bids:
            if remaining == 0:
                break
            fills.append((o, min(o.qty, remaining)))
            remaining -= fills[-1][1]
        clearing = fills[-1][0].price if fills else 0
        if bid_volume >= auction.volume:
            outcome = AuctionOutcome.CLEARED
            if primary and auction.cancel_bps and (
                    clearing * 10000 < ins.reference_price * (10000 - auction.cancel_bps)):
                outcome = AuctionOutcome.CANCELLED_PRICE
        elif primary:
            outcome = AuctionOutcome.CANCELLED_VOLUME
        elif auction.flags & build.FLAG_FAIL_UNDERSUBSCRIBED:
            outcome = AuctionOutcome.FAILED
        else:
            outcome = AuctionOutcome.UNDERSUBSCRIBED
        sold = sum(q for _, q in fills) if outcome in (AuctionOutcome.CLEARED, AuctionOutcome.UNDERSUBSCRIBED) else 0
        if sold and primary:
            lot.qty = sold                       # the issuer creates what it sells
            if self.risk:
                self._accounts[lot.account].holdings[n_ins].frozen += sold
                self.net_credits[n_ins] += sold
        if sold:
            pay_as_bid = auction.flags & build.FLAG_PAY_AS_BID
            for o, q in fills:
                self._trade(cmd, lot, o, q, o.price if pay_as_bid else clearing)
        for o in bids:
            if o.qty:
                self._remove_cancelled(cmd, o, CancelReason.AUCTION)
        if outcome in (AuctionOutcome.CANCELLED_PRICE, AuctionOutcome.CANCELLED_VOLUME):
            lots, extra = divmod(auction.volume // ins.lot, _ROLLOVER_AUCTIONS)
            for i in range(_ROLLOVER_AUCTIONS):
                self._rollover[n_ins][i] += (lots + (i < extra)) * ins.lot
        self._emit(cmd, EventKind.AUCTION_RESULT, instrument=n_ins, order_id=lot.order_id,
                   account=lot.account, side=lot.side, reason=outcome, price=clearing,
                   qty=sold, leaves=auction.volume - sold, value=bid_volume, count=len(bids))
        if primary:
            lot.qty = 0                          # nothing was held for it
        else:
            self._set_leaves(lot, 0)
        self._auctions[n_ins] = None
