"""The numpy reference for the daemon's report building (:func:`exchange._reports.build_reports`).

The daemon builds its execution reports in C; this is the same work in whole-column numpy
passes, kept as the specification the C loop is tested against: the tests build a
:class:`exchange.reports.Reports` stage with ``builder=build_reports`` and run it against the
C one (``test_stage_twins.py``, ``test_server_batch.py``): same reports byte for byte, same order
tables.
"""
from __future__ import annotations

import numpy as np

from matching import EVENT_DTYPE, EventKind, Side

from gateway.protocol import REF_TYPE_OF, REPORT_DTYPE, REPORT_TYPE_OFFSET, MsgType, ReportFlag

__all__ = ["build_reports", "GATHER_MAX"]

OPERATOR = 0
_ROUTED = np.zeros(256, dtype=bool)
_ROUTED[[EventKind.ACCEPTED, EventKind.REJECTED, EventKind.CANCELLED, EventKind.REDUCED,
         EventKind.REPLACED, EventKind.TRADE]] = True
_FILL = int(MsgType.FILL)
_ACCEPTED, _REJECTED = int(EventKind.ACCEPTED), int(EventKind.REJECTED)
_CANCELLED, _REPLACED, _TRADE = int(EventKind.CANCELLED), int(EventKind.REPLACED), int(EventKind.TRADE)
_BUY, _SELL = int(Side.BUY), int(Side.SELL)
_AGGRESSOR, _PRIORITY_KEPT = int(ReportFlag.AGGRESSOR), int(ReportFlag.PRIORITY_KEPT)


def _byte_map(pairs) -> tuple[np.ndarray, np.ndarray, list]:
    """(report byte offsets, event byte offsets, pairs) copying event fields into report fields.

    ``pairs`` are (report field, event field) of identical types.
    """
    dst, src = [], []
    for to, frm in pairs:
        (dt_to, off_to), (dt_from, off_from) = REPORT_DTYPE.fields[to][:2], EVENT_DTYPE.fields[frm][:2]
        if dt_to != dt_from:
            raise TypeError(f"report {to} ({dt_to}) and event {frm} ({dt_from}) differ")
        dst += range(off_to, off_to + dt_to.itemsize)
        src += range(off_from, off_from + dt_from.itemsize)
    return np.array(dst, dtype=np.intp), np.array(src, dtype=np.intp), list(pairs)


# Below this many rows one byte gather beats a copy per field (fixed cost ~1 µs per numpy
# call); above it the per-field column copies are ten times faster per row.
GATHER_MAX = 64


def _copy_fields(out, out_bytes, at, events, ev_bytes, rows, byte_map) -> None:
    """out[at][report field] = events[rows][event field] for every pair of ``byte_map``."""
    if len(rows) <= GATHER_MAX:
        out_bytes[at[:, None], byte_map[0]] = ev_bytes[rows[:, None], byte_map[1]]
    else:
        for to, frm in byte_map[2]:
            out[to][at] = events[frm][rows]


_COMMON = [(f, f) for f in ("instrument", "seq", "cmd_seq", "ts", "price", "qty")] + [("ref_type", "command")]
_SINGLE_MAP = _byte_map(_COMMON + [(f, f) for f in ("side", "reason", "order_type", "tif", "account", "order_id",
                                                    "client_order_id", "leaves")])
_BUY_MAP, _SELL_MAP = (_byte_map(_COMMON + [("trade_id", "trade_id"), ("trade_type", "trade_type"),
                                            ("order_id", f"{p}_order_id"), ("account", f"{p}_account"),
                                            ("leaves", f"{p}_leaves"), ("fee", f"{p}_fee")])
                       for p in ("buy", "sell"))

