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
  batch per instrument, as depth is.

Sequence numbers: ``seq`` runs over the whole feed; ``instrument_seq`` runs per topic, that
is per instrument within a channel, so a subscriber to some topics only can still see a
gap in each of them. Both start at 1 and have no gaps. Within a batch, messages take their
feed numbers in engine event order, the BBO messages last (by instrument); frames come in
topic order (channel, then instrument index).

The per-batch work runs in C (``feeds._encode``): one pass over the events, a hash of the
levels changed, a counting sort by topic.
"""
from __future__ import annotations

import numpy as np

from matching import InstrumentStatus, TradeType

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
        rows, groups = self._core.encode(events, self.engine)
        topics = self._topics
        return [(topics[k], rows[a:b]) for k, a, b in groups]

    def encode_grouped(self, events: np.ndarray) -> tuple[np.ndarray, list[tuple[int, int, int]]]:
        """The same batch as one array grouped by topic, and ``(topic key, start, end)`` per
        frame (:attr:`topics` names the keys): what the publisher sends without slicing.

        The array is a buffer reused by the next call: send or copy it before then."""
        return self._core.encode(events, self.engine, True)

    @property
    def topics(self) -> list:
        """Topic name of each topic key (``msg_type * instruments + instrument``)."""
        return self._topics

    def load(self) -> None:
        """Start from the engine's current state (a daemon restarting from its snapshot and
        journal publishes from there, in a new epoch)."""
        core = self._core
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
            rows += [self._core.last[k:k + 1].copy() for k in keys if self._core.has_last[k]]
            if not self._core.has_last[int(FeedType.STATUS) * n_ins + n]:
                # no phase change published yet: the phase it has, so every subscriber knows it
                status = np.zeros(1, FEED_DTYPE)
                status["msg_type"], status["instrument"] = FeedType.STATUS, n
                status["status"], status["block_window"] = self._core.status[n], self._core.block_window[n]
                status["epoch"] = self.epoch
                rows.append(status)
        counts = self._core.topic_seq
        seqs = {self._topics[int(t) * n_ins + n]: int(counts[int(t) * n_ins + n]) for n in chosen for t in FeedType}
        seqs = dict(sorted(seqs.items()))
        return self.seq, seqs, np.concatenate(rows) if rows else np.zeros(0, FEED_DTYPE)
