"""The daemon's subcommands of ``chuanyu``: engine, config, keys, admin, order, replay, journal,
bench gateway, bench recovery.

:func:`register` adds the top-level commands to the ``chuanyu`` parser, and
:func:`add_bench_gateway` / :func:`add_bench_recovery` add ``bench gateway`` and
``bench recovery`` under ``bench``; ``chuanyu.cli`` calls them.
Handlers import what they need when they run and raise ``chuanyu.cli.CliError`` for a
one-line failure (a configuration error: exit status 2, naming the key).
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from .argtypes import number
from .clikit import (CliError, add_no_fail, begin_bench, bench_status, check_json_target, handler, write_bench_page,
                     write_json)

__all__ = ["register", "add_bench_gateway", "add_bench_recovery", "start_web", "DEFAULT_STATE_DIR", "DEFAULT_KEY_NAMES"]

DEFAULT_STATE_DIR = "chuanyu-state"
DEFAULT_KEY_NAMES = ("server", "admin", "sc-platform", "cq-platform", "broker", "regulator")


def _load_config(path):
    from exchange.config import ConfigError, default_config, load_config
    try:
        return load_config(path) if path else default_config()
    except ConfigError as exc:
        raise CliError(f"config: {exc}", 2) from None


def register(commands) -> None:
    """Add engine, config, keys, admin, order, replay and journal to the ``chuanyu`` subcommands."""
    _add_engine(commands)
    _add_config(commands)
    _add_keys(commands)
    _add_admin(commands)
    _add_order(commands)
    _add_replay(commands)
    _add_journal(commands)


# ------------------------------------------------------------------ engine
def _add_engine(commands) -> None:
    p = commands.add_parser(
        "engine", help="run the engine daemon",
        description="Run the matching engine daemon: order entry over ZeroMQ (CURVE), an admin "
                    "socket, sessions and snapshots. Without --config it runs the embedded demo "
                    "market (see `chuanyu config example`). SIGTERM or `chuanyu admin shutdown` "
                    "stop it gracefully: intake stops, a snapshot is written, exit status 0.")
    p.add_argument("--config", metavar="FILE", help="market configuration (TOML)")
    p.add_argument("--state-dir", metavar="DIR", default=DEFAULT_STATE_DIR,
                   help=f"keys, snapshots and endpoints.json (default: ./{DEFAULT_STATE_DIR})")
    p.add_argument("--order-port", type=int, metavar="N", help="override network.order_port (0: any free)")
    p.add_argument("--admin-port", type=int, metavar="N", help="override network.admin_port (0: any free)")
    p.add_argument("--metrics-port", type=int, metavar="N",
                   help="serve Prometheus metrics at http://HOST:N/metrics; overrides daemon.metrics_port "
                        "(0: off)")
    p.add_argument("--web-port", type=number(int, 0, 65535, what="a port"), metavar="N",
                   help="also start `chuanyu web --port N` beside the daemon (a process of its own; stopped with it)")
    p.add_argument("--log-level", default="INFO", choices=("DEBUG", "INFO", "WARNING", "ERROR"),
                   help="INFO (default): one line per event of note (start, sessions, snapshots, phases, "
                        "end of day, shutdown); WARNING: problems only")
    p.add_argument("--log-json", action="store_true",
                   help="write the log to stderr as JSON lines (ts, level, logger, event, message, fields)")
    p.add_argument("--accept-journal-loss", action="store_true",
                   help="start even though the journal ends before its mark (its newest segment is lost, "
                        "acknowledged commands with it): logged as an error; see OPERATIONS.md, Recovery")
    p.add_argument("--apply-config", action="store_true",
                   help="where the configuration differs from the market in the state dir (an instrument's "
                        "band, tick, lot, ...; a new account), apply the difference as journaled operator "
                        "commands instead of refusing to start; each change is logged")
    p.add_argument("--node", metavar="NAME",
                   help='this node\'s name under [replication] mode = "jetstream" (one of replication.nodes, '
                        "if listed): it follows the replicated command log as a standby and serves as "
                        "primary while it holds the leader lease; see OPERATIONS.md, High availability")
    p.set_defaults(handler=handler(_engine))


def _engine(args) -> int:
    import dataclasses

    from exchange.journal import JournalWriteError
    from exchange.logs import configure
    from exchange.process import GatewayError, serve

    configure(args.log_level, json_lines=args.log_json)
    try:
        cfg = _load_config(args.config)
    except CliError as exc:
        _log_error(args, exc)
        raise
    if args.metrics_port is not None:
        if not 0 <= args.metrics_port <= 65535:
            raise CliError("--metrics-port must be 0..65535 (0: off)", 2)
        cfg.daemon = dataclasses.replace(cfg.daemon, metrics_port=args.metrics_port)
    net = cfg.network
    for name in ("order_port", "admin_port"):
        value = getattr(args, name)
        if value is not None:
            if not 0 <= value <= 65535:
                raise CliError(f"--{name.replace('_', '-')} must be 0..65535", 2)
            net = dataclasses.replace(net, **{name: value})
    cfg.network = net
    web = None
    if args.web_port is not None:          # its own process: it waits for endpoints.json, then follows the feed
        web = start_web(args.state_dir, args.config, args.web_port)
    try:
        return serve(cfg, args.state_dir, accept_journal_loss=args.accept_journal_loss,
                     apply_config=args.apply_config, node=args.node)
    except (GatewayError, JournalWriteError) as exc:     # the latter: a full disk before serving began
        _log_error(args, exc)
        raise CliError(str(exc)) from None
    finally:
        if web is not None:
            web.terminate()
            web.wait(10)


def start_web(state_dir, config_path, port: int, admin_key: str = "admin", quiet: bool = False):
    """``chuanyu web`` as a child process beside a daemon (``--web-port``): the Popen.
    ``quiet``: its output goes to ``web.log`` in the state dir (the demo's screen is its own)."""
    import subprocess
    from pathlib import Path
    argv = [sys.executable, "-m", "chuanyu.cli", "web", "--state-dir", str(state_dir), "--port", str(port),
            "--admin-key", admin_key]
    if config_path:
        argv += ["--config", str(config_path)]
    if not quiet:
        return subprocess.Popen(argv, stdin=subprocess.DEVNULL)
    with open(Path(state_dir) / "web.log", "ab") as log:
        return subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True)


