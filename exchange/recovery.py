"""Recovery: the market's state from a state dir, in one place for every reader.

One snapshot loader (:func:`load_snapshot`, :func:`newest_snapshot`) and one journal replay
with a hook per record (:func:`replay_journal`) serve the daemon's start
(:func:`recover_node`), the offline ``chuanyu replay`` (:func:`replay`) and, next, standbys.

The daemon names each snapshot by the last command it includes (``snapshot-<last seq, 12
digits>.bin``, the engine, with ``gateway-<last seq>.npz``, the daemon's tables: order
routing, report numbering and gap-fill windows, client order ids, the schedule's and the
disclosure files' state). A snapshot that fails to restore is skipped with a log line and
the previous one used, with more journal. With none, the state follows from a fresh engine
and the whole journal: the daemon journals its start-up commands (instruments, accounts,
deposits, holdings) like any others (:func:`exchange.drift.genesis`).

At the daemon's start every journal record after the snapshot is replayed through the live
loop's own table updates and report routing (:func:`apply_batch`): numbered and kept for gap
fill, not sent, so a session logging in with ``GAP_FILL`` after a crash receives the reports
it missed byte for byte.
"""
from __future__ import annotations

import json
import logging
import re
import time
from pathlib import Path
from typing import Callable, NamedTuple

import numpy as np

from matching import CommandType, Engine, EventKind, Reject

from .drift import ConfigDrift, drift, genesis
from gateway.errors import GatewayError
from .journal import JournalCorrupt, JournalError, TornTail, check_mark, read_records, segments
from gateway.protocol import CREATING_COMMANDS, OPERATOR, REPORT_DTYPE

__all__ = ["replay", "ReplayResult", "ReplayError", "snapshots", "engine_for_config", "load_snapshot",
           "newest_snapshot", "replay_journal", "recover_node", "start_market", "apply_batch", "node_tables", "BadSnapshot", "Tables",
           "tables_path"]

log = logging.getLogger("chuanyu.replay")
node_log = logging.getLogger("chuanyu.gateway")

_SNAPSHOT_NAME = re.compile(r"snapshot-(\d+)\.bin")
_TRADE = int(EventKind.TRADE)
_END_OF_DAY = int(CommandType.END_OF_DAY)
_ORDER_TABLES = ("order_session", "order_account", "order_coid", "order_open")


class ReplayError(Exception):
    """Replay cannot start: no usable snapshot and no configuration to start from."""


class BadSnapshot(Exception):
    """A snapshot's engine file or its tables cannot be read."""


class Tables(NamedTuple):
    """The daemon's part of a snapshot (``gateway-<seq>.npz``)."""
    orders: dict              # the order tables by name (exchange.reports)
    next_seq: int
    sessions: dict            # session id -> (report_seq, last client order id)
    windows: dict             # session id -> its kept reports (REPORT_DTYPE)
    schedule: dict | None
    disclosure: dict | None


class ReplayResult(NamedTuple):
    engine: Engine
    commands: int                # commands replayed from the journal (after the snapshot)
    trades: int                  # trades those commands made
    last_seq: int                # the last command in the engine's state (0: none)
    records: int                 # journal records replayed
    snapshot: Path | None        # the snapshot restored, if any
    torn: TornTail | None        # a torn tail left unreplayed, if any


def snapshots(state_dir) -> list[tuple[int, Path]]:
    """The daemon's snapshots as (last seq included, path), newest first."""
    found = []
    for path in Path(state_dir).glob("snapshot-*.bin"):
        m = _SNAPSHOT_NAME.fullmatch(path.name)
        if m is not None:
            found.append((int(m.group(1)), path))
    return sorted(found, reverse=True)


def tables_path(snapshot: Path) -> Path:
    """The daemon's tables beside an engine snapshot."""
    return snapshot.with_name(snapshot.name.replace("snapshot-", "gateway-").replace(".bin", ".npz"))


def engine_for_config(config) -> Engine:
    """A fresh engine for a ``MarketConfig``, as the daemon builds it before its first command:
    no instrument and no account yet (the journal lists them: ``exchange.drift.genesis``)."""
    return Engine([], max_accounts=config.max_accounts, default_stp=config.default_stp, risk=config.risk,
                  fees=config.fees)


