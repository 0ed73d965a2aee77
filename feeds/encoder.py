"""From engine events to public feed messages, one engine batch at a time.

:meth:`FeedEncoder.encode` turns the ``EVENT_DTYPE`` array of one ``Engine.process`` call
into ``FEED_DTYPE`` messages and groups them into frames by topic. What it publishes:

- every trade (continuous, fixed-price, block, auction: ``trade_type`` says which), without
  accounts or order ids;
- depth of the continuous book and of the fixed-price listings, only the levels that
  changed in the batch, each once with its final quantity and order count (block quotes
  are private to their parties and auction bids sealed: neither is ever published);
- the continuous book's best bid and offer when the batch changed it;
- phase and block-window changes, auction results (without the initiator's account) and
  the end-of-day statistics (one message per instrument, volume and amount by trade type);
- in a call auction, the indicative uncrossing (price, volume, surplus): the last of the
  batch per instrument, as depth is;
- for an instrument in taker-select (``select_depth`` > 0), every change to a resting order
  (ORDER: its id, side, price, 0 = unchanged, and quantity left, 0 = gone), so that a taker
  can name the one it takes; when an instrument enters the mode, its whole book. ORDER
  messages are numbered after the batch's others, in event order.

The per-batch work runs in C (``feeds._encode``), but the ORDER messages, which only
taker-select instruments have, are made here.

Sequence numbers: ``seq`` runs over the whole feed; ``instrument_seq`` runs per topic, that
is per instrument within a channel, so a subscriber to some topics only can still see a
gap in each of them. Both start at 1 and have no gaps. Within a batch, messages take their
feed numbers in engine event order, the BBO messages last (by instrument); frames come in
topic order (channel, then instrument index).

The C pass is one pass over the events, a hash of the levels changed, a counting sort by
topic.
"""
from __future__ import annotations

import numpy as np

from matching import (
    CommandType, EventKind, InstrumentParameter, InstrumentStatus, OrderType, Side, TimeInForce, TradeType,
)

from ._encode import BatchEncoder, layout
from .messages import FEED_DTYPE, FeedType, topic

__all__ = ["FeedEncoder"]


def _check_build() -> None:
    size, offsets = layout()
    expected = {name: FEED_DTYPE.fields[name][1] for name in FEED_DTYPE.names}
    if size != FEED_DTYPE.itemsize or offsets != expected:
        raise ImportError("feeds._encode: its C message struct does not match FEED_DTYPE; rebuild the extension")


_check_build()