def _log_error(args, exc) -> None:
    """A failure to start, also as a JSON log line (text mode has the one-line message alone)."""
    if args.log_json:
        import logging
        logging.getLogger("chuanyu.gateway").error("cannot run: %s", exc, extra={"event": "error"})


# ------------------------------------------------------------------ config, keys
def _add_config(commands) -> None:
    p = commands.add_parser("config", help="the market configuration",
                            description="Print the embedded demo market as a commented TOML file, "
                                        "or check a configuration file.")
    sub = p.add_subparsers(dest="config_command", metavar="ACTION", required=True)
    ex = sub.add_parser("example", help="print the default market as commented TOML")
    ex.set_defaults(handler=lambda args: _print(__import__("exchange.config", fromlist=["x"]).example_toml()))
    check = sub.add_parser("check", help="check a configuration file")
    check.add_argument("file")
    check.set_defaults(handler=handler(_config_check))


def _print(text: str) -> int:
    sys.stdout.write(text)
    return 0


def _config_check(args) -> int:
    cfg = _load_config(args.file)
    print(f"{args.file}: ok: {len(cfg.instruments)} instruments, {len(cfg.members)} members, "
          f"{len(cfg.accounts)} accounts, {len(cfg.sessions)} sessions")
    return 0


def _add_keys(commands) -> None:
    p = commands.add_parser("keys", help="generate CURVE key pairs",
                            description="Generate CURVE key pairs (NAME.key public, NAME.key_secret "
                                        "secret) with zmq.auth.create_certificates. Existing pairs "
                                        "are kept.")
    p.add_argument("dir", metavar="DIR")
    p.add_argument("names", metavar="NAME", nargs="*",
                   help=f"key pair names (default: {' '.join(DEFAULT_KEY_NAMES)})")
    p.set_defaults(handler=handler(_keys))


def _keys(args) -> int:
    import zmq.auth
    folder = Path(args.dir)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise CliError(f"cannot create {folder}: {exc.strerror or exc}") from None
    for name in args.names or DEFAULT_KEY_NAMES:
        if not name or "/" in name or name.startswith("."):
            raise CliError(f"bad key name {name!r}", 2)
        if (folder / f"{name}.key_secret").exists():
            print(f"{name}: kept {folder / name}.key_secret")
            continue
        public, secret = zmq.auth.create_certificates(str(folder), name)
        os.chmod(secret, 0o600)
        print(f"{name}: {public}  {secret}")
    return 0


# ------------------------------------------------------------------ connecting to a daemon
def _add_connection_args(p, default_key: str, several: bool = False) -> None:
    """The options naming the daemon; ``several``: --state-dir and --endpoint may be repeated,
    one per node of a high-availability group (the client logs in at the one that answers)."""
    if several:
        p.add_argument("--state-dir", metavar="DIR", action="append",
                       help="a node's state dir: endpoints.json and keys are read from it; repeat for each "
                            f"node (default: ./{DEFAULT_STATE_DIR})")
        p.add_argument("--endpoint", metavar="URL", action="append",
                       help="override the endpoints from endpoints.json; repeat for each node, tried in turn")
    else:
        p.add_argument("--state-dir", metavar="DIR", default=DEFAULT_STATE_DIR,
                       help="the daemon's state dir: endpoints.json and keys are read from it")
        p.add_argument("--endpoint", metavar="URL", help="override the endpoint from endpoints.json")
    p.add_argument("--server-key", metavar="Z85", help="override the server public key")
    p.add_argument("--keys", metavar="DIR", help="folder of key pairs (default: the daemon's keys dir)")
    p.add_argument("--key", metavar="NAME", default=default_key, help=f"key pair to use (default: {default_key})")
    p.add_argument("--timeout", type=float, default=5.0, metavar="S", help="seconds to wait for answers")


def _connection(args, which: str):
    endpoints, server_key, public, secret, info = _connections(args, which)
    return endpoints[0], server_key, public, secret, info


def read_endpoints(paths) -> list[dict]:
    """The ``endpoints.json`` files among ``paths`` that exist (a state dir without one has no
    daemon yet); a file that cannot be read is a one-line error."""
    infos = []
    for path in paths:
        if path.exists():
            try:
                infos.append(json.loads(path.read_text()))
            except (OSError, ValueError) as exc:
                raise CliError(f"cannot read {path}: {exc}") from None
    return infos


def _listed(value) -> list:
    """An option's value as a list: none, one (a plain option) or several (a repeated one)."""
    return [] if value is None else [value] if isinstance(value, str) else list(value)


