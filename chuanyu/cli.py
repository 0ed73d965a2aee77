"""The ``chuanyu`` command line.

Usage::

    chuanyu bench engine [--quick] [--json FILE] [--workload NAME ...] [--engine {cython,reference}]
                         [--seed N]

Each subcommand is added by one ``_add_<name>(subparsers)`` function that builds its parser
and sets ``handler`` (a function taking the parsed arguments and returning an exit status)
with ``set_defaults``; :func:`main` only parses and dispatches. Handlers import what they
need when they run, so one broken subsystem does not take the whole command line down and
``chuanyu --help`` stays fast.

Exit statuses: 0 success, 1 a failure reported as ``chuanyu: error: ...``, 2 bad
arguments (usage message), 130 interrupted. A user never sees a traceback for bad input.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .argtypes import number
from .clikit import (CliError, add_no_fail, begin_bench, bench_status, check_json_target, write_bench_page,
                     write_json)
from .clikit import rate_range as _range
from .clikit import rate_text as _rate

__all__ = ["main", "build_parser", "CliError"]


# --------------------------------------------------------------------------- chuanyu bench ...
_WORKLOAD_NAMES = (                 # bench.engine_bench.MEASUREMENTS
    "broker_mix", "broker_mix_risk", "broker_deep", "broker_deep_risk", "exchange_core_mix",
    "exchange_core_mix_risk", "carbon_mix", "carbon_mix_risk", "deep_book", "deep_book_risk",
    "fixed_price_takes", "auction_clearing", "call_uncrossing",
)


def _add_bench(commands) -> None:
    bench = commands.add_parser(
        "bench", help="run the benchmarks",
        description="Run the benchmarks on this machine. With no TARGET, every one in turn (engine, gateway, "
                    "recovery, feeds) and one summary table; with a TARGET, that one and its full table.")
    from . import cli_bench
    cli_bench.add_bench_all(bench)
    targets = bench.add_subparsers(dest="target", metavar="TARGET")
    from . import cli_gateway
    cli_gateway.add_bench_gateway(targets)
    cli_gateway.add_bench_recovery(targets)
    from . import cli_feed
    cli_feed.add_bench_feeds(targets)
    from . import cli_surveil
    cli_surveil.add_bench_surveillance(targets)
    from . import cli_web
    cli_web.add_bench_web(targets)
    cli_bench.add_bench_compare(targets)
    cli_bench.add_bench_report(targets)
    engine = targets.add_parser(
        "engine", help="matching engine throughput and latency",
        description=(
            "Time the matching engine on seeded workloads (broker_mix: one book of ~1,900 "
            "orders, 62% limit adds (an eighth marketable) / 28% cancels / 10% sweeps; "
            "broker_deep: the same over 100,000 orders; exchange_core_mix: one book, "
            "9% GTC / 3% IOC / 6% cancel / 82% move; carbon_mix: 20 instruments, 60% adds / "
            "30% cancels / 10% sweeps; deep_book: 1,000,000 resting orders, then carbon_mix), "
            "each also with risk on (NAME_risk: funded accounts, fees), on 100,000 "
            "fixed-price takes (fixed_price_takes) and on clearing a 10,000-bid auction "
            "(auction_clearing: its bids through process(), then the AUCTION_CLOSE) and on "
            "uncrossing a 100,000-order call auction (call_uncrossing: the orders, then the move "
            "to TRADING). "
            "Reports commands/s through process() in batches of 1,024 and by batch size (1 to "
            "the whole workload), through the per-call API with each result read, against a "
            "plain sortedcontainers book timed on the same commands and checked trade for "
            "trade, per-call latency percentiles (HdrHistogram files beside --json), the "
            "reference model's commands/s, bytes per resting order and per command's events, "
            "and risk-on throughput over risk-off; every figure with its spread over the rounds. "
            "Workloads are generated before timing. The full run takes several minutes; --quick "
            "a few."))
    engine.add_argument("--json", metavar="FILE",
                        help="also write the results as JSON to FILE ('-' for stdout)")
    engine.add_argument("--html", metavar="FILE",
                        help="also write a page with the batch-size curves and latency distributions as charts")
    engine.add_argument("--quick", action="store_true",
                        help="smaller workloads (deep_book keeps its million-order book; "
                             "deep_book_risk has 100,000 orders, and it and carbon_mix_risk "
                             "fund 2,000 accounts; auction_clearing keeps its 10,000 bids and "
                             "call_uncrossing its 100,000 orders)")
    engine.add_argument("--workload", metavar="NAME", nargs="+", action="extend", choices=_WORKLOAD_NAMES,
                        help=f"run only these workloads (choices: {', '.join(_WORKLOAD_NAMES)})")
    engine.add_argument("--engine", dest="engine", choices=("cython", "reference"), default="cython",
                        help="implementation under test: the compiled matching.Engine (default) or "
                             "the pure-Python reference model (ratios are then 1; slow: deep_book "
                             "takes minutes, even with --quick)")
    engine.add_argument("--seed", type=int, default=None,
                        help="seed for every workload instead of each one's default")
    engine.add_argument("--export-workload", metavar="DIR",
                        help="write the chosen workloads' commands (.npy), the engine's trades on them "
                             "(.csv) and a manifest (.json) into DIR, and exit without timing: "
                             "run another engine on the same commands (see bench/export.py)")
    # Shrinks every workload; for tests and quick trials, not a supported measurement.
    engine.add_argument("--scale", type=number(float, 0, above=True), default=1.0, help=argparse.SUPPRESS)
    add_no_fail(engine)
    engine.set_defaults(handler=_bench_engine)




def _us(ns) -> str:
    return "-" if ns is None else f"{ns / 1000:.2f}"


def _ratio(x) -> str:
    return "-" if x is None else f"{x:.1f}×" if x >= 10 else f"{x:.2f}×"


def _ns(ns) -> str:
    return "-" if ns is None else f"{ns:,.0f}"


def _quantity(value, unit: str) -> str:
    if unit == "×":
        return _ratio(value)
    if unit == "ns":
        return f"{value:,.0f} ns"
    if unit == "ms":
        return f"{value:.2f} ms"
    return f"{value:.1f} {unit}"


def _results_table(results: list, Table, title: str = "chuanyu engine benchmark"):
    """One column per workload, one row per measurement (latency: the per-call path).

    Risk-on workloads add their process() throughput over their risk-off workload's."""
    table = Table(title=title, title_justify="left")
    table.add_column("")
    for r in results:
        table.add_column(r["workload"], justify="right")

    def row(label, fn):
        table.add_row(label, *(fn(r) for r in results))

    row("timed commands", lambda r: f"{r['commands']:,}")
    row("process() cmd/s", lambda r: _rate(r["batch_commands_per_s"]))
    row("  rounds min–max", lambda r: _range(r.get("spread", {}).get("batch")))
    row("per-call cmd/s", lambda r: _rate(r["call_commands_per_s"]))
    row("  rounds min–max", lambda r: _range(r.get("spread", {}).get("call")))
    row("plain book cmd/s", lambda r: _rate(r.get("plain_commands_per_s")))
    row("plain per-call cmd/s", lambda r: _rate(r.get("plain_call_commands_per_s")))
    row("process() ÷ plain", lambda r: _ratio(r.get("batch_vs_plain")))
    row("per-call ÷ plain per-call", lambda r: _ratio(r.get("call_vs_plain")))
    row("plain: same trades", lambda r: {True: "yes", False: "NO", None: "-"}[r.get("plain_trades_agree")])
    row("reference cmd/s", lambda r: _rate(r["reference_commands_per_s"])
        + ("*" if r["reference_commands"] != r["commands"] else ""))
    row("process() ÷ ref", lambda r: _ratio(r["batch_vs_reference"]))
    row("per-call ÷ ref", lambda r: _ratio(r["call_vs_reference"]))
    if any(r.get("risk") for r in results):
        row("process() on÷off", lambda r: _ratio(r.get("batch_vs_risk_off")))
    row("latency p50 µs", lambda r: _us(r["latency_ns"]["p50"]))
    row("latency p99 µs", lambda r: _us(r["latency_ns"]["p99"]))
    row("latency p99.9 µs", lambda r: _us(r["latency_ns"]["p999"]))
    row("bytes per order", lambda r: "-" if r["bytes_per_resting_order"] is None
        else f"{r['bytes_per_resting_order']:.1f}")
    row("event bytes per command", lambda r: "-" if r.get("event_bytes_per_command") is None
        else f"{r['event_bytes_per_command']:.0f} ({r['events_per_command']:.2f} events)")
    row("resting at start", lambda r: f"{r['resting_orders_start']:,}")
    row("resting at end", lambda r: f"{r['resting_orders_end']:,}")
    row("rejected", lambda r: f"{r['reject_fraction']:.2%}")
    if any(r.get("risk") for r in results):
        row("funded accounts", lambda r: "-" if r.get("accounts") is None else f"{r['accounts']:,}")
    return table


