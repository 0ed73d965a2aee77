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
``Journal.append`` writes the record to the OS (one ``write``, no fsync); ``Journal.sync``
makes what was appended durable under the policy: ``"fsync"`` (one fsync per call: a group
commit per loop batch), ``"interval"`` (an fsync only when ``interval_ms`` have passed since
the last one) or ``"none"`` (written to the OS, never fsynced: survives a killed process,
not a power cut).

A full disk
-----------
A failed write or fsync raises :class:`JournalWriteError`. It is ``recoverable`` when the
error is ENOSPC or EDQUOT and nothing acknowledged depends on the failed bytes: the segment is
cut back to the end of its last good record (after a failed fsync under ``"fsync"``: to the
last fsynced record, which is everything the daemon acknowledged), a failed segment roll
leaves no half-made segment, and :attr:`Journal.last_seq` is unchanged; the caller may
append the same seq again once :meth:`Journal.probe` finds space. Anything else (EIO, a
failed fsync of records the ``"interval"`` policy already let through, a cut that itself
failed) is not recoverable: after a failed fsync the page cache cannot be trusted (the kernel
may have dropped the dirty pages while still serving them), so the journal refuses every
later append and the daemon stops; the next start verifies every record and truncates a torn
tail.

The journal mark
----------------
``journal.mark`` in the same directory names the newest segment. It is replaced atomically
(temporary file, fsync, rename, directory fsync) whenever a segment is created, before any
record goes into it. At opening (and in :func:`exchange.recovery.replay`) :func:`check_mark`
compares it with the segments found: if the named segment is missing and no later one exists,
the journal lost its tail (acknowledged commands with it) and :class:`JournalTailLost` is
raised, unless the caller accepts the loss (``Journal(..., accept_loss=True)``: logged, and
the mark is rewritten to the journal as it is). Pruning never deletes the newest segment, so
it never trips the mark.
"""
from __future__ import annotations

import errno
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

from ._sequence import journal_record

__all__ = [
    "Journal", "JournalError", "JournalCorrupt", "TornTail", "JournalTailLost", "JournalWriteError", "RecordHeader",
    "Record", "read_records", "decode_record", "segments", "check_mark", "MODES", "MAGIC", "HEADER", "SEGMENT_GLOB", "MARK_NAME",
    "SPACE_ERRNOS", "PROBE_FREE_BYTES",
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
MARK_NAME = "journal.mark"
SPACE_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT})   # the disk-full errors the daemon waits out
PROBE_FREE_BYTES = 1 << 20                   # free space :meth:`Journal.probe` wants before a test write
_PROBE_NAME = "journal.probe"


class JournalError(Exception):
    """A journal problem at a place: ``path`` (a segment file) and byte ``offset``."""

    def __init__(self, path, offset: int, message: str) -> None:
        self.path, self.offset = Path(path), offset
        super().__init__(f"{self.path}: byte offset {offset}: {message}")


class JournalCorrupt(JournalError):
    """A damaged record or a sequence gap that a crash cannot explain: recovery must stop."""


class TornTail(JournalError):
    """The last record of the last segment is incomplete: a crash mid-write, safe to truncate."""


class JournalTailLost(JournalError):
    """The journal ends before its mark says it should: ``path`` is the missing segment."""

    def __init__(self, path, message: str) -> None:
        self.path, self.offset = Path(path), 0
        Exception.__init__(self, f"{self.path.name} {message}")


class JournalWriteError(Exception):
    """A journal write or fsync failed (``errno``, ``strerror`` of the OS error).

    ``recoverable``: the journal is back at its last good record and may be appended to
    again (a full disk: ENOSPC, EDQUOT); otherwise it refuses every later append.
    """

    def __init__(self, path, cause: OSError, recoverable: bool) -> None:
        self.path, self.errno, self.recoverable = Path(path), cause.errno, recoverable
        self.strerror = cause.strerror or str(cause)
        super().__init__(f"{self.path}: {self.strerror}" + ("" if recoverable else " (not recoverable)"))


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


def decode_record(data: bytes, origin: str = "<record>") -> Record:
    """One record received whole (a replicated log's message), verified as a journal's last
    record is: :class:`JournalCorrupt` naming ``origin`` when it is damaged or incomplete."""
    buf = bytearray(data)
    try:
        records = list(_scan_segment(Path(origin), buf, last=False, expect=None))
    except JournalError as exc:
        raise JournalCorrupt(Path(origin), exc.offset, str(exc).rsplit(": ", 1)[-1]) from None
    if len(records) != 1:
        raise JournalCorrupt(Path(origin), 0, f"{len(records)} records where one was expected")
    return records[0]


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _read_mark(directory: Path) -> int | None:
    """The first seq of the segment ``journal.mark`` names; None without a mark."""
    path = Path(directory) / MARK_NAME
    try:
        text = path.read_text(encoding="ascii").strip()
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as exc:
        raise JournalCorrupt(path, 0, f"unreadable journal mark: {exc}") from None
    m = _SEGMENT_NAME.fullmatch(text)
    if m is None:
        raise JournalCorrupt(path, 0, f"the journal mark does not name a segment: {text[:60]!r}")
    return int(m.group(1))


def check_mark(directory, last_seq: int | None = None) -> JournalTailLost | None:
    """The lost tail the journal mark reveals, or None (no mark, or the journal reaches it).

    The journal is whole when the segment the mark names exists (empty or not) or a later one
    does (a crash after creating a segment, before the mark was replaced). ``last_seq``: the
    last command found, for the message.
    """
    directory = Path(directory)
    marked = _read_mark(directory)
    if marked is None:
        return None
    segs = segments(directory)
    if any(first >= marked for first, _ in segs):
        return None
    found = f"the journal ends with {segs[-1][1].name}" if segs else "no journal segment is left"
    if last_seq:
        found += f" (last command seq {last_seq})"
    return JournalTailLost(directory / segment_name(marked),
                           f"is missing from {directory}: {MARK_NAME} says the journal reached this segment (commands from seq "
                           f"{marked} on), but {found}: acknowledged commands were lost with it")


class Journal:
    """The write side: append sequenced batches, make them durable, roll segments.

    Opening a journal recovers it: every existing record is verified (:func:`read_records`),
    a torn tail is truncated with a log line, and appending continues in the last segment
    (:attr:`last_seq` is the last journaled command, 0 for an empty journal). Damage that is
    not a torn tail raises :class:`JournalCorrupt`; a journal that ends before its mark
    raises :class:`JournalTailLost` (see the module docstring).

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
    accept_loss : bool
        Open a journal whose tail is lost (:class:`JournalTailLost`) anyway: logged as an
        error, kept in :attr:`lost`, and the mark rewritten to the journal as it is.
    """

    def __init__(self, directory, durability: str = "fsync", interval_ms: int = 10,
                 segment_bytes: int = DEFAULT_SEGMENT_BYTES, clock=time.monotonic_ns,
                 accept_loss: bool = False) -> None:
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
        self._synced_size = 0                         # the open segment's size at its last fsync
        self._synced_seq = 0                          # last_seq then
        self.failed: JournalWriteError | None = None  # an unrecoverable write failure: no more appends
        self.directory.mkdir(parents=True, exist_ok=True)
        self.last_seq = 0
        self.torn = None                              # the TornTail truncated on opening, if any
        self.lost = None                              # the JournalTailLost accepted on opening, if any
        self._recover(accept_loss)
        self._synced_seq = self.last_seq
        self._last_fsync = self._clock()

    # ------------------------------------------------------------------ opening
    def _recover(self, accept_loss: bool) -> None:
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
        lost = check_mark(self.directory, self.last_seq)
        if lost is not None:
            if not accept_loss:
                raise lost
            log.error("journal loss accepted: %s", lost,
                      extra={"event": "journal_loss_accepted", "segment": lost.path.name, "last_seq": self.last_seq})
            self.lost = lost
        segs = segments(self.directory)
        if segs and segs[-1][1].stat().st_size == 0:   # a segment created just before a crash
            segs[-1][1].unlink()
            segs.pop()
        if segs:
            path = segs[-1][1]
            self._file = open(path, "ab", buffering=0)
            self._size = self._synced_size = path.stat().st_size
        marked = _read_mark(self.directory) if lost is None else None
        if segs and marked != segs[-1][0]:             # no mark yet, an older one, or an accepted loss
            self._write_mark(segs[-1][0])
        elif not segs and (self.directory / MARK_NAME).exists():
            (self.directory / MARK_NAME).unlink()      # an accepted loss of every segment: start afresh

    @property
    def next_seq(self) -> int:
        """The seq the next appended batch must start with (any, for an empty journal: 0)."""
        return self.last_seq + 1 if self.last_seq else 0

    # ------------------------------------------------------------------ writing
    def append(self, batch: np.ndarray) -> None:
        """Write one sequenced ``COMMAND_DTYPE`` batch as one record (to the OS, not yet durable).

        Its ``seq`` column must continue the journal without a gap; an empty batch is ignored.
        A failed write raises :class:`JournalWriteError` with the journal unchanged when
        ``recoverable``.
        """
        if len(batch) == 0:
            return
        if self.failed is not None:
            raise self.failed
        # checks, header, CRC and rows in one C call (exchange._sequence.journal_record)
        record, first, n = journal_record(batch, self.last_seq, MAGIC)
        size = len(record)
        if self._file is None or (self._size and self._size + size > self.segment_bytes):
            self._roll(first)
        try:
            view, done = memoryview(record), 0
            while done < size:                          # a short write on a filling disk: go on to the error
                wrote = self._file.write(view[done:])
                if not wrote:
                    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
                done += wrote
        except OSError as exc:
            self._cut_back(exc, self._size, self.last_seq, recoverable=exc.errno in SPACE_ERRNOS)
        self._size += size
        self._dirty = True
        self.last_seq = first + n - 1
        c = self.counters
        c["records"] += 1
        c["commands"] += n
        c["bytes_written"] += size

    def _cut_back(self, exc: OSError, size: int, last_seq: int, recoverable: bool):
        """Truncate the open segment to ``size`` (the end of its last good record) and raise.

        A cut that fails leaves a partial record: unrecoverable (a restart truncates it as a
        torn tail). An unrecoverable failure refuses every later append.
        """
        try:
            os.ftruncate(self._file.fileno(), size)
            self._file.seek(size)                       # a new segment is not opened O_APPEND
        except OSError:
            recoverable = False
        else:
            self._size, self.last_seq = size, last_seq
            self._dirty = size != self._synced_size
        err = JournalWriteError(self._file.name, exc, recoverable)
        if not recoverable:
            self.failed = err
        raise err from None

    def _roll(self, first_seq: int) -> None:
        """Start segment ``first_seq``: the old one made durable, the new one and the mark created.

        On failure nothing is left half made: the new file is removed and the old segment
        stays open.
        """
        if self._file is not None and self._dirty and self.mode != "none":
            self._fsync()
        path = self.directory / segment_name(first_seq)
        try:
            new = open(path, "xb", buffering=0)
        except OSError as exc:
            raise JournalWriteError(path, exc, exc.errno in SPACE_ERRNOS) from None
        try:
            if self.mode != "none":
                _fsync_dir(self.directory)           # the new file's name is durable too
            self._write_mark(first_seq)
        except OSError as exc:
            new.close()
            path.unlink(missing_ok=True)
            raise JournalWriteError(path, exc, exc.errno in SPACE_ERRNOS) from None
        if self._file is not None:
            self._file.close()
        self._file = new
        self._size = self._synced_size = 0
        self._synced_seq = self.last_seq
        self.counters["segments"] += 1

    def _write_mark(self, first_seq: int) -> None:
        """Replace ``journal.mark`` with the name of segment ``first_seq``, atomically."""
        path = self.directory / MARK_NAME
        tmp = path.with_name(MARK_NAME + ".tmp")
        try:
            with open(tmp, "wb", buffering=0) as f:
                f.write(f"{segment_name(first_seq)}\n".encode("ascii"))
                if self.mode != "none":
                    os.fsync(f.fileno())
            os.replace(tmp, path)
        except OSError:
            tmp.unlink(missing_ok=True)
            raise
        if self.mode != "none":
            _fsync_dir(self.directory)

    def _fsync(self) -> None:
        start = time.perf_counter_ns()
        try:
            os.fsync(self._file.fileno())
        except OSError as exc:
            # Under "fsync" the unsynced bytes are the batch being committed, not yet
            # acknowledged: cut them off. Anything else was let through already.
            self._cut_back(exc, self._synced_size, self._synced_seq,
                           recoverable=self.mode == "fsync" and exc.errno in SPACE_ERRNOS)
        now = self._clock()
        took = time.perf_counter_ns() - start
        self.counters["fsyncs"] += 1
        self.counters["fsync_ns"] += took
        if self.on_fsync is not None:
            self.on_fsync(took)
        self._last_fsync = now
        self._dirty = False
        self._synced_size, self._synced_seq = self._size, self.last_seq

    def sync(self) -> None:
        """Make the appended records durable under the policy (fsync per policy).

        A failed fsync raises :class:`JournalWriteError` (see the module docstring).
        """
        if self._file is None or not self._dirty or self.mode == "none":
            return
        if self.failed is not None:
            raise self.failed
        if self.mode == "fsync" or self._clock() - self._last_fsync >= self.interval_ns:
            self._fsync()

    def sync_due_ms(self) -> int | None:
        """Milliseconds until an idle :meth:`sync` would fsync, or None (nothing pending, or
        not the ``"interval"`` policy): how long the daemon's loop may sleep when idle."""
        if self.mode != "interval" or not self._dirty or self.failed is not None:
            return None
        left = self.interval_ns - (self._clock() - self._last_fsync)
        return max(0, -(-left // 1_000_000))

    def probe(self, free_bytes: int = PROBE_FREE_BYTES) -> bool:
        """Whether appending may work again after a recoverable failure: at least
        ``free_bytes`` free for this user on the journal's file system, and a real write
        and fsync of a small file there succeeding (the file is removed)."""
        if self.failed is not None:
            return False
        try:
            st = os.statvfs(self.directory)
            if st.f_bavail * st.f_frsize < free_bytes:
                return False
            path = self.directory / _PROBE_NAME
            try:
                with open(path, "wb", buffering=0) as f:
                    f.write(bytes(4096))
                    os.fsync(f.fileno())
            finally:
                path.unlink(missing_ok=True)
        except OSError:
            return False
        return True

    def set_aside(self) -> Path | None:
        """Move every segment and the mark into a new folder ``journal-superseded-<time>`` and
        start empty (the next append may start at any seq): for a replicated node whose local
        journal fell behind its own snapshot (a power cut before the OS wrote it), the stream
        holding the rest. The folder, or None when there was nothing to move."""
        self.close()
        moved = [p for _, p in segments(self.directory)] + [p for p in (self.directory / MARK_NAME,) if p.exists()]
        self.last_seq, self._size, self._synced_size, self._synced_seq, self._dirty = 0, 0, 0, 0, False
        if not moved:
            return None
        folder = self.directory / time.strftime("journal-superseded-%Y%m%d-%H%M%S")
        folder.mkdir()
        for path in moved:
            path.rename(folder / path.name)
        _fsync_dir(self.directory)
        log.warning("journal: set aside in %s (it ended before this node's snapshot)", folder,
                    extra={"event": "journal_set_aside", "folder": str(folder)})
        return folder

    def close(self) -> None:
        """Fsync (unless ``"none"``) and close the open segment.

        A failed final fsync is logged, not raised: the daemon is stopping either way.
        """
        if self._file is None:
            return
        if self.mode != "none" and self._dirty and self.failed is None:
            try:
                self._fsync()
            except JournalWriteError as exc:
                log.error("journal: the final fsync failed, the last records may not be durable: %s", exc,
                          extra={"event": "error", "error": str(exc)})
        self._file.close()
        self._file = None

    def __enter__(self) -> "Journal":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
