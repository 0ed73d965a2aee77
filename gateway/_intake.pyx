# cython: language_level=3
"""Intake in C: the gateway checks of a batch of order messages and their decoding.

:meth:`Screen.screen` checks every inbound message of a batch of well-formed frames (type,
reserved bytes, rate limit, client order id, authorisation, shutdown), in the order and with
the reasons of ``docs/PROTOCOL.md`` section 4, and decodes the accepted ones straight into
``COMMAND_DTYPE`` rows, in one pass (a few messages cost ~90 µs in whole-column numpy passes,
~1 µs here). A batch holding a malformed frame or a session message (LOGIN, LOGOUT,
HEARTBEAT) is declined (None) and left to the numpy twin in :mod:`gateway.intake`, which
stays the reference for these rules; both run under the same tests.

The per-session state the checks change (last client order id, rate-limit tokens, flood
window) lives in numpy arrays owned by :class:`Screen`, shared with :class:`gateway.intake.Intake`.
"""
cimport cython
cimport numpy as cnp
from libc.stdint cimport int32_t, int64_t, uint8_t, uint16_t, uint64_t
from libc.string cimport memcpy
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_GET_SIZE

from matching._types cimport Command
from gateway._wire cimport OrderMsg, field_offset

import numpy as np

from matching import COMMAND_DTYPE

from .protocol import (
    CREATING_TYPES, COMMAND_OF, INBOUND_SIZE, MAX_FRAME_BYTES, ORDER_DTYPE, ORDER_TYPES, GatewayReject, MsgType,
    check_layout, reserved_mask,
)

cnp.import_array()

__all__ = ["Screen", "flood_limit", "layout"]


def layout():
    """Size and field offsets of the C order message struct, checked against the dtypes by the tests and at import."""
    cdef OrderMsg m
    return {
        "ORDER": (sizeof(OrderMsg), {
            "msg_type": field_offset(&m.msg_type, &m), "side": field_offset(&m.side, &m), "order_type": field_offset(&m.order_type, &m),
            "tif": field_offset(&m.tif, &m), "stp": field_offset(&m.stp, &m), "flags": field_offset(&m.flags, &m),
            "reserved2": field_offset(&m.reserved2, &m), "instrument": field_offset(&m.instrument, &m),
            "account": field_offset(&m.account, &m), "client_order_id": field_offset(&m.client_order_id, &m),
            "order_id": field_offset(&m.order_id, &m), "price": field_offset(&m.price, &m), "qty": field_offset(&m.qty, &m),
            "contra_account": field_offset(&m.contra_account, &m), "min_qty": field_offset(&m.min_qty, &m),
            "reserved": field_offset(&m.reserved, &m)}),
    }


check_layout("gateway._intake", "ORDER", *layout()["ORDER"], ORDER_DTYPE)

# Flags and codes as plain C constants.
cdef int _LIST_FIXED = MsgType.LIST_FIXED
cdef int _BLOCK_QUOTE = MsgType.BLOCK_QUOTE
cdef int _FIRST_SESSION_TYPE = MsgType.LOGIN
cdef int _LAST_SESSION_TYPE = MsgType.HEARTBEAT
cdef uint16_t _R_UNKNOWN_TYPE = GatewayReject.UNKNOWN_MESSAGE_TYPE
cdef uint16_t _R_RESERVED = GatewayReject.RESERVED_NOT_ZERO
cdef uint16_t _R_RATE = GatewayReject.RATE_LIMITED
cdef uint16_t _R_DUP = GatewayReject.DUPLICATE_CLIENT_ORDER_ID
cdef uint16_t _R_BAD_COID = GatewayReject.BAD_CLIENT_ORDER_ID
cdef uint16_t _R_NOT_AUTHORISED = GatewayReject.NOT_AUTHORISED
cdef uint16_t _R_SHUTTING_DOWN = GatewayReject.SHUTTING_DOWN
cdef uint8_t _FLAG_PARTIAL = 2
cdef Py_ssize_t _MSG = INBOUND_SIZE
cdef Py_ssize_t _MAX_FRAME = MAX_FRAME_BYTES

cdef uint8_t _IS_ORDER[256]
cdef uint8_t _CREATES[256]
cdef uint8_t _COMMAND_OF[256]
cdef uint64_t _RESERVED_WORDS[8]


def _tables():
    for t in range(256):
        _IS_ORDER[t] = _CREATES[t] = 0
        _COMMAND_OF[t] = COMMAND_OF[t]
    for t in ORDER_TYPES:
        _IS_ORDER[int(t)] = 1
    for t in CREATING_TYPES:
        _CREATES[int(t)] = 1
    words = reserved_mask(ORDER_DTYPE).view("<u8")
    for w in range(8):
        _RESERVED_WORDS[w] = words[w]


