"""Reports: from the engine's events to each session's numbered execution reports.

The stage owns what the daemon knows of orders beyond the engine (which session entered
each, for which account, with which client order id, whether it is still open) and each
session's report numbering and gap-fill window (:mod:`gateway.gapfill`).

- :meth:`Reports.build` turns one batch's events into REPORT_DTYPE rows with their
  destination sessions (a TRADE gives two FILLs, buy side first), updating the order tables.
  The C builder (:func:`exchange._reports.build_reports`) is the daemon's; the numpy
  reference (``tests/unit/gateway/reports_reference.py``) plugs in as ``builder`` and runs
  under the same tests.
- :meth:`Reports.route` orders a batch's reports by session (a session's reports follow
  its messages' order, then event order), adds the drop copies, numbers each session's
  reports of sequenced commands (``report_seq``) and keeps them for gap fill, whether the
  session is logged in or not. It returns the deliveries; sending them is the session
  stage's work. Replay at start runs the same :meth:`build` and :meth:`route` and drops the
  deliveries, so the numbers and windows are rebuilt byte for byte.

Gateway rejects (1xxx) stay outside the numbering (``report_seq`` 0, never kept), so the
numbering depends on the journal alone.
"""
from __future__ import annotations

import numpy as np

from matching import COMMAND_DTYPE, CommandType

from ._reports import build_reports, group_by_session, number_reports
from gateway.gapfill import ReportWindow
from gateway.protocol import OPERATOR, REPORT_DTYPE, ReportFlag

__all__ = ["Reports", "c_builder"]

_TABLES = ("order_session", "order_account", "order_coid", "order_open")


def c_builder(tables: "Reports", events, cmd_sess, cmd_session_ids, cmd_pos, base):
    """The daemon's report builder: one C pass (:func:`exchange._reports.build_reports`)."""
    return build_reports(events, cmd_sess, cmd_session_ids, cmd_pos, base, tables.order_session,
                         tables.order_account, tables.order_coid, tables.order_open, tables.account_home)


