"""``FeedClient``: subscribe, catch up from a snapshot, detect gaps and resynchronise;
``AsyncFeedClient``: the same for asyncio applications.

>>> # client = FeedClient(pub_endpoint, snapshot_endpoint); client.start()
>>> # while True: for message in client.poll(100): ...   # client.books[0].view() is the live book
>>> # async: client = AsyncFeedClient(pub_endpoint, snapshot_endpoint); await client.start()
>>> #        async for message in client: ...

High availability: given every node's feed and snapshot endpoints (two lists, paired by
index), a client follows the primary's pair; when that feed goes silent (no heartbeat for
:attr:`_FeedState.SILENCE_S`) or a snapshot request stays unanswered, it moves to the next
pair and resynchronises there from a snapshot, under that node's own epoch.
"""
from __future__ import annotations

import bisect
import json
import math
import struct
import time
from collections.abc import Callable

import numpy as np
import zmq

from matching import Side, TradeType
from matching.dtypes import take_rows
from zmqio.failover import Rotation, as_list

from ._encode import apply_depth
from .book import LocalBook
from .messages import CHANNEL, FEED_DTYPE, FeedType, topic
from .service import BUSY, ERROR, HEARTBEAT, SNAPSHOT

__all__ = ["FeedClient", "AsyncFeedClient", "FeedError"]

# A frame's first message's epoch, seq and instrument_seq, and a message's instrument_seq: read
# from the frame's bytes, so that a frame in sequence costs no array of its own.
_HEAD = struct.Struct("<qqq")
_TOPIC_SEQ = struct.Struct("<q")
_TOPIC_SEQ_AT = FEED_DTYPE.fields["instrument_seq"][1]
assert FEED_DTYPE.fields["epoch"][1] == 0 and FEED_DTYPE.fields["seq"][1] == 8 and _TOPIC_SEQ_AT == 16


class FeedError(RuntimeError):
    """The feed refused a request or did not answer in time."""


