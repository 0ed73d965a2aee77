"""The surveillance rules, over the drop copy's executions and events.

:class:`Surveillance` takes batches of executions (``DROP_COPY_DTYPE``) and order and market
events (``DROP_COPY_EVENT_DTYPE``) as the drop copy carries them, and returns alerts: plain
dicts, JSON-ready, each with the orders and trades that raised it (``evidence``). The journal
back-test (:mod:`surveillance.backtest`) turns replayed engine events into the same rows, so
both run this code.

- ``wash_trade``: a trade whose buyer and seller are one account, accounts of one member, or
  declared related parties (``related_accounts``). At once.
- ``layering``: an order of at least ``layering_min_qty`` tonnes cancelled by its account within
  ``layering_window_s`` of a fill of that account on the other side of the same instrument,
  after the order was entered: the large order stood to move the price the fill got. At once.
- ``marking_the_close``: at an instrument's end of day, an account whose aggressive trades in
  the last ``close_window_s`` of continuous trading moved the day's volume-weighted price (the
  close's basis: continuous and fixed-price trades) by ``close_move_bps`` or more.
- ``order_to_trade``: at end of day, an account with at least ``otr_min_orders`` orders (entries
  and replacements) in an instrument and ``otr_max`` or more of them per trade. Designated
  market makers are exempt unless ``otr_exempt_market_makers`` is false.
- ``concentration``: at end of day, an account whose share of the instrument's volume (bought +
  sold, of twice the volume) reached ``concentration_max_pct`` on a day of at least
  ``concentration_min_volume`` tonnes.

The end of day is the instrument's DAILY_STATS event; the close window ends when continuous
trading last ended before it (its last INSTRUMENT_STATUS away from TRADING, or the end of
day itself).
"""
from __future__ import annotations

from collections import defaultdict, deque
from datetime import datetime, timedelta, timezone

import numpy as np

from matching import CancelReason, EventKind, InstrumentStatus, Side, TradeType

__all__ = ["Surveillance", "ALERT_KINDS"]

ALERT_KINDS = ("wash_trade", "layering", "marking_the_close", "order_to_trade", "concentration")
CST = timezone(timedelta(hours=8))
_NS = 1_000_000_000
_ACCEPTED, _CANCELLED, _REPLACED = int(EventKind.ACCEPTED), int(EventKind.CANCELLED), int(EventKind.REPLACED)
_STATUS, _STATS = int(EventKind.INSTRUMENT_STATUS), int(EventKind.DAILY_STATS)
_TRADING = int(InstrumentStatus.TRADING)
_CLOSE_TYPES = (int(TradeType.CONTINUOUS), int(TradeType.FIXED))
_VOLUME_TYPES = (int(TradeType.CONTINUOUS), int(TradeType.FIXED), int(TradeType.BLOCK))
_BUY = int(Side.BUY)
_TRADE_FIELDS = ("trade_id", "ts", "price", "qty", "buy_account", "sell_account", "buy_order_id", "sell_order_id")


def _time(ts: int) -> str:
    return datetime.fromtimestamp(ts / _NS, CST).isoformat(timespec="milliseconds")


def _trade(row) -> dict:
    d = {name: int(row[name]) for name in _TRADE_FIELDS}
    d["trade_type"] = TradeType(int(row["trade_type"])).name
    d["aggressor"] = Side(int(row["side"])).name if int(row["side"]) else None
    return d


