"""The command journal: an append-only, CRC-checked record of every sequenced command batch.

The engine is deterministic, so the durable record of the market is the sequenced command
stream (as in LMAX and exchange-core): the daemon journals each batch before
``Engine.process`` sees it, and state is rebuilt by replaying the journal onto the newest
snapshot (:func:`replay`).

Segments
--------
Records are appended to segment files ``journal-<first seq, 20 digits>.seg`` in one directory
(the daemon's state dir). A segment is closed, and a new one started, when the next record
would take it past ``segment_bytes``; a record is never split across segments. The daemon's
retention (``[durability] keep_snapshots`` / ``prune_journal``) deletes the segments wholly
before its oldest kept snapshot, so a journal may start at any seq: the first segment's.

Record layout (little-endian, no padding)::

    offset  size  field
         0     4  magic  b"CYJ1"
         4     4  u32    payload length in bytes (= count * COMMAND_DTYPE.itemsize)
         8     4  u32    CRC32 (zlib.crc32) of header bytes 12..31, then of the payload
        12     8  i64    first command seq
        20     4  u32    command count
        24     8  i64    receive time, ns since the epoch (the batch's first ``ts``)
        32     n  payload: the batch's COMMAND_DTYPE rows, exactly as the engine sees them

The CRC covers the sequence number, count and receive time as well as the payload, so a
flipped bit anywhere past the length field is caught by the CRC, and one in the length field
by the length/count cross-check.

Damage
------
:func:`read_records` verifies every record: magic, length, CRC, the rows' own ``seq`` column
and that sequence numbers run on without a gap across records and segments. A crash mid-write
leaves at most the last record of the last segment incomplete (or failing its CRC, or
zero-filled): that is a *torn tail*, raised as :class:`TornTail` after every good record has
been yielded; opening a :class:`Journal` truncates it with a log line and appends after it.
Damage anywhere else raises :class:`JournalCorrupt` naming the segment file and byte offset:
nothing is ever silently dropped.

Durability
----------
``Journal.append`` only writes (buffered); ``Journal.sync`` makes what was appended durable
under the policy: ``"fsync"`` (one fsync per call: a group commit per loop batch),
``"interval"`` (an fsync only when ``interval_ms`` have passed since the last one) or
``"none"`` (flushed to the OS, never fsynced: survives a killed process, not a power cut).
"""
from __future__ import annotations

import logging
import os
import re
import struct
import time
import zlib
from pathlib import Path
from typing import Iterator, NamedTuple

import numpy as np

from matching import COMMAND_DTYPE

from ._step import journal_record

__all__ = [
    "Journal", "JournalError", "JournalCorrupt", "TornTail", "RecordHeader", "Record", "read_records",
    "segments", "MODES", "MAGIC", "HEADER", "SEGMENT_GLOB",
]

log = logging.getLogger("chuanyu.journal")

MAGIC = b"CYJ1"
HEADER = struct.Struct("<4sIIqIq")           # magic, length, crc, first seq, count, receive time
_CRC_FROM = 12                               # the CRC covers header bytes 12.. and the payload
ROW = COMMAND_DTYPE.itemsize
MODES = ("fsync", "interval", "none")
SEGMENT_GLOB = "journal-*.seg"
_SEGMENT_NAME = re.compile(r"journal-(\d{20})\.seg")
DEFAULT_SEGMENT_BYTES = 64 << 20


class JournalError(Exception):
    """A journal problem at a place: ``path`` (a segment file) and byte ``offset``."""

    def __init__(self, path, offset: int, message: str) -> None:
        self.path, self.offset = Path(path), offset
        super().__init__(f"{self.path}: byte offset {offset}: {message}")


class JournalCorrupt(JournalError):
    """A damaged record or a sequence gap that a crash cannot explain: recovery must stop."""


class TornTail(JournalError):
    """The last record of the last segment is incomplete: a crash mid-write, safe to truncate."""


class RecordHeader(NamedTuple):
    length: int          # payload bytes
    crc: int
    first_seq: int
    count: int
    ts: int              # receive time, ns

    @property
    def last_seq(self) -> int:
        return self.first_seq + self.count - 1


class Record(NamedTuple):
    path: Path
    offset: int
    header: RecordHeader
    rows: np.ndarray     # COMMAND_DTYPE


def segment_name(first_seq: int) -> str:
    return f"journal-{first_seq:020d}.seg"


def segments(directory) -> list[tuple[int, Path]]:
    """The journal's segment files as (first seq in the name, path), in sequence order."""
    found = []
    for path in Path(directory).glob(SEGMENT_GLOB):
        m = _SEGMENT_NAME.fullmatch(path.name)
        if m is None:
            raise JournalCorrupt(path, 0, "not a journal segment name (journal-<20 digits>.seg)")
        found.append((int(m.group(1)), path))
    return sorted(found)


