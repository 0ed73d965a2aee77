"""``chuanyu feed``: a live terminal view of the market data feed, or the feed as JSON lines;
``chuanyu bench feeds``.

:func:`register` adds ``feed`` to the ``chuanyu`` subcommands and :func:`add_bench_feeds`
adds ``bench feeds`` under ``chuanyu bench``. :func:`render` is the view,
:func:`message_json` and :func:`snapshot_json` the JSON objects of ``--json``.
"""
from __future__ import annotations

import argparse
import os
import sys
import time

from .argtypes import number
from .cli_gateway import DEFAULT_STATE_DIR, _report, read_endpoints
from .clikit import CliError, add_no_fail, begin_bench, bench_status, check_json_target, handler

__all__ = ["register", "add_bench_feeds", "render", "message_json", "snapshot_json"]

JSON_HELP = """\
--json: one JSON object per line on stdout, written as the updates arrive.

First the state from the feed's snapshot: a line {"type": "snapshot", "seq", "epoch",
"symbols"}, then one line per book level, listing level, phase, best bid and offer, and
latest trade, auction result and daily statistics of each instrument, all with "snapshot":
true. Then every live update of the chosen instruments, "snapshot": false. After a gap the
client resynchronises and writes a new snapshot block: replace what you built with it.

Every update has "type", "symbol", "seq" (feed-wide, no gaps), "instrument_seq" (per
topic, no gaps), "ts_ns" (engine time, ns since 1970; null on snapshot levels),
"snapshot", and by type:
  trade        trade_id, trade_type (CONTINUOUS, FIXED, BLOCK, AUCTION), price_fen,
               qty_t, aggressor (BUY, SELL; null: the trade has none)
  depth        a continuous-book level: side (BUY, SELL), price_fen, qty_t (0: the
               level is gone), orders
  listing      a fixed-price listing level: side (SELL: listed for sale, BUY: to
               buy), price_fen, qty_t (0: none left at that price), listings
  bbo          bid_fen, bid_qty_t, ask_fen, ask_qty_t (null and 0: that side is empty)
  phase        phase (TRADING, PRE_OPEN, CLOSED, HALTED, CALL), block_window (true:
               open), cause (COMMAND; VOLATILITY: a volatility interruption's call);
               published when either changes: none for an instrument that never did
  indicative   in a call auction: price_fen and qty_t it would uncross at now (null
               and 0: it would not), surplus_t and surplus_side (BUY, SELL; null: none)
  order        taker-select instruments: a resting order's order_id (what a take names),
               side, price_fen (null: unchanged) and qty_t left (0: gone)
  auction      auction_id, outcome, clearing_price_fen, sold_t, bid_t, bids
  daily_stats  open_fen, high_fen, low_fen (null: no continuous or fixed-price trade),
               close_fen, previous_close_fen, volume_t, volume_t_by_type and
               amount_fen_by_type ({"continuous", "fixed", "block", "auction"})
Prices are in fen (0.01 CNY) per tonne, quantities in tonnes, amounts in fen.

examples:
  chuanyu feed --json | jq -c 'select(.type == "trade")'
  chuanyu feed --json --once SCEA2026          # the snapshot only
  chuanyu feed --json --count 100 --duration 60
"""


