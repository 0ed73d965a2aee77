"""Snapshots: the state written beside the journal, so recovery need not replay it all.

Snapshots are written at graceful shutdown, by the admin ``snapshot`` and periodically
(``[durability] snapshot_every_commands`` / ``snapshot_every_s``, checked on the timer
tick). Each is two files named by the last command it includes: the engine
(``snapshot-<seq>.bin``) and the daemon's tables (``gateway-<seq>.npz``, see
:mod:`exchange.recovery`), each written to a temporary file, fsynced, renamed, the directory
fsynced; the tables first, so a ``snapshot-*.bin`` is complete only with its tables. After
each one the newest ``keep_snapshots`` are kept, and the journal segments they need.

Periodic and requested snapshots are written in the background, like Redis's BGSAVE: the
loop forks (a few milliseconds even for millions of resting orders: the pages are shared
copy-on-write), the child writes the state it was forked with, one sequence number's, and
leaves with ``os._exit`` (it touches no socket, logs nothing, runs no exit handler); the
loop goes on matching, reaps the child on a later timer tick, logs the result and prunes.
One child at a time; a failed one is logged and tried again later (the journal still holds
every command). The shutdown snapshot is written in the loop, which has stopped by then.
"""
from __future__ import annotations

import ctypes
import gc
import io
import logging
import os
import signal
import sys
import time
import warnings
import zipfile  # noqa: F401  (np.savez imports it: loaded before any fork, never first in a child)
from pathlib import Path
from typing import NamedTuple, NoReturn

import numpy as np

from .journal import _fsync_dir
from .recovery import snapshots, tables_path

__all__ = ["Snapshots", "SNAPSHOT_RETRY_S"]

log = logging.getLogger("chuanyu.gateway")

SNAPSHOT_RETRY_S = 10.0        # after a failed periodic snapshot, the next try waits this long
SNAPSHOT_SYNC_BYTES = 4 << 20  # a snapshot goes to disk this many bytes at a time (see _SyncingFile)
_PR_SET_PDEATHSIG = 1          # prctl(2): a signal for the child when its parent dies
# loaded now: a child must not run the dynamic loader (another thread may hold its lock at the fork)
_LIBC = ctypes.CDLL(None, use_errno=True) if sys.platform.startswith("linux") else None


class _Writer(NamedTuple):
    """A background snapshot being written by a child process."""

    pid: int
    fd: int                    # read end of a pipe: "ok <snapshot path>" or "error <why>" from the child
    last: int                  # the last seq the snapshot includes
    started: float             # time.monotonic() at the fork
    waiters: list              # (admin identity, request id) to answer when it is done


def _die_with_parent(parent: int) -> None:
    """Have the kernel kill this (child) process if ``parent`` dies: a daemon killed with -9
    leaves no snapshot writer racing the next start's sweep of leftovers (Linux only)."""
    if _LIBC is not None:
        _LIBC.prctl(_PR_SET_PDEATHSIG, int(signal.SIGKILL))
    if os.getppid() != parent:         # it died before the prctl
        os._exit(1)


def _read_all(fd: int) -> bytes:
    chunks = []
    while chunk := os.read(fd, 65536):
        chunks.append(chunk)
    return b"".join(chunks)


class _SyncingFile(io.FileIO):
    """A file written to disk as it goes: ``fdatasync`` after every :data:`SNAPSHOT_SYNC_BYTES`.

    A snapshot of millions of orders is some hundred megabytes; left to pile up as dirty pages
    and fsynced at the end, it makes the journal's fsync of the next batch wait behind it on
    the same file system (Redis syncs its background saves incrementally for the same reason).
    """

    def __init__(self, path) -> None:
        super().__init__(path, "wb")
        self._unsynced = 0

    def write(self, data) -> int:
        view = memoryview(data).cast("B")
        done = 0
        while done < len(view):             # a raw write may be short
            n = super().write(view[done:done + SNAPSHOT_SYNC_BYTES])
            done += n
            self._unsynced += n
            if self._unsynced >= SNAPSHOT_SYNC_BYTES:
                os.fdatasync(self.fileno())
                self._unsynced = 0
        return done


def _atomic_write(path: Path, data: bytes) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with _SyncingFile(tmp) as f:
        f.write(data)
        os.fsync(f.fileno())
    os.replace(tmp, path)




