# cython: language_level=3
"""The daemon's per-batch work in C: screening and decoding order messages, building reports.

A batch of a few messages used to cost about 90 µs in whole-column numpy passes (some
eighty calls of ~1 µs fixed cost each) while the engine matched it in 2 µs; at one order
per frame that fixed cost, not matching, set the daemon's rate and latency. These two loops
do the same work in one pass each:

- :meth:`Screen.screen` checks every inbound message of a batch of well-formed frames
  (type, reserved bytes, rate limit, client order id, authorisation, shutdown), in the order
  and with the reasons of ``docs/PROTOCOL.md`` section 4, and decodes the accepted ones
  straight into ``COMMAND_DTYPE`` rows. A batch holding a malformed frame or a session
  message (LOGIN, LOGOUT, HEARTBEAT) is left to the numpy path in ``gateway.server``,
  which stays the reference for these rules (``tests/unit/gateway/test_step.py`` runs both
  on the same random batches).
- :func:`build_reports` turns engine events into execution reports with their destination
  sessions and updates the gateway's order tables, like ``Gateway._reports_numpy``.

The per-session state the checks change (last client order id, rate-limit tokens) lives in
numpy arrays owned here and shared with ``gateway.server._Session``.
"""
cimport cython
cimport numpy as cnp
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_FromStringAndSize, PyBytes_GET_SIZE
from libc.stdint cimport int32_t, int64_t, uint8_t, uint16_t, uint32_t, uint64_t
from libc.stdlib cimport calloc, free
from libc.string cimport memcpy

from matching._types cimport Command, Event

import zlib

import numpy as np

from matching import COMMAND_DTYPE, EVENT_DTYPE, EventKind, Side

from .protocol import (
    CREATING_TYPES, COMMAND_OF, INBOUND_SIZE, MAX_FRAME_BYTES, ORDER_DTYPE, ORDER_TYPES, REF_TYPE_OF, REPORT_DTYPE,
    REPORT_TYPE_OFFSET, GatewayReject, MsgType, ReportFlag, reserved_mask,
)

cnp.import_array()

__all__ = ["Screen", "flood_limit", "build_reports", "group_by_session", "number_reports", "stamp_seq",
           "journal_record", "layout"]


ctypedef struct OrderMsg:            # mirrors gateway.protocol.ORDER_DTYPE
    uint8_t msg_type
    uint8_t side
    uint8_t order_type
    uint8_t tif
    uint8_t stp
    uint8_t flags
    uint16_t reserved2
    int32_t instrument
    int32_t account
    int64_t client_order_id
    int64_t order_id
    int64_t price
    int64_t qty
    int32_t contra_account
    int32_t min_qty
    uint8_t reserved[8]


ctypedef struct Report:              # mirrors gateway.protocol.REPORT_DTYPE
    uint8_t msg_type
    uint8_t side
    uint16_t reason
    uint8_t ref_type
    uint8_t flags
    uint8_t order_type
    uint8_t tif
    int32_t instrument
    int32_t account
    int32_t session
    uint8_t trade_type
    uint8_t reserved1
    uint16_t reserved2
    int64_t report_seq
    int64_t seq
    int64_t cmd_seq
    int64_t ts
    int64_t order_id
    int64_t client_order_id
    int64_t price
    int64_t qty
    int64_t leaves
    int64_t trade_id
    int64_t fee


cdef inline Py_ssize_t _off(void* field, void* base):
    return <char*>field - <char*>base


