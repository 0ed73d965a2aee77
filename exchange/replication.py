"""Replication: the command log on a NATS JetStream stream, one leader lease, hot standbys.

With ``[replication] mode = "jetstream"`` every node of the market runs the same daemon
(``chuanyu engine --config market.toml --node NAME``) and follows one JetStream stream, the
market's sequenced command log. We write no consensus of our own: the stream is Raft-replicated
by JetStream, and the lease is a key in a JetStream key-value bucket whose entries expire.

The lease
    The key ``leader`` of the bucket ``<stream>_LEASE`` (history 1, max age = ``lease_ttl_ms``).
    A node takes it by creating the key (only possible while it is absent: expired or
    released) and holds it by updating it with the revision it last wrote, every quarter TTL.
    Each acquisition has a new revision: the node's *epoch*. A primary counts its lease as
    valid until 80% of the TTL after it *sent* its last successful renewal, so it stops
    acknowledging before the key can expire on the servers and another node take it.

The primary
    :class:`ReplicatedJournal` stands where the local journal stands in the sequencer: each
    batch is published as one journal record (:mod:`exchange.journal`'s bytes, CRC and all)
    with the header ``Nats-Expected-Last-Sequence`` (the stream position this node applied
    last: a deposed primary's publish is refused) and ``Nats-Msg-Id`` ``<node>.<epoch>.<first
    seq>`` (a retried publish is stored once). Only after the stream's acknowledgement (the
    record is on a majority of the replicas) is it written to the local journal and applied,
    and only then can a report of it leave. A refused publish, a lease lost or lapsed, raises
    :class:`StepDown`: the node acknowledges nothing more and the daemon restarts itself as a
    standby (:func:`exchange.process.serve`), its state rebuilt from its snapshots, its local
    journal and the stream, as after a crash.

A standby
    Receives every record from the stream (an ordered consumer), verifies it, appends it to
    its local journal and applies it through :func:`exchange.recovery.apply_batch`, the path
    of crash recovery: its engine and the daemon's tables (order routing, report numbering,
    gap-fill windows) equal the primary's at every sequence number. It keeps its own
    snapshots and binds only its admin port. When the lease is free it takes it, reads the
    stream to its end, and becomes primary: it binds its order and market-data ports.

Each node writes its position (``pos.<node>``: role, stream sequence, last command, last
snapshot) to the bucket every second; the primary's ``status`` reports every node's lag.

Retention
    Each node records its newest snapshot's place in the stream (``snap.<node>`` in the
    bucket ``<stream>_NODES``, which does not expire). With ``durability.prune_journal`` the
    primary purges the stream behind the oldest of them, every node's (each node listed in
    ``[[replication.nodes]]``, else each that ever recorded one): a node restarting from its
    newest snapshot, or from an older one and its local journal, finds the rest in the stream.
"""
from __future__ import annotations

import asyncio
import collections
import json
import logging
import os
import ssl
import struct
import threading
import time
from concurrent.futures import TimeoutError as FutureTimeout

import numpy as np

from gateway.errors import GatewayError

from ._sequence import journal_record
from .journal import HEADER, MAGIC, ROW, JournalError, JournalWriteError, decode_record

__all__ = ["StepDown", "NatsLink", "Replica", "ReplicatedJournal", "LEASE_KEY", "MSG_HEADER_BYTES"]

log = logging.getLogger("chuanyu.replication")

LEASE_KEY = "leader"
CONNECT_PATIENCE_S = 60.0              # a node waits this long for the cluster at start (elections take seconds)
INBOX_MAX = 256                        # records received and not yet applied, at most (then the consumer waits)
PRUNE_EVERY_S = 2.0                    # the primary looks at the nodes' snapshots this often
MSG_HEADER_BYTES = 512                 # room the NATS message's headers take beside the record
_WRONG_LAST_SEQUENCE = 10071           # JetStream's error code for a refused expected-last-sequence
_FIRST_COUNT = struct.Struct("<qI")    # a record header's first seq and count (bytes 12..24)


class StepDown(Exception):
    """This node may no longer acknowledge anything: it lost its lease, or the stream refused
    its publish because another primary wrote first."""


def _first_last(payload: bytes) -> tuple[int, int]:
    first, count = _FIRST_COUNT.unpack_from(payload, 12)
    return first, first + count - 1