def register(commands) -> None:
    """Add ``feed`` to the ``chuanyu`` subcommands."""
    p = commands.add_parser(
        "feed", help="watch the market data feed: phases, books, listings, trades; or JSON lines",
        formatter_class=argparse.RawDescriptionHelpFormatter, epilog=JSON_HELP,
        description="Subscribe to a running daemon's public feed (catching up from a snapshot,\n"
                    "resynchronising on a gap) and show each instrument's phase, best levels and\n"
                    "fixed-price listings and the last trades, live; or, with --json, write every\n"
                    "update as a JSON line. With --once, --count or --duration it exits by itself\n"
                    "(for scripts). With several nodes (high availability), repeat --state-dir, or\n"
                    "--feed and --snapshots, once per node, in the same order: the client follows\n"
                    "the node that answers and moves on when its feed goes silent.")
    p.add_argument("symbols", nargs="*", metavar="SYMBOL", help="instruments to show (default: all)")
    p.add_argument("--state-dir", metavar="DIR", action="append",
                   help="the daemon's state dir: endpoints.json is read from it; repeat for each node "
                        f"(default: ./{DEFAULT_STATE_DIR})")
    p.add_argument("--feed", metavar="URL", action="append",
                   help="the PUB endpoint (default: from endpoints.json); repeat for each node")
    p.add_argument("--snapshots", metavar="URL", action="append",
                   help="the snapshot endpoint (default: from endpoints.json); repeat for each node, in "
                        "the order of --feed")
    p.add_argument("--json", action="store_true",
                   help="JSON lines on stdout instead of the view: the snapshot's state, then every update "
                        "(see below)")
    p.add_argument("--depth", type=int, default=5, metavar="N", help="levels per side in the view (default 5)")
    p.add_argument("--trades", type=int, default=10, metavar="N", help="last trades in the view (default 10)")
    p.add_argument("--once", action="store_true", help="print the view (--json: the snapshot's lines) and exit")
    p.add_argument("--count", type=number(int, 1, what="an integer"), metavar="N",
                   help="exit after N live messages of the chosen instruments (--json: N lines after the "
                        "snapshot's)")
    p.add_argument("--duration", type=number(float, 0, above=True, what="a number of seconds"), metavar="S", help="exit after S seconds")
    p.add_argument("--timeout", type=number(float, 0, above=True, what="a number of seconds"), default=5.0, metavar="S", help="seconds to wait for the snapshot")
    p.set_defaults(handler=handler(_feed))


def _endpoints(args) -> tuple[list[str], list[str], list | None]:
    """Each node's feed and snapshot endpoints (paired by index) and the instruments, from the
    options or the state dirs' endpoints.json files."""
    from pathlib import Path
    paths = [Path(d) / "endpoints.json" for d in args.state_dir or [DEFAULT_STATE_DIR]]
    infos = read_endpoints(paths)
    infos = [i for i in infos if i.get("feed") and i.get("feed_snapshots")]
    feed = args.feed or [i["feed"] for i in infos]
    snapshots = args.snapshots or [i["feed_snapshots"] for i in infos]
    if not (feed and snapshots):
        missing = " and ".join(str(path) for path in paths)
        raise CliError(f"no feed found: {missing} {'is' if len(paths) == 1 else 'are'} missing or the daemon "
                       "runs with feeds off (give --state-dir, or --feed and --snapshots)")
    if len(feed) != len(snapshots):
        raise CliError(f"{len(feed)} feed endpoints but {len(snapshots)} snapshot endpoints: give one of each "
                       "per node", 2)
    return feed, snapshots, infos[0].get("instruments") if infos else None


def _name(enum, value: int):
    """The enum member's name; the number itself from a newer daemon with values this one lacks."""
    try:
        return enum(int(value)).name
    except ValueError:
        return int(value)


def _phase(client, n: int) -> str:
    """Instrument ``n``'s phase from its latest STATUS message.

    The feed sends STATUS only when a phase or block window changes, and its snapshot holds
    the latest one sent: a daemon that never changed a phase (instruments start TRADING)
    has none to give."""
    from feeds.messages import FeedType
    from matching import InstrumentStatus
    row = client.latest.get((FeedType.STATUS, n))
    if row is None:
        return "phase not published yet"
    return f"{_name(InstrumentStatus, row['status'])}{'  block window open' if int(row['block_window']) else ''}"