def _connections(args, which: str):
    """``(endpoints, server key, public key, secret key, endpoints.json)``: every node's
    ``which`` endpoint, from the options or the state dirs' endpoints.json files (the first
    file found is the one returned)."""
    import time
    paths = [Path(d) / "endpoints.json" for d in _listed(args.state_dir) or [DEFAULT_STATE_DIR]]
    given = _listed(args.endpoint)
    deadline = time.monotonic() + args.timeout      # a daemon started a moment ago writes it once bound
    while not any(path.exists() for path in paths) and not (given and args.server_key and args.keys) \
            and time.monotonic() < deadline:
        time.sleep(0.05)
    infos = read_endpoints(paths)
    endpoints = list(dict.fromkeys(given or [i[which] for i in infos if i.get(which)]))
    server_keys = list(dict.fromkeys(i["server_public_key"] for i in infos if i.get("server_public_key")))
    if len(server_keys) > 1 and not args.server_key:
        # one client speaks to every node with one server key: the nodes must share theirs
        raise CliError(f"the nodes' endpoints.json name different server keys ({', '.join(server_keys)}): "
                       "give --server-key")
    server_key = args.server_key or (server_keys[0] if server_keys else None)
    keys = args.keys or next((i["keys_dir"] for i in infos if i.get("keys_dir")), None)
    if not (endpoints and server_key and keys):
        missing = " and ".join(str(path) for path in paths)
        raise CliError(f"no daemon found: {missing} {'is' if len(paths) == 1 else 'are'} missing (give --state-dir, "
                       "or --endpoint, --server-key and --keys)")
    from gateway.client import load_keys
    try:
        public, secret = load_keys(keys, args.key)
    except (OSError, ValueError) as exc:
        raise CliError(f"key pair {args.key!r} in {keys}: {exc}") from None
    return endpoints, server_key, public, secret, infos[0] if infos else {}


# ------------------------------------------------------------------ admin
_ADMIN_ARGS = {
    "status": ["--expect-digest"], "account": ["account"], "snapshot": [], "shutdown": [],
    "halt": ["instrument?"], "resume": ["instrument?"], "phase": ["instrument", "status"],
    "instrument": ["instrument", "parameter", "value"],
    "cancel-all": ["--instrument", "--account", "--member", "--session"],
    "retention-floor": ["account", "instrument", "qty"], "position-limit": ["account", "instrument", "qty"],
    "obligation": ["account", "instrument", "qty"], "stp": ["account", "mode"],
    "fee-rebate": ["account", "trade_type", "bps"], "surrender": ["account", "instrument", "qty", "--against"],
    "compliance": [], "fine": ["account", "amount", "reason", "--case"], "fines": [], "end-of-day": ["instrument?"],
    "book": ["instrument", "--depth"],
    "suspend": ["account"], "restore": ["account"], "sell-only": ["account"],
    "deposit": ["account", "amount"], "withdraw": ["account", "amount"],
    "credit": ["account", "instrument", "qty"], "debit": ["account", "instrument", "qty"],
    "block-window": ["instrument", "open"],
    "auction-open": ["instrument", "account", "side", "volume", "reserve", "min_bid", "rules?"],
    "auction-eligible": ["auction", "account"], "auction-close": ["instrument"],
}
_INT_ARGS = ("account", "bps", "case", "depth", "amount", "qty", "volume", "reserve", "min_bid", "auction", "value", "member", "session")
_ADMIN_HELP = {
    "status": "the daemon's state: digest, journal, recovery, schedule, sessions, instruments",
    "account": "an account's cash and holdings (with floors, limits, obligations)",
    "snapshot": "write the engine state to the state dir",
    "shutdown": "graceful shutdown: stop intake, drain, snapshot, exit 0",
    "halt": "halt an instrument (without one: every instrument)",
    "resume": "resume trading an instrument (without one: every instrument)",
    "instrument": "change an instrument parameter: tick, lot, max_order_qty, reference_price, band_bps, "
                  "block_band_bps, block_min_qty, min_close_volume, dynamic_band_bps, select_depth, select_fifo, "
                  "cer_cap_bps",
    "cancel-all": "mass cancel by --instrument, --account, --member (all must match) or --session",
    "retention-floor": "units an account must keep (tonnes)", "position-limit": "most units an account may hold "
                                                                             "(tonnes; 0: no limit)",
    "obligation": "units an account must surrender (tonnes)",
    "stp": "an account's self-trade prevention: off, cancel_newest, cancel_oldest, cancel_both",
    "surrender": "compliance: retire an account's units against its obligation (CERs: --against the allowance)",
    "compliance": "every account's obligations: left (the shortfall now), surrendered, of it CERs, CER room",
    "fine": "fine an account (fen; 0 collects what it owes) for a reason: market_abuse, late_surrender, reporting, "
            "other; --case: the regulator's case number",
    "fines": "fines collected, and every account's fines owed",
    "book": "an instrument's continuous book and fixed-price listings as the engine holds them (--depth levels a "
            "side, default 10)",
    "fee-rebate": "basis points off the market's fee for an account on one trade type "
                  "(continuous, fixed, block, auction); 0 ends the rebate",
    "phase": "set an instrument's phase (an InstrumentStatus name)", "end-of-day": "run the end of day",
    "suspend": "suspend an account (cancels its orders)", "restore": "make an account active again",
    "sell-only": "let an account only sell", "deposit": "add cash (fen)", "withdraw": "remove cash (fen)",
    "credit": "credit units (tonnes)", "debit": "debit units (tonnes)",
    "block-window": "open or close an instrument's block window (open / close)",
    "auction-open": "open a sealed-bid auction; rules: comma-separated pay_as_bid, primary, ...",
    "auction-eligible": "admit an account to bid in an auction", "auction-close": "clear an instrument's auction",
}