class Snapshots:
    """The daemon's snapshot writer (see the module).

    ``last_seq()`` is the last command sequenced; ``state()`` returns what to write, as it is now: ``(last seq, engine, the tables' arrays)``;
    ``before_write()`` runs first (the disclosure files' tape goes to disk); ``reply(identity,
    answer)`` answers an admin request; ``storage`` is the journal's
    (:class:`exchange.storage.Storage`): no snapshot may get ahead of it.
    """

    def __init__(self, state_dir, durability, last_seq, state, before_write, reply, storage) -> None:
        self.state_dir = Path(state_dir)
        self._last_seq = last_seq
        self.durability = durability
        self._state, self._before_write, self._reply, self.storage = state, before_write, reply, storage
        self.last_seq = 0                      # last seq in the newest snapshot
        self.at = time.monotonic()             # when it was written
        self.child = None                      # the background snapshot being written
        self.waiters: list = []                # admin requests for the next one
        self.retry_at = 0.0                    # after a failed one, no periodic try before this

    def write_files(self) -> tuple[int, Path]:
        """Write the engine and the daemon's tables as they are now: (last seq, path)."""
        self._before_write()
        last, engine, arrays = self._state()
        path = self.state_dir / f"snapshot-{last:012d}.bin"
        blob = engine.snapshot()
        # the tables first, then the engine: a snapshot-*.bin is complete only with its
        # gateway-*.npz, and recovery skips one without (falling back to an older snapshot)
        side = tables_path(path)
        tmp = side.with_suffix(".tmp.npz")
        with _SyncingFile(tmp) as f:
            np.savez(f, **arrays)
            os.fsync(f.fileno())
        os.replace(tmp, side)
        _atomic_write(path, blob)
        _fsync_dir(self.state_dir)
        return last, path

    def write(self) -> Path:
        """Write a snapshot now, in the loop (at shutdown, and for tools and tests).

        A background snapshot still being written is waited for first: one writer at a time.
        """
        self.wait()
        started = time.monotonic()
        last, path = self.write_files()
        self.written(path, last, started, "in the loop")
        return path

    def written(self, path: Path, last: int, started: float, how: str) -> None:
        ms = (time.monotonic() - started) * 1e3
        log.info("snapshot %s (%s, %.0f ms)", path, how, ms,
                 extra={"event": "snapshot", "path": str(path), "last_seq": last, "ms": round(ms, 1)})
        self.last_seq, self.at = last, time.monotonic()
        self.prune()

    def request(self, identity: bytes, request_id) -> None:
        """The admin ``snapshot``: written in the background, answered once it is on disk."""
        if not self.storage.available:
            self._reply(identity, {"ok": False, "id": request_id,
                                         "error": "snapshot refused: the journal's storage is not available"})
            return
        self.waiters.append((identity, request_id))
        if self.child is None:
            self.start()

    def tick(self) -> None:
        """On the timer: reap a finished background snapshot; start one when due or asked for."""
        if self.child is not None:
            self.reap(block=False)
        if self.child is None and self.storage.available and (self.waiters or (
                self.due() and time.monotonic() >= self.retry_at)):
            self.start()

    def start(self) -> None:
        """Fork a child that writes the state as it is now; the loop goes on at once."""
        waiters, self.waiters = self.waiters, []
        parent = os.getpid()
        r, w = os.pipe()
        t0 = time.perf_counter_ns()
        try:
            with warnings.catch_warnings():
                # Python 3.12+ warns about forking with threads (ZeroMQ's, ZAP's, metrics'): the
                # child never uses them, nor any lock they hold, and leaves with os._exit
                warnings.simplefilter("ignore", DeprecationWarning)
                pid = os.fork()
        except OSError as exc:
            os.close(r)
            os.close(w)
            log.warning("cannot fork a snapshot writer (%s): writing the snapshot in the loop", exc,
                        extra={"event": "error", "error": str(exc)})
            self.in_loop(waiters)
            return
        if pid == 0:
            os.close(r)
            self.child_main(parent, w)
        os.close(w)
        pause_ms = (time.perf_counter_ns() - t0) / 1e6
        self.child = _Writer(pid, r, self._last_seq(), time.monotonic(), waiters)
        log.info("snapshot at seq %d: writing in the background (pid %d; the loop paused %.1f ms to fork)",
                 self._last_seq(), pid, pause_ms,
                 extra={"event": "snapshot_started", "last_seq": self._last_seq(), "pid": pid,
                        "fork_ms": round(pause_ms, 3)})

    def child_main(self, parent: int, w: int) -> NoReturn:
        """The forked child: write the snapshot, say where (or why not) on the pipe, ``_exit``."""
        code, message = 1, "error the snapshot writer failed"
        try:
            gc.disable()                    # no finaliser of the parent's objects runs here
            os.nice(10)                     # on a small machine the matching loop goes first
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            signal.signal(signal.SIGINT, signal.SIG_DFL)
            _die_with_parent(parent)
            _, path = self.write_files()
            code, message = 0, f"ok {path}"
        except BaseException as exc:        # noqa: BLE001  (anything: reported to the parent, which logs it)
            message = f"error {type(exc).__name__}: {exc}"
        finally:
            try:
                os.write(w, message.encode()[:4000])     # within the pipe's buffer: never blocks
            finally:
                os._exit(code)

    def reap(self, block: bool) -> None:
        """Collect the background snapshot's child if it has finished (``block``: wait for it)."""
        child = self.child
        try:
            pid, status = os.waitpid(child.pid, 0 if block else os.WNOHANG)
        except ChildProcessError:           # reaped elsewhere: its pipe still says how it went
            pid, status = child.pid, None
        if pid == 0:
            return
        self.child = None
        try:
            message = _read_all(child.fd).decode(errors="replace")
        finally:
            os.close(child.fd)
        code = None if status is None else os.waitstatus_to_exitcode(status)
        if message.startswith("ok ") and code in (0, None):
            path = Path(message[3:])
            try:
                self.written(path, child.last, child.started, f"in the background, pid {child.pid}")
            except OSError as exc:          # pruning failed: the snapshot itself is on disk
                log.error("pruning after snapshot %s failed: %s", path, exc, extra={"event": "error", "error": str(exc)})
            for identity, request_id in child.waiters:
                self._reply(identity, {"ok": True, "id": request_id, "snapshot": str(path)})
            return
        why = message.removeprefix("error ") or (f"killed by signal {-code}" if code is not None and code < 0
                                                 else f"exit status {code}")
        self.failed(child.last, why, child.waiters)

    def wait(self) -> None:
        """Wait for a background snapshot still being written (shutdown, a snapshot in the loop)."""
        if self.child is not None:
            self.reap(block=True)

    def in_loop(self, waiters: list) -> None:
        """A snapshot written in the loop where no child could be forked."""
        try:
            path = self.write()
        except OSError as exc:
            self.failed(self._last_seq(), str(exc), waiters)
            return
        for identity, request_id in waiters:
            self._reply(identity, {"ok": True, "id": request_id, "snapshot": str(path)})

    def failed(self, last: int, why: str, waiters: list) -> None:
        log.error("snapshot at seq %d failed (the journal still has every command; next try in %.0f s): %s",
                  last, SNAPSHOT_RETRY_S, why, extra={"event": "error", "error": why, "last_seq": last})
        self.at = time.monotonic()
        self.retry_at = self.at + SNAPSHOT_RETRY_S
        for identity, request_id in waiters:
            self._reply(identity, {"ok": False, "id": request_id, "error": f"snapshot failed: {why}"})

    def due(self) -> bool:
        """A periodic snapshot is due: enough commands, or enough time with some commands."""
        dur = self.durability
        new = self._last_seq() - self.last_seq
        if new <= 0:
            return False
        if dur.snapshot_every_commands and new >= dur.snapshot_every_commands:
            return True
        return bool(dur.snapshot_every_s) and time.monotonic() - self.at >= dur.snapshot_every_s

    def sweep(self) -> None:
        """Remove what a crash can leave behind: half-written snapshot files, and gateway tables
        whose snapshot-*.bin is gone (a kill between writing or pruning a snapshot's two files)."""
        for stale in list(self.state_dir.glob("snapshot-*.bin.tmp")) + list(self.state_dir.glob("gateway-*.tmp.npz")):
            stale.unlink(missing_ok=True)
        kept = {tables_path(p).name for _, p in snapshots(self.state_dir)}
        for side in self.state_dir.glob("gateway-*.npz"):
            if side.name not in kept and not side.name.endswith(".tmp.npz"):
                side.unlink(missing_ok=True)

    def prune(self) -> None:
        """Keep the newest ``keep_snapshots`` snapshots and the journal they need.

        A journal segment goes only when the next segment starts at or before the oldest
        kept snapshot's first missing command: every record recovery could replay onto any
        kept snapshot stays. The open (last) segment always stays.
        """
        from .journal import segments                   # noqa: PLC0415
        dur = self.durability
        snaps = snapshots(self.state_dir)                # newest first
        if dur.keep_snapshots and len(snaps) > dur.keep_snapshots:
            for _, old in snaps[dur.keep_snapshots:]:
                # the engine file first: a snapshot-*.bin never outlives its gateway-*.npz
                old.unlink(missing_ok=True)
                tables_path(old).unlink(missing_ok=True)
                log.info("pruned snapshot %s", old.name, extra={"event": "pruned", "path": old.name})
            snaps = snaps[:dur.keep_snapshots]
        self.sweep()
        if not dur.prune_journal or not snaps:
            return
        oldest = snaps[-1][0]
        segs = segments(self.state_dir)
        for (_, path), (next_first, _) in zip(segs, segs[1:]):
            if next_first > oldest + 1:
                break
            path.unlink()
            log.info("pruned journal segment %s (every record is in snapshot seq %d)", path.name, oldest,
                     extra={"event": "pruned", "path": path.name})