class NatsLink:
    """nats-py on a thread of its own with its own event loop; blocking calls for the node's loop.

    Owns the connection, the stream and the lease bucket, the lease's renewal task and a
    standby's subscription (records land in :attr:`inbox`, and a byte on :attr:`wake_fd`
    wakes the node's poller).
    """

    def __init__(self, cfg, node: str) -> None:
        self.cfg = cfg
        self.node = node
        self.subject = f"{cfg.stream}.log"
        self.ttl = cfg.lease_ttl_ms / 1000
        self.timeout = cfg.publish_timeout_ms / 1000
        self.inbox: collections.deque = collections.deque()
        self.pending = 0                   # stream messages after the last one delivered
        self.wake_fd, self._wake_w = os.pipe()
        os.set_blocking(self.wake_fd, False)
        os.set_blocking(self._wake_w, False)
        self.nc = self.js = self.kv = self.nodes_kv = self._sub = self._lease_task = None
        # the lease, written by the event loop's thread, read by the node's
        self.revision = 0                  # our lease entry's revision; 0: not holding it
        self.epoch = 0                     # the revision we acquired it with
        self.valid_until = 0.0             # monotonic: acknowledging stops here unless renewed
        self.lost: str | None = None       # why we lost a lease we held
        self.holder: str | None = None     # the holder as last seen
        self.candidate = False             # a standby ready to take the lease
        self.position: dict = {}           # what we publish as pos.<node>
        self.nodes_seen: dict = {}         # the primary's last read of every node's position
        self.connected = False
        self._closed = False
        self._released = False             # the lease given up for good (shutdown, step-down)
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name="chuanyu-nats", daemon=True)
        self._thread.start()

    # ------------------------------------------------------------------ plumbing
    def call(self, coro, timeout: float):
        """Run ``coro`` on the link's loop and wait for it (``FutureTimeout`` after ``timeout``)."""
        fut = asyncio.run_coroutine_threadsafe(coro, self.loop)
        try:
            return fut.result(timeout)
        except FutureTimeout:
            fut.cancel()
            raise

    def _wake(self) -> None:
        try:
            os.write(self._wake_w, b"\0")
        except BlockingIOError:        # already woken and not yet read
            pass

    def drain_wake(self) -> None:
        try:
            while os.read(self.wake_fd, 4096):
                pass
        except BlockingIOError:
            pass

    # ------------------------------------------------------------------ connecting
    def connect(self, patience: float = CONNECT_PATIENCE_S) -> None:
        """Connect, and create the stream and the lease bucket if they do not exist; retried for
        ``patience`` seconds (a cluster electing a leader answers nothing for a few seconds)."""
        deadline = time.monotonic() + patience
        while True:
            try:
                self.call(self._connect(), 10)
                return
            except GatewayError:
                raise
            except Exception as exc:   # noqa: BLE001  (nats-py raises many kinds; each is a failed attempt)
                why = "no answer within 10 s" if isinstance(exc, FutureTimeout) else f"{type(exc).__name__}: {exc}"
            if time.monotonic() > deadline:
                raise GatewayError(f"replication: cannot reach the NATS cluster {list(self.cfg.servers)} "
                                   f"(stream {self.cfg.stream}) for {patience:.0f} s: {why}")
            log.warning("replication: NATS not ready (%s); trying again", why,
                        extra={"event": "nats_unavailable", "error": why})
            time.sleep(1.0)

    def _tls(self):
        cfg = self.cfg
        if not (cfg.tls_ca or cfg.tls_cert or any(s.startswith("tls://") for s in cfg.servers)):
            return None
        ctx = ssl.create_default_context(cafile=cfg.tls_ca or None)
        if cfg.tls_cert:
            ctx.load_cert_chain(cfg.tls_cert, cfg.tls_key)
        return ctx

    async def _connect(self) -> None:
        import nats                          # noqa: PLC0415  (the ha extra: only a replicated node needs it)
        if self.nc is None:
            await self._open(nats)
        await self._setup()

    async def _open(self, nats) -> None:
        async def quiet(exc):              # reconnects are logged by the callbacks below
            log.debug("nats: %s", exc)

        async def disconnected():
            self.connected = False
            if self._closed:
                return
            log.warning("replication: disconnected from NATS; reconnecting", extra={"event": "nats_disconnected"})

        async def reconnected():
            self.connected = True
            log.info("replication: reconnected to %s", self.nc.connected_url.netloc,
                     extra={"event": "nats_reconnected", "server": self.nc.connected_url.netloc})

        opts = dict(servers=list(self.cfg.servers), name=f"chuanyu-{self.node}", connect_timeout=2,
                    reconnect_time_wait=0.1, max_reconnect_attempts=-1, allow_reconnect=True,
                    ping_interval=1, max_outstanding_pings=2, error_cb=quiet,
                    disconnected_cb=disconnected, reconnected_cb=reconnected)
        if self.cfg.credentials:
            opts["user_credentials"] = self.cfg.credentials
        tls = self._tls()
        if tls is not None:
            opts["tls"] = tls
        self.nc = await nats.connect(**opts)
        self.connected = True
        self.js = self.nc.jetstream(timeout=self.timeout)

    async def _setup(self) -> None:
        from nats.js.api import KeyValueConfig, StorageType, StreamConfig   # noqa: PLC0415
        from nats.js.errors import BucketNotFoundError, NotFoundError       # noqa: PLC0415
        need = ROW * 2 + HEADER.size + MSG_HEADER_BYTES
        if self.nc.max_payload < need:
            raise GatewayError(f"replication: the NATS servers' max_payload ({self.nc.max_payload} bytes) "
                               f"cannot hold a record")
        try:
            await self.js.stream_info(self.cfg.stream)
        except NotFoundError:
            await self.js.add_stream(StreamConfig(name=self.cfg.stream, subjects=[self.subject],
                                                  num_replicas=self.cfg.replicas, storage=StorageType.FILE,
                                                  duplicate_window=120.0))
            log.info("replication: created stream %s (%d replicas)", self.cfg.stream, self.cfg.replicas,
                     extra={"event": "stream_created", "stream": self.cfg.stream, "replicas": self.cfg.replicas})
        bucket = f"{self.cfg.stream}_LEASE"
        try:
            self.kv = await self.js.key_value(bucket)
        except BucketNotFoundError:
            self.kv = await self.js.create_key_value(KeyValueConfig(bucket=bucket, history=1, ttl=self.ttl,
                                                                    replicas=self.cfg.replicas))
        config = (await self.js.stream_info(f"KV_{bucket}")).config
        if abs((config.max_age or 0) - self.ttl) > 1e-3:
            # the lease expires on the servers after the bucket's max age, whatever we renew at:
            # the configured TTL must be the bucket's (every node reads the same configuration)
            old = config.max_age
            config.max_age = self.ttl
            config.duplicate_window = min(config.duplicate_window or self.ttl, self.ttl)
            await self.js.update_stream(config)
            log.warning("replication: lease bucket %s had a TTL of %.3f s; now replication.lease_ttl_ms = %d",
                        bucket, old or 0, self.cfg.lease_ttl_ms,
                        extra={"event": "lease_ttl_changed", "was_s": old, "now_ms": self.cfg.lease_ttl_ms})
        try:
            self.nodes_kv = await self.js.key_value(f"{self.cfg.stream}_NODES")
        except BucketNotFoundError:
            self.nodes_kv = await self.js.create_key_value(KeyValueConfig(bucket=f"{self.cfg.stream}_NODES",
                                                                          history=1, replicas=self.cfg.replicas))
        if self._lease_task is None:
            self._lease_task = self.loop.create_task(self._lease_loop())

    @property
    def max_payload(self) -> int:
        return self.nc.max_payload

    # ------------------------------------------------------------------ the lease
    def lease_valid(self) -> bool:
        return self.revision != 0 and self.lost is None and time.monotonic() < self.valid_until

    async def _lease_loop(self) -> None:
        from nats.js.errors import KeyNotFoundError, KeyWrongLastSequenceError   # noqa: PLC0415
        renew, attempt = self.ttl / 4, min(self.ttl / 4, 0.2)
        next_position = next_positions = 0.0
        while not self._closed:
            sent = time.monotonic()
            try:
                if self.revision:
                    rev = await self.kv.update(LEASE_KEY, self.node.encode(), last=self.revision)
                    if self._released:          # released meanwhile: give this renewal up too
                        await self.kv.delete(LEASE_KEY, last=rev)
                        continue
                    self.revision = rev
                    self.valid_until = sent + 0.8 * self.ttl
                elif self.candidate and self.lost is None and not self._released:
                    rev = await self.kv.create(LEASE_KEY, self.node.encode())
                    self.revision = self.epoch = rev
                    self.valid_until = sent + 0.8 * self.ttl
                    self.holder = self.node
                    self._wake()
            except KeyWrongLastSequenceError:
                if self.revision:
                    await self._renewal_refused()
            except Exception as exc:   # noqa: BLE001  (a timeout or reconnect: the lease lapses by itself)
                log.debug("replication: lease round failed: %r", exc)
            try:
                if sent >= next_position and self.position:
                    await self.kv.put(f"pos.{self.node}", json.dumps(self.position).encode())
                    next_position = sent + 1.0
                if not self.revision:
                    try:
                        self.holder = (await self.kv.get(LEASE_KEY)).value.decode()
                    except KeyNotFoundError:
                        self.holder = None
                elif sent >= next_positions:                  # the primary's view of every node, for status
                    self.nodes_seen = await self._read_positions()
                    next_positions = sent + 1.0
            except Exception as exc:   # noqa: BLE001  (the same: tried again next round)
                log.debug("replication: position round failed: %r", exc)
            await asyncio.sleep(max(0.0, (renew if self.revision else attempt) - (time.monotonic() - sent)))

    async def _renewal_refused(self) -> None:
        """Our renewal was refused: either another node's entry replaced ours (the lease is
        lost), or our previous renewal was stored but its reply lost (adopt its revision)."""
        try:
            entry = await self.kv.get(LEASE_KEY)
        except Exception:   # noqa: BLE001  (expired or unreadable: not ours to count on)
            entry = None
        if entry is not None and entry.value == self.node.encode() and entry.revision > self.revision:
            self.revision = entry.revision
            return
        self.lost = "another node holds the lease (our entry was replaced)"
        self.revision = 0
        self._wake()

    def release(self) -> None:
        """Give the lease up (a graceful shutdown or a step-down): the next node need not wait out the TTL."""
        self._released = True
        rev, self.revision = self.revision, 0
        self.candidate = False
        if rev and self.nc is not None and not self.nc.is_closed:
            try:
                self.call(self.kv.delete(LEASE_KEY, last=rev), self.timeout)
            except Exception as exc:   # noqa: BLE001  (it lapses anyway)
                log.debug("replication: lease release failed: %r", exc)

    # ------------------------------------------------------------------ the stream
    def stream_state(self):
        return self.call(self.js.stream_info(self.cfg.stream), self.timeout + 1).state

    def record_bounds(self, stream_seq: int) -> tuple[int, int]:
        """The first and last command seq of the record at ``stream_seq``."""
        msg = self.call(self.js.get_msg(self.cfg.stream, stream_seq), self.timeout + 1)
        return _first_last(msg.data)

    def publish(self, payload: bytes, expected_last: int, msg_id: str) -> int:
        """Publish one record; its stream sequence. :class:`StepDown` when refused, or when no
        acknowledgement came while the lease held (then nothing is acknowledged: the next
        primary finds the record in the stream or not, and so do the clients' gap fills)."""
        from nats.js.errors import APIError   # noqa: PLC0415
        headers = {"Nats-Expected-Last-Sequence": str(expected_last), "Nats-Msg-Id": msg_id}
        tries = 0
        while True:
            if not self.lease_valid():
                raise StepDown(self.lost or "the lease lapsed before the stream acknowledged")
            try:
                ack = self.call(self.js.publish(self.subject, payload, timeout=self.timeout, headers=headers),
                                self.timeout + 1)
            except APIError as exc:
                if exc.err_code == _WRONG_LAST_SEQUENCE:
                    raise StepDown(f"the stream refused the publish: {exc.description}") from None
                if exc.code is not None and exc.code < 500:
                    raise StepDown(f"the stream refused the publish: {exc}") from None
                tries = self._retrying(msg_id, exc, tries)        # 503: the stream is electing a leader
            except Exception as exc:   # noqa: BLE001  (no answer, no responder, reconnecting: try again)
                tries = self._retrying(msg_id, exc, tries)
            else:
                if ack.seq != expected_last + 1:
                    raise StepDown(f"the stream stored {msg_id} at {ack.seq}, not {expected_last + 1}")
                return ack.seq

    @staticmethod
    def _retrying(msg_id: str, exc: Exception, tries: int) -> int:
        """Log the first failed attempt and every 16th; wait a little longer each time (to 0.2 s)."""
        if tries % 16 == 0:
            log.warning("replication: no acknowledgement for %s (%s, attempt %d); retrying under the same id",
                        msg_id, type(exc).__name__, tries + 1,
                        extra={"event": "publish_retry", "msg_id": msg_id, "attempt": tries + 1})
        time.sleep(min(0.2, 0.005 * 2 ** min(tries, 6)))
        return tries + 1

    def follow(self, from_stream_seq: int) -> None:
        """Deliver every record from ``from_stream_seq`` on into :attr:`inbox`."""
        self.call(self._follow(from_stream_seq), self.timeout + 5)

    async def _follow(self, start: int) -> None:
        from nats.js.api import ConsumerConfig, DeliverPolicy   # noqa: PLC0415

        async def take(msg) -> None:
            while len(self.inbox) >= INBOX_MAX and not self._closed:   # the node's loop is behind: hold the consumer
                await asyncio.sleep(0.005)
            self.inbox.append((msg.metadata.sequence.stream, msg.data))
            self.pending = msg.metadata.num_pending
            self._wake()

        self._sub = await self.js.subscribe(self.subject, cb=take, ordered_consumer=True,
                                            deliver_policy=DeliverPolicy.BY_START_SEQUENCE,
                                            config=ConsumerConfig(opt_start_seq=max(1, start)))

    def unfollow(self) -> None:
        sub, self._sub = self._sub, None
        if sub is not None:
            try:
                self.call(sub.unsubscribe(), self.timeout)
            except Exception as exc:   # noqa: BLE001  (the consumer is ephemeral: it goes anyway)
                log.debug("replication: unsubscribe failed: %r", exc)

    def record_snapshot(self, seq: int, stream_seq: int) -> None:
        """Note this node's newest snapshot (command ``seq``, at stream message ``stream_seq``); in the background."""
        value = json.dumps({"seq": seq, "stream_seq": stream_seq, "t": time.time()}).encode()
        asyncio.run_coroutine_threadsafe(self.nodes_kv.put(f"snap.{self.node}", value), self.loop)

    def prune(self, nodes: tuple) -> None:
        """Purge the stream behind every node's newest snapshot (``nodes``: the names that must
        have one; empty: whoever recorded one); in the background."""
        asyncio.run_coroutine_threadsafe(self._prune(nodes), self.loop)

    async def _prune(self, nodes: tuple) -> None:
        from nats.js.errors import KeyNotFoundError   # noqa: PLC0415
        try:
            names = list(nodes) or [k[5:] for k in await self.nodes_kv.keys() if k.startswith("snap.")]
            floor = None
            for name in names:
                try:
                    entry = json.loads((await self.nodes_kv.get(f"snap.{name}")).value)
                except KeyNotFoundError:
                    return                      # a node without a snapshot needs the whole stream
                floor = entry["stream_seq"] if floor is None else min(floor, entry["stream_seq"])
            if floor:
                state = (await self.js.stream_info(self.cfg.stream)).state
                # the last message always stays: an empty stream cannot tell a node with no
                # state (or an old one) that the market has moved on
                floor = min(floor, state.last_seq - 1)
                if state.first_seq <= floor:
                    await self.js.purge_stream(self.cfg.stream, seq=floor + 1)
                    log.info("replication: stream %s purged up to message %d (every node's snapshot is past it)",
                             self.cfg.stream, floor, extra={"event": "stream_pruned", "stream_seq": floor})
        except Exception as exc:   # noqa: BLE001  (pruning is tried again later)
            log.debug("replication: prune failed: %r", exc)

    async def _read_positions(self) -> dict:
        """Every node's last written position (``pos.<node>``), by node name."""
        out = {}
        try:
            keys = await self.kv.keys()
        except Exception:   # noqa: BLE001  (NoKeysError: none yet)
            return out
        for key in keys:
            if key.startswith("pos."):
                try:
                    out[key[4:]] = json.loads((await self.kv.get(key)).value)
                except Exception:   # noqa: BLE001  (expired between the two reads)
                    pass
        return out

    def close(self) -> None:
        self._closed = True

        async def shut() -> None:
            if self.nc is not None and not self.nc.is_closed:
                await self.nc.close()
            tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        try:
            self.call(shut(), 5)
        except Exception as exc:   # noqa: BLE001  (closing: nothing left to save)
            log.debug("replication: close: %r", exc)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(5)
        if not self._thread.is_alive():          # else it may still write to the wake pipe: leave both
            self.loop.close()
            for fd in (self.wake_fd, self._wake_w):
                os.close(fd)