class Surveillance:
    """The rules over one market.

    Parameters
    ----------
    rules : exchange.config.SurveillanceRules
    symbols : sequence of str
        Instrument symbols by engine index.
    members : dict
        Account id -> member id (accounts of one member trading together are wash trades).
    market_makers : iterable of int
        Designated market makers' accounts (see ``otr_exempt_market_makers``).
    """

    def __init__(self, rules, symbols, members: dict, market_makers=()) -> None:
        self.rules = rules
        self.symbols = list(symbols)
        self.members = dict(members)
        self.makers = set(market_makers)
        top = max([*self.members, *(a for p in rules.related_accounts for a in p), 0]) + 1
        self._member = np.full(top, -1, dtype=np.int64)
        for account, member in self.members.items():
            self._member[account] = member
        self._related = np.array(sorted({min(a, b) << 32 | max(a, b) for a, b in rules.related_accounts}),
                                 dtype=np.int64)
        self.alerts = 0
        self.counts = {kind: 0 for kind in ALERT_KINDS}
        self.rows = 0                                   # executions and events read
        self._trades: list[np.ndarray] = []            # executions not yet in a closed day, every instrument
        self._status: dict[int, int] = {}
        self._trading_ended: dict[int, int] = {}        # instrument -> when continuous trading last ended
        self._entries = np.zeros((0, len(self.symbols)), dtype=np.int64)   # account x instrument -> entries today
        self._large: dict[int, list] = {}              # order id -> a large order (see _events)
        self._fills: dict[tuple, deque] = defaultdict(deque)   # (account, instrument, side) -> recent fills

    # ------------------------------------------------------------------ input
    def process(self, executions: np.ndarray, events: np.ndarray) -> list[dict]:
        """One batch (or any run of batches, in order): the alerts it raises."""
        self.rows += len(executions) + len(events)
        alerts = self._wash(executions)
        if len(events):
            self._enter(events)
        if len(executions):
            self._trades.append(executions)
            self._note_fills(executions)
        if len(events):
            alerts += self._events(events)
        for a in alerts:
            self.alerts += 1
            self.counts[a["kind"]] += 1
            a["id"] = self.alerts
        return alerts

    def _alert(self, kind: str, ts: int, instrument: int, accounts, summary: str, trades=(), orders=(),
               **figures) -> dict:
        return {"kind": kind, "ts": ts, "time": _time(ts), "instrument": self.symbols[instrument]
                if 0 <= instrument < len(self.symbols) else instrument, "accounts": sorted(set(accounts)),
                "summary": summary, "figures": figures,
                "evidence": {"trades": [_trade(t) for t in trades], "orders": list(orders)}}

    # ------------------------------------------------------------------ at once
    def _member_of(self, accounts: np.ndarray) -> np.ndarray:
        inside = (accounts >= 0) & (accounts < len(self._member))
        return np.where(inside, self._member[np.clip(accounts, 0, len(self._member) - 1)], -1)

    def _wash(self, ex: np.ndarray) -> list[dict]:
        if not len(ex):
            return []
        buy, sell = ex["buy_account"].astype(np.int64), ex["sell_account"].astype(np.int64)
        mb, ms = self._member_of(buy), self._member_of(sell)
        wash = (buy == sell) | ((mb == ms) & (mb >= 0)) | np.isin(np.minimum(buy, sell) << 32 | np.maximum(buy, sell),
                                                                  self._related)
        out = []
        for row in ex[wash]:
            b, s = int(row["buy_account"]), int(row["sell_account"])
            why = ("one account" if b == s else f"accounts of member {self.members[b]}"
                   if self.members.get(b, -1) == self.members.get(s, -2) else "declared related parties")
            out.append(self._alert("wash_trade", int(row["ts"]), int(row["instrument"]), (b, s),
                                   f"trade {int(row['trade_id'])}: {int(row['qty']):,} t between {why} "
                                   f"({b} buys from {s})", trades=[row]))
        return out

    def _note_fills(self, ex: np.ndarray) -> None:
        """Remember recent fills of accounts with large orders open (layering's other half),
        and forget large orders once filled."""
        if not self._large:
            return
        ids = np.fromiter(self._large, dtype=np.int64, count=len(self._large))
        for side in ("buy_order_id", "sell_order_id"):
            hit = np.isin(ex[side], ids)
            for order_id, qty, seq in zip(ex[side][hit].tolist(), ex["qty"][hit].tolist(),
                                          ex["engine_seq"][hit].tolist()):
                order = self._large.get(order_id)
                if order is not None and seq > order[6]:
                    order[7] -= qty
                    if order[7] <= 0:
                        del self._large[order_id]
        if not self._large:
            return
        owners = np.array(sorted({o[0] for o in self._large.values()}), dtype=np.int32)
        keep = np.isin(ex["buy_account"], owners) | np.isin(ex["sell_account"], owners)
        window = self.rules.layering_window_s * _NS
        for row in ex[keep]:
            for account, side in ((int(row["buy_account"]), int(Side.BUY)), (int(row["sell_account"]), int(Side.SELL))):
                fills = self._fills[account, int(row["instrument"]), side]
                fills.append(row)
                while fills and int(fills[0]["ts"]) < int(row["ts"]) - window:
                    fills.popleft()

    def _enter(self, ev: np.ndarray) -> None:
        """Count each account's order entries; note the large ones (before the batch's fills)."""
        kind = ev["kind"]
        entries = (kind == _ACCEPTED) | (kind == _REPLACED)
        if entries.any():
            accounts, instruments = ev["account"][entries], ev["instrument"][entries]
            top, wide = int(accounts.max()) + 1, int(instruments.max()) + 1
            if top > self._entries.shape[0] or wide > self._entries.shape[1]:
                grown = np.zeros((max(top, 2 * self._entries.shape[0]), max(wide, self._entries.shape[1])),
                                 dtype=np.int64)
                grown[:self._entries.shape[0], :self._entries.shape[1]] = self._entries
                self._entries = grown
            np.add.at(self._entries, (accounts, instruments), 1)
        for row in ev[(kind == _ACCEPTED) & (ev["qty"] >= self.rules.layering_min_qty)]:
            # account, instrument, side, qty, price, entered, engine seq, still open
            self._large[int(row["order_id"])] = [int(row["account"]), int(row["instrument"]), int(row["side"]),
                                                 int(row["qty"]), int(row["price"]), int(row["ts"]),
                                                 int(row["engine_seq"]), int(row["leaves"])]

    def _events(self, ev: np.ndarray) -> list[dict]:
        out = []
        kind = ev["kind"]
        notable = (kind == _STATUS) | (kind == _STATS)
        if self._large:                # only large orders' cancels and replacements matter, and they are few
            large = np.fromiter(self._large, dtype=np.int64, count=len(self._large))
            notable |= ((kind == _CANCELLED) | (kind == _REPLACED)) & np.isin(ev["order_id"], large)
        for row in ev[notable]:
            k, n = int(row["kind"]), int(row["instrument"])
            if k == _CANCELLED or k == _REPLACED:
                large_order = self._large.pop(int(row["order_id"]), None) if (
                    k == _CANCELLED or int(row["qty"]) < self.rules.layering_min_qty) else None
                if large_order is not None and k == _CANCELLED and int(row["reason"]) == CancelReason.USER:
                    out += self._layering(large_order, int(row["order_id"]), row)
            elif k == _STATUS:
                if self._status.get(n) == _TRADING and int(row["value"]) != _TRADING:
                    self._trading_ended[n] = int(row["ts"])
                self._status[n] = int(row["value"])
            else:
                out += self._end_of_day(row)
        return out

    def _layering(self, order: list, order_id: int, cancel) -> list[dict]:
        account, n, side, qty, price, ts, seq, _ = order
        other = int(Side.SELL) if side == _BUY else _BUY
        window = self.rules.layering_window_s * _NS
        cancelled = int(cancel["ts"])
        fills = [f for f in self._fills.get((account, n, other), ())
                 if seq < int(f["engine_seq"]) < int(cancel["engine_seq"]) and cancelled - int(f["ts"]) <= window]
        if not fills:
            return []
        filled = sum(int(f["qty"]) for f in fills)
        return [self._alert(
            "layering", cancelled, n, [account],
            f"account {account} cancelled its {Side(side).name.lower()} of {qty:,} t "
            f"{(cancelled - ts) / _NS:.1f} s after entering it, {(cancelled - int(fills[-1]['ts'])) / _NS:.1f} s "
            f"after {filled:,} t of its {Side(other).name.lower()} orders filled",
            trades=fills, orders=[{"order_id": order_id, "side": Side(side).name, "qty": qty, "price": price,
                                   "entered": ts, "cancelled": cancelled}],
            order_qty=qty, filled_qty=filled)]

    # ------------------------------------------------------------------ at the end of day
    def _end_of_day(self, stats) -> list[dict]:
        n, ts, seq = int(stats["instrument"]), int(stats["ts"]), int(stats["engine_seq"])
        day = None
        if self._trades:
            every = np.concatenate(self._trades) if len(self._trades) > 1 else self._trades[0]
            # after the close, in the same batch: tomorrow's
            closed = (every["instrument"] == n) & (every["engine_seq"] < seq)
            day = every[closed]
            self._trades = [every[~closed]] if not closed.all() else []
        out = []
        if day is not None and len(day):
            end = self._trading_ended.get(n, ts)
            out += self._marking_the_close(n, day, end, int(stats["price"]), int(stats["value"]))
            out += self._concentration(n, day, ts)
        out += self._order_to_trade(n, day, ts)
        self._trading_ended.pop(n, None)
        if n < self._entries.shape[1]:
            self._entries[:, n] = 0
        return out

    def _marking_the_close(self, n: int, day: np.ndarray, end: int, close: int, previous: int) -> list[dict]:
        basis = day[np.isin(day["trade_type"], _CLOSE_TYPES)]
        if not len(basis):
            return []
        window = (basis["ts"] >= end - self.rules.close_window_s * _NS) & (basis["ts"] <= end)
        aggressor = np.where(basis["side"] == _BUY, basis["buy_account"], basis["sell_account"])
        notional = basis["price"].astype(np.float64) * basis["qty"]
        vwap = notional.sum() / basis["qty"].sum()
        out = []
        for account in np.unique(aggressor[window]).tolist():
            mine = window & (aggressor == account)
            rest_qty = basis["qty"][~mine].sum()
            without = notional[~mine].sum() / rest_qty if rest_qty else float(previous or vwap)
            if not without:
                continue
            move = (vwap - without) / without * 10_000
            if abs(move) >= self.rules.close_move_bps:
                out.append(self._alert(
                    "marking_the_close", end, n, [account],
                    f"account {account}'s {int(basis['qty'][mine].sum()):,} t traded aggressively in the last "
                    f"{self.rules.close_window_s} s moved the day's volume-weighted price by {move:+.0f} bps "
                    f"({without / 100:.2f} without them, {vwap / 100:.2f} with them; close {close / 100:.2f})",
                    trades=basis[mine], move_bps=round(move, 1), vwap=round(vwap, 2), vwap_without=round(without, 2),
                    close=close))
        return out

    def _concentration(self, n: int, day: np.ndarray, ts: int) -> list[dict]:
        counted = day[np.isin(day["trade_type"], _VOLUME_TYPES)]
        volume = int(counted["qty"].sum())
        if volume < self.rules.concentration_min_volume:
            return []
        accounts = np.concatenate([counted["buy_account"], counted["sell_account"]])
        qty = np.concatenate([counted["qty"], counted["qty"]])
        ids, where = np.unique(accounts, return_inverse=True)
        per = np.bincount(where, weights=qty)
        out = []
        for account, traded in zip(ids.tolist(), per.tolist()):
            share = 100 * traded / (2 * volume)
            if share >= self.rules.concentration_max_pct:
                mine = (counted["buy_account"] == account) | (counted["sell_account"] == account)
                out.append(self._alert(
                    "concentration", ts, n, [account],
                    f"account {account} traded {int(traded):,} t of the day's {volume:,} t: {share:.1f}% of the "
                    f"volume (limit {self.rules.concentration_max_pct}%)",
                    trades=counted[mine], share_pct=round(share, 2), volume=volume))
        return out

    def _order_to_trade(self, n: int, day, ts: int) -> list[dict]:
        out = []
        column = self._entries[:, n] if n < self._entries.shape[1] else np.zeros(0, dtype=np.int64)
        for account in np.flatnonzero(column >= self.rules.otr_min_orders).tolist():
            orders = int(column[account])
            if account in self.makers and self.rules.otr_exempt_market_makers:
                continue
            mine = day[(day["buy_account"] == account) | (day["sell_account"] == account)] if day is not None else ()
            ratio = orders / max(len(mine), 1)
            if ratio >= self.rules.otr_max:
                out.append(self._alert(
                    "order_to_trade", ts, n, [account],
                    f"account {account} entered {orders:,} orders for {len(mine)} trades: {ratio:.0f} per trade "
                    f"(limit {self.rules.otr_max})", trades=mine, orders_entered=orders, trades_made=len(mine),
                    ratio=round(ratio, 1)))
        return out
