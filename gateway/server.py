"""The engine daemon: a ZeroMQ order-entry gateway around one :class:`matching.Engine`.

One thread runs the hot path (``Gateway.run``)::

    poll -> drain frames (bounded) -> gateway checks + decode into ONE command array
         -> stamp seq + receive time -> journal.append / journal.sync -> engine.process
         -> build execution reports -> route them to sessions (+ drop copies, market data)

The drain and the sends (:class:`gateway._sockio.OrderSocket`, libzmq's C API on the pyzmq
socket; pyzmq where libzmq is not found, see :mod:`zmqio.libzmq`), the checks and decoding
(:class:`gateway._step.Screen`), the report building (:func:`gateway._step.build_reports`) and
their grouping by session are one C loop each. A batch holding a session message or a
malformed frame takes the numpy path (``_screen_numpy``), which is also the reference the C
screen is tested against (:mod:`gateway.reports_numpy` is the reports' reference). No Python
code runs per message; per frame, only appending it to the batch's lists; per session, the
numbering, gap-fill window and send of its reports.

Sockets
-------
- order entry: a ROUTER with CURVE (server key pair; client public keys allowed through
  ``zmq.auth.ThreadAuthenticator``, ZAP domain ``orders``). ``ROUTER_MANDATORY`` is on and
  every send is non-blocking: a full pipe (the peer's high-water mark) parks the frame in the
  session's bounded queue, and a session whose queue overflows is logged out
  (``SLOW_CONSUMER``). A dead or slow client never blocks the loop. Queues are bounded in
  bytes (``daemon.connection_in_bytes``, ``daemon.session_out_bytes``): frames are bounded
  in size, so ZeroMQ's high-water marks in frames are bounds in bytes.
- a session is bound at LOGIN to its connection's file descriptor and CURVE key; the drain
  holds every frame on the session's routing id to both (:data:`gateway._sockio.FOREIGN`
  otherwise), and the socket's monitor ends the session when its connection closes. A
  connection with another key on a routing id a session last used is closed (``_squatter``).
- admin: a second ROUTER with CURVE, admin keys only (ZAP domain ``admin``), JSON requests
  and replies (see :mod:`gateway.admin`).

The schedule
------------
With ``[schedule]`` enabled, ``Gateway.schedule`` is a :class:`gateway.schedule.ScheduleDriver`.
Each loop iteration asks it (after the drain, so every order of the batch was received
before the clock was read) for the phase, block-window and end-of-day commands the timetable
wants now; they join the batch after the orders and the operator's commands, as operator
commands (session 0), and are sequenced and journaled like everything else. Operator
commands are shown to the driver when they are queued, so a halt is never overridden and a
resume is followed in the same batch by the scheduled phase.

The journal hook
----------------
``Gateway.journal`` is a :class:`gateway.journal.Journal` in the state dir (or any object
with ``append(commands)``, ``sync()`` and ``close()``, e.g. :class:`NullJournal`). The loop
calls ``append`` then ``sync`` after sequencing and before the engine sees the batch
(``_commit``); reports are built from the engine's events and sent only after that, so no
acknowledgement or execution report leaves before ``sync()`` returned: under ``fsync``
never before the batch's fsync returned. Under ``interval`` the loop also calls ``sync()``
when idle, so the last batch is fsynced within about ``interval_ms`` even if nothing else
arrives.
A journal that cannot write raises :class:`gateway.journal.JournalWriteError`; the batch is
then refused, not applied (:class:`gateway.storage.StorageGuard`): a full disk is a state
the daemon waits out, any other storage error stops it.

Recovery
--------
(:mod:`gateway.persistence`, a part of :class:`Gateway`.) At start the journal is opened (every record verified; a torn tail truncated with a log
line; damage anywhere else stops the start with the segment file and byte offset), the
newest snapshot that restores (engine ``snapshot-<last seq>.bin`` + gateway tables
``gateway-<last seq>.npz``) is loaded, damaged ones being skipped with a log line, and
every later journal record is replayed (``_replay_record``) through the same table update
as the live loop (``_reports``): order -> session routing, client order ids, open orders,
per-session report counters and last client order id. With no usable snapshot the state is
rebuilt from a fresh engine and the whole journal (the start-up account commands are
journaled like any others).

Reports and gap fill
--------------------
Each session's reports of sequenced commands are numbered (``report_seq``) and kept in a
bounded window (:mod:`gateway.gapfill`) in ``_deliver``, whether the session is logged in or
not; gateway rejects are answered with ``report_seq`` 0 and not kept, so the numbering
depends on the journal alone. Replay at start routes the replayed reports through the same
``_route``/``_deliver`` with ``_replaying`` set (numbered and kept, not sent), on top of the
counters and windows the snapshot carries, so a session logging in with ``GAP_FILL`` after a
crash receives the reports it missed byte for byte.

Snapshots are written at graceful shutdown, by the admin ``snapshot`` and periodically
(``[durability] snapshot_every_commands`` / ``snapshot_every_s``, checked on the timer
tick); the periodic and admin ones by a forked child while the loop goes on
(:mod:`gateway.persistence`). After each one ``_prune`` keeps the newest ``keep_snapshots``
and deletes the journal segments no kept snapshot needs.
"""
from __future__ import annotations

import gc
import json
import logging
import os
import signal
import socket
import sys
import threading
import time
from collections import deque
from pathlib import Path

import numpy as np
import zmq
import zmq.auth
from zmq.auth.thread import ThreadAuthenticator
from zmq.utils.monitor import parse_monitor_message

from matching import (
    COMMAND_DTYPE, EVENT_DTYPE, CommandType, Engine, InstrumentStatus,
)

from feeds.dropcopy import ZAP_DOMAIN as DROP_COPY_DOMAIN, DropCopy, bind_drop_copy
from feeds.encoder import FeedEncoder
from feeds.service import FeedService, bind_feed

from .admin import describe_events
from .gapfill import GAP_FILL_FRAME_REPORTS, ReportWindow
from .config import MarketConfig
from .journal import Journal, JournalError, JournalTailLost
from .statelock import StateLock, StateLocked
from .logs import Throttle, log_operator_events
from .replay import engine_for_config, snapshots
from .protocol import (
    HEARTBEAT_DTYPE, INBOUND_SIZE, LOGIN_ACK_DTYPE, LOGIN_DTYPE, LOGOUT_DTYPE, MAX_FRAME_BYTES, ORDER_DTYPE, PROTOCOL_VERSION,
    REPORT_DTYPE, SERVER_HEARTBEAT_DTYPE, SERVER_LOGOUT_DTYPE, GatewayReject, LoginFlag, MsgType,
    CREATING_TYPES, OPERATOR, ORDER_TYPES, ReportFlag, decode_orders, reserved_mask,
)
from ._sockio import FOREIGN, MULTIPART, UNBOUND, OrderSocket
from ._step import Screen, build_reports, flood_limit, group_by_session, number_reports, stamp_seq
from zmqio.libzmq import functions as libzmq_functions
from .errors import GatewayError
from .persistence import Persistence
from .storage import R_STORAGE, Storage, StorageGuard
from .schedule import ScheduleDriver, clock_from_env, real_clock

__all__ = ["Gateway", "NullJournal", "GatewayError", "load_or_create_keys", "SNAPSHOT_GLOB"]

FEED_HEARTBEAT_NS = 500_000_000           # market data heartbeat every half second
log = logging.getLogger("chuanyu.gateway")

SNAPSHOT_GLOB = "snapshot-*.bin"
_ORDER_WORDS = INBOUND_SIZE // 8
_ORDER_RESERVED = reserved_mask(ORDER_DTYPE).view("<u8")
_SESSION_RESERVED = {int(MsgType.LOGIN): reserved_mask(LOGIN_DTYPE), int(MsgType.LOGOUT): reserved_mask(LOGOUT_DTYPE),
                     int(MsgType.HEARTBEAT): reserved_mask(HEARTBEAT_DTYPE)}
_NO_COMMANDS = np.zeros(0, dtype=COMMAND_DTYPE)
_IS_ORDER = np.zeros(256, dtype=bool)          # by msg_type: an order-entry message
_IS_ORDER[list(ORDER_TYPES)] = True
_CREATES = np.zeros(256, dtype=bool)           # by msg_type: creates an order, needs a new client order id
_CREATES[list(CREATING_TYPES)] = True


_CMD_SIDE_FIELDS = ("side", "order_type", "tif", "instrument", "account", "order_id",
                    "client_order_id", "price", "qty")

# Plain ints for the hot path: IntEnum attribute access costs microseconds per batch.
_LOGIN, _HEARTBEAT = int(MsgType.LOGIN), int(MsgType.HEARTBEAT)
_NOBLOCK, _MORE_NOBLOCK = int(zmq.NOBLOCK), int(zmq.SNDMORE | zmq.NOBLOCK)
_EAGAIN, _EHOSTUNREACH = int(zmq.EAGAIN), int(zmq.EHOSTUNREACH)
_R_UNKNOWN_TYPE = int(GatewayReject.UNKNOWN_MESSAGE_TYPE)
_R_RESERVED = int(GatewayReject.RESERVED_NOT_ZERO)
_R_NOT_AUTHORISED = int(GatewayReject.NOT_AUTHORISED)
_R_READ_ONLY = int(GatewayReject.READ_ONLY_SESSION)
_R_SHUTTING_DOWN = int(GatewayReject.SHUTTING_DOWN)
_R_RATE = int(GatewayReject.RATE_LIMITED)
_R_DUP = int(GatewayReject.DUPLICATE_CLIENT_ORDER_ID)
_R_BAD_COID = int(GatewayReject.BAD_CLIENT_ORDER_ID)
_DROPPED = 0xFFFF          # numpy path: a flooding session's message dropped without a reject (no code)
_REJECT_CODES = frozenset(int(r) for r in GatewayReject)
_MAX_REPORT_FRAME_BYTES = GAP_FILL_FRAME_REPORTS * REPORT_DTYPE.itemsize    # a report frame, at most