class _FeedState:
    """What a subscriber knows, the rules to update it, and the node it follows; the waiting
    on its sockets is the subclasses'."""

    BACKOFF_S = (0.02, 0.05, 0.1, 0.2, 0.5)   # waits before retrying a busy answer (then 0.5 s each)
    CATCH_UP_MS = 5            # a subscriber behind reads on while frames follow within this
    # Three heartbeats missed (the publisher sends two a second; PROTOCOL.md section 11), as
    # the daemon's own rule for sessions: with other nodes to go to, the node is taken for gone.
    SILENCE_S = 1.5

    def __init__(self, pub_endpoint, snapshot_endpoint, symbols, topics, on_message, timeout_ms: int,
                 max_trades: int | None = None) -> None:
        if max_trades is not None and max_trades < 1:
            raise ValueError(f"max_trades must be at least 1, not {max_trades}")
        self.max_trades = max_trades
        self.pub_endpoints = as_list(pub_endpoint, "pub_endpoint")
        self.snapshot_endpoints = as_list(snapshot_endpoint, "snapshot_endpoint")
        if len(self.pub_endpoints) != len(self.snapshot_endpoints):
            raise ValueError(f"{len(self.pub_endpoints)} feed endpoints but {len(self.snapshot_endpoints)} "
                             "snapshot endpoints: one of each per node")
        self.node = 0                    # the index of the pair followed
        self.sub = self.req = None
        self.follow = None if symbols is None else list(dict.fromkeys(symbols))   # None: every instrument
        if self.follow is not None and tuple(topics) == (b"",):
            topics = tuple(topic(kind, symbol) for symbol in self.follow for kind in CHANNEL)
        self._followed = None            # the followed instruments' engine indices, from the snapshot
        self.symbols: list[str] = []     # the feed's instruments by engine index, from the snapshot
        self.topics = tuple(topics)
        self.on_message = on_message
        self.timeout_ms = timeout_ms
        self.books = [LocalBook() for _ in self.symbols]
        self._levels = self._level_dicts()
        self.trades: list = []       # in feed order
        self._trade_seqs: list[tuple[int, int]] = []     # (generation, seq) of each of trades
        self.latest: dict[tuple[int, int], np.ndarray] = {}
        # taker-select instruments' resting orders: instrument -> {order id: [side, price, qty]}
        self.orders: dict[int, dict[int, list]] = {}
        self.epoch = None
        self.seq = 0
        self.topic_seq: dict[bytes, int] = {}
        self.resyncs = 0
        self.heartbeats = 0          # heartbeats seen: one proves the subscription live
        self.rcvhwm = 0
        self.rcvbuf = 0
        self._generation = 0         # snapshots loaded: orders the trades across restarts and nodes
        self._heard = time.monotonic()
        self._stale = False          # moved to another node and not yet resynchronised there

    @property
    def pub_endpoint(self) -> str:
        """The PUB endpoint followed now."""
        return self.pub_endpoints[self.node]

    @property
    def snapshot_endpoint(self) -> str:
        """The snapshot endpoint of the node followed now."""
        return self.snapshot_endpoints[self.node]

    def _connect(self, node: int) -> None:
        """Follow ``node``'s pair on two new sockets; the old ones go with all they queued, so
        nothing of the node left behind mixes with the new one's numbering."""
        if self.sub is not None:
            self.sub.close(0)
            self.req.close(0)
        self.node = node
        self.sub = self.ctx.socket(zmq.SUB)
        self.sub.setsockopt(zmq.RCVHWM, self.rcvhwm)
        if self.rcvbuf:
            self.sub.setsockopt(zmq.RCVBUF, self.rcvbuf)
        self.sub.setsockopt(zmq.LINGER, 0)
        for t in (*self.topics, HEARTBEAT):
            self.sub.setsockopt(zmq.SUBSCRIBE, t)
        self.sub.connect(self.pub_endpoint)
        # what :meth:`_read_ready` reads with: the SUB socket itself, or a blocking view of an
        # asyncio one (reading without a future a frame)
        self._reader = self.sub if type(self.sub) is zmq.Socket else zmq.Socket.shadow(self.sub.underlying)
        self.req = self.ctx.socket(zmq.DEALER)
        self.req.setsockopt(zmq.LINGER, 0)
        self.req.connect(self.snapshot_endpoint)

    def _turns(self) -> Rotation:
        """The nodes a snapshot request tries, from the one followed now, within ``timeout_ms``."""
        return Rotation(range(len(self.pub_endpoints)), self.node, self.timeout_ms)

    def _unanswered(self) -> FeedError:
        if len(self.snapshot_endpoints) == 1:
            return FeedError("the snapshot service did not answer")
        return FeedError(f"no snapshot service answered within {self.timeout_ms} ms "
                         f"({', '.join(self.snapshot_endpoints)})")

    def _silent(self) -> bool:
        """Whether the node followed seems gone and there is another to go to."""
        return len(self.pub_endpoints) > 1 and time.monotonic() - self._heard > self.SILENCE_S

    @staticmethod
    def _decode(name: bytes, payload: bytes):
        """``(name, heartbeat dict)`` or ``(name, the frame's bytes: whole FEED_DTYPE messages)``."""
        if name == HEARTBEAT:
            return name, json.loads(payload)
        if len(payload) % FEED_DTYPE.itemsize:
            raise FeedError(f"a {name!r} frame of {len(payload)} bytes is not whole messages")
        return name, payload

    def _read_ready(self, frames: list) -> None:
        """Append every frame the SUB socket holds now, decoded, to ``frames``: one wait for
        many frames, as a subscriber to a busy feed needs (a wait costs more than a frame)."""
        recv, decode = self._reader.recv_multipart, self._decode
        try:
            while True:
                frames.append(decode(*recv(zmq.NOBLOCK)))
        except zmq.Again:
            pass

    def _wait_for_more(self, read: int, until: float | None) -> int:
        """How long (ms) a drain that has read ``read`` frames waits for another before it ends.

        The SUB socket's queue holds ``rcvhwm`` frames, and libzmq's I/O thread hands it the
        next ones (from its own buffers and the kernel's) only once one is read: after a full
        queue, an empty one means "not handed over yet", not "nothing more". Draining only
        what is there at once, a subscriber that fell behind would take one queueful per poll
        (one frame with ``rcvhwm=1``) and stay behind, the gap and the heartbeat that would
        show it queued after its stale frames. So a drain that read a full queue reads on
        while frames follow within :attr:`CATCH_UP_MS`, until ``until`` (monotonic seconds)."""
        if until is None or not 0 < self.rcvhwm <= read:
            return 0
        return max(0, min(self.CATCH_UP_MS, int((until - time.monotonic()) * 1000)))

    def _retry_after(self, reply: list, tries: int, deadline: float) -> float | None:
        """When to ask again after ``reply`` (monotonic seconds), or None: not a busy answer.

        The service answers busy when it could not serve the request in time (see
        :mod:`feeds.snapshot_server`); past ``deadline`` that is a :class:`FeedError`."""
        if len(reply) != 2 or reply[0] != ERROR or reply[1] != BUSY:
            return None
        at = time.monotonic() + self.BACKOFF_S[min(tries, len(self.BACKOFF_S) - 1)]
        if at > deadline:
            raise FeedError(f"the snapshot service stayed busy for {self.timeout_ms} ms")
        return at

    def _install(self, reply: list) -> None:
        """Replace local state with a snapshot reply."""
        if reply[0] == ERROR or len(reply) != 3:
            raise FeedError(reply[-1].decode(errors="replace"))
        header = json.loads(reply[1])
        rows = np.frombuffer(reply[2], dtype=FEED_DTYPE)
        symbols = header.get("symbols")
        if symbols is not None and symbols != self.symbols:
            if symbols[:len(self.symbols)] != self.symbols:      # instruments keep their places
                raise FeedError(f"the feed's instruments {symbols} no longer begin with {self.symbols}")
            missing = [s for s in self.follow or () if s not in symbols]
            if missing:
                raise FeedError(f"the feed lists no {', '.join(missing)} (it has {', '.join(symbols)})")
            self.symbols = list(symbols)
            self.books += [LocalBook() for _ in range(len(self.symbols) - len(self.books))]
            self._levels = self._level_dicts()
            if self.follow is not None:
                self._followed = np.array([symbols.index(s) for s in self.follow], dtype=np.int32)
        rows = self._only_followed(rows)
        for book in self.books:
            book.clear()
        self.latest.clear()
        self.orders.clear()
        self._generation += 1            # what follows a snapshot comes after every trade before it
        self._heard = time.monotonic()
        self._stale = False
        self.epoch = header["epoch"]
        self.seq = header["seq"]
        self.topic_seq = {name.encode(): n for name, n in header["topics"].items()}
        self._apply_rows(take_rows(rows, rows["msg_type"] != FeedType.TRADE))   # the last trade: latest, not a new trade
        for row in take_rows(rows, rows["msg_type"] == FeedType.TRADE):
            self.latest[(int(row["msg_type"]), int(row["instrument"]))] = row
        self.resyncs += 1

    def _behind(self, beat: dict) -> bool:
        """Whether a heartbeat shows a subscribed topic past what we applied."""
        if beat["epoch"] != self.epoch:
            return beat["epoch"] > self.epoch
        return any(n > self.topic_seq.get(name.encode(), 0) for name, n in beat["topics"].items()
                   if any(name.encode().startswith(t) for t in self.topics))

    def _accept(self, frames: list):
        """Check each frame against its topic's sequence: ``(rows to apply in feed order, or
        None; whether to resynchronise)``. On a gap nothing of ``frames`` is kept.

        A frame that follows on from its topic's last message (the usual case) is taken
        whole from its bytes; only a frame that overlaps what the snapshot or an earlier
        frame held becomes an array to cut."""
        accepted = []
        topic_seq, size = self.topic_seq, FEED_DTYPE.itemsize
        for name, payload in frames:
            if name == HEARTBEAT:
                self.heartbeats += 1
                if self._behind(payload):
                    return None, True                                          # lost the tail
                continue
            if not payload:
                continue
            epoch, seq, first = _HEAD.unpack_from(payload)
            if epoch != self.epoch:
                if epoch < self.epoch:
                    continue                                                   # from before a restart
                return None, True                                              # the publisher restarted
            expected = topic_seq.get(name, 0) + 1
            if first == expected and seq > self.seq:
                topic_seq[name] = _TOPIC_SEQ.unpack_from(payload, len(payload) - size + _TOPIC_SEQ_AT)[0]
                accepted.append(payload)
                continue
            rows = np.frombuffer(payload, dtype=FEED_DTYPE)
            rows = take_rows(rows, (rows["seq"] > self.seq) & (rows["instrument_seq"] >= expected))  # not seen yet
            if not len(rows):
                continue
            if int(rows["instrument_seq"][0]) > expected:
                return None, True                                              # lost messages
            topic_seq[name] = int(rows["instrument_seq"][-1])
            accepted.append(rows.tobytes())
        if not accepted:
            return None, False
        rows = np.frombuffer(b"".join(accepted), dtype=FEED_DTYPE)
        return take_rows(rows, np.argsort(rows["seq"], kind="stable")), False

    def _only_followed(self, rows: np.ndarray) -> np.ndarray:
        """The rows of the followed instruments (a snapshot holds them all)."""
        if self._followed is None or not len(rows):
            return rows
        return take_rows(rows, np.isin(rows["instrument"], self._followed))

    def _apply_accepted(self, rows):
        if rows is None:
            return []
        rows = self._only_followed(rows)
        if self.on_message is not None:
            for row in rows:
                self._apply(row)
        else:
            self._apply_rows(rows)
        return rows

    def _level_dicts(self) -> list:
        """Every book side's level dict, in the order :func:`feeds._encode.apply_depth` expects."""
        return [book.levels[(kind, side)] for book in self.books
                for kind in (TradeType.CONTINUOUS, TradeType.FIXED) for side in (Side.BUY, Side.SELL)]

    def _apply_rows(self, rows: np.ndarray) -> None:
        """:meth:`_apply` for a whole batch in feed order; the depth in one compiled pass."""
        rows = np.ascontiguousarray(rows)
        if apply_depth(rows, self._levels) == len(rows):
            return
        other = take_rows(rows, rows["msg_type"] != FeedType.DEPTH)
        kinds = other["msg_type"]
        orders = kinds == FeedType.ORDER
        if orders.any():
            for n, row in zip(other["instrument"][orders].tolist(), take_rows(other, orders)):
                self._apply_order(n, row)
            other = take_rows(other, ~orders)
            kinds = other["msg_type"]
        # ``latest`` keeps the last message of each type and instrument: only those are read
        keys = kinds.astype(np.int64) << 32 | other["instrument"].astype(np.int64)
        _, from_end = np.unique(keys[::-1], return_index=True)
        for i in (len(keys) - 1 - from_end).tolist():
            row = other[i]
            self.latest[(int(kinds[i]), int(row["instrument"]))] = row
        trades = np.flatnonzero(kinds == FeedType.TRADE)
        if self.max_trades is not None:          # those before the last max_trades would be cut anyway
            trades = trades[-self.max_trades:]
        trades = take_rows(other, trades)
        for row in trades:
            self._add_trade(row)

    def _apply_order(self, n: int, row) -> None:
        """A taker-select order's new state: quantity 0, gone; price 0, the price it had."""
        orders = self.orders.setdefault(n, {})
        oid, qty = int(row["trade_id"]), int(row["qty"])
        if not qty:
            orders.pop(oid, None)
        elif oid in orders:
            orders[oid][2] = qty
            orders[oid][1] = int(row["price"]) or orders[oid][1]
        else:
            orders[oid] = [int(row["side"]), int(row["price"]), qty]

    def _add_trade(self, row) -> None:
        """Keep the trades in feed order: one poll may bring a batch's frame for one topic and
        the next poll that batch's frame for another, whose trades came earlier. After a
        snapshot every trade comes after those before it, though a new epoch (a restart,
        another node) numbers from 1 again."""
        seq = (self._generation, int(row["seq"]))
        if not self._trade_seqs or seq > self._trade_seqs[-1]:
            self._trade_seqs.append(seq)
            self.trades.append(row)
        else:
            at = bisect.bisect_left(self._trade_seqs, seq)
            self._trade_seqs.insert(at, seq)
            self.trades.insert(at, row)
        if self.max_trades is not None and len(self.trades) >= 2 * self.max_trades:   # cut in halves: O(1) a trade
            del self.trades[:-self.max_trades], self._trade_seqs[:-self.max_trades]

    def _apply(self, row) -> None:
        kind, n = int(row["msg_type"]), int(row["instrument"])
        if kind == FeedType.DEPTH:
            self.books[n].apply_level(int(row["trade_type"]), int(row["side"]), int(row["price"]),
                                      int(row["qty"]), int(row["count"]))
        elif kind == FeedType.ORDER:
            self._apply_order(n, row)
        else:
            self.latest[(kind, n)] = row
            if kind == FeedType.TRADE:
                self._add_trade(row)
        if self.on_message:
            self.on_message(row)