def layout():
    """Sizes and field offsets of the C structs, checked against the dtypes by the tests and at import."""
    cdef OrderMsg m
    cdef Report r
    return {
        "ORDER": (sizeof(OrderMsg), {
            "msg_type": _off(&m.msg_type, &m), "side": _off(&m.side, &m), "order_type": _off(&m.order_type, &m),
            "tif": _off(&m.tif, &m), "stp": _off(&m.stp, &m), "flags": _off(&m.flags, &m),
            "reserved2": _off(&m.reserved2, &m), "instrument": _off(&m.instrument, &m),
            "account": _off(&m.account, &m), "client_order_id": _off(&m.client_order_id, &m),
            "order_id": _off(&m.order_id, &m), "price": _off(&m.price, &m), "qty": _off(&m.qty, &m),
            "contra_account": _off(&m.contra_account, &m), "min_qty": _off(&m.min_qty, &m),
            "reserved": _off(&m.reserved, &m)}),
        "REPORT": (sizeof(Report), {
            "msg_type": _off(&r.msg_type, &r), "side": _off(&r.side, &r), "reason": _off(&r.reason, &r),
            "ref_type": _off(&r.ref_type, &r), "flags": _off(&r.flags, &r), "order_type": _off(&r.order_type, &r),
            "tif": _off(&r.tif, &r), "instrument": _off(&r.instrument, &r), "account": _off(&r.account, &r),
            "session": _off(&r.session, &r), "trade_type": _off(&r.trade_type, &r),
            "reserved1": _off(&r.reserved1, &r), "reserved2": _off(&r.reserved2, &r),
            "report_seq": _off(&r.report_seq, &r), "seq": _off(&r.seq, &r), "cmd_seq": _off(&r.cmd_seq, &r),
            "ts": _off(&r.ts, &r), "order_id": _off(&r.order_id, &r),
            "client_order_id": _off(&r.client_order_id, &r), "price": _off(&r.price, &r), "qty": _off(&r.qty, &r),
            "leaves": _off(&r.leaves, &r), "trade_id": _off(&r.trade_id, &r), "fee": _off(&r.fee, &r)}),
    }


def _check_layout():
    for name, dtype in (("ORDER", ORDER_DTYPE), ("REPORT", REPORT_DTYPE)):
        size, offsets = layout()[name]
        if size != dtype.itemsize or offsets != {f: dtype.fields[f][1] for f in dtype.names}:
            raise ImportError(f"gateway._step: C struct {name} does not match its dtype; rebuild the extension")


_check_layout()

# Flags and codes as plain C constants.
cdef int _NEW_ORDER = MsgType.NEW_ORDER
cdef int _LIST_FIXED = MsgType.LIST_FIXED
cdef int _BLOCK_QUOTE = MsgType.BLOCK_QUOTE
cdef int _FIRST_SESSION_TYPE = MsgType.LOGIN
cdef int _LAST_SESSION_TYPE = MsgType.HEARTBEAT
# a report's ref_type by the causing command's type (protocol.REF_TYPE_OF)
cdef uint8_t _REF_OF[256]
for _i in range(256):
    _REF_OF[_i] = REF_TYPE_OF[_i]

cdef uint16_t _R_UNKNOWN_TYPE = GatewayReject.UNKNOWN_MESSAGE_TYPE
cdef uint16_t _R_RESERVED = GatewayReject.RESERVED_NOT_ZERO
cdef uint16_t _R_RATE = GatewayReject.RATE_LIMITED
cdef uint16_t _R_DUP = GatewayReject.DUPLICATE_CLIENT_ORDER_ID
cdef uint16_t _R_BAD_COID = GatewayReject.BAD_CLIENT_ORDER_ID
cdef uint16_t _R_NOT_AUTHORISED = GatewayReject.NOT_AUTHORISED
cdef uint16_t _R_SHUTTING_DOWN = GatewayReject.SHUTTING_DOWN
cdef uint8_t _FLAG_PARTIAL = 2
cdef uint8_t _ACCEPTED = EventKind.ACCEPTED
cdef uint8_t _REJECTED = EventKind.REJECTED
cdef uint8_t _TRADE = EventKind.TRADE
cdef uint8_t _CANCELLED = EventKind.CANCELLED
cdef uint8_t _REPLACED = EventKind.REPLACED
cdef uint8_t _FILL = MsgType.FILL
cdef uint8_t _BUY = Side.BUY
cdef uint8_t _SELL = Side.SELL
cdef uint8_t _AGGRESSOR = ReportFlag.AGGRESSOR
cdef uint8_t _PRIORITY_KEPT = ReportFlag.PRIORITY_KEPT
cdef uint8_t _REPORT_OFFSET = REPORT_TYPE_OFFSET
cdef Py_ssize_t _MSG = INBOUND_SIZE
cdef Py_ssize_t _MAX_FRAME = MAX_FRAME_BYTES

