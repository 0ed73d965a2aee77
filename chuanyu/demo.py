"""``chuanyu demo``: the whole system at work on one simulated trading day.

It starts the real daemon (``chuanyu engine``) as a subprocess on the embedded default market
(plus the demo's member firms, see :mod:`chuanyu.demo_plan`), logs in the Sichuan and
Chongqing platforms and the regulator over CURVE, subscribes to the public market-data feed,
and plays the day :func:`chuanyu.demo_plan.plan_day` generated from the seed: continuous
trading, fixed-price listings and takes, block deals, a CER auction and a primary allowance
auction, then the end of day. A live dashboard (or plain log lines with ``--headless``)
follows the day; the end-of-day report the daemon wrote and the market's vitality
indicators close it.

Determinism: every command comes from the plan, and each one is sent only after the one
before it was acknowledged (platforms and operator driven in turn from this one thread), so
the engine sees the same commands in the same order for the same seed, whatever the timing.
``--duration`` only paces the steps. Nothing the demo decides depends on what arrives when.

The figures at the end come from the daemon's own files and from the regulator's drop copy
of every execution report, read to the end (a logout's reply comes after every report
before it), so they are the same for the same seed too.
"""
from __future__ import annotations

import dataclasses
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

from .argtypes import number
from .clikit import CliError, handler

__all__ = ["register", "run_demo", "DemoError", "Tally"]

REPO = Path(__file__).resolve().parents[1]
ACK_TIMEOUT_S = 20.0            # generous: two busy cores, fsync per batch
START_TIMEOUT_S = 60.0


class DemoError(CliError):
    """A failure to report as one line (the daemon died, did not answer, ...)."""


# ------------------------------------------------------------------ the command line
def register(commands) -> None:
    """Add ``demo`` to the ``chuanyu`` subcommands."""
    p = commands.add_parser(
        "demo", help="run a simulated trading day on a live daemon",
        description="Start the engine daemon on the embedded demo market, let the Sichuan and Chongqing "
                    "platforms' member firms trade for a simulated day (continuous trading, fixed-price "
                    "listings, block deals, a CER auction and a primary allowance auction), watch it on a "
                    "live dashboard, and end with the end-of-day report and market-vitality indicators. "
                    "The same --seed gives the same day and the same report.")
    p.add_argument("--duration", type=number(float, 0, 86_400, above=True, what="a number of seconds"), default=30.0, metavar="S",
                   help="wall-clock seconds the simulated day is spread over (default 30; the day takes "
                        "longer if the machine cannot keep up)")
    p.add_argument("--seed", type=number(int, 0, 2**63 - 1, what="an integer"), default=1, metavar="N", help="the day's random seed (default 1)")
    p.add_argument("--headless", action="store_true", help="plain log lines instead of the live dashboard")
    p.add_argument("--state-dir", metavar="DIR",
                   help="where the daemon keeps its journal, keys and end-of-day files (must be empty or "
                        "not exist; default: a temporary folder removed at the end)")
    p.add_argument("--metrics-port", type=number(int, 1, 65535, what="a port number"), metavar="N",
                   help="passed to `chuanyu engine --metrics-port N`: Prometheus metrics during the demo")
    p.add_argument("--web-port", type=number(int, 1, 65535, what="a port number"), metavar="N",
                   help="also serve the web console at http://127.0.0.1:N/ (`chuanyu web`) during the demo")
    p.set_defaults(handler=handler(_run))