class FeedClient(_FeedState):
    """A subscriber's view of the market: books, trades, statuses and statistics.

    Parameters
    ----------
    pub_endpoint, snapshot_endpoint : str or list of str
        The daemon's PUB and snapshot ROUTER endpoints; with high availability, two lists of
        the same length, node ``i``'s feed and snapshot endpoints at index ``i``. The client
        follows the node that answers its snapshot request, and moves to the next when that
        one's feed goes silent (:attr:`SILENCE_S`).
    symbols : sequence of str, optional
        The instruments to follow (default: every one the feed lists). Only their topics are
        subscribed (unless ``topics`` names others) and only their books, trades and latest
        messages are kept; :attr:`symbols` is the feed's whole list by engine index, learnt
        from the snapshot, so ``books[n]`` stays the book of instrument ``n``. A symbol the
        feed does not list makes :meth:`start` raise :class:`FeedError`.
    topics : sequence of bytes
        Subscription prefixes (``b""``: everything, or the followed instruments' topics;
        ``b"D."``: all depth; ...).
    on_message : callable, optional
        Called with each live message (a ``FEED_DTYPE`` row) after it is applied.
    rcvhwm, rcvbuf : int
        The SUB socket's high-water mark (frames) and kernel receive buffer (bytes, 0: the
        system's); messages beyond what they hold are lost and the client resynchronises.
    max_trades : int, optional
        Keep at least this many of the latest trades in :attr:`trades`, and at most twice as
        many (default: every trade, for as long as the client lives).
    """

    def __init__(self, pub_endpoint: str | list[str], snapshot_endpoint: str | list[str], symbols=None,
                 topics=(b"",), on_message: Callable | None = None, ctx: zmq.Context | None = None,
                 timeout_ms: int = 2000, rcvhwm: int = 100_000, rcvbuf: int = 0,
                 max_trades: int | None = None) -> None:
        super().__init__(pub_endpoint, snapshot_endpoint, symbols, topics, on_message, timeout_ms, max_trades)
        self.ctx = ctx or zmq.Context.instance()
        self.rcvhwm, self.rcvbuf = rcvhwm, rcvbuf
        self._connect(0)

    def close(self) -> None:
        self.sub.close(0)
        self.req.close(0)

    # ---------------------------------------------------------------- catching up
    def start(self) -> None:
        """Take a snapshot, then follow the live feed from where it left off."""
        self.resync()

    def resync(self) -> None:
        """Replace local state with a fresh snapshot; keep live messages that came meanwhile.

        A busy answer is asked again after a short backoff, within ``timeout_ms`` in all;
        with several nodes, one that leaves the request unanswered for a second gives way to
        the next, round and round within that time."""
        while True:
            turns = self._turns()
            buffered = []
            tries = 0
            while True:
                reply = self._ask(buffered, turns.wait_ms())
                if reply is None:
                    if not turns.next():
                        raise self._unanswered()
                    self._connect(turns.current)
                    buffered, tries = [], 0
                    continue
                retry_at = self._retry_after(reply, tries, turns.deadline)
                if retry_at is None:
                    break
                tries += 1
                while (left := retry_at - time.monotonic()) > 0:      # keep the live messages meanwhile
                    if self.sub.poll(int(left * 1000) + 1):
                        buffered += self._drain()
            self._install(reply)
            rows, again = self._accept(buffered)
            if not again:
                self._apply_accepted(rows)
                return

    def _ask(self, buffered: list, wait_ms: int) -> list | None:
        """Request a snapshot and wait up to ``wait_ms`` for the answer (None: none came);
        live frames meanwhile go to ``buffered``."""
        self.req.send_multipart([SNAPSHOT, b""])
        poller = zmq.Poller()
        poller.register(self.req, zmq.POLLIN)
        poller.register(self.sub, zmq.POLLIN)
        until = time.monotonic() + wait_ms / 1000
        while (left := until - time.monotonic()) > 0:
            events = dict(poller.poll(math.ceil(left * 1000)))
            if self.sub in events:
                buffered += self._drain()
            if self.req in events:
                return self.req.recv_multipart()
        return None

    def _fail_over(self) -> None:
        """Follow the next node, from a snapshot of its own (its epoch and numbering)."""
        self._stale = True
        self._connect((self.node + 1) % len(self.pub_endpoints))
        self.resync()

    # ------------------------------------------------------------------ live
    def _drain(self, until: float | None = None) -> list:
        """The frames waiting; a subscriber behind reads on until ``until`` (see :meth:`_wait_for_more`)."""
        frames = []
        while self.sub.poll(self._wait_for_more(len(frames), until)):
            self._read_ready(frames)
        return frames

    def poll(self, timeout_ms: int = 0):
        """Apply what arrived (waiting up to ``timeout_ms`` for the first frame; a subscriber
        behind, whose receive queue was full, reads on for up to ``timeout_ms`` in all);
        return the messages applied, in feed order. A gap in any topic's sequence triggers a
        resynchronisation.

        With several nodes, a feed silent for :attr:`SILENCE_S` makes the client move to the
        next node and resynchronise there (:meth:`resync`, so it may raise
        :class:`FeedError` when no node answers within ``timeout_ms``; the next poll goes
        on trying)."""
        if self._stale:
            self.resync()
            return []
        until = time.monotonic() + timeout_ms / 1000
        if not self.sub.poll(timeout_ms):
            if self._silent():
                self._fail_over()
            return []
        rows, again = self._accept(self._drain(until))
        if again:
            self.resync()
            return []
        return self._apply_accepted(rows)

    def __iter__(self):
        """Live messages, one by one, as they are applied."""
        while True:
            yield from self.poll(self.timeout_ms)


