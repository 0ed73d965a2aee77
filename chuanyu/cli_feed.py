"""``chuanyu feed``: a live terminal view of the market data feed; ``chuanyu bench feeds``.

:func:`register` adds ``feed`` to the ``chuanyu`` subcommands and :func:`add_bench_feeds`
adds ``bench feeds`` under ``chuanyu bench``.
"""
from __future__ import annotations

import sys
import time

from .cli_gateway import DEFAULT_STATE_DIR, _cli_error, _handler, _report

__all__ = ["register", "add_bench_feeds", "render"]


def register(commands) -> None:
    """Add ``feed`` to the ``chuanyu`` subcommands."""
    p = commands.add_parser(
        "feed", help="watch the market data feed: books and last trades",
        description="Subscribe to a running daemon's public feed (catching up from a snapshot, "
                    "resynchronising on a gap) and show each instrument's best levels and the last "
                    "trades, live. With --once or --count it prints the view and exits (for scripts).")
    p.add_argument("symbols", nargs="*", metavar="SYMBOL", help="instruments to show (default: all)")
    p.add_argument("--state-dir", metavar="DIR", default=DEFAULT_STATE_DIR,
                   help="the daemon's state dir: endpoints.json is read from it")
    p.add_argument("--feed", metavar="URL", help="the PUB endpoint (default: from endpoints.json)")
    p.add_argument("--snapshots", metavar="URL", help="the snapshot endpoint (default: from endpoints.json)")
    p.add_argument("--depth", type=int, default=5, metavar="N", help="levels per side (default 5)")
    p.add_argument("--trades", type=int, default=10, metavar="N", help="last trades shown (default 10)")
    p.add_argument("--once", action="store_true", help="print the view from the snapshot and exit")
    p.add_argument("--count", type=int, metavar="N", help="exit after N live messages (prints the view)")
    p.add_argument("--duration", type=float, metavar="S", help="exit after S seconds")
    p.add_argument("--timeout", type=float, default=5.0, metavar="S", help="seconds to wait for the snapshot")
    p.set_defaults(handler=_handler(_feed))


def _endpoints(args) -> tuple[str, str, list | None]:
    import json
    from pathlib import Path
    info = {}
    path = Path(args.state_dir) / "endpoints.json"
    if path.exists():
        try:
            info = json.loads(path.read_text())
        except (OSError, ValueError) as exc:
            raise _cli_error(f"cannot read {path}: {exc}") from None
    feed, snapshots = args.feed or info.get("feed"), args.snapshots or info.get("feed_snapshots")
    if not (feed and snapshots):
        raise _cli_error(f"no feed found: {path} is missing or the daemon runs with feeds off "
                         "(give --state-dir, or --feed and --snapshots)")
    return feed, snapshots, info.get("instruments")


def render(client, shown, depth: int = 5, trades: int = 10):
    """The view of ``client`` (a FeedClient) for the instrument indices ``shown``: a rich
    renderable with one ladder per instrument and the last trades."""
    from rich.console import Group
    from rich.table import Table

    from feeds.messages import FeedType
    from matching import Side, TradeType
    parts = []
    for n in shown:
        symbol = client.symbols[n]
        view = client.books[n].view(TradeType.CONTINUOUS, depth)
        t = Table(title=f"{symbol}  (feed seq {client.seq:,})", title_justify="left", expand=False)
        for col, just in (("bid orders", "right"), ("bid qty", "right"), ("bid", "right"),
                          ("ask", "right"), ("ask qty", "right"), ("ask orders", "right")):
            t.add_column(col, justify=just)
        for i in range(max(len(view.bids), len(view.asks), 1)):
            bid = view.bids[i] if i < len(view.bids) else None
            ask = view.asks[i] if i < len(view.asks) else None
            t.add_row(f"{bid[2]:,}" if bid else "", f"{bid[1]:,}" if bid else "", _yuan(bid[0]) if bid else "",
                      _yuan(ask[0]) if ask else "", f"{ask[1]:,}" if ask else "", f"{ask[2]:,}" if ask else "")
        parts.append(t)
    last = [r for r in client.trades if int(r["instrument"]) in set(shown)][-trades:]
    if not last:       # a late joiner knows each instrument's last trade from the snapshot
        last = [client.latest[(FeedType.TRADE, n)] for n in shown if (FeedType.TRADE, n) in client.latest]
    tt = Table(title="last trades", title_justify="left")
    for col in ("trade", "symbol", "type", "price", "qty", "aggressor"):
        tt.add_column(col, justify="left" if col in ("symbol", "type", "aggressor") else "right")
    for r in reversed(last):
        tt.add_row(f"{int(r['trade_id']):,}", client.symbols[int(r["instrument"])],
                   TradeType(int(r["trade_type"])).name, _yuan(int(r["price"])), f"{int(r['qty']):,}",
                   Side(int(r["side"])).name if int(r["side"]) else "-")
    parts.append(tt)
    return Group(*parts)


def _yuan(fen: int) -> str:
    return f"{fen / 100:,.2f}"


def _feed(args) -> int:
    import zmq
    from rich.console import Console
    from rich.live import Live

    from feeds.client import FeedClient, FeedError
    if args.depth < 1 or args.trades < 0 or (args.count is not None and args.count < 1):
        raise _cli_error("--depth must be >= 1, --trades >= 0 and --count >= 1", 2)
    feed, snapshots, symbols = _endpoints(args)
    ctx = zmq.Context()
    client = FeedClient(feed, snapshots, symbols, ctx=ctx, timeout_ms=int(args.timeout * 1000))
    try:
        try:
            client.start()
        except FeedError as exc:
            raise _cli_error(f"feed {snapshots}: {exc}") from None
        unknown = [s for s in args.symbols if s not in client.symbols]
        if unknown:
            raise _cli_error(f"unknown instrument {unknown[0]!r} (known: {', '.join(client.symbols)})", 2)
        shown = [client.symbols.index(s) for s in args.symbols] or list(range(len(client.symbols)))
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
                seen += len(got)
                if live is not None and len(got):
                    live.update(render(client, shown, args.depth, args.trades), refresh=True)
        except KeyboardInterrupt:
            pass
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
    p.set_defaults(handler=_handler(_bench_feeds))


def _bench_feeds(args) -> int:
    from bench import feeds_bench
    from chuanyu.cli import _check_json_target
    _check_json_target(args.json)
    if any(n < 0 or n > 64 for n in args.subscribers):
        raise _cli_error("--subscribers must be 0..64", 2)
    if not 0 < args.seconds <= 600:
        raise _cli_error("--seconds must be in (0, 600]", 2)
    results = feeds_bench.run(subscribers=args.subscribers, seconds=args.seconds, quick=args.quick,
                              log=lambda m: print(m, file=sys.stderr))
    _report(args.json, feeds_bench.table(results), results)
    return 0
