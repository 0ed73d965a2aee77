"""Intake: the first stage of the pipeline. Frames in, checked ``COMMAND_DTYPE`` rows out.

:meth:`Intake.screen` takes a batch of frames (each from a logged-in session, as the
session stage drained them) and returns the commands to sequence plus the gateway's
REJECT reports for the messages it refused, in the order and with the reasons of
``docs/PROTOCOL.md`` section 4: frame shape, message type, reserved bytes, the session's
rate limit and flood limit, client order id order, authorisation, a full disk, shutdown.

Two twins do this work and the same tests run both through :meth:`Intake.screen`
(``tests/unit/gateway/test_step.py``): the C loop (:class:`gateway._intake.Screen`), one
pass over a batch of well-formed frames of order messages, and the numpy path, whole
columns at a time, which also handles malformed frames and session messages inside a
session's frames (LOGIN, LOGOUT, HEARTBEAT). ``fast=True`` (the daemon) tries the C loop
first and leaves to the numpy path only the batches it declines; ``fast=False`` runs every
batch through numpy, the reference for the rules.

The per-session state the checks change (last client order id, token bucket, flood
window) lives in :class:`~gateway._intake.Screen`'s arrays, indexed by session index
(0: the operator), whichever twin runs.
"""
from __future__ import annotations

import logging
import time
from typing import NamedTuple

import numpy as np

from matching import COMMAND_DTYPE

from ._intake import Screen, flood_limit
from .protocol import (
    CREATING_COMMANDS, CREATING_TYPES, HEARTBEAT_DTYPE, INBOUND_SIZE, LOGIN_DTYPE, LOGOUT_DTYPE, MAX_FRAME_BYTES,
    ORDER_DTYPE, ORDER_TYPES, REJECT_ECHO_FIELDS, REPORT_DTYPE, GatewayReject, MsgType, decode_orders, reserved_mask,
)

__all__ = ["Intake", "Screened", "DROPPED"]

log = logging.getLogger("chuanyu.gateway")

DROPPED = 0xFFFF          # numpy path: a flooding session's message dropped without a reject (no code)
_ORDER_WORDS = INBOUND_SIZE // 8
_ORDER_RESERVED = reserved_mask(ORDER_DTYPE).view("<u8")
_SESSION_RESERVED = {int(MsgType.LOGIN): reserved_mask(LOGIN_DTYPE), int(MsgType.LOGOUT): reserved_mask(LOGOUT_DTYPE),
                     int(MsgType.HEARTBEAT): reserved_mask(HEARTBEAT_DTYPE)}
_IS_ORDER = np.zeros(256, dtype=bool)          # by msg_type: an order-entry message
_IS_ORDER[list(ORDER_TYPES)] = True
_CREATES = np.zeros(256, dtype=bool)           # by msg_type: creates an order, needs a new client order id
_CREATES[list(CREATING_TYPES)] = True
# Plain ints for the hot path: IntEnum attribute access costs microseconds per batch.
_LOGIN, _LOGOUT, _HEARTBEAT = int(MsgType.LOGIN), int(MsgType.LOGOUT), int(MsgType.HEARTBEAT)
_R_UNKNOWN_TYPE = int(GatewayReject.UNKNOWN_MESSAGE_TYPE)
_R_RESERVED = int(GatewayReject.RESERVED_NOT_ZERO)
_R_NOT_AUTHORISED = int(GatewayReject.NOT_AUTHORISED)
_R_READ_ONLY = int(GatewayReject.READ_ONLY_SESSION)
_R_SHUTTING_DOWN = int(GatewayReject.SHUTTING_DOWN)
_R_RATE = int(GatewayReject.RATE_LIMITED)
_R_DUP = int(GatewayReject.DUPLICATE_CLIENT_ORDER_ID)
_R_BAD_COID = int(GatewayReject.BAD_CLIENT_ORDER_ID)
_R_STORAGE = int(GatewayReject.STORAGE_UNAVAILABLE)


class Screened(NamedTuple):
    """One batch through intake."""
    cmds: np.ndarray          # COMMAND_DTYPE rows to sequence (seq 0)
    cmd_sess: np.ndarray      # each one's session index
    cmd_pos: np.ndarray       # each one's message position in the batch
    n_msgs: int               # messages in the batch, refused and dropped ones included
    rejects: list             # (REJECT reports, their session indexes, their positions)
    logouts: list             # session indexes that sent LOGOUT (to log out before the batch is run)


