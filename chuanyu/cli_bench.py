"""``chuanyu bench`` with no target: every benchmark in one run, one summary table.

The engine, gateway, recovery and feed benchmarks each keep their own subcommand and full
table (``chuanyu bench engine`` ...); this runs them one after another with a progress bar
each and prints the figures and targets that matter for sizing a machine, in one table. The
ratios come from measurements of the same run: on shared or small machines compare them,
not the absolute rates, with another run.
"""
from __future__ import annotations

import sys
import time

SUITES = ("engine", "gateway", "recovery", "feeds", "surveillance")
# --quick: the engine workloads the engine targets are judged on
_QUICK_WORKLOADS = ("broker_mix", "broker_deep", "exchange_core_mix", "exchange_core_mix_risk")


def add_bench_all(bench) -> None:
    """Options of ``chuanyu bench`` itself (used when no TARGET is given)."""
    bench.add_argument("--quick", dest="all_quick", action="store_true",
                       help="with no TARGET: short runs of every benchmark (about a minute and a half on 2 cores)")
    bench.add_argument("--json", dest="all_json", metavar="FILE",
                       help="with no TARGET: also write every result as JSON to FILE ('-' for stdout)")
    bench.add_argument("--only", dest="all_only", metavar="SUITE", nargs="+", choices=SUITES,
                       help=f"with no TARGET: run only these ({', '.join(SUITES)})")
    from .clikit import add_no_fail
    add_no_fail(bench, dest="all_no_fail")
    bench.set_defaults(handler=_bench_all)


def run_all(quick: bool, suites=SUITES, log=None) -> dict:
    """Run the benchmarks of ``suites``; their results by suite name.

    ``log(suite, message)`` hears each benchmark's progress lines.
    """
    from bench import engine_bench, feeds_bench, gateway_bench, recovery_bench, surveillance_bench

    log = log or (lambda suite, message: None)
    results: dict = {}
    for suite in suites:
        say = (lambda s: lambda message: log(s, message))(suite)
        started = time.perf_counter()
        if suite == "engine":
            runs = engine_bench.run_engine_bench(
                engine="cython", quick=quick, workloads=list(_QUICK_WORKLOADS) if quick else None,
                progress=lambda workload, phase: say(f"{workload}: {phase}"))
            results[suite] = {"workloads": runs, "targets": engine_bench.check_targets(runs)}
        elif suite == "gateway":
            results[suite] = gateway_bench.run(duration=1.0 if quick else 3.0, log=say)
        elif suite == "recovery":
            results[suite] = recovery_bench.run(quick=quick, repeat=1 if quick else 3, log=say)
        elif suite == "feeds":
            results[suite] = feeds_bench.run(quick=quick, log=say)
        elif suite == "surveillance":
            results[suite] = surveillance_bench.run(50_000 if quick else 200_000, 3 if quick else 5, log=say)
            results[suite]["targets"] = [results[suite]["target"]]
        else:
            raise ValueError(f"unknown benchmark {suite!r}")
        results[suite]["seconds"] = round(time.perf_counter() - started, 1)
        log(suite, "done")
    return results


def _fmt(value, goal=None, unit: str = "") -> str:
    if value is None:
        return "n/a"
    if unit == "ns":
        return f"{value / 1000:,.2f} µs"
    if unit in ("B", "ms"):
        return f"{value:,.2f} {unit}"
    if unit == "×":
        return f"{value:,.2f}×" if abs(value) < 10 else f"{value:,.1f}×"
    if abs(value) >= 1000 or (goal is not None and goal >= 1000):
        return f"{value:,.0f}"
    return f"{value:.2f}"


def summary_rows(results: dict) -> list[dict]:
    """One row per headline figure: suite, what, value, goal (or None) and met (or None)."""
    rows = []
    eng = results.get("engine")
    if eng:
        for w in eng["workloads"]:
            if w.get("batch_commands_per_s"):
                rows.append({"suite": "engine", "what": f"{w['workload']}: process() commands/s",
                             "value": _fmt(w["batch_commands_per_s"]), "goal": None, "met": None})
        for t in eng["targets"]:
            goal = ("≥ " if t["kind"] == "min" else "≤ ") + _fmt(t["goal"], t["goal"], t["unit"])
            rows.append({"suite": "engine", "what": t["label"], "value": _fmt(t["value"], t["goal"], t["unit"]),
                         "goal": goal, "met": t["met"]})
    gw = results.get("gateway")
    if gw:
        for r in gw["runs"]:
            rows.append({"suite": "gateway", "what": f"{r['scenario']}: orders/s",
                         "value": _fmt(r["orders_per_s"]), "goal": None, "met": None})
    rec = results.get("recovery")
    if rec:
        rows.append({"suite": "recovery", "what": "daemon restart: commands/s",
                     "value": _fmt(rec["daemon_recovery_commands_per_s"]), "goal": None, "met": None})
    fd = results.get("feeds")
    if fd:
        for f in fd["fan_out"]:
            rows.append({"suite": "feeds", "what": f"{f['subscribers']} subscriber(s): published / delivered msgs/s",
                         "value": f"{f['published_per_s']:,.0f} / {f['delivered_per_s']:,.0f}", "goal": None,
                         "met": None})
    sv = results.get("surveillance")
    if sv:
        rows.append({"suite": "surveillance", "what": "rules over the drop copy: commands/s",
                     "value": _fmt(sv["surveillance_commands_per_s"]["median"]), "goal": None, "met": None})
    for suite in ("gateway", "recovery", "feeds", "surveillance"):
        for t in (results.get(suite) or {}).get("targets", []):
            rows.append({"suite": suite, "what": t["target"].strip(), "value": _fmt(t["value"], t["goal"]),
                         "goal": _fmt(t["goal"], t["goal"]), "met": t["met"]})
    return rows


