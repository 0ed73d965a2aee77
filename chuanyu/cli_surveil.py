"""``chuanyu surveil``: market surveillance as its own process (see :mod:`surveillance.service`)."""
from __future__ import annotations

import json
import signal
import time
from pathlib import Path

from .argtypes import number
from .clikit import CliError, add_no_fail, add_state_options, begin_bench, bench_status, check_json_target, handler

__all__ = ["register", "add_bench_surveillance"]


def register(commands) -> None:
    """Add ``surveil`` to the ``chuanyu`` subcommands."""
    from .cli_gateway import DEFAULT_STATE_DIR
    p = commands.add_parser(
        "surveil", help="market surveillance: alerts with evidence, live from the drop copy or over a journal",
        description="Watch a running daemon's drop copy (executions, orders, phases, ends of day) and raise "
                    "alerts with their evidence: wash trades, marking the close, layering, order-to-trade "
                    "ratio, concentration ([surveillance] in the market configuration). Alerts go to "
                    "alerts-<date>.jsonl in --out, the log, Prometheus (--metrics-port) and a CURVE feed for "
                    "the drop-copy sessions' keys (--alerts-port). With --journal it back-tests a state dir's "
                    "journal with the same rules and exits.")
    add_state_options(p, DEFAULT_STATE_DIR, f"the daemon's state dir: endpoints.json and keys are read from it "
                                            f"(default: ./{DEFAULT_STATE_DIR})")
    p.add_argument("--key", default="regulator", metavar="NAME",
                   help="the key pair of a drop-copy session in the keys dir (default: regulator)")
    p.add_argument("--out", metavar="DIR", help="where the alert files go (default: STATE_DIR/surveillance)")
    p.add_argument("--journal", metavar="STATE_DIR", help="back-test this state dir's journal, print a summary, exit")
    p.add_argument("--alerts-port", type=number(int, 0, 65535, what="a port"), metavar="N",
                   help="publish alerts on this port (0: any free one; written to surveil.json)")
    p.add_argument("--metrics-port", type=number(int, 0, 65535, what="a port"), metavar="N",
                   help="Prometheus metrics on this port (0: any free one)")
    p.add_argument("--duration", type=number(float, 0, above=True, what="a number of seconds"), metavar="S",
                   help="stop after S seconds (default: until SIGINT or SIGTERM)")
    p.add_argument("--log-level", default="INFO", choices=("DEBUG", "INFO", "WARNING", "ERROR"))
    p.add_argument("--log-json", action="store_true", help="log JSON lines")
    p.set_defaults(handler=handler(_surveil))


def _surveil(args) -> int:
    from exchange.logs import configure
    from surveillance.service import AlertSinks, backtest, for_config
    from .cli_gateway import _load_config
    configure(args.log_level, json_lines=args.log_json)
    config = _load_config(args.config)
    state = Path(args.journal or args.state_dir)
    sinks = AlertSinks(Path(args.out) if args.out else state / "surveillance", args.metrics_port)
    try:
        if args.journal:
            from exchange.journal import JournalError
            try:
                totals = backtest(state, config, for_config(config), sinks)
            except (FileNotFoundError, JournalError) as exc:
                raise CliError(str(exc)) from None
            print(json.dumps(totals, sort_keys=True))
            return 0
        return _live(args, config, state, sinks)
    finally:
        sinks.close()


def _live(args, config, state: Path, sinks) -> int:
    import zmq

    from feeds.dropcopy import DropCopyClient
    from gateway.client import load_keys
    from surveillance.service import bind_alerts, for_config, run_live
    from .cli_gateway import read_endpoints
    infos = read_endpoints([state / "endpoints.json"])
    if not infos or not infos[0].get("drop_copy"):
        raise CliError(f"no drop copy found: {state / 'endpoints.json'} is missing or names no drop_copy endpoint "
                       "(the daemon needs a session with drop_copy = true)")
    info = infos[0]
    keys = Path(info.get("keys_dir") or state / "keys")
    try:
        public, secret = load_keys(keys, args.key)
    except (OSError, ValueError) as exc:
        raise CliError(f"key pair {args.key!r} in {keys}: {exc}") from None
    ctx = zmq.Context()
    client = DropCopyClient(info["drop_copy"], info["server_public_key"], public, secret, ctx=ctx, events=True)
    auth = endpoint = None
    stopping = []
    signal.signal(signal.SIGTERM, lambda *_: stopping.append(True))
    signal.signal(signal.SIGINT, lambda *_: stopping.append(True))
    try:
        if args.alerts_port is not None:
            sinks.publisher, endpoint, auth = bind_alerts(ctx, config, keys, args.alerts_port)
        described = {"drop_copy": info["drop_copy"], "alerts": endpoint,
                     "metrics": getattr(sinks, "metrics_port", None), "out": str(sinks.dir)}
        deadline = None if args.duration is None else time.monotonic() + args.duration
        surveillance = for_config(config)
        live = time.monotonic() + 10                # a heartbeat proves the subscription (the slow joiner)
        while not client.heartbeats and time.monotonic() < live and not stopping:
            executions, events = client.receive(100)
            sinks.emit(surveillance.process(executions, events))
        described["subscribed"] = bool(client.heartbeats)
        (sinks.dir / "surveil.json").write_text(json.dumps(described, indent=2))
        print(json.dumps(described), flush=True)
        run_live(surveillance, client, sinks,
                 lambda: bool(stopping) or (deadline is not None and time.monotonic() > deadline))
        print(json.dumps({"rows": surveillance.rows, "alerts": surveillance.alerts, "gaps": client.gaps,
                          "by_kind": surveillance.counts}), flush=True)
    finally:
        client.close()
        if sinks.publisher is not None:
            sinks.publisher.close(0)
        if auth is not None:
            auth.stop()
        ctx.term()
    return 0


def add_bench_surveillance(targets) -> None:
    """Add ``bench surveillance`` under ``chuanyu bench``."""
    p = targets.add_parser(
        "surveillance", help="does market surveillance keep up with the daemon?",
        description="Run a carbon-mix workload through the engine in batches of 1,024, turn each batch's events "
                    "into the drop copy's rows and time the surveillance rules on them: commands/s of the "
                    "engine and of surveillance, rounds with their spread. Target: surveillance reads at least "
                    "the daemon's batched throughput.")
    p.add_argument("--json", metavar="FILE", help="also write the results as JSON to FILE ('-' for stdout)")
    p.add_argument("--commands", type=number(int, 10_240, what="an integer of at least 10,240"), default=200_000,
                   metavar="N", help="commands per round (default 200,000)")
    p.add_argument("--rounds", type=number(int, 1, 50, what="1..50"), default=5, metavar="N",
                   help="rounds (default 5)")
    add_no_fail(p)
    p.set_defaults(handler=handler(_bench_surveillance))


def _bench_surveillance(args) -> int:
    import sys

    from bench import surveillance_bench
    from .cli_gateway import _report
    check_json_target(args.json)
    run = begin_bench(args.argv)
    results = surveillance_bench.run(args.commands, args.rounds, log=lambda m: print(m, file=sys.stderr))
    results["run"] = run.finish()
    _report(args.json, surveillance_bench.table(results), results)
    return bench_status([results["target"]], args.no_fail)
