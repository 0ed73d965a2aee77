"""The sequencer: one global sequence number per command, and the journal before anything else.

A batch leaves intake as commands without a sequence number; :meth:`Sequencer.commit` stamps
``seq`` (``exchange._sequence.stamp_seq``), appends the batch to the journal and waits for
``sync()`` under the durability policy. Only then does the engine see it, and only then can a
report of it leave: under ``fsync`` never before the batch's fsync returned.

When the journal cannot write (:class:`exchange.journal.JournalWriteError`) nothing of the
batch happened: the sequence number goes back, the storage state (:mod:`exchange.storage`)
is entered, and the caller refuses the batch. ``journal`` is any object with ``append``,
``sync`` and ``close`` (:class:`exchange.journal.Journal`, or :class:`NullJournal`).
"""
from __future__ import annotations

import numpy as np

from ._sequence import stamp_seq
from .journal import JournalWriteError
from .storage import Storage

__all__ = ["Sequencer", "NullJournal"]


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


class Sequencer:
    """Sequence numbers and the journal; ``next_seq`` is the next command's number."""

    def __init__(self, journal, storage: Storage | None = None) -> None:
        self.journal = journal
        self.storage = storage if storage is not None else Storage()
        self.next_seq = 1
        self.mode = getattr(journal, "mode", "none")

    def stamp(self, cmds: np.ndarray, ts: int | None = None) -> np.ndarray:
        """Stamp the global command sequence (and, if given, one receive time)."""
        stamp_seq(cmds, self.next_seq)
        if ts is not None:
            cmds["ts"] = ts
        self.next_seq += len(cmds)
        return cmds

    def commit(self, cmds: np.ndarray, ts: int | None = None) -> bool:
        """Stamp, journal and sync ``cmds``; False (nothing done, the storage state entered)
        when the journal could not write them."""
        base = self.next_seq
        self.stamp(cmds, ts)
        try:
            self.journal.append(cmds)
            self.journal.sync()
        except JournalWriteError as exc:
            self.next_seq = base                   # nothing of the batch was journaled or done
            self.storage.enter(exc)
            return False
        return True

    def probe(self) -> None:
        """While the storage is unavailable (on the timer tick): resume when the journal can write again."""
        probe = getattr(self.journal, "probe", None)
        if self.storage.state == "unavailable" and (probe is None or probe()):
            self.storage.leave()

    def idle_sync_due_ms(self) -> int | None:
        """Under ``interval``: milliseconds until the last batch must be fsynced (None: nothing due)."""
        return self.journal.sync_due_ms() if self.mode == "interval" else None

    def status(self) -> dict:
        """The ``journal`` part of the admin ``status`` reply."""
        j = self.journal
        c = dict(getattr(j, "counters", {}))
        out = {"mode": self.mode, "last_seq": getattr(j, "last_seq", 0)}
        if c:
            out.update(bytes=c["bytes_written"], records=c["records"], commands=c["commands"], fsyncs=c["fsyncs"],
                       fsync_ms=round(c["fsync_ns"] / 1e6, 3),
                       fsync_mean_us=round(c["fsync_ns"] / c["fsyncs"] / 1e3, 1) if c["fsyncs"] else 0.0,
                       segments_opened=c["segments"])
            if self.mode == "interval":
                out["interval_ms"] = j.interval_ns // 1_000_000
        return out