def _user_id(frame: zmq.Frame) -> str | None:
    """A received frame's ZAP user id (its connection's CURVE public key), None without one."""
    try:
        return frame.get("User-Id")
    except zmq.ZMQError:
        return None


class NullJournal:
    """A journal hook that keeps nothing (tests and tools; the daemon uses :class:`Journal`).

    ``append(commands)`` receives each sequenced ``COMMAND_DTYPE`` batch before the engine
    does; ``sync()`` returns once the batch is durable under the configured policy. The
    loop sends no report for a batch before ``sync()`` has returned.
    """

    mode = "none"

    def append(self, batch: np.ndarray) -> None:
        pass

    def sync(self) -> None:
        pass

    def close(self) -> None:
        pass


class _Session:
    """The gateway's state for one configured session."""

    __slots__ = ("idx", "cfg", "identity", "user_id", "public_key", "logged_in", "heartbeat_ns",
                 "last_heard", "last_sent", "report_seq", "queue", "queued_bytes", "screen", "delivered",
                 "dropped", "logins", "window")

    def __init__(self, idx: int, cfg, public_key: str, retain: int = 0) -> None:
        self.idx, self.cfg, self.public_key = idx, cfg, public_key
        self.identity = None
        self.user_id = None
        self.logged_in = False
        self.heartbeat_ns = 0
        self.last_heard = self.last_sent = 0
        self.report_seq = 0           # reports addressed to the session, delivered or not
        self.window = ReportWindow(retain)   # the newest of them, for gap fill
        self.queue: deque = deque()   # frames the pipe would not take yet
        self.queued_bytes = 0         # their size
        self.screen = None            # the gateway's Screen: holds the state the checks change
        self.delivered = 0
        self.dropped = 0
        self.logins = 0

    # The state the per-message checks change lives in the C batch step's arrays.
    @property
    def coid_last(self) -> int:
        """Highest client order id of an order-creating message seen."""
        return int(self.screen.coid_last[self.idx])

    @coid_last.setter
    def coid_last(self, value: int) -> None:
        self.screen.coid_last[self.idx] = value

    @property
    def tokens(self) -> float:
        return float(self.screen.tokens[self.idx])

    @tokens.setter
    def tokens(self, value: float) -> None:
        self.screen.tokens[self.idx] = value

    @property
    def refilled(self) -> int:
        return int(self.screen.refilled[self.idx])

    @refilled.setter
    def refilled(self, value: int) -> None:
        self.screen.refilled[self.idx] = value


class _Authenticator(ThreadAuthenticator):
    """pyzmq's ZAP thread, remembering the peer address of the request it is handling (for
    the refusal log: the credentials callback is given the key alone)."""

    peer = None

    async def handle_zap_message(self, msg) -> None:
        self.peer = msg[3].decode("utf-8", "replace") if len(msg) > 3 else None
        await super().handle_zap_message(msg)


class _KeyAllowlist:
    """The ZAP credentials provider of one domain: a set of z85 public keys; refusals are
    counted and logged.

    ``callback`` runs on the authenticator's thread, once per CURVE handshake: a set lookup,
    and for a refused key a count and a set insert under a lock. A flood of handshakes cannot
    flood the log: a refused key is logged at its first refusal in an interval of
    ``summary_s`` (at most ``log_keys`` keys an interval); the rest only count, and
    :meth:`summary` (the loop's timer, and at close) logs one line per interval with them.
    ``refused`` is the total, for the status and the metrics.
    """

    def __init__(self, keys, domain: str, peer=lambda: None, summary_s: float = 60.0, log_keys: int = 20) -> None:
        self.keys = {k.encode() if isinstance(k, str) else k for k in keys}
        self.domain, self._peer, self.summary_s, self.log_keys = domain, peer, summary_s, log_keys
        self.refused = 0
        self._lock = threading.Lock()
        self._logged: set = set()         # keys logged one by one in this interval
        self._quiet = 0                   # refusals in this interval not logged one by one
        self._since = time.monotonic()

    def callback(self, domain, key) -> bool:
        if key in self.keys:
            return True
        with self._lock:
            self.refused += 1
            first = key not in self._logged and len(self._logged) < self.log_keys
            if first:
                self._logged.add(key)
            else:
                self._quiet += 1
        if first:
            who = key.decode("ascii", "replace") if isinstance(key, bytes) else str(key)
            log.warning("CURVE handshake refused on the %s port: key %s from %s is not allowed (further refusals "
                        "are counted and summed up every %d s)", self.domain, who, self._peer() or "?",
                        self.summary_s, extra={"event": "curve_refused", "domain": self.domain, "key": who,
                                               "peer": self._peer()})
        return False

    def summary(self, final: bool = False) -> None:
        """Log the refusals of the interval not logged one by one; start a new interval when it is over."""
        now = time.monotonic()
        with self._lock:
            if not final and now - self._since < self.summary_s:
                return
            quiet, keys, span = self._quiet, len(self._logged), now - self._since
            self._quiet, self._since = 0, now
            self._logged.clear()
        if quiet:
            log.warning("%d refused CURVE handshakes on the %s port in the last %.0f s not logged one by one "
                        "(%d keys logged; %d refused since start)", quiet, self.domain, span, keys, self.refused,
                        extra={"event": "curve_refused_summary", "domain": self.domain, "refused": quiet,
                               "seconds": round(span, 1), "total": self.refused})


def load_or_create_keys(keys_dir: Path, name: str, create: bool, what: str) -> tuple[bytes, bytes | None]:
    """The (public, secret) key pair ``name`` in ``keys_dir``; secret is None if absent.

    ``create``: make the pair when neither file exists.
    """
    public = keys_dir / f"{name}.key"
    secret = keys_dir / f"{name}.key_secret"
    if not public.exists() and not secret.exists() and create:
        keys_dir.mkdir(parents=True, exist_ok=True)
        zmq.auth.create_certificates(str(keys_dir), name)
    if secret.exists():
        return zmq.auth.load_certificate(str(secret))
    if public.exists():
        return zmq.auth.load_certificate(str(public))
    raise GatewayError(f"{what}: no key pair {name!r} in {keys_dir} (make one with `chuanyu keys {keys_dir} {name}`)")


