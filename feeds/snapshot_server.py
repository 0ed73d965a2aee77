"""The snapshot service in its own thread, so that anonymous requests cannot stall matching.

The snapshot port has no CURVE (the data is public): anyone may send requests, as many as
they like. The encoder's state belongs to the daemon's loop, so the loop still encodes, but
at most ONE full snapshot per ``min_interval`` however many requests wait; this thread does
everything per request (reading, checking, answering, filtering instruments) and bounds it:

- it reads requests only while fewer than ``max_pending`` wait and the answer budget has a
  token; the rest wait in ZeroMQ's queues (``rcvhwm`` per peer, then TCP pushes back on the
  sender), which also keeps the order fair: ZeroMQ reads the peers in turn;
- it answers at most ``max_per_s`` requests per second (snapshots and errors; a token bucket
  holding a tenth of a second's worth), oldest first;
- a request that waited ``max_wait_s`` (the loop is busy, or the budget is spent) is answered
  ``[ERROR, b"busy, retry"]``; ``FeedClient`` retries it after a short backoff;
- answers are never queued for a peer that does not read beyond a few (``sndhwm``): ZeroMQ
  drops the rest, and every answer to one snapshot shares one buffer.

Freshness: a snapshot answers only requests read before the thread asked for it, so it
always reflects the feed at or after the request (what the clone pattern needs: the
subscriber's buffered live messages continue it).

The loop's side is three calls on its own thread: poll :attr:`asks`; when it is readable,
:meth:`asked` says a snapshot is wanted; :meth:`offer` hands the encoded one over.
"""
from __future__ import annotations

import itertools
import json
import logging
import threading
import time
from collections import deque

import numpy as np
import zmq

from .messages import FEED_DTYPE

__all__ = ["SnapshotServer", "SNAPSHOT", "ERROR", "BUSY", "SNDHWM", "RCVHWM", "MAX_REQUEST_BYTES", "configure_socket"]

log = logging.getLogger("chuanyu.feed")

SNAPSHOT = b"SNAPSHOT"
ERROR = b"ERROR"
BUSY = b"busy, retry"      # the reason of an ERROR answer to retry after a short backoff
MALFORMED = b"expected [SNAPSHOT, symbols]"

SNDHWM = 4                 # answers queued per peer; a peer that does not read loses the rest
RCVHWM = 16                # requests queued per peer before TCP pushes back on it
MAX_REQUEST_BYTES = 65536  # a frame above this closes the connection (a list of ~6,000 symbols fits)
READ_BATCH = 256           # requests read per wake-up, so the control socket is never starved

_ASK, _STOP = b"?", b"STOP"
_ids = itertools.count(1)


def configure_socket(sock: zmq.Socket) -> None:
    """Set the snapshot ROUTER's bounds (before it binds, so every connection gets them)."""
    sock.setsockopt(zmq.SNDHWM, SNDHWM)
    sock.setsockopt(zmq.RCVHWM, RCVHWM)
    sock.setsockopt(zmq.MAXMSGSIZE, MAX_REQUEST_BYTES)
    sock.setsockopt(zmq.LINGER, 0)