def _run(args) -> int:
    from . import demo_view
    keep = args.state_dir is not None
    if keep:
        state = Path(args.state_dir)
        if state.exists() and (not state.is_dir() or any(state.iterdir())):
            raise DemoError(f"--state-dir {state}: must be an empty folder or not exist "
                            "(the demo starts a fresh market)", 2)
        try:
            state.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise DemoError(f"--state-dir {state}: cannot create it: {exc.strerror or exc}", 2) from None
    else:
        state = Path(tempfile.mkdtemp(prefix="chuanyu-demo-"))
    view = demo_view.Headless() if args.headless else demo_view.Dashboard()
    # SIGTERM unwinds like Ctrl-C, so the daemon (in a session of its own, out of reach of
    # signals sent to the demo's process group) is still shut down on the way out. Both also
    # set a flag the demo's loop checks: a KeyboardInterrupt raised while a finaliser runs is
    # swallowed by Python, and Ctrl-C must not be lost that way.
    _INTERRUPTED.clear()
    previous = signal.signal(signal.SIGTERM, _interrupt)
    previous_int = signal.getsignal(signal.SIGINT)
    if previous_int is signal.default_int_handler:          # an ignored Ctrl-C stays ignored
        signal.signal(signal.SIGINT, _interrupt)
    try:
        return run_demo(state, args.seed, args.duration, view, metrics_port=args.metrics_port, keep=keep,
                        web_port=args.web_port)
    finally:
        signal.signal(signal.SIGTERM, previous)
        signal.signal(signal.SIGINT, previous_int)
        if not keep:
            shutil.rmtree(state, ignore_errors=True)


_INTERRUPTED = threading.Event()


def _interrupt(signum, frame) -> None:
    _INTERRUPTED.set()
    raise KeyboardInterrupt


def _check_interrupted() -> None:
    """Raise the KeyboardInterrupt of a Ctrl-C or SIGTERM that a finaliser swallowed."""
    if _INTERRUPTED.is_set():
        raise KeyboardInterrupt


# ------------------------------------------------------------------ the daemon
class _Daemon:
    """``chuanyu engine`` in a subprocess of its own session (a Ctrl-C reaches only the demo,
    which then shuts the daemon down gracefully)."""

    def __init__(self, state: Path, config: Path, metrics_port: int | None) -> None:
        self.state = state
        self.log_path = state / "engine.log"
        argv = [sys.executable, "-m", "chuanyu.cli", "engine", "--config", str(config), "--state-dir", str(state)]
        if metrics_port is not None:
            argv += ["--metrics-port", str(metrics_port)]
        env = dict(os.environ)
        # the daemon runs the same tree as the demo, installed or not
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), env.get("PYTHONPATH")) if p)
        self.log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(argv, stdout=self.log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                     env=env, start_new_session=True)

    def wait_ready(self) -> dict:
        endpoints = self.state / "endpoints.json"
        deadline = time.monotonic() + START_TIMEOUT_S
        while not endpoints.exists():
            self.check()
            if time.monotonic() > deadline:
                raise DemoError(f"the daemon did not start within {START_TIMEOUT_S:.0f} s{self.tail()}")
            time.sleep(0.05)          # polling a file the daemon writes; nothing to block on
        return json.loads(endpoints.read_text())

    def check(self) -> None:
        """DemoError if the daemon is gone."""
        code = self.proc.poll()
        if code is not None:
            raise DemoError(f"the daemon exited with status {code}{self.tail()}")

    def tail(self, lines: int = 12) -> str:
        try:
            self.log.flush()
            text = self.log_path.read_text(errors="replace").strip().splitlines()[-lines:]
        except OSError:
            return ""
        return ("; its last log lines:\n  " + "\n  ".join(text)) if text else ""

    def stop(self, admin=None) -> int:
        """Shut down gracefully (admin ``shutdown``, else SIGTERM); the exit status."""
        import zmq

        from exchange.admin import AdminError
        if self.proc.poll() is None and admin is not None:
            try:
                admin.request("shutdown")
            except (AdminError, zmq.ZMQError):      # no answer: SIGTERM below is graceful too
                pass
        for sig, wait in ((None, 20), (signal.SIGTERM, 15), (signal.SIGKILL, 5)):
            if sig is not None and self.proc.poll() is None:
                self.proc.send_signal(sig)
            try:
                self.proc.wait(wait)
                break
            except subprocess.TimeoutExpired:
                continue
        self.log.close()
        return self.proc.returncode