def _curve_table(results: list, Table):
    """process() throughput by commands per call, one column per workload, each size with its
    rounds' range, then the whole workload in one call over slices of 1,024."""
    table = Table(title="process() cmd/s by commands per call", title_justify="left")
    table.add_column("")
    for r in results:
        table.add_column(r["workload"], justify="right")
    for size in results[0]["batch_curve"]:
        label = "whole workload" if size == "whole" else f"{int(size):,} a call"
        table.add_row(label, *(_rate(r["batch_curve"][size]["median"]) for r in results))
        table.add_row("  rounds min–max", *(_range(r["batch_curve"][size]) for r in results))
    table.add_row("whole ÷ 1,024", *(_ratio(r.get("whole_vs_slices")) for r in results))
    return table


def _risk_title(results: list) -> str:
    """The title of the risk-on table, with the fees of its workloads."""
    fees = sorted({tuple(pair) for r in results for pair in (r.get("fees_bps") or {}).values()})
    shown = ", ".join(f"{b}/{s}" for b, s in fees)
    return "chuanyu engine benchmark, risk on" + (f" (fees {shown} bps)" if fees else "")


def _takes_table(results: list, Table):
    """The fixed-price takes: one column per result, takes through process() and the reference."""
    table = Table(title="fixed-price takes", title_justify="left")
    table.add_column("")
    for r in results:
        table.add_column(r["workload"], justify="right")

    def row(label, fn):
        table.add_row(label, *(fn(r) for r in results))

    row("timed takes", lambda r: f"{r['commands']:,}")
    row("process() takes/s", lambda r: _rate(r["batch_commands_per_s"]))
    row("process() ns/take", lambda r: _ns(r["batch_ns_per_take"]))
    row("reference takes/s", lambda r: _rate(r["reference_commands_per_s"])
        + ("*" if r["reference_commands"] != r["commands"] else ""))
    row("reference ns/take", lambda r: _ns(r["reference_ns_per_take"]))
    row("process() ÷ ref", lambda r: _ratio(r["batch_vs_reference"]))
    row("listings at start", lambda r: f"{r['resting_orders_start']:,}")
    row("listings at end", lambda r: f"{r['resting_orders_end']:,}")
    row("trades", lambda r: "-" if r.get("trades") is None else f"{r['trades']:,}")
    row("rejected", lambda r: f"{r['reject_fraction']:.2%}")
    return table