def _read_tables(side: Path) -> Tables:
    with np.load(side) as z:
        orders = {name: z[name].copy() for name in _ORDER_TABLES}
        meta = json.loads(bytes(z["meta"]).decode())
        sessions = {int(k): (int(v[0]), int(v[1])) for k, v in meta["sessions"].items()}
        windows = {}
        for name in z.files:
            if name.startswith("window_"):
                rows = z[name].view(REPORT_DTYPE)
                sid = int(name[len("window_"):])
                counter = sessions.get(sid, (0, 0))[0]
                if len(rows) and int(rows["report_seq"][-1]) != counter:
                    raise ValueError(f"{name} ends at report_seq {int(rows['report_seq'][-1])}, "
                                     f"the session's counter says {counter}")
                windows[sid] = rows
    return Tables(orders, int(meta["next_seq"]), sessions, windows, meta.get("schedule"), meta.get("disclosure"))


def load_snapshot(path: Path, with_tables: bool = True) -> tuple[Engine, Tables | None]:
    """One snapshot: the engine, and (``with_tables``) the daemon's tables; :class:`BadSnapshot`
    if either is damaged or the tables are missing."""
    try:
        engine = Engine.restore(path.read_bytes())
    except (OSError, ValueError) as exc:
        raise BadSnapshot(str(exc)) from None
    if not with_tables:
        return engine, None
    side = tables_path(path)
    try:
        return engine, _read_tables(side)
    except Exception as exc:     # noqa: BLE001  (a damaged sidecar: any numpy/zip/json failure)
        raise BadSnapshot(f"its gateway tables {side.name}: {exc}") from None


def newest_snapshot(state_dir, until_seq: int | None = None, with_tables: bool = True,
                    skipped: list | None = None):
    """The newest snapshot that loads (none after ``until_seq``): ``(engine, tables, last seq,
    path)``, or ``(None, None, 0, None)``. Damaged ones are logged and listed in ``skipped``."""
    for last, path in snapshots(state_dir):
        if until_seq is not None and last > until_seq:
            continue
        try:
            engine, tables = load_snapshot(path, with_tables)
        except BadSnapshot as exc:
            log.warning("recovery: skipping damaged snapshot %s: %s", path, exc,
                        extra={"event": "snapshot_skipped", "snapshot": path.name, "error": str(exc)})
            if skipped is not None:
                skipped.append(path.name)
            continue
        return engine, tables, last, path
    return None, None, 0, None


def replay_journal(state_dir, after: int, on_record: Callable[[np.ndarray], None],
                   until_seq: int | None = None) -> tuple[int, int, int]:
    """Hand every journal record after seq ``after`` (up to ``until_seq``) to ``on_record``, in
    order: ``(records, commands, last seq)``.

    Every record's length, CRC and continuity are verified, those before ``after`` too; a
    record that does not continue the state raises :class:`~exchange.journal.JournalCorrupt`,
    a torn tail :class:`~exchange.journal.TornTail` (after the records before it were handed on).
    """
    last = after
    records = commands = 0
    for rec in read_records(state_dir, after_seq=after):
        rows = rec.rows
        first = int(rows["seq"][0])
        if until_seq is not None and first > until_seq:
            continue                      # verified, not applied
        if first != last + 1:
            raise JournalCorrupt(rec.path, rec.offset, f"the journal continues at seq {first}, "
                                                       f"the state so far ends at seq {last}: records missing")
        if until_seq is not None:
            rows = rows[:until_seq - last]
        on_record(rows)
        records += 1
        commands += len(rows)
        last = int(rows["seq"][-1])
    return records, commands, last


def replay(state_dir, until_seq: int | None = None,
           new_engine: Callable[[], Engine] | None = None) -> ReplayResult:
    """Offline replay (``chuanyu replay``): the newest valid snapshot, then every later record.

    ``until_seq`` stops after that command (and ignores newer snapshots). A torn tail is left
    out and reported in the result; any other damage raises
    :class:`~exchange.journal.JournalCorrupt`; a journal that ends before its mark (a lost
    newest segment) raises :class:`~exchange.journal.JournalTailLost`, as the daemon's start does.
    ``new_engine`` builds the starting engine when no snapshot is usable (see
    :func:`engine_for_config`).
    """
    state_dir = Path(state_dir)
    lost = check_mark(state_dir)
    if lost is not None:
        raise lost
    engine, _, last, path = newest_snapshot(state_dir, until_seq, with_tables=False)
    if engine is None:
        if new_engine is None:
            raise ReplayError(f"{state_dir}: no usable snapshot, and no market configuration to start from")
        engine = new_engine()
    trades = 0
    done = [0, 0, last]                   # records, commands, last seq: kept if the tail is torn

    def apply(rows: np.ndarray) -> None:
        nonlocal trades
        trades += int((engine.process(rows)["kind"] == _TRADE).sum())
        done[0] += 1
        done[1] += len(rows)
        done[2] = int(rows["seq"][-1])

    torn = None
    try:
        replay_journal(state_dir, last, apply, until_seq)
    except TornTail as exc:
        torn = exc
    return ReplayResult(engine, done[1], trades, done[2], done[0], path, torn)