def _bench_all(args) -> int:
    from rich.console import Console
    from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
    from rich.table import Table

    from bench.engine_bench import machine_info
    from chuanyu.clikit import CliError, begin_bench, bench_status, check_json_target, write_json

    check_json_target(args.all_json)
    run = begin_bench(args.argv)
    suites = tuple(dict.fromkeys(args.all_only)) if args.all_only else SUITES
    out = Console(stderr=args.all_json == "-")
    err = Console(stderr=True)
    with Progress(SpinnerColumn(), TextColumn("{task.fields[suite]:<9}"), BarColumn(bar_width=24),
                  TextColumn("{task.description}"), TimeElapsedColumn(), console=err) as bar:
        # each benchmark's progress lines, counted against what a run of it usually prints
        expected = {"engine": 10 if args.all_quick else 40, "gateway": 18, "recovery": 6, "feeds": 14,
                    "surveillance": 3 if args.all_quick else 5}
        tasks = {s: bar.add_task("waiting", suite=s, total=expected[s], start=False) for s in suites}

        def log(suite: str, message: str) -> None:
            if not err.is_terminal:         # piped or logged: a line per step (a bar draws nothing there)
                print(f"chuanyu bench {suite}: {message.strip()}", file=sys.stderr, flush=True)
            task = tasks[suite]
            if message == "done":
                bar.update(task, completed=expected[suite], description="done")
                bar.stop_task(task)
                return
            bar.start_task(task)
            bar.update(task, advance=1, description=message.strip()[:60])

        try:
            results = run_all(args.all_quick, suites, log)
        except (RuntimeError, OSError) as exc:
            raise CliError(f"benchmark failed: {exc}") from None

    table = Table(title=f"chuanyu benchmarks{' (--quick)' if args.all_quick else ''}", title_justify="left")
    for col in ("", "measure", "value", "goal", ""):
        table.add_column(col, justify="right" if col in ("value", "goal") else "left")
    for r in summary_rows(results):
        mark = {True: "[green]met[/]", False: "[red]missed[/]", None: ""}[r["met"]]
        table.add_row(r["suite"], r["what"], r["value"], r["goal"] or "", mark)
    out.print(table)
    m = machine_info()
    out.print(f"{m['cpu']}, {m['usable_cores']} of {m['cores']} cores; Python {m['python']}, numpy {m['numpy']}; "
              + ", ".join(f"{s} {results[s]['seconds']:.0f} s" for s in suites), highlight=False)
    summary = summary_rows(results)
    write_json(args.all_json, {"results": results, "summary": summary, "machine": m, "run": run.finish()})
    return bench_status([{"target": f"{r['suite']}: {r['what']}", "met": r["met"]} for r in summary],
                        args.all_no_fail)


# --------------------------------------------------------------------------- bench report
def add_bench_report(targets) -> None:
    p = targets.add_parser(
        "report", help="a page of charts from a benchmark's JSON",
        description="Read the JSON of a `chuanyu bench ... --json` run and write a page (HTML, no scripts) with its "
                    "batch-size curves and latency distributions as charts, and its targets and provenance.")
    p.add_argument("json", metavar="RESULT.json")
    p.add_argument("--html", metavar="FILE", required=True, help="the page to write")
    from .clikit import handler
    p.set_defaults(handler=handler(_bench_report))


def _bench_report(args) -> int:
    import json

    from .clikit import CliError, write_bench_page
    try:
        with open(args.json, encoding="utf-8") as f:
            document = json.load(f)
    except OSError as exc:
        raise CliError(f"cannot read {args.json}: {exc.strerror or exc}") from None
    except ValueError as exc:
        raise CliError(f"{args.json} is not JSON: {exc}") from None
    if not isinstance(document, dict):
        raise CliError(f"{args.json} is not the JSON of a `chuanyu bench` run")
    write_bench_page(args.html, document, f"chuanyu bench: {args.json}")
    return 0