# ------------------------------------------------------------------ what happened
class Tally:
    """Executions as the regulator's drop copy reports them: both sides of every trade."""

    def __init__(self, symbols, kinds, region_of) -> None:
        self.symbols, self.kinds = symbols, kinds           # kinds: True for an allowance
        self.region_of = region_of
        self.half: dict[int, object] = {}                  # trade id -> the first side's report
        self.trades: list[dict] = []
        self.volume = Counter()                            # (instrument, trade type name) -> t
        self.cross = 0
        self.net_sc_to_cq = 0                              # allowances, t
        self.accounts: set[int] = set()
        self.acks = 0
        self.rejects = Counter()
        self.last_price: dict[int, int] = {}               # the last continuous trade's

    def add(self, report) -> dict | None:
        """Take one drop-copy report; return the trade once both of its sides are in."""
        from gateway.protocol import MsgType
        from matching import Side, TradeType
        if report.msg_type == MsgType.ACK:
            self.acks += 1
        elif report.msg_type == MsgType.REJECT:
            self.rejects[report.reason_name] += 1
        if report.msg_type != MsgType.FILL:
            return None
        other = self.half.pop(report.trade_id, None)
        if other is None:
            self.half[report.trade_id] = report
            return None
        buy, sell = (report, other) if report.side == Side.BUY else (other, report)
        n, qty = buy.instrument, buy.qty
        kind = TradeType(buy.trade_type).name
        b_region, s_region = self.region_of(buy.account), self.region_of(sell.account)
        trade = {"trade_id": buy.trade_id, "symbol": self.symbols[n], "instrument": n, "type": kind,
                 "price": buy.price, "qty": qty, "buyer": buy.account, "seller": sell.account,
                 "buyer_region": b_region, "seller_region": s_region}
        self.trades.append(trade)
        self.volume[(n, kind)] += qty
        self.accounts.update((buy.account, sell.account))
        if buy.trade_type == TradeType.CONTINUOUS:
            self.last_price[n] = buy.price
        if b_region != s_region:
            self.cross += qty
            if self.kinds[n]:
                self.net_sc_to_cq += qty if s_region == "SC" else -qty
        return trade