def _ms(ms) -> str:
    return "-" if ms is None else f"{ms:.3f}"


def _auction_table(results: list, Table):
    """The auction clearing and the call's uncrossing: one column per result; the closing
    command's cost, the rate of the bids (orders) before it, the outcome."""
    table = Table(title="auction clearing and call uncrossing", title_justify="left")
    table.add_column("")
    for r in results:
        table.add_column(r["workload"], justify="right")

    def row(label, fn):
        table.add_row(label, *(fn(r) for r in results))

    row("bids (call: orders)", lambda r: f"{r['commands']:,}")
    row("clearing ms (median)", lambda r: _ms(r["clearing_ms"]))
    row("clearing ms (max)", lambda r: _ms(r["clearing_ms_max"]))
    row("clearing ns/bid", lambda r: _ns(r["clearing_ns_per_bid"]))
    row("reference clearing ms", lambda r: _ms(r["reference_clearing_ms"]))
    row("clearing: ref ÷ engine", lambda r: _ratio(r["clearing_vs_reference"]))
    row("process() bids/s", lambda r: _rate(r["bids_per_s"]))
    row("reference bids/s", lambda r: _rate(r["reference_bids_per_s"]))
    row("outcome", lambda r: r["outcome"] or "-")
    row("clearing price", lambda r: "-" if r["clearing_price"] is None else f"{r['clearing_price']:,}")
    row("sold / bid for (t)", lambda r: "-" if r["sold"] is None else f"{r['sold']:,} / {r['bid_volume']:,}")
    row("volume (t)", lambda r: "-" if r.get("volume") is None else f"{r['volume']:,}")
    row("trades", lambda r: f"{r['trades']:,}")
    row("cancelled", lambda r: f"{r['cancelled']:,}")
    row("rejected", lambda r: f"{r['reject_fraction']:.2%}")
    row("rounds", lambda r: f"{r['rounds']}")
    return table