# --------------------------------------------------------------------------- bench compare
def add_bench_compare(targets) -> None:
    p = targets.add_parser(
        "compare", help="do two `bench engine --json` runs agree within their spread?",
        description="Compare two JSON files of `chuanyu bench engine --json`: for every workload and every "
                    "figure both report with a spread over rounds (the ratios the targets judge, and the "
                    "throughputs: process(), per-call, the plain book, each batch size), whether the two runs' "
                    "min-max ranges overlap. Exits 3 when a ratio does not agree (--no-fail: 0); "
                    "throughputs get their verdicts too, but they also follow the machine's drift between runs.")
    p.add_argument("first", metavar="A.json")
    p.add_argument("second", metavar="B.json")
    from .clikit import add_no_fail
    add_no_fail(p)
    p.set_defaults(handler=_bench_compare)


def compare_runs(first: dict, second: dict) -> list[dict]:
    """Every figure two engine bench documents both report with a spread: ``workload``,
    ``figure``, both spreads and ``agree`` (their min-max ranges overlap).

    >>> a = {"workloads": [{"workload": "w", "spread": {"batch": {"min": 9, "median": 10, "max": 12}}}]}
    >>> b = {"workloads": [{"workload": "w", "spread": {"batch": {"min": 10, "median": 11, "max": 11}}}]}
    >>> [(r["figure"], r["agree"]) for r in compare_runs(a, b)]
    [('process() in 1,024s', True)]
    """
    names = {"batch": "process() in 1,024s", "call": "per-call, results read", "plain": "plain book",
             "plain_call": "plain book per call"}
    ratios = {"batch_vs_plain": "process() ÷ plain", "call_vs_plain": "per-call ÷ plain per call",
              "whole_vs_slices": "whole ÷ 1,024s", "batch_vs_shallow": "deep ÷ shallow process()"}
    theirs = {w["workload"]: w for w in second.get("workloads", [])}
    rows = []
    for mine in first.get("workloads", []):
        other = theirs.get(mine["workload"])
        if other is None:
            continue
        pairs = [(ratios[k], "ratio", v, (other.get("ratio_spread") or {}).get(k))
                 for k, v in (mine.get("ratio_spread") or {}).items() if k in ratios]
        pairs += [(names[k], "rate", v, other.get("spread", {}).get(k))
                  for k, v in mine.get("spread", {}).items() if k in names]
        for size, v in (mine.get("batch_curve") or {}).items():
            label = "process() whole" if size == "whole" else f"process() in {int(size):,}s"
            pairs.append((label, "rate", v, (other.get("batch_curve") or {}).get(size)))
        for figure, kind, a, b in pairs:
            if not a or not b or a.get("median") is None or b.get("median") is None:
                continue
            agree = a["min"] <= b["max"] and b["min"] <= a["max"]
            rows.append({"workload": mine["workload"], "figure": figure, "kind": kind, "first": a, "second": b,
                         "agree": agree})
    return rows


def _bench_compare(args) -> int:
    import json
    from pathlib import Path

    from rich.console import Console
    from rich.table import Table

    from .clikit import CliError, rate_range, rate_text

    docs = []
    for path in (args.first, args.second):
        try:
            docs.append(json.loads(Path(path).read_text(encoding="utf-8")))
        except (OSError, ValueError) as exc:
            raise CliError(f"cannot read {path}: {exc}") from None
        if not isinstance(docs[-1], dict) or "workloads" not in docs[-1]:
            raise CliError(f"{path} is not the JSON of `chuanyu bench engine --json`")
    rows = compare_runs(*docs)
    if not rows:
        raise CliError("the two runs have no figure with a spread in common")
    table = Table(title=f"{args.first} against {args.second} (median, rounds min–max)", title_justify="left")
    for header in ("workload", "figure", "first", "second", ""):
        table.add_column(header, justify="left" if header in ("workload", "figure") else "right")
    def shown(kind: str, s: dict) -> str:
        if kind == "ratio":
            return f"{s['median']:.2f}× ({s['min']:.2f}–{s['max']:.2f})"
        return f"{rate_text(s['median'])} ({rate_range(s)})"
    for r in rows:
        table.add_row(r["workload"], r["figure"], shown(r["kind"], r["first"]), shown(r["kind"], r["second"]),
                      "[green]agree[/]" if r["agree"] else "[red]differ[/]")
    out = Console()
    if not out.is_terminal:
        out.width = 160
    out.print(table)
    for kind, what in (("ratio", "ratios"), ("rate", "throughputs")):
        mine = [r for r in rows if r["kind"] == kind]
        if mine:
            agreeing = sum(r["agree"] for r in mine)
            out.print(f"{what}: {agreeing} of {len(mine)} agree within their spread", highlight=False)
    if any(not r["agree"] for r in rows if r["kind"] == "ratio") and not args.no_fail:
        return 3
    return 0