cdef uint8_t _IS_ORDER[256]
cdef uint8_t _CREATES[256]
cdef uint8_t _COMMAND_OF[256]
cdef uint8_t _ROUTED[256]
cdef uint64_t _RESERVED_WORDS[8]


def _tables():
    for t in range(256):
        _IS_ORDER[t] = _CREATES[t] = _ROUTED[t] = 0
        _COMMAND_OF[t] = COMMAND_OF[t]
    for t in ORDER_TYPES:
        _IS_ORDER[int(t)] = 1
    for t in CREATING_TYPES:
        _CREATES[int(t)] = 1
    for k in (EventKind.ACCEPTED, EventKind.REJECTED, EventKind.CANCELLED, EventKind.REDUCED,
              EventKind.REPLACED, EventKind.TRADE):
        _ROUTED[int(k)] = 1
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


# Per-batch calls take plain ndarrays and read them through their data pointers: a typed
# memoryview argument costs some 0.4 us to validate, and build_reports has nine.
cdef inline bint _is(cnp.ndarray a, object dtype):
    """``a`` is a contiguous 1-d array of the structured ``dtype`` (by identity first: cheap)."""
    return a.ndim == 1 and cnp.PyArray_IS_C_CONTIGUOUS(a) and (
        <object>cnp.PyArray_DESCR(a) is dtype or a.dtype == dtype)


cdef char* _column(cnp.ndarray a, int typenum, str name) except NULL:
    """The data of a 1-d array of ``typenum`` (any stride: see ``_stride``)."""
    if a.ndim != 1 or cnp.PyArray_TYPE(a) != typenum:
        raise TypeError(f"{name} must be a 1-d array of {cnp.PyArray_DescrFromType(typenum)}")
    return <char*>cnp.PyArray_DATA(a)


cdef char* _table(cnp.ndarray a, int typenum, str name) except NULL:
    """The data of a contiguous 1-d array of ``typenum`` (booleans pass as uint8)."""
    if a.ndim != 1 or not cnp.PyArray_IS_C_CONTIGUOUS(a) or not (
            cnp.PyArray_TYPE(a) == typenum or (typenum == cnp.NPY_UINT8 and cnp.PyArray_TYPE(a) == cnp.NPY_BOOL)):
        raise TypeError(f"{name} must be a contiguous 1-d array of {cnp.PyArray_DescrFromType(typenum)}")
    return <char*>cnp.PyArray_DATA(a)


