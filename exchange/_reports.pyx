# cython: language_level=3
"""The reports stage in C: execution reports from engine events, grouped and numbered.

:func:`build_reports` turns one batch's engine events into execution reports with their
destination sessions in one pass, updating the order tables (entering session, account,
client order id, open); :func:`group_by_session` orders them by destination in one
counting sort; :func:`number_reports` stamps a session's ``report_seq``. The numpy reference
of the builder (``tests/reference/reports_numpy.py``) runs under the same tests through
:class:`exchange.reports.Reports`.
"""
cimport cython
cimport numpy as cnp
from libc.stdint cimport int32_t, int64_t, uint8_t
from libc.stdlib cimport calloc, free

from matching._types cimport Event
from gateway._wire cimport Report, field_offset

import numpy as np

from matching import EVENT_DTYPE, EventKind, Side

from gateway.protocol import REF_TYPE_OF, REPORT_DTYPE, REPORT_TYPE_OFFSET, MsgType, ReportFlag, check_layout

cnp.import_array()

__all__ = ["build_reports", "group_by_session", "number_reports", "layout"]


def layout():
    """Size and field offsets of the C report struct, checked against the dtypes by the tests and at import."""
    cdef Report r
    return {
        "REPORT": (sizeof(Report), {
            "msg_type": field_offset(&r.msg_type, &r), "side": field_offset(&r.side, &r), "reason": field_offset(&r.reason, &r),
            "ref_type": field_offset(&r.ref_type, &r), "flags": field_offset(&r.flags, &r), "order_type": field_offset(&r.order_type, &r),
            "tif": field_offset(&r.tif, &r), "instrument": field_offset(&r.instrument, &r), "account": field_offset(&r.account, &r),
            "session": field_offset(&r.session, &r), "trade_type": field_offset(&r.trade_type, &r),
            "reserved1": field_offset(&r.reserved1, &r), "reserved2": field_offset(&r.reserved2, &r),
            "report_seq": field_offset(&r.report_seq, &r), "seq": field_offset(&r.seq, &r), "cmd_seq": field_offset(&r.cmd_seq, &r),
            "ts": field_offset(&r.ts, &r), "order_id": field_offset(&r.order_id, &r),
            "client_order_id": field_offset(&r.client_order_id, &r), "price": field_offset(&r.price, &r), "qty": field_offset(&r.qty, &r),
            "leaves": field_offset(&r.leaves, &r), "trade_id": field_offset(&r.trade_id, &r), "fee": field_offset(&r.fee, &r)}),
    }


check_layout("exchange._reports", "REPORT", *layout()["REPORT"], REPORT_DTYPE)

# Flags and codes as plain C constants; a report's ref_type by the causing command's type (protocol.REF_TYPE_OF)
cdef uint8_t _REF_OF[256]
for _i in range(256):
    _REF_OF[_i] = REF_TYPE_OF[_i]

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

cdef uint8_t _ROUTED[256]


def _tables():
    for t in range(256):
        _ROUTED[t] = 0
    for k in (EventKind.ACCEPTED, EventKind.REJECTED, EventKind.CANCELLED, EventKind.REDUCED,
              EventKind.REPLACED, EventKind.TRADE):
        _ROUTED[int(k)] = 1


_tables()


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
    account, client order id, open) as the numpy reference does; an order the
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
