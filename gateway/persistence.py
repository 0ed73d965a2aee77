"""The daemon's durable state: recovery at start, snapshots, and what is pruned after them.

:class:`Persistence` is the part of :class:`gateway.server.Gateway` that reads and writes the
state directory. At start: the newest snapshot that restores (engine ``snapshot-<seq>.bin``
plus the gateway's tables ``gateway-<seq>.npz``; a damaged one is skipped with a log line),
then every later journal record, replayed through the live loop's own table updates and
report routing (numbered and kept for gap fill, not sent). While serving: snapshots
periodically, on demand and at shutdown (temporary file, fsync, rename, directory fsync),
then :meth:`Persistence._prune` keeps the newest ``keep_snapshots`` and the journal
segments they need.

Periodic and requested snapshots are written in the background, like Redis's BGSAVE: the
loop forks (a few milliseconds even for millions of resting orders: the pages are shared
copy-on-write), the child writes the state it was forked with, one sequence number's, and
leaves with ``os._exit`` (it touches no socket, logs nothing, runs no exit handler); the
loop goes on matching, reaps the child on a later timer tick, logs the result and prunes.
One child at a time; a failed one is logged and tried again later (the journal still holds
every command). The shutdown snapshot is written in the loop, which has stopped by then.

The disclosure files (:mod:`feeds.disclosure`) follow the journal too: the
:class:`~feeds.disclosure.Disclosure` exists before recovery, its figures travel with each
snapshot's gateway tables, and replay feeds it every replayed batch's events.
"""
from __future__ import annotations

import ctypes
import gc
import io
import json
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

from feeds.disclosure import Disclosure
from matching import CommandType, Engine, EventKind, Reject

from .drift import ConfigDrift, drift, genesis
from .errors import GatewayError
from .journal import JournalError, _fsync_dir
from .protocol import COMMAND_OF, CREATING_TYPES, OPERATOR, REPORT_DTYPE
from .replay import snapshots

__all__ = ["Persistence"]

log = logging.getLogger("chuanyu.gateway")
_CREATING_COMMAND = np.zeros(256, dtype=bool)  # by command type: an order-creating command
_CREATING_COMMAND[COMMAND_OF[list(CREATING_TYPES)]] = True


SNAPSHOT_RETRY_S = 10.0        # after a failed periodic snapshot, the next try waits this long
SNAPSHOT_SYNC_BYTES = 4 << 20  # a snapshot goes to disk this many bytes at a time (see _SyncingFile)
_PR_SET_PDEATHSIG = 1          # prctl(2): a signal for the child when its parent dies
# loaded now: a child must not run the dynamic loader (another thread may hold its lock at the fork)
_LIBC = ctypes.CDLL(None, use_errno=True) if sys.platform.startswith("linux") else None


class _BadSnapshot(Exception):
    """A snapshot (or its gateway tables) that does not load: recovery falls back to an older one."""


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




