"""``chuanyu bench surveillance``: does market surveillance keep up with the daemon?

The ``carbon_mix_risk`` workload (twenty instruments, 60% passive adds, 30% cancels, 10%
sweeps; accounts two to a member, so some trades are wash trades and raise alerts) runs
through ``Engine.process`` in batches of 1,024 commands, as the daemon's loop makes them.
Each batch's events become the drop copy's rows (the daemon's work, timed apart) and go
through :class:`surveillance.Surveillance` (the surveillance process's work). Several
rounds, each on a fresh engine and a fresh surveillance; figures per round, and their
spread.

Reported: commands per second of the engine alone, of surveillance alone (the commands
whose events it read, over the seconds it spent), their ratio, and the ratio to the daemon's
batched throughput on this machine (the gateway benchmark's latest figure,
:data:`DAEMON_BATCHED`). Target: surveillance reads at least the daemon's batched rate on
its slowest round. (Faster than the engine alone is more than any daemon can feed it: the
daemon's throughput includes the engine.)
"""
from __future__ import annotations

import time

from bench.provenance import spread
from exchange.config import SurveillanceRules
from feeds.dropcopy import drop_copy_event_rows, drop_copy_rows

__all__ = ["run", "table", "DAEMON_BATCHED", "RESULT_KEYS"]

BATCH = 1024
# The daemon's batched throughput on the 2-core machine (README, `chuanyu bench gateway`:
# 1,024 orders per frame, two clients, no journal, 2026-11-29): what surveillance must keep up with.
DAEMON_BATCHED = 1_454_000
RESULT_KEYS = ("commands", "batch", "rounds", "engine_commands_per_s", "surveillance_commands_per_s",
               "surveillance_rows_per_s", "surveillance_vs_engine", "surveillance_vs_daemon", "alerts", "target")


def _round(w, engine_cls) -> dict:
    from surveillance import Surveillance
    engine = w.make_engine(engine_cls)
    engine.process(w.setup)
    members = {a: a // 2 for a in range(w.max_accounts)}
    surveillance = Surveillance(SurveillanceRules(), [i.symbol for i in w.instruments], members)
    t_engine = t_surv = 0.0
    rows = commands = 0
    for start in range(0, len(w.timed), BATCH):
        batch = w.timed[start:start + BATCH]
        t0 = time.perf_counter()
        events = engine.process(batch)
        t1 = time.perf_counter()
        executions, order_events = drop_copy_rows(events), drop_copy_event_rows(events)
        t2 = time.perf_counter()
        surveillance.process(executions, order_events)
        t3 = time.perf_counter()
        t_engine += t1 - t0
        t_surv += t3 - t2
        rows += len(executions) + len(order_events)
        commands += len(batch)
    return {"engine": commands / t_engine, "surveillance": commands / t_surv, "rows": rows / t_surv,
            "alerts": surveillance.alerts}


def run(n_commands: int = 200_000, rounds: int = 5, log=print) -> dict:
    """Run the benchmark; a JSON-ready dict (see :data:`RESULT_KEYS`)."""
    from bench.workloads import carbon_mix
    from matching import Engine
    w = carbon_mix(n_commands=n_commands, n_resting=20_000, risk=True, n_accounts=200)
    per = []
    for r in range(rounds):
        per.append(_round(w, Engine))
        log(f"round {r + 1}/{rounds}: engine {per[-1]['engine']:,.0f} commands/s, surveillance "
            f"{per[-1]['surveillance']:,.0f} commands/s")

    surv = spread([p["surveillance"] for p in per])
    ratio = spread([p["surveillance"] / p["engine"] for p in per])
    vs_daemon = spread([p["surveillance"] / DAEMON_BATCHED for p in per])
    return {
        "commands": len(w.timed), "batch": BATCH, "rounds": rounds,
        "engine_commands_per_s": spread([p["engine"] for p in per]),
        "surveillance_commands_per_s": surv,
        "surveillance_rows_per_s": spread([p["rows"] for p in per]),
        "surveillance_vs_engine": ratio,
        "surveillance_vs_daemon": vs_daemon,
        "alerts": per[0]["alerts"],
        "target": {"target": f"surveillance reads >= the daemon's batched throughput ({DAEMON_BATCHED:,} "
                             "commands/s), on the slowest round", "value": vs_daemon["min"], "goal": 1.0,
                   "met": vs_daemon["min"] >= 1.0},
    }


def table(results: dict) -> str:
    def fmt(s):
        return f"{s['median']:,.0f} ({s['min']:,.0f}-{s['max']:,.0f})"
    t = results["target"]
    return "\n".join([
        f"{results['commands']:,} commands in batches of {results['batch']:,}, {results['rounds']} rounds "
        "(median, min-max):",
        f"  engine process():        {fmt(results['engine_commands_per_s'])} commands/s",
        f"  surveillance:            {fmt(results['surveillance_commands_per_s'])} commands/s "
        f"({fmt(results['surveillance_rows_per_s'])} drop-copy rows/s)",
        f"  surveillance / engine:   {results['surveillance_vs_engine']['median']:.2f} "
        f"({results['surveillance_vs_engine']['min']:.2f}-{results['surveillance_vs_engine']['max']:.2f})",
        f"  alerts raised:           {results['alerts']:,} (accounts two to a member: wash trades)",
        f"target: {t['target']}: {t['value']:.2f}x ({'met' if t['met'] else 'MISSED'})",
    ])