def _add_admin(commands) -> None:
    p = commands.add_parser("admin", help="operator commands to a running daemon",
                            description="Send one operator request to a running daemon over its "
                                        "admin socket (CURVE, admin keys only).")
    _add_connection_args(p, "admin")
    p.add_argument("--json", action="store_true",
                   help="print the daemon's answer as JSON (status: every field; account; the events of a command)")
    sub = p.add_subparsers(dest="op", metavar="OP", required=True)
    for op, params in _ADMIN_ARGS.items():
        sp = sub.add_parser(op, help=_ADMIN_HELP[op])
        for param in params:
            name = param.rstrip("?")
            kind = int if name.lstrip("-") in _INT_ARGS else str
            if name.startswith("--"):
                sp.add_argument(name, type=kind)
            else:
                sp.add_argument(name, nargs="?" if param.endswith("?") else None, type=kind)
        sp.add_argument("--non-tradable", action="store_true", help=argparse.SUPPRESS) if op in ("credit", "debit") \
            else None
    p.set_defaults(handler=handler(_admin))


def _event_line(e: dict, symbols: list) -> str:
    """One admin reply event as a line: ``seq 42  CANCELLED  order 17, account 1, SCEA2026, 10 t: OPERATOR``."""
    parts = []
    if e.get("order_id"):
        parts.append(f"order {e['order_id']}")
    if e.get("account", -1) >= 0 and e["kind"] not in ("INSTRUMENT_STATUS", "INSTRUMENT_PARAMETER", "BLOCK_WINDOW") \
            and not (e["kind"] == "REJECTED" and e["account"] == 0):
        parts.append(f"account {e['account']}")
    n = e.get("instrument", -1)
    # -1: cash or every instrument; an account's status and STP events carry 0
    if n >= 0 and (e["kind"] != "ACCOUNT_UPDATED" or e.get("qty")):
        parts.append(symbols[n] if n < len(symbols) else f"instrument {n}")
    if e["kind"] == "FINED":
        parts.append(f"fine {e.get('value', 0):,} fen ({e.get('reason', '')}, case {e.get('case', 0)}): paid "
                     f"{e.get('paid', 0):,}, owed {e.get('owed', 0):,}")
        return f"seq {e['seq']}  {e['kind']}  " + ", ".join(parts)
    if e["kind"] == "SURRENDERED":
        against = e.get("against", 0)
        parts.append(f"against {symbols[against] if 0 <= against < len(symbols) else against}, obligation left "
                     f"{e.get('obligation_left', 0):,} t")
    elif e.get("parameter"):
        parts.append(f"{e['parameter']} = {e.get('value', 0)}")
    elif e.get("trade_type"):
        parts.append(f"{e['trade_type'].lower()} fee rebate {e.get('value', 0)} bps")
    elif e.get("value"):
        parts.append(f"value {e['value']:,}")
    if e.get("qty"):
        parts.append(f"{e['qty']:,} t")
    text = f"seq {e['seq']}  {e['kind']}  " + ", ".join(parts)
    return text + (f": {e['reason']}" if e.get("reason") else "")


def _admin(args) -> int:
    from exchange.admin import AdminClient, AdminError
    endpoint, server_key, public, secret, info = _connection(args, "admin")
    request = {}
    for param in _ADMIN_ARGS[args.op]:
        name = param.rstrip("?").lstrip("-").replace("-", "_")
        value = getattr(args, name)
        if value is not None and name != "expect_digest":          # checked here, not by the daemon
            request[name] = value
    if getattr(args, "non_tradable", False):
        request["non_tradable"] = True
    try:
        with AdminClient(endpoint, server_key, public, secret, timeout_ms=int(args.timeout * 1000)) as admin:
            reply = admin.request(args.op.replace("-", "_"), **request)
    except AdminError as exc:
        raise CliError(str(exc)) from None
    rejected = [e for e in reply.get("events", []) if e["kind"] == "REJECTED"]
    if args.json:
        print(json.dumps({k: v for k, v in reply.items() if k not in ("ok", "id")}, indent=2, sort_keys=True))
    elif args.op == "status":
        _print_status(reply["status"])
    elif args.op == "account":
        _print_account(reply["account"])
    elif args.op == "fines":
        fines = reply["fines"]
        print(f"fines collected: {fines['collected']:,} fen")
        for r in fines["owed"]:
            print(f"  account {r['account']} (member {r['member']}) owes {r['owed']:,} fen")
    elif args.op == "compliance":
        rows = reply["compliance"]
        print(f"{'account':>8}  {'member':>6}  {'instrument':<12}{'left':>12}{'surrendered':>13}{'of it CERs':>12}"
              f"{'CER room':>10}")
        for r in rows:
            print(f"{r['account']:>8}  {r['member']:>6}  {r['instrument']:<12}{r['obligation_left']:>12,}"
                  f"{r['surrendered']:>13,}{r['cer_surrendered']:>12,}{r['cer_room']:>10,}")
        if not rows:
            print("no obligations")
    elif args.op == "book":
        book = reply["book"]
        for name, sides in (("book", book), ("listings", book["listings"])):
            print(f"{args.instrument} {name}: {'bid orders':>10} {'bid t':>10} {'bid':>9} | {'ask':<9} {'ask t':>10} "
                  f"{'ask orders':>10}")
            for i in range(max(len(sides["bids"]), len(sides["asks"]))):
                b = sides["bids"][i] if i < len(sides["bids"]) else None
                a = sides["asks"][i] if i < len(sides["asks"]) else None
                print(" " * (len(args.instrument) + len(name) + 3)
                      + (f"{b[2]:>10,} {b[1]:>10,} {b[0] / 100:>9.2f}" if b else " " * 31) + " | "
                      + (f"{a[0] / 100:<9.2f} {a[1]:>10,} {a[2]:>10,}" if a else ""))
    elif args.op in ("snapshot", "shutdown"):
        print(f"{args.op}: ok" + (f"; snapshot {reply['snapshot']}" if reply.get("snapshot") else ""))
    else:
        symbols = info.get("instruments", []) if isinstance(info, dict) else []
        for e in reply.get("events", []):
            print(_event_line(e, symbols))
        if not reply.get("events"):
            print(f"{args.op}: ok, nothing to do")
    if rejected:
        raise CliError(f"{args.op}: rejected: {rejected[0]['reason']}")
    expected = getattr(args, "expect_digest", None)
    if expected is not None and reply["status"]["state_digest"] != expected:
        raise CliError(f"state digest {reply['status']['state_digest']} is not the expected {expected}")
    return 0