class ReplicatedJournal:
    """The sequencer's journal under replication: the stream first, then the local journal.

    ``append`` publishes the batch (in records of at most the servers' ``max_payload``) and,
    once the stream acknowledged each, writes it to the local journal (to the OS: the stream
    is the durable copy, on a majority of its replicas). ``sync`` has nothing left to do.
    """

    mode = "jetstream"

    def __init__(self, local, link: NatsLink, replica: "Replica") -> None:
        self.local = local
        self.link = link
        self.replica = replica
        self.published = collections.Counter()

    @property
    def last_seq(self) -> int:
        return self.local.last_seq

    @property
    def counters(self) -> dict:
        return self.local.counters

    def append(self, batch: np.ndarray) -> None:
        if len(batch) == 0:
            return
        per = max(1, (self.link.max_payload - HEADER.size - MSG_HEADER_BYTES) // ROW)
        link, replica = self.link, self.replica
        t0 = time.perf_counter_ns()
        for at in range(0, len(batch), per):
            part = batch[at:at + per]
            record, first, n = journal_record(part, int(part["seq"][0]) - 1, MAGIC)
            replica.stream_seq = link.publish(bytes(record), replica.stream_seq, f"{link.node}.{link.epoch}.{first}")
            try:
                self.local.append(part)
            except JournalWriteError as exc:    # the stream has it: recovery will, nothing else may
                raise StepDown(f"the local journal failed after the stream acknowledged: {exc}") from None
            replica.boundaries.append((first + n - 1, replica.stream_seq))
            self.published["records"] += 1
            self.published["bytes"] += len(record)
        self.published["publish_ns"] += time.perf_counter_ns() - t0
        self.published["batches"] += 1
        if not link.lease_valid():       # on the stream, but a lapsed primary acknowledges nothing
            raise StepDown(link.lost or "the lease lapsed while publishing")

    def sync(self) -> None:
        pass

    def sync_due_ms(self) -> None:
        return None

    def close(self) -> None:
        self.local.close()


class Replica:
    """A node's part in replication: its position in the stream, following it as a standby,
    taking over as primary (see the module)."""

    def __init__(self, node, cfg, name: str) -> None:
        self.node = node
        self.cfg = cfg
        self.name = name
        self.link = NatsLink(cfg, name)
        self.stream_seq = 0                # the last stream message applied (or published)
        self.role = "standby"
        self.applied = 0                   # records applied from the stream since start
        self.journal_error: str | None = None  # a standby whose local journal failed
        self.promoted_at: float | None = None
        # (last command, stream message) of recent records: where a snapshot stands in the stream
        self.boundaries: collections.deque = collections.deque(maxlen=4096)
        self._snapshot_noted = 0
        self._next_prune = 0.0

    # ------------------------------------------------------------------ start
    def start(self) -> None:
        """Connect, find this node's place in the stream, start following it."""
        self.link.connect()
        have = self.node.next_seq - 1
        deadline = time.monotonic() + CONNECT_PATIENCE_S
        while True:
            try:
                state = self.link.stream_state()
                self.stream_seq = self._locate(have, state.first_seq, state.last_seq, state.messages)
                self.link.follow(self.stream_seq + 1)
                break
            except GatewayError:
                raise
            except Exception as exc:   # noqa: BLE001  (the stream electing a leader: try again)
                self.link.unfollow()           # a subscription that came through after all
                self.link.inbox.clear()
                if time.monotonic() > deadline:
                    raise GatewayError(f"replication: cannot read the stream {self.cfg.stream}: {exc!r}") from None
                log.warning("replication: the stream does not answer (%r); trying again", exc)
                time.sleep(1.0)
        # a node far behind (an old snapshot) does not take the lease before it has caught up
        self.link.candidate = self.stream_seq >= state.last_seq
        log.info("replication: node %s follows stream %s from message %d (seq %d); %d messages behind",
                 self.name, self.cfg.stream, self.stream_seq + 1, have + 1, state.last_seq - self.stream_seq,
                 extra={"event": "follow", "node": self.name, "stream_seq": self.stream_seq, "last_seq": have})

    def _locate(self, have: int, first: int, last: int, messages: int) -> int:
        """The stream message holding command ``have`` (0: before the first message)."""
        if not messages:                   # a new stream (or one purged to its end): ours is the base
            if last and not have:
                raise GatewayError(f"replication: the stream {self.cfg.stream} is empty but has held {last} "
                                   f"messages, and this node has no state: copy a snapshot from another node's "
                                   f"state dir (docs/OPERATIONS.md, High availability: adding a node)")
            if have:
                log.warning("replication: the stream %s is empty; this node's state (to seq %d) is the "
                            "market's base: every other node must start from a copy of it", self.cfg.stream,
                            have, extra={"event": "stream_empty", "last_seq": have})
            return last
        lo_first, _ = self.link.record_bounds(first)
        _, hi_last = self.link.record_bounds(last)
        if have > hi_last:
            raise GatewayError(f"replication: this node's state reaches seq {have}, the stream {self.cfg.stream} "
                               f"only seq {hi_last}: it holds commands the market's log does not (a "
                               f"different market, or a reset stream); start it from another node's state")
        if have < lo_first - 1:
            raise GatewayError(f"replication: the stream {self.cfg.stream} starts at seq {lo_first} but this "
                               f"node's state ends at seq {have}: copy a snapshot from another node's state dir "
                               f"(docs/OPERATIONS.md, High availability: adding a node)")
        if have == lo_first - 1:
            return first - 1
        lo, hi = first, last               # the first message whose last command >= have
        while lo < hi:
            mid = (lo + hi) // 2
            if self.link.record_bounds(mid)[1] >= have:
                hi = mid
            else:
                lo = mid + 1
        a, b = self.link.record_bounds(lo)
        return lo if b == have else lo - 1   # a record straddling have: applied from have + 1 on

    # ------------------------------------------------------------------ standby
    def apply_waiting(self) -> int:
        """Apply every record the stream delivered; the number applied."""
        from .recovery import apply_batch   # noqa: PLC0415
        inbox, node, done = self.link.inbox, self.node, 0
        self.link.drain_wake()
        while inbox:
            stream_seq, payload = inbox.popleft()
            if stream_seq <= self.stream_seq:
                continue                   # redelivered by a reset consumer
            if stream_seq != self.stream_seq + 1:
                raise GatewayError(f"replication: stream message {stream_seq} arrived after {self.stream_seq}")
            try:
                rows = decode_record(payload, f"{self.cfg.stream}#{stream_seq}").rows
            except JournalError as exc:
                raise GatewayError(f"replication: {exc}") from None
            if int(rows["seq"][-1]) < node.next_seq or int(rows["seq"][0]) > node.next_seq:
                raise GatewayError(f"replication: stream message {stream_seq} holds seq {int(rows['seq'][0])}.."
                                   f"{int(rows['seq'][-1])}, this node expects {node.next_seq} next: the stream "
                                   "and this node's state are of different markets")
            rows = rows[rows["seq"] >= node.next_seq]      # a record straddling the node's start
            if len(rows):
                self._journal_locally(rows)
                events = apply_batch(node, rows)
                if node.schedule is not None:
                    node.schedule.observe(events)
            self.stream_seq = stream_seq
            self.boundaries.append((node.next_seq - 1, stream_seq))
            self.applied += 1
            done += 1
        if not self.link.candidate and self.role == "standby" and self.journal_error is None \
                and not inbox and self.link.pending == 0 and done:
            self.link.candidate = True           # caught up: may take over now
        self._note_position()
        return done

    def _journal_locally(self, rows) -> None:
        """A standby's local journal; when it cannot write (a full disk) the node goes on
        applying in memory but no longer offers to become primary (its journal has a hole)."""
        if self.journal_error is not None:
            return
        try:
            self.node.journal.local.append(rows)
        except JournalWriteError as exc:
            self.journal_error = str(exc)
            self.link.candidate = False
            log.error("replication: the local journal cannot write (%s): this standby follows in memory only and "
                      "will not take over; free the space and restart it", exc,
                      extra={"event": "standby_journal_failed", "error": str(exc)})

    def catch_up(self, timeout: float = 30.0) -> None:
        """Apply the stream to its end (before acknowledging as primary)."""
        last = self.link.stream_state().last_seq
        deadline = time.monotonic() + timeout
        while self.stream_seq < last:
            if not self.apply_waiting():
                if time.monotonic() > deadline:
                    raise StepDown(f"could not read the stream to its end ({self.stream_seq} of {last})")
                time.sleep(0.002)

    def _note_position(self) -> None:
        node = self.node
        snap = node.snapshots.last_seq
        if snap != self._snapshot_noted:        # a new snapshot: where it stands in the stream
            at = next((m for s, m in reversed(self.boundaries) if s == snap), None)
            if at is not None:
                self.link.record_snapshot(snap, at)
            self._snapshot_noted = snap
        self.link.position = {"role": self.role, "stream_seq": self.stream_seq, "seq": node.next_seq - 1,
                              "snapshot_seq": node.snapshots.last_seq, "pid": os.getpid(), "t": time.time()}

    # ------------------------------------------------------------------ primary
    def promote(self) -> None:
        """The lease is ours: read the stream to its end, then acknowledge as primary."""
        t0 = time.monotonic()
        try:
            self.catch_up()
        except (StepDown, GatewayError):
            raise
        except Exception as exc:   # noqa: BLE001  (the stream unreadable now: another node may do better)
            raise StepDown(f"could not read the stream to its end: {exc!r}") from None
        self.link.unfollow()
        self.apply_waiting()
        self.role = "primary"
        self.promoted_at = time.time()
        self._note_position()
        log.info("replication: node %s is primary (epoch %d) at seq %d, stream message %d, after %.0f ms",
                 self.name, self.link.epoch, self.node.next_seq - 1, self.stream_seq, (time.monotonic() - t0) * 1e3,
                 extra={"event": "promoted", "node": self.name, "epoch": self.link.epoch,
                        "last_seq": self.node.next_seq - 1, "stream_seq": self.stream_seq})

    def check(self) -> None:
        """On the primary's timer tick: :class:`StepDown` once the lease is lost or lapsed."""
        if self.role == "primary":
            if not self.link.lease_valid():
                raise StepDown(self.link.lost or "the lease could not be renewed in time")
            self._note_position()
            now = time.monotonic()
            if now >= self._next_prune and self.node.config.durability.prune_journal:
                self._next_prune = now + PRUNE_EVERY_S
                self.link.prune(tuple(n.name for n in self.cfg.nodes))

    def status(self) -> dict:
        positions = self.link.nodes_seen if self.role == "primary" else {}
        lags = {name: {"role": p.get("role"), "stream_seq": p.get("stream_seq"), "seq": p.get("seq"),
                       "lag_messages": max(0, self.stream_seq - int(p.get("stream_seq", 0))),
                       "lag_commands": max(0, self.node.next_seq - 1 - int(p.get("seq", 0))),
                       "snapshot_seq": p.get("snapshot_seq")}
                for name, p in sorted(positions.items()) if name != self.name}
        return {"mode": "jetstream", "node": self.name, "role": self.role, "lease_holder": self.link.holder,
                "epoch": self.link.epoch if self.role == "primary" else None, "stream": self.cfg.stream,
                "stream_seq": self.stream_seq, "servers": list(self.cfg.servers),
                "candidate": self.link.candidate, "local_journal_error": self.journal_error,
                "published": self._published(),
                "connected": self.link.connected, "lease_ttl_ms": self.cfg.lease_ttl_ms, "nodes": lags}

    def _published(self) -> dict:
        """What this node published as primary: batches, records, bytes, the mean wait for an ack."""
        p = getattr(self.node.journal, "published", None) or {}
        batches = p.get("batches", 0)
        return {"batches": batches, "records": p.get("records", 0), "bytes": p.get("bytes", 0),
                "publish_mean_us": round(p.get("publish_ns", 0) / batches / 1e3, 1) if batches else 0.0}

    def close(self) -> None:
        self.link.release()
        self.link.close()
