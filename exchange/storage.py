"""The journal's storage as the daemon sees it: available, unavailable (a full disk), failed.

A full disk is a state the daemon lives through, not a crash. When the journal cannot write a
batch (:class:`exchange.journal.JournalWriteError`, ENOSPC or EDQUOT) the journal is already
back at its last good record; the sequencer (:mod:`exchange.sequencer`) then undoes the batch's sequencing (the
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
from gateway.protocol import REF_TYPE_OF, REJECT_ECHO_FIELDS, REPORT_DTYPE, GatewayReject, MsgType

__all__ = ["Storage", "R_STORAGE", "storage_rejects"]

log = logging.getLogger("chuanyu.gateway")

R_STORAGE = int(GatewayReject.STORAGE_UNAVAILABLE)


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


def storage_rejects(cmds: np.ndarray) -> np.ndarray:
    """REJECT ``STORAGE_UNAVAILABLE`` reports for order commands never journaled."""
    r = np.zeros(len(cmds), dtype=REPORT_DTYPE)
    r["msg_type"] = MsgType.REJECT
    r["reason"] = R_STORAGE
    r["ref_type"] = REF_TYPE_OF[cmds["type"]]
    r["session"] = cmds["session"]
    r["ts"] = cmds["ts"]
    for name in REJECT_ECHO_FIELDS:
        r[name] = cmds[name]
    return r