def _no_commands() -> Screened:
    return Screened(np.zeros(0, dtype=COMMAND_DTYPE), np.zeros(0, dtype=np.int32), np.zeros(0, dtype=np.int64),
                    0, [], [])


class Intake:
    """The gateway's checks of inbound messages, with the per-session state they change.

    Parameters
    ----------
    config : MarketConfig
        The sessions (rate limits, members) and accounts (members).
    storage : exchange.storage.Storage
        The journal's storage: while it is unavailable, orders are refused (and counted there).
    fast : bool
        True: the C loop first (the daemon); False: the numpy path for every batch.
    counters : dict
        The daemon's counters (``bad_frames``, ``gateway_rejects``).
    """

    def __init__(self, config, storage, fast: bool = True, counters: dict | None = None) -> None:
        sessions = config.sessions
        n = len(sessions) + 1                                  # index 0: the operator
        self.fast = fast
        self.storage = storage
        self.counters = counters if counters is not None else {}
        self.max_accounts = config.max_accounts
        self.session_ids = np.array([0] + [s.id for s in sessions], dtype=np.int32)
        self.configs = [None] + list(sessions)
        member = {a.id: a.member for a in config.accounts}
        # authorisation: may session index i act for account a?
        self.auth = np.zeros((n, config.max_accounts), dtype=bool)
        for i, s in enumerate(sessions, start=1):
            self.auth[i, [a for a, m in member.items() if m in set(s.members)]] = True
        # a session for no member (the regulator's drop copy) only reads: its orders are told so
        self.read_only = np.array([False] + [not s.members for s in sessions])
        rates = [0] + [s.rate_limit for s in sessions]
        bursts = [0] + [s.burst for s in sessions]
        self.state = Screen(self.session_ids, rates, bursts, self.auth, config.max_accounts)
        self.flood_limit = flood_limit(rates, bursts)      # RATE_LIMITED refusals a second before a logout
        self.limited = np.array([r > 0 for r in rates])
        self.rate_limit_logouts = np.zeros(n, dtype=np.int64)

    # ------------------------------------------------------------------ the stage
    def screen(self, payloads: list, frame_sess: list, frame_ts: list, stopping: bool = False) -> Screened:
        """Check and decode one batch of frames (see the module)."""
        if not payloads:
            return _no_commands()
        if self.fast and self.storage.available:
            done = self.state.screen(payloads, frame_sess, frame_ts, time.monotonic_ns(), stopping)
            if done is not None:           # the usual batch: well-formed frames of order messages
                cmds, cmd_sess, cmd_pos, refused_pos, refused_reason = done
                rejects = []
                if len(refused_pos):
                    rejects.append(self._refused(payloads, frame_sess, frame_ts, refused_pos, refused_reason))
                return Screened(cmds, cmd_sess, cmd_pos, self.state.last_messages, rejects, [])
        return self._screen_numpy(payloads, frame_sess, frame_ts, stopping)

    def flooders(self) -> list[int]:
        """The sessions found flooding since the last call (each to be logged out, RATE_LIMITED)."""
        scr = self.state
        if not scr.any_flooded:
            return []
        scr.any_flooded = False
        out = np.flatnonzero(scr.flooded).tolist()
        for idx in out:
            scr.flooded[idx] = 0
            cfg = self.configs[idx]
            self.rate_limit_logouts[idx] += 1
            log.warning("session %s (%d) logged out (RATE_LIMITED): it kept sending far past its rate limit: more than "
                        "%d messages refused RATE_LIMITED within one second (rate_limit + burst); %d messages "
                        "dropped without a reject so far", cfg.name, cfg.id, int(self.flood_limit[idx]),
                        int(scr.flood_dropped[idx]),
                        extra={"event": "session_flood", "session": cfg.name, "session_id": cfg.id,
                               "limit": int(self.flood_limit[idx]), "dropped": int(scr.flood_dropped[idx])})
        return out

    def free_client_order_ids(self, cmds: np.ndarray, sess: np.ndarray) -> None:
        """Let each session use again the client order ids of its orders refused after intake
        (a full disk): the screen accepted only ids above the session's last, increasing, so
        the lowest refused id minus one is at least the last id of a journaled order."""
        new = CREATING_COMMANDS[cmds["type"]]
        coid_last = self.state.coid_last
        for idx in np.unique(sess[new]).tolist():
            lowest = int(cmds["client_order_id"][new & (sess == idx)].min())
            coid_last[idx] = min(int(coid_last[idx]), lowest - 1)

    def frame_reject(self, idx: int, ts: int, reason: int, length: int) -> np.ndarray:
        """A REJECT for a whole frame (``qty``: its length)."""
        r = np.zeros(1, dtype=REPORT_DTYPE)
        r["msg_type"] = MsgType.REJECT
        r["reason"] = reason
        r["session"] = self.session_ids[idx]
        r["ts"] = ts
        r["qty"] = length
        self.counters["bad_frames"] = self.counters.get("bad_frames", 0) + 1
        return r

    # ------------------------------------------------------------------ the numpy twin
    def _refused(self, payloads, frame_sess, frame_ts, refused_pos, refused_reason) -> tuple:
        """REJECT reports for the messages the C screen refused: (reports, dest, pos)."""
        raw = np.frombuffer(b"".join(payloads), dtype=ORDER_DTYPE)
        counts = np.fromiter(map(len, payloads), dtype=np.int64, count=len(payloads)) // INBOUND_SIZE
        sess = np.repeat(np.array(frame_sess, dtype=np.int32), counts)[refused_pos]
        ts = np.repeat(np.array(frame_ts, dtype=np.int64), counts)[refused_pos]
        return self._message_rejects(raw[refused_pos], sess, ts, refused_reason), sess, refused_pos

    def _screen_numpy(self, payloads: list, frame_sess: list, frame_ts: list, stopping: bool) -> Screened:
        """The general path, whole columns at a time: malformed frames and session messages too."""
        rejects: list = []
        lens = np.fromiter(map(len, payloads), dtype=np.int64, count=len(payloads))
        sess_f = np.array(frame_sess, dtype=np.int32)
        ts_f = np.array(frame_ts, dtype=np.int64)
        good = (lens > 0) & (lens % INBOUND_SIZE == 0) & (lens <= MAX_FRAME_BYTES)
        if not good.all():
            for i in np.flatnonzero(~good).tolist():
                reason = (GatewayReject.TOO_MANY_MESSAGES if lens[i] > MAX_FRAME_BYTES
                          and lens[i] % INBOUND_SIZE == 0 else GatewayReject.MALFORMED_FRAME)
                r = self.frame_reject(int(sess_f[i]), int(ts_f[i]), reason, int(lens[i]))
                rejects.append((r, sess_f[i:i + 1], np.full(1, -1)))
            keep = np.flatnonzero(good)
            payloads = [payloads[i] for i in keep.tolist()]
            lens, sess_f, ts_f = lens[keep], sess_f[keep], ts_f[keep]
        if not payloads:
            return _no_commands()._replace(rejects=rejects)
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
        logouts: list = []
        if not is_order.all():
            is_session = (mt >= _LOGIN) & (mt <= _HEARTBEAT)
            reason[~(is_order | is_session)] = _R_UNKNOWN_TYPE
            if is_session.any():
                logouts = self._session_messages(raw, sess, np.flatnonzero(is_session), reason)
        ok = is_order & (reason == 0)
        if not self.storage.available:          # a full disk: refused before they use up anything
            reason[ok] = _R_STORAGE
            self.storage.refused += int(ok.sum())
            ok[:] = False
        self._session_checks(raw, sess, ok, reason)
        acct = raw["account"]
        in_range = (acct >= 0) & (acct < self.max_accounts)
        allowed = self.auth[sess, np.where(in_range, acct, 0)] & in_range
        reason[ok & ~allowed] = _R_NOT_AUTHORISED
        ok &= allowed
        if stopping:
            reason[ok] = _R_SHUTTING_DOWN
            ok[:] = False
        refused = (reason != 0) & (reason != DROPPED)
        pos = np.arange(n_msgs)
        if refused.any():
            rejects.append((self._message_rejects(raw[refused], sess[refused], ts[refused], reason[refused]),
                            sess[refused], pos[refused]))
        if not ok.all():                    # refused messages and heartbeats
            raw, sess, ts, pos = raw[ok], sess[ok], ts[ok], pos[ok]
        cmds = decode_orders(raw)
        cmds["session"] = self.session_ids[sess]
        cmds["ts"] = ts
        return Screened(cmds, sess, pos, n_msgs, rejects, logouts)

    def _session_checks(self, raw, sess, ok, reason) -> None:
        """Rate limits and client order id order, one numpy pass per session in the batch."""
        is_new = ok & _CREATES[raw["msg_type"]]
        check_rate = self.limited[sess].any()
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
        scr = self.state
        for idx, rows in groups:
            cfg = self.configs[idx]
            if cfg.rate_limit:
                refilled = int(scr.refilled[idx])
                elapsed = now - refilled if refilled else 0
                scr.refilled[idx] = now
                scr.tokens[idx] = min(float(cfg.burst), float(scr.tokens[idx]) + elapsed * cfg.rate_limit / 1e9)
                live = rows[ok[rows]]
                allowed = int(scr.tokens[idx])
                if len(live) > allowed:
                    over = live[allowed:]
                    reason[over] = _R_RATE
                    ok[over] = False
                    is_new[over] = False
                    live = live[:allowed]
                    self._flood_check(idx, rows, over, now, ok, reason, is_new)
                scr.tokens[idx] -= len(live)
            new_rows = rows[is_new[rows]]
            if len(new_rows):
                last = int(scr.coid_last[idx])
                c = coids[new_rows]
                if c[0] > last and (len(c) == 1 or (c[1:] > c[:-1]).all()):
                    scr.coid_last[idx] = int(c[-1])          # the usual case: strictly increasing
                    continue
                bad = c <= 0
                prior = np.maximum.accumulate(np.concatenate(([last], c)))[:-1]
                dup = (c <= prior) & ~bad
                if bad.any() or dup.any():
                    reason[new_rows[bad]] = _R_BAD_COID
                    reason[new_rows[dup]] = _R_DUP
                    ok[new_rows[bad | dup]] = False
                scr.coid_last[idx] = max(last, int(c.max()))

    def _flood_check(self, idx: int, rows, over, now: int, ok, reason, is_new) -> None:
        """Count session ``idx``'s RATE_LIMITED refusals ``over`` (positions) in its one-second
        window; past ``rate_limit + burst`` mark it flooded and drop the refusal that passed
        the limit and every later message of the session in the batch (no reject): the numpy
        twin of the flood check in :meth:`gateway._intake.Screen.screen`."""
        scr = self.state
        if now - int(scr.window[idx]) >= 1_000_000_000:
            scr.window[idx], scr.over[idx] = now, 0
        room = max(int(self.flood_limit[idx]) - int(scr.over[idx]), 0)
        if len(over) <= room:
            scr.over[idx] += len(over)
            return
        scr.over[idx] += room + 1
        scr.flooded[idx], scr.any_flooded = 1, True
        dropped = rows[np.searchsorted(rows, over[room]):]
        reason[dropped] = DROPPED
        ok[dropped] = False
        is_new[dropped] = False
        scr.flood_dropped[idx] += len(dropped)

    def _session_messages(self, raw, sess, rows, reason) -> list:
        """LOGIN / LOGOUT / HEARTBEAT inside a logged-in session's frames (per message: rare).

        Returns the sessions that logged out; every later message of such a session in the
        batch is refused NOT_LOGGED_IN.
        """
        as_bytes = raw.view(np.uint8).reshape(len(raw), INBOUND_SIZE)
        logouts: list = []
        for i in rows.tolist():
            idx = int(sess[i])
            mt = int(raw["msg_type"][i])
            if (as_bytes[i] & _SESSION_RESERVED[mt]).any():
                reason[i] = _R_RESERVED
            elif mt == _LOGIN:
                reason[i] = GatewayReject.ALREADY_LOGGED_IN
            elif mt == _LOGOUT and reason[i] == 0 and idx not in logouts:
                later = np.flatnonzero(sess[i + 1:] == idx) + i + 1
                reason[later[reason[later] == 0]] = GatewayReject.NOT_LOGGED_IN
                logouts.append(idx)
        return logouts

    def _message_rejects(self, raw, sess, ts, reason) -> np.ndarray:
        r = np.zeros(len(raw), dtype=REPORT_DTYPE)
        r["msg_type"] = MsgType.REJECT
        r["reason"] = np.where((reason == _R_NOT_AUTHORISED) & self.read_only[sess], _R_READ_ONLY, reason)
        r["ref_type"] = raw["msg_type"]
        r["session"] = self.session_ids[sess]
        r["ts"] = ts
        for name in REJECT_ECHO_FIELDS:
            r[name] = raw[name]
        return r
