"""Designated market makers' quoting obligations, measured from the engine's events.

A market maker (``[[market_makers]]`` in the configuration) must quote each of its
instruments on both sides: best bid and best offer each carrying at least ``min_qty`` tonnes
of its own orders, no further apart than ``max_spread_bps`` of their midpoint, for at least
``presence_pct`` of the time the instrument trades continuously.

:class:`Quoting` follows each maker's resting limit orders (its ACCEPTED, TRADE, REDUCED,
REPLACED and CANCELLED events) and each instrument's phase (INSTRUMENT_ADDED,
INSTRUMENT_STATUS), and integrates over engine time (the events' ``ts``) while the instrument
is TRADING. Calls, halts and closed hours do not count: an obligation applies to continuous
trading only. Between two events nothing changes, so the integral is exact. At an
instrument's end of day (its DAILY_STATS event) each of its makers' day becomes one row
(:data:`MAKER_FIELDS`):

- ``trading_s``: seconds of continuous trading measured;
- ``two_sided_s``: seconds with at least one bid and one offer of the maker resting;
- ``present_s`` and ``presence_pct``: seconds (and their share of ``trading_s``) quoting
  within the obligation; ``compliant``: ``presence_pct`` reached the required one;
- ``avg_spread_bps`` and ``avg_size``: the spread of the maker's best prices (bps of their
  midpoint) and the smaller of its two best-price sizes, time-weighted over ``two_sided_s``;
- ``volume``, ``trades`` and ``fees``: what the maker traded in the instrument that day (any
  trade type) and the fees it paid on it, rebates taken off.

It runs beside the disclosure files (:class:`feeds.disclosure.Disclosure`), off the order
path, and its state (:meth:`Quoting.state`) is kept with the daemon's snapshots: replaying the
journal after it rebuilds the same figures.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from matching import EVENT_DTYPE, EventKind, InstrumentStatus, OrderType, Side

__all__ = ["Obligation", "Quoting", "MAKER_FIELDS"]

MAKER_FIELDS = ("account", "symbol", "trading_s", "two_sided_s", "present_s", "presence_pct",
                "required_presence_pct", "avg_spread_bps", "max_spread_bps", "avg_size", "min_qty", "compliant",
                "volume", "trades", "fees")

_NS = 1_000_000_000
_TRADE = int(EventKind.TRADE)
_ORDER_EVENTS = (int(EventKind.ACCEPTED), int(EventKind.CANCELLED), int(EventKind.REDUCED), int(EventKind.REPLACED))
_PHASE_EVENTS = (int(EventKind.INSTRUMENT_STATUS), int(EventKind.INSTRUMENT_ADDED))
_CLOSE = int(EventKind.DAILY_STATS)
_TRADING = int(InstrumentStatus.TRADING)
_LIMIT = int(OrderType.LIMIT)
_BUY = int(Side.BUY)


@dataclass(frozen=True)
class Obligation:
    """One maker's obligation in one instrument (by engine index)."""

    account: int
    instrument: int
    max_spread_bps: int
    min_qty: int
    presence_pct: int


class _Day:
    """One maker's day so far in one instrument: the integrals and what it traded."""

    __slots__ = ("since", "trading", "two_sided", "present", "spread", "size", "volume", "trades", "fees")

    def __init__(self, since: int | None = None) -> None:
        self.since = since            # engine ts the integrals run to; None: nothing seen yet
        self.trading = self.two_sided = self.present = 0          # ns
        self.spread = self.size = 0   # bps x ns, tonnes x ns, over two_sided
        self.volume = self.trades = self.fees = 0

    def to_list(self) -> list:
        return [self.since, self.trading, self.two_sided, self.present, self.spread, self.size, self.volume,
                self.trades, self.fees]

    @classmethod
    def from_list(cls, values) -> "_Day":
        day = cls()
        (day.since, day.trading, day.two_sided, day.present, day.spread, day.size, day.volume, day.trades,
         day.fees) = values
        return day