class Persistence:
    """Recovery, snapshots and pruning: a part of :class:`gateway.server.Gateway`."""

    def _restore_or_bootstrap(self) -> Engine:
        """Newest usable snapshot + every later journal record; else the whole journal; else bootstrap."""
        self._sweep_leftovers()                         # a kill may have come mid-snapshot or mid-prune
        after = 0
        self.engine = None
        for last, path in snapshots(self.state_dir):
            try:
                self.engine = self._restore(path)
            except _BadSnapshot as exc:
                log.warning("recovery: skipping damaged snapshot %s: %s", path, exc,
                            extra={"event": "snapshot_skipped", "snapshot": path.name, "error": str(exc)})
                self.recovery["skipped_snapshots"].append(path.name)
                continue
            after = last
            self.recovery["snapshot"] = path.name
            self._snapshot_seq = last
            break
        journal_last = getattr(self.journal, "last_seq", 0)
        if self.engine is None and journal_last:
            self.engine = self._new_engine()            # no usable snapshot: the whole journal
            self.next_seq = 1
        if self.engine is not None:
            if journal_last and journal_last < after:
                raise GatewayError(f"{self.state_dir}: the journal ends at seq {journal_last} but the snapshot "
                                   f"{self.recovery['snapshot']} includes seq {after}: journal records missing")
            self._replay_journal(after)
            return self.engine
        # A new market: the configuration's settings become its first journaled commands, tried
        # on a scratch engine first so that a refused configuration journals nothing
        rows = genesis(self.config)
        self._engine_refused(self._new_engine().process(rows), "the configuration")
        self.engine = self._new_engine()
        self._journal_at_start(rows)
        return self.engine

    def _journal_at_start(self, rows: np.ndarray) -> None:
        """Operator commands of the start itself: journaled, then applied exactly as replay
        will apply them (reports numbered into their sessions' gap-fill windows)."""
        batch = self._sequence(rows, time.time_ns())
        self.journal.append(batch)
        self.journal.sync()
        self._replay_record(batch)

    @staticmethod
    def _engine_refused(events: np.ndarray, what: str) -> None:
        bad = events[events["kind"] == EventKind.REJECTED]
        if len(bad):
            e = bad[0]
            raise GatewayError(f"{what} was refused by the engine: {Reject(int(e['reason'])).name} for "
                               f"{CommandType(int(e['command'])).name} (account {int(e['account'])}, instrument "
                               f"{int(e['instrument'])})")

    def _reconcile_config(self, apply: bool) -> None:
        """Refuse a configuration that differs from the recovered market, or journal the
        difference as operator commands when the operator asked for it (gateway.drift)."""
        differences = drift(self.config, self.engine)
        if not differences:
            return
        if not apply or any(d.rows is None for d in differences):
            raise GatewayError(str(ConfigDrift(differences)))
        rows = np.concatenate([d.rows for d in differences])
        self._engine_refused(self._scratch_copy().process(rows), "the configuration's difference")
        self._journal_at_start(rows)
        for d in differences:
            log.warning("configuration applied: %s %r -> %r (journaled)", d.key, d.state, d.config,
                        extra={"event": "config_applied", "key": d.key, "was": str(d.state), "now": str(d.config)})

    def _scratch_copy(self) -> Engine:
        return Engine.restore(self.engine.snapshot())

    def _restore(self, path: Path) -> Engine:
        """Engine + gateway tables of one snapshot; :class:`_BadSnapshot` if either is damaged."""
        side = path.with_name(path.name.replace("snapshot-", "gateway-").replace(".bin", ".npz"))
        try:
            engine = Engine.restore(path.read_bytes())
        except (OSError, ValueError) as exc:
            raise _BadSnapshot(str(exc)) from None
        try:
            with np.load(side) as z:
                tables = {name: z[name].copy() for name in ("order_session", "order_account", "order_coid",
                                                            "order_open")}
                meta = json.loads(bytes(z["meta"]).decode())
                next_seq = int(meta["next_seq"])
                sessions = {int(k): (int(v[0]), int(v[1])) for k, v in meta["sessions"].items()}
                windows = {}                    # each session's kept reports (gap fill)
                for name in z.files:
                    if name.startswith("window_"):
                        rows = z[name].view(REPORT_DTYPE)
                        sid = int(name[len("window_"):])
                        counter = sessions.get(sid, (0, 0))[0]
                        if len(rows) and int(rows["report_seq"][-1]) != counter:
                            raise ValueError(f"{name} ends at report_seq {int(rows['report_seq'][-1])}, "
                                             f"the session's counter says {counter}")
                        windows[sid] = rows
                if self.disclosure is not None and "disclosure" in meta:   # last: nothing after it can fail
                    self.disclosure.restore(meta["disclosure"])
        except Exception as exc:     # noqa: BLE001  (a damaged sidecar: any numpy/zip/json failure)
            raise _BadSnapshot(f"its gateway tables {side.name}: {exc}") from None
        self._order_session, self._order_account = tables["order_session"], tables["order_account"]
        self._order_coid, self._order_open = tables["order_coid"], tables["order_open"]
        self.next_seq = next_seq
        self._schedule_state = meta.get("schedule")
        for sid, (report_seq, coid_last) in sessions.items():
            sess = self.session_by_id.get(sid)
            if sess is not None:
                sess.report_seq, sess.coid_last = report_seq, coid_last
                sess.window.load(windows.get(sid, np.zeros(0, dtype=REPORT_DTYPE)), report_seq)
        log.info("restored %s", path)
        return engine

    def _replay_journal(self, after: int) -> None:
        """Apply every journal record after seq ``after`` to the engine and the gateway tables."""
        from .journal import read_records          # noqa: PLC0415
        expect = after + 1
        records = commands_n = 0
        self._grow_orders(max(0, int(self.engine.next_order_id)))
        try:
            for rec in read_records(self.state_dir, after_seq=after):
                first = int(rec.rows["seq"][0])
                if first != expect:
                    raise GatewayError(f"{rec.path}: byte offset {rec.offset}: the journal continues at seq {first}, "
                                       f"the restored state ends at seq {expect - 1}: records missing")
                self._replay_record(rec.rows)
                expect = first + len(rec.rows)
                records += 1
                commands_n += len(rec.rows)
        except JournalError as exc:
            raise GatewayError(f"cannot recover the journal: {exc}") from None
        self.next_seq = max(self.next_seq, expect)
        self.recovery["replayed_records"], self.recovery["replayed_commands"] = records, commands_n
        if records:
            log.info("recovery: replayed %d journal records (%d commands, seq %d..%d)", records, commands_n,
                     after + 1, expect - 1)

    def _session_index(self, ids: np.ndarray) -> np.ndarray:
        """Session index of each session id (0, the operator, for an unknown id)."""
        pos = np.minimum(np.searchsorted(self._ids_sorted, ids), len(self._ids_sorted) - 1)
        return np.where(self._ids_sorted[pos] == ids, self._idx_sorted[pos], 0).astype(np.int32)

    def _replay_record(self, rows: np.ndarray) -> np.ndarray:
        """One journaled batch, replayed: the engine, then the gateway tables as the live loop.

        The table update is the live loop's own (``_reports``: routing, client order ids, open
        orders), and so is the routing (``_route``): each session's reports get the same
        ``report_seq`` and land in its gap-fill window byte for byte as they did live, but are
        not sent. Each session's last NEW_ORDER client order id follows the journaled commands.
        """
        rows = np.ascontiguousarray(rows)
        base = int(rows["seq"][0])
        cmd_sess = self._session_index(rows["session"])
        events = self.engine.process(rows)
        self.counters["batches"] += 1
        self.counters["commands"] += len(rows)
        self.counters["events"] += len(events)
        if self.disclosure is not None:         # the tape (rows not written yet) and the day's figures
            self.disclosure.record(events)
        reports, dest, pos = self._reports(events, cmd_sess, rows["session"], np.arange(len(rows)), base)
        if len(reports):
            self._replaying = True              # the live routing, numbering and kept window; no send
            try:
                self._route(reports, dest, pos, merged=False)
            finally:
                self._replaying = False
        new = _CREATING_COMMAND[rows["type"]]
        if new.any():
            for idx in np.unique(cmd_sess[new]).tolist():
                if idx != OPERATOR:
                    s = self.sessions[idx]
                    s.coid_last = max(s.coid_last, int(rows["client_order_id"][new & (cmd_sess == idx)].max()))
        self.next_seq = int(rows["seq"][-1]) + 1
        return events

    def _open_disclosure(self) -> Disclosure | None:
        """The disclosure files' writer, before recovery (replay feeds it); None without feeds."""
        if not self.config.network.feeds:
            return None
        region_of = {a.id: a.region for a in self.config.accounts}
        return Disclosure(self.state_dir, self.config.instruments, lambda a: region_of.get(a, 0))

    def _snapshot_state(self) -> tuple[int, dict]:
        """The gateway's part of a snapshot as it is now: (last seq, arrays for the .npz)."""
        meta = {"next_seq": self.next_seq,
                "sessions": {str(s.cfg.id): [s.report_seq, s.coid_last] for s in self.sessions[1:]}}
        if self.schedule is not None:
            meta["schedule"] = self.schedule.state()
        if self.disclosure is not None:
            meta["disclosure"] = self.disclosure.state()
        # raw bytes: the layout is REPORT_DTYPE's, whatever numpy's .npy header makes of it
        arrays = {f"window_{s.cfg.id}": s.window.after(s.window.first - 1).view(np.uint8)
                  for s in self.sessions[1:]}
        arrays.update(order_session=self._order_session, order_account=self._order_account,
                      order_coid=self._order_coid, order_open=self._order_open,
                      meta=np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8))
        return self.next_seq - 1, arrays

    def _write_snapshot_files(self) -> tuple[int, Path]:
        """Write the engine and the gateway's tables as they are now: (last seq, path)."""
        last, arrays = self._snapshot_state()
        if self.disclosure is not None:         # the tape so far on disk: replay starts after this snapshot
            self.disclosure.sync()
        path = self.state_dir / f"snapshot-{last:012d}.bin"
        blob = self.engine.snapshot()
        # the gateway tables first, then the engine: a snapshot-*.bin is complete only with its
        # gateway-*.npz, and recovery skips one without (falling back to an older snapshot)
        side = self.state_dir / f"gateway-{last:012d}.npz"
        tmp = side.with_suffix(".tmp.npz")
        with _SyncingFile(tmp) as f:
            np.savez(f, **arrays)
            os.fsync(f.fileno())
        os.replace(tmp, side)
        _atomic_write(path, blob)
        _fsync_dir(self.state_dir)
        return last, path

    def write_snapshot(self) -> Path:
        """Write a snapshot now, in the loop (at shutdown, and for tools and tests).

        A background snapshot still being written is waited for first: one writer at a time.
        """
        self._wait_snapshot()
        started = time.monotonic()
        last, path = self._write_snapshot_files()
        self._snapshot_written(path, last, started, "in the loop")
        return path

    def _snapshot_written(self, path: Path, last: int, started: float, how: str) -> None:
        ms = (time.monotonic() - started) * 1e3
        log.info("snapshot %s (%s, %.0f ms)", path, how, ms,
                 extra={"event": "snapshot", "path": str(path), "last_seq": last, "ms": round(ms, 1)})
        self._snapshot_seq, self._snapshot_at = last, time.monotonic()
        self._prune()

    def request_snapshot(self, identity: bytes, request_id) -> None:
        """The admin ``snapshot``: written in the background, answered once it is on disk."""
        if not self._storage_ok():
            self._admin_reply(identity, {"ok": False, "id": request_id,
                                         "error": "snapshot refused: the journal's storage is not available"})
            return
        self._snapshot_waiters.append((identity, request_id))
        if self._snapshot_child is None:
            self._start_snapshot()

    def _storage_ok(self) -> bool:
        """The journal's storage works (:mod:`gateway.storage`): no snapshot may get ahead of it."""
        storage = getattr(self, "storage", None)
        return storage is None or storage.available

    def _snapshot_tick(self) -> None:
        """On the timer: reap a finished background snapshot; start one when due or asked for."""
        if self._snapshot_child is not None:
            self._reap_snapshot(block=False)
        if self._snapshot_child is None and self._storage_ok() and (self._snapshot_waiters or (
                self._snapshot_due() and time.monotonic() >= self._snapshot_retry_at)):
            self._start_snapshot()

    def _start_snapshot(self) -> None:
        """Fork a child that writes the state as it is now; the loop goes on at once."""
        waiters, self._snapshot_waiters = self._snapshot_waiters, []
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
            self._snapshot_in_loop(waiters)
            return
        if pid == 0:
            os.close(r)
            self._snapshot_child_main(parent, w)
        os.close(w)
        pause_ms = (time.perf_counter_ns() - t0) / 1e6
        self._snapshot_child = _Writer(pid, r, self.next_seq - 1, time.monotonic(), waiters)
        log.info("snapshot at seq %d: writing in the background (pid %d; the loop paused %.1f ms to fork)",
                 self.next_seq - 1, pid, pause_ms,
                 extra={"event": "snapshot_started", "last_seq": self.next_seq - 1, "pid": pid,
                        "fork_ms": round(pause_ms, 3)})

    def _snapshot_child_main(self, parent: int, w: int) -> NoReturn:
        """The forked child: write the snapshot, say where (or why not) on the pipe, ``_exit``."""
        code, message = 1, "error the snapshot writer failed"
        try:
            gc.disable()                    # no finaliser of the parent's objects runs here
            os.nice(10)                     # on a small machine the matching loop goes first
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            signal.signal(signal.SIGINT, signal.SIG_DFL)
            _die_with_parent(parent)
            _, path = self._write_snapshot_files()
            code, message = 0, f"ok {path}"
        except BaseException as exc:        # noqa: BLE001  (anything: reported to the parent, which logs it)
            message = f"error {type(exc).__name__}: {exc}"
        finally:
            try:
                os.write(w, message.encode()[:4000])     # within the pipe's buffer: never blocks
            finally:
                os._exit(code)

    def _reap_snapshot(self, block: bool) -> None:
        """Collect the background snapshot's child if it has finished (``block``: wait for it)."""
        child = self._snapshot_child
        try:
            pid, status = os.waitpid(child.pid, 0 if block else os.WNOHANG)
        except ChildProcessError:           # reaped elsewhere: its pipe still says how it went
            pid, status = child.pid, None
        if pid == 0:
            return
        self._snapshot_child = None
        try:
            message = _read_all(child.fd).decode(errors="replace")
        finally:
            os.close(child.fd)
        code = None if status is None else os.waitstatus_to_exitcode(status)
        if message.startswith("ok ") and code in (0, None):
            path = Path(message[3:])
            try:
                self._snapshot_written(path, child.last, child.started, f"in the background, pid {child.pid}")
            except OSError as exc:          # pruning failed: the snapshot itself is on disk
                log.error("pruning after snapshot %s failed: %s", path, exc, extra={"event": "error", "error": str(exc)})
            for identity, request_id in child.waiters:
                self._admin_reply(identity, {"ok": True, "id": request_id, "snapshot": str(path)})
            return
        why = message.removeprefix("error ") or (f"killed by signal {-code}" if code is not None and code < 0
                                                 else f"exit status {code}")
        self._snapshot_failed(child.last, why, child.waiters)

    def _wait_snapshot(self) -> None:
        """Wait for a background snapshot still being written (shutdown, a snapshot in the loop)."""
        if self._snapshot_child is not None:
            self._reap_snapshot(block=True)

    def _snapshot_in_loop(self, waiters: list) -> None:
        """A snapshot written in the loop where no child could be forked."""
        try:
            path = self.write_snapshot()
        except OSError as exc:
            self._snapshot_failed(self.next_seq - 1, str(exc), waiters)
            return
        for identity, request_id in waiters:
            self._admin_reply(identity, {"ok": True, "id": request_id, "snapshot": str(path)})

    def _snapshot_failed(self, last: int, why: str, waiters: list) -> None:
        log.error("snapshot at seq %d failed (the journal still has every command; next try in %.0f s): %s",
                  last, SNAPSHOT_RETRY_S, why, extra={"event": "error", "error": why, "last_seq": last})
        self._snapshot_at = time.monotonic()
        self._snapshot_retry_at = self._snapshot_at + SNAPSHOT_RETRY_S
        for identity, request_id in waiters:
            self._admin_reply(identity, {"ok": False, "id": request_id, "error": f"snapshot failed: {why}"})

    def _snapshot_due(self) -> bool:
        """A periodic snapshot is due: enough commands, or enough time with some commands."""
        dur = self.config.durability
        new = self.next_seq - 1 - self._snapshot_seq
        if new <= 0:
            return False
        if dur.snapshot_every_commands and new >= dur.snapshot_every_commands:
            return True
        return bool(dur.snapshot_every_s) and time.monotonic() - self._snapshot_at >= dur.snapshot_every_s

    def _sweep_leftovers(self) -> None:
        """Remove what a crash can leave behind: half-written snapshot files, and gateway tables
        whose snapshot-*.bin is gone (a kill between writing or pruning a snapshot's two files)."""
        for stale in list(self.state_dir.glob("snapshot-*.bin.tmp")) + list(self.state_dir.glob("gateway-*.tmp.npz")):
            stale.unlink(missing_ok=True)
        kept = {p.name.replace("snapshot-", "gateway-").replace(".bin", ".npz") for _, p in snapshots(self.state_dir)}
        for side in self.state_dir.glob("gateway-*.npz"):
            if side.name not in kept and not side.name.endswith(".tmp.npz"):
                side.unlink(missing_ok=True)

    def _prune(self) -> None:
        """Keep the newest ``keep_snapshots`` snapshots and the journal they need.

        A journal segment goes only when the next segment starts at or before the oldest
        kept snapshot's first missing command: every record recovery could replay onto any
        kept snapshot stays. The open (last) segment always stays.
        """
        from .journal import segments                   # noqa: PLC0415
        dur = self.config.durability
        snaps = snapshots(self.state_dir)                # newest first
        if dur.keep_snapshots and len(snaps) > dur.keep_snapshots:
            for _, old in snaps[dur.keep_snapshots:]:
                # the engine file first: a snapshot-*.bin never outlives its gateway-*.npz
                old.unlink(missing_ok=True)
                old.with_name(old.name.replace("snapshot-", "gateway-").replace(".bin", ".npz")).unlink(
                    missing_ok=True)
                log.info("pruned snapshot %s", old.name, extra={"event": "pruned", "path": old.name})
            snaps = snaps[:dur.keep_snapshots]
        self._sweep_leftovers()
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

