"""Sessions: the order port's connections, logins, heartbeats and send queues.

The stage stands at both ends of the pipeline. In front (:meth:`Sessions.drain`) it reads
the order socket's frames into a batch, keeping only those of logged-in sessions on their
own connection; a frame from anywhere else is a login, a refusal or a squatter to deal with
at once. At the back (:meth:`Sessions.deliver`) it sends each session its numbered reports.

- A session is bound at LOGIN to its connection's file descriptor and CURVE key; the drain
  holds every frame on the session's routing id to both (:data:`zmqio.router.FOREIGN`
  otherwise), and the socket's monitor ends the session when its connection closes. A
  connection with another key on a routing id a session last used is closed (a squatter).
- Every send is non-blocking (``ROUTER_MANDATORY`` on): a full pipe parks the frame in the
  session's bounded queue, and a session whose undelivered frames pass
  ``daemon.session_out_bytes`` (half in ZeroMQ's pipe, half here) or ``daemon.queue_frames``
  is logged out ``SLOW_CONSUMER``. A dead or slow client never blocks the loop.
- On the timer tick: queued frames are flushed, silent sessions disconnected
  (``HEARTBEAT_TIMEOUT``), idle ones sent a SERVER_HEARTBEAT.
- A session that ends with ``cancel_on_disconnect`` is listed in :attr:`Sessions.gone`;
  the loop turns that into CANCELs of its open orders in the next batch.

The stage reads, and never writes, three other stages' state: the report numbering and
gap-fill windows (:class:`exchange.reports.Reports`), the last client order id and token
bucket (:class:`gateway.intake.Intake`), which a login resets, and the next sequence number
(:class:`exchange.sequencer.Sequencer`) for the LOGIN_ACK.
"""
from __future__ import annotations

import logging
import socket
import time
from collections import deque

import numpy as np
import zmq
from zmq.utils.monitor import parse_monitor_message

from zmqio.router import MULTIPART, open_router

from .gapfill import GAP_FILL_FRAME_REPORTS
from .throttle import Throttle
from .protocol import (
    INBOUND_SIZE, LOGIN_ACK_DTYPE, LOGIN_DTYPE, PROTOCOL_VERSION, REPORT_DTYPE, SERVER_HEARTBEAT_DTYPE,
    SERVER_LOGOUT_DTYPE, GatewayReject, LoginFlag, MsgType, reserved_mask,
)

__all__ = ["Session", "Sessions"]

log = logging.getLogger("chuanyu.gateway")

_EAGAIN, _EHOSTUNREACH = int(zmq.EAGAIN), int(zmq.EHOSTUNREACH)
_REJECT_CODES = frozenset(int(r) for r in GatewayReject)
_MSG_TYPES = frozenset(int(t) for t in MsgType)
_LOGIN_RESERVED = reserved_mask(LOGIN_DTYPE)


class Session:
    """One configured session's connection state (``idx``: its index; 0 is the operator)."""

    __slots__ = ("idx", "cfg", "public_key", "identity", "logged_in", "heartbeat_ns", "last_heard", "last_sent",
                 "queue", "queued_bytes", "delivered", "dropped", "logins")

    def __init__(self, idx: int, cfg, public_key: str) -> None:
        self.idx, self.cfg, self.public_key = idx, cfg, public_key
        self.identity = None          # the routing id it logged in on
        self.logged_in = False
        self.heartbeat_ns = 0
        self.last_heard = self.last_sent = 0
        self.queue: deque = deque()   # frames the pipe would not take yet
        self.queued_bytes = 0         # their size
        self.delivered = 0
        self.dropped = 0
        self.logins = 0