def _bench_engine(args) -> int:
    from rich.console import Console
    from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
    from rich.table import Table

    try:
        from bench import engine_bench
        from bench.histograms import encoded_histograms, save_histograms
    except ImportError as exc:          # e.g. a stale or missing build of the compiled engine
        raise CliError(f"cannot load the engine benchmark: {exc}") from None

    check_json_target(args.json)
    out = Console(stderr=args.json == "-")
    if not out.is_terminal:             # a file or a pipe has no width to wrap the tables to
        out.width = 160
    err = Console(stderr=True)
    try:
        engine_bench.engine_class(args.engine)
    except engine_bench.EngineUnavailable as exc:
        raise CliError(str(exc)) from None

    names = list(dict.fromkeys(args.workload)) if args.workload else list(_WORKLOAD_NAMES)
    if args.export_workload:
        return _export_workloads(engine_bench, names, args, err)
    run = begin_bench(args.argv)
    # A step of the bar per phase: fixed_price_takes and the closings have "process()" where the
    # others have the warm-up, the rounds ("round 1 of 5", ...) and the latency.
    phases = ("generate", "process()", "warm-up", *(f"round {r + 1} of {engine_bench.ROUNDS}"
                                                   for r in range(engine_bench.ROUNDS)), "latency", "reference")
    with Progress(SpinnerColumn(), TextColumn("{task.description:<34}"), BarColumn(),
                  TextColumn("{task.completed}/{task.total}"), TimeElapsedColumn(),
                  console=err, transient=False) as bar:
        tasks = {name: bar.add_task(name, total=len(phases), start=False) for name in names}

        def progress(workload: str, phase: str) -> None:
            if not err.is_terminal:         # piped or logged: a line per step (a bar draws nothing there)
                print(f"chuanyu bench engine: {workload}: {phase}", file=sys.stderr, flush=True)
            task = tasks[workload]
            if phase == "generate":
                bar.start_task(task)
            elif phase == "done":
                bar.update(task, completed=len(phases), description=f"{workload}: done")
                bar.stop_task(task)
                return
            step = phases.index(phase) if phase in phases else bar.tasks[task].completed
            bar.update(task, completed=step, description=f"{workload}: {phase}")

        results = engine_bench.run_engine_bench(
            engine=args.engine, quick=args.quick, workloads=names, scale=args.scale,
            seed=args.seed, progress=progress)

    machine = results[0]["machine"] if results else engine_bench.machine_info()
    special = (engine_bench.FIXED_PRICE_TAKES, *engine_bench.CLOSINGS)
    takes = [r for r in results if r["workload"] == engine_bench.FIXED_PRICE_TAKES]
    auctions = [r for r in results if r["workload"] in engine_bench.CLOSINGS]
    risk_off = [r for r in results if r["workload"] not in special and not r.get("risk")]
    risk_on = [r for r in results if r["workload"] not in special and r.get("risk")]
    # three workloads a table: wider tables wrap every cell on an 80-column terminal
    for start in range(0, len(risk_off), 3):
        out.print(_results_table(risk_off[start:start + 3], Table))
    for start in range(0, len(risk_on), 3):
        out.print(_results_table(risk_on[start:start + 3], Table, title=_risk_title(risk_on)))
    curves = [r for r in results if r.get("batch_curve")]
    for start in range(0, len(curves), 3):
        out.print(_curve_table(curves[start:start + 3], Table))
    if takes:
        out.print(_takes_table(takes, Table))
    if auctions:
        out.print(_auction_table(auctions, Table))
    if any(r.get("plain_commands_per_s") for r in results):
        out.print("plain book: a pure-Python price-time book on sortedcontainers (bench/plain_book.py), the same "
                  "commands from the same book, its trades checked against the engine's. per-call: place/withdraw/"
                  "amend, each result's order id and fills read, as a broker's code would (the plain book's the "
                  "same way); plain book cmd/s: its own loop, results unread", highlight=False)
    for r in results:
        if r["reference_commands"] != r["commands"]:
            out.print(f"* {r['workload']}: reference model timed on the first "
                      f"{r['reference_commands']:,} of the {r['commands']:,} commands")
        if not r["consistent"] and r["workload"] == engine_bench.AUCTION_CLEARING:
            out.print(f"[red]! {r['workload']}: the clearings gave different events[/]")
        elif not r["consistent"]:
            out.print(f"[red]! {r['workload']}: runs from the same state ended with different books[/]")
        if r.get("risk_off_comparable") is False and r.get("risk_off_batch_commands_per_s"):
            out.print(f"- {r['workload']}: not compared with risk off (another number of commands "
                      "or resting orders)")
    out.print(f"engine {results[0]['engine'] if results else args.engine}, batches of "
              f"{engine_bench.BATCH_SIZE}; {machine['cpu']}, {machine['usable_cores']} of "
              f"{machine['cores']} cores; Python {machine['python']}, numpy {machine['numpy']}",
              highlight=False)

    checks = engine_bench.check_targets(results)
    if checks:
        targets = Table(title="targets (ratios from this run)", title_justify="left")
        for header in ("workload", "target", "measured", "goal", ""):
            targets.add_column(header, justify="left" if header in ("workload", "target") else "right")
        for c in checks:
            shown = "n/a" if c["value"] is None else _quantity(c["value"], c["unit"])
            goal = ("≥ " if c["kind"] == "min" else "≤ ") + _quantity(c["goal"], c["unit"])
            mark = {True: "[green]met[/]", False: "[red]missed[/]", None: "[dim]n/a[/]"}[c["met"]]
            targets.add_row(c["workload"], c["label"], shown, goal, mark)
        out.print(targets)

    document = {"workloads": results, "targets": checks, "run": run.finish()}
    write_json(args.json, document)
    write_bench_page(args.html, document, "chuanyu bench engine")
    try:
        saved = save_histograms(args.json, {f"{name}.per-call": h for name, h in encoded_histograms(results).items()},
                                comment="per-call latency, results read")
    except OSError as exc:
        raise CliError(f"cannot write the latency histograms beside {args.json}: {exc}") from None
    if saved:
        err.print(f"latency histograms (HdrHistogram log and percentile distribution) beside it: "
                  f"{saved[0].parent}/{Path(args.json).stem}.*.hdr, *.hgrm", highlight=False)
    return bench_status(checks, args.no_fail)