def build_reports(tables, events, cmd_sess, cmd_session_ids, cmd_pos, base):
    """Execution reports for ``events``, in event order, with their destinations, updating
    ``tables`` (a :class:`exchange.reports.Reports`: its order tables).

    Returns ``(reports, dest, pos)``: the REPORT_DTYPE rows (a TRADE gives two FILLs, buy
    side first), the session index each goes to, and the inbound position of the
    message that caused it. The fields an event shares with its report are copied as
    bytes through precomputed byte maps (:func:`_byte_map`): one gather per kind of
    report, however many fields, and the wide event rows are never copied whole.
    """
    kind_all = events["kind"]
    sel = np.flatnonzero(_ROUTED[kind_all])
    kind = kind_all[sel]
    cmd_i = events["cmd_seq"][sel] - base
    src = cmd_sess[cmd_i]
    order_id = events["order_id"][sel]
    accepted = kind == _ACCEPTED
    if accepted.any():
        ids = order_id[accepted]
        tables.grow(int(ids.max()))
        owner = src[accepted]
        tables.order_session[ids] = np.where(owner == OPERATOR, tables.account_home[
            np.clip(events["account"][sel[accepted]], 0, len(tables.account_home) - 1)], owner)
        tables.order_account[ids] = events["account"][sel[accepted]]
        tables.order_coid[ids] = events["client_order_id"][sel[accepted]]
        tables.order_open[ids] = True
    cancelled = kind == _CANCELLED
    if cancelled.any():
        tables.order_open[order_id[cancelled]] = False
    trade = kind == _TRADE
    by_command = accepted | (kind == _REJECTED)
    ev_bytes = events.view(np.uint8).reshape(len(events), EVENT_DTYPE.itemsize)
    if not trade.any():
        out = np.zeros(len(sel), dtype=REPORT_DTYPE)
        out_bytes = out.view(np.uint8).reshape(len(out), REPORT_DTYPE.itemsize)
        _copy_fields(out, out_bytes, np.arange(len(sel)), events, ev_bytes, sel, _SINGLE_MAP)
        out["msg_type"] = kind + REPORT_TYPE_OFFSET
        out["ref_type"] = REF_TYPE_OF[out["ref_type"]]
        out["session"] = cmd_session_ids[cmd_i]
        replaced = kind == _REPLACED
        if replaced.any():
            out["flags"] = np.where(replaced & (events["value"][sel] == 1), _PRIORITY_KEPT, 0)
        dest = np.where(by_command, src, tables.order_session[np.where(by_command, 0, order_id)])
        return out, dest, cmd_pos[cmd_i]
    width = 1 + trade                               # reports per event
    at = np.cumsum(width) - width                   # each event's first report row
    out = np.zeros(len(sel) + int(np.count_nonzero(trade)), dtype=REPORT_DTYPE)
    out_bytes = out.view(np.uint8).reshape(len(out), REPORT_DTYPE.itemsize)
    single = ~trade
    rows, at_s = sel[single], at[single]
    _copy_fields(out, out_bytes, at_s, events, ev_bytes, rows, _SINGLE_MAP)
    k_s = kind[single]
    out["msg_type"][at_s] = k_s + REPORT_TYPE_OFFSET
    out["session"][at_s] = cmd_session_ids[cmd_i[single]]
    out["flags"][at_s] = np.where((k_s == _REPLACED) & (events["value"][rows] == 1), _PRIORITY_KEPT, 0)
    dest = np.empty(len(out), dtype=np.int32)
    bc = by_command[single]
    dest[at_s] = np.where(bc, src[single], tables.order_session[np.where(bc, 0, order_id[single])])
    t_rows, at_buy = sel[trade], at[trade]
    t_session = cmd_session_ids[cmd_i[trade]]
    aggressor = events["side"][t_rows]
    for where, side, byte_map, id_field, leaves_field in (
            (at_buy, _BUY, _BUY_MAP, "buy_order_id", "buy_leaves"),
            (at_buy + 1, _SELL, _SELL_MAP, "sell_order_id", "sell_leaves")):
        _copy_fields(out, out_bytes, where, events, ev_bytes, t_rows, byte_map)
        ids = events[id_field][t_rows]
        out["msg_type"][where] = _FILL
        out["side"][where] = side
        out["session"][where] = t_session
        out["client_order_id"][where] = tables.order_coid[ids]
        out["flags"][where] = np.where(aggressor == side, _AGGRESSOR, 0)
        dest[where] = tables.order_session[ids]
        tables.order_open[ids[events[leaves_field][t_rows] == 0]] = False
    out["ref_type"] = REF_TYPE_OF[out["ref_type"]]
    return out, dest, np.repeat(cmd_pos[cmd_i], width)
