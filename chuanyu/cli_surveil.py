"""``chuanyu surveil``: market surveillance as its own process (see :mod:`surveillance.service`)."""
from __future__ import annotations

import json
import signal
import time
from pathlib import Path

from .argtypes import number
from .clikit import CliError, handler

__all__ = ["register"]


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
    p.add_argument("--config", metavar="FILE", help="market configuration (TOML; default: the embedded market)")
    p.add_argument("--state-dir", metavar="DIR", default=DEFAULT_STATE_DIR,
                   help=f"the daemon's state dir: endpoints.json and keys are read from it (default: ./{DEFAULT_STATE_DIR})")
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
    auth = None
    stopping = []
    signal.signal(signal.SIGTERM, lambda *_: stopping.append(True))
    signal.signal(signal.SIGINT, lambda *_: stopping.append(True))
    try:
        if args.alerts_port is not None:
            sinks.publisher, endpoint, auth = bind_alerts(ctx, config, keys, args.alerts_port)
        described = {"drop_copy": info["drop_copy"], "alerts": endpoint if auth else None,
                     "metrics": getattr(sinks, "metrics_port", None), "out": str(sinks.dir)}
        (sinks.dir / "surveil.json").write_text(json.dumps(described, indent=2))
        print(json.dumps(described), flush=True)
        deadline = None if args.duration is None else time.monotonic() + args.duration
        surveillance = for_config(config)
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
