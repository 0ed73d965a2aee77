"""Gap fill: each session's recent execution reports, kept so a reconnecting client misses none.

Every report the engine's events produce for a session gets the next ``report_seq`` of that
session (1, 2, 3, ...), whether the session is logged in or not, and is kept in the
session's :class:`ReportWindow`. A client that logs in with ``LoginFlag.GAP_FILL`` and the
last ``report_seq`` it received is sent every later report from the window, in order,
before any new one.

Only reports of sequenced (journaled) commands are numbered. Gateway rejects (1xxx, raised
before the engine: malformed frames, rate limits, duplicate client order ids, ...) carry
``report_seq`` 0: they answer a message at once and are never re-sent. That keeps the
numbering a pure function of the journal, so after a crash the snapshot's counters and
windows plus a replay of the later journal records rebuild exactly the numbers and bytes
the clients were sent; journaling rejects instead would let a flood of bad frames fill the
journal, the very thing a rate limit protects.
"""
from __future__ import annotations

import mmap

import numpy as np

from .protocol import REPORT_DTYPE

__all__ = ["ReportWindow", "GAP_FILL_FRAME_REPORTS"]

GAP_FILL_FRAME_REPORTS = 4096       # reports per gap-fill frame (~450 KiB)
_ROW = REPORT_DTYPE.itemsize


class ReportWindow:
    """The newest ``capacity`` reports of one session, by ``report_seq`` (a ring buffer).

    Storage is ``capacity`` rows (``REPORT_DTYPE.itemsize`` bytes each), reserved at the first
    report and backed by memory only as rows are written.
    :meth:`add` is O(n) in the rows added; :meth:`after` is O(k) in the rows returned.

    >>> w = ReportWindow(3)
    >>> rows = np.zeros(5, dtype=REPORT_DTYPE)
    >>> rows["report_seq"] = np.arange(1, 6)
    >>> w.add(rows)
    >>> w.last, w.first
    (5, 3)
    >>> w.after(3)["report_seq"].tolist()
    [4, 5]
    """

    __slots__ = ("capacity", "buf", "_mem", "last", "count")

    def __init__(self, capacity: int, last: int = 0) -> None:
        if capacity < 0:
            raise ValueError("a report window's capacity is >= 0")
        self.capacity = int(capacity)
        self._store(np.zeros(0, dtype=REPORT_DTYPE))
        self.last = int(last)           # report_seq of the newest report (kept or not)
        self.count = 0                  # reports kept: report_seq last-count+1 .. last

    @property
    def first(self) -> int:
        """The oldest report_seq kept (``last + 1`` when none is kept)."""
        return self.last - self.count + 1

    def can_fill(self, after: int) -> bool:
        """True when every report after ``after`` is kept (or there is none)."""
        return self.first - 1 <= after <= self.last

    def add(self, rows: np.ndarray) -> None:
        """Keep ``rows``, whose ``report_seq`` must run ``last + 1, last + 2, ...``."""
        n = len(rows)
        if n == 0:
            return
        if self.capacity:
            need = min(self.capacity, self.count + n)
            if need > len(self.buf):
                self._grow(need)
            size = len(self.buf)
            k = min(n, size)
            start = (self.last + n - k) % size        # ring slot of the first row written
            # bytes through a memoryview: a structured slice assignment costs ~4 µs, this ~0.3
            tail = (rows if k == n else rows[n - k:]).tobytes()     # C order, whatever the layout
            first_part = min(k, size - start)
            cut = first_part * _ROW
            self._mem[start * _ROW:start * _ROW + cut] = tail[:cut]
            if first_part < k:
                self._mem[:len(tail) - cut] = tail[cut:]
            self.count = min(self.count + n, size)
        self.last += n

    def _grow(self, need: int) -> None:
        # Straight to full capacity, in an anonymous mapping: the OS provides its zeroed 4 KiB
        # pages only as rows are written, so an idle session costs no memory and the loop never
        # stalls copying a window it outgrew (doubling did: ms-long pauses, p99 latency x10).
        # Not np.zeros: numpy asks for huge pages above 4 MiB, and zeroing one on first touch
        # stalls the loop too.
        kept = self.after(self.first - 1)
        self._store(np.frombuffer(mmap.mmap(-1, self.capacity * _ROW), dtype=REPORT_DTYPE))
        self.count, self.last = 0, self.last - len(kept)
        self.add(kept)

    def _store(self, buf: np.ndarray) -> None:
        self.buf = buf
        self._mem = memoryview(buf.view(np.uint8).reshape(-1))

    def after(self, seq: int) -> np.ndarray:
        """A copy of the kept reports with ``report_seq > seq``, in order.

        ``ValueError`` when some of them are no longer kept (see :meth:`can_fill`).
        """
        seq = int(seq)
        if seq >= self.last:
            return np.zeros(0, dtype=REPORT_DTYPE)
        if not self.can_fill(seq):
            raise ValueError(f"reports after {seq} are not all kept (oldest kept: {self.first})")
        slots = np.arange(seq, self.last) % len(self.buf)
        return self.buf[slots]

    def load(self, rows: np.ndarray, last: int) -> None:
        """Start over from a snapshot: the session's ``last`` report_seq and its newest kept rows."""
        self._store(np.zeros(0, dtype=REPORT_DTYPE))
        self.count = 0
        rows = rows[len(rows) - min(len(rows), self.capacity):] if len(rows) else rows
        if len(rows) and int(rows["report_seq"][-1]) != last:
            raise ValueError(f"the kept reports end at report_seq {int(rows['report_seq'][-1])}, not {last}")
        self.last = int(last) - len(rows)
        self.add(rows)
