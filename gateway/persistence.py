"""The daemon's durable state: recovery at start, snapshots, and what is pruned after them.

:class:`Persistence` is the part of :class:`gateway.server.Gateway` that reads and writes the
state directory. At start: the newest snapshot that restores (engine ``snapshot-<seq>.bin``
plus the gateway's tables ``gateway-<seq>.npz``; a damaged one is skipped with a log line),
then every later journal record, replayed through the live loop's own table updates and
report routing (numbered and kept for gap fill, not sent). While serving: snapshots
periodically, on demand and at shutdown (temporary file, fsync, rename, directory fsync),
then :meth:`Persistence._prune` keeps the newest ``keep_snapshots`` and the journal
segments they need.
"""
from __future__ import annotations

import json
import logging
import os
import time
from pathlib import Path

import numpy as np

from matching import Engine, EventKind, commands

from .errors import GatewayError
from .journal import JournalError, _fsync_dir
from .protocol import COMMAND_OF, CREATING_TYPES, OPERATOR, REPORT_DTYPE
from .replay import snapshots

__all__ = ["Persistence"]

log = logging.getLogger("chuanyu.gateway")
_CREATING_COMMAND = np.zeros(256, dtype=bool)  # by command type: an order-creating command
_CREATING_COMMAND[COMMAND_OF[list(CREATING_TYPES)]] = True


class _BadSnapshot(Exception):
    """A snapshot (or its gateway tables) that does not load: recovery falls back to an older one."""




def _atomic_write(path: Path, data: bytes) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
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
        self.engine = self._new_engine()
        rows = []
        for a in self.config.accounts:
            rows.append(commands.create_account(a.id, a.member, a.region, a.sector))
            if a.cash:
                rows.append(commands.deposit(a.id, a.cash))
            for symbol, qty in a.holdings.items():
                if qty:
                    rows.append(commands.credit_holdings(a.id, self.config.instrument_index(symbol), qty))
        if rows:
            batch = self._sequence(np.concatenate(rows), time.time_ns())
            events = self._commit(batch)
            bad = events[events["kind"] == EventKind.REJECTED]
            if len(bad):
                raise GatewayError(f"the configured accounts were refused by the engine: reason {int(bad['reason'][0])} "
                                   f"for account {int(bad['account'][0])}")
        return self.engine

    def _restore(self, path: Path) -> Engine:
        """Engine + gateway tables of one snapshot; :class:`_BadSnapshot` if either is damaged."""
        side = path.with_name(path.name.replace("snapshot-", "gateway-").replace(".bin", ".npz"))
        try:
            engine = Engine.restore(path.read_bytes())
        except (OSError, ValueError) as exc:
            raise _BadSnapshot(str(exc)) from None
        want = [i.symbol for i in self.config.instruments]
        have = [i.symbol for i in engine.instruments]
        if want != have:
            raise GatewayError(f"{path}: its instruments {have} are not the configured {want}")
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

    def write_snapshot(self) -> Path:
        """Write the engine state and the gateway's order tables to the state dir."""
        last = self.next_seq - 1
        path = self.state_dir / f"snapshot-{last:012d}.bin"
        blob = self.engine.snapshot()
        meta = {"next_seq": self.next_seq,
                "sessions": {str(s.cfg.id): [s.report_seq, s.coid_last] for s in self.sessions[1:]}}
        if self.schedule is not None:
            meta["schedule"] = self.schedule.state()
        # the gateway tables first, then the engine: a snapshot-*.bin is complete only with its
        # gateway-*.npz, and recovery skips one without (falling back to an older snapshot)
        side = self.state_dir / f"gateway-{last:012d}.npz"
        tmp = side.with_suffix(".tmp.npz")
        # raw bytes: the layout is REPORT_DTYPE's, whatever numpy's .npy header makes of it
        windows = {f"window_{s.cfg.id}": s.window.after(s.window.first - 1).view(np.uint8)
                   for s in self.sessions[1:]}
        np.savez(tmp, order_session=self._order_session, order_account=self._order_account,
                 order_coid=self._order_coid, order_open=self._order_open,
                 meta=np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8), **windows)
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(tmp, side)
        _atomic_write(path, blob)
        _fsync_dir(self.state_dir)
        log.info("snapshot %s", path, extra={"event": "snapshot", "path": str(path), "last_seq": last})
        self._snapshot_seq, self._snapshot_at = last, time.monotonic()
        self._prune()
        return path

    def _periodic_snapshot(self) -> None:
        try:
            self.write_snapshot()
        except OSError as exc:        # the journal still holds everything: keep serving, say so
            log.error("periodic snapshot failed (the journal still has every command): %s", exc,
                      extra={"event": "error", "error": str(exc)})
            self._snapshot_at = time.monotonic()

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