class _Market:
    """The sockets of the day: two platforms, the regulator, the operator, the feed."""

    def __init__(self, info: dict, daemon: _Daemon, tally: Tally, view) -> None:
        import zmq

        from feeds.client import FeedClient
        from exchange.admin import AdminClient
        from gateway.client import Client, load_keys
        self.zmq = zmq
        self.symbols = list(info["instruments"])
        self.daemon, self.tally, self.view = daemon, tally, view
        self.ctx = zmq.Context()
        keys, server = info["keys_dir"], info["server_public_key"]
        self.clients = {}
        for name, session in (("SC", 1), ("CQ", 2), ("regulator", 9)):
            key = {"SC": "sc-platform", "CQ": "cq-platform"}.get(name, name)
            public, secret = load_keys(keys, key)
            self.clients[name] = Client(info["orders"], server, public, secret, session, context=self.ctx)
        public, secret = load_keys(keys, "admin")
        self.admin = AdminClient(info["admin"], server, public, secret, timeout_ms=int(ACK_TIMEOUT_S * 1000),
                                 context=self.ctx)
        self.feed = None
        if info.get("feed"):
            self.feed = FeedClient(info["feed"], info["feed_snapshots"], info["instruments"], ctx=self.ctx,
                                   timeout_ms=int(ACK_TIMEOUT_S * 1000))

    def login(self) -> None:
        from gateway.client import SessionError
        for name, c in self.clients.items():
            try:
                c.login(timeout_ms=int(ACK_TIMEOUT_S * 1000))
            except SessionError as exc:
                self.daemon.check()
                raise DemoError(f"the {name} session could not log in: {exc}") from None
        if self.feed is not None:
            self.feed.start()

    def close(self) -> None:
        for c in self.clients.values():
            c.sock.close(linger=0)
        self.admin.close()             # its sockets only: the context is the demo's
        if self.feed is not None:
            self.feed.close()
        self.ctx.term()

    # .............................................................. receiving
    def _take(self, name: str, rows) -> list:
        from gateway.client import as_reports
        reports = as_reports(rows)
        if name == "regulator":
            for r in reports:
                trade = self.tally.add(r)
                if trade is not None:
                    self.view.trade(trade)
        return reports

    def pump(self, timeout_s: float, busy: str | None = None) -> None:
        """Take whatever arrived (reports, drop copies, market data), waiting up to ``timeout_s``
        for something; heartbeats go out as they fall due. ``busy``: a platform whose replies
        someone is waiting for (:meth:`wait_reply` reads those itself)."""
        poller = self.zmq.Poller()
        for name, c in self.clients.items():
            if name == busy:
                continue
            c.poll(0)                    # sends the heartbeat if one is due
            poller.register(c.sock, self.zmq.POLLIN)
        if self.feed is not None:
            poller.register(self.feed.sub, self.zmq.POLLIN)
        ready = dict(poller.poll(max(0, int(timeout_s * 1000))))
        for name, c in self.clients.items():
            if name != busy and c.sock in ready:
                while True:
                    rows = c.recv(0)
                    if rows is None:
                        break
                    self._take(name, rows)
        if self.feed is not None and self.feed.sub in ready:
            for msg in self.feed.poll(0):
                self.view.feed_message(msg, self.feed)
        self.view.refresh(self)

    def wait_reply(self, name: str, coid: int, cancels: int | None = None, replaces: int | None = None):
        """The ACK or REJECT of the message numbered ``coid`` on platform ``name``; with
        ``cancels`` (``replaces``), the CANCELLED (REPLACED) or REJECT of a cancel (replace) of
        that order id."""
        from gateway.protocol import MsgType
        c = self.clients[name]
        answers = (MsgType.REPLACED, MsgType.REJECT) if replaces is not None else (MsgType.CANCELLED, MsgType.REJECT)
        cancels = replaces if replaces is not None else cancels
        deadline = time.monotonic() + ACK_TIMEOUT_S
        while True:
            rows = c.recv(50)
            if rows is not None:
                for r in self._take(name, rows):
                    if cancels is None and r.client_order_id == coid and r.msg_type in (MsgType.ACK, MsgType.REJECT):
                        return r
                    if cancels is not None and r.order_id == cancels and r.msg_type in answers:
                        return r
                    if r.msg_type == MsgType.SERVER_LOGOUT:
                        raise DemoError(f"the daemon logged the {name} platform out ({r.reason_name})")
            else:
                # not pump(0) alone: it would take, and lose, the reply that has just arrived
                self.pump(0, busy=name)
                self.daemon.check()
                if time.monotonic() > deadline:
                    raise DemoError(f"no acknowledgement from the daemon within {ACK_TIMEOUT_S:.0f} s")

    def operator(self, op: str, **args) -> list:
        """An admin request; its events (the engine's answer)."""
        from exchange.admin import AdminError
        try:
            return self.admin.request(op, **args).get("events", [])
        except AdminError as exc:
            self.daemon.check()
            raise DemoError(f"the operator's {op} failed: {exc}") from None

    def drain_to_end(self, name: str) -> None:
        """Log ``name`` out and take every report sent before the server's logout reply."""
        from gateway.protocol import MsgType, encode
        c = self.clients[name]
        c.send_raw(encode(MsgType.LOGOUT))
        deadline = time.monotonic() + ACK_TIMEOUT_S
        while c.logged_out is None:
            rows = c.recv(100)
            if rows is not None:
                self._take(name, rows)
            elif time.monotonic() > deadline:
                self.daemon.check()
                raise DemoError(f"the daemon did not answer the {name} session's logout")


