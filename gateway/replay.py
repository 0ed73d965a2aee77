"""Offline replay: rebuild the engine from a state dir's newest snapshot and its journal.

The daemon names each snapshot by the last command it includes
(``snapshot-<last seq, 12 digits>.bin``, see ``Gateway.write_snapshot``), so the journal is
replayed from the record after that seq. A snapshot that fails to restore is skipped with a
log line and the previous one is used, with more journal. With no snapshot at all, replay
starts from a fresh engine built from the market configuration (``new_engine``): the daemon
journals its start-up commands (the instruments, accounts, deposits, holdings) like any others,
so the whole state follows from the journal.
"""
from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Callable, NamedTuple

from matching import Engine, EventKind

from .journal import JournalCorrupt, TornTail, check_mark, read_records

__all__ = ["replay", "ReplayResult", "ReplayError", "snapshots", "engine_for_config"]

log = logging.getLogger("chuanyu.replay")

_SNAPSHOT_NAME = re.compile(r"snapshot-(\d+)\.bin")
_TRADE = int(EventKind.TRADE)


class ReplayError(Exception):
    """Replay cannot start: no usable snapshot and no configuration to start from."""


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


def engine_for_config(config) -> Engine:
    """A fresh engine for a ``MarketConfig``, as the daemon builds it before its first command:
    no instrument and no account yet (the journal lists them: ``gateway.drift.genesis``)."""
    return Engine([], max_accounts=config.max_accounts, default_stp=config.default_stp, risk=config.risk,
                  fees=config.fees)


def _restore_newest(state_dir, until_seq: int | None):
    for last, path in snapshots(state_dir):
        if until_seq is not None and last > until_seq:
            continue
        try:
            return Engine.restore(path.read_bytes()), last, path
        except (OSError, ValueError) as exc:
            log.warning("replay: skipping snapshot %s: %s", path, exc)
    return None, 0, None


def replay(state_dir, until_seq: int | None = None,
           new_engine: Callable[[], Engine] | None = None) -> ReplayResult:
    """Restore the newest valid snapshot, then apply every later journal record in order.

    Every record's length, CRC and sequence continuity are verified, including those the
    snapshot already covers. ``until_seq`` stops after that command (and ignores newer
    snapshots). A torn tail is left out and reported in the result; any other damage raises
    :class:`~gateway.journal.JournalCorrupt`, as does a journal that does not continue the
    snapshot (missing records); a journal that ends before its mark (a lost newest segment)
    raises :class:`~gateway.journal.JournalTailLost`, as the daemon's start does.

    Parameters
    ----------
    state_dir : path
        The daemon's state dir: snapshots and journal segments.
    until_seq : int, optional
        The last command to apply.
    new_engine : callable, optional
        Builds the starting engine when no snapshot is usable (see :func:`engine_for_config`).
    """
    state_dir = Path(state_dir)
    lost = check_mark(state_dir)
    if lost is not None:
        raise lost
    engine, last, path = _restore_newest(state_dir, until_seq)
    if engine is None:
        if new_engine is None:
            raise ReplayError(f"{state_dir}: no usable snapshot, and no market configuration to start from")
        engine = new_engine()
    commands = trades = records = 0
    torn = None
    try:
        for rec in read_records(state_dir, after_seq=last):
            rows = rec.rows
            first = int(rows["seq"][0])
            if until_seq is not None and first > until_seq:
                continue                      # verified, not applied
            if first != last + 1:
                raise JournalCorrupt(rec.path, rec.offset, f"the journal continues at seq {first}, "
                                                           f"the state so far ends at seq {last}: records missing")
            if until_seq is not None:
                rows = rows[:until_seq - last]
            events = engine.process(rows)
            trades += int((events["kind"] == _TRADE).sum())
            commands += len(rows)
            records += 1
            last = int(rows["seq"][-1])
    except TornTail as exc:
        torn = exc
    return ReplayResult(engine, commands, trades, last, records, path, torn)