def build_reports(cnp.ndarray events, cnp.ndarray cmd_sess, cnp.ndarray cmd_session_ids, cnp.ndarray cmd_pos,
                  int64_t base, cnp.ndarray order_session, cnp.ndarray order_account, cnp.ndarray order_coid,
                  cnp.ndarray order_open, cnp.ndarray account_home):
    """Execution reports for ``events`` in event order, their destinations and causing positions.

    A TRADE gives two FILLs, buy side first. Updates the order tables (entering session,
    account, client order id, open) as ``Gateway._reports_numpy`` does; an order the
    operator entered reports to its account's home session. The tables must already hold
    every order id the events name (grow them to ``engine.next_order_id`` first).
    Returns ``(reports, dest, pos)``.
    """
    if not _is(events, EVENT_DTYPE):
        raise TypeError("events must be a contiguous EVENT_DTYPE array")
    cdef const Event* ev = <const Event*>cnp.PyArray_DATA(events)
    # per command (any stride)
    cdef const char* c_sess = _column(cmd_sess, cnp.NPY_INT32, "cmd_sess")
    cdef const char* c_sid = _column(cmd_session_ids, cnp.NPY_INT32, "cmd_session_ids")
    cdef const char* c_pos = _column(cmd_pos, cnp.NPY_INT64, "cmd_pos")
    cdef Py_ssize_t st_sess = cmd_sess.strides[0], st_sid = cmd_session_ids.strides[0], st_pos = cmd_pos.strides[0]
    # by engine order id, and by account
    cdef int32_t* order_session_ = <int32_t*>_table(order_session, cnp.NPY_INT32, "order_session")
    cdef int32_t* order_account_ = <int32_t*>_table(order_account, cnp.NPY_INT32, "order_account")
    cdef int64_t* order_coid_ = <int64_t*>_table(order_coid, cnp.NPY_INT64, "order_coid")
    cdef uint8_t* order_open_ = <uint8_t*>_table(order_open, cnp.NPY_UINT8, "order_open")
    cdef const int32_t* account_home_ = <const int32_t*>_table(account_home, cnp.NPY_INT32, "account_home")
    cdef Py_ssize_t n_ev = events.shape[0], i, n = 0, j, cap = order_session.shape[0]
    cdef Py_ssize_t n_cmd = cmd_sess.shape[0], n_acc = account_home.shape[0]
    if cmd_session_ids.shape[0] != n_cmd or cmd_pos.shape[0] != n_cmd:
        raise ValueError("cmd_sess, cmd_session_ids and cmd_pos must have one row per command")
    if order_account.shape[0] != cap or order_coid.shape[0] != cap or order_open.shape[0] != cap:
        raise ValueError("the order tables must have the same length")
    for i in range(n_ev):
        if _ROUTED[ev[i].kind]:
            n += 2 if ev[i].kind == _TRADE else 1
    reports = np.zeros(n, dtype=REPORT_DTYPE)
    dest_arr = np.empty(n, dtype=np.int32)
    pos_arr = np.empty(n, dtype=np.int64)
    cdef Report* out = <Report*>cnp.PyArray_DATA(reports)
    cdef int32_t* dest = <int32_t*>cnp.PyArray_DATA(dest_arr)
    cdef int64_t* pos = <int64_t*>cnp.PyArray_DATA(pos_arr)
    cdef const Event* e
    cdef Report* r
    cdef Py_ssize_t ci
    cdef int32_t src, sid
    cdef int64_t oid, p
    cdef int64_t ids[2]
    cdef int64_t leaves[2]
    cdef int side
    j = 0
    for i in range(n_ev):
        e = &ev[i]
        if not _ROUTED[e.kind]:
            continue
        ci = e.cmd_seq - base
        if ci < 0 or ci >= n_cmd:
            raise IndexError(f"event {e.seq} names command {e.cmd_seq}, outside this batch")
        src = (<const int32_t*>(c_sess + ci * st_sess))[0]
        sid = (<const int32_t*>(c_sid + ci * st_sid))[0]
        p = (<const int64_t*>(c_pos + ci * st_pos))[0]
        oid = e.order_id
        if e.kind == _TRADE:
            ids[0], ids[1] = e.buy_order_id, e.sell_order_id
            leaves[0], leaves[1] = e.buy_leaves, e.sell_leaves
            for side in range(2):
                r = &out[j]
                r.msg_type = _FILL
                r.side = _BUY if side == 0 else _SELL
                r.instrument, r.seq, r.cmd_seq, r.ts = e.instrument, e.seq, e.cmd_seq, e.ts
                r.price, r.qty, r.ref_type = e.price, e.qty, _REF_OF[e.command]
                r.trade_id, r.trade_type = e.trade_id, e.trade_type
                r.order_id = ids[side]
                r.account = e.buy_account if side == 0 else e.sell_account
                r.leaves = leaves[side]
                r.fee = e.buy_fee if side == 0 else e.sell_fee
                r.session = sid
                r.flags = _AGGRESSOR if e.side == r.side else 0
                if 0 <= ids[side] < cap:
                    r.client_order_id = order_coid_[ids[side]]
                    dest[j] = order_session_[ids[side]]
                    if leaves[side] == 0:
                        order_open_[ids[side]] = 0
                else:
                    dest[j] = 0
                pos[j] = p
                j += 1
            continue
        if e.kind == _ACCEPTED:
            if not 0 <= oid < cap:
                raise IndexError(f"order id {oid} beyond the order tables ({cap}); grow them first")
            order_session_[oid] = src if src != 0 else (
                account_home_[e.account] if 0 <= e.account < n_acc else 0)
            order_account_[oid] = e.account
            order_coid_[oid] = e.client_order_id
            order_open_[oid] = 1
        elif e.kind == _CANCELLED and 0 <= oid < cap:
            order_open_[oid] = 0
        r = &out[j]
        r.msg_type = e.kind + _REPORT_OFFSET
        r.instrument, r.seq, r.cmd_seq, r.ts = e.instrument, e.seq, e.cmd_seq, e.ts
        r.price, r.qty, r.ref_type = e.price, e.qty, _REF_OF[e.command]
        r.side, r.reason, r.order_type, r.tif = e.side, e.reason, e.order_type, e.tif
        r.account, r.order_id, r.client_order_id, r.leaves = e.account, oid, e.client_order_id, e.leaves
        r.session = sid
        r.flags = _PRIORITY_KEPT if e.kind == _REPLACED and e.value == 1 else 0
        if e.kind == _ACCEPTED or e.kind == _REJECTED:
            dest[j] = src
        else:
            dest[j] = order_session_[oid] if 0 <= oid < cap else 0
        pos[j] = p
        j += 1
    return reports, dest_arr, pos_arr