# ------------------------------------------------------------------ the day
def _execute(market: _Market, action, refs: dict, view) -> None:
    """Send one action of the plan and wait for the daemon's answer."""
    from matching import InstrumentStatus, Side, TimeInForce, commands
    k = action.kind
    if k in ("take", "accept", "bid", "cancel") and action.target not in refs:
        view.note(f"{k} skipped: {action.target} was never accepted")
        return
    if action.platform == "operator":
        symbol = market.symbols[action.instrument]
        if k == "phase":
            events = market.operator("phase", instrument=symbol, status=InstrumentStatus(action.qty).name)
        elif k == "block_window":
            events = market.operator("block_window", instrument=symbol, open=bool(action.qty))
        elif k == "auction_open":
            min_bid, cap, flags, cancel_bps, seed = action.extra
            rules = ["primary"] if flags & commands.FLAG_PRIMARY else []
            events = market.operator("auction_open", instrument=symbol, account=action.account,
                                     side=Side(action.side).name, volume=action.qty, reserve=action.price,
                                     min_bid=min_bid, bidder_cap=cap, cancel_below_bps=cancel_bps, seed=seed,
                                     rules=rules)
            accepted = [e for e in events if e["kind"] == "ACCEPTED"]
            if accepted:
                refs[action.ref] = accepted[0]["order_id"]
        elif k == "auction_close":
            events = market.operator("auction_close", instrument=symbol)
        elif k == "end_of_day":
            events = market.operator("end_of_day")
        else:
            raise ValueError(f"unknown operator action {k!r}")
        for e in events:
            if e["kind"] == "REJECTED":
                view.note(f"operator {k} on {symbol} refused: {e.get('reason')}")
        view.operator(action, events)
        return
    c = market.clients[action.platform]
    if k == "order":
        coid = c.submit(action.instrument, action.account, action.side, action.qty, action.price,
                        tif=TimeInForce.DAY)
    elif k == "requote":
        action = dataclasses.replace(action, price=_quote_price(market, action))
        if action.ref in refs and _quoting(market, action):     # move the quote; place it anew once filled
            c.replace(refs[action.ref], action.account, action.price, action.qty)
            view.answer(action, market.wait_reply(action.platform, 0, replaces=refs[action.ref]))
            return
        coid = c.submit(action.instrument, action.account, action.side, action.qty, action.price,
                        tif=TimeInForce.DAY)
    elif k == "list":
        coid = c.list_fixed(action.instrument, action.account, action.side, action.qty, action.price,
                            action.min_qty)
    elif k == "take":
        coid = c.take_fixed(refs[action.target], action.account, action.qty)
    elif k == "cancel":
        if action.side and not _quoting(market, action):     # a market maker's quote, filled meanwhile
            view.note(f"{view.who(action.account)} has no {Side(action.side).name.lower()} quote left to cancel")
            return
        c.cancel(refs[action.target], action.account)
        view.answer(action, market.wait_reply(action.platform, 0, cancels=refs[action.target]))
        return
    elif k == "quote":
        coid = c.block_quote(action.instrument, action.account, action.side, action.qty, action.price,
                             contra_account=action.contra)
    elif k == "accept":
        coid = c.block_accept(refs[action.target], action.account, action.qty)
    elif k == "bid":
        coid = c.auction_bid(refs[action.target], action.account, action.qty, action.price)
    else:
        raise ValueError(f"unknown action {k!r}")
    reply = market.wait_reply(action.platform, coid)
    if reply.type_name == "ACK":
        if action.ref:
            refs[action.ref] = reply.order_id
    view.answer(action, reply)