def _scan_segment(path: Path, data: bytearray, last: bool, expect: int | None) -> Iterator[Record]:
    """Every record of one segment, verified; ``expect`` is the next seq (None: any)."""
    pos, end = 0, len(data)
    while pos < end:
        if end - pos < HEADER.size:
            raise TornTail(path, pos, f"incomplete record header ({end - pos} of {HEADER.size} bytes)") if last \
                else JournalCorrupt(path, pos, f"segment ends inside a record header ({end - pos} bytes)")
        magic, length, crc, first, count, ts = HEADER.unpack_from(data, pos)
        if magic != MAGIC or length != count * ROW or count == 0:
            if last and not any(data[pos:]):
                raise TornTail(path, pos, f"{end - pos} zero bytes where a record should start")
            what = "bad record magic" if magic != MAGIC else f"record length {length} != {count} commands"
            raise JournalCorrupt(path, pos, what)
        stop = pos + HEADER.size + length
        tail = last and stop >= end
        if stop > end:
            if last:
                raise TornTail(path, pos, f"incomplete record ({end - pos} of {stop - pos} bytes)")
            raise JournalCorrupt(path, pos, f"record runs past the end of the segment ({stop - pos} bytes, "
                                            f"{end - pos} left)")
        payload = memoryview(data)[pos + HEADER.size:stop]
        if zlib.crc32(payload, zlib.crc32(memoryview(data)[pos + _CRC_FROM:pos + HEADER.size])) != crc:
            if tail:
                raise TornTail(path, pos, "the last record fails its CRC")
            raise JournalCorrupt(path, pos, "CRC mismatch")
        if expect is not None and first != expect:
            raise JournalCorrupt(path, pos, f"sequence gap: record starts at seq {first}, expected {expect}")
        rows = np.frombuffer(data, dtype=COMMAND_DTYPE, count=count, offset=pos + HEADER.size)
        seq = rows["seq"]
        if seq[0] != first or seq[-1] != first + count - 1 or (count > 1 and not (np.diff(seq) == 1).all()):
            raise JournalCorrupt(path, pos, f"the commands' seq column does not run {first}..{first + count - 1}")
        yield Record(path, pos, RecordHeader(length, crc, first, count, ts), rows)
        expect = first + count
        pos = stop