def group_by_session(cnp.ndarray reports, cnp.ndarray dest, Py_ssize_t n_sessions):
    """Regroup report rows session by session: a stable counting sort by destination.

    Returns ``(grouped, bounds)``: ``grouped`` holds ``reports``' rows session by session
    (each session's rows in their original order; ``reports`` itself when every row goes to
    one session) and ``bounds`` is ``[(session, start, end), ...]`` into it, ascending by
    session. One call for what a structured-array fancy index (6 us for a handful of rows),
    ``np.argsort``, ``np.diff`` and ``np.flatnonzero`` did.
    """
    if not _is(reports, REPORT_DTYPE):
        raise TypeError("reports must be a contiguous REPORT_DTYPE array")
    cdef const int32_t* dest_ = <const int32_t*>_table(dest, cnp.NPY_INT32, "dest")
    cdef Py_ssize_t n = dest.shape[0], i, s
    if reports.shape[0] != n:
        raise ValueError(f"{reports.shape[0]} reports but {n} destinations")
    if n_sessions < 1:
        raise ValueError("n_sessions must be at least 1")
    cdef int64_t* counts = <int64_t*>calloc(n_sessions + 1, sizeof(int64_t))
    if counts is NULL:
        raise MemoryError()
    try:
        return _group(reports, dest_, n, n_sessions, counts)
    finally:
        free(counts)


cdef tuple _group(cnp.ndarray reports, const int32_t* dest, Py_ssize_t n, Py_ssize_t n_sessions, int64_t* counts):
    cdef Py_ssize_t i, s
    for i in range(n):
        s = dest[i]
        if s < 0 or s >= n_sessions:
            raise IndexError(f"report destination {s} is not a session index (0..{n_sessions - 1})")
        counts[s + 1] += 1
    bounds = []
    for s in range(n_sessions):
        if counts[s + 1]:
            bounds.append((s, counts[s], counts[s] + counts[s + 1]))
        counts[s + 1] += counts[s]
    if len(bounds) <= 1:
        return reports, bounds
    grouped = np.empty(n, dtype=REPORT_DTYPE)
    cdef const Report* src = <const Report*>cnp.PyArray_DATA(reports)
    cdef Report* out = <Report*>cnp.PyArray_DATA(grouped)
    for i in range(n):
        s = dest[i]
        out[counts[s]] = src[i]
        counts[s] += 1
    return grouped, bounds