class Quoting:
    """The makers' quoting, measured event by event.

    Parameters
    ----------
    obligations : sequence of Obligation
    symbols : sequence of str
        Instrument symbols by engine index.
    statuses : sequence of int
        Each instrument's phase when the measurement starts (later ones come from events).
    """

    def __init__(self, obligations, symbols, statuses) -> None:
        self.obligations = {(o.account, o.instrument): o for o in obligations}
        self.symbols = list(symbols)
        self.status = [int(s) for s in statuses]
        self.accounts = np.array(sorted({o.account for o in obligations}), dtype=np.int32)
        self._days = {key: _Day() for key in self.obligations}
        self._orders: dict[int, list] = {}          # order id -> [account, instrument, side, price, leaves]
        self._quotes = {key: {} for key in self.obligations}     # key -> {order id: that same list}

    # ------------------------------------------------------------------ events
    def record(self, events: np.ndarray) -> dict[int, list[dict]]:
        """Take one batch's events; return the rows of the makers' days it closed, by instrument."""
        if events.dtype != EVENT_DTYPE:
            raise TypeError("events must be an EVENT_DTYPE array")
        closed: dict[int, list[dict]] = {}
        if not self.obligations or not len(events):
            return closed
        kind = events["kind"]
        trade = kind == _TRADE
        mine = np.where(trade, np.isin(events["buy_account"], self.accounts)
                        | np.isin(events["sell_account"], self.accounts),
                        np.isin(events["account"], self.accounts))
        wanted = mine | np.isin(kind, _PHASE_EVENTS) | (kind == _CLOSE)
        for e in events[wanted]:
            k, ts, n = int(e["kind"]), int(e["ts"]), int(e["instrument"])
            if k == _TRADE:
                self._trade(e, ts, n)
            elif k in _ORDER_EVENTS:
                self._order(e, ts, n)
            elif k in _PHASE_EVENTS:
                while n >= len(self.status):          # an instrument listed later
                    self.status.append(int(InstrumentStatus.CLOSED))
                self._advance_instrument(n, ts)
                self.status[n] = int(e["value"])
            elif k == _CLOSE:
                closed[n] = self._close(n, ts)
        return closed

    def _order(self, e, ts: int, n: int) -> None:
        key = (int(e["account"]), n)
        if key not in self.obligations or int(e["order_type"]) != _LIMIT:
            return
        self._advance(key, ts)
        order_id, leaves = int(e["order_id"]), int(e["leaves"])
        if leaves <= 0:
            self._forget(order_id)
        elif order_id in self._orders:
            self._orders[order_id][3:5] = [int(e["price"]), leaves]
        elif int(e["kind"]) == EventKind.ACCEPTED:
            self._orders[order_id] = row = [key[0], n, int(e["side"]), int(e["price"]), leaves]
            self._quotes[key][order_id] = row

    def _trade(self, e, ts: int, n: int) -> None:
        for account, order_id, leaves, paid in ((int(e["buy_account"]), int(e["buy_order_id"]),
                                                 int(e["buy_leaves"]), int(e["buy_fee"])),
                                                (int(e["sell_account"]), int(e["sell_order_id"]),
                                                 int(e["sell_leaves"]), int(e["sell_fee"]))):
            key = (account, n)
            if key not in self.obligations:
                continue
            self._advance(key, ts)
            day = self._days[key]
            day.volume += int(e["qty"])
            day.trades += 1
            day.fees += paid
            if order_id in self._orders:
                if leaves <= 0:
                    self._forget(order_id)
                else:
                    self._orders[order_id][4] = leaves

    def _forget(self, order_id: int) -> None:
        row = self._orders.pop(order_id, None)
        if row is not None:
            del self._quotes[row[0], row[1]][order_id]

    # ------------------------------------------------------------------ time
    def _quote(self, key) -> tuple[int, int, int, int]:
        """The maker's best bid, its size, best offer, its size (0, 0 for a side without orders)."""
        bid = bid_qty = ask = ask_qty = 0
        for _, _, side, price, leaves in self._quotes[key].values():
            if side == _BUY:
                if price > bid:
                    bid, bid_qty = price, leaves
                elif price == bid:
                    bid_qty += leaves
            elif ask == 0 or price < ask:
                ask, ask_qty = price, leaves
            elif price == ask:
                ask_qty += leaves
        return bid, bid_qty, ask, ask_qty

    def _advance(self, key, ts: int) -> None:
        """Integrate the maker's quoting in the instrument up to ``ts``."""
        day = self._days[key]
        if day.since is not None and ts > day.since and self.status[key[1]] == _TRADING:
            dt = ts - day.since
            day.trading += dt
            bid, bid_qty, ask, ask_qty = self._quote(key)
            if bid and ask:
                spread_bps = 20_000 * (ask - bid) // (ask + bid)       # of the midpoint
                size = min(bid_qty, ask_qty)
                day.two_sided += dt
                day.spread += spread_bps * dt
                day.size += size * dt
                ob = self.obligations[key]
                if size >= ob.min_qty and 20_000 * (ask - bid) <= ob.max_spread_bps * (ask + bid):
                    day.present += dt
        if day.since is None or ts > day.since:
            day.since = ts

    def _advance_instrument(self, n: int, ts: int) -> None:
        for key in self._days:
            if key[1] == n:
                self._advance(key, ts)

    def _close(self, n: int, ts: int) -> list[dict]:
        """The rows of instrument ``n``'s makers for the day ending at ``ts``; a new day starts."""
        rows = []
        for key, ob in self.obligations.items():
            if key[1] != n:
                continue
            self._advance(key, ts)
            day = self._days[key]
            presence = round(100 * day.present / day.trading, 2) if day.trading else 0.0
            rows.append({
                "account": key[0], "symbol": self.symbols[n],
                "trading_s": round(day.trading / _NS, 3), "two_sided_s": round(day.two_sided / _NS, 3),
                "present_s": round(day.present / _NS, 3), "presence_pct": presence,
                "required_presence_pct": ob.presence_pct,
                "avg_spread_bps": round(day.spread / day.two_sided, 1) if day.two_sided else None,
                "max_spread_bps": ob.max_spread_bps,
                "avg_size": round(day.size / day.two_sided) if day.two_sided else 0, "min_qty": ob.min_qty,
                "compliant": bool(day.trading) and presence >= ob.presence_pct,
                "volume": day.volume, "trades": day.trades, "fees": day.fees})
            self._days[key] = _Day(ts)
        return rows

    # ------------------------------------------------------------------ state
    def state(self) -> dict:
        """The measurement so far, JSON-ready: kept with each snapshot."""
        return {"status": list(self.status),
                "orders": [[order_id, *row] for order_id, row in sorted(self._orders.items())],
                "days": [[a, n, *day.to_list()] for (a, n), day in sorted(self._days.items())]}

    def restore(self, state: dict) -> None:
        """Take back :meth:`state`. Obligations added since start from nothing; those removed
        are dropped. ValueError if it does not fit."""
        try:
            status = [int(s) for s in state["status"]]
            orders = {int(r[0]): [int(x) for x in r[1:6]] for r in state["orders"]}
            days = {(int(r[0]), int(r[1])): _Day.from_list(r[2:11]) for r in state["days"]}
        except (KeyError, TypeError, ValueError, IndexError) as exc:
            raise ValueError(f"market maker figures do not fit: {exc!r}") from None
        self.status = status + self.status[len(status):]
        self._orders = {oid: row for oid, row in orders.items() if (row[0], row[1]) in self.obligations}
        self._quotes = {key: {} for key in self.obligations}
        for order_id, row in self._orders.items():
            self._quotes[row[0], row[1]][order_id] = row
        self._days = {key: days.get(key, _Day()) for key in self.obligations}