def _print_account(view: dict) -> None:
    from rich import box
    from rich.console import Console
    from rich.table import Table

    from matching import AccountStatus, Region, Sector
    out = Console()
    out.print(f"account {view['account']}: member {view['member']}, {Region(view['region']).name}, "
              f"{Sector(view['sector']).name}, {AccountStatus(view['status']).name}; cash available "
              f"{view['cash_available'] / 100:,.2f} CNY, frozen {view['cash_frozen'] / 100:,.2f} CNY",
              highlight=False)
    # the columns with something in them (available always): readable in 80 columns
    columns = [c for c in ("available", "frozen", "locked", "non_tradable", "buying", "floor", "limit", "obligation")
               if c == "available" or any(h[c] for h in view["holdings"].values())]
    t = Table(title="holdings (t)", title_justify="left", box=box.SIMPLE)
    t.add_column("instrument", no_wrap=True)
    for col in columns:
        t.add_column(col.replace("_", "-"), justify="right", no_wrap=True)
    for symbol, h in view["holdings"].items():
        t.add_row(symbol, *(f"{h[c]:,}" for c in columns))
    out.print(t)


def _print_status(st: dict) -> None:
    from rich.console import Console
    from rich.table import Table
    out = Console()
    out.print(f"pid {st['pid']}, up {st['uptime_s']:.0f} s, next seq {st['next_seq']:,}, "
              f"{st['resting_orders']:,} resting orders, durability {st['durability']}", highlight=False)
    t = Table(title="sessions", title_justify="left")
    for col in ("id", "name", "logged in", "report seq", "queued", "delivered", "dropped"):
        t.add_column(col)
    for s in st["sessions"]:
        t.add_row(str(s["id"]), s["name"], "yes" if s["logged_in"] else "no", f"{s['report_seq']:,}",
                  str(s["queued_frames"]), f"{s['delivered']:,}", f"{s['dropped']:,}")
    out.print(t)
    out.print("instruments: " + ", ".join(f"{i['symbol']} {i['status']}" for i in st["instruments"]),
              highlight=False)
    out.print("counters: " + ", ".join(f"{k} {v:,}" for k, v in st["counters"].items()), highlight=False)
    out.print(f"state digest {st['state_digest']} at seq {st['last_seq']:,}", highlight=False)
    j = st.get("journal", {})
    if "records" in j:
        out.print(f"journal: {j['mode']}, last seq {j['last_seq']:,}, {j['records']:,} records, {j['commands']:,} "
                  f"commands, {j['bytes']:,} bytes, {j['fsyncs']:,} fsyncs (mean {j['fsync_mean_us']} us), "
                  f"{j['segments_opened']} segments opened", highlight=False)
    rec = st.get("recovery", {})
    out.print(f"recovery: snapshot {rec.get('snapshot') or 'none'}, {rec.get('replayed_records', 0):,} journal records "
              f"({rec.get('replayed_commands', 0):,} commands) replayed"
              + (f"; torn tail truncated: {rec['torn_tail']}" if rec.get("torn_tail") else "")
              + (f"; JOURNAL LOSS ACCEPTED: {rec['journal_loss']}" if rec.get("journal_loss") else ""),
              highlight=False)
    storage = st.get("storage")
    if storage:
        out.print("storage: " + ", ".join(f"{k} {v}" for k, v in storage.items()), highlight=False)
    snaps = st.get("snapshots")
    if snaps:
        out.print(f"snapshots: newest at seq {snaps['last_seq']:,}; kept {', '.join(snaps['kept']) or 'none'}",
                  highlight=False)
    rep = st.get("replication", {})
    if rep.get("mode") == "jetstream":
        epoch = f" (epoch {rep['epoch']})" if rep.get("epoch") else ""
        out.print(f"replication: node {rep['node']} {rep['role'].upper()}, lease holder {rep['lease_holder'] or 'none'}"
                  f"{epoch}, stream {rep['stream']} at message {rep['stream_seq']:,}, NATS "
                  f"{'connected' if rep['connected'] else 'DISCONNECTED'}, lease TTL {rep['lease_ttl_ms']} ms",
                  highlight=False)
        for name, n in rep.get("nodes", {}).items():
            out.print(f"  node {name}: {n['role']}, stream message {n['stream_seq']:,}, seq {n['seq']:,}, lag "
                      f"{n['lag_messages']:,} messages ({n['lag_commands']:,} commands), snapshot at seq "
                      f"{n['snapshot_seq']:,}", highlight=False)
    sched = st.get("schedule", {})
    if sched.get("enabled"):
        out.print("schedule: " + ", ".join(f"{k} {v}" for k, v in sched.items() if k != "enabled"
                                            and not isinstance(v, (list, dict))), highlight=False)
    else:
        out.print("schedule: off", highlight=False)