def number_reports(cnp.ndarray reports, int64_t first):
    """Stamp ``report_seq`` first, first + 1, ... on a contiguous REPORT_DTYPE array."""
    if reports.dtype != REPORT_DTYPE or not cnp.PyArray_IS_C_CONTIGUOUS(reports):
        raise TypeError("reports must be a contiguous REPORT_DTYPE array")
    cdef Report* r = <Report*>cnp.PyArray_DATA(reports)
    cdef Py_ssize_t i
    for i in range(reports.shape[0]):
        r[i].report_seq = first + i


def stamp_seq(cnp.ndarray cmds, int64_t first):
    """Stamp ``seq`` first, first + 1, ... on a contiguous COMMAND_DTYPE array."""
    if not _is(cmds, COMMAND_DTYPE):
        raise TypeError("cmds must be a contiguous COMMAND_DTYPE array")
    cdef Command* c = <Command*>cnp.PyArray_DATA(cmds)
    cdef Py_ssize_t i
    for i in range(cmds.shape[0]):
        c[i].seq = first + i


cdef object _crc32 = zlib.crc32
cdef enum:
    _HEADER = 32                # gateway.journal.HEADER: magic, length, crc, first seq, count, receive time
    _CRC_FROM = 12              # the CRC covers header bytes 12.. and the rows


cdef inline void _put_u32(char* p, uint32_t v) noexcept:
    memcpy(p, &v, 4)            # the layout is little-endian, as every dtype here


cdef inline void _put_i64(char* p, int64_t v) noexcept:
    memcpy(p, &v, 8)


def journal_record(cnp.ndarray batch, int64_t last_seq, bytes magic):
    """One journal record of a sequenced batch: header and rows in one bytes object, laid out
    as :mod:`gateway.journal` documents (the CRC is ``zlib.crc32`` of bytes 12..). Returns
    ``(record, first seq, count)``.

    ``TypeError`` when ``batch`` is not a non-empty 1-d COMMAND_DTYPE array; ``ValueError``
    when its ``seq`` column does not run ``last_seq + 1``, ``last_seq + 2``, ... (from any
    seq >= 1 when ``last_seq`` is 0). One call for what took a dozen numpy and struct calls.
    """
    if batch.ndim != 1 or batch.shape[0] == 0 or not (
            <object>cnp.PyArray_DESCR(batch) is COMMAND_DTYPE or batch.dtype == COMMAND_DTYPE):
        raise TypeError("a journal batch is a non-empty 1-d COMMAND_DTYPE array")
    if len(magic) != 4:
        raise ValueError("the record magic is 4 bytes")
    if not cnp.PyArray_IS_C_CONTIGUOUS(batch):
        batch = np.ascontiguousarray(batch)
    cdef const Command* c = <const Command*>cnp.PyArray_DATA(batch)
    cdef Py_ssize_t n = batch.shape[0], i
    cdef int64_t first = c[0].seq
    cdef bint ok = first >= 1 and (last_seq == 0 or first == last_seq + 1)
    for i in range(1, n):
        if not ok:
            break
        ok = c[i].seq == first + i
    if not ok:
        raise ValueError(f"batch seq {first}..{c[n - 1].seq} does not continue the journal "
                         f"(last seq {last_seq}) one by one")
    cdef Py_ssize_t length = n * sizeof(Command)
    record = PyBytes_FromStringAndSize(NULL, _HEADER + length)
    cdef char* p = PyBytes_AS_STRING(record)
    memcpy(p, PyBytes_AS_STRING(magic), 4)
    _put_u32(p + 4, <uint32_t>length)
    _put_i64(p + 12, first)
    _put_u32(p + 20, <uint32_t>n)
    _put_i64(p + 24, c[0].ts)
    memcpy(p + _HEADER, c, length)
    crc = _crc32(memoryview(record)[_CRC_FROM:])     # header bytes 12.. and the rows: one run
    _put_u32(p + 8, <uint32_t>crc)
    return record, first, n