def render(client, shown, depth: int = 5, trades: int = 10):
    """The view of ``client`` (a FeedClient) for the instrument indices ``shown``: a rich
    renderable with each instrument's phase, its ladder and its fixed-price listings, and the
    last trades."""
    from rich.console import Group
    from rich.table import Table

    from feeds.messages import FeedType
    from matching import Side, TradeType
    parts = []
    for n in shown:
        symbol = client.symbols[n]
        view = client.books[n].view(TradeType.CONTINUOUS, depth)
        t = Table(title=f"{symbol}  {_phase(client, n)}  (feed seq {client.seq:,})", title_justify="left",
                  expand=False)
        for col, just in (("bid orders", "right"), ("bid qty", "right"), ("bid", "right"),
                          ("ask", "right"), ("ask qty", "right"), ("ask orders", "right")):
            t.add_column(col, justify=just)
        for i in range(max(len(view.bids), len(view.asks), 1)):
            bid = view.bids[i] if i < len(view.bids) else None
            ask = view.asks[i] if i < len(view.asks) else None
            t.add_row(f"{bid[2]:,}" if bid else "", f"{bid[1]:,}" if bid else "", _yuan(bid[0]) if bid else "",
                      _yuan(ask[0]) if ask else "", f"{ask[1]:,}" if ask else "", f"{ask[2]:,}" if ask else "")
        listed = client.books[n].view(TradeType.FIXED, depth)
        if not (listed.bids or listed.asks):
            t.caption, t.caption_justify = "no fixed-price listings", "left"
        parts.append(t)
        if listed.bids or listed.asks:
            lt = Table(title=f"{symbol} fixed-price listings", title_justify="left", expand=False)
            for col in ("side", "price", "qty", "listings"):
                lt.add_column(col, justify="left" if col == "side" else "right")
            for side, levels in (("sell", listed.asks), ("buy", listed.bids)):
                for p, qty, count in levels:
                    lt.add_row(side, _yuan(p), f"{qty:,}", f"{count:,}")
            parts.append(lt)
    last = [r for r in client.trades if int(r["instrument"]) in set(shown)][-trades:]
    if not last:       # a late joiner knows each instrument's last trade from the snapshot
        last = [client.latest[(FeedType.TRADE, n)] for n in shown if (FeedType.TRADE, n) in client.latest]
    tt = Table(title="last trades", title_justify="left")
    for col in ("trade", "symbol", "type", "price", "qty", "aggressor"):
        tt.add_column(col, justify="left" if col in ("symbol", "type", "aggressor") else "right")
    for r in reversed(last):
        tt.add_row(f"{int(r['trade_id']):,}", client.symbols[int(r["instrument"])],
                   str(_name(TradeType, r["trade_type"])), _yuan(int(r["price"])), f"{int(r['qty']):,}",
                   str(_name(Side, r["side"])) if int(r["side"]) else "-")
    parts.append(tt)
    return Group(*parts)


def _yuan(fen: int) -> str:
    return f"{fen / 100:,.2f}"