def read_records(directory, after_seq: int = 0) -> Iterator[Record]:
    """Every journal record with commands after ``after_seq``, in order, each one verified.

    Records wholly at or before ``after_seq`` are verified and skipped; one that straddles it
    is yielded with only its later rows. The rows are writable arrays over the segment bytes.
    After the last good record a torn tail raises :class:`TornTail`; any other damage raises
    :class:`JournalCorrupt` (both name the segment file and byte offset).
    """
    segs = segments(directory)
    expect = None
    for n, (name_seq, path) in enumerate(segs):
        last = n == len(segs) - 1
        with open(path, "rb") as f:
            data = bytearray(os.fstat(f.fileno()).st_size)
            f.readinto(data)
        if not data and not last:
            raise JournalCorrupt(path, 0, "empty segment before the last one")
        first_in_segment = True
        for rec in _scan_segment(path, data, last, expect):
            if first_in_segment and rec.header.first_seq != name_seq:
                raise JournalCorrupt(path, 0, f"first record has seq {rec.header.first_seq}, "
                                              f"the file name says {name_seq}")
            first_in_segment = False
            expect = rec.header.first_seq + rec.header.count
            if rec.header.last_seq <= after_seq:
                continue
            if rec.header.first_seq <= after_seq:
                rec = rec._replace(rows=rec.rows[after_seq - rec.header.first_seq + 1:])
            yield rec


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class Journal:
    """The write side: append sequenced batches, make them durable, roll segments.

    Opening a journal recovers it: every existing record is verified (:func:`read_records`),
    a torn tail is truncated with a log line, and appending continues in the last segment
    (:attr:`last_seq` is the last journaled command, 0 for an empty journal). Damage that is
    not a torn tail raises :class:`JournalCorrupt`.

    Parameters
    ----------
    directory : path
        Where the segments live (created if missing).
    durability : {"fsync", "interval", "none"}
        When :meth:`sync` fsyncs: every call, once ``interval_ms`` have passed, or never.
    interval_ms : int
        The ``"interval"`` policy's period.
    segment_bytes : int
        Roll to a new segment when a record would take the current one past this size.
    clock : callable, optional
        Monotonic nanoseconds for the interval policy (a test aid; ``time.monotonic_ns``).
    """

    def __init__(self, directory, durability: str = "fsync", interval_ms: int = 10,
                 segment_bytes: int = DEFAULT_SEGMENT_BYTES, clock=time.monotonic_ns) -> None:
        if durability not in MODES:
            raise ValueError(f"durability must be one of {', '.join(MODES)}, not {durability!r}")
        if interval_ms < 0 or segment_bytes < HEADER.size + ROW:
            raise ValueError("interval_ms must be >= 0 and segment_bytes hold at least one command")
        self.directory = Path(directory)
        self.mode = durability
        self.interval_ns = int(interval_ms) * 1_000_000
        self.segment_bytes = int(segment_bytes)
        self._clock = clock
        self.counters = dict(records=0, commands=0, bytes_written=0, fsyncs=0, fsync_ns=0, segments=0)
        self.on_fsync = None          # called with each fsync's duration in ns (the metrics histogram)
        self._file = None
        self._size = 0
        self._dirty = False
        self.directory.mkdir(parents=True, exist_ok=True)
        self.last_seq = 0
        self.torn = None                              # the TornTail truncated on opening, if any
        self._recover()
        self._last_fsync = self._clock()

    # ------------------------------------------------------------------ opening
    def _recover(self) -> None:
        try:
            for rec in read_records(self.directory):
                self.last_seq = rec.header.last_seq
        except TornTail as torn:
            size = torn.path.stat().st_size
            log.warning("journal: torn tail in %s at byte offset %d (%s): truncating %d bytes",
                        torn.path, torn.offset, str(torn).rsplit(": ", 1)[-1], size - torn.offset)
            with open(torn.path, "r+b") as f:
                f.truncate(torn.offset)
                f.flush()
                os.fsync(f.fileno())
            self.torn = torn
        segs = segments(self.directory)
        if segs:
            path = segs[-1][1]
            if path.stat().st_size == 0:               # a segment created just before a crash
                path.unlink()
            else:
                self._file = open(path, "ab")
                self._size = path.stat().st_size

    @property
    def next_seq(self) -> int:
        """The seq the next appended batch must start with (any, for an empty journal: 0)."""
        return self.last_seq + 1 if self.last_seq else 0

    # ------------------------------------------------------------------ writing
    def append(self, batch: np.ndarray) -> None:
        """Write one sequenced ``COMMAND_DTYPE`` batch as one record (buffered, not yet durable).

        Its ``seq`` column must continue the journal without a gap; an empty batch is ignored.
        """
        if len(batch) == 0:
            return
        # checks, header, CRC and rows in one C call (gateway._step.journal_record)
        record, first, n = journal_record(batch, self.last_seq, MAGIC)
        size = len(record)
        if self._file is None or (self._size and self._size + size > self.segment_bytes):
            self._roll(first)
        self._file.write(record)
        self._size += size
        self._dirty = True
        self.last_seq = first + n - 1
        c = self.counters
        c["records"] += 1
        c["commands"] += n
        c["bytes_written"] += size

    def _roll(self, first_seq: int) -> None:
        if self._file is not None:
            self._file.flush()
            if self.mode != "none":
                self._fsync()
            self._file.close()
        path = self.directory / segment_name(first_seq)
        self._file = open(path, "xb")
        self._size = 0
        self.counters["segments"] += 1
        if self.mode != "none":
            _fsync_dir(self.directory)               # the new file's name is durable too

    def _fsync(self) -> None:
        start = time.perf_counter_ns()
        os.fsync(self._file.fileno())
        now = self._clock()
        took = time.perf_counter_ns() - start
        self.counters["fsyncs"] += 1
        self.counters["fsync_ns"] += took
        if self.on_fsync is not None:
            self.on_fsync(took)
        self._last_fsync = now
        self._dirty = False

    def sync(self) -> None:
        """Make the appended records durable under the policy (flush always; fsync per policy)."""
        if self._file is None:
            return
        self._file.flush()
        if not self._dirty or self.mode == "none":
            return
        if self.mode == "fsync" or self._clock() - self._last_fsync >= self.interval_ns:
            self._fsync()

    def sync_due_ms(self) -> int | None:
        """Milliseconds until an idle :meth:`sync` would fsync, or None (nothing pending, or
        not the ``"interval"`` policy): how long the daemon's loop may sleep when idle."""
        if self.mode != "interval" or not self._dirty:
            return None
        left = self.interval_ns - (self._clock() - self._last_fsync)
        return max(0, -(-left // 1_000_000))

    def close(self) -> None:
        """Flush, fsync (unless ``"none"``) and close the open segment."""
        if self._file is None:
            return
        self._file.flush()
        if self.mode != "none" and self._dirty:
            self._fsync()
        self._file.close()
        self._file = None

    def __enter__(self) -> "Journal":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
