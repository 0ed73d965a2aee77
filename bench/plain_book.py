"""The baseline a user would pick instead of the engine: a plain price-time book in pure Python,
``sortedcontainers.SortedDict`` of price levels, each a ``deque`` of order ids.

It does what a first exchange prototype does and no more: limit and market orders (GTC, DAY,
IOC, FOK), cancels, replaces (in place when the price stays and the quantity does not grow;
else to the back of the new price, matching first), self-trade prevention by cancelling the
newest order, order ids numbered like the engine's. No validation, no risk, no fees, no
events beyond the trades: on the risk-off benchmark workloads (whose commands are all valid)
it must make exactly the engine's trades, which :func:`trades_agree` checks, so that the
benchmark compares equal work.

>>> from bench.workloads import exchange_core_mix
>>> w = exchange_core_mix(n_commands=2_000, n_resting=200, seed=7)
>>> book = PlainBook(len(w.instruments))
>>> book.run(w.setup); book.trades.clear(); book.run(w.timed)
>>> len(book.trades) > 0 and trades_agree(w, book.trades)
True
"""
from __future__ import annotations

from collections import deque

import numpy as np
from sortedcontainers import SortedDict

from matching import CommandType, EventKind, OrderType, Side, TimeInForce

from bench.workloads import SETUP_CHUNK

__all__ = ["PlainBook", "engine_trades", "trades_agree"]

_NEW, _CANCEL, _REPLACE = int(CommandType.NEW_ORDER), int(CommandType.CANCEL), int(CommandType.REPLACE)
_BUY, _MARKET = int(Side.BUY), int(OrderType.MARKET)
_RESTS = (int(TimeInForce.GTC), int(TimeInForce.DAY))
_FOK = int(TimeInForce.FOK)