# ------------------------------------------------------------------ JSON lines
def message_json(row, symbols, snapshot: bool = False) -> dict:
    """One FEED_DTYPE message as the JSON object ``--json`` writes (see :data:`JSON_HELP`)."""
    from feeds.messages import FeedType
    from matching import AuctionOutcome, InstrumentStatus, Side, StatusCause, TradeType
    kind = int(row["msg_type"])
    obj = {"type": None, "symbol": symbols[int(row["instrument"])], "seq": int(row["seq"]),
           "instrument_seq": int(row["instrument_seq"]), "ts_ns": int(row["ts"]), "snapshot": snapshot}
    if kind == FeedType.TRADE:
        obj.update(type="trade", trade_id=int(row["trade_id"]), trade_type=_name(TradeType, row["trade_type"]),
                   price_fen=int(row["price"]), qty_t=int(row["qty"]),
                   aggressor=_name(Side, row["side"]) if int(row["side"]) else None)
    elif kind == FeedType.DEPTH:
        listing = int(row["trade_type"]) == TradeType.FIXED
        obj.update(type="listing" if listing else "depth", side=_name(Side, row["side"]), price_fen=int(row["price"]),
                   qty_t=int(row["qty"]), **{"listings" if listing else "orders": int(row["count"])})
    elif kind == FeedType.BBO:
        bid, ask = int(row["bid_price"]), int(row["ask_price"])
        obj.update(type="bbo", bid_fen=bid or None, bid_qty_t=int(row["bid_qty"]), ask_fen=ask or None,
                   ask_qty_t=int(row["ask_qty"]))
    elif kind == FeedType.STATUS:
        obj.update(type="phase", phase=_name(InstrumentStatus, row["status"]), block_window=bool(row["block_window"]),
                   cause=_name(StatusCause, row["cause"]))
    elif kind == FeedType.INDICATIVE:
        side = int(row["side"])
        obj.update(type="indicative", price_fen=int(row["price"]) or None, qty_t=int(row["qty"]),
                   surplus_t=int(row["bid_qty"] if side == Side.BUY else row["ask_qty"]),
                   surplus_side=_name(Side, side) if side else None)
    elif kind == FeedType.ORDER:
        obj.update(type="order", order_id=int(row["trade_id"]), side=_name(Side, row["side"]),
                   price_fen=int(row["price"]) or None, qty_t=int(row["qty"]))
    elif kind == FeedType.AUCTION_RESULT:
        obj.update(type="auction", auction_id=int(row["trade_id"]), outcome=_name(AuctionOutcome, row["status"]),
                   clearing_price_fen=int(row["price"]), sold_t=int(row["qty"]), bid_t=int(row["previous"]),
                   bids=int(row["count"]))
    elif kind == FeedType.DAILY_STATS:
        types = [t.name.lower() for t in TradeType]
        obj.update(type="daily_stats", open_fen=int(row["open"]) or None, high_fen=int(row["high"]) or None,
                   low_fen=int(row["low"]) or None, close_fen=int(row["price"]),
                   previous_close_fen=int(row["previous"]), volume_t=int(row["qty"]),
                   volume_t_by_type=dict(zip(types, (int(v) for v in row["volume"]))),
                   amount_fen_by_type=dict(zip(types, (int(v) for v in row["amount"]))))
    else:
        obj.update(type=f"msg_type {kind}")      # a newer daemon's message: passed on, not dropped
    return obj


def snapshot_json(client, shown, since=()) -> list[dict]:
    """What ``client`` knows of the instruments ``shown`` right after a (re)synchronisation,
    as ``--json``'s snapshot block: its marker line, then per instrument its phase, book
    levels, listing levels, best bid and offer, and latest trade, auction result and daily
    statistics (and, in a call auction, its indicative uncrossing).

    ``since``: the live messages the client applied on top of the snapshot (those that came
    while it waited for it). The books and the latest phase and best bid and offer include
    them; the trades, auction results and daily statistics among them are not state but
    events, left for the caller to write as live lines."""
    from feeds.messages import FeedType, topic
    from matching import InstrumentStatus, Side, TradeType
    seq = max([client.seq, *(int(r["seq"]) for r in since)])
    lines = [{"type": "snapshot", "seq": seq, "epoch": client.epoch, "symbols": [client.symbols[n] for n in shown]}]
    for n in shown:
        symbol = client.symbols[n]
        latest = {kind: row for (kind, i), row in client.latest.items() if i == n}
        if FeedType.STATUS in latest:
            lines.append(message_json(latest[FeedType.STATUS], client.symbols, snapshot=True))
        depth_seq = client.topic_seq.get(topic(FeedType.DEPTH, symbol), 0)
        for book, kind, count in ((TradeType.CONTINUOUS, "depth", "orders"), (TradeType.FIXED, "listing", "listings")):
            view = client.books[n].view(book)
            for side, levels in ((Side.BUY, view.bids), (Side.SELL, view.asks)):
                for p, qty, orders in levels:
                    lines.append({"type": kind, "symbol": symbol, "seq": seq, "instrument_seq": depth_seq,
                                  "ts_ns": None, "snapshot": True, "side": side.name, "price_fen": int(p),
                                  "qty_t": int(qty), count: int(orders)})
        if FeedType.BBO in latest:
            lines.append(message_json(latest[FeedType.BBO], client.symbols, snapshot=True))
        in_call = FeedType.STATUS in latest and int(latest[FeedType.STATUS]["status"]) == InstrumentStatus.CALL
        if in_call and FeedType.INDICATIVE in latest:
            lines.append(message_json(latest[FeedType.INDICATIVE], client.symbols, snapshot=True))
        for kind in (FeedType.TRADE, FeedType.AUCTION_RESULT, FeedType.DAILY_STATS):
            row = latest.get(kind)
            if row is not None and int(row["seq"]) <= client.seq:     # later ones are the caller's live lines
                lines.append(message_json(row, client.symbols, snapshot=True))
    return lines


