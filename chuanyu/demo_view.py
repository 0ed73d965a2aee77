"""What ``chuanyu demo`` shows: plain log lines (:class:`Headless`) or a live dashboard
(:class:`Dashboard`, rich Live) of books, last trades, volumes by trade type and the
cross-regional flow, and at the end the end-of-day report with the vitality indicators.

Both receive the same calls from :mod:`chuanyu.demo`; the dashboard keeps the log lines it
would have printed as its story panel.
"""
from __future__ import annotations

import sys
import time
from collections import deque

__all__ = ["Headless", "Dashboard", "price", "tonnes"]

from matching.commands import FLAG_PRIMARY

TYPES = ("CONTINUOUS", "FIXED", "BLOCK", "AUCTION")


def price(fen: int) -> str:
    """Fen per tonne as CNY: ``price(5012) == '50.12'``."""
    return f"{fen // 100}.{fen % 100:02d}" if fen >= 0 else "-" + price(-fen)


def tonnes(qty: int) -> str:
    return f"{qty:,} t"


class Headless:
    """Plain lines on stdout, one per event of note, each stamped with the simulated time."""

    def __init__(self, out=None) -> None:
        self.out = out or sys.stdout
        self.clock = "09:30"

    # .............................................................. the day
    def start(self, seed, duration, state, symbols, names, tally, steps, keep, refs) -> None:
        self.symbols, self.names, self.tally, self.refs = symbols, names, tally, refs
        self.state, self.keep = state, keep
        self.emit(f"chuanyu demo: seed {seed}, {steps - 1} simulated minutes over {duration:g} s; "
                  f"state {state}{'' if keep else ' (temporary)'}")

    def emit(self, text: str) -> None:
        print(text, file=self.out, flush=True)

    def log(self, text: str) -> None:
        self.emit(f"[{self.clock}] {text}")

    def note(self, text: str) -> None:
        self.log(f"note: {text}")

    def step(self, step) -> None:
        self.clock = step.clock
        if step.note:
            self.log(f"--- {step.note}")

    def who(self, account: int) -> str:
        return self.names.get(account, f"account {account}")

    def answer(self, action, reply) -> None:
        """A platform's message was acknowledged or refused."""
        sym = self.symbols[action.instrument]
        target = self.refs.get(action.target, "?")
        if reply.type_name != "ACK":
            self.log(f"{action.platform} {self.who(action.account)}: {action.kind} refused ({reply.reason_name})")
            return
        what = {
            "list": lambda: (f"lists {'sell' if action.side == 2 else 'buy'} {tonnes(action.qty)} {sym} "
                             f"@ {price(action.price)} (min take {action.min_qty:,}): listing #{reply.order_id}"),
            "take": lambda: f"takes {tonnes(action.qty)} {sym} of listing #{target} @ {price(action.price)}",
            "quote": lambda: (f"quotes a block: sells {tonnes(action.qty)} {sym} @ {price(action.price)} to "
                              f"{'anyone' if action.contra < 0 else self.who(action.contra)}: quote #{reply.order_id}"),
            "accept": lambda: f"accepts block quote #{target}: {tonnes(action.qty)} {sym} @ {price(action.price)}",
            "bid": lambda: f"bids (sealed) in auction #{target}",
        }.get(action.kind)
        if what is not None:
            self.log(f"{action.platform} {self.who(action.account)} {what()}")

    def operator(self, action, events) -> None:
        sym = self.symbols[action.instrument]
        if action.kind == "block_window":
            self.log(f"operator: block window {'opens' if action.qty else 'closes'} on {sym}")
        elif action.kind == "auction_open":
            kind = "primary" if action.extra[2] & FLAG_PRIMARY else "single-direction"
            ids = [e.get("order_id") for e in events if e["kind"] == "ACCEPTED"]
            self.log(f"operator: {kind} auction #{ids[0] if ids else '?'} opens on {sym} for "
                     f"{self.who(action.account)}: {tonnes(action.qty)}, reserve {price(action.price)}")
        elif action.kind == "auction_close":
            self.log(f"operator: auction on {sym} closes")
        elif action.kind == "end_of_day":
            stats = sum(1 for e in events if e["kind"] == "DAILY_STATS")
            self.log(f"operator: end of day ({stats} instruments closed)")

    def trade(self, t: dict) -> None:
        self.log(f"trade #{t['trade_id']} {t['type']} {t['symbol']} {tonnes(t['qty'])} @ {price(t['price'])}  "
                 f"buyer {t['buyer_region']} {self.who(t['buyer'])} <- seller {t['seller_region']} "
                 f"{self.who(t['seller'])}")

    def feed_message(self, msg, feed) -> None:
        from feeds.messages import FeedType
        from matching import AuctionOutcome
        if int(msg["msg_type"]) == FeedType.AUCTION_RESULT:
            self.log(f"feed: auction result {self.symbols[int(msg['instrument'])]}: "
                     f"{AuctionOutcome(int(msg['status'])).name} at {price(int(msg['price']))}, "
                     f"{tonnes(int(msg['qty']))} sold of {tonnes(int(msg['previous']))} bid, "
                     f"{int(msg['count'])} bids")

    def refresh(self, market) -> None:
        pass

    def stop(self) -> None:
        pass

    # .............................................................. the end
    def report(self, eod: dict, path, summary: dict) -> None:
        self.emit("")
        self.emit(f"END OF DAY REPORT {eod['date']} ({path.name}"
                  f"{', in ' + str(path.parent) if self.keep else ''})")
        head = ("symbol", "kind", "open", "high", "low", "close", "prev", "change", *(t.lower() for t in TYPES),
                "cross-reg", "net SC->CQ")
        rows = [head]
        for r in eod["instruments"]:
            rows.append((r["symbol"], r["kind"], price(r["open"]), price(r["high"]), price(r["low"]),
                         price(r["close"]), price(r["previous_close"]), price(r["change"]),
                         *(f"{r[t.lower() + '_volume']:,}" for t in TYPES),
                         f"{r['cross_regional_volume']:,}", f"{r['net_flow_sc_to_cq']:,}"))
        widths = [max(len(str(row[i])) for row in rows) for i in range(len(head))]
        for row in rows:
            self.emit("  " + "  ".join(str(v).rjust(w) if i > 1 else str(v).ljust(w)
                                       for i, (v, w) in enumerate(zip(row, widths))))
        for line in report_lines(summary):
            self.emit(line)