class Sessions:
    """The order port's sessions (see the module). :meth:`attach` the bound socket before use."""

    def __init__(self, config, keys: dict, reports, intake, sequencer, counters: dict) -> None:
        self.daemon = config.daemon
        self.reports, self.intake, self.sequencer, self.counters = reports, intake, sequencer, counters
        self.all: list[Session | None] = [None]          # index 0: the operator
        self.by_id: dict[int, Session] = {}
        for cfg in config.sessions:
            s = Session(len(self.all), cfg, keys[cfg.id])
            self.all.append(s)
            self.by_id[cfg.id] = s
        self.by_identity: dict[bytes, int] = {}          # routing id -> logged-in session index
        # each session's connection: the file descriptor it logged in on (-1: none) and the
        # CURVE key it must come with; the drain holds every frame on its routing id to both
        self.peer_fd = np.full(len(self.all), -1, dtype=np.int32)
        self.peer_key = [None] + [s.public_key.encode() for s in self.all[1:]]
        self._identity_owner: dict[bytes, int] = {}      # routing id -> the session last logged in on it
        self._open_fds: set[int] = set()                 # the order socket's connections (its monitor)
        self._security_log = Throttle()                  # a line per offending key and interval, not per frame
        self.socket = self.router = self.monitor = None   # the order socket, its I/O twin, its monitor
        self.gone: list[Session] = []                    # ended with cancel_on_disconnect, not yet cancelled
        self.stopping = False                            # shutting down: logins refused, no cancels on disconnect
        self.metrics = None                              # exchange.metrics.Metrics, when served

    def __iter__(self):
        return iter(self.all[1:])

    def __getitem__(self, idx: int) -> Session:
        return self.all[idx]

    def attach(self, orders: zmq.Socket, use_c: bool | None = None) -> None:
        """Serve the bound order socket: its I/O twin is chosen here, once; its monitor reports connections."""
        self.socket = orders
        self.router = open_router(orders, self.peer_fd, self.peer_key, use_c)
        self.monitor = orders.get_monitor_socket(zmq.EVENT_ACCEPTED | zmq.EVENT_DISCONNECTED)

    def detach(self) -> None:
        """Stop serving the order socket (it stays open: the caller closes it)."""
        self.router = None
        if self.monitor is not None:
            self.socket.disable_monitor()
            self.monitor.close(linger=0)
            self.monitor = None

    # ------------------------------------------------------------------ in front: the drain
    def drain(self, budget: int) -> tuple[list, list, list]:
        """Read waiting frames of logged-in sessions, up to ``budget`` bytes: (payloads, session
        indexes, receive times). Every other frame is handled on the way (see the module)."""
        payloads, frame_sess, frame_ts = [], [], []
        size = 0
        while True:
            size, stray = self.router.drain(self.by_identity, size, budget, payloads, frame_sess, frame_ts)
            if stray is None:
                break
            self._stray(*stray)
        if frame_sess:
            heard = time.monotonic_ns()
            for idx in set(frame_sess):
                self.all[idx].last_heard = heard
        return payloads, frame_sess, frame_ts

    def _stray(self, kind: int, identity: bytes, payload: bytes | None, user_id: str | None, fd: int) -> None:
        """A frame the drain did not take into the batch (see :meth:`zmqio.router.RouterIO.drain`)."""
        self.connection_events()         # a session whose connection closed is unbound first
        owner = self._identity_owner.get(identity)
        if owner is not None and user_id != self.all[owner].public_key:
            self._squatter(self.all[owner], identity, user_id, fd)
            return
        idx = self.by_identity.get(identity)
        if idx is not None and fd != self.peer_fd[idx]:
            # the session's own key on another connection: the one it logged in on is gone
            self.disconnect(self.all[idx], GatewayReject.CONNECTION_LOST, tell=False)
        if kind == MULTIPART:
            self._refuse_multipart(identity)
        else:
            self._unbound_frame(identity, payload, user_id, fd)

    def _squatter(self, owner: Session, identity: bytes, user_id: str | None, fd: int) -> None:
        """Another key on a session's routing id: refuse it, close its connection, say so.

        ZeroMQ attaches a second connection with a routing id in use only once the first is
        gone, so the session's own connection has ended; the squatter's is closed so the
        session's platform can come back on its routing id.
        """
        self.counters["routing_id_refused"] = self.counters.get("routing_id_refused", 0) + 1
        if self.by_identity.get(identity) == owner.idx:
            self.disconnect(owner, GatewayReject.CONNECTION_LOST, tell=False)
        closed = self._close_connection(fd)
        due, repeats = self._security_log.due(("routing_id_refused", owner.idx, user_id))
        if due:
            log.warning("session %s (%d): routing id %r used by another CURVE key %s: refused%s%s", owner.cfg.name,
                        owner.cfg.id, identity, user_id, ", connection closed" if closed else "",
                        f" ({repeats} more times since the last such line)" if repeats else "",
                        extra={"event": "routing_id_refused", "session": owner.cfg.name, "session_id": owner.cfg.id,
                               "routing_id": identity.hex(), "key": user_id, "closed": closed, "repeats": repeats})

    def _close_connection(self, fd: int) -> bool:
        """Shut one of the order socket's TCP connections down (libzmq then closes it)."""
        self.connection_events()
        if fd not in self._open_fds:           # already closed: the number may belong to another by now
            return False
        try:
            conn = socket.socket(fileno=fd)
        except OSError:
            return False
        try:
            conn.shutdown(socket.SHUT_RDWR)    # not close(): the descriptor stays libzmq's
        except OSError:
            return False
        finally:
            conn.detach()
        return True

    def connection_events(self) -> None:
        """Apply the order socket's connection events: a session ends with its connection."""
        mon = self.monitor
        while mon.poll(0):
            event = parse_monitor_message(mon.recv_multipart())
            fd = int(event["value"])
            if event["event"] == zmq.EVENT_ACCEPTED:
                self._open_fds.add(fd)
                continue
            self._open_fds.discard(fd)
            for idx in np.flatnonzero(self.peer_fd == fd).tolist():
                self.disconnect(self.all[idx], GatewayReject.CONNECTION_LOST, tell=False)

    def _refuse_multipart(self, identity: bytes) -> None:
        """A message of more than one frame (its parts already read): refuse it as malformed."""
        idx = self.by_identity.get(identity)
        r = self.intake.frame_reject(idx or 0, time.time_ns(), GatewayReject.MALFORMED_FRAME, 0)
        if self.metrics is not None:
            self.metrics.observe_rejects(r["reason"])
        if idx:
            self.deliver(self.all[idx], r)
        else:
            self.router.send(identity, r.tobytes())

    def _unbound_frame(self, identity: bytes, payload: bytes, user_id: str | None, fd: int) -> None:
        """A frame from a connection with no session: it must be a LOGIN alone.

        ``user_id``: the connection's ZAP user id (its CURVE public key), None if it has none;
        ``fd``: the connection's file descriptor, which a session logging in is bound to.
        """
        reason = 0
        msg = None
        if len(payload) != INBOUND_SIZE:
            reason = GatewayReject.MALFORMED_FRAME if len(payload) % INBOUND_SIZE or not payload \
                else GatewayReject.NOT_LOGGED_IN
            if reason == GatewayReject.NOT_LOGGED_IN and payload[0] == MsgType.LOGIN:
                # a LOGIN travels alone: with orders behind it the frame is refused whole, so a
                # client never takes the orders' fate for the login's
                msg = np.frombuffer(payload[:INBOUND_SIZE], dtype=LOGIN_DTYPE)[0]
                reason = GatewayReject.MALFORMED_FRAME
        else:
            msg = np.frombuffer(payload, dtype=LOGIN_DTYPE)[0]
            reason = self._login_refusal(msg, payload, user_id)
            if not reason:
                s = self.by_id[int(msg["session"])]
                fill = bool(int(msg["flags"]) & LoginFlag.GAP_FILL)
                self.login(s, identity, fd, int(msg["heartbeat_ms"]), int(msg["last_report_seq"]) if fill else None)
                return
        r = np.zeros(1, dtype=REPORT_DTYPE)
        r["msg_type"] = MsgType.REJECT
        r["reason"] = reason
        r["ts"] = time.time_ns()
        if msg is not None:
            r["ref_type"] = msg["msg_type"]
            r["session"] = msg["session"] if int(msg["msg_type"]) == MsgType.LOGIN else 0
            if reason == GatewayReject.REPORTS_NOT_RETAINED:    # where a gap fill could start
                r["qty"] = self.reports.windows[self.by_id[int(msg["session"])].idx].first
            elif reason == GatewayReject.REPORT_SEQ_AHEAD:
                r["qty"] = self.reports.report_seq[self.by_id[int(msg["session"])].idx]
        else:
            r["qty"] = len(payload)
        self.counters["gateway_rejects"] += 1
        if self.metrics is not None:
            self.metrics.observe_rejects(r["reason"])
        self.router.send(identity, r.tobytes())

    def _login_refusal(self, msg, payload: bytes, user_id: str | None) -> int:
        """Why a one-message frame from an unbound connection cannot log in (0: it can)."""
        if int(msg["msg_type"]) != MsgType.LOGIN:
            return (GatewayReject.NOT_LOGGED_IN if int(msg["msg_type"]) in _MSG_TYPES
                    else GatewayReject.UNKNOWN_MESSAGE_TYPE)
        if _LOGIN_RESERVED[np.frombuffer(payload, np.uint8) != 0].any():
            return GatewayReject.RESERVED_NOT_ZERO
        if int(msg["version"]) != PROTOCOL_VERSION:
            return GatewayReject.UNSUPPORTED_VERSION
        if int(msg["session"]) not in self.by_id:
            return GatewayReject.UNKNOWN_SESSION
        if self.stopping:
            return GatewayReject.SHUTTING_DOWN
        s = self.by_id[int(msg["session"])]
        fill = bool(int(msg["flags"]) & LoginFlag.GAP_FILL)
        after = int(msg["last_report_seq"])
        if user_id != s.public_key:
            return GatewayReject.KEY_NOT_ALLOWED
        if s.logged_in:
            return GatewayReject.ALREADY_LOGGED_IN
        if int(msg["flags"]) & ~int(LoginFlag.GAP_FILL):
            return GatewayReject.RESERVED_NOT_ZERO
        if fill and after > self.reports.report_seq[s.idx]:
            return GatewayReject.REPORT_SEQ_AHEAD
        if fill and not self.reports.windows[s.idx].can_fill(after):
            return GatewayReject.REPORTS_NOT_RETAINED
        return 0

    # ------------------------------------------------------------------ logins
    def _frame(self, msg_type: int, dtype, s: Session, **fields) -> bytes:
        m = np.zeros(1, dtype=dtype)
        m["msg_type"] = msg_type
        m["session"] = s.cfg.id
        m["server_time"] = time.time_ns()
        for k, v in fields.items():
            m[k] = v
        return m.tobytes()

    def login(self, s: Session, identity: bytes, fd: int, heartbeat_ms: int, fill_after: int | None = None) -> None:
        """Log ``s`` in on the connection ``fd``; with ``fill_after``, re-send its reports after
        that report_seq first."""
        hb = heartbeat_ms if 0 < heartbeat_ms <= self.daemon.heartbeat_ms * 10 else self.daemon.heartbeat_ms
        hb = max(hb, 10)
        s.identity = identity
        s.logged_in = True
        s.logins += 1
        s.heartbeat_ns = hb * 1_000_000
        s.last_heard = time.monotonic_ns()
        s.queue.clear()
        s.queued_bytes = 0
        screen = self.intake.state
        screen.tokens[s.idx], screen.refilled[s.idx] = float(s.cfg.burst), 0
        self.by_identity[identity] = s.idx
        self.peer_fd[s.idx] = fd
        for old in [i for i, owner in self._identity_owner.items() if owner == s.idx]:
            del self._identity_owner[old]            # one routing id a session: the dict stays small
        self._identity_owner[identity] = s.idx
        report_seq = int(self.reports.report_seq[s.idx])
        flags = (1 if s.cfg.cancel_on_disconnect else 0) | (2 if s.cfg.drop_copy else 0)
        ack = self._frame(MsgType.LOGIN_ACK, LOGIN_ACK_DTYPE, s, version=PROTOCOL_VERSION, heartbeat_ms=hb,
                          flags=flags, report_seq=report_seq, next_cmd_seq=self.sequencer.next_seq,
                          rate_limit=s.cfg.rate_limit, last_client_order_id=int(screen.coid_last[s.idx]))
        self._try_send(s, ack)
        log.info("session %s (%d) logged in", s.cfg.name, s.cfg.id,
                 extra={"event": "session_login", "session": s.cfg.name, "session_id": s.cfg.id,
                        "heartbeat_ms": hb, "report_seq": report_seq})
        if fill_after is not None and fill_after < report_seq:
            # queued behind the LOGIN_ACK on the same pipe, so they arrive before any new report
            missed = self.reports.windows[s.idx].after(fill_after)
            for a in range(0, len(missed), GAP_FILL_FRAME_REPORTS):
                chunk = missed[a:a + GAP_FILL_FRAME_REPORTS]
                self._send(s, chunk.tobytes(), len(chunk))
            log.info("session %s (%d): gap fill of report_seq %d..%d", s.cfg.name, s.cfg.id, fill_after + 1,
                     report_seq, extra={"event": "session_gap_fill", "session": s.cfg.name, "session_id": s.cfg.id,
                                        "first": fill_after + 1, "last": report_seq})

    def logout(self, s: Session, reason: int, reply: bool) -> None:
        """End a login the client asked to end (``reason`` 0) or the daemon ended (a reason)."""
        if reply and s.logged_in:
            self._flush(s)
            self._try_send(s, self._frame(MsgType.SERVER_LOGOUT, SERVER_LOGOUT_DTYPE, s, reason=reason,
                                          report_seq=int(self.reports.report_seq[s.idx])))
        self.disconnect(s, reason, tell=False)

    def disconnect(self, s: Session, reason: int, tell: bool = True) -> None:
        """End a session's login; list it in :attr:`gone` if it asked for cancel on disconnect."""
        if not s.logged_in:
            return
        if tell:
            s.queue.clear()
            s.queued_bytes = 0
            self.router.send(s.identity, self._frame(MsgType.SERVER_LOGOUT, SERVER_LOGOUT_DTYPE, s, reason=reason,
                                                     report_seq=int(self.reports.report_seq[s.idx])))
        self.by_identity.pop(s.identity, None)
        self.peer_fd[s.idx] = -1
        s.logged_in = False
        s.identity = None
        s.dropped += sum(n for _, n in s.queue)
        s.queue.clear()
        s.queued_bytes = 0
        why = GatewayReject(reason).name if reason in _REJECT_CODES else str(int(reason))
        log.info("session %s (%d) %s (%s)", s.cfg.name, s.cfg.id, "disconnected" if reason else "logged out",
                 why if reason else "by the client",
                 extra={"event": "session_disconnect" if reason else "session_logout", "session": s.cfg.name,
                        "session_id": s.cfg.id, "reason": why if reason else None})
        if s.cfg.cancel_on_disconnect and not self.stopping:
            self.gone.append(s)

    # ------------------------------------------------------------------ at the back: sending
    def deliver(self, s: Session, reports: np.ndarray) -> None:
        """Send a session its (numbered) reports, in frames of at most GAP_FILL_FRAME_REPORTS."""
        n = len(reports)
        if not s.logged_in:
            s.dropped += n
            self.counters["reports_dropped"] += n
            return
        if n <= GAP_FILL_FRAME_REPORTS:
            self._send(s, reports, n)
            return
        for a in range(0, n, GAP_FILL_FRAME_REPORTS):   # bounded frames: the pipe's bound is in bytes
            chunk = reports[a:a + GAP_FILL_FRAME_REPORTS]
            self._send(s, chunk, len(chunk))

    def _send(self, s: Session, frame, n: int = 0) -> None:
        """Send or queue one frame (bytes or a contiguous report array); never blocks."""
        if not s.logged_in:                  # logged out by an earlier frame of the same delivery
            s.dropped += n
            self.counters["reports_dropped"] += n
            return
        if s.queue:
            self._queue(s, frame, n)
            self._flush(s)
        elif not self._try_send(s, frame):
            self._queue(s, frame, n)
        else:
            s.delivered += n
        if s.queued_bytes > self.daemon.session_out_bytes // 2 or len(s.queue) > self.daemon.queue_frames:
            self.disconnect(s, GatewayReject.SLOW_CONSUMER)

    @staticmethod
    def _queue(s: Session, frame, n: int) -> None:
        data = bytes(frame)
        s.queue.append((data, n))
        s.queued_bytes += len(data)

    def _try_send(self, s: Session, frame) -> bool:
        """Send ``frame`` now, or return False: the pipe is full."""
        err = self.router.send(s.identity, frame)
        if err:
            if err == _EAGAIN:
                return False
            if err == _EHOSTUNREACH:            # the peer is gone
                self.disconnect(s, GatewayReject.HEARTBEAT_TIMEOUT, tell=False)
                return True
            raise zmq.ZMQError(err)
        s.last_sent = time.monotonic_ns()
        return True

    def _flush(self, s: Session) -> None:
        while s.queue and s.logged_in:
            frame, n = s.queue[0]
            if not self._try_send(s, frame):
                return
            s.queue.popleft()
            s.queued_bytes -= len(frame)
            s.delivered += n

    def timers(self, now: int, backlog: bool) -> None:
        """Flush queues, disconnect the silent, send heartbeats to the idle.

        ``backlog``: frames wait unread, so nobody is judged silent until they are read.
        """
        for s in self.all[1:]:
            if not s.logged_in:
                continue
            if s.queue:
                self._flush(s)
            if not backlog and now - s.last_heard > s.heartbeat_ns * self.daemon.heartbeat_misses:
                self.disconnect(s, GatewayReject.HEARTBEAT_TIMEOUT)
            elif now - s.last_sent >= s.heartbeat_ns and not s.queue:
                self._try_send(s, self._frame(MsgType.SERVER_HEARTBEAT, SERVER_HEARTBEAT_DTYPE, s,
                                              report_seq=int(self.reports.report_seq[s.idx])))

    def close_all(self, reason: int) -> None:
        """Flush and end every login (shutdown)."""
        for s in self.all[1:]:
            if s.logged_in:
                self._flush(s)
                self.disconnect(s, reason)