class Reports:
    """Order tables, report building, numbering and gap-fill windows.

    Parameters
    ----------
    config : MarketConfig
        The sessions (drop copy) and ``durability.retain_reports`` (each window's size).
    auth : ndarray of bool, sessions x accounts
        Which session may act for which account (intake's): an order the operator entered
        for an account (an auction lot) reports to the account's first such session.
    builder : callable, optional
        ``builder(reports, events, cmd_sess, cmd_session_ids, cmd_pos, base)``; the C one by default.
    """

    def __init__(self, config, auth: np.ndarray, builder=c_builder) -> None:
        self.builder = builder
        self.session_ids = np.array([0] + [s.id for s in config.sessions], dtype=np.int32)
        order = np.argsort(self.session_ids, kind="stable")
        self._ids_sorted, self._idx_sorted = self.session_ids[order], order.astype(np.int32)
        self.account_home = np.argmax(auth, axis=0).astype(np.int32)
        self.drop_copy = [i for i, s in enumerate(config.sessions, start=1) if s.drop_copy]
        n = len(self.session_ids)
        self.report_seq = [0] * n                         # reports addressed to each session, delivered or not
        self.windows = [ReportWindow(config.durability.retain_reports) for _ in range(n)]
        self.order_session = np.zeros(0, dtype=np.int32)  # by engine order id: entering session index
        self.order_account = np.zeros(0, dtype=np.int32)
        self.order_coid = np.zeros(0, dtype=np.int64)
        self.order_open = np.zeros(0, dtype=bool)

    def session_index(self, ids: np.ndarray) -> np.ndarray:
        """Session index of each session id (0, the operator, for an unknown id)."""
        pos = np.minimum(np.searchsorted(self._ids_sorted, ids), len(self._ids_sorted) - 1)
        return np.where(self._ids_sorted[pos] == ids, self._idx_sorted[pos], 0).astype(np.int32)

    def grow(self, max_id: int) -> None:
        """Make room in the order tables for order id ``max_id``."""
        cap = len(self.order_session)
        if max_id < cap:
            return
        new = max(1024, cap * 2, max_id + 1)
        for name in _TABLES:
            old = getattr(self, name)
            arr = np.zeros(new, dtype=old.dtype)
            arr[:cap] = old
            setattr(self, name, arr)

    # ------------------------------------------------------------------ the stage
    def build(self, events, cmd_sess, cmd_session_ids, cmd_pos, base: int, next_order_id: int):
        """Execution reports for ``events``, in event order: ``(reports, dest, pos)``."""
        if next_order_id > len(self.order_session):
            self.grow(next_order_id - 1)
        return self.builder(self, events, cmd_sess, cmd_session_ids, cmd_pos, base)

    def route(self, reports: np.ndarray, dest: np.ndarray, pos: np.ndarray, merged: bool) -> list:
        """Number and keep each session's reports; return ``[(session index, reports)]`` to send.

        ``merged``: gateway rejects were mixed in (engine reports alone already come in order).
        """
        if merged:
            order = np.lexsort((reports["seq"], pos))
            reports, dest = reports[order], dest[order]
        out = []
        if self.drop_copy:
            copy = reports.copy()
            copy["flags"] |= np.uint8(ReportFlag.DROP_COPY)
            for idx in self.drop_copy:             # a drop-copy session's own reports come once, as its own
                others = copy[dest != idx]
                if len(others):
                    out.append((idx, self.number(idx, others, merged)))
        grouped, bounds = group_by_session(reports, np.ascontiguousarray(dest, dtype=np.int32),
                                           len(self.session_ids))
        for idx, a, b in bounds:
            if idx != OPERATOR:
                out.append((idx, self.number(idx, grouped[a:b], merged)))
        return out

    def number(self, idx: int, reports: np.ndarray, merged: bool = False) -> np.ndarray:
        """Stamp ``report_seq`` on a session's reports of sequenced commands and keep them."""
        first = self.report_seq[idx] + 1
        if merged:
            numbered = np.flatnonzero(reports["cmd_seq"] != 0)
            k = len(numbered)
            if k:
                reports["report_seq"][numbered] = np.arange(first, first + k)
                self.windows[idx].add(reports[numbered])
        else:
            k = len(reports)
            number_reports(reports, first)
            self.windows[idx].add(reports)
        self.report_seq[idx] += k
        return reports

    def session_cancels(self, idx: int) -> np.ndarray:
        """A CANCEL for every open order session ``idx`` entered (its mass cancel)."""
        ids = np.flatnonzero(self.order_open & (self.order_session == idx))
        rows = np.zeros(len(ids), dtype=COMMAND_DTYPE)
        rows["type"] = CommandType.CANCEL
        rows["order_id"] = ids
        rows["account"] = self.order_account[ids]
        return rows

    # ------------------------------------------------------------------ snapshots
    def state(self) -> tuple[dict, dict]:
        """(numbering by session id, arrays) for a snapshot's tables."""
        numbering = {int(self.session_ids[i]): self.report_seq[i] for i in range(1, len(self.session_ids))}
        # raw bytes: the layout is REPORT_DTYPE's, whatever numpy's .npy header makes of it
        arrays = {f"window_{int(self.session_ids[i])}": self.windows[i].after(self.windows[i].first - 1).view(np.uint8)
                  for i in range(1, len(self.session_ids))}
        arrays.update({name: getattr(self, name) for name in _TABLES})
        return numbering, arrays

    def load(self, tables: dict, numbering: dict, windows: dict) -> None:
        """Restore :meth:`state` (``windows``: REPORT_DTYPE rows by session id); unknown ids are ignored."""
        for name in _TABLES:
            setattr(self, name, tables[name])
        for sid, report_seq in numbering.items():
            idx = int(self.session_index(np.array([sid]))[0])
            if idx != OPERATOR:
                self.report_seq[idx] = int(report_seq)
                self.windows[idx].load(windows.get(sid, np.zeros(0, dtype=REPORT_DTYPE)), report_seq)