# ------------------------------------------------------------------ order
def _add_order(commands) -> None:
    p = commands.add_parser(
        "order", help="enter an order by hand",
        description="Log in as a session, send one order message, print the reports that come back "
                    "within --wait seconds, log out. Prices in fen per tonne, quantities in tonnes. "
                    "Exit status 1 when the message is rejected. A session configured with "
                    "cancel_on_disconnect = true cancels its resting orders at that logout. With "
                    "several nodes (high availability), repeat --state-dir or --endpoint once per node: "
                    "the login goes to each in turn until the primary answers.")
    _add_connection_args(p, "sc-platform", several=True)
    p.add_argument("--session", type=int, required=True, help="the configured session id")
    p.add_argument("--wait", type=float, default=1.0, metavar="S", help="seconds to collect reports (default 1)")
    p.add_argument("--id-only", action="store_true",
                   help="print only the order id the daemon gave the order (for scripts: "
                        "LISTING=$(chuanyu order --id-only ... list ...))")
    sub = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    for side in ("buy", "sell"):
        sp = sub.add_parser(side, help=f"a new {side} order")
        sp.add_argument("instrument", help="symbol or index")
        sp.add_argument("qty", type=int)
        sp.add_argument("price", type=int, nargs="?", default=0, help="limit price in fen (omit with --market)")
        sp.add_argument("--account", type=int, required=True)
        sp.add_argument("--tif", default="GTC", choices=("GTC", "DAY", "IOC", "FOK"))
        sp.add_argument("--market", action="store_true", help="a market order (IOC unless --tif FOK)")
        sp.add_argument("--client-order-id", type=int, help="default: the session's next")
    sp = sub.add_parser("cancel", help="cancel an order")
    sp.add_argument("order_id", type=int)
    sp.add_argument("--account", type=int, required=True)
    sp = sub.add_parser("reduce", help="reduce an order's remaining quantity")
    sp.add_argument("order_id", type=int)
    sp.add_argument("qty", type=int)
    sp.add_argument("--account", type=int, required=True)
    sp = sub.add_parser("replace", help="change an order's price and quantity")
    sp.add_argument("order_id", type=int)
    sp.add_argument("price", type=int)
    sp.add_argument("qty", type=int)
    sp.add_argument("--account", type=int, required=True)
    for kind, what in (("list", "post a fixed-price listing"), ("quote", "quote a block trade")):
        sp = sub.add_parser(kind, help=what)
        sp.add_argument("side", type=str.upper, choices=("BUY", "SELL"))
        sp.add_argument("instrument", help="symbol or index")
        sp.add_argument("qty", type=int)
        sp.add_argument("price", type=int, help="fen per tonne")
        sp.add_argument("--account", type=int, required=True)
        if kind == "list":
            sp.add_argument("--min-qty", type=int, required=True, help="the smallest take allowed")
        else:
            sp.add_argument("--to", type=int, default=-1, metavar="ACCOUNT",
                            help="the one account the quote is for (default: any)")
            sp.add_argument("--partial", action="store_true", help="allow partial acceptance")
    for kind, what in (("take", "take a fixed-price listing"), ("accept", "accept a block quote")):
        sp = sub.add_parser(kind, help=what)
        sp.add_argument("order_id", type=int, help="the listing's or quote's order id")
        sp.add_argument("qty", type=int)
        sp.add_argument("--account", type=int, required=True)
    sp = sub.add_parser("bid", help="a sealed bid in an auction")
    sp.add_argument("auction_id", type=int)
    sp.add_argument("qty", type=int)
    sp.add_argument("price", type=int, help="fen per tonne")
    sp.add_argument("--account", type=int, required=True)
    p.set_defaults(handler=handler(_order))


def _order(args) -> int:
    from gateway.client import Client, SessionError
    from matching import OrderType, Side, TimeInForce
    endpoints, server_key, public, secret, info = _connections(args, "orders")
    client = Client(endpoints, server_key, public, secret, session=args.session)
    try:
        try:
            client.login(int(args.timeout * 1000))
        except SessionError as exc:
            raise CliError(str(exc)) from None
        if args.action in ("buy", "sell", "list", "quote"):
            symbols = info.get("instruments", [])
            ins = symbols.index(args.instrument) if args.instrument in symbols else None
            if ins is None:
                if not args.instrument.isdigit():
                    raise CliError(f"unknown instrument {args.instrument!r}"
                                     + (f" (known: {', '.join(symbols)})" if symbols else ""), 2)
                ins = int(args.instrument)
        if args.action == "list":
            client.list_fixed(ins, args.account, Side[args.side], args.qty, args.price, args.min_qty)
        elif args.action == "quote":
            client.block_quote(ins, args.account, Side[args.side], args.qty, args.price, args.to, args.partial)
        elif args.action == "take":
            client.take_fixed(args.order_id, args.account, args.qty)
        elif args.action == "accept":
            client.block_accept(args.order_id, args.account, args.qty)
        elif args.action == "bid":
            client.auction_bid(args.auction_id, args.account, args.qty, args.price)
        elif args.action in ("buy", "sell"):
            tif = TimeInForce[args.tif]
            if args.market and tif not in (TimeInForce.IOC, TimeInForce.FOK):
                tif = TimeInForce.IOC
            client.submit(ins, args.account, Side.BUY if args.action == "buy" else Side.SELL, args.qty,
                          0 if args.market else args.price, OrderType.MARKET if args.market else OrderType.LIMIT,
                          tif, client_order_id=args.client_order_id)
        elif args.action == "cancel":
            client.cancel(args.order_id, args.account)
        elif args.action == "reduce":
            client.reduce(args.order_id, args.account, args.qty)
        else:
            client.replace(args.order_id, args.account, args.price, args.qty)
        import time

        from gateway.protocol import MsgType
        deadline = time.monotonic() + args.wait
        seen = []
        while time.monotonic() < deadline:
            seen += [r for r in client.reports(int(max(1, (deadline - time.monotonic()) * 1000)))
                     if MsgType.ACK <= r.msg_type <= MsgType.REPLACED]
        client.logout()
    finally:
        client.close()
    rejects = [r for r in seen if r.msg_type == MsgType.REJECT]
    if args.id_only:
        acks = [r for r in seen if r.msg_type == MsgType.ACK]
        if acks:
            print(acks[0].order_id)
    else:
        for r in seen:
            print(_describe(r))
        if not seen:
            print("no reports")
    if rejects:
        raise CliError(f"rejected: {rejects[0].reason_name} ({rejects[0].reason})")
    if not seen:
        raise CliError(f"no answer within --wait {args.wait} s")
    return 0