def report_lines(s: dict) -> list[str]:
    """The vitality indicators as text lines."""
    vol, trades = s["volume_by_type"], s["trades_by_type"]
    flow = s["net_allowance_flow_sc_to_cq"]
    direction = "from Sichuan to Chongqing" if flow >= 0 else "from Chongqing to Sichuan"
    return [
        "volume by trade type: " + ", ".join(f"{t} {vol[t.lower()]:,} t in {trades[t.lower()]} trades"
                                              for t in TYPES),
        "",
        "MARKET VITALITY",
        f"  turnover rate:        {s['turnover_rate']:.2%}  ({s['secondary_allowance_volume']:,} t of allowances "
        f"traded between participants / {s['allowances_in_circulation']:,} t in circulation: "
        f"{s['allowances_allocated']:,} t allocated + {s['allowances_created_by_primary_auction']:,} t "
        f"sold by the primary auction)",
        f"  trading activity:     {s['trades']} trades; {s['active_accounts']} of {s['accounts']} accounts "
        f"traded; {s['orders_accepted']} orders accepted, {s['orders_refused']} refused",
        f"  cross-regional share: {s['cross_regional_share']:.2%}  ({s['cross_regional_volume']:,} t of "
        f"{s['volume_total']:,} t had buyer and seller in different regions)",
        f"  net allowance flow:   {abs(flow):,} t {direction}",
    ]