class SnapshotServer:
    """Answer snapshot requests from a thread of its own; the owner's loop encodes.

    Parameters
    ----------
    sock : zmq.Socket
        The bound snapshot ROUTER (see :func:`configure_socket`); from :meth:`start` on only
        the thread uses it, and it closes it.
    symbols : sequence of str
        The instruments by index: requests naming others are refused here.
    min_interval_ms : int
        The least time between two snapshots the thread asks for.
    max_per_s : int
        Answers (snapshots and errors) per second at most.
    max_pending : int
        Requests read and waiting for a snapshot at most.
    max_wait_s : float
        A request waiting this long is answered busy.
    """

    def __init__(self, sock: zmq.Socket, symbols, min_interval_ms: int = 20, max_per_s: int = 500,
                 max_pending: int = 128, max_wait_s: float = 1.0) -> None:
        if min_interval_ms < 0 or max_per_s < 1 or max_pending < 1 or max_wait_s <= 0:
            raise ValueError(f"snapshot server: min_interval_ms {min_interval_ms} must be >= 0, max_per_s "
                             f"{max_per_s} and max_pending {max_pending} >= 1, max_wait_s {max_wait_s} > 0")
        self.sock = sock
        self.symbols = list(symbols)
        self._index = {s: n for n, s in enumerate(self.symbols)}
        self.interval = min_interval_ms / 1000
        self.rate = float(max_per_s)
        self.burst = max(1.0, self.rate / 10)
        self.max_pending = max_pending
        self.max_wait = max_wait_s
        self.asks = None           # the loop's end of the control pair (polled by the loop)
        self._control = None       # the thread's end
        self._thread = None
        # what the thread counted; read by anyone, written by the thread only
        self.counts = {"requests": 0, "snapshots": 0, "errors": 0, "busy": 0, "encoded": 0}

    # ------------------------------------------------------------------ the loop's side
    def start(self) -> None:
        """Start the thread; the loop then polls :attr:`asks`."""
        ctx = self.sock.context
        endpoint = f"inproc://chuanyu-snapshots-{id(self):x}-{next(_ids)}"
        self.asks = ctx.socket(zmq.PAIR)
        self.asks.setsockopt(zmq.LINGER, 0)
        self.asks.bind(endpoint)
        self._control = ctx.socket(zmq.PAIR)
        self._control.setsockopt(zmq.LINGER, 0)
        self._control.connect(endpoint)
        self._thread = threading.Thread(target=self._run, name="chuanyu-snapshots", daemon=True)
        self._thread.start()

    def asked(self) -> bool:
        """Whether the thread wants a snapshot (drains its asks; cheap when none waits)."""
        wanted = False
        while True:
            try:
                self.asks.recv(zmq.NOBLOCK)
            except zmq.Again:
                return wanted
            wanted = True

    def offer(self, header: bytes, rows: np.ndarray) -> None:
        """Hand the thread a full snapshot (all instruments), encoded now."""
        try:
            self.asks.send_multipart([header, rows.tobytes()], zmq.NOBLOCK)
        except zmq.Again:
            log.warning("the snapshot thread is not taking snapshots", extra={"event": "error"})

    def close(self) -> None:
        """Stop the thread and wait for it; close every socket of the service."""
        if self._thread is None:
            self.sock.close(linger=0)
            return
        try:
            self.asks.send(_STOP, zmq.NOBLOCK)
        except zmq.ZMQError:
            pass                   # the thread is gone already (it logged why)
        self._thread.join(10)
        if self._thread.is_alive():
            log.error("the snapshot thread did not stop within 10 s", extra={"event": "error"})
        else:
            self.asks.close(linger=0)
        self._thread = None

    # ------------------------------------------------------------------ the thread
    def _run(self) -> None:
        try:
            self._serve()
        except Exception:
            log.exception("the snapshot thread failed: snapshots are no longer served",
                          extra={"event": "error"})
        finally:
            self.sock.close(linger=0)
            self._control.close(linger=0)

    def _serve(self) -> None:
        sock, control, counts = self.sock, self._control, self.counts
        poller = zmq.Poller()
        poller.register(control, zmq.POLLIN)
        poller.register(sock, zmq.POLLIN)
        reading = True
        pending = deque()                  # (identity, instruments or None, ask stamp, read at)
        asks = covered = 0                 # asks sent; the latest snapshot answers stamps below `covered`
        asked = False
        latest = None                      # (header frame, rows frame) of the latest snapshot
        latest_at = -float("inf")
        subsets = {}                       # answers to instrument subsets, built once per snapshot
        tokens, refilled = self.burst, time.monotonic()
        while True:
            now = time.monotonic()
            tokens, refilled = min(self.burst, tokens + (now - refilled) * self.rate), now
            can_read = len(pending) < self.max_pending and tokens >= 1
            if can_read != reading:
                poller.modify(sock, zmq.POLLIN if can_read else 0)
                reading = can_read
            waits = [1.0]
            if tokens < 1:
                waits.append((1 - tokens) / self.rate)
            if pending:
                waits.append(pending[0][3] + self.max_wait - now)
                if not asked and pending[-1][2] >= covered:
                    waits.append(latest_at + self.interval - now)
            events = dict(poller.poll(max(0, int(min(waits) * 1000) + 1)))
            if control in events:
                frames = control.recv_multipart(copy=False)
                if frames[0].bytes == _STOP:
                    return
                latest, latest_at, covered, asked = (frames[0], frames[1]), time.monotonic(), asks, False
                subsets.clear()
                counts["encoded"] += 1
            if reading and sock in events:
                for _ in range(min(READ_BATCH, self.max_pending - len(pending))):
                    try:
                        frames = sock.recv_multipart(zmq.NOBLOCK)
                    except zmq.Again:
                        break
                    counts["requests"] += 1
                    chosen = self._parse(frames[1:])
                    if isinstance(chosen, bytes):
                        sock.send_multipart([frames[0], ERROR, chosen])
                        counts["errors"] += 1
                        tokens -= 1
                        if tokens < 1:
                            break
                    else:
                        pending.append((frames[0], chosen, asks, now))
            now = time.monotonic()
            tokens, refilled = min(self.burst, tokens + (now - refilled) * self.rate), now
            while pending and tokens >= 1 and pending[0][2] < covered:
                identity, chosen, _, _ = pending.popleft()
                if chosen is None:
                    header, rows = latest
                else:
                    if chosen not in subsets:
                        subsets[chosen] = self._subset(latest, chosen)
                    header, rows = subsets[chosen]
                sock.send_multipart([identity, SNAPSHOT, header, rows], copy=False)
                counts["snapshots"] += 1
                tokens -= 1
            while pending and now - pending[0][3] >= self.max_wait:
                sock.send_multipart([pending.popleft()[0], ERROR, BUSY])
                counts["busy"] += 1
            if pending and not asked and pending[-1][2] >= covered and now >= latest_at + self.interval:
                control.send(_ASK)
                asks += 1
                asked = True

    def _parse(self, request: list):
        """The instruments a request wants (None: all), or the reason it is refused (bytes)."""
        if len(request) != 2 or request[0] != SNAPSHOT:
            return MALFORMED
        wanted = [s for s in request[1].decode(errors="replace").split(",") if s]
        unknown = [s for s in wanted if s not in self._index]
        if unknown:
            return f"unknown instrument {unknown[0]}".encode()
        return frozenset(self._index[s] for s in wanted) if wanted else None

    def _subset(self, latest, chosen: frozenset) -> tuple:
        """The answer for some instruments, cut from the full snapshot."""
        header = json.loads(latest[0].bytes)
        names = {self.symbols[n] for n in chosen}
        header["topics"] = {t: n for t, n in header["topics"].items() if t.split(".", 1)[1] in names}
        rows = np.frombuffer(latest[1].buffer, dtype=FEED_DTYPE)
        rows = rows[np.isin(rows["instrument"], sorted(chosen))]
        return zmq.Frame(json.dumps(header).encode()), zmq.Frame(rows.tobytes())
