"""``FeedClient``: subscribe, catch up from a snapshot, detect gaps and resynchronise.

>>> # client = FeedClient(pub_endpoint, snapshot_endpoint, ["SCEA2026", "CQEA2026"]); client.start()
>>> # while True: for message in client.poll(100): ...   # client.books[0].view() is the live book
"""
from __future__ import annotations

import json
from collections.abc import Callable

import numpy as np
import zmq

from .book import LocalBook
from .messages import FEED_DTYPE, FeedType
from .service import ERROR, HEARTBEAT, SNAPSHOT

__all__ = ["FeedClient", "FeedError"]


class FeedError(RuntimeError):
    """The feed refused a request or did not answer in time."""


class FeedClient:
    """A subscriber's view of the market: books, trades, statuses and statistics.

    Parameters
    ----------
    pub_endpoint, snapshot_endpoint : str
        The daemon's PUB and snapshot ROUTER endpoints.
    symbols : sequence of str
        Instrument symbols by engine index (as in the market configuration).
    topics : sequence of bytes
        Subscription prefixes (``b""``: everything; ``b"D."``: all depth; ...).
    on_message : callable, optional
        Called with each live message (a ``FEED_DTYPE`` row) after it is applied.
    """

    def __init__(self, pub_endpoint: str, snapshot_endpoint: str, symbols, topics=(b"",),
                 on_message: Callable | None = None, ctx: zmq.Context | None = None,
                 timeout_ms: int = 2000, rcvhwm: int = 100_000) -> None:
        self.symbols = list(symbols)
        self.ctx = ctx or zmq.Context.instance()
        self.timeout_ms = timeout_ms
        self.on_message = on_message
        self.sub = self.ctx.socket(zmq.SUB)
        self.sub.setsockopt(zmq.RCVHWM, rcvhwm)
        self.sub.setsockopt(zmq.LINGER, 0)
        self.topics = tuple(topics)
        for t in (*self.topics, HEARTBEAT):
            self.sub.setsockopt(zmq.SUBSCRIBE, t)
        self.sub.connect(pub_endpoint)
        self.req = self.ctx.socket(zmq.DEALER)
        self.req.setsockopt(zmq.LINGER, 0)
        self.req.connect(snapshot_endpoint)
        self.books = [LocalBook() for _ in self.symbols]
        self.trades: list = []
        self.latest: dict[tuple[int, int], np.ndarray] = {}
        self.epoch = None
        self.seq = 0
        self.topic_seq: dict[bytes, int] = {}
        self.resyncs = 0

    def close(self) -> None:
        self.sub.close(0)
        self.req.close(0)

    # ---------------------------------------------------------------- catching up
    def start(self) -> None:
        """Take a snapshot, then follow the live feed from where it left off."""
        self.resync()

    def resync(self) -> None:
        """Replace local state with a fresh snapshot; keep live messages that came meanwhile."""
        self.req.send_multipart([SNAPSHOT, b""])
        buffered = []
        poller = zmq.Poller()
        poller.register(self.req, zmq.POLLIN)
        poller.register(self.sub, zmq.POLLIN)
        while True:
            events = dict(poller.poll(self.timeout_ms))
            if not events:
                raise FeedError("the snapshot service did not answer")
            if self.sub in events:
                buffered += self._drain()
            if self.req in events:
                reply = self.req.recv_multipart()
                break
        if reply[0] == ERROR or len(reply) != 3:
            raise FeedError(reply[-1].decode(errors="replace"))
        header = json.loads(reply[1])
        self._load(header, np.frombuffer(reply[2], dtype=FEED_DTYPE))
        self.resyncs += 1
        self._apply_live(buffered)

    def _load(self, header: dict, rows: np.ndarray) -> None:
        for book in self.books:
            book.clear()
        self.latest.clear()
        self.epoch = header["epoch"]
        self.seq = header["seq"]
        self.topic_seq = {name.encode(): n for name, n in header["topics"].items()}
        for row in rows:
            if row["msg_type"] == FeedType.DEPTH:
                self.books[int(row["instrument"])].apply_level(int(row["trade_type"]), int(row["side"]),
                                                               int(row["price"]), int(row["qty"]), int(row["count"]))
            else:
                self.latest[(int(row["msg_type"]), int(row["instrument"]))] = row

    # ------------------------------------------------------------------ live
    def _drain(self) -> list:
        frames = []
        while self.sub.poll(0):
            name, payload = self.sub.recv_multipart()
            if name == HEARTBEAT:
                frames.append((name, json.loads(payload)))
            else:
                frames.append((name, np.frombuffer(payload, dtype=FEED_DTYPE)))
        return frames

    def _behind(self, beat: dict) -> bool:
        """Whether a heartbeat shows a subscribed topic past what we applied."""
        if beat["epoch"] != self.epoch:
            return beat["epoch"] > self.epoch
        return any(n > self.topic_seq.get(name.encode(), 0) for name, n in beat["topics"].items()
                   if any(name.encode().startswith(t) for t in self.topics))

    def poll(self, timeout_ms: int = 0) -> list:
        """Apply what arrived (waiting up to ``timeout_ms`` for the first frame); return the
        messages applied. A gap in any topic's sequence triggers a resynchronisation."""
        if not self.sub.poll(timeout_ms):
            return []
        return self._apply_live(self._drain())

    def _apply_live(self, frames: list) -> list:
        """Check each frame against its topic's sequence, then apply in feed order."""
        accepted = []
        for name, rows in frames:
            if name == HEARTBEAT:
                if self._behind(rows):
                    self.resync()                                              # lost the tail
                    return []
                continue
            if int(rows["epoch"][0]) != self.epoch:
                if int(rows["epoch"][0]) < self.epoch:
                    continue                                                   # from before a restart
                self.resync()                                                  # the publisher restarted
                return []
            rows = rows[rows["seq"] > self.seq] if self.seq else rows        # already in the snapshot
            expected = self.topic_seq.get(name, 0) + 1
            rows = rows[rows["instrument_seq"] >= expected]                   # already seen
            if not len(rows):
                continue
            if int(rows["instrument_seq"][0]) > expected:
                self.resync()                                                  # lost messages
                return []
            self.topic_seq[name] = int(rows["instrument_seq"][-1])
            accepted.append(rows)
        if not accepted:
            return []
        rows = np.concatenate(accepted)
        rows = rows[np.argsort(rows["seq"], kind="stable")]
        for row in rows:
            self._apply(row)
        return list(rows)

    def _apply(self, row) -> None:
        kind, n = int(row["msg_type"]), int(row["instrument"])
        if kind == FeedType.DEPTH:
            self.books[n].apply_level(int(row["trade_type"]), int(row["side"]), int(row["price"]),
                                      int(row["qty"]), int(row["count"]))
        else:
            self.latest[(kind, n)] = row
            if kind == FeedType.TRADE:
                self.trades.append(row)
        if self.on_message:
            self.on_message(row)

    def __iter__(self):
        """Live messages, one by one, as they are applied."""
        while True:
            yield from self.poll(self.timeout_ms)