class PlainBook:
    """Books of ``n_instruments``; ``trades`` lists ``(buy order id, sell order id, price, qty)``."""

    def __init__(self, n_instruments: int) -> None:
        # per instrument: bids keyed by -price (best first), asks by price; level = deque of ids
        self.bids = [SortedDict() for _ in range(n_instruments)]
        self.asks = [SortedDict() for _ in range(n_instruments)]
        self.orders: dict = {}          # id -> [instrument, side, price, qty, account]
        self.next_id = 1
        self.trades: list = []

    # ------------------------------------------------------------------ the per-call API
    def place(self, instrument: int, account: int, side: int, qty: int, price: int = 0,
              order_type: int = 1, tif: int = 1, *_unused) -> tuple[int, list]:
        """Enter an order: ``(order id, fills)``, each fill ``(price, qty, contra order id)``;
        id 0 for a FOK that could not fill (refused). Arguments past ``tif`` (the engine's
        STP mode, client order id, time stamp, sequence) are accepted and ignored."""
        market = order_type == _MARKET
        if tif == _FOK and not self._fillable(instrument, account, side, qty, price, market):
            return 0, []
        oid = self.next_id
        self.next_id += 1
        fills = []
        left = self._match(oid, instrument, account, side, qty, price, market, fills)
        if left and not market and tif in _RESTS:
            self._rest(oid, instrument, side, price, left, account)
        return oid, fills

    def submit(self, instrument: int, account: int, side: int, qty: int, price: int = 0,
               order_type: int = 1, tif: int = 1) -> int:
        """Enter an order; its id (0: a FOK that could not fill, refused)."""
        return self.place(instrument, account, side, qty, price, order_type, tif)[0]

    def cancel(self, order_id: int, account: int, *_unused) -> bool:
        o = self.orders.get(order_id)
        if o is None or o[4] != account:
            return False
        self._unlink(order_id, o)
        return True

    def withdraw(self, order_id: int, account: int, *_unused) -> tuple[int, tuple]:
        """Cancel an order: ``(its id, no fills)``, id 0 when there was no such order of the account."""
        return (order_id if self.cancel(order_id, account) else 0), ()

    def amend(self, order_id: int, account: int, price: int, qty: int, *_unused) -> tuple[int, list]:
        """Change an order's price and quantity: ``(its id, fills)`` as :meth:`place`'s, id 0
        when there was no such order of the account."""
        o = self.orders.get(order_id)
        if o is None or o[4] != account:
            return 0, []
        if price == o[2] and qty <= o[3]:
            o[3] = qty                   # in place: it keeps its turn
            return order_id, []
        self._unlink(order_id, o)
        instrument, side = o[0], o[1]
        fills = []
        left = self._match(order_id, instrument, account, side, qty, price, False, fills)
        if left:
            self._rest(order_id, instrument, side, price, left, account)
        return order_id, fills

    def replace(self, order_id: int, account: int, price: int, qty: int) -> bool:
        return self.amend(order_id, account, price, qty)[0] != 0

    # ------------------------------------------------------------------ a command array
    def run(self, commands: np.ndarray) -> None:
        """Every command of a ``COMMAND_DTYPE`` array, one Python call each (read as lists first)."""
        cols = {name: commands[name].tolist() for name in ("type", "instrument", "account", "side", "qty", "price",
                                                           "order_type", "tif", "order_id")}
        submit, cancel, replace = self.submit, self.cancel, self.replace
        for t, ins, acc, side, qty, price, otype, tif, oid in zip(*cols.values()):
            if t == _NEW:
                submit(ins, acc, side, qty, price, otype, tif)
            elif t == _CANCEL:
                cancel(oid, acc)
            elif t == _REPLACE:
                replace(oid, acc, price, qty)
            else:
                raise ValueError(f"the plain book has no command type {t}")

    # ------------------------------------------------------------------ inside
    def _contra(self, instrument: int, side: int) -> SortedDict:
        return self.asks[instrument] if side == _BUY else self.bids[instrument]

    def _match(self, oid, instrument, account, side, qty, price, market, fills: list) -> int:
        book = self._contra(instrument, side)
        buy = side == _BUY
        orders, trades = self.orders, self.trades
        while qty and book:
            key, level = book.peekitem(0)
            level_price = key if buy else -key
            if not market and (level_price > price if buy else level_price < price):
                break
            rid = level[0]
            r = orders[rid]
            if r[4] == account:          # self-trade: the newest order (this one) is cancelled
                return 0
            n = qty if qty < r[3] else r[3]
            trades.append((oid, rid, level_price, n) if buy else (rid, oid, level_price, n))
            fills.append((level_price, n, rid))
            qty -= n
            r[3] -= n
            if not r[3]:
                level.popleft()
                del orders[rid]
                if not level:
                    del book[key]
        return qty

    def _fillable(self, instrument, account, side, qty, price, market) -> bool:
        buy = side == _BUY
        for key, level in self._contra(instrument, side).items():
            level_price = key if buy else -key
            if not market and (level_price > price if buy else level_price < price):
                return False
            for rid in level:
                r = self.orders[rid]
                if r[4] == account:
                    return False
                qty -= r[3]
                if qty <= 0:
                    return True
        return False

    def _rest(self, oid, instrument, side, price, qty, account) -> None:
        book = self.bids[instrument] if side == _BUY else self.asks[instrument]
        key = -price if side == _BUY else price
        level = book.get(key)
        if level is None:
            level = book[key] = deque()
        level.append(oid)
        self.orders[oid] = [instrument, side, price, qty, account]

    def _unlink(self, oid, o) -> None:
        book = self.bids[o[0]] if o[1] == _BUY else self.asks[o[0]]
        key = -o[2] if o[1] == _BUY else o[2]
        level = book[key]
        level.remove(oid)                # a deque scan: what the plain book pays for a cancel
        if not level:
            del book[key]
        del self.orders[oid]


def engine_trades(events: np.ndarray) -> list:
    """The engine's trades as ``(buy order id, sell order id, price, qty)``."""
    t = events[events["kind"] == EventKind.TRADE]
    return list(zip(t["buy_order_id"].tolist(), t["sell_order_id"].tolist(), t["price"].tolist(), t["qty"].tolist()))


def trades_agree(workload, trades: list, engine_cls=None) -> bool:
    """Do ``trades`` (a plain book's over ``workload.timed``, after its setup) equal the engine's?"""
    from matching import Engine                    # noqa: PLC0415
    engine = workload.make_engine(engine_cls or Engine)
    for start in range(0, len(workload.setup), SETUP_CHUNK):
        engine.process(workload.setup[start:start + SETUP_CHUNK])
    return engine_trades(engine.process(workload.timed)) == trades