def _describe(r) -> str:
    parts = [f"{r.type_name:<9}", f"order {r.order_id}", f"coid {r.client_order_id}", f"account {r.account}",
             f"instrument {r.instrument}"]
    if r.msg_type == 34:
        parts.append(f"reason {r.reason_name} ({r.reason})")
    if r.price:
        parts.append(f"price {r.price}")
    if r.qty:
        parts.append(f"qty {r.qty}")
    parts.append(f"leaves {r.leaves}")
    if r.msg_type == 35:
        parts += [f"trade {r.trade_id}", f"fee {r.fee}"]
    return "  ".join(parts)


# ------------------------------------------------------------------ replay, journal
def _add_replay(commands) -> None:
    p = commands.add_parser(
        "replay", help="rebuild the engine state offline from snapshot + journal",
        description="Restore the newest valid snapshot in STATE_DIR, verify every journal record "
                    "(length, CRC, sequence) and replay the later ones; print the state digest and "
                    "a summary. Without a usable snapshot the replay starts from a fresh engine of "
                    "the market configuration (--config; default: the embedded demo market, as "
                    "`chuanyu engine`). Damage other than a torn tail: exit status 1, naming the "
                    "segment file and byte offset.")
    p.add_argument("state_dir", metavar="STATE_DIR")
    p.add_argument("--until", type=int, metavar="SEQ", help="stop after this command sequence number")
    p.add_argument("--config", metavar="FILE", help="market configuration (TOML), used without a snapshot")
    p.add_argument("--expect", metavar="DIGEST",
                   help="exit 1 unless the replayed state's digest is this one (e.g. a running daemon's, "
                        "from `chuanyu admin status`)")
    p.set_defaults(handler=handler(_replay))


def _replay(args) -> int:
    from exchange.journal import JournalError
    from exchange.recovery import ReplayError, engine_for_config, replay
    from exchange.statelock import StateLock, StateLocked

    if not Path(args.state_dir).is_dir():
        raise CliError(f"{args.state_dir}: no such directory")
    if args.until is not None and args.until < 0:
        raise CliError("--until must be >= 0", 2)
    try:
        # a running daemon appends as we read: its next record would look like a torn tail
        with StateLock(args.state_dir, "chuanyu replay"):
            result = replay(args.state_dir, args.until,
                            new_engine=lambda: engine_for_config(_load_config(args.config)))
    except (JournalError, ReplayError, StateLocked) as exc:
        raise CliError(str(exc)) from None
    except OSError as exc:
        raise CliError(f"{exc.filename or args.state_dir}: {exc.strerror or exc}") from None
    start = f"snapshot {result.snapshot.name}" if result.snapshot else "a fresh engine (no snapshot)"
    print(f"state digest {result.engine.state_digest()}")
    print(f"replayed {result.commands:,} commands in {result.records:,} records onto {start}: "
          f"{result.trades:,} trades; last sequence {result.last_seq}; CRC verified")
    if result.torn is not None:
        print(f"torn tail not replayed: {result.torn}")
    if args.expect is not None and args.expect != result.engine.state_digest():
        raise CliError(f"state digest {result.engine.state_digest()} is not the expected {args.expect}")
    return 0


def _add_journal(commands) -> None:
    p = commands.add_parser("journal", help="inspect the command journal",
                            description="Inspect the command journal's segment files.")
    sub = p.add_subparsers(dest="journal_command", metavar="ACTION", required=True)
    dump = sub.add_parser("dump", help="print journal records for audit",
                          description="Print one line per journal record (segment, byte offset, "
                                      "sequence range, receive time, CRC), verifying each; with "
                                      "--verbose also one line per command.")
    dump.add_argument("dir", metavar="DIR", help="the directory holding journal-*.seg (the state dir)")
    dump.add_argument("--after", type=int, default=0, metavar="SEQ", help="only commands after this sequence")
    dump.add_argument("--limit", type=int, metavar="N", help="print at most N records")
    dump.add_argument("--verbose", "-v", action="store_true", help="one line per command too")
    dump.set_defaults(handler=handler(_journal_dump))


_DUMP_FIELDS = ("session", "account", "instrument", "side", "order_type", "tif", "price", "qty", "order_id",
                "client_order_id", "value")


def _journal_dump(args) -> int:
    from exchange.journal import JournalError, TornTail, read_records
    from matching import CommandType

    if not Path(args.dir).is_dir():
        raise CliError(f"{args.dir}: no such directory")
    if args.limit is not None and args.limit < 0:
        raise CliError("--limit must be >= 0", 2)
    shown = 0
    try:
        for rec in read_records(args.dir, after_seq=args.after):
            if args.limit is not None and shown >= args.limit:
                break
            h, rows = rec.header, rec.rows
            print(f"{rec.path.name}@{rec.offset}  seq {int(rows['seq'][0])}..{int(rows['seq'][-1])}  "
                  f"commands {len(rows)}  ts {h.ts}  bytes {h.length}  crc {h.crc:08x}")
            if args.verbose:
                for row in rows:
                    kind = int(row["type"])
                    name = CommandType(kind).name if kind in CommandType._value2member_map_ else str(kind)
                    fields = "  ".join(f"{f} {int(row[f])}" for f in _DUMP_FIELDS if int(row[f]))
                    print(f"    {int(row['seq'])}  {name}  {fields}".rstrip())
            shown += 1
    except TornTail as exc:
        print(f"torn tail: {exc}")
    except JournalError as exc:
        raise CliError(str(exc)) from None
    except OSError as exc:
        raise CliError(f"{exc.filename or args.dir}: {exc.strerror or exc}") from None
    return 0