def replay_events(state_dir, config, on_batch: Callable[[Engine, np.ndarray, np.ndarray], None]):
    """Replay a state dir's whole journal through a fresh engine, handing the engine, each
    record's commands and the events they made to ``on_batch``, in order (back-tests and reports that
    need every event, not just the final state). Starts from the journal's first command, or,
    when older segments were pruned, from the newest snapshot before the journal's first
    record. Returns ``(engine, snapshot path or None)``; FileNotFoundError when the journal is
    missing or starts after every snapshot."""
    state_dir = Path(state_dir)
    segs = segments(state_dir)
    if not segs:
        raise FileNotFoundError(f"{state_dir}: no journal segments")
    first, after, path = segs[0][0], 0, None
    engine = engine_for_config(config)
    if first > 1:
        engine, _, after, path = newest_snapshot(state_dir, first - 1, with_tables=False)
        if engine is None:
            raise FileNotFoundError(f"{state_dir}: the journal starts at command {first} and no snapshot covers "
                                    "the commands before it")
    replay_journal(state_dir, after, lambda rows: on_batch(engine, rows, engine.process(rows)))
    return engine, path


# ---------------------------------------------------------------------- the daemon's start
def apply_batch(node, rows: np.ndarray) -> np.ndarray:
    """One journaled batch, applied as the live loop applies it, nothing sent: the engine, the
    disclosure files, the order tables, the report numbering and windows, the client order ids,
    and the trading dates its END_OF_DAY commands closed (the schedule's)."""
    rows = np.ascontiguousarray(rows)
    base = int(rows["seq"][0])
    reports = node.reports
    cmd_sess = reports.session_index(rows["session"])
    events = node.engine.process(rows)
    node.count_batch(rows, events)
    node.market_data.record(events)
    built, dest, pos = reports.build(events, cmd_sess, rows["session"], np.arange(len(rows)), base,
                                     int(node.engine.next_order_id))
    if len(built):
        reports.route(built, dest, pos, merged=False)       # numbered and kept, not sent
    new = CREATING_COMMANDS[rows["type"]]
    if new.any():
        coid_last = node.intake.state.coid_last
        for idx in np.unique(cmd_sess[new]).tolist():
            if idx != OPERATOR:
                coid_last[idx] = max(int(coid_last[idx]), int(rows["client_order_id"][new & (cmd_sess == idx)].max()))
    closes = rows[rows["type"] == _END_OF_DAY]
    if len(closes):               # which trading dates were closed: the schedule must not close them again
        if node.schedule is not None:
            node.schedule.closed(closes)
        else:
            node.replayed_closes.append(closes.copy())
    node.sequencer.next_seq = int(rows["seq"][-1]) + 1
    return events


def _engine_refused(events: np.ndarray, what: str) -> None:
    bad = events[events["kind"] == EventKind.REJECTED]
    if len(bad):
        e = bad[0]
        raise GatewayError(f"{what} was refused by the engine: {Reject(int(e['reason'])).name} for "
                           f"{CommandType(int(e['command'])).name} (account {int(e['account'])}, instrument "
                           f"{int(e['instrument'])})")


def _journal_at_start(node, rows: np.ndarray) -> None:
    """Operator commands of the start itself: journaled, then applied exactly as replay will."""
    batch = node.sequencer.stamp(rows, time.time_ns())
    node.sequencer.journal.append(batch)
    node.sequencer.journal.sync()
    apply_batch(node, batch)


