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
  the end-of-day statistics (one message per instrument, volume and amount by trade type).

Sequence numbers: ``seq`` runs over the whole feed; ``instrument_seq`` runs per topic, that
is per instrument within a channel, so a subscriber to some topics only can still see a
gap in each of them. Both start at 1 and have no gaps.
"""
from __future__ import annotations

import numpy as np

from matching import EVENT_DTYPE, EventKind, InstrumentStatus, TradeType

from .messages import FEED_DTYPE, FeedType, topic

__all__ = ["FeedEncoder"]


class FeedEncoder:
    """Numbers and frames the public messages of each engine batch.

    Parameters
    ----------
    symbols : sequence of str
        Instrument symbols by engine index.
    engine : Engine
        The engine whose batches it encodes: best bids and offers and snapshot depth are
        read from its books (a C call) rather than kept again here per message.
    """

    def __init__(self, symbols, engine, epoch: int = 0) -> None:
        self.symbols = list(symbols)
        self.engine = engine
        self.epoch = epoch
        self.seq = 0
        self.topic_seq: dict[bytes, int] = {}
        self.status = [int(InstrumentStatus.TRADING)] * len(self.symbols)
        self.block_window = [0] * len(self.symbols)
        self._bbo = [(0, 0, 0, 0)] * len(self.symbols)
        # the latest message of each kind per instrument, for snapshots
        self.last: dict[tuple[int, int], np.ndarray] = {}

    # ------------------------------------------------------------------ batches
    def encode(self, events: np.ndarray) -> list[tuple[bytes, np.ndarray]]:
        """The frames of one engine batch: ``(topic, FEED_DTYPE rows)``, in publishing order."""
        if events.dtype != EVENT_DTYPE:
            raise TypeError("events must be an EVENT_DTYPE array")
        parts = [self._trades(events), self._depth(events), self._statuses(events),
                 self._auctions(events), self._daily(events)]
        rows = np.concatenate([p for p in parts if len(p)] or [np.zeros(0, FEED_DTYPE)])
        rows = rows[np.argsort(rows["engine_seq"], kind="stable")]
        rows = np.concatenate([rows, self._bbos(rows)])
        return self._frames(rows)

    def _frames(self, rows: np.ndarray) -> list[tuple[bytes, np.ndarray]]:
        n = len(rows)
        rows["epoch"] = self.epoch
        rows["seq"] = np.arange(self.seq + 1, self.seq + n + 1)
        self.seq += n
        # group by topic without a Python step per message: one key per (type, instrument)
        key = rows["msg_type"].astype(np.int64) * len(self.symbols) + rows["instrument"]
        order = np.argsort(key, kind="stable")
        keys, starts = np.unique(key[order], return_index=True)
        bounds = [*starts.tolist(), n]
        out = []
        for k, start, end in zip(keys.tolist(), bounds[:-1], bounds[1:]):
            name = topic(k // len(self.symbols), self.symbols[k % len(self.symbols)])
            index = order[start:end]
            first = self.topic_seq.get(name, 0)
            frame = rows[index]
            frame["instrument_seq"] = np.arange(first + 1, first + len(index) + 1)
            self.topic_seq[name] = first + len(index)
            out.append((name, frame))
            if frame["msg_type"][0] != FeedType.DEPTH:
                self.last[(int(frame["msg_type"][0]), int(frame["instrument"][0]))] = frame[-1:].copy()
        return out

    def load(self) -> None:
        """Start from the engine's current state (a daemon restarting from its snapshot and
        journal publishes from there, in a new epoch)."""
        for n, ins in enumerate(self.engine.instruments):
            self._bbo[n] = self._engine_bbo(n)
            self.status[n] = int(ins.status)

    def snapshot(self, instruments=None) -> tuple[int, dict[bytes, int], np.ndarray]:
        """What a late subscriber needs: ``(seq, topic sequence numbers, rows)``.

        The rows are every published level (DEPTH) of the chosen instruments (all when
        None) and their latest BBO, STATUS, TRADE, AUCTION_RESULT and DAILY_STATS messages;
        ``seq`` is the feed sequence number they reflect: a subscriber applies only live
        messages above it.
        """
        chosen = range(len(self.symbols)) if instruments is None else instruments
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
            rows += [row for (kind, i), row in self.last.items() if i == n]
        names = {topic(t, self.symbols[n]) for n in chosen for t in FeedType}
        seqs = {name: self.topic_seq.get(name, 0) for name in sorted(names)}
        return self.seq, seqs, np.concatenate(rows) if rows else np.zeros(0, FEED_DTYPE)

    # ------------------------------------------------------------ by event kind
    @staticmethod
    def _rows(source: np.ndarray, msg_type: int) -> np.ndarray:
        rows = np.zeros(len(source), FEED_DTYPE)
        rows["msg_type"] = msg_type
        rows["engine_seq"] = source["seq"]
        rows["ts"] = source["ts"]
        rows["instrument"] = source["instrument"]
        return rows

    def _trades(self, events: np.ndarray) -> np.ndarray:
        trades = events[events["kind"] == EventKind.TRADE]
        rows = self._rows(trades, FeedType.TRADE)
        for name in ("price", "qty", "trade_id", "side", "trade_type"):
            rows[name] = trades[name]
        return rows

    def _depth(self, events: np.ndarray) -> np.ndarray:
        """Each changed level once, at its last change in the batch, with its final state."""
        depth = events[events["kind"] == EventKind.DEPTH]
        if not len(depth):
            return np.zeros(0, FEED_DTYPE)
        key = np.stack([depth["instrument"], depth["trade_type"], depth["side"], depth["price"]], axis=1)
        _, last_from_end = np.unique(key[::-1], axis=0, return_index=True)
        depth = depth[np.sort(len(depth) - 1 - last_from_end)]
        rows = self._rows(depth, FeedType.DEPTH)
        for name in ("price", "qty", "count", "side", "trade_type"):
            rows[name] = depth[name]
        return rows

    def _bbos(self, rows: np.ndarray) -> np.ndarray:
        """A BBO message for each instrument whose continuous best bid or offer moved."""
        changed = np.unique(rows["instrument"][(rows["msg_type"] == FeedType.DEPTH)
                                               & (rows["trade_type"] == TradeType.CONTINUOUS)])
        out = []
        for instrument in changed.tolist():
            bbo = self._engine_bbo(instrument)
            if bbo != self._bbo[instrument]:
                self._bbo[instrument] = bbo
                row = np.zeros(1, FEED_DTYPE)
                row["msg_type"] = FeedType.BBO
                row["instrument"] = instrument
                row["ts"] = rows["ts"].max()
                row["bid_price"], row["bid_qty"], row["ask_price"], row["ask_qty"] = bbo
                out.append(row)
        return np.concatenate(out) if out else np.zeros(0, FEED_DTYPE)

    def _engine_bbo(self, n: int) -> tuple[int, int, int, int]:
        view = self.engine.book(n, 1)
        bid = view.bids[0][:2] if view.bids else (0, 0)
        ask = view.asks[0][:2] if view.asks else (0, 0)
        return (*bid, *ask)

    def _statuses(self, events: np.ndarray) -> np.ndarray:
        changes = events[(events["kind"] == EventKind.INSTRUMENT_STATUS) | (events["kind"] == EventKind.BLOCK_WINDOW)]
        rows = self._rows(changes, FeedType.STATUS)
        for i, ev in enumerate(changes):
            n = int(ev["instrument"])
            if ev["kind"] == EventKind.INSTRUMENT_STATUS:
                self.status[n] = int(ev["value"])
            else:
                self.block_window[n] = int(ev["value"])
            rows["status"][i], rows["block_window"][i] = self.status[n], self.block_window[n]
        return rows

    def _auctions(self, events: np.ndarray) -> np.ndarray:
        results = events[events["kind"] == EventKind.AUCTION_RESULT]
        rows = self._rows(results, FeedType.AUCTION_RESULT)
        rows["price"], rows["qty"], rows["count"] = results["price"], results["qty"], results["count"]
        rows["previous"], rows["status"], rows["trade_id"] = results["value"], results["reason"], results["order_id"]
        return rows

    def _daily(self, events: np.ndarray) -> np.ndarray:
        """DAILY_STATS with the DAILY_VOLUME events that follow it, as one message."""
        stats = events[events["kind"] == EventKind.DAILY_STATS]
        rows = self._rows(stats, FeedType.DAILY_STATS)
        for name in ("price", "open", "high", "low", "qty"):
            rows[name] = stats[name]
        rows["previous"] = stats["value"]
        volumes = events[events["kind"] == EventKind.DAILY_VOLUME]
        for i, ev in enumerate(stats):
            mine = volumes[(volumes["instrument"] == ev["instrument"]) & (volumes["seq"] > ev["seq"])
                           & (volumes["seq"] <= ev["seq"] + len(TradeType))]
            for v in mine:
                rows["volume"][i, int(v["trade_type"]) - 1] = v["qty"]
                rows["amount"][i, int(v["trade_type"]) - 1] = v["value"]
        return rows