class Gateway(Persistence, StorageGuard):
    """The engine daemon. Build it, :meth:`bind`, then :meth:`run` until shut down.

    Parameters
    ----------
    config : MarketConfig
        The market, the sessions and the daemon settings.
    state_dir : path
        Keys (unless configured elsewhere), snapshots and ``endpoints.json``.
    journal : object, optional
        The journal hook (``append`` / ``sync`` / ``close``); by default a
        :class:`gateway.journal.Journal` in ``state_dir`` with the ``[durability]`` settings.
    clock : callable, optional
        The schedule's clock (returns a ``datetime``); the wall clock by default. Only used
        when the configuration's ``[schedule]`` is enabled.
    accept_journal_loss : bool
        Start even when the journal ends before its mark (a lost newest segment): the
        operator's override (``chuanyu engine --accept-journal-loss``), logged.
    apply_config : bool
        Where the configuration differs from the recovered market, journal the difference as
        operator commands instead of refusing to start (``chuanyu engine --apply-config``;
        see :mod:`gateway.drift`).
    """

    def __init__(self, config: MarketConfig, state_dir, journal=None, clock=None,
                 accept_journal_loss: bool = False, apply_config: bool = False) -> None:
        self.config = config
        self.state_dir = Path(state_dir)
        try:
            self._lock = StateLock(self.state_dir, f"chuanyu engine, started {time.strftime('%Y-%m-%d %H:%M:%S')}")
        except StateLocked as exc:
            raise GatewayError(str(exc)) from None
        except OSError as exc:
            raise GatewayError(f"cannot lock the state dir {self.state_dir}: {exc}") from None
        try:
            self._open(journal, clock, accept_journal_loss, apply_config)
        except BaseException:
            self._abandon()
            raise

    def _abandon(self) -> None:
        """Close what a refused start had opened; the state dir is free for the next try."""
        for part in ("disclosure", "metrics", "journal"):       # whichever _open reached
            if getattr(self, part, None) is not None:
                getattr(self, part).close()
        if getattr(self, "ctx", None) is not None:
            self.ctx.term()
        self._lock.release()

    def _open(self, journal, clock, accept_journal_loss: bool, apply_config: bool) -> None:
        config = self.config
        self.daemon = config.daemon
        if journal is None:
            dur = config.durability
            try:
                journal = Journal(self.state_dir, dur.mode, dur.interval_ms, dur.segment_bytes,
                                  accept_loss=accept_journal_loss)
            except JournalTailLost as exc:
                raise GatewayError(f"cannot recover the journal: {exc}. Restore the segment (see OPERATIONS.md, "
                                   "Recovery), or start with --accept-journal-loss to run without those "
                                   "commands") from None
            except JournalError as exc:
                raise GatewayError(f"cannot recover the journal: {exc}") from None
            except OSError as exc:
                raise GatewayError(f"cannot open the journal in {self.state_dir}: {exc}") from None
        self.journal = journal
        self.recovery = {"snapshot": None, "skipped_snapshots": [], "replayed_records": 0,
                         "replayed_commands": 0, "torn_tail": str(getattr(journal, "torn", None) or "") or None,
                         "journal_loss": str(getattr(journal, "lost", None) or "") or None}
        self.ctx = zmq.Context()
        self.auth = None
        self.orders = self.admin = None
        self._sockio = None                        # the order socket through libzmq's C API, if found
        self._connections = None                   # the order socket's monitor: connections opened, closed
        self.feed = None                         # bound in bind()
        self.drop_copy = None                    # bound in bind() when a session has drop_copy = true
        self._stopping = False
        self.shutdown_reply = None
        self.started = time.time()
        self.counters = dict(frames=0, messages=0, batches=0, commands=0, events=0, gateway_rejects=0,
                             reports=0, reports_dropped=0, bad_frames=0)
        # Prometheus metrics (gateway.metrics) only when a port is configured: with None each
        # hook below is one attribute test per batch
        self.metrics = None
        if self.daemon.metrics_port:
            from .metrics import Metrics       # noqa: PLC0415  (prometheus_client only when asked for)
            self.metrics = Metrics()
            self.metrics.watch(self)
            if hasattr(self.journal, "on_fsync"):
                self.journal.on_fsync = self.metrics.observe_fsync
        self._load_keys()
        self._build_sessions()
        self._order_session = np.zeros(0, dtype=np.int32)    # by engine order id: entering session index
        self._order_account = np.zeros(0, dtype=np.int32)
        self._order_coid = np.zeros(0, dtype=np.int64)
        self._order_open = np.zeros(0, dtype=bool)
        self._pending: list = []                   # (operator command rows, admin request or None)
        self.storage = Storage()                   # the journal's storage: a full disk is a state (gateway.storage)
        self.fast_screen = True                    # False: every batch takes the numpy path (tests)
        self._cancel_after: list = []              # sessions gone with cancel-on-disconnect
        self._replaying = False                    # recovery: reports are numbered and kept, not sent
        self._snapshot_seq = 0                     # last seq in the newest snapshot (periodic snapshots)
        self._snapshot_at = time.monotonic()
        self._snapshot_child = None                # the background snapshot being written (persistence)
        self._snapshot_waiters: list = []          # admin snapshot requests for the next one
        self._snapshot_retry_at = 0.0              # after a failed one, no periodic try before this
        self.next_seq = 1
        self._schedule_state = None                # the driver's state from the restored snapshot
        self.disclosure = self._open_disclosure()  # before recovery: replay rebuilds the tape and the figures
        self.engine = self._restore_or_bootstrap()
        self._reconcile_config(apply_config)
        self._grow_orders(int(self.engine.next_order_id))
        rec = self.recovery
        log.info("recovery: snapshot %s (%d damaged skipped), %d journal records replayed (%d commands)%s; "
                 "next seq %d", rec["snapshot"] or "none", len(rec["skipped_snapshots"]), rec["replayed_records"],
                 rec["replayed_commands"], f", torn tail truncated: {rec['torn_tail']}" if rec["torn_tail"] else "",
                 self.next_seq, extra={"event": "recovery", **rec, "next_seq": self.next_seq})
        self.schedule: ScheduleDriver | None = None
        if config.schedule.enabled:
            self.schedule = ScheduleDriver(config.schedule, [i.symbol for i in config.instruments],
                                           clock or real_clock(config.schedule),
                                           statuses=[int(i.status) for i in self.engine.instruments],
                                           state=self._schedule_state)

    # ------------------------------------------------------------------ setup
    def _keys_dir(self) -> Path:
        d = Path(self.config.security.keys_dir)
        return d if d.is_absolute() else self.state_dir / d

    def _load_keys(self) -> None:
        sec, keys = self.config.security, self._keys_dir()
        create = sec.generate_missing_keys
        # every client pins the server's public key: a market with a journal never gets a new
        # one by itself (a restore that forgot keys/ would lock everyone out)
        existing = bool(getattr(self.journal, "last_seq", 0))
        restore = (f"; this state dir already holds a market: restore its {keys.name}/ from the backup (a new "
                   "server key would lock out every client, which pins its public key)") if existing else ""
        try:
            self.server_public, self.server_secret = load_or_create_keys(keys, sec.server_key, create and not existing,
                                                                         "security.server_key")
        except GatewayError as exc:
            raise GatewayError(f"{exc}{restore}") from None
        if self.server_secret is None:
            raise GatewayError(f"security.server_key: {keys / sec.server_key}.key_secret is missing{restore}")
        self.admin_public = [load_or_create_keys(keys, name, create, f"security.admin_keys[{n}]")[0].decode()
                             for n, name in enumerate(sec.admin_keys)]
        self.session_keys = {}
        for n, s in enumerate(self.config.sessions):
            if s.public_key is not None:
                self.session_keys[s.id] = s.public_key
            else:
                self.session_keys[s.id] = load_or_create_keys(keys, s.key, create, f"sessions[{n}].key")[0].decode()

    def _build_sessions(self) -> None:
        cfg = self.config
        self.sessions: list[_Session | None] = [None]          # index 0: the operator
        self.session_by_id: dict[int, _Session] = {}
        for s in cfg.sessions:
            sess = _Session(len(self.sessions), s, self.session_keys[s.id], cfg.durability.retain_reports)
            self.sessions.append(sess)
            self.session_by_id[s.id] = sess
        n = len(self.sessions)
        self._session_ids = np.array([0] + [s.id for s in cfg.sessions], dtype=np.int32)
        order = np.argsort(self._session_ids, kind="stable")
        self._ids_sorted, self._idx_sorted = self._session_ids[order], order.astype(np.int32)
        self._by_identity: dict[bytes, int] = {}
        # each session's connection: the file descriptor it logged in on (-1: none) and the
        # CURVE key it must come with; every frame on its routing id is held to both
        self._peer_fd = np.full(n, -1, dtype=np.int32)
        self._peer_key = [None] + [s.public_key.encode() for s in self.sessions[1:]]
        self._identity_owner: dict[bytes, int] = {}      # routing id -> the session last logged in on it
        self._open_fds: set[int] = set()                 # the order socket's connections (its monitor)
        self._security_log = Throttle()                  # a line per offending key and interval, not per frame
        # authorisation: may session index i act for account a?
        self._account_member = {a.id: a.member for a in cfg.accounts}
        self._auth = np.zeros((n, cfg.max_accounts), dtype=bool)
        for sess in self.sessions[1:]:
            members = set(sess.cfg.members)
            ids = [a for a, m in self._account_member.items() if m in members]
            self._auth[sess.idx, ids] = True
        # an order the operator entered for an account (an auction lot) reports to the account's
        # first configured session: its platform learns of the auction's fills
        self._account_home = np.argmax(self._auth, axis=0).astype(np.int32)
        # a session for no member (the regulator's drop copy) only reads: its orders are told so
        self._read_only = np.array([False] + [not s.cfg.members for s in self.sessions[1:]])
        self._drop_copy = [s for s in self.sessions[1:] if s.cfg.drop_copy]
        rates = [0] + [s.rate_limit for s in cfg.sessions]
        bursts = [0] + [s.burst for s in cfg.sessions]
        self._screen = Screen(self._session_ids, rates, bursts, self._auth, cfg.max_accounts)
        self._flood_limit = flood_limit(rates, bursts)       # RATE_LIMITED refusals a second before a logout
        self.rate_limit_logouts = np.zeros(n, dtype=np.int64)
        for sess in self.sessions[1:]:
            sess.screen = self._screen
        self._limited = np.zeros(n, dtype=bool)
        self._limited[[s.idx for s in self.sessions[1:] if s.cfg.rate_limit]] = True

    def _new_engine(self) -> Engine:
        return engine_for_config(self.config)

    # ------------------------------------------------------------------ sockets
    def bind(self) -> dict:
        """Start authentication, bind both sockets; return the endpoints."""
        net = self.config.network
        self.auth = _Authenticator(self.ctx, log=logging.getLogger("chuanyu.zap"))
        self.auth.start()
        peer = lambda: self.auth.peer             # noqa: E731  (read on the auth thread, which sets it)
        self.allowlists = {"orders": _KeyAllowlist(self.session_keys.values(), "orders", peer),
                           "admin": _KeyAllowlist(self.admin_public, "admin", peer),
                           "drop_copy": _KeyAllowlist((s.public_key for s in self._drop_copy), "drop copy", peer)}
        self.auth.configure_curve_callback("orders", self.allowlists["orders"])
        self.auth.configure_curve_callback("admin", self.allowlists["admin"])
        self.orders = self._server_socket(b"orders", net.order_port)
        found = libzmq_functions()
        self._sockio = OrderSocket(found, self.orders, self._peer_fd, self._peer_key) if found else None
        self._connections = self.orders.get_monitor_socket(zmq.EVENT_ACCEPTED | zmq.EVENT_DISCONNECTED)
        self.admin = self._server_socket(b"admin", net.admin_port)
        feed = feed_snapshots = None
        if net.feeds:
            # Market data starts from the engine as restored, in a new epoch (see feeds.client).
            encoder = FeedEncoder([i.symbol for i in self.config.instruments], self.engine, epoch=time.time_ns())
            encoder.load()
            try:
                publisher, snapshots, (feed, feed_snapshots) = bind_feed(self.ctx, net.host, net.feed_port,
                                                                         net.snapshot_port, sndhwm=net.feed_hwm,
                                                                         sndbuf=net.feed_sndbuf)
            except zmq.ZMQError as exc:
                raise GatewayError(f"network.feed_port / network.snapshot_port: cannot bind {net.host}:"
                                   f"{net.feed_port or '*'} / {net.snapshot_port or '*'}: {exc}") from None
            self.feed = FeedService(encoder, publisher, snapshots, net.snapshot_min_interval_ms,
                                    net.snapshot_max_per_s, net.snapshot_max_pending)
        drop_copy = None
        if self._drop_copy:
            # executions with both accounts: CURVE, and only the drop-copy sessions' keys pass ZAP
            self.auth.configure_curve_callback(DROP_COPY_DOMAIN.decode(), self.allowlists["drop_copy"])
            try:
                sock, drop_copy = bind_drop_copy(self.ctx, net.host, net.drop_copy_port, self.server_public,
                                                 self.server_secret)
            except zmq.ZMQError as exc:
                raise GatewayError(f"network.drop_copy_port: cannot bind {net.host}:{net.drop_copy_port}: "
                                   f"{exc}") from None
            self.drop_copy = DropCopy(sock, epoch=time.time_ns())
        self.endpoints = {
            "orders": self.orders.last_endpoint.decode(),
            "admin": self.admin.last_endpoint.decode(),
            "feed": feed,
            "feed_snapshots": feed_snapshots,
            "drop_copy": drop_copy,
            "server_public_key": self.server_public.decode(),
            "keys_dir": str(self._keys_dir().resolve()),
            "pid": os.getpid(),
            "instruments": [i.symbol for i in self.config.instruments],
            "metrics": None,
        }
        if self.metrics is not None:
            try:
                self.endpoints["metrics"] = self.metrics.serve(net.host, self.daemon.metrics_port)
            except OSError as exc:
                raise GatewayError(f"cannot serve metrics on {net.host}:{self.daemon.metrics_port} "
                                   f"(daemon.metrics_port / --metrics-port): {exc.strerror or exc}") from None
        log.info("listening: orders %s, admin %s, feed %s, metrics %s", self.endpoints["orders"],
                 self.endpoints["admin"], feed, self.endpoints["metrics"],
                 extra={"event": "bind", **{k: self.endpoints.get(k) for k in (
                     "orders", "admin", "feed", "feed_snapshots", "drop_copy", "metrics")}})
        tmp = self.state_dir / "endpoints.json.tmp"
        tmp.write_text(json.dumps(self.endpoints, indent=2) + "\n")
        tmp.replace(self.state_dir / "endpoints.json")
        return self.endpoints

    def _server_socket(self, domain: bytes, port: int):
        sock = self.ctx.socket(zmq.ROUTER)
        sock.linger = 0
        sock.curve_server = True
        sock.curve_secretkey = self.server_secret
        sock.curve_publickey = self.server_public
        sock.zap_domain = domain
        sock.router_mandatory = True
        if domain == b"orders":
            # ZeroMQ bounds a connection's queues in frames: frames of a bounded size make them
            # bounds in bytes. A frame over maxmsgsize ends its connection; one between
            # MAX_FRAME_BYTES and it is answered TOO_MANY_MESSAGES.
            sock.maxmsgsize = 2 * MAX_FRAME_BYTES
            sock.rcvhwm = max(2, self.daemon.connection_in_bytes // (2 * MAX_FRAME_BYTES))
            sock.sndhwm = max(2, self.daemon.session_out_bytes // 2 // _MAX_REPORT_FRAME_BYTES)
        else:
            sock.maxmsgsize = 1 << 20
            sock.sndhwm, sock.rcvhwm = 1_000, 1_000
        host = self.config.network.host
        try:
            if port:
                sock.bind(f"tcp://{host}:{port}")
            else:
                sock.bind_to_random_port(f"tcp://{host}")
        except zmq.ZMQError as exc:
            sock.close()
            raise GatewayError(f"cannot bind tcp://{host}:{port or '*'}: {exc}") from None
        return sock

    def close(self) -> None:
        self._sockio = None
        if self._connections is not None:
            self.orders.disable_monitor()
            self._connections.close(linger=0)
        for sock in (self.orders, self.admin):
            if sock is not None:
                sock.close(linger=200)
        if self.feed is not None:
            self.feed.close()                      # joins the snapshot thread
        if self.disclosure is not None:
            self.disclosure.close()
        if self.drop_copy is not None:
            self.drop_copy.publisher.close(linger=0)
        if self.auth is not None:
            self.auth.stop()
            for allowlist in getattr(self, "allowlists", {}).values():
                allowlist.summary(final=True)         # the refusals not logged one by one
        if self.metrics is not None:
            self.metrics.close()
        self.journal.close()
        self.ctx.term()
        self._lock.release()

    # ------------------------------------------------------------------ the loop
    def request_shutdown(self, *_) -> None:
        """Ask the loop to shut down gracefully (also the SIGTERM handler)."""
        self._stopping = True

    def run(self) -> None:
        """Serve until shut down: then stop intake, drain, snapshot, log everyone out."""
        # Everything built so far (config, engine tables, sessions) lives as long as the
        # daemon: freezing it keeps the collector's full passes from walking it mid-batch.
        gc.collect()
        gc.freeze()
        poller = zmq.Poller()
        poller.register(self.orders, zmq.POLLIN)
        poller.register(self.admin, zmq.POLLIN)
        poller.register(self._connections, zmq.POLLIN)
        if self.feed is not None:
            self.feed.start()                      # snapshots answered by a thread (feeds.snapshot_server)
            poller.register(self.feed.snapshot_asks, zmq.POLLIN)
        tick = min(self.daemon.heartbeat_ms, 100)
        next_timer = 0
        next_feed_beat = 0
        schedule = self.schedule
        journal = self.journal
        idle_sync = getattr(journal, "mode", "none") == "interval"
        while not self._stopping:
            timeout = tick
            if idle_sync:
                due = journal.sync_due_ms()
                if due is not None:
                    timeout = min(tick, due)
            ready = dict(poller.poll(timeout))
            if self._connections in ready:
                self._connection_events()
            if self.admin in ready:
                self._serve_admin()
            if self.feed is not None and self.feed.snapshot_asks in ready:
                self.feed.serve_snapshots()            # one encoding for every request waiting
            if self.feed is not None or self.drop_copy is not None:
                now = time.monotonic_ns()
                if now >= next_feed_beat:              # lets subscribers see a lost tail
                    if self.feed is not None:
                        self.feed.heartbeat()
                    if self.drop_copy is not None:
                        self.drop_copy.heartbeat()
                    next_feed_beat = now + FEED_HEARTBEAT_NS
            if self.orders in ready or self._pending or (schedule is not None and schedule.due()):
                self.cycle()
            if idle_sync:                   # idle or not: fsync the last batch once the interval passed
                journal.sync()
            now = time.monotonic_ns()
            if now >= next_timer:
                self._timers(now)
                self._snapshot_tick()              # reap a background snapshot; fork one when due
                next_timer = now + tick * 1_000_000
        self._shutdown()

    def cycle(self) -> int:
        """Drain waiting frames (bounded), run them as one batch, send the reports.

        Returns the number of inbound messages handled.
        """
        payloads, frame_sess, frame_ts = [], [], []
        budget = self.daemon.batch_max * INBOUND_SIZE
        io = self._sockio
        if io is not None:
            size = 0
            while True:
                size, stray = io.drain(self._by_identity, size, budget, payloads, frame_sess, frame_ts)
                if stray is None:
                    break
                self._stray(*stray)
        else:
            self._drain_pyzmq(budget, payloads, frame_sess, frame_ts)
        self.counters["frames"] += len(payloads)
        return self._run_batch(payloads, frame_sess, frame_ts)

    def _drain_pyzmq(self, budget: int, payloads: list, frame_sess: list, frame_ts: list) -> None:
        """:meth:`gateway._sockio.OrderSocket.drain` through pyzmq, where libzmq was not found."""
        recv = self.orders.recv
        by_identity = self._by_identity
        size = 0
        now_ns = time.time_ns
        while size < budget:
            try:
                identity = recv(_NOBLOCK)
            except zmq.Again:
                break
            frame = recv(0, copy=False)
            fd, user_id = frame.get(zmq.SRCFD), _user_id(frame)
            if frame.more:
                while self.orders.rcvmore:
                    recv()
                self._stray(MULTIPART, identity, None, user_id, fd)
                continue
            idx = by_identity.get(identity)
            if idx is None:
                self._stray(UNBOUND, identity, frame.bytes, user_id, fd)
                continue
            if fd != self._peer_fd[idx] or user_id is None or user_id.encode() != self._peer_key[idx]:
                self._stray(FOREIGN, identity, frame.bytes, user_id, fd)
                continue
            payload = frame.bytes
            payloads.append(payload)
            frame_sess.append(idx)
            frame_ts.append(now_ns())
            size += len(payload)

    # ------------------------------------------------------------------ connections
    def _stray(self, kind: int, identity: bytes, payload: bytes | None, user_id: str | None, fd: int) -> None:
        """A frame the drain did not take into the batch (see :meth:`OrderSocket.drain`)."""
        self._connection_events()        # a session whose connection closed is unbound first
        owner = self._identity_owner.get(identity)
        if owner is not None and user_id != self.sessions[owner].public_key:
            self._squatter(self.sessions[owner], identity, user_id, fd)
            return
        idx = self._by_identity.get(identity)
        if idx is not None and fd != self._peer_fd[idx]:
            # the session's own key on another connection: the one it logged in on is gone
            self._disconnect(self.sessions[idx], GatewayReject.CONNECTION_LOST, tell=False)
        if kind == MULTIPART:
            self._refuse_multipart(identity)
        else:
            self._unbound_frame(identity, payload, user_id, fd)

    def _squatter(self, owner: _Session, identity: bytes, user_id: str | None, fd: int) -> None:
        """Another key on a session's routing id: refuse it, close its connection, say so.

        ZeroMQ attaches a second connection with a routing id in use only once the first is
        gone, so the session's own connection has ended; the squatter's is closed so the
        session's platform can come back on its routing id.
        """
        self.counters["routing_id_refused"] = self.counters.get("routing_id_refused", 0) + 1
        if self._by_identity.get(identity) == owner.idx:
            self._disconnect(owner, GatewayReject.CONNECTION_LOST, tell=False)
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
        self._connection_events()
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

    def _connection_events(self) -> None:
        """Apply the order socket's connection events: a session ends with its connection."""
        mon = self._connections
        while mon.poll(0):
            event = parse_monitor_message(mon.recv_multipart())
            fd = int(event["value"])
            if event["event"] == zmq.EVENT_ACCEPTED:
                self._open_fds.add(fd)
                continue
            self._open_fds.discard(fd)
            for idx in np.flatnonzero(self._peer_fd == fd).tolist():
                self._disconnect(self.sessions[idx], GatewayReject.CONNECTION_LOST, tell=False)

    def _run_batch(self, payloads: list, frame_sess: list, frame_ts: list) -> int:
        rejects: list[tuple] = []          # (reports, destination session index, message position)
        screened = (self._screen.screen(payloads, frame_sess, frame_ts, time.monotonic_ns(), self._stopping)
                    if payloads and self.fast_screen and self.storage.available else None)
        if screened is not None:           # the usual batch: well-formed frames of order messages
            cmds, cmd_sess, cmd_pos, refused_pos, refused_reason = screened
            n_msgs = self._screen.last_messages          # with those a flooding session's were dropped
            self._heard(frame_sess)
            if len(refused_pos):
                rejects.append(self._refused(payloads, frame_sess, frame_ts, refused_pos, refused_reason))
        else:
            cmds, cmd_sess, cmd_pos, n_msgs = self._screen_numpy(payloads, frame_sess, frame_ts, rejects)
        waiting = []
        if self.schedule is not None:           # the timetable's commands go after the operator's
            scheduled = self.schedule.tick()
            if scheduled is not None:
                scheduled["session"] = OPERATOR
                self._pending.append((scheduled, None))
        operator = bool(self._pending)
        if self._pending:                       # operator commands go after the orders
            n_orders = len(cmds)
            offset = n_orders
            for rows, admin in self._pending:
                if admin is not None:
                    waiting.append((admin, offset, len(rows)))
                offset += len(rows)
            ops = np.concatenate([rows for rows, _ in self._pending])
            ops["ts"] = time.time_ns()
            cmds = np.concatenate([cmds, ops])
            cmd_sess = np.concatenate([cmd_sess, np.zeros(len(ops), dtype=np.int32)])
            cmd_pos = np.concatenate([cmd_pos, np.arange(n_msgs, n_msgs + len(ops))])
            self._pending = []
        base = self.next_seq
        events = self._commit_or_refuse(cmds, cmd_sess, cmd_pos, waiting, rejects) if len(cmds) else None
        if events is not None:
            if operator and self.schedule is not None:
                self.schedule.observe(events)
            if operator:                        # phase changes, end of day, sanctions: one log line each
                log_operator_events(log, events, [i.symbol for i in self.config.instruments],
                                    cmds["session"][events["cmd_seq"] - base] == OPERATOR)
            reports, dest, rpos = self._reports(events, cmd_sess, cmds["session"], cmd_pos, base)
        else:
            events = np.zeros(0, dtype=EVENT_DTYPE)
            reports, dest, rpos = np.zeros(0, dtype=REPORT_DTYPE), np.zeros(0, dtype=np.int32), np.zeros(0, np.int64)
        if rejects:
            self.counters["gateway_rejects"] += sum(len(r[0]) for r in rejects)
            reports = np.concatenate([r[0] for r in rejects] + [reports])
            dest = np.concatenate([r[1] for r in rejects] + [dest])
            rpos = np.concatenate([r[2] for r in rejects] + [rpos])
        if len(reports):
            self._route(reports, dest, rpos, merged=bool(rejects))
        if self.metrics is not None:
            if rejects:
                self.metrics.observe_rejects(np.concatenate([r[0]["reason"] for r in rejects]))
            if frame_ts:
                self.metrics.observe_round_trip(frame_ts[0], time.time_ns())
        for (identity, request_id), start, n in waiting:
            mine = events[(events["cmd_seq"] >= base + start) & (events["cmd_seq"] < base + start + n)]
            self._admin_reply(identity, {"ok": True, "id": request_id, "events": describe_events(mine)})
        if self._screen.any_flooded:             # after their reports: SERVER_LOGOUT RATE_LIMITED
            self._log_out_flooders()
        self._queue_cancels()
        self.counters["messages"] += n_msgs
        return n_msgs

    def _heard(self, frame_sess: list) -> None:
        heard = time.monotonic_ns()
        for idx in set(frame_sess):
            self.sessions[idx].last_heard = heard

    def _refused(self, payloads, frame_sess, frame_ts, refused_pos, refused_reason) -> tuple:
        """REJECT reports for the messages the C screen refused: (reports, dest, pos)."""
        raw = np.frombuffer(b"".join(payloads), dtype=ORDER_DTYPE)
        counts = np.fromiter(map(len, payloads), dtype=np.int64, count=len(payloads)) // INBOUND_SIZE
        sess = np.repeat(np.array(frame_sess, dtype=np.int32), counts)[refused_pos]
        ts = np.repeat(np.array(frame_ts, dtype=np.int64), counts)[refused_pos]
        return self._message_rejects(raw[refused_pos], sess, ts, refused_reason), sess, refused_pos

    def _screen_numpy(self, payloads: list, frame_sess: list, frame_ts: list, rejects: list) -> tuple:
        """The general path, whole columns at a time: malformed frames and session messages too.

        Appends reject reports to ``rejects``; returns ``(cmds, cmd_sess, cmd_pos, n_msgs)``.
        It is the reference for :class:`gateway._step.Screen`, which handles the usual batch.
        """
        n_msgs = 0
        if payloads:
            lens = np.fromiter(map(len, payloads), dtype=np.int64, count=len(payloads))
            sess_f = np.array(frame_sess, dtype=np.int32)
            ts_f = np.array(frame_ts, dtype=np.int64)
            good = (lens > 0) & (lens % INBOUND_SIZE == 0) & (lens <= MAX_FRAME_BYTES)
            if not good.all():
                for i in np.flatnonzero(~good).tolist():
                    reason = (GatewayReject.TOO_MANY_MESSAGES if lens[i] > MAX_FRAME_BYTES
                              and lens[i] % INBOUND_SIZE == 0 else GatewayReject.MALFORMED_FRAME)
                    r = self._frame_reject(int(sess_f[i]), int(ts_f[i]), reason, int(lens[i]))
                    rejects.append((r, sess_f[i:i + 1], np.full(1, -1)))
                keep = np.flatnonzero(good)
                payloads = [payloads[i] for i in keep.tolist()]
                lens, sess_f, ts_f = lens[keep], sess_f[keep], ts_f[keep]
            self._heard(frame_sess)
        if payloads:
            raw = np.frombuffer(b"".join(payloads), dtype=ORDER_DTYPE)
            n_msgs = len(raw)
            if n_msgs == len(payloads):             # one message per frame
                sess, ts = sess_f, ts_f
            else:
                counts = lens // INBOUND_SIZE
                sess = np.repeat(sess_f, counts)
                ts = np.repeat(ts_f, counts)
            mt = raw["msg_type"]
            is_order = _IS_ORDER[mt]
            reason = np.zeros(n_msgs, dtype=np.uint16)
            words = raw.view("<u8").reshape(n_msgs, _ORDER_WORDS)
            reason[(words & _ORDER_RESERVED).any(axis=1) & is_order] = _R_RESERVED
            if not is_order.all():
                is_session = (mt >= _LOGIN) & (mt <= _HEARTBEAT)
                reason[~(is_order | is_session)] = _R_UNKNOWN_TYPE
                if is_session.any():
                    self._session_messages(raw, sess, np.flatnonzero(is_session), reason)
            ok = is_order & (reason == 0)
            if not self.storage.available:      # a full disk: refused before they use up anything
                reason[ok] = R_STORAGE
                self.storage.refused += int(ok.sum())
                ok[:] = False
            self._session_checks(raw, sess, ok, reason)
            acct = raw["account"]
            in_range = (acct >= 0) & (acct < self.config.max_accounts)
            allowed = self._auth[sess, np.where(in_range, acct, 0)] & in_range
            reason[ok & ~allowed] = _R_NOT_AUTHORISED
            ok &= allowed
            if self._stopping:
                reason[ok] = _R_SHUTTING_DOWN
                ok[:] = False
            refused = (reason != 0) & (reason != _DROPPED)
            pos = np.arange(n_msgs)
            if refused.any():
                rejects.append((self._message_rejects(raw[refused], sess[refused], ts[refused], reason[refused]),
                                sess[refused], pos[refused]))
            if not ok.all():                    # refused messages and heartbeats
                raw, sess, ts, pos = raw[ok], sess[ok], ts[ok], pos[ok]
            cmds = decode_orders(raw)
            cmds["session"] = self._session_ids[sess]
            cmds["ts"] = ts
            return cmds, sess, pos, n_msgs
        return _NO_COMMANDS.copy(), np.zeros(0, dtype=np.int32), np.zeros(0, dtype=np.int64), 0

    # ------------------------------------------------------------------ sequencing and the engine
    def _sequence(self, cmds: np.ndarray, ts: int | None = None) -> np.ndarray:
        """Stamp the global command sequence (and, if given, one receive time)."""
        n = len(cmds)
        stamp_seq(cmds, self.next_seq)
        if ts is not None:
            cmds["ts"] = ts
        self.next_seq += n
        return cmds

    def _commit(self, cmds: np.ndarray) -> np.ndarray:
        # ---- journal hook: the batch is durable before the engine sees it, and no report
        # ---- for it leaves before sync() returns (the journal issue plugs in here).
        self.journal.append(cmds)
        self.journal.sync()
        events = self.engine.process(cmds)
        self.counters["batches"] += 1
        self.counters["commands"] += len(cmds)
        self.counters["events"] += len(events)
        if self.metrics is not None:
            self.metrics.observe_batch(cmds, events, self.engine.resting_orders)
        if self.feed is not None:                  # bound: public data
            self.counters["feed_messages"] = self.counters.get("feed_messages", 0) + self.feed.publish(events)
        if self.disclosure is not None:            # the tape and the end-of-day report
            self.disclosure.record(events)
        if self.drop_copy is not None:
            self.drop_copy.publish(events)
        return events

    # ------------------------------------------------------------------ checks per session
    def _session_checks(self, raw, sess, ok, reason) -> None:
        """Rate limits and client order id order, one numpy pass per session in the batch."""
        is_new = ok & _CREATES[raw["msg_type"]]
        check_rate = self._limited[sess].any()
        if not is_new.any() and not check_rate:
            return
        first = int(sess[0])
        if (sess == first).all():               # one session in the batch: no grouping needed
            groups = [(first, np.arange(len(sess)))]
        else:
            order = np.argsort(sess, kind="stable")
            s_sorted = sess[order]
            cuts = (np.flatnonzero(np.diff(s_sorted)) + 1).tolist()
            groups = [(int(s_sorted[a]), order[a:b]) for a, b in zip([0] + cuts, cuts + [len(order)])]
        now = time.monotonic_ns()
        coids = raw["client_order_id"]
        for idx, rows in groups:
            s = self.sessions[idx]
            if s.cfg.rate_limit:
                elapsed = now - s.refilled if s.refilled else 0
                s.refilled = now
                s.tokens = min(float(s.cfg.burst), s.tokens + elapsed * s.cfg.rate_limit / 1e9)
                live = rows[ok[rows]]
                allowed = int(s.tokens)
                if len(live) > allowed:
                    over = live[allowed:]
                    reason[over] = _R_RATE
                    ok[over] = False
                    is_new[over] = False
                    live = live[:allowed]
                    self._flood_check(idx, rows, over, now, ok, reason, is_new)
                s.tokens -= len(live)
            new_rows = rows[is_new[rows]]
            if len(new_rows):
                c = coids[new_rows]
                if c[0] > s.coid_last and (len(c) == 1 or (c[1:] > c[:-1]).all()):
                    s.coid_last = int(c[-1])          # the usual case: strictly increasing
                    continue
                bad = c <= 0
                prior = np.maximum.accumulate(np.concatenate(([s.coid_last], c)))[:-1]
                dup = (c <= prior) & ~bad
                if bad.any() or dup.any():
                    reason[new_rows[bad]] = _R_BAD_COID
                    reason[new_rows[dup]] = _R_DUP
                    ok[new_rows[bad | dup]] = False
                s.coid_last = max(s.coid_last, int(c.max()))

    def _flood_check(self, idx: int, rows, over, now: int, ok, reason, is_new) -> None:
        """Count session ``idx``'s RATE_LIMITED refusals ``over`` (positions) in its one-second
        window; past ``rate_limit + burst`` mark it flooded and drop the refusal that passed
        the limit and every later message of the session in the batch (no reject): the numpy
        twin of the flood check in :meth:`gateway._step.Screen.screen`."""
        scr = self._screen
        if now - int(scr.window[idx]) >= 1_000_000_000:
            scr.window[idx], scr.over[idx] = now, 0
        room = max(int(self._flood_limit[idx]) - int(scr.over[idx]), 0)
        if len(over) <= room:
            scr.over[idx] += len(over)
            return
        scr.over[idx] += room + 1
        scr.flooded[idx], scr.any_flooded = 1, True
        dropped = rows[np.searchsorted(rows, over[room]):]
        reason[dropped] = _DROPPED
        ok[dropped] = False
        is_new[dropped] = False
        scr.flood_dropped[idx] += len(dropped)

    def _log_out_flooders(self) -> None:
        """Log out each session the screen found flooding (SERVER_LOGOUT RATE_LIMITED), once.

        Called after the batch's reports went out, so the flooder gets its ACKs and rejects
        first; cancel on disconnect applies as for any disconnect.
        """
        scr = self._screen
        scr.any_flooded = False
        for idx in np.flatnonzero(scr.flooded).tolist():
            scr.flooded[idx] = 0
            s = self.sessions[idx]
            self.rate_limit_logouts[idx] += 1
            log.warning("session %s (%d) logged out (RATE_LIMITED): it kept sending far past its rate limit: more than "
                        "%d messages refused RATE_LIMITED within one second (rate_limit + burst); %d messages "
                        "dropped without a reject so far", s.cfg.name, s.cfg.id, int(self._flood_limit[idx]),
                        int(scr.flood_dropped[idx]),
                        extra={"event": "session_flood", "session": s.cfg.name, "session_id": s.cfg.id,
                               "limit": int(self._flood_limit[idx]), "dropped": int(scr.flood_dropped[idx])})
            if s.logged_in:
                self._logout(s, _R_RATE, reply=True)

    def _session_messages(self, raw, sess, rows, reason) -> None:
        """LOGIN / LOGOUT / HEARTBEAT inside a logged-in session's frames (per message: rare)."""
        as_bytes = raw.view(np.uint8).reshape(len(raw), INBOUND_SIZE)
        for i in rows.tolist():
            s = self.sessions[int(sess[i])]
            mt = int(raw["msg_type"][i])
            if (as_bytes[i] & _SESSION_RESERVED[mt]).any():
                reason[i] = _R_RESERVED
            elif mt == MsgType.LOGIN:
                reason[i] = GatewayReject.ALREADY_LOGGED_IN
            elif mt == MsgType.LOGOUT and s.logged_in:
                later = np.flatnonzero(sess[i + 1:] == s.idx) + i + 1
                reason[later[reason[later] == 0]] = GatewayReject.NOT_LOGGED_IN
                self._logout(s, 0, reply=True)

    # ------------------------------------------------------------------ rejects and reports
    def _frame_reject(self, idx: int, ts: int, reason: int, length: int) -> np.ndarray:
        r = np.zeros(1, dtype=REPORT_DTYPE)
        r["msg_type"] = MsgType.REJECT
        r["reason"] = reason
        r["session"] = self._session_ids[idx]
        r["ts"] = ts
        r["qty"] = length
        self.counters["bad_frames"] += 1
        return r

    def _message_rejects(self, raw, sess, ts, reason) -> np.ndarray:
        r = np.zeros(len(raw), dtype=REPORT_DTYPE)
        r["msg_type"] = MsgType.REJECT
        r["reason"] = np.where((reason == _R_NOT_AUTHORISED) & self._read_only[sess], _R_READ_ONLY, reason)
        r["ref_type"] = raw["msg_type"]
        r["session"] = self._session_ids[sess]
        r["ts"] = ts
        for name in _CMD_SIDE_FIELDS:
            r[name] = raw[name]
        return r

    def _grow_orders(self, max_id: int) -> None:
        cap = len(self._order_session)
        if max_id < cap:
            return
        new = max(1024, cap * 2, max_id + 1)
        for name in ("_order_session", "_order_account", "_order_coid", "_order_open"):
            old = getattr(self, name)
            arr = np.zeros(new, dtype=old.dtype)
            arr[:cap] = old
            setattr(self, name, arr)

    def _reports(self, events, cmd_sess, cmd_session_ids, cmd_pos, base):
        """Execution reports for ``events``, in event order, with their destinations.

        The C loop :func:`gateway._step.build_reports`; :func:`gateway.reports_numpy.build_reports`
        is its reference.
        """
        if self.engine.next_order_id > len(self._order_session):
            self._grow_orders(self.engine.next_order_id - 1)
        return build_reports(events, cmd_sess, cmd_session_ids, cmd_pos, base, self._order_session,
                             self._order_account, self._order_coid, self._order_open,
                             self._account_home)

    def _route(self, reports: np.ndarray, dest: np.ndarray, pos: np.ndarray, merged: bool) -> None:
        """Send each session its reports as one frame, plus drop copies.

        A session's reports follow its messages' order (``pos``), then event order. Engine
        reports already come in that order; ``merged`` says gateway rejects were mixed in.
        """
        if merged:
            order = np.lexsort((reports["seq"], pos))
            reports, dest = reports[order], dest[order]
        if not self._replaying:
            self.counters["reports"] += len(reports)
        if self._drop_copy:
            copy = reports.copy()
            copy["flags"] |= np.uint8(ReportFlag.DROP_COPY)
            for s in self._drop_copy:             # a drop-copy session's own reports come once, as its own
                others = copy[dest != s.idx]
                if len(others):
                    self._deliver(s, others, merged)
        reports, bounds = group_by_session(reports, np.ascontiguousarray(dest, dtype=np.int32), len(self.sessions))
        for idx, a, b in bounds:
            if idx != OPERATOR:
                self._deliver(self.sessions[idx], reports[a:b], merged)

    def _deliver(self, s: _Session, reports: np.ndarray, merged: bool = False) -> None:
        """Number a session's reports (``report_seq``), keep them for gap fill, send them.

        ``merged``: gateway rejects may be among them; those stay outside the sequence
        (``report_seq`` 0, never kept: see :mod:`gateway.gapfill`). While the journal is
        replayed at start nothing is sent: the numbering and the kept window are rebuilt.
        """
        n = len(reports)
        if merged:
            numbered = np.flatnonzero(reports["cmd_seq"] != 0)
            k = len(numbered)
            if k:
                reports["report_seq"][numbered] = np.arange(s.report_seq + 1, s.report_seq + k + 1)
                s.window.add(reports[numbered])
        else:
            k = n
            number_reports(reports, s.report_seq + 1)
            s.window.add(reports)
        s.report_seq += k
        if self._replaying:
            return
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

    def _send(self, s: _Session, frame, n: int = 0) -> None:
        """Send or queue one frame (bytes or a contiguous report array); never blocks.

        A session whose undelivered frames pass ``daemon.session_out_bytes`` (half in ZeroMQ's
        pipe, half here) or ``daemon.queue_frames`` is logged out: ``SLOW_CONSUMER``.
        """
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
            self._disconnect(s, GatewayReject.SLOW_CONSUMER)

    @staticmethod
    def _queue(s: _Session, frame, n: int) -> None:
        data = bytes(frame)
        s.queue.append((data, n))
        s.queued_bytes += len(data)

    def _try_send(self, s: _Session, frame) -> bool:
        """Send ``frame`` (bytes or a contiguous report array) now, or return False: the pipe is full."""
        io = self._sockio
        if io is not None:
            err = io.send(s.identity, frame)
        else:
            try:
                self.orders.send(s.identity, _MORE_NOBLOCK)
                self.orders.send(frame, _NOBLOCK)
                err = 0
            except zmq.ZMQError as exc:
                err = exc.errno
        if err:
            if err == _EAGAIN:
                return False
            if err == _EHOSTUNREACH:            # the peer is gone
                self._disconnect(s, GatewayReject.HEARTBEAT_TIMEOUT, tell=False)
                return True
            raise zmq.ZMQError(err)
        s.last_sent = time.monotonic_ns()
        return True

    def _flush(self, s: _Session) -> None:
        while s.queue and s.logged_in:
            frame, n = s.queue[0]
            if not self._try_send(s, frame):
                return
            s.queue.popleft()
            s.queued_bytes -= len(frame)
            s.delivered += n

    # ------------------------------------------------------------------ sessions
    def _session_frame(self, msg_type: int, dtype, s: _Session, **fields) -> bytes:
        m = np.zeros(1, dtype=dtype)
        m["msg_type"] = msg_type
        m["session"] = s.cfg.id
        m["server_time"] = time.time_ns()
        for k, v in fields.items():
            m[k] = v
        return m.tobytes()

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
            if int(msg["msg_type"]) != MsgType.LOGIN:
                reason = (GatewayReject.NOT_LOGGED_IN if int(msg["msg_type"]) in set(map(int, MsgType))
                          else GatewayReject.UNKNOWN_MESSAGE_TYPE)
            elif reserved_mask(LOGIN_DTYPE)[np.frombuffer(payload, np.uint8) != 0].any():
                reason = GatewayReject.RESERVED_NOT_ZERO
            elif int(msg["version"]) != PROTOCOL_VERSION:
                reason = GatewayReject.UNSUPPORTED_VERSION
            elif int(msg["session"]) not in self.session_by_id:
                reason = GatewayReject.UNKNOWN_SESSION
            elif self._stopping:
                reason = GatewayReject.SHUTTING_DOWN
            else:
                s = self.session_by_id[int(msg["session"])]
                fill = bool(int(msg["flags"]) & LoginFlag.GAP_FILL)
                after = int(msg["last_report_seq"])
                if user_id != s.public_key:
                    reason = GatewayReject.KEY_NOT_ALLOWED
                elif s.logged_in:
                    reason = GatewayReject.ALREADY_LOGGED_IN
                elif int(msg["flags"]) & ~int(LoginFlag.GAP_FILL):
                    reason = GatewayReject.RESERVED_NOT_ZERO
                elif fill and after > s.report_seq:
                    reason = GatewayReject.REPORT_SEQ_AHEAD
                elif fill and not s.window.can_fill(after):
                    reason = GatewayReject.REPORTS_NOT_RETAINED
                else:
                    self._login(s, identity, fd, int(msg["heartbeat_ms"]), after if fill else None)
                    return
        r = np.zeros(1, dtype=REPORT_DTYPE)
        r["msg_type"] = MsgType.REJECT
        r["reason"] = reason
        r["ts"] = time.time_ns()
        if msg is not None:
            r["ref_type"] = msg["msg_type"]
            r["session"] = msg["session"] if int(msg["msg_type"]) == MsgType.LOGIN else 0
            if reason == GatewayReject.REPORTS_NOT_RETAINED:    # where a gap fill could start
                r["qty"] = self.session_by_id[int(msg["session"])].window.first
            elif reason == GatewayReject.REPORT_SEQ_AHEAD:
                r["qty"] = self.session_by_id[int(msg["session"])].report_seq
        else:
            r["qty"] = len(payload)
        self.counters["gateway_rejects"] += 1
        if self.metrics is not None:
            self.metrics.observe_rejects(r["reason"])
        try:
            self.orders.send(identity, zmq.SNDMORE | zmq.NOBLOCK)
            self.orders.send(r.tobytes(), zmq.NOBLOCK)
        except zmq.ZMQError:
            pass

    def _login(self, s: _Session, identity: bytes, fd: int, heartbeat_ms: int, fill_after: int | None = None) -> None:
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
        s.tokens, s.refilled = float(s.cfg.burst), 0
        self._by_identity[identity] = s.idx
        self._peer_fd[s.idx] = fd
        for old in [i for i, owner in self._identity_owner.items() if owner == s.idx]:
            del self._identity_owner[old]            # one routing id a session: the dict stays small
        self._identity_owner[identity] = s.idx
        flags = (1 if s.cfg.cancel_on_disconnect else 0) | (2 if s.cfg.drop_copy else 0)
        ack = self._session_frame(MsgType.LOGIN_ACK, LOGIN_ACK_DTYPE, s, version=PROTOCOL_VERSION,
                                  heartbeat_ms=hb, flags=flags, report_seq=s.report_seq,
                                  next_cmd_seq=self.next_seq, rate_limit=s.cfg.rate_limit,
                                  last_client_order_id=s.coid_last)
        self._try_send(s, ack)
        log.info("session %s (%d) logged in", s.cfg.name, s.cfg.id,
                 extra={"event": "session_login", "session": s.cfg.name, "session_id": s.cfg.id,
                        "heartbeat_ms": hb, "report_seq": s.report_seq})
        if fill_after is not None and fill_after < s.report_seq:
            # queued behind the LOGIN_ACK on the same pipe, so they arrive before any new report
            missed = s.window.after(fill_after)
            for a in range(0, len(missed), GAP_FILL_FRAME_REPORTS):
                chunk = missed[a:a + GAP_FILL_FRAME_REPORTS]
                self._send(s, chunk.tobytes(), len(chunk))
            log.info("session %s (%d): gap fill of report_seq %d..%d", s.cfg.name, s.cfg.id, fill_after + 1,
                     s.report_seq, extra={"event": "session_gap_fill", "session": s.cfg.name, "session_id": s.cfg.id,
                                          "first": fill_after + 1, "last": s.report_seq})

    def _logout(self, s: _Session, reason: int, reply: bool) -> None:
        if reply and s.logged_in:
            self._flush(s)
            self._try_send(s, self._session_frame(MsgType.SERVER_LOGOUT, SERVER_LOGOUT_DTYPE, s, reason=reason,
                                                  report_seq=s.report_seq))
        self._disconnect(s, reason, tell=False)

    def _disconnect(self, s: _Session, reason: int, tell: bool = True) -> None:
        """End a session's login; cancel its open orders if it asked for that."""
        if not s.logged_in:
            return
        if tell:
            s.queue.clear()
            s.queued_bytes = 0
            try:
                self.orders.send(s.identity, zmq.SNDMORE | zmq.NOBLOCK)
                self.orders.send(self._session_frame(MsgType.SERVER_LOGOUT, SERVER_LOGOUT_DTYPE, s,
                                                     reason=reason, report_seq=s.report_seq), zmq.NOBLOCK)
            except zmq.ZMQError:
                pass
        self._by_identity.pop(s.identity, None)
        self._peer_fd[s.idx] = -1
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
        if s.cfg.cancel_on_disconnect and not self._stopping:
            self._cancel_after.append(s)

    def session_cancels(self, session_id: int) -> np.ndarray:
        """A CANCEL for every open order a session entered (its mass cancel)."""
        idx = self._session_index(np.array([session_id]))[0]
        if idx == OPERATOR:
            raise ValueError(f"unknown session {session_id}")
        ids = np.flatnonzero(self._order_open & (self._order_session == idx))
        rows = np.zeros(len(ids), dtype=COMMAND_DTYPE)
        rows["type"] = CommandType.CANCEL
        rows["order_id"] = ids
        rows["account"] = self._order_account[ids]
        return rows

    def _queue_cancels(self) -> None:
        """CANCEL every open order of the sessions gone since the last batch (next batch)."""
        while self._cancel_after:
            s = self._cancel_after.pop()
            rows = self.session_cancels(s.cfg.id)
            if len(rows):
                rows["session"] = s.cfg.id
                self._pending.append((rows, None))

    def _timers(self, now: int) -> None:
        backlog = bool(self.orders.poll(0))      # unread frames: judge nobody silent until they are read
        for s in self.sessions[1:]:
            if not s.logged_in:
                continue
            if s.queue:
                self._flush(s)
            if not backlog and now - s.last_heard > s.heartbeat_ns * self.daemon.heartbeat_misses:
                self._disconnect(s, GatewayReject.HEARTBEAT_TIMEOUT)
            elif now - s.last_sent >= s.heartbeat_ns and not s.queue:
                self._try_send(s, self._session_frame(MsgType.SERVER_HEARTBEAT, SERVER_HEARTBEAT_DTYPE, s,
                                                      report_seq=s.report_seq))
        self._queue_cancels()
        if not self.storage.available:
            self._probe_storage()
        for allowlist in self.allowlists.values():       # refused CURVE handshakes, summed up per interval
            allowlist.summary()

    def _refuse_multipart(self, identity: bytes) -> None:
        """A message of more than one frame (its parts already read): refuse it as malformed."""
        idx = self._by_identity.get(identity)
        r = self._frame_reject(idx or 0, time.time_ns(), GatewayReject.MALFORMED_FRAME, 0)
        if self.metrics is not None:
            self.metrics.observe_rejects(r["reason"])
        if idx:
            self._deliver(self.sessions[idx], r, merged=True)
        else:
            try:
                self.orders.send(identity, zmq.SNDMORE | zmq.NOBLOCK)
                self.orders.send(r.tobytes(), zmq.NOBLOCK)
            except zmq.ZMQError:
                pass

    # ------------------------------------------------------------------ admin
    def _serve_admin(self) -> None:
        from .admin import handle     # noqa: PLC0415  (admin imports this module's types)
        while True:
            try:
                parts = self.admin.recv_multipart(zmq.NOBLOCK, copy=False)
            except zmq.Again:
                return
            identity = parts[0].bytes
            try:
                request = json.loads(parts[-1].bytes.decode("utf-8"))
                if not isinstance(request, dict):
                    raise ValueError("a request is a JSON object")
            except (ValueError, UnicodeDecodeError) as exc:
                self._admin_reply(identity, {"ok": False, "error": f"bad request: {exc}"})
                continue
            try:
                key = parts[-1].get("User-Id")        # the admin's CURVE key, set by the ZAP handler
            except zmq.ZMQError:
                key = None
            try:
                reply = handle(self, identity, request, key)
            except Exception as exc:               # a defect in one request must not stop the market
                log.exception("admin request %r failed", request.get("op"))
                reply = {"ok": False, "id": request.get("id"), "error": f"internal error: {exc!r}"}
            if reply is not None:
                self._admin_reply(identity, reply)

    def _admin_reply(self, identity: bytes, reply: dict) -> None:
        try:
            self.admin.send_multipart([identity, json.dumps(reply).encode()], zmq.NOBLOCK)
        except zmq.ZMQError:
            pass

    def submit_operator(self, identity: bytes, request_id, rows: np.ndarray) -> None:
        """Queue operator commands for the next batch; the admin reply follows their events."""
        rows = rows.copy()
        rows["session"] = OPERATOR
        if self.schedule is not None:
            self.schedule.note_operator(rows)
        self._pending.append((rows, (identity, request_id)))

    def status(self) -> dict:
        eng = self.engine
        return {
            "uptime_s": round(time.time() - self.started, 3),
            "pid": os.getpid(),
            "next_seq": self.next_seq,
            "resting_orders": int(eng.resting_orders),
            "durability": getattr(self.journal, "mode", "none"),
            "journal": self.journal_status(),
            "state_digest": eng.state_digest(),
            "last_seq": self.next_seq - 1,
            "recovery": dict(self.recovery),
            "storage": self.storage.describe(),
            "snapshots": {"last_seq": self._snapshot_seq, "kept": [p.name for _, p in snapshots(self.state_dir)],
                          "writing": self._snapshot_child.last if self._snapshot_child is not None else None},
            "counters": dict(self.counters),
            "curve_refused": {name: a.refused for name, a in getattr(self, "allowlists", {}).items()},
            "feed_snapshots": dict(self.feed.snapshot_server.counts) if self.feed is not None else None,
            "instruments": [{"index": n, "symbol": i.symbol, "status": InstrumentStatus(int(i.status)).name}
                            for n, i in enumerate(eng.instruments)],
            "sessions": [{"id": s.cfg.id, "name": s.cfg.name, "logged_in": s.logged_in,
                          "report_seq": s.report_seq, "queued_frames": len(s.queue), "queued_bytes": s.queued_bytes,
                          "delivered": s.delivered, "dropped": s.dropped, "logins": s.logins,
                          "rate_limit_logouts": int(self.rate_limit_logouts[s.idx])}
                         for s in self.sessions[1:]],
            "endpoints": getattr(self, "endpoints", {}),
            "schedule": self.schedule.describe() if self.schedule is not None else {"enabled": False},
        }

    def journal_status(self) -> dict:
        j = self.journal
        c = dict(getattr(j, "counters", {}))
        out = {"mode": getattr(j, "mode", "none"), "last_seq": getattr(j, "last_seq", 0)}
        if c:
            out.update(bytes=c["bytes_written"], records=c["records"], commands=c["commands"], fsyncs=c["fsyncs"],
                       fsync_ms=round(c["fsync_ns"] / 1e6, 3),
                       fsync_mean_us=round(c["fsync_ns"] / c["fsyncs"] / 1e3, 1) if c["fsyncs"] else 0.0,
                       segments_opened=c["segments"])
            if getattr(j, "mode", "none") == "interval":
                out["interval_ms"] = j.interval_ns // 1_000_000
        return out

    # ------------------------------------------------------------------ snapshots and shutdown
    def _shutdown(self) -> None:
        """Stop intake, drain what is waiting, snapshot, log every session out."""
        log.info("shutting down: draining, then %s", "a snapshot" if self.daemon.snapshot_on_shutdown else
                 "no snapshot (daemon.snapshot_on_shutdown = false)", extra={"event": "shutdown_requested"})
        for _ in range(1000):                 # drain: frames already waiting get SHUTTING_DOWN
            if not self.orders.poll(0) and not self._pending:
                break
            self.cycle()
        self._wait_snapshot()                 # a background snapshot still being written
        # no snapshot onto storage that failed or is full: the journal has every acknowledged command
        path = self.write_snapshot() if self.daemon.snapshot_on_shutdown and self.storage.available else None
        for s in self.sessions[1:]:
            if s.logged_in:
                self._flush(s)
                self._disconnect(s, GatewayReject.SHUTTING_DOWN)
        if self.shutdown_reply is not None:
            self._admin_reply(self.shutdown_reply[0], {"ok": True, "id": self.shutdown_reply[1],
                                                       "snapshot": str(path) if path else None})
        self.snapshot_path = path


def serve(config: MarketConfig, state_dir, out=sys.stdout, accept_journal_loss: bool = False,
          apply_config: bool = False) -> int:
    """Run the daemon until shut down (SIGTERM, SIGINT or the admin ``shutdown``); exit status.

    1 when it stopped because the journal's storage failed beyond a full disk (see
    ``Gateway.storage``). ``accept_journal_loss``, ``apply_config``: see :class:`Gateway`.

    With the schedule enabled, ``CHUANYU_FAKE_CLOCK_START`` (an ISO local date and time) and
    ``CHUANYU_FAKE_CLOCK_SPEED`` (default 1) run it on a fake clock: a test and demo aid.
    """
    clock, clock_note = None, None
    if config.schedule.enabled:
        try:
            clock, clock_note = clock_from_env(config.schedule)
        except ValueError as exc:
            raise GatewayError(str(exc)) from None
    log.info("engine starting: pid %d, config %s, state dir %s", os.getpid(), config.source, state_dir,
             extra={"event": "start", "pid": os.getpid(), "config": config.source, "state_dir": str(state_dir)})
    gw = Gateway(config, state_dir, clock=clock, accept_journal_loss=accept_journal_loss, apply_config=apply_config)
    try:
        gw.bind()
    except BaseException:
        # a half-bound daemon must not keep the auth thread, the metrics server or the journal
        # open; destroy() also closes any socket a failed bind left unreferenced
        if gw.auth is not None:
            gw.auth.stop()
        if gw.metrics is not None:
            gw.metrics.close()
        gw.journal.close()
        gw.ctx.destroy(linger=0)
        raise
    signal.signal(signal.SIGTERM, gw.request_shutdown)
    signal.signal(signal.SIGINT, gw.request_shutdown)
    e = gw.endpoints
    print(f"chuanyu engine: orders {e['orders']} (CURVE; server public key {e['server_public_key']})", file=out)
    print(f"chuanyu engine: admin  {e['admin']}", file=out)
    if e["feed"]:
        print(f"chuanyu engine: feed   {e['feed']} (snapshots {e['feed_snapshots']})", file=out)
    if e.get("drop_copy"):
        print(f"chuanyu engine: drop copy {e['drop_copy']} (CURVE, drop_copy sessions only)", file=out)
    if e.get("metrics"):
        print(f"chuanyu engine: metrics {e['metrics']}", file=out)
    print(f"chuanyu engine: state  {gw.state_dir.resolve()}  keys {e['keys_dir']}", file=out)
    if config.schedule.enabled:
        print(f"chuanyu engine: schedule {config.schedule.describe()}", file=out)
        if clock_note:
            print(f"chuanyu engine: schedule on a {clock_note}: a test/demo aid, not for production", file=out)
    else:
        print("chuanyu engine: schedule off (no [schedule] table or enabled = false): phases change "
              "only by admin commands", file=out)
    print(f"chuanyu engine: {len(config.instruments)} instruments, {len(config.accounts)} accounts, "
          f"{len(config.sessions)} sessions, durability {gw.journal.mode}; ready", file=out, flush=True)
    try:
        gw.run()
    except Exception:
        log.exception("engine failed", extra={"event": "error"})
        raise
    finally:
        gw.close()
    snap = getattr(gw, "snapshot_path", None)
    log.info("shut down at seq %d%s", gw.next_seq - 1, f"; snapshot {snap}" if snap else "",
             extra={"event": "shutdown", "last_seq": gw.next_seq - 1, "snapshot": str(snap) if snap else None})
    print(f"chuanyu engine: shut down{'; snapshot ' + str(snap) if snap else ''}", file=out, flush=True)
    return 1 if gw.storage.state == "failed" else 0