def recover_node(node, apply_config: bool) -> tuple[Engine, dict | None]:
    """The daemon's state at start: ``(engine, the schedule's saved state)``.

    The newest usable snapshot and every later journal record; with no snapshot the whole
    journal; with no journal a new market, whose configuration becomes its first journaled
    commands. Then the configuration is held against the recovered market: a difference
    refuses the start, or with ``apply_config`` is journaled as operator commands
    (:mod:`exchange.drift`). Fills ``node.recovery``.
    """
    state_dir, rec = node.state_dir, node.recovery
    engine, tables, after, path = newest_snapshot(state_dir, skipped=rec["skipped_snapshots"])
    schedule_state = None
    if engine is not None:
        _load_tables(node, tables)
        rec["snapshot"] = path.name
        node.snapshots.last_seq = after
        schedule_state = tables.schedule
        node_log.info("restored %s", path)
    journal_last = getattr(node.sequencer.journal, "last_seq", 0)
    if engine is None and journal_last:
        engine = engine_for_config(node.config)          # no usable snapshot: the whole journal
    node.engine = engine
    if engine is not None:
        if journal_last and journal_last < after:
            if getattr(node, "replica", None) is None:
                raise GatewayError(f"{state_dir}: the journal ends at seq {journal_last} but the snapshot "
                                   f"{rec['snapshot']} includes seq {after}: journal records missing")
            node.sequencer.journal.local.set_aside()   # replicated: the stream has what follows the snapshot
        node.reports.grow(max(0, int(engine.next_order_id)))
        try:
            records, commands, last = replay_journal(state_dir, after, lambda rows: apply_batch(node, rows))
        except JournalError as exc:
            raise GatewayError(f"cannot recover the journal: {exc}") from None
        node.sequencer.next_seq = max(node.sequencer.next_seq, last + 1)
        rec["replayed_records"], rec["replayed_commands"] = records, commands
        if records:
            node_log.info("recovery: replayed %d journal records (%d commands, seq %d..%d)", records, commands,
                          after + 1, last)
    else:
        node.engine = engine_for_config(node.config)
    if getattr(node, "replica", None) is None:    # a replicated node starts its market as primary
        start_market(node, apply_config)
    node.reports.grow(int(node.engine.next_order_id))
    return node.engine, schedule_state


def start_market(node, apply_config: bool, replicated: bool = False) -> None:
    """Before the first acknowledgement: a new market's configuration becomes its first journaled
    commands; a recovered market is held against the configuration (:mod:`exchange.drift`).

    ``replicated`` (a node taking over): the market in the stream stands, operator changes
    included; a difference from the configuration file is logged, never refused or applied (a
    refusal would stop every node in turn, an application undo the operator's changes).
    """
    if node.sequencer.next_seq == 1:
        # tried on a scratch engine first, so that a refused configuration journals nothing
        rows = genesis(node.config)
        _engine_refused(engine_for_config(node.config).process(rows), "the configuration")
        _journal_at_start(node, rows)
    elif replicated:
        for d in drift(node.config, node.engine):
            node_log.warning("the configuration differs from the replicated market: %s is %r, the file says %r; "
                             "the market's value stands (change it with chuanyu admin, or edit the file)",
                             d.key, d.state, d.config,
                             extra={"event": "config_drift", "key": d.key, "market": str(d.state),
                                    "config": str(d.config)})
    else:
        _reconcile_config(node, apply_config)
    node.reports.grow(int(node.engine.next_order_id))


def _load_tables(node, tables: Tables) -> None:
    node.reports.load(tables.orders, {sid: v[0] for sid, v in tables.sessions.items()}, tables.windows)
    coid_last = node.intake.state.coid_last
    for sid, (_, last) in tables.sessions.items():
        idx = int(node.reports.session_index(np.array([sid]))[0])
        if idx != OPERATOR:
            coid_last[idx] = last
    node.sequencer.next_seq = tables.next_seq
    if node.market_data.disclosure is not None and tables.disclosure is not None:
        node.market_data.disclosure.restore(tables.disclosure)


def _reconcile_config(node, apply: bool) -> None:
    """Refuse a configuration that differs from the recovered market, or journal the
    difference as operator commands when the operator asked for it (exchange.drift)."""
    differences = drift(node.config, node.engine)
    if not differences:
        return
    if not apply or any(d.rows is None for d in differences):
        raise GatewayError(str(ConfigDrift(differences)))
    rows = np.concatenate([d.rows for d in differences])
    _engine_refused(Engine.restore(node.engine.snapshot()).process(rows), "the configuration's difference")
    _journal_at_start(node, rows)
    for d in differences:
        node_log.warning("configuration applied: %s %r -> %r (journaled)", d.key, d.state, d.config,
                         extra={"event": "config_applied", "key": d.key, "was": str(d.state), "now": str(d.config)})


def node_tables(node) -> tuple[int, Engine, dict]:
    """What a snapshot holds, as it is now: ``(last seq, engine, the tables' arrays)`` (the
    inverse of :func:`_load_tables`)."""
    numbering, arrays = node.reports.state()
    coid_last = node.intake.state.coid_last
    meta = {"next_seq": node.sequencer.next_seq,
            "sessions": {str(s.cfg.id): [numbering[s.cfg.id], int(coid_last[s.idx])] for s in node.sessions}}
    if node.schedule is not None:
        meta["schedule"] = node.schedule.state()
    if node.market_data.disclosure is not None:
        meta["disclosure"] = node.market_data.disclosure.state()
    arrays["meta"] = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
    return node.sequencer.next_seq - 1, node.engine, arrays