class Dashboard(Headless):
    """A rich Live screen: books, last trades, volumes by type, the cross-regional flow, the story."""

    REFRESH_S = 0.12

    def __init__(self) -> None:
        from rich.console import Console
        super().__init__()
        self.console = Console()
        self.story: deque[str] = deque(maxlen=8)
        self.recent: deque[dict] = deque(maxlen=10)
        self.live = None
        self.feed = None
        self.step_no = 0
        self.steps = 0
        self._last = 0.0

    def start(self, seed, duration, state, symbols, names, tally, steps, keep, refs) -> None:
        from rich.live import Live
        self.symbols, self.names, self.tally, self.refs = symbols, names, tally, refs
        self.state, self.keep, self.steps, self.seed = state, keep, steps, seed
        self.live = Live(self._render(), console=self.console, auto_refresh=False, screen=False,
                         redirect_stdout=False, redirect_stderr=False)
        self.live.start()

    def emit(self, text: str) -> None:
        if self.live is not None:
            self.story.append(text)
        else:
            self.console.print(text, highlight=False, markup=False)

    def step(self, step) -> None:
        self.step_no = step.step
        super().step(step)

    def answer(self, action, reply) -> None:
        if reply.type_name != "ACK" or action.kind != "order":
            super().answer(action, reply)

    def trade(self, t: dict) -> None:
        self.recent.appendleft({**t, "clock": self.clock})

    def feed_message(self, msg, feed) -> None:
        self.feed = feed
        super().feed_message(msg, feed)

    def refresh(self, market) -> None:
        self.feed = market.feed
        now = time.monotonic()
        if self.live is not None and now - self._last >= self.REFRESH_S:
            self._last = now
            self.live.update(self._render(), refresh=True)

    def stop(self) -> None:
        if self.live is not None:
            self.live.update(self._render(), refresh=True)
            self.live.stop()
            self.live = None

    # .............................................................. drawing
    def _render(self):
        from rich.columns import Columns
        from rich.console import Group
        from rich.panel import Panel
        from rich.table import Table
        from rich.text import Text
        tally = self.tally
        head = Text(f"chuanyu demo  seed {self.seed}  {self.clock}  step {self.step_no}/{self.steps - 1}  "
                    f"trades {len(tally.trades)}  orders {tally.acks}  refused {sum(tally.rejects.values())}",
                    style="bold")
        books = []
        for n, sym in enumerate(self.symbols):
            t = Table(title=sym, show_edge=False, pad_edge=False, min_width=30)
            for col in ("bid t", "bid", "ask", "ask t"):
                t.add_column(col, justify="right")
            view = self.feed.books[n].view(depth=5) if self.feed is not None else None
            bids, asks = (view.bids, view.asks) if view is not None else ([], [])
            for i in range(5):
                b = bids[i] if i < len(bids) else None
                a = asks[i] if i < len(asks) else None
                t.add_row(f"{b[1]:,}" if b else "", price(b[0]) if b else "", price(a[0]) if a else "",
                          f"{a[1]:,}" if a else "")
            last = tally.last_price.get(n)
            caption = f"last {price(last)}" if last else "no trade yet"
            if self.feed is not None:
                from matching import TradeType
                listed = self.feed.books[n].view(TradeType.FIXED, depth=1)
                if listed.asks:
                    caption += f"  listed {price(listed.asks[0][0])} ({listed.asks[0][1]:,} t)"
            t.caption = caption
            books.append(t)
        trades = Table(title="last trades", show_edge=False, expand=False)
        for col in ("time", "type", "symbol", "qty t", "price", "buyer", "seller"):
            trades.add_column(col, justify="right" if col in ("qty t", "price") else "left")
        for t in self.recent:
            trades.add_row(t["clock"], t["type"], t["symbol"], f"{t['qty']:,}", price(t["price"]),
                           f"{t['buyer_region']} {self.who(t['buyer'])[:22]}",
                           f"{t['seller_region']} {self.who(t['seller'])[:22]}")
        volumes = Table(title="volume by trade type (t)", show_edge=False)
        volumes.add_column("symbol")
        for kind in TYPES:
            volumes.add_column(kind.lower(), justify="right")
        for n, sym in enumerate(self.symbols):
            volumes.add_row(sym, *(f"{tally.volume.get((n, k), 0):,}" for k in TYPES))
        flow = tally.net_sc_to_cq
        total = sum(tally.volume.values())
        cross = Text(f"cross-regional volume {tally.cross:,} t ({tally.cross / total:.1%} of {total:,} t)   "
                     f"net allowance flow {abs(flow):,} t {'SC -> CQ' if flow >= 0 else 'CQ -> SC'}"
                     if total else "cross-regional volume: no trades yet")
        story = Panel(Text("\n".join(self.story)), title="the day", title_align="left")
        return Group(head, Columns(books), Columns([trades, volumes]), cross, story)

    def report(self, eod: dict, path, summary: dict) -> None:
        from rich.table import Table
        self.console.print()
        title = f"end of day {eod['date']} ({path.name}{', in ' + str(path.parent) if self.keep else ''})"
        t = Table(title=title, title_justify="left")
        for col in ("symbol", "open", "high", "low", "close", "change", *(k.lower() for k in TYPES),
                    "cross-regional", "net SC->CQ"):
            t.add_column(col, justify="left" if col == "symbol" else "right")
        for r in eod["instruments"]:
            t.add_row(r["symbol"], price(r["open"]), price(r["high"]), price(r["low"]), price(r["close"]),
                      price(r["change"]), *(f"{r[k.lower() + '_volume']:,}" for k in TYPES),
                      f"{r['cross_regional_volume']:,}", f"{r['net_flow_sc_to_cq']:,}")
        self.console.print(t)
        for line in report_lines(summary):
            self.console.print(line, highlight=False, markup=False)