# ------------------------------------------------------------------ bench gateway
def add_bench_gateway(targets) -> None:
    """Add ``bench gateway`` under ``chuanyu bench``."""
    p = targets.add_parser(
        "gateway", help="end-to-end gateway load: orders/s and round-trip latency",
        description="Start a real daemon on loopback, drive it from N client processes and measure "
                    "orders/s and submit->ack latency, next to a bare pyzmq DEALER->ROUTER loop and "
                    "a bare echo measured in the same run. Without --batch/--rate it runs the three "
                    "target scenarios: one order per frame flat out, batched frames flat out, and "
                    "one order per frame at 20,000 orders/s.")
    p.add_argument("--json", metavar="FILE", help="also write the results as JSON to FILE ('-' for stdout)")
    p.add_argument("--html", metavar="FILE", help="also write a page with the latency distributions as charts")
    p.add_argument("--clients", type=int, default=2, metavar="N", help="client processes (default 2)")
    p.add_argument("--batch", type=int, metavar="B", help="orders per frame (one scenario only)")
    p.add_argument("--rate", type=float, metavar="R", help="open-loop target orders/s over all clients "
                                                          "(default flat out; one scenario only)")
    p.add_argument("--duration", type=float, default=3.0, metavar="S", help="seconds per measurement (default 3)")
    p.add_argument("--quick", action="store_true", help="1-second measurements")
    p.add_argument("--durability", action="append", choices=("none", "interval", "fsync"), metavar="MODE",
                   help="journal durability of the batched run (repeat for several; default none, interval "
                        "and fsync: the fsync/none throughput ratio is a target)")
    p.add_argument("--replication", choices=("none", "jetstream"), default="none",
                   help="jetstream: run the batched scenario once more on a replicated primary (a local "
                        "3-server NATS JetStream cluster; target >= 50%% of the single-node fsync run)")
    p.add_argument("--no-baselines", dest="baselines", action="store_false",
                   help="skip the bare pyzmq loops (no ratio against them)")
    p.add_argument("--rounds", type=int, metavar="N",
                   help="times the paced scenario and the bare echo alternate; percentiles are over all "
                        "rounds' samples (default 3)")
    add_no_fail(p)
    p.set_defaults(handler=handler(_bench_gateway))


def _bench_gateway(args) -> int:
    from bench import gateway_bench
    check_json_target(args.json)
    if args.clients < 1 or args.clients > 64:
        raise CliError("--clients must be 1..64", 2)
    if args.batch is not None and not 1 <= args.batch <= 4096:
        raise CliError("--batch must be 1..4096", 2)
    rounds = gateway_bench.LATENCY_ROUNDS if args.rounds is None else args.rounds
    if not 1 <= rounds <= 20:
        raise CliError("--rounds must be 1..20", 2)
    duration = 1.0 if args.quick else args.duration
    run = begin_bench(args.argv)
    results = gateway_bench.run(clients=args.clients, batch=args.batch, rate=args.rate, duration=duration,
                                log=lambda m: print(m, file=sys.stderr),
                                durability=args.durability or gateway_bench.DURABILITY_MODES,
                                baselines=args.baselines, rounds=rounds, replication=args.replication)
    results["run"] = run.finish()
    _report(args.json, gateway_bench.table(results), results)
    write_bench_page(args.html, results, "chuanyu bench gateway")
    return bench_status(results["targets"], args.no_fail)


# ------------------------------------------------------------------ bench recovery
def add_bench_recovery(targets) -> None:
    """Add ``bench recovery`` under ``chuanyu bench``."""
    p = targets.add_parser(
        "recovery", help="journal verify and replay speed (recovery time)",
        description="Write a journal of an engine benchmark workload exactly as the daemon does, then "
                    "time verifying it (CRC and sequence) and replaying it onto a fresh engine with the "
                    "code of `chuanyu replay`; the replayed state digest must equal direct processing. "
                    "Target: replay >= 2,000,000 commands/s.")
    p.add_argument("--json", metavar="FILE", help="also write the results as JSON to FILE ('-' for stdout)")
    p.add_argument("--quick", action="store_true", help="100,000 commands instead of 1,000,000")
    p.add_argument("--batch", type=int, default=1024, metavar="B", help="commands per journal record (default 1024)")
    add_no_fail(p)
    p.set_defaults(handler=handler(_bench_recovery))


def _bench_recovery(args) -> int:
    from bench import recovery_bench
    check_json_target(args.json)
    if not 1 <= args.batch <= 1_000_000:
        raise CliError("--batch must be 1..1000000", 2)
    run = begin_bench(args.argv)
    results = recovery_bench.run(quick=args.quick, batch=args.batch, log=lambda m: print(m, file=sys.stderr))
    results["run"] = run.finish()
    _report(args.json, recovery_bench.table(results), results)
    return bench_status(results["targets"], args.no_fail)


def _report(target: str | None, table: str, results: dict) -> None:
    """A benchmark's table (on stderr when the JSON goes to stdout), then its JSON to ``target``."""
    from bench.histograms import encoded_histograms, save_histograms
    print(table, file=sys.stderr if target == "-" else sys.stdout)
    try:
        write_json(target, results)
        saved = save_histograms(target, encoded_histograms(results))
    except CliError as exc:
        raise CliError(str(exc)) from None
    except OSError as exc:
        raise CliError(f"cannot write the latency histograms beside {target}: {exc}") from None
    if saved:
        print(f"latency histograms beside it: {', '.join(p.name for p in saved)}", file=sys.stderr)