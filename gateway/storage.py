"""The journal's storage as the daemon sees it: available, unavailable (a full disk), failed.

A full disk is a state the daemon lives through, not a crash. When the journal cannot write a
batch (:class:`gateway.journal.JournalWriteError`, ENOSPC or EDQUOT) the journal is already
back at its last good record; :class:`StorageGuard` then undoes the batch's sequencing (the
journal stays gapless), gives every order in it a REJECT ``STORAGE_UNAVAILABLE`` (never
acknowledged, the engine never saw it; the client order ids are free again), answers the
operator's commands in it with an error, and keeps the daemon's own commands (the schedule's,
cancels on disconnect) for later. Until space returns new orders are refused at once, before
anything is journaled; sessions, heartbeats and logins go on. On each timer tick the journal
is probed (free space, then a real write and fsync); when that works the daemon resumes on
its own. One log line on entering the state and one on leaving it.

Anything else (EIO, a failed fsync of records already let through) is ``failed``: the page
cache cannot be trusted after a failed write or fsync, so the daemon refuses the batch the
same way, then stops (exit status 1, no snapshot); the next start verifies every record.
"""
from __future__ import annotations

import logging
import time

import numpy as np

from .journal import JournalWriteError
from .protocol import COMMAND_OF, CREATING_TYPES, OPERATOR, REF_TYPE_OF, REPORT_DTYPE, GatewayReject, MsgType

__all__ = ["Storage", "StorageGuard", "R_STORAGE"]

log = logging.getLogger("chuanyu.gateway")

R_STORAGE = int(GatewayReject.STORAGE_UNAVAILABLE)
_CREATES = np.zeros(256, dtype=bool)           # by command type: creates an order (a client order id)
_CREATES[COMMAND_OF[list(CREATING_TYPES)]] = True
_SIDE_FIELDS = ("side", "order_type", "tif", "instrument", "account", "order_id", "client_order_id", "price", "qty")


class Storage:
    """The state of the journal's storage: ``"ok"``, ``"unavailable"`` or ``"failed"``."""

    def __init__(self) -> None:
        self.state = "ok"
        self.error: str | None = None       # the OS error that started the state
        self.since: float | None = None     # wall time it started
        self._since_mono = 0.0
        self.refused = 0                    # orders refused STORAGE_UNAVAILABLE in this episode
        self.episodes = 0                   # times the storage became unavailable or failed

    @property
    def available(self) -> bool:
        return self.state == "ok"

    def enter(self, exc: JournalWriteError) -> None:
        """The journal failed: become unavailable (recoverable) or failed; log it once."""
        if self.state == "failed" or (self.state == "unavailable" and exc.recoverable):
            return
        self.state = "unavailable" if exc.recoverable else "failed"
        self.error = str(exc)
        self.since, self._since_mono = time.time(), time.monotonic()
        self.refused = 0
        self.episodes += 1
        if exc.recoverable:
            log.error("storage unavailable: %s: new orders are refused STORAGE_UNAVAILABLE until the journal "
                      "can write again (probed every tick); sessions stay logged in", self.error,
                      extra={"event": "storage_unavailable", "error": self.error, "errno": exc.errno})
        else:
            log.critical("storage failed: %s: the journal cannot be trusted after a failed write or fsync; "
                         "stopping without a snapshot (check the disk, then restart: every record is "
                         "verified)", self.error, extra={"event": "storage_failed", "error": self.error,
                                                          "errno": exc.errno})

    def leave(self) -> None:
        """The probe succeeded: available again; log it once."""
        took = time.monotonic() - self._since_mono
        log.warning("storage available again after %.1f s (%d orders refused meanwhile): accepting orders",
                    took, self.refused, extra={"event": "storage_available", "seconds": round(took, 3),
                                               "refused": self.refused})
        self.state, self.error, self.since = "ok", None, None

    def describe(self) -> dict:
        """The ``storage`` part of the admin ``status`` reply."""
        return {"state": self.state, "error": self.error, "since": self.since, "refused": self.refused,
                "episodes": self.episodes}


class StorageGuard:
    """The loop's side of a full disk: a part of :class:`gateway.server.Gateway`.

    Needs the gateway's ``storage``, ``journal``, ``next_seq``, ``sessions``, ``_pending``,
    ``_sequence``, ``_commit``, ``_admin_reply`` and ``_stopping``.
    """

    def _commit_or_refuse(self, cmds: np.ndarray, cmd_sess: np.ndarray, cmd_pos: np.ndarray, waiting: list,
                          rejects: list) -> np.ndarray | None:
        """Sequence and commit ``cmds``; None when the storage refused them (see the module).

        The refusals go into ``rejects`` (orders) and out as admin error replies (``waiting``
        is emptied); the daemon's own commands go back to the pending queue.
        """
        base = self.next_seq
        if self.storage.available:
            self._sequence(cmds)
            try:
                return self._commit(cmds)
            except JournalWriteError as exc:
                self.next_seq = base                   # nothing of the batch was journaled or done
                self.storage.enter(exc)
                if not exc.recoverable:
                    self._stopping = True
        orders = cmd_sess != OPERATOR
        if orders.any():
            self._free_client_order_ids(cmds[orders], cmd_sess[orders])
            rejects.append((self._storage_rejects(cmds[orders]), cmd_sess[orders], cmd_pos[orders]))
            self.storage.refused += int(orders.sum())
        keep = ~orders
        why = f"storage unavailable: {self.storage.error}; nothing was done, try again later"
        for (identity, request_id), start, n in waiting:
            keep[start:start + n] = False
            self._admin_reply(identity, {"ok": False, "id": request_id, "error": why})
        waiting.clear()
        if keep.any():                                 # the schedule's and cancels on disconnect: later
            self._pending.insert(0, (cmds[keep].copy(), None))
        return None

    def _storage_rejects(self, cmds: np.ndarray) -> np.ndarray:
        """REJECT ``STORAGE_UNAVAILABLE`` reports for order commands never journaled."""
        r = np.zeros(len(cmds), dtype=REPORT_DTYPE)
        r["msg_type"] = MsgType.REJECT
        r["reason"] = R_STORAGE
        r["ref_type"] = REF_TYPE_OF[cmds["type"]]
        r["session"] = cmds["session"]
        r["ts"] = cmds["ts"]
        for name in _SIDE_FIELDS:
            r[name] = cmds[name]
        return r

    def _free_client_order_ids(self, cmds: np.ndarray, sess: np.ndarray) -> None:
        """Let each session use again the client order ids of its refused orders.

        The screen accepted only ids above the session's last, increasing, so the lowest
        refused id minus one is at least the last id of a journaled order.
        """
        new = _CREATES[cmds["type"]]
        if not new.any():
            return
        for idx in np.unique(sess[new]).tolist():
            s = self.sessions[idx]
            lowest = int(cmds["client_order_id"][new & (sess == idx)].min())
            s.coid_last = min(s.coid_last, lowest - 1)

    def _probe_storage(self) -> None:
        """While unavailable (on the timer tick): resume when the journal can write again."""
        probe = getattr(self.journal, "probe", None)
        if self.storage.state == "unavailable" and (probe is None or probe()):
            self.storage.leave()