class AsyncFeedClient(_FeedState):
    """:class:`FeedClient` for asyncio: ``await start()``, ``await poll()``, ``async for``.

    Parameters are those of :class:`FeedClient`; ``ctx`` is a ``zmq.asyncio.Context``.
    """

    def __init__(self, pub_endpoint: str | list[str], snapshot_endpoint: str | list[str], symbols=None,
                 topics=(b"",), on_message: Callable | None = None, ctx=None, timeout_ms: int = 2000,
                 rcvhwm: int = 100_000, rcvbuf: int = 0, max_trades: int | None = None) -> None:
        import zmq.asyncio
        super().__init__(pub_endpoint, snapshot_endpoint, symbols, topics, on_message, timeout_ms, max_trades)
        self.ctx = ctx or zmq.asyncio.Context.instance()
        self.rcvhwm, self.rcvbuf = rcvhwm, rcvbuf
        self._connect(0)

    def close(self) -> None:
        self.sub.close(0)
        self.req.close(0)

    async def start(self) -> None:
        """Take a snapshot, then follow the live feed from where it left off."""
        await self.resync()

    async def resync(self) -> None:
        """Replace local state with a fresh snapshot; keep live messages that came meanwhile.

        Busy answers and unanswered nodes as :meth:`FeedClient.resync`."""
        while True:
            turns = self._turns()
            buffered = []
            tries = 0
            while True:
                reply = await self._ask(buffered, turns.wait_ms())
                if reply is None:
                    if not turns.next():
                        raise self._unanswered()
                    self._connect(turns.current)
                    buffered, tries = [], 0
                    continue
                retry_at = self._retry_after(reply, tries, turns.deadline)
                if retry_at is None:
                    break
                tries += 1
                while (left := retry_at - time.monotonic()) > 0:
                    if await self.sub.poll(int(left * 1000) + 1):
                        buffered += await self._drain()
            self._install(reply)
            rows, again = self._accept(buffered)
            if not again:
                self._apply_accepted(rows)
                return

    async def _ask(self, buffered: list, wait_ms: int) -> list | None:
        import zmq.asyncio
        await self.req.send_multipart([SNAPSHOT, b""])
        poller = zmq.asyncio.Poller()
        poller.register(self.req, zmq.POLLIN)
        poller.register(self.sub, zmq.POLLIN)
        until = time.monotonic() + wait_ms / 1000
        while (left := until - time.monotonic()) > 0:
            events = dict(await poller.poll(math.ceil(left * 1000)))
            if self.sub in events:
                buffered += await self._drain()
            if self.req in events:
                return await self.req.recv_multipart()
        return None

    async def _fail_over(self) -> None:
        """As :meth:`FeedClient._fail_over`."""
        self._stale = True
        self._connect((self.node + 1) % len(self.pub_endpoints))
        await self.resync()

    async def _drain(self, until: float | None = None) -> list:
        frames = []
        while await self.sub.poll(self._wait_for_more(len(frames), until)):
            self._read_ready(frames)
        return frames

    async def poll(self, timeout_ms: int = 0):
        """Apply what arrived (waiting up to ``timeout_ms`` for the first frame; a subscriber
        behind reads on for up to ``timeout_ms`` in all, as :meth:`FeedClient.poll`); return
        the messages applied, in feed order; resynchronise on a gap, move on from a silent node."""
        if self._stale:
            await self.resync()
            return []
        until = time.monotonic() + timeout_ms / 1000
        if not await self.sub.poll(timeout_ms):
            if self._silent():
                await self._fail_over()
            return []
        rows, again = self._accept(await self._drain(until))
        if again:
            await self.resync()
            return []
        return self._apply_accepted(rows)

    def __aiter__(self):
        return self._messages()

    async def _messages(self):
        while True:
            for row in await self.poll(self.timeout_ms):
                yield row