def _export_workloads(engine_bench, names: list, args, err) -> int:
    from bench.export import export_workload
    from bench.workloads import generate

    sizes = engine_bench.sizes_for(args.quick, args.scale)
    engine_cls = engine_bench.engine_class(args.engine)
    for name in names:
        kwargs = {k: v for k, v in sizes[name].items() if k != "reference_commands"}
        if args.seed is not None:
            kwargs["seed"] = args.seed
        err.print(f"chuanyu bench engine: generating {name}", highlight=False)
        workload = generate(name, shadow=engine_cls, **kwargs)
        try:
            paths = export_workload(workload, args.export_workload, engine_cls, sizes=kwargs)
        except OSError as exc:
            raise CliError(f"cannot write the workload to {args.export_workload}: {exc}") from None
        print(f"{name}: {', '.join(str(p) for p in paths)}")
    return 0


# --------------------------------------------------------------------------- the parser
def build_parser() -> argparse.ArgumentParser:
    """The ``chuanyu`` parser with every subcommand."""
    parser = argparse.ArgumentParser(
        prog="chuanyu",
        description="chuanyu: the Sichuan-Chongqing carbon market matching engine.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    _add_bench(commands)
    from . import cli_gateway
    cli_gateway.register(commands)
    from . import cli_feed
    cli_feed.register(commands)
    from . import cli_surveil
    cli_surveil.register(commands)
    from . import cli_report
    cli_report.register(commands)
    from . import cli_web
    cli_web.register(commands)
    from . import demo
    demo.register(commands)
    from . import ha_demo
    ha_demo.register(commands)
    return parser


def _version() -> str:
    try:
        from importlib.metadata import PackageNotFoundError, version
        return version("chuanyu")
    except PackageNotFoundError:
        return "(not installed)"


def main(argv=None) -> int:
    """Run the command line with ``argv`` (default: ``sys.argv[1:]``); the exit status."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:          # --help / --version (0) or a usage error (2), already printed
        return exc.code if isinstance(exc.code, int) else 2
    args.argv = ["chuanyu", *(sys.argv[1:] if argv is None else argv)]     # as typed: a benchmark records it
    try:
        return args.handler(args)
    except CliError as exc:
        print(f"chuanyu: error: {exc}", file=sys.stderr)
        return exc.status
    except KeyboardInterrupt:
        print("chuanyu: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