class FeedEncoder:
    """Numbers and frames the public messages of each engine batch.

    Parameters
    ----------
    symbols : sequence of str
        Instrument symbols by engine index.
    engine : Engine
        The engine whose batches it encodes: best bids and offers and snapshot depth are
        read from its books (a C call) rather than kept again here per message.
    epoch : int
        The publisher's start (see :mod:`feeds.messages`).
    """

    def __init__(self, symbols, engine, epoch: int = 0) -> None:
        self.symbols = list(symbols)
        self.engine = engine
        self._core = BatchEncoder(len(self.symbols), epoch)
        self._core.status[:] = int(InstrumentStatus.TRADING)
        n = len(self.symbols)
        # topic name of each key (msg_type * n + instrument); index 0.. of the unused type 0 stay None
        self._topics = [None] * n + [topic(t, s) for t in FeedType for s in self.symbols]
        self._selecting = {k for k, ins in enumerate(engine.instruments) if ins.select_depth}

    @property
    def epoch(self) -> int:
        return self._core.epoch

    @property
    def seq(self) -> int:
        """The last feed sequence number published."""
        return self._core.seq

    @property
    def topic_seq(self) -> dict[bytes, int]:
        """Each topic published so far and its last ``instrument_seq``."""
        counts = self._core.topic_seq
        return {self._topics[k]: int(counts[k]) for k in np.flatnonzero(counts).tolist()}

    @property
    def status(self) -> list[int]:
        return self._core.status.tolist()

    @property
    def block_window(self) -> list[int]:
        return self._core.block_window.tolist()

    # ------------------------------------------------------------------ batches
    def encode(self, events: np.ndarray) -> list[tuple[bytes, np.ndarray]]:
        """The frames of one engine batch: ``(topic, FEED_DTYPE rows)``, in publishing order."""
        rows, groups = self._with_orders(events, *self._core.encode(events, self.engine))
        topics = self._topics
        return [(topics[k], rows[a:b]) for k, a, b in groups]

    def encode_grouped(self, events: np.ndarray) -> tuple[np.ndarray, list[tuple[int, int, int]]]:
        """The same batch as one array grouped by topic, and ``(topic key, start, end)`` per
        frame (:attr:`topics` names the keys): what the publisher sends without slicing.

        The array is a buffer reused by the next call: send or copy it before then."""
        return self._with_orders(events, *self._core.encode(events, self.engine, True))

    # ------------------------------------------------------------------ taker-select orders
    def _with_orders(self, events: np.ndarray, rows: np.ndarray, groups: list) -> tuple:
        """``rows`` and ``groups`` with the batch's ORDER messages numbered after them."""
        extra = self._order_rows(events)
        if extra is None:
            return rows, groups
        core, n_ins = self._core, len(self.symbols)
        extra["epoch"] = core.epoch
        extra["seq"] = np.arange(core.seq + 1, core.seq + 1 + len(extra))
        core.seq += len(extra)
        extra = extra[np.argsort(extra["instrument"], kind="stable")]      # grouped by topic
        start = len(rows)
        groups = list(groups)
        for n in np.unique(extra["instrument"]).tolist():
            key = int(FeedType.ORDER) * n_ins + n
            mine = np.flatnonzero(extra["instrument"] == n)
            extra["instrument_seq"][mine] = np.arange(core.topic_seq[key] + 1, core.topic_seq[key] + 1 + len(mine))
            core.topic_seq[key] += len(mine)
            groups.append((key, start + int(mine[0]), start + int(mine[-1]) + 1))
        return np.concatenate([rows, extra]), groups

    def _order_rows(self, events: np.ndarray) -> np.ndarray | None:
        """The ORDER messages of a batch, in event order (unnumbered), or None."""
        mode = (events["kind"] == EventKind.INSTRUMENT_PARAMETER) & (events["reason"] == InstrumentParameter.SELECT_DEPTH)
        if not self._selecting and not mode.any():
            return None
        entering = set(events["instrument"][mode & (events["value"] > 0)].tolist())
        mine = events[mode | np.isin(events["instrument"], list(self._selecting | entering))]
        out: list[tuple] = []                     # (event, order id, side, price, qty left)
        for e in mine:
            kind, n = int(e["kind"]), int(e["instrument"])
            if kind == EventKind.INSTRUMENT_PARAMETER and int(e["reason"]) == InstrumentParameter.SELECT_DEPTH:
                if int(e["value"]) and n not in self._selecting:
                    self._selecting.add(n)        # the whole book as it is now; later changes follow
                    view = self.engine.queue(n, 2**31 - 1)
                    out += [(e, oid, side, price, qty) for side, orders in ((Side.BUY, view.bids), (Side.SELL, view.asks))
                            for oid, price, qty in orders]
                elif not int(e["value"]):
                    self._selecting.discard(n)
            elif n not in self._selecting:
                continue
            elif kind == EventKind.TRADE and int(e["trade_type"]) == TradeType.CONTINUOUS:
                # a take's taker never rests (it is the aggressor); an uncrossing's both sides did
                take = int(e["command"]) == CommandType.TAKE_FIXED
                if not take or int(e["side"]) == Side.SELL:
                    out.append((e, int(e["buy_order_id"]), Side.BUY, 0, int(e["buy_leaves"])))
                if not take or int(e["side"]) == Side.BUY:
                    out.append((e, int(e["sell_order_id"]), Side.SELL, 0, int(e["sell_leaves"])))
            elif int(e["order_type"]) == OrderType.LIMIT and (
                    kind in (EventKind.CANCELLED, EventKind.REDUCED, EventKind.REPLACED)
                    or (kind == EventKind.ACCEPTED and int(e["tif"]) in (TimeInForce.GTC, TimeInForce.DAY))):
                out.append((e, int(e["order_id"]), int(e["side"]), int(e["price"]), int(e["leaves"])))
        if not out:
            return None
        rows = np.zeros(len(out), FEED_DTYPE)
        rows["msg_type"] = FeedType.ORDER
        for row, (e, oid, side, price, qty) in zip(rows, out):
            row["ts"], row["engine_seq"], row["instrument"] = e["ts"], e["seq"], e["instrument"]
            row["trade_id"], row["side"], row["price"], row["qty"] = oid, side, price, qty
        return rows

    @property
    def topics(self) -> list:
        """Topic name of each topic key (``msg_type * instruments + instrument``)."""
        return self._topics

    def load(self) -> None:
        """Start from the engine's current state (a daemon restarting from its snapshot and
        journal publishes from there, in a new epoch)."""
        core = self._core
        self._selecting = {n for n, ins in enumerate(self.engine.instruments) if ins.select_depth}
        for n, ins in enumerate(self.engine.instruments):
            view = self.engine.book(n, 1)
            core.bbo[n] = (*(view.bids[0][:2] if view.bids else (0, 0)), *(view.asks[0][:2] if view.asks else (0, 0)))
            core.status[n] = int(ins.status)

    def snapshot(self, instruments=None) -> tuple[int, dict[bytes, int], np.ndarray]:
        """What a late subscriber needs: ``(seq, topic sequence numbers, rows)``.

        The rows are every published level (DEPTH) of the chosen instruments (all when
        None) and their latest BBO, STATUS, TRADE, AUCTION_RESULT and DAILY_STATS messages, and
        INDICATIVE while the instrument is in a call (a STATUS with the instrument's phase,
        sequence numbers 0, where none was published);
        ``seq`` is the feed sequence number they reflect: a subscriber applies only live
        messages above it.
        """
        n_ins = len(self.symbols)
        chosen = range(n_ins) if instruments is None else instruments
        rows = []
        for n in chosen:
            for view, book in ((self.engine.book(n, 2**31 - 1), TradeType.CONTINUOUS),
                               (self.engine.listings(n, 2**31 - 1), TradeType.FIXED)):
                for side, levels in ((1, view.bids), (2, view.asks)):
                    if levels:
                        depth = np.zeros(len(levels), FEED_DTYPE)
                        depth["msg_type"], depth["instrument"], depth["trade_type"], depth["side"] = (
                            FeedType.DEPTH, n, book, side)
                        depth["price"], depth["qty"], depth["count"] = np.array(levels, dtype=np.int64).T
                        rows.append(depth)
            keys = [int(t) * n_ins + n for t in FeedType if t != FeedType.DEPTH]
            if self._core.status[n] != InstrumentStatus.CALL:
                keys.remove(int(FeedType.INDICATIVE) * n_ins + n)   # a call's indicative ends with it
            if n in self._selecting:                                # taker-select: every resting order
                view = self.engine.queue(n, 2**31 - 1)
                for side, orders in ((Side.BUY, view.bids), (Side.SELL, view.asks)):
                    if orders:
                        o = np.zeros(len(orders), FEED_DTYPE)
                        o["msg_type"], o["instrument"], o["side"], o["epoch"] = FeedType.ORDER, n, side, self.epoch
                        o["trade_id"], o["price"], o["qty"] = np.array(orders, dtype=np.int64).T
                        rows.append(o)
            rows += [self._core.last[k:k + 1].copy() for k in keys if self._core.has_last[k]]
            if not self._core.has_last[int(FeedType.STATUS) * n_ins + n]:
                # no phase change published yet: the phase it has, so every subscriber knows it
                status = np.zeros(1, FEED_DTYPE)
                status["msg_type"], status["instrument"] = FeedType.STATUS, n
                status["status"], status["block_window"] = self._core.status[n], self._core.block_window[n]
                status["cause"] = self._core.cause[n]
                status["epoch"] = self.epoch
                rows.append(status)
        counts = self._core.topic_seq
        seqs = {self._topics[int(t) * n_ins + n]: int(counts[int(t) * n_ins + n]) for n in chosen for t in FeedType}
        seqs = dict(sorted(seqs.items()))
        return self.seq, seqs, np.concatenate(rows) if rows else np.zeros(0, FEED_DTYPE)
