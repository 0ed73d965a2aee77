"""The reference engine: a pure-Python executable specification of the matching rules.

It is written to be read, not to be fast. The Cython engine (``matching.Engine``) must
produce exactly the same event arrays and the same state digests for any command stream;
the differential tests in ``tests/property`` hold both to that.

Rules, in the order the engine applies them
-------------------------------------------
NEW_ORDER is validated in this order, the first failure rejecting it with that reason:
unknown instrument, unknown account, instrument halted, side, order type, time in force
(a market order must be IOC or FOK), STP mode, quantity > 0, quantity on the lot, quantity
within the instrument's maximum, and for limit orders price > 0, price on the tick, price
within the band; last, a FOK order that could not fill completely is rejected. A rejected
command changes nothing.

An accepted order is given the next order id and walks the opposite side from the best
level while that level's price crosses its limit (a market order's limit is the band edge:
it never trades outside the band). Each resting order in time priority either trades with it
at the resting price or, when both belong to the same account and self-trade prevention is
on, is handled by the incoming order's mode: cancel-newest cancels the incoming remainder,
cancel-oldest cancels the resting order and goes on, cancel-both cancels both. After the
walk, a GTC or DAY limit remainder rests at the back of its level; an IOC or market
remainder is cancelled.

Every event and every order's time stamp carry the engine clock: the latest command
timestamp seen so far, so time priority never runs backwards.

Events of one command come in this order: ACCEPTED or REJECTED, then trades and
cancellations as they happen, then one DEPTH event per price level the command changed, in
the order they were first changed, carrying the level's new quantity and order count (zero
when the level is gone).
"""
from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numpy as np
from sortedcontainers import SortedDict

from ._state import BookView, OrderView, digest, pack_state, unpack_state
from .codes import (
    CancelReason, CommandType, EventKind, InstrumentStatus, OrderType, Reject, Side, StpMode,
    TimeInForce, TradeType,
)
from .dtypes import BOOK_ORDER_DTYPE, COMMAND_DTYPE, EVENT_DTYPE
from .instrument import Instrument, price_band

__all__ = ["ReferenceEngine"]

_EVENT_FIELDS = EVENT_DTYPE.names
_COMMAND_FIELDS = COMMAND_DTYPE.names
_ZERO_EVENT = dict.fromkeys(_EVENT_FIELDS, 0)
_SIDES = (Side.BUY, Side.SELL)


def _opposite(side: int) -> int:
    return Side.SELL if side == Side.BUY else Side.BUY


