"""Recovery speed: how fast a state dir's journal is verified and replayed.

A journal is written before timing, exactly as the daemon writes it (:class:`exchange.journal.Journal`,
one record per batch of ``batch`` commands, 64 MiB segments): the setup and timed commands of
an engine benchmark workload (by default ``exchange_core_mix_risk``: accounts, deposits and
holdings, a resting book, then the exchange-core mix of orders, cancels and moves with
pre-trade risk on). Then, timed:

- ``verify_commands_per_s``: reading every segment and checking every record's length,
  CRC and sequence (:func:`exchange.journal.read_records`), without the engine;
- ``replay_commands_per_s``: the whole offline replay, :func:`exchange.recovery.replay` (the
  code behind ``chuanyu replay``): read, verify and ``Engine.process`` every record onto a
  fresh engine. The best of ``repeat`` runs; target >= 2,000,000 commands/s.

The replayed engine's state digest must equal that of an engine fed the same commands
directly (``consistent``): a fast replay of the wrong thing would be worthless.

Also, for the daemon's own restart (not a target): ``daemon_recovery_commands_per_s``, the
time to build a :class:`exchange.server.ExchangeNode` on a state dir whose journal holds
``daemon_commands`` order commands of two sessions (the gateway benchmark's market), written
by the daemon's own batch step. Its replay also rebuilds the routing tables and every
session's report numbering and gap-fill window, so it is slower than the engine-only replay.
"""
from __future__ import annotations

import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

__all__ = ["run", "table", "daemon_recovery", "RESULT_KEYS", "TARGET_REPLAY_PER_S", "SIZES"]

RESULT_KEYS = ("replay_commands_per_s", "verify_commands_per_s", "commands", "records", "consistent",
               "daemon_recovery_commands_per_s")
TARGET_REPLAY_PER_S = 2_000_000
# The workload generator walks its own book model (~40 µs a command): sizes stay modest, and
# the replay rate hardly depends on the journal's length past a few hundred records.
SIZES = {"full": {"n_commands": 1_000_000, "n_resting": 1_000, "n_accounts": 10_000},
         "quick": {"n_commands": 100_000, "n_resting": 1_000, "n_accounts": 2_000}}


def _write_journal(directory: Path, commands: np.ndarray, batch: int) -> int:
    from exchange.journal import Journal
    with Journal(directory, durability="none") as journal:
        for start in range(0, len(commands), batch):
            journal.append(commands[start:start + batch])
        journal.sync()
        return journal.counters["records"]


class _NoWire:
    """Stands in for the order socket's I/O (``zmqio.router``): the in-process daemon's reports go nowhere."""

    def send(self, identity: bytes, data) -> int:
        return 0


