"""``chuanyu web``: the web console (:mod:`web.app`), and ``chuanyu web password``."""
from __future__ import annotations

import getpass
import sys

from .argtypes import number
from .clikit import CliError, add_state_options, handler

__all__ = ["register", "add_bench_web"]

DEFAULT_WEB_PORT = 8080


def register(commands) -> None:
    """Add ``web`` to the ``chuanyu`` subcommands."""
    from .cli_gateway import DEFAULT_STATE_DIR
    p = commands.add_parser(
        "web", help="the web console: public market pages, live from the feed, and the operator's console",
        description="Serve the public market pages (overview, instrument books, trades and charts, end-of-day "
                    "reports, vitality) live from the daemon's feed, and the operator's console (sessions, phases, "
                    "journal, alerts; halt, resume, end of day) when [web] console_password is set. A process of "
                    "its own: it follows the feed as a subscriber and uses the admin socket, never the order path. "
                    "`chuanyu web password` makes the console_password line.")
    add_state_options(p, DEFAULT_STATE_DIR)
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1, this machine only)")
    p.add_argument("--port", type=number(int, 0, 65535, what="a port"), default=DEFAULT_WEB_PORT,
                   help=f"port to listen on (default: {DEFAULT_WEB_PORT}; 0: any free one)")
    p.add_argument("--nice", type=number(int, 0, 19, what="a niceness"), default=10,
                   help="lower this process's priority by N (default 10): beside a daemon, matching comes first")
    p.add_argument("--admin-key", default="admin", metavar="NAME",
                   help="the admin key pair the console uses, in the daemon's keys dir (default: admin)")
    p.set_defaults(handler=handler(_web))
    sub = p.add_subparsers(dest="web_command", metavar="")
    pw = sub.add_parser("password", help="print a [web] console_password line for a password read from the terminal "
                                         "(or stdin)")
    pw.set_defaults(handler=handler(_password))


def _password(args) -> int:
    from exchange.passwords import hash_password
    if sys.stdin.isatty():
        first = getpass.getpass("console password: ")
        if getpass.getpass("again: ") != first:
            raise CliError("the two passwords differ")
    else:
        first = sys.stdin.readline().rstrip("\n")
    if len(first) < 8:
        raise CliError("the password must have at least 8 characters")
    print(f'console_password = "{hash_password(first)}"')
    return 0


def _web(args) -> int:
    import asyncio
    from pathlib import Path

    import uvicorn

    from web.app import create_app
    from .cli_gateway import _load_config
    config = _load_config(args.config)
    if args.nice:
        import os
        os.nice(args.nice)
    app = create_app(Path(args.state_dir), config, admin_key=args.admin_key)
    server = uvicorn.Server(uvicorn.Config(app, host=args.host, port=args.port, log_level="warning",
                                           access_log=False, lifespan="on",
                                           timeout_graceful_shutdown=2))   # event streams never end by themselves

    async def serve():
        task = asyncio.create_task(server.serve())
        while not server.started and not task.done():
            await asyncio.sleep(0.05)
        if server.started:
            port = server.servers[0].sockets[0].getsockname()[1]
            print(f"chuanyu web: http://{args.host}:{port}/  (console: "
                  f"{'/console' if config.web.console_password else 'closed, no [web] console_password'})",
                  flush=True)
        await task
    try:
        asyncio.run(serve())
    except KeyboardInterrupt:
        pass
    return 0 if server.started else 1


def add_bench_web(targets) -> None:
    p = targets.add_parser(
        "web", help="does the web console slow the daemon down?",
        description="Drive a real daemon (feeds on) flat out with batched orders in rounds that alternate "
                    "without and with `chuanyu web` attached (an event-stream reader and a page fetching five "
                    "times a second): orders/s of each, their ratio and its spread. Target: with >= 90% of "
                    "without, or inside the without-rounds' spread.")
    p.add_argument("--rounds", type=number(int, 1, 20, what="a number of rounds"), default=3,
                   help="pairs of rounds (default 3)")
    p.add_argument("--duration", type=number(float, 0, 600, above=True, what="seconds"), default=3.0,
                   help="seconds a round (default 3)")
    p.add_argument("--json", metavar="FILE", help="also write the results as JSON to FILE ('-' for stdout)")
    from .clikit import add_no_fail
    add_no_fail(p)
    p.set_defaults(handler=handler(_bench_web))


def _bench_web(args) -> int:
    from bench import web_bench
    from .clikit import begin_bench, bench_status, check_json_target, write_json
    check_json_target(args.json)
    run = begin_bench(args.argv)
    results = web_bench.run(rounds=args.rounds, duration=args.duration, log=lambda m: print(m, file=sys.stderr))
    results["run"] = run.finish()
    print(web_bench.table(results), file=sys.stderr if args.json == "-" else sys.stdout)
    write_json(args.json, results)
    return bench_status(results["targets"], args.no_fail)