class _InFeedOrder:
    """Live messages put back in feed order before they are written.

    A batch goes out topic by topic, so one poll can bring a batch's frame for one topic and
    the next poll an earlier message of the same batch on another topic. ``seq`` numbers the
    whole feed without gaps and the client subscribes to all of it, so a message can be
    written once every one before it has been. Should one never come (it cannot without a
    gap, and a gap resynchronises), the wait ends after :attr:`STALL_S`."""

    STALL_S = 1.0

    def __init__(self) -> None:
        self.held: dict[int, object] = {}
        self.next = 1
        self.stalled_at: float | None = None

    def restart(self, seq: int) -> None:
        """After a snapshot at ``seq``: nothing before ``seq + 1`` is awaited."""
        self.held.clear()
        self.next, self.stalled_at = seq + 1, None

    def add(self, row, write: bool) -> None:
        """Hold ``row``; ``write`` False: it only takes its place in the numbering."""
        self.held[int(row["seq"])] = row if write else None

    def ready(self, everything: bool = False) -> list:
        """The messages whose predecessors are all in, in order (``everything``: all held)."""
        out = []
        while self.held:
            if self.next not in self.held:
                now = time.monotonic()
                if self.stalled_at is None:
                    self.stalled_at = now
                if not everything and now - self.stalled_at < self.STALL_S:
                    break
                self.next = min(self.held)
            self.stalled_at = None
            row = self.held.pop(self.next)
            self.next += 1
            if row is not None:
                out.append(row)
        return out


def _follow_json(client, pending: list, shown, args) -> int:
    """Write ``--json``'s lines until --once, --count or --duration says stop (or Ctrl-C).

    ``pending`` fills with every live message the client applies (its ``on_message``)."""
    import json

    from feeds.messages import FeedType
    events = (FeedType.TRADE, FeedType.AUCTION_RESULT, FeedType.DAILY_STATS)     # happenings, not state
    out = sys.stdout
    chosen = set(shown)
    order = _InFeedOrder()
    deadline = time.monotonic() + args.duration if args.duration else None
    written, synced = 0, 0
    try:
        while True:
            lines = []
            if client.resyncs != synced:               # the first snapshot, or one after a gap
                synced = client.resyncs
                lines += snapshot_json(client, shown, [r for r in pending if int(r["instrument"]) in chosen])
                order.restart(client.seq)
                for r in pending:                      # the state among them is in the snapshot's lines
                    order.add(r, int(r["instrument"]) in chosen and int(r["msg_type"]) in events)
            else:
                for r in pending:
                    order.add(r, int(r["instrument"]) in chosen)
            pending.clear()
            live = order.ready(everything=args.once)
            if args.count is not None:
                live = live[:args.count - written]
            lines += [message_json(r, client.symbols) for r in live]
            written += len(live)
            if lines:
                out.write("".join(json.dumps(obj, separators=(",", ":")) + "\n" for obj in lines))
                out.flush()
            if args.once or (args.count is not None and written >= args.count):
                return 0
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left <= 0:
                return 0
            client.poll(100 if left is None else max(1, min(100, int(left * 1000))))
    except KeyboardInterrupt:
        return 0
    except BrokenPipeError:
        # The reader is gone (`| head`): stop quietly, and point stdout at /dev/null so the
        # interpreter's last flush at exit does not fail on the closed pipe too.
        os.dup2(os.open(os.devnull, os.O_WRONLY), out.fileno())
        return 0