def daemon_recovery(directory: Path, n_commands: int, batch: int) -> dict:
    """Journal ``n_commands`` orders through an in-process daemon's batch step, then time a
    new daemon's start on that state dir (snapshot-less: the whole journal is replayed)."""
    import exchange.server as server
    from bench.gateway_bench import market_config, orders_pool
    from exchange.config import parse_config

    cfg = parse_config(market_config(2, "none"))
    gw = server.ExchangeNode(cfg, directory)
    try:
        gw.sessions.router = _NoWire()
        for s in gw.sessions:
            s.logged_in, s.identity, s.heartbeat_ns = True, b"bench%d" % s.idx, 1 << 60
            gw.sessions.by_identity[s.identity] = s.idx
        per_session = max(1, batch // 2)
        pools = [orders_pool(per_session * 64, (2 * k + 1, 2 * k + 2), seed=k) for k in range(2)]
        coid, done, step = 1, 0, 0
        while done < n_commands:
            frames = []
            for pool in pools:
                rows = pool[(step % 64) * per_session:(step % 64 + 1) * per_session].copy()
                rows["client_order_id"] = np.arange(coid, coid + per_session)
                frames.append(rows.tobytes())
            gw.run_batch(frames, [1, 2], [time.time_ns()] * 2)
            coid += per_session
            done += 2 * per_session
            step += 1
        live = list(gw.reports.report_seq)
        digest = gw.engine.state_digest()
        total = gw.next_seq - 1
    finally:
        gw.close()
    t0 = time.perf_counter()
    again = server.ExchangeNode(cfg, directory)
    seconds = time.perf_counter() - t0
    try:
        same = again.engine.state_digest() == digest and live == again.reports.report_seq
        return {"daemon_recovery_commands_per_s": again.recovery["replayed_commands"] / seconds,
                "daemon_recovery_s": seconds, "daemon_commands": total, "daemon_consistent": same}
    finally:
        again.close()


def run(quick: bool = False, batch: int = 1024, repeat: int = 3, workload: str = "exchange_core_mix_risk",
        sizes: dict | None = None, log=print, daemon_commands: int | None = None) -> dict:
    """Write a journal, then time verifying and replaying it; the results as a JSON-ready dict.

    ``sizes``: the workload generator's size arguments (default :data:`SIZES` full or quick);
    ``daemon_commands``: the size of the daemon restart measurement (default 400,000, quick
    100,000).
    """
    from bench import workloads
    from bench.engine_bench import machine_info
    from bench.provenance import spread
    from exchange.journal import read_records
    from exchange.recovery import replay
    from matching import Engine

    if batch < 1 or repeat < 1:
        raise ValueError("batch and repeat must be >= 1")
    args = dict(sizes or SIZES["quick" if quick else "full"])
    if not workload.endswith(workloads.RISK_SUFFIX):
        args.pop("n_accounts", None)
    log(f"generating {workload} ({args['n_commands']:,} timed commands)")
    w = workloads.generate(workload, **args)
    commands = np.concatenate([w.setup, w.timed])
    if not (np.diff(commands["seq"]) == 1).all() or int(commands["seq"][0]) != 1:
        raise RuntimeError(f"{workload}: its commands are not numbered 1, 2, 3, ...")
    direct = w.make_engine(Engine)
    for start in range(0, len(commands), 65_536):
        direct.process(commands[start:start + 65_536])
    workdir = Path(tempfile.mkdtemp(prefix="chuanyu-recovery-bench-"))
    try:
        records = _write_journal(workdir, commands, batch)
        size = sum(p.stat().st_size for p in workdir.glob("journal-*.seg"))
        log(f"journal: {len(commands):,} commands in {records:,} records, {size / 2**20:,.1f} MiB")
        verify_times, replay_times = [], []
        result = None
        for _ in range(repeat):
            t0 = time.perf_counter()
            n = sum(len(rec.rows) for rec in read_records(workdir))
            verify_times.append(time.perf_counter() - t0)
            if n != len(commands):
                raise RuntimeError(f"read back {n} commands of {len(commands)}")
            t0 = time.perf_counter()
            result = replay(workdir, new_engine=lambda: w.make_engine(Engine))
            replay_times.append(time.perf_counter() - t0)
        verify_s, replay_s = min(verify_times), min(replay_times)
        log(f"  verify: {len(commands) / verify_s:,.0f} commands/s; replay: {len(commands) / replay_s:,.0f} "
            f"commands/s")
        n_daemon = daemon_commands or (100_000 if quick else 400_000)
        log(f"daemon restart on a journal of {n_daemon:,} order commands")
        daemon = daemon_recovery(workdir / "daemon", n_daemon, batch)
        log(f"  daemon recovery: {daemon['daemon_recovery_commands_per_s']:,.0f} commands/s")
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    consistent = result.commands == len(commands) and result.engine.state_digest() == direct.state_digest()
    per_s = len(commands) / replay_s
    return {
        "replay_commands_per_s": per_s,
        "verify_commands_per_s": len(commands) / verify_s,
        "replay_s": replay_s,
        "verify_s": verify_s,
        "commands": len(commands),
        "records": records,
        "batch": batch,
        "journal_bytes": size,
        "trades": result.trades,
        "workload": workload,
        "consistent": consistent,
        "spread": {"verify_commands_per_s": spread([len(commands) / t for t in verify_times]),
                   "replay_commands_per_s": spread([len(commands) / t for t in replay_times])},
        **daemon,
        "targets": [{"target": f"replay >= {TARGET_REPLAY_PER_S:,} commands/s", "value": per_s,
                     "goal": TARGET_REPLAY_PER_S, "met": per_s >= TARGET_REPLAY_PER_S and consistent}],
        "machine": machine_info(),
    }


def _spread(s: dict) -> str:
    return f"{s['min']:,.0f}–{s['median']:,.0f}–{s['max']:,.0f}"


def table(results: dict) -> str:
    """The results as plain text."""
    r = results
    lines = [f"journal of {r['commands']:,} commands ({r['workload']}) in {r['records']:,} records of "
             f"{r['batch']:,}, {r['journal_bytes'] / 2**20:,.1f} MiB",
             f"verify (read + CRC + sequence):  {r['verify_commands_per_s']:>14,.0f} commands/s  "
             f"({r['verify_s']:.3f} s)",
             f"replay (verify + engine):        {r['replay_commands_per_s']:>14,.0f} commands/s  "
             f"({r['replay_s']:.3f} s)",
             f"rounds min–median–max: verify {_spread(r['spread']['verify_commands_per_s'])}, "
             f"replay {_spread(r['spread']['replay_commands_per_s'])} commands/s",
             f"state digest equals direct processing: {'yes' if r['consistent'] else 'NO'}; {r['trades']:,} trades",
             f"daemon restart (replay + routing tables + report numbering and windows): "
             f"{r['daemon_recovery_commands_per_s']:,.0f} commands/s over {r['daemon_commands']:,} commands "
             f"({r['daemon_recovery_s']:.3f} s; state {'identical' if r['daemon_consistent'] else 'DIFFERENT'})",
             ""]
    for t in r["targets"]:
        lines.append(f"{'met   ' if t['met'] else 'missed'}  {t['target']}: {t['value']:,.0f}")
    m = r["machine"]
    lines.append(f"{m['cpu']}, {m['usable_cores']} of {m['cores']} cores; Python {m['python']}")
    return "\n".join(lines)