def _crosses(side: int, limit: int, level_price: int) -> bool:
    """True when an incoming order on ``side`` with ``limit`` may trade at ``level_price``."""
    return level_price <= limit if side == Side.BUY else level_price >= limit


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
    """

    def __init__(self, instruments, *, max_accounts: int = 100_000,
                 default_stp: int = StpMode.CANCEL_NEWEST) -> None:
        if not 0 < max_accounts <= 2**31 - 1:
            raise ValueError("max_accounts must be between 1 and 2**31 - 1")
        if default_stp not in (StpMode.OFF, StpMode.CANCEL_NEWEST, StpMode.CANCEL_OLDEST, StpMode.CANCEL_BOTH):
            raise ValueError("default_stp must be a concrete StpMode, not ACCOUNT_DEFAULT")
        self.instruments = [Instrument(**i.to_dict()) for i in instruments]
        self._index = {ins.symbol: n for n, ins in enumerate(self.instruments)}
        if len(self._index) != len(self.instruments):
            raise ValueError("instrument symbols must be unique")
        self.max_accounts = max_accounts
        self.default_stp = int(default_stp)
        self._account_stp: dict[int, int] = {}
        self._books = [_Book() for _ in self.instruments]
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
            CommandType.EXPIRE_DAY_ORDERS: self._expire_day_orders,
        }

    # ----------------------------------------------------------------- batch API
    def process(self, commands: np.ndarray) -> np.ndarray:
        """Apply a batch of ``COMMAND_DTYPE`` commands; return their events in order."""
        if not isinstance(commands, np.ndarray) or commands.dtype != COMMAND_DTYPE or commands.ndim != 1:
            raise TypeError("commands must be a 1-d numpy array of COMMAND_DTYPE")
        self._events: list[dict] = []
        for row in commands.tolist():
            self._command(dict(zip(_COMMAND_FIELDS, row)))
        return np.array([tuple(ev[name] for name in _EVENT_FIELDS) for ev in self._events],
                        dtype=EVENT_DTYPE)

    # ------------------------------------------------------------- per-call API
    def _one(self, **fields) -> np.ndarray:
        cmd = np.zeros(1, dtype=COMMAND_DTYPE)
        for name, value in fields.items():
            cmd[name] = value
        return self.process(cmd)

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
        return self._one(type=CommandType.NEW_ORDER, instrument=self.instrument_index(instrument),
                         account=account, side=side, qty=qty, price=price, order_type=order_type,
                         tif=tif, stp=stp, client_order_id=client_order_id, ts=ts, seq=seq)

    def cancel(self, order_id, account, ts=0, seq=0):
        """Cancel a resting order."""
        return self._one(type=CommandType.CANCEL, order_id=order_id, account=account, ts=ts, seq=seq)

    def reduce(self, order_id, account, qty, ts=0, seq=0):
        """Reduce a resting order's remaining quantity to ``qty``, keeping its priority."""
        return self._one(type=CommandType.REDUCE, order_id=order_id, account=account, qty=qty,
                         ts=ts, seq=seq)

    def replace(self, order_id, account, price, qty, ts=0, seq=0):
        """Change a resting order's price and remaining quantity."""
        return self._one(type=CommandType.REPLACE, order_id=order_id, account=account,
                         price=price, qty=qty, ts=ts, seq=seq)

    def set_instrument_status(self, instrument, status, ts=0, seq=0):
        return self._one(type=CommandType.SET_INSTRUMENT_STATUS,
                         instrument=self.instrument_index(instrument), value=status, ts=ts, seq=seq)

    def set_account_stp(self, account, mode, ts=0, seq=0):
        return self._one(type=CommandType.SET_ACCOUNT_STP, account=account, stp=mode, ts=ts, seq=seq)

    def expire_day_orders(self, instrument, ts=0, seq=0):
        return self._one(type=CommandType.EXPIRE_DAY_ORDERS,
                         instrument=self.instrument_index(instrument), ts=ts, seq=seq)

    # ------------------------------------------------------------------ queries
    def book(self, instrument, depth: int = 10) -> BookView:
        """The best ``depth`` levels of each side as (price, quantity, order count)."""
        book = self._books[self.instrument_index(instrument)]
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

    # ------------------------------------------------------------ state
    def _canonical_orders(self) -> np.ndarray:
        rows = []
        for book in self._books:
            for side in _SIDES:
                for level in book.levels(side):
                    for o in level.orders:
                        rows.append((o.order_id, o.client_order_id, o.price, o.qty, o.ts,
                                     o.account, o.instrument, o.side, o.tif, o.stp))
        out = np.zeros(len(rows), dtype=BOOK_ORDER_DTYPE)
        for i, row in enumerate(rows):
            out[i] = row
        return out

    def _meta(self) -> dict:
        return {
            "instruments": [ins.to_dict() for ins in self.instruments],
            "max_accounts": self.max_accounts,
            "default_stp": self.default_stp,
            "account_stp": sorted([a, m] for a, m in self._account_stp.items() if m != self.default_stp),
            "next_order_id": self.next_order_id,
            "next_trade_id": self.next_trade_id,
            "next_event_seq": self.next_event_seq,
            "clock": self.clock,
        }

    def snapshot(self) -> bytes:
        """The full state as bytes; :meth:`restore` rebuilds an identical engine."""
        return pack_state(self._meta(), self._canonical_orders())

    def state_digest(self) -> str:
        """A hash of the full state, equal across implementations for equal states."""
        return digest(self.snapshot())

    @classmethod
    def restore(cls, blob: bytes) -> "ReferenceEngine":
        meta, orders = unpack_state(blob)
        engine = cls([Instrument(**d) for d in meta["instruments"]],
                     max_accounts=meta["max_accounts"], default_stp=meta["default_stp"])
        engine._account_stp = {int(a): int(m) for a, m in meta["account_stp"]}
        engine.next_order_id = meta["next_order_id"]
        engine.next_trade_id = meta["next_trade_id"]
        engine.next_event_seq = meta["next_event_seq"]
        engine.clock = meta["clock"]
        for row in orders:
            o = _Order(int(row["order_id"]), int(row["client_order_id"]), int(row["instrument"]),
                       int(row["account"]), int(row["side"]), OrderType.LIMIT, int(row["tif"]),
                       int(row["stp"]), int(row["price"]), int(row["qty"]), int(row["ts"]))
            engine._books[o.instrument].add(o)
            engine._orders[o.order_id] = o
        return engine

    def check_invariants(self) -> None:
        """Raise AssertionError if any structural invariant is broken. O(n)."""
        seen = 0
        for n, book in enumerate(self._books):
            for side in _SIDES:
                for key, level in book.sides[side].items():
                    assert level.orders, "empty level left in the book"
                    assert key == book.key(side, level.price)
                    last_ts = None
                    for o in level.orders:
                        assert last_ts is None or last_ts <= o.ts, "time priority broken"
                        last_ts = o.ts
                        assert o.qty > 0 and o.price == level.price and o.side == side
                        assert o.instrument == n and self._orders.get(o.order_id) is o
                        seen += 1
            bids, asks = book.sides[Side.BUY], book.sides[Side.SELL]
            if bids and asks:
                assert bids.peekitem(0)[1].price < asks.peekitem(0)[1].price, "book crossed at rest"
        assert seen == len(self._orders), "order index and book disagree"

    # ------------------------------------------------------------ the rules
    def _emit(self, cmd, kind, **fields) -> None:
        ev = dict(_ZERO_EVENT)
        ev.update(fields)
        ev["seq"] = self.next_event_seq
        self.next_event_seq += 1
        ev["cmd_seq"] = int(cmd["seq"])
        ev["ts"] = self.clock
        ev["kind"] = kind
        self._events.append(ev)

    def _emit_order(self, cmd, kind, o: _Order, **fields) -> None:
        self._emit(cmd, kind, order_id=o.order_id, client_order_id=o.client_order_id,
                   account=o.account, instrument=o.instrument, side=o.side,
                   order_type=o.order_type, tif=o.tif,
                   price=o.price if o.order_type == OrderType.LIMIT else 0, **fields)

    def _reject(self, cmd, reason: int) -> None:
        self._emit(cmd, EventKind.REJECTED, reason=reason,
                   **{k: int(cmd[k]) for k in ("order_id", "client_order_id", "account", "instrument",
                                               "side", "order_type", "tif", "price", "qty", "value")})

    def _touch(self, instrument: int, side: int, price: int) -> None:
        key = (instrument, side, price)
        if key not in self._touched_set:
            self._touched_set.add(key)
            self._touched.append(key)

    def _command(self, cmd) -> None:
        self._touched: list[tuple[int, int, int]] = []
        self._touched_set: set = set()
        self.clock = max(self.clock, int(cmd["ts"]))
        handler = self._handlers.get(int(cmd["type"]))
        if handler is None:
            self._reject(cmd, Reject.UNKNOWN_COMMAND)
            return
        handler(cmd)
        for instrument, side, price in self._touched:
            level = self._books[instrument].level(side, price)
            self._emit(cmd, EventKind.DEPTH, instrument=instrument, side=side, price=price,
                       qty=level.qty if level else 0, count=len(level.orders) if level else 0)

    @staticmethod
    def _validate_qty(ins: Instrument, qty: int) -> int:
        """Reject reason for an order quantity on ``ins``, or 0."""
        if qty <= 0:
            return Reject.BAD_QUANTITY
        if qty % ins.lot:
            return Reject.OFF_LOT_QUANTITY
        if qty > ins.max_order_qty:
            return Reject.ORDER_TOO_LARGE
        return 0

    @staticmethod
    def _validate_price(ins: Instrument, price: int) -> int:
        if price <= 0:
            return Reject.BAD_PRICE
        if price % ins.tick:
            return Reject.OFF_TICK_PRICE
        low, high = ins.band
        if not low <= price <= high:
            return Reject.PRICE_OUTSIDE_BAND
        return 0

    def _new_order(self, cmd) -> None:
        n_ins, account = int(cmd["instrument"]), int(cmd["account"])
        side, otype, tif, stp = int(cmd["side"]), int(cmd["order_type"]), int(cmd["tif"]), int(cmd["stp"])
        price, qty = int(cmd["price"]), int(cmd["qty"])
        if not 0 <= n_ins < len(self.instruments):
            return self._reject(cmd, Reject.UNKNOWN_INSTRUMENT)
        ins = self.instruments[n_ins]
        if not 0 <= account < self.max_accounts:
            return self._reject(cmd, Reject.UNKNOWN_ACCOUNT)
        if ins.status == InstrumentStatus.HALTED:
            return self._reject(cmd, Reject.INSTRUMENT_HALTED)
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
        if stp == StpMode.ACCOUNT_DEFAULT:
            stp = self._account_stp.get(account, self.default_stp)
        if tif == TimeInForce.FOK and not self._fok_fillable(n_ins, account, side, limit, qty, stp):
            return self._reject(cmd, Reject.FOK_NOT_FILLABLE)

        order = _Order(self.next_order_id, int(cmd["client_order_id"]), n_ins, account, side, otype,
                       tif, stp, price if otype == OrderType.LIMIT else 0, qty, self.clock)
        self.next_order_id += 1
        self._emit_order(cmd, EventKind.ACCEPTED, order, qty=qty, leaves=qty)
        self._match_and_rest(cmd, order, limit)

    def _fok_fillable(self, n_ins, account, side, limit, qty, stp) -> bool:
        available = 0
        for level in self._books[n_ins].levels(_opposite(side)):
            if not _crosses(side, limit, level.price):
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

    def _match_and_rest(self, cmd, order: _Order, limit: int) -> None:
        book = self._books[order.instrument]
        contra_side = _opposite(order.side)
        stopped = False
        while order.qty > 0 and not stopped:
            levels = book.sides[contra_side]
            if not levels:
                break
            level = levels.peekitem(0)[1]
            if not _crosses(order.side, limit, level.price):
                break
            resting = level.orders[0]
            self._touch(order.instrument, contra_side, level.price)
            if order.stp != StpMode.OFF and resting.account == order.account:
                if order.stp in (StpMode.CANCEL_OLDEST, StpMode.CANCEL_BOTH):
                    self._remove_cancelled(cmd, resting, CancelReason.SELF_TRADE)
                if order.stp in (StpMode.CANCEL_NEWEST, StpMode.CANCEL_BOTH):
                    self._emit_order(cmd, EventKind.CANCELLED, order, qty=order.qty, leaves=0,
                                     reason=CancelReason.SELF_TRADE)
                    order.qty = 0
                    stopped = True
                continue
            self._trade(cmd, order, resting)
        if order.qty == 0 or stopped:
            return
        if order.order_type == OrderType.LIMIT and order.tif in (TimeInForce.GTC, TimeInForce.DAY):
            book.add(order)
            self._orders[order.order_id] = order
            self._touch(order.instrument, order.side, order.price)
        else:
            self._emit_order(cmd, EventKind.CANCELLED, order, qty=order.qty, leaves=0,
                             reason=CancelReason.IOC_REMAINDER)

    def _trade(self, cmd, aggressor: _Order, resting: _Order) -> None:
        qty = min(aggressor.qty, resting.qty)
        aggressor.qty -= qty
        resting.qty -= qty
        buy, sell = (aggressor, resting) if aggressor.side == Side.BUY else (resting, aggressor)
        self._emit(cmd, EventKind.TRADE, trade_id=self.next_trade_id, instrument=aggressor.instrument,
                   price=resting.price, qty=qty, side=aggressor.side, trade_type=TradeType.CONTINUOUS,
                   buy_order_id=buy.order_id, sell_order_id=sell.order_id,
                   buy_account=buy.account, sell_account=sell.account,
                   buy_leaves=buy.qty, sell_leaves=sell.qty)
        self.next_trade_id += 1
        if resting.qty == 0:
            self._books[resting.instrument].remove(resting)
            del self._orders[resting.order_id]

    def _remove_cancelled(self, cmd, o: _Order, reason: int) -> None:
        self._books[o.instrument].remove(o)
        del self._orders[o.order_id]
        self._touch(o.instrument, o.side, o.price)
        self._emit_order(cmd, EventKind.CANCELLED, o, qty=o.qty, leaves=0, reason=reason)

    def _owned_order(self, cmd):
        o = self._orders.get(int(cmd["order_id"]))
        if o is None:
            self._reject(cmd, Reject.UNKNOWN_ORDER)
            return None
        if o.account != int(cmd["account"]):
            self._reject(cmd, Reject.NOT_OWNER)
            return None
        return o

    def _cancel(self, cmd) -> None:
        o = self._owned_order(cmd)
        if o is not None:
            self._remove_cancelled(cmd, o, CancelReason.USER)

    def _reduce(self, cmd) -> None:
        o = self._owned_order(cmd)
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
        reduced_by = o.qty - qty
        o.qty = qty
        self._touch(o.instrument, o.side, o.price)
        self._emit_order(cmd, EventKind.REDUCED, o, qty=reduced_by, leaves=qty)

    def _replace(self, cmd) -> None:
        o = self._owned_order(cmd)
        if o is None:
            return
        ins = self.instruments[o.instrument]
        price, qty = int(cmd["price"]), int(cmd["qty"])
        if ins.status == InstrumentStatus.HALTED:
            return self._reject(cmd, Reject.INSTRUMENT_HALTED)
        reason = self._validate_qty(ins, qty) or self._validate_price(ins, price)
        if reason:
            return self._reject(cmd, reason)
        if price == o.price and qty <= o.qty:
            if qty != o.qty:
                o.qty = qty
                self._touch(o.instrument, o.side, o.price)
            self._emit_order(cmd, EventKind.REPLACED, o, qty=qty, leaves=qty, value=1)
            return
        book = self._books[o.instrument]
        book.remove(o)
        del self._orders[o.order_id]
        self._touch(o.instrument, o.side, o.price)
        o.price, o.qty, o.ts = price, qty, self.clock
        self._emit_order(cmd, EventKind.REPLACED, o, qty=qty, leaves=qty, value=0)
        self._match_and_rest(cmd, o, price)

    def _set_instrument_status(self, cmd) -> None:
        n_ins, status = int(cmd["instrument"]), int(cmd["value"])
        if not 0 <= n_ins < len(self.instruments):
            return self._reject(cmd, Reject.UNKNOWN_INSTRUMENT)
        if status not in (InstrumentStatus.TRADING, InstrumentStatus.HALTED):
            return self._reject(cmd, Reject.BAD_STATUS)
        self.instruments[n_ins].status = InstrumentStatus(status)
        self._emit(cmd, EventKind.INSTRUMENT_STATUS, instrument=n_ins, value=status)

    def _set_account_stp(self, cmd) -> None:
        account, mode = int(cmd["account"]), int(cmd["stp"])
        if not 0 <= account < self.max_accounts:
            return self._reject(cmd, Reject.UNKNOWN_ACCOUNT)
        if not StpMode.OFF <= mode <= StpMode.CANCEL_BOTH:
            return self._reject(cmd, Reject.BAD_STP_MODE)
        self._account_stp[account] = mode
        self._emit(cmd, EventKind.ACCOUNT_UPDATED, account=account, value=mode)

    def _expire_day_orders(self, cmd) -> None:
        n_ins = int(cmd["instrument"])
        if not 0 <= n_ins < len(self.instruments):
            return self._reject(cmd, Reject.UNKNOWN_INSTRUMENT)
        book = self._books[n_ins]
        expiring = [o for side in _SIDES for level in book.levels(side) for o in level.orders
                    if o.tif == TimeInForce.DAY]
        for o in expiring:
            self._remove_cancelled(cmd, o, CancelReason.EXPIRY)