def _feed(args) -> int:
    import numpy as np
    import zmq
    from rich.console import Console
    from rich.live import Live

    from feeds.client import FeedClient, FeedError
    if args.depth < 1 or args.trades < 0:
        raise CliError("--depth must be >= 1 and --trades >= 0", 2)
    feed, snapshots, symbols = _endpoints(args)
    ctx = zmq.Context()
    pending: list = []
    client = FeedClient(feed, snapshots, symbols, ctx=ctx, timeout_ms=int(args.timeout * 1000),
                        on_message=pending.append if args.json else None)
    try:
        try:
            client.start()
        except FeedError as exc:
            raise CliError(f"feed {', '.join(snapshots)}: {exc}") from None
        unknown = [s for s in args.symbols if s not in client.symbols]
        if unknown:
            raise CliError(f"unknown instrument {unknown[0]!r} (known: {', '.join(client.symbols)})", 2)
        shown = [client.symbols.index(s) for s in args.symbols] or list(range(len(client.symbols)))
        if args.json:
            return _follow_json(client, pending, shown, args)
        console = Console()
        if args.once:
            console.print(render(client, shown, args.depth, args.trades))
            return 0
        deadline = time.monotonic() + args.duration if args.duration else None
        seen = 0
        interactive = console.is_terminal and args.count is None
        live = Live(render(client, shown, args.depth, args.trades), console=console, auto_refresh=False,
                    transient=False) if interactive else None
        if live is not None:
            live.start()
        try:
            while (args.count is None or seen < args.count) and (deadline is None or time.monotonic() < deadline):
                got = client.poll(100)
                seen += int(np.isin(got["instrument"], shown).sum()) if len(got) else 0
                if live is not None and len(got):
                    live.update(render(client, shown, args.depth, args.trades), refresh=True)
        except KeyboardInterrupt:
            pass
        except FeedError as exc:            # e.g. no node answered a snapshot request within --timeout
            raise CliError(f"feed {', '.join(snapshots)}: {exc}") from None
        finally:
            if live is not None:
                live.stop()
        if live is None:
            console.print(render(client, shown, args.depth, args.trades))
        return 0
    finally:
        client.close()
        ctx.term()


# ------------------------------------------------------------------ bench feeds
def add_bench_feeds(targets) -> None:
    """Add ``bench feeds`` under ``chuanyu bench``."""
    p = targets.add_parser(
        "feeds", help="market data fan-out: messages published and delivered, and what publishing costs",
        description="Start a real daemon (feeds on, durability none), drive it flat out with a "
                    "carbon-mix-like order stream, and measure the daemon's commands/s with feeds off "
                    "and on, and the feed messages published and delivered with 1, 4 and 16 FeedClient "
                    "subscriber processes. Target: publishing costs <= 25%% of the daemon's throughput.")
    p.add_argument("--json", metavar="FILE", help="also write the results as JSON to FILE ('-' for stdout)")
    p.add_argument("--quick", action="store_true", help="0.75-second measurements (about 25 s in all)")
    p.add_argument("--seconds", type=float, default=3.0, metavar="S", help="seconds per measurement (default 3)")
    p.add_argument("--subscribers", type=int, nargs="+", metavar="N", default=[1, 4, 16],
                   help="subscriber counts with feeds on (default 1 4 16)")
    add_no_fail(p)
    p.set_defaults(handler=handler(_bench_feeds))


def _bench_feeds(args) -> int:
    from bench import feeds_bench
    check_json_target(args.json)
    if any(n < 0 or n > 64 for n in args.subscribers):
        raise CliError("--subscribers must be 0..64", 2)
    if not 0 < args.seconds <= 600:
        raise CliError("--seconds must be in (0, 600]", 2)
    run = begin_bench(args.argv)
    results = feeds_bench.run(subscribers=args.subscribers, seconds=args.seconds, quick=args.quick,
                              log=lambda m: print(m, file=sys.stderr))
    results["run"] = run.finish()
    _report(args.json, feeds_bench.table(results), results)
    return bench_status(results["targets"], args.no_fail)