def _quote_price(market: _Market, action) -> int:
    """The market maker's price on one side: ``action.extra[0]`` bps from the midpoint of the
    book as it is now (with one side alone, that side's price; an empty book, the reference),
    a tick further out, within the band. The daemon's state after the step's answered actions
    is the same in every run, so the prices are too."""
    from matching import Side

    from .demo_plan import REFERENCE, TICK, _band
    row = market.admin.request("status")["status"]["instruments"][action.instrument]
    sides = [p for p in (row["bid"], row["ask"]) if p is not None]
    mid = sum(sides) / len(sides) if sides else REFERENCE[action.instrument]
    tick, (low, high) = TICK[action.instrument], _band(action.instrument)
    if action.side == Side.BUY:
        target = int(mid * (10_000 - action.extra[0]) / 10_000 / tick) * tick
    else:
        target = -int(-mid * (10_000 + action.extra[0]) / 10_000 // tick) * tick
    return min(high, max(low, target))


def _quoting(market: _Market, action) -> bool:
    """Whether the market maker's quote on the action's side still rests: its only order on
    that side, so its account's open buying (units frozen for sells) says so."""
    from matching import Side
    holding = market.admin.request("account", account=action.account)["account"]["holdings"]
    held = holding[market.symbols[action.instrument]]
    return (held["buying"] if action.side == Side.BUY else held["frozen"]) > 0


def _end_interruptions(market: _Market, step: int, interrupted: dict, view) -> None:
    """End each volatility interruption INTERRUPTION_STEPS steps after the step that
    started it, as the daemon's schedule would (the demo runs without one). The daemon's
    state after a step's answered actions is the same in every run, so the ends are too."""
    from matching import InstrumentStatus

    from .demo_plan import INTERRUPTION_STEPS, OPENING_CALL_STEPS
    from .demo_view import price
    if step < OPENING_CALL_STEPS:
        return                          # the opening call: the plan ends it
    status = market.admin.request("status")["status"]["instruments"]
    for n, row in enumerate(status):
        if row["status"] != InstrumentStatus.CALL.name:
            interrupted.pop(n, None)
        elif n not in interrupted:
            interrupted[n] = step + INTERRUPTION_STEPS
        elif step >= interrupted[n]:
            del interrupted[n]
            events = market.operator("phase", instrument=market.symbols[n], status="TRADING")
            trades = [e for e in events if e["kind"] == "TRADE"]
            view.log(f"operator: {market.symbols[n]} volatility interruption ends"
                     + (f": uncrossed, {len(trades)} trades at {price(trades[0]['price'])}" if trades else ""))


_ROLES = {"buyer": "short of allowances", "seller": "surplus", "investor": "buys and sells", "cer": "CER supplier",
          "issuer": "issuer of reserve allowances", "maker": "designated market maker"}


def indicators(eod: dict, tally: Tally, config, plan) -> dict:
    """The market's vitality from the end-of-day report and the drop copy.

    - turnover rate: allowances traded between participants (continuous, fixed-price and
      block) over the allowances in circulation (allocated at the start of the day plus
      those the primary auction created);
    - trading activity: trades by type, accounts that traded, orders accepted and refused;
    - cross-regional share: volume whose buyer and seller are in different regions over
      all volume;
    - net allowance flow from Sichuan to Chongqing accounts (negative: the other way).
    """
    from matching import commands
    rows = eod["instruments"]
    allowance = {r["symbol"] for r in rows if r["kind"] == "ALLOWANCE"}
    types = ("continuous", "fixed", "block", "auction")
    volume = {t: sum(r[f"{t}_volume"] for r in rows) for t in types}
    total = sum(volume.values())
    secondary = sum(r[f"{t}_volume"] for r in rows if r["symbol"] in allowance for t in types[:3])
    allocated = sum(qty for a in config.accounts for sym, qty in a.holdings.items() if sym in allowance)
    primary_symbols = {config.instruments[a.instrument].symbol for s in plan for a in s.actions
                       if a.kind == "auction_open" and a.extra[2] & commands.FLAG_PRIMARY}
    created = sum(r["auction_volume"] for r in rows if r["symbol"] in primary_symbols)
    circulation = allocated + created
    cross = sum(r["cross_regional_volume"] for r in rows)
    trades = Counter(t["type"].lower() for t in tally.trades)
    return {
        "volume_by_type": volume,
        "volume_total": total,
        "trades_by_type": {t: trades.get(t, 0) for t in types},
        "trades": len(tally.trades),
        "turnover_rate": round(secondary / circulation, 6) if circulation else 0.0,
        "secondary_allowance_volume": secondary,
        "allowances_in_circulation": circulation,
        "allowances_allocated": allocated,
        "allowances_created_by_primary_auction": created,
        "active_accounts": len(tally.accounts),
        "accounts": len(config.accounts),
        "orders_accepted": tally.acks,
        "orders_refused": sum(tally.rejects.values()),
        "refusals": dict(sorted(tally.rejects.items())),
        "cross_regional_volume": cross,
        "cross_regional_share": round(cross / total, 6) if total else 0.0,
        "net_allowance_flow_sc_to_cq": sum(r["net_flow_sc_to_cq"] for r in rows if r["symbol"] in allowance),
    }


def run_demo(state: Path, seed: int, duration: float, view, metrics_port: int | None = None,
             keep: bool = True, web_port: int | None = None) -> int:
    """Play the demo day in ``state``; the exit status (0 when the day ran to its end)."""
    from exchange.config import ConfigError, parse_config

    from . import demo_plan
    try:
        text = demo_plan.market_toml()
        config = parse_config(text, source="<demo market>")
    except (ConfigError, ValueError, TypeError) as exc:
        raise DemoError(f"the demo market is not valid: {exc}") from None
    config_path = state / "demo-market.toml"
    config_path.write_text(text)
    plan = demo_plan.plan_day(seed)
    region_of = {a.id: a.region.name for a in config.accounts}
    names = {f.account: f.name for f in demo_plan.CAST}
    symbols = [i.symbol for i in config.instruments]
    allowance = [i.kind.name == "ALLOWANCE" for i in config.instruments]
    tally = Tally(symbols, allowance, lambda a: region_of.get(a, "?"))
    refs: dict[str, int] = {}           # what the plan calls a listing, quote or auction -> its engine id
    view.start(seed=seed, duration=duration, state=state, symbols=symbols, names=names, tally=tally,
               steps=len(plan), keep=keep, refs=refs, short_names=demo_plan.SHORT_NAMES)
    daemon = _Daemon(state, config_path, metrics_port)
    market = web = None
    try:
        info = daemon.wait_ready()
        view.log(f"daemon up (pid {daemon.proc.pid}): orders {info['orders']}, feed {info.get('feed')}"
                 + (f", metrics http://127.0.0.1:{metrics_port}/metrics" if metrics_port else ""))
        if web_port is not None:
            from .cli_gateway import start_web
            web = start_web(state, config_path, web_port, quiet=True)
            view.log(f"web console: http://127.0.0.1:{web_port}/")
        market = _Market(info, daemon, tally, view)
        market.login()
        view.log("Sichuan and Chongqing platforms, the regulator's drop copy and the public feed are connected")
        for region in ("SC", "CQ"):
            view.log(f"{region} firms: " + "; ".join(
                f"{f.name} ({f.sector.name.lower().replace('_', ' ')}, {_ROLES[f.role]})"
                for f in demo_plan.CAST if f.region.name == region))
        t0 = time.monotonic()
        interrupted: dict = {}          # instrument -> the step its volatility interruption ends
        for step in plan:
            due = t0 + duration * step.step / (len(plan) - 1)
            while True:
                _check_interrupted()
                left = due - time.monotonic()
                if left <= 0:
                    break
                market.pump(min(left, 0.1))
            view.step(step)
            for action in step.actions:
                _execute(market, action, refs, view)
            _end_interruptions(market, step.step, interrupted, view)
            market.pump(0)
            daemon.check()
            _check_interrupted()
        reports = sorted(state.glob("eod-*.json"))
        if not reports:
            raise DemoError(f"the daemon wrote no end-of-day report in {state}{daemon.tail()}")
        eod = json.loads(reports[-1].read_text())
        for name in ("regulator", "SC", "CQ"):
            market.drain_to_end(name)
        if tally.half:
            raise DemoError(f"the drop copy missed one side of {len(tally.half)} trades")
        code = daemon.stop(market.admin)
        if code != 0:
            raise DemoError(f"the daemon's shutdown ended with status {code}{daemon.tail()}")
        view.stop()
        summary = indicators(eod, tally, config, plan)
        (state / "demo-summary.json").write_text(json.dumps(summary, indent=2) + "\n")
        view.report(eod, reports[-1], summary)
        return 0
    finally:
        view.stop()
        if web is not None:
            web.terminate()
            web.wait(10)
        if daemon.proc.poll() is None or not daemon.log.closed:
            daemon.stop(market.admin if market is not None else None)
        if market is not None:
            market.close()
