"""Per-call results in pure Python: the reference model's :class:`OrderResult` and the rule
that folds one command's events into it.

The compiled engine has its own, faster classes of the same names and fields
(``matching._engine``); ``astuple()`` of either is what the differential tests compare.

>>> from matching import EventKind, Instrument, ReferenceEngine, Side
>>> ref = ReferenceEngine([Instrument("SCEA2026", reference_price=5000)])
>>> _ = ref.place("SCEA2026", account=1, side=Side.SELL, qty=100, price=5010)
>>> r = ref.place("SCEA2026", account=2, side=Side.BUY, qty=60, price=5020)
>>> r.status == EventKind.ACCEPTED, r.filled, r.leaves, [(f.price, f.qty) for f in r.fills]
(True, 60, 0, [(5010, 60)])
"""
from __future__ import annotations

from dataclasses import astuple, dataclass

import numpy as np

from .codes import EventKind

__all__ = ["Fill", "OrderResult", "fold"]

_KEEPS_LEAVES = (int(EventKind.ACCEPTED), int(EventKind.REPLACED))


@dataclass(frozen=True, slots=True)
class Fill:
    """One trade of the order: its own side's fee and the other side's order and account."""
    trade_id: int
    price: int
    qty: int
    fee: int
    contra_order_id: int
    contra_account: int

    def astuple(self) -> tuple:
        return astuple(self)


@dataclass(frozen=True, slots=True)
class OrderResult:
    """What one per-call command did to its order; see ``matching.Engine.place``."""
    order_id: int
    status: int
    reason: int
    filled: int
    leaves: int
    fills: tuple
    events: np.ndarray

    @property
    def n_fills(self) -> int:
        return len(self.fills)

    @property
    def ok(self) -> bool:
        return self.status != EventKind.REJECTED

    def astuple(self) -> tuple:
        return (self.order_id, self.status, self.reason, self.filled, self.leaves,
                tuple(f.astuple() for f in self.fills))


def fold(events: np.ndarray) -> OrderResult:
    """One per-call command's events as an :class:`OrderResult`.

    The first event names the order (ACCEPTED, REPLACED, CANCELLED or REJECTED); the
    trades with that order on either side are its fills, each leaving it the trade's
    ``buy_leaves`` or ``sell_leaves``; a later CANCELLED of it (an IOC remainder, a
    self-trade) is its final status, with nothing left.
    """
    if len(events) == 0:
        raise RuntimeError("a per-call command made no event")
    first = events[0]
    oid = int(first["order_id"])
    status, reason = int(first["kind"]), int(first["reason"])
    leaves = int(first["leaves"]) if status in _KEEPS_LEAVES else 0
    filled, fills = 0, []
    for e in events[1:]:
        kind = int(e["kind"])
        if kind == EventKind.TRADE and oid in (int(e["buy_order_id"]), int(e["sell_order_id"])):
            mine, other = ("buy", "sell") if int(e["buy_order_id"]) == oid else ("sell", "buy")
            fills.append(Fill(int(e["trade_id"]), int(e["price"]), int(e["qty"]), int(e[f"{mine}_fee"]),
                              int(e[f"{other}_order_id"]), int(e[f"{other}_account"])))
            filled += int(e["qty"])
            leaves = int(e[f"{mine}_leaves"])
        elif kind == EventKind.CANCELLED and int(e["order_id"]) == oid:
            status, reason, leaves = kind, int(e["reason"]), 0
    return OrderResult(oid, status, reason, filled, leaves, tuple(fills), events)