_tables()


def flood_limit(rate, burst):
    """RATE_LIMITED refusals a session may draw in one second before it is logged out:
    ``rate_limit + burst``, the most it could have had accepted in one second (0: no limit)."""
    return np.where(np.asarray(rate, dtype=np.float64) > 0,
                    np.asarray(rate, dtype=np.float64) + np.asarray(burst, dtype=np.float64), 0.0)


@cython.final
cdef class Screen:
    """The gateway checks of order messages, with the per-session state they change.

    ``coid_last``, ``tokens`` and ``refilled`` are indexed by session index (0: the
    operator) and shared with the Python side; ``auth[session, account]`` says whether a
    session may act for an account.

    A flood costs the daemon at most ``rate_limit + burst`` rejects a second: a session's
    RATE_LIMITED refusals are counted in windows of one second from the first one
    (``over``, ``window``); the refusal that would pass ``rate_limit + burst`` in a window
    marks the session ``flooded`` and it and every later message of the session in the
    batch are dropped without a reject (``flood_dropped``). The caller logs a flooded
    session out (SERVER_LOGOUT RATE_LIMITED) after the batch's reports and clears the mark;
    ``any_flooded`` says whether there is one to look at.
    """
    cdef readonly object coid_last, tokens, refilled, auth, over, window, flooded, flood_dropped
    cdef public bint any_flooded
    cdef readonly Py_ssize_t last_messages
    cdef int64_t[::1] _coid_last
    cdef double[::1] _tokens
    cdef int64_t[::1] _refilled, _stamp, _over, _window, _flood_dropped
    cdef uint8_t[::1] _flooded
    cdef const double[::1] _flood_limit
    cdef const uint8_t[:, ::1] _auth
    cdef const int32_t[::1] _session_ids
    cdef const double[::1] _rate, _burst
    cdef int32_t max_accounts
    cdef int64_t _batch

    def __init__(self, session_ids, rate, burst, auth, int32_t max_accounts):
        n = len(session_ids)
        self.coid_last = np.zeros(n, dtype=np.int64)
        self.tokens = np.asarray(burst, dtype=np.float64).copy()
        self.refilled = np.zeros(n, dtype=np.int64)
        self.auth = np.ascontiguousarray(auth, dtype=np.uint8)
        self._coid_last = self.coid_last
        self._tokens = self.tokens
        self._refilled = self.refilled
        self._stamp = np.zeros(n, dtype=np.int64)
        self._auth = self.auth
        self._session_ids = np.ascontiguousarray(session_ids, dtype=np.int32)
        self._rate = np.ascontiguousarray(rate, dtype=np.float64)
        self._burst = np.ascontiguousarray(burst, dtype=np.float64)
        self._flood_limit = np.ascontiguousarray(flood_limit(self._rate, self._burst), dtype=np.float64)
        self.over = np.zeros(n, dtype=np.int64)
        self.window = np.zeros(n, dtype=np.int64)
        self.flooded = np.zeros(n, dtype=np.uint8)
        self.flood_dropped = np.zeros(n, dtype=np.int64)
        self._over, self._window, self._flooded = self.over, self.window, self.flooded
        self._flood_dropped = self.flood_dropped
        self.any_flooded = False
        self.last_messages = 0
        self.max_accounts = max_accounts
        if self.auth.shape[0] != n or self.auth.shape[1] < max_accounts:
            raise ValueError("auth must be sessions x max_accounts")

    def refill(self, Py_ssize_t idx, int64_t now):
        """Top up one session's token bucket for the time since its last refill."""
        self._refill(idx, now)

    cdef inline void _refill(self, Py_ssize_t idx, int64_t now) noexcept:
        cdef int64_t elapsed = now - self._refilled[idx] if self._refilled[idx] else 0
        self._refilled[idx] = now
        self._tokens[idx] = min(self._burst[idx], self._tokens[idx] + elapsed * self._rate[idx] / 1e9)

    def screen(self, list payloads, list frame_sess, list frame_ts, int64_t now, bint stopping):
        """Check and decode a batch of frames of order messages.

        Returns ``(cmds, cmd_sess, cmd_pos, refused_pos, refused_reason)``: the accepted
        messages as ``COMMAND_DTYPE`` rows (``seq`` left 0), each one's session index and
        position in the batch, and the positions and reasons of the refused ones. Returns
        None, having changed nothing, when a frame is malformed or holds a session message:
        the caller's general path handles those.
        """
        cdef Py_ssize_t n_frames = len(payloads), f, k, i, n = 0, size, w
        cdef const char* data
        cdef const OrderMsg* m
        cdef const uint64_t* words
        for f in range(n_frames):
            payload = payloads[f]
            size = PyBytes_GET_SIZE(payload)
            if size <= 0 or size % _MSG or size > _MAX_FRAME:
                return None
            data = PyBytes_AS_STRING(payload)
            for k in range(size // _MSG):
                if _FIRST_SESSION_TYPE <= <uint8_t>data[k * _MSG] <= _LAST_SESSION_TYPE:
                    return None
            n += size // _MSG
        cmds = np.zeros(n, dtype=COMMAND_DTYPE)
        cmd_sess = np.empty(n, dtype=np.int32)
        cmd_pos = np.empty(n, dtype=np.int64)
        refused_pos = np.empty(n, dtype=np.int64)
        refused_reason = np.empty(n, dtype=np.uint16)
        cdef Command* out = <Command*>cnp.PyArray_DATA(cmds)
        cdef int32_t* o_sess = <int32_t*>cnp.PyArray_DATA(cmd_sess)
        cdef int64_t* o_pos = <int64_t*>cnp.PyArray_DATA(cmd_pos)
        cdef int64_t* r_pos = <int64_t*>cnp.PyArray_DATA(refused_pos)
        cdef uint16_t* r_reason = <uint16_t*>cnp.PyArray_DATA(refused_reason)
        cdef Py_ssize_t ok = 0, bad = 0, pos = 0
        cdef Py_ssize_t s
        cdef int64_t ts
        cdef uint16_t reason
        cdef uint8_t mt
        cdef OrderMsg msg
        cdef Command* c
        self._batch += 1
        self.last_messages = n
        for f in range(n_frames):
            payload = payloads[f]
            data = PyBytes_AS_STRING(payload)
            size = PyBytes_GET_SIZE(payload)
            s = <Py_ssize_t>frame_sess[f]
            ts = <int64_t>frame_ts[f]
            if self._rate[s] > 0 and self._stamp[s] != self._batch:
                self._stamp[s] = self._batch
                self._refill(s, now)
            for k in range(size // _MSG):
                memcpy(&msg, data + k * _MSG, sizeof(OrderMsg))        # frames need not be aligned
                mt = msg.msg_type
                reason = 0
                if not _IS_ORDER[mt]:
                    reason = _R_UNKNOWN_TYPE
                else:
                    words = <const uint64_t*>&msg
                    for w in range(8):
                        if words[w] & _RESERVED_WORDS[w]:
                            reason = _R_RESERVED
                            break
                if not self._flooded[s] and not reason and self._rate[s] > 0:
                    if self._tokens[s] >= 1.0:
                        self._tokens[s] -= 1.0
                    else:
                        reason = _R_RATE
                        if now - self._window[s] >= 1_000_000_000:
                            self._window[s] = now
                            self._over[s] = 0
                        self._over[s] += 1
                        if self._over[s] > self._flood_limit[s]:
                            self._flooded[s] = 1
                            self.any_flooded = True
                if self._flooded[s]:           # past the flood limit: no reject, a logout
                    self._flood_dropped[s] += 1
                    pos += 1
                    continue
                if not reason and _CREATES[mt]:
                    if msg.client_order_id <= 0:
                        reason = _R_BAD_COID
                    elif msg.client_order_id <= self._coid_last[s]:
                        reason = _R_DUP
                    else:
                        self._coid_last[s] = msg.client_order_id
                if not reason and not (0 <= msg.account < self.max_accounts and self._auth[s, msg.account]):
                    reason = _R_NOT_AUTHORISED
                if not reason and stopping:
                    reason = _R_SHUTTING_DOWN
                if reason:
                    r_pos[bad] = pos
                    r_reason[bad] = reason
                    bad += 1
                else:
                    c = &out[ok]
                    c.type = _COMMAND_OF[mt]
                    c.side = msg.side
                    c.order_type = msg.order_type
                    c.tif = msg.tif
                    c.stp = msg.stp
                    c.instrument = msg.instrument
                    c.account = msg.account
                    c.client_order_id = msg.client_order_id
                    c.order_id = msg.order_id
                    c.price = msg.price
                    c.qty = msg.qty
                    if mt == _BLOCK_QUOTE:
                        c.contra_account = msg.contra_account
                        c.flags = msg.flags & _FLAG_PARTIAL
                    elif mt == _LIST_FIXED:
                        c.min_qty = msg.min_qty
                    c.session = self._session_ids[s]
                    c.ts = ts
                    o_sess[ok] = <int32_t>s
                    o_pos[ok] = pos
                    ok += 1
                pos += 1
        if ok == n:                    # the usual batch: nothing refused, nothing to cut
            return cmds, cmd_sess, cmd_pos, refused_pos[:0], refused_reason[:0]
        return cmds[:ok], cmd_sess[:ok], cmd_pos[:ok], refused_pos[:bad], refused_reason[:bad]
