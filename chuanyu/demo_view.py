"""What ``chuanyu demo`` shows: plain log lines (:class:`Headless`) or a live dashboard
(:class:`Dashboard`, rich Live) of books, last trades, volumes by trade type and the
cross-regional flow, and at the end the end-of-day report with the vitality indicators.

Both receive the same calls from :mod:`chuanyu.demo`; the dashboard keeps the log lines it
would have printed as its story panel. The dashboard fits the terminal it is drawn on: the
full screen where it fits whole, a compact one down to 80x24 (and below, as well as it can);
the end-of-day report splits its table in two on a narrow one. Symbols and prices are never
cut short.
"""
from __future__ import annotations

import sys
import time
from collections import Counter, deque

__all__ = ["Headless", "Dashboard", "price", "tonnes"]

from matching import InstrumentStatus
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
        self._maker_bid = 0                # the market maker's bid, logged with its offer

    # .............................................................. the day
    def start(self, seed, duration, state, symbols, names, tally, steps, keep, refs, short_names=None) -> None:
        self.symbols, self.names, self.tally, self.refs = symbols, names, tally, refs
        self.short_names = short_names or {}
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
        if reply.type_name == "REJECT":
            self.log(f"{action.platform} {self.who(action.account)}: {action.kind} refused ({reply.reason_name})")
            return
        what = {
            "cancel": lambda: f"cancels what is left of its order #{reply.order_id}: {tonnes(reply.qty)} {sym}",
            "list": lambda: (f"lists {'sell' if action.side == 2 else 'buy'} {tonnes(action.qty)} {sym} "
                             f"@ {price(action.price)} (min take {action.min_qty:,}): listing #{reply.order_id}"),
            "take": lambda: f"takes {tonnes(action.qty)} {sym} of listing #{target} @ {price(action.price)}",
            "quote": lambda: (f"quotes a block: sells {tonnes(action.qty)} {sym} @ {price(action.price)} to "
                              f"{'anyone' if action.contra < 0 else self.who(action.contra)}: quote #{reply.order_id}"),
            "accept": lambda: f"accepts block quote #{target}: {tonnes(action.qty)} {sym} @ {price(action.price)}",
            "bid": lambda: f"bids (sealed) in auction #{target}",
        }.get(action.kind)
        if action.kind == "requote":                # one line for both sides, on the offer
            if action.side == 1:
                self._maker_bid = action.price
                return
            what = lambda: (f"quotes {sym} {price(self._maker_bid)} / {price(action.price)}, "  # noqa: E731
                            f"{tonnes(action.qty)} a side")
        if what is not None:
            self.log(f"{action.platform} {self.who(action.account)} {what()}")

    def operator(self, action, events) -> None:
        sym = self.symbols[action.instrument]
        if action.kind == "phase":
            trades = sum(1 for e in events if e["kind"] == "TRADE")
            done = ""
            if action.qty == InstrumentStatus.TRADING:
                done = f": uncrossed, {trades} trades at {price(events[0]['price'])}" if trades else ": nothing crossed"
            self.log(f"operator: {sym} {InstrumentStatus(action.qty).name}{done}")
        elif action.kind == "block_window":
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
        from matching import AuctionOutcome, StatusCause
        kind = int(msg["msg_type"])
        if kind == FeedType.STATUS and int(msg["cause"]) == StatusCause.VOLATILITY:
            self.log(f"feed: {self.symbols[int(msg['instrument'])]} volatility interruption: a call auction "
                     f"instead of a trade outside the dynamic band")
        if kind == FeedType.AUCTION_RESULT:
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
        # Two tables of at most 80 columns rather than one of 130: read in a terminal, the
        # log's report stays a table.
        self.emit("")
        self.emit(f"END OF DAY REPORT {eod['date']} ({path.name}"
                  f"{', in ' + str(path.parent) if self.keep else ''})")
        prices, volumes = eod_rows(eod)
        self.emit("prices, CNY per tonne")
        for line in _text_table(PRICE_HEAD, prices, left=2):
            self.emit(line)
        self.emit("volumes, tonnes")
        for line in _text_table(VOLUME_HEAD, volumes, left=1):
            self.emit(line)
        for line in report_lines(summary):
            self.emit(line)
        if eod.get("market_makers"):
            self.emit("")
            self.emit("MARKET MAKERS")
            for line in maker_lines(eod["market_makers"], self.who):
                self.emit(line)


PRICE_HEAD = ("symbol", "kind", "open", "high", "low", "close", "prev", "change")
VOLUME_HEAD = ("symbol", *(t.lower() for t in TYPES), "cross-reg", "net SC->CQ")


def eod_rows(eod: dict) -> tuple[list[tuple], list[tuple]]:
    """The end-of-day report's rows as text: prices (:data:`PRICE_HEAD`) and volumes
    (:data:`VOLUME_HEAD`), one row per instrument in each."""
    prices, volumes = [], []
    for r in eod["instruments"]:
        prices.append((r["symbol"], r["kind"], price(r["open"]), price(r["high"]), price(r["low"]),
                       price(r["close"]), price(r["previous_close"]), price(r["change"])))
        volumes.append((r["symbol"], *(f"{r[t.lower() + '_volume']:,}" for t in TYPES),
                        f"{r['cross_regional_volume']:,}", f"{r['net_flow_sc_to_cq']:,}"))
    return prices, volumes


def _text_table(head, rows, left: int) -> list[str]:
    """Plain-text columns two spaces apart; the first ``left`` columns left-aligned."""
    widths = [max(len(row[i]) for row in (head, *rows)) for i in range(len(head))]
    return ["  " + "  ".join(v.ljust(w) if i < left else v.rjust(w) for i, (v, w) in enumerate(zip(row, widths)))
            for row in (head, *rows)]


def vitality(s: dict) -> tuple[str, list[tuple[str, str]]]:
    """The volume line, and the market-vitality indicators as (label, text) pairs."""
    vol, trades = s["volume_by_type"], s["trades_by_type"]
    flow = s["net_allowance_flow_sc_to_cq"]
    direction = "from Sichuan to Chongqing" if flow >= 0 else "from Chongqing to Sichuan"
    volume = "volume by trade type: " + ", ".join(f"{t} {vol[t.lower()]:,} t in {trades[t.lower()]} trades"
                                                   for t in TYPES)
    return volume, [
        ("turnover rate", f"{s['turnover_rate']:.2%}  ({s['secondary_allowance_volume']:,} t of allowances "
                          f"traded between participants / {s['allowances_in_circulation']:,} t in circulation: "
                          f"{s['allowances_allocated']:,} t allocated + "
                          f"{s['allowances_created_by_primary_auction']:,} t sold by the primary auction)"),
        ("trading activity", f"{s['trades']} trades; {s['active_accounts']} of {s['accounts']} accounts "
                             f"traded; {s['orders_accepted']} orders accepted, {s['orders_refused']} refused"),
        ("cross-regional share", f"{s['cross_regional_share']:.2%}  ({s['cross_regional_volume']:,} t of "
                                 f"{s['volume_total']:,} t had buyer and seller in different regions)"),
        ("net allowance flow", f"{abs(flow):,} t {direction}"),
    ]


def maker_lines(rows: list[dict], who, width: int = 80) -> list[str]:
    """Each market maker's day against its obligation (``who``: account -> name), wrapped to ``width``."""
    import textwrap
    lines = []
    for r in rows:
        verdict = "met" if r["compliant"] else "MISSED"
        spread = "never two-sided" if r["avg_spread_bps"] is None else (
            f"spread {r['avg_spread_bps']:.0f} bps on average (at most {r['max_spread_bps']}), "
            f"{r['avg_size']:,} t a side (at least {r['min_qty']:,})")
        text = (f"{who(r['account'])} in {r['symbol']}: quoted within its obligation {r['presence_pct']:.1f}% of "
                f"continuous trading (required {r['required_presence_pct']}%): {verdict}; {spread}; traded "
                f"{r['volume']:,} t in {r['trades']} trades, fees {price(r['fees'])} CNY after its rebate")
        lines += textwrap.wrap(text, width=width, initial_indent="  ", subsequent_indent="    ",
                               break_long_words=False, break_on_hyphens=False)
    return lines


def report_lines(s: dict, width: int = 80) -> list[str]:
    """The vitality indicators as lines of at most ``width`` characters, each indicator's
    continuation lines indented under its text, as in a table."""
    import textwrap
    volume, items = vitality(s)
    # numbers and "cross-regional" stay whole on one line
    wrap = dict(width=width, break_long_words=False, break_on_hyphens=False)
    lines = textwrap.wrap(volume, subsequent_indent="  ", **wrap)
    lines += ["", "MARKET VITALITY"]
    for label, text in items:
        lines += textwrap.wrap(text, initial_indent=f"  {label + ':':<22}", subsequent_indent=" " * 24, **wrap)
    return lines


class Dashboard(Headless):
    """A rich Live screen: books, last trades, volumes by type, the cross-regional flow, the story.

    ``console``: where to draw (a rich Console; by default the terminal's, whose size it
    follows as it changes)."""

    REFRESH_S = 0.12

    def __init__(self, console=None) -> None:
        from rich.console import Console
        super().__init__()
        self.console = console or Console()
        self.story: deque[str] = deque(maxlen=8)
        self.recent: deque[dict] = deque(maxlen=10)
        self.live = None
        self.feed = None
        self.step_no = 0
        self.steps = 0
        self._last = 0.0

    def start(self, seed, duration, state, symbols, names, tally, steps, keep, refs, short_names=None) -> None:
        from rich.live import Live
        self.symbols, self.names, self.tally, self.refs = symbols, names, tally, refs
        self.short_names = short_names or {}
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
        """The full screen when the terminal holds it whole, else the compact one.

        Neither may be cut by the terminal: a table squeezed below its natural width cuts
        symbols and prices into ellipses, and Live crops a screen taller than the terminal
        to "..." (the trades and the story at the bottom would never show)."""
        width, height = self.console.size
        full = self._full(width)
        if full is not None and self._height(full, width) <= height:
            return full
        return self._compact(width, height)

    def _height(self, renderable, width: int) -> int:
        """Rows ``renderable`` takes at ``width`` columns."""
        return len(self.console.render_lines(renderable, self.console.options.update_width(width), pad=False))

    def _natural_width(self, table) -> int:
        from rich.measure import Measurement
        # measured against a wide limit: Measurement.get caps the answer at the limit it is given
        return Measurement.get(self.console, self.console.options.update_width(10_000), table).maximum

    def _head(self, width: int):
        from rich.text import Text
        tally = self.tally
        parts = ["chuanyu demo", self.clock, f"step {self.step_no}/{self.steps - 1}", f"trades {len(tally.trades)}",
                 f"orders {tally.acks}", f"refused {sum(tally.rejects.values())}", f"seed {self.seed}"]
        while len(parts) > 1 and len("  ".join(parts)) > width:     # the seed (up to 19 digits) goes first
            parts.pop()
        return Text("  ".join(parts), style="bold", no_wrap=True, overflow="crop")

    def _full(self, width: int):
        """Every instrument's five best levels, the last ten trades with the firms' names,
        volumes by instrument and trade type, the cross-regional flow and the story; None
        when one of its tables is wider than ``width``."""
        from rich.columns import Columns
        from rich.console import Group
        from rich.table import Table
        from rich.text import Text

        from matching import TradeType
        tally = self.tally
        books = []
        for n, sym in enumerate(self.symbols):
            last = tally.last_price.get(n)
            caption = f"last {price(last)}" if last else "no trade yet"
            if self.feed is not None:
                listed = self.feed.books[n].view(TradeType.FIXED, depth=1)
                if listed.asks:
                    caption += f"  listed {price(listed.asks[0][0])} ({listed.asks[0][1]:,} t)"
            # as wide as its caption: a caption wraps to the table's width, wherever that cuts it
            t = Table(title=sym, caption=caption, show_edge=False, pad_edge=False, min_width=max(30, len(caption)))
            for col in ("bid t", "bid", "ask", "ask t"):
                t.add_column(col, justify="right", no_wrap=True)
            view = self.feed.books[n].view(depth=5) if self.feed is not None else None
            bids, asks = (view.bids, view.asks) if view is not None else ([], [])
            for i in range(5):
                b = bids[i] if i < len(bids) else None
                a = asks[i] if i < len(asks) else None
                t.add_row(f"{b[1]:,}" if b else "", price(b[0]) if b else "", price(a[0]) if a else "",
                          f"{a[1]:,}" if a else "")
            books.append(t)
        trades = Table(title="last trades", show_edge=False, expand=False)
        for col in ("time", "type", "symbol", "qty t", "price", "buyer", "seller"):
            trades.add_column(col, justify="right" if col in ("qty t", "price") else "left", no_wrap=True)
        for t in self.recent:
            trades.add_row(t["clock"], t["type"], t["symbol"], f"{t['qty']:,}", price(t["price"]),
                           f"{t['buyer_region']} {self.short(t['buyer'], 26)}",
                           f"{t['seller_region']} {self.short(t['seller'], 26)}")
        volumes = Table(title="volume by trade type (t)", show_edge=False)
        volumes.add_column("symbol", no_wrap=True)
        for kind in TYPES:
            volumes.add_column(kind.lower(), justify="right", no_wrap=True)
        for n, sym in enumerate(self.symbols):
            volumes.add_row(sym, *(f"{tally.volume.get((n, k), 0):,}" for k in TYPES))
        if any(self._natural_width(t) > width for t in (*books, trades, volumes)):
            return None
        flow = tally.net_sc_to_cq
        total = sum(tally.volume.values())
        cross = Text(f"cross-regional volume {tally.cross:,} t ({tally.cross / total:.1%} of {total:,} t)   "
                     f"net allowance flow {abs(flow):,} t {'SC -> CQ' if flow >= 0 else 'CQ -> SC'}"
                     if total else "cross-regional volume: no trades yet")
        parts = [self._head(width), Columns(books), Columns([trades, volumes]), cross]
        story = self._story_lines(width)
        if story:
            parts.append(self._story(story[-self.story.maxlen:]))
        return Group(*parts)

    def _compact(self, width: int, height: int):
        """The day in ``height`` rows of ``width`` columns: one row per instrument (best bid
        and offer, last price, lowest fixed-price offer), the volumes by trade type summed in
        one line, the cross-regional flow in another, and as many of the last trades and of
        the story's latest lines as the rows left hold."""
        from rich import box
        from rich.console import Group
        from rich.table import Table
        from rich.text import Text

        from matching import TradeType
        tally = self.tally
        market = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False)
        for col in ("symbol", "bid t", "bid", "ask", "ask t", "last", "listed", "listed t"):
            market.add_column(col, justify="left" if col == "symbol" else "right", no_wrap=True)
        for n, sym in enumerate(self.symbols):
            book = self.feed.books[n] if self.feed is not None else None
            bid, bid_qty, ask, ask_qty = book.bbo() if book is not None else (0, 0, 0, 0)
            listed = book.view(TradeType.FIXED, depth=1).asks if book is not None else []
            last = tally.last_price.get(n)
            market.add_row(sym, f"{bid_qty:,}" if bid else "", price(bid) if bid else "", price(ask) if ask else "",
                           f"{ask_qty:,}" if ask else "", price(last) if last else "",
                           price(listed[0][0]) if listed else "", f"{listed[0][1]:,}" if listed else "")
        by_type = Counter()
        for (_, kind), qty in tally.volume.items():
            by_type[kind] += qty
        volume = Text("volume t  " + "  ".join(f"{k.lower()} {by_type[k]:,}" for k in TYPES))
        total, flow = sum(by_type.values()), tally.net_sc_to_cq
        cross = Text(f"cross-regional {tally.cross:,} t ({tally.cross / total:.1%})  allowances "
                     f"{'SC -> CQ' if flow >= 0 else 'CQ -> SC'} net {abs(flow):,} t"
                     if total else "cross-regional volume: no trades yet")
        extras = [cross, volume]                       # dropped from the end when even they do not fit
        left = height - self._height(self._head(width), width) - self._height(market, width)
        left -= sum(self._height(p, width) for p in extras)
        while left < 0 and extras:
            left += self._height(extras.pop(), width)

        story = self._story_lines(width)
        # Each of the trades table and the story panel costs two rows of frame; what is left
        # is shared, the story taking at most half, and either one's unused rows go to the other.
        frame_t, frame_s = (2 if self.recent else 0), (2 if story else 0)
        if left - frame_t - frame_s < (frame_t + frame_s) // 2:
            frame_s = 0
        if left - frame_t < frame_t // 2:
            frame_t = 0
        room = max(0, left - frame_t - frame_s)
        n_story = min(len(story), room // 2) if frame_s else 0
        n_trades = min(len(self.recent), room - n_story) if frame_t else 0
        n_story = min(len(story), room - n_trades) if frame_s else 0

        parts = [self._head(width), market]
        if n_trades:
            parts.append(self._compact_trades(list(self.recent)[:n_trades], width))
        parts += extras[::-1]
        if n_story:
            parts.append(self._story(story[-n_story:]))
        return Group(*parts)

    def _story_lines(self, width: int) -> list:
        """The story as the lines it takes inside its panel: its height is then known before
        drawing, and its latest lines are the ones kept when rows are short."""
        from rich.text import Text
        return list(Text("\n".join(self.story)).wrap(self.console, max(1, width - 4))) if self.story else []

    @staticmethod
    def _story(lines: list):
        from rich.panel import Panel
        from rich.text import Text
        return Panel(Text("\n").join(lines), title="the day", title_align="left")

    def short(self, account: int, width: int) -> str:
        """The firm's name in ``width`` characters: whole if it fits, else its short name,
        cropped only if even that does not fit."""
        name = self.who(account)
        return name if len(name) <= width else _crop(self.short_names.get(account) or name, width)

    def _compact_trades(self, recent: list, width: int):
        """The last trades, newest first (the time is the head's), with the firms' names in
        the width the other columns leave (only the regions when even that is too narrow)."""
        from rich import box
        from rich.table import Table
        head = ("type", "symbol", "qty t", "price")
        cells = [(t["type"], t["symbol"], f"{t['qty']:,}", price(t["price"])) for t in recent]
        used = sum(max(len(row[i]) for row in (head, *cells)) for i in range(len(head)))
        name = (width - used - 5 * 3) // 2            # six columns, three characters between two
        table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False)
        for col in head:
            table.add_column(col, justify="right" if col in ("qty t", "price") else "left", no_wrap=True)
        if name >= 8:
            table.add_column("buyer", no_wrap=True)
            table.add_column("seller", no_wrap=True)
            for t, row in zip(recent, cells):
                table.add_row(*row, f"{t['buyer_region']} {self.short(t['buyer'], name - 3)}",
                              f"{t['seller_region']} {self.short(t['seller'], name - 3)}")
        else:
            table.add_column("flow", no_wrap=True)
            for t, row in zip(recent, cells):
                table.add_row(*row, f"{t['seller_region']}->{t['buyer_region']}")
        return table

    def report(self, eod: dict, path, summary: dict) -> None:
        """The end-of-day table (prices and volumes in one table when the terminal is wide
        enough, else in two, one above the other) and the vitality indicators, each one's text
        wrapped beside its label."""
        from rich.table import Table
        from rich.text import Text
        width = self.console.size.width
        self.console.print()
        title = f"end of day {eod['date']} ({path.name}{', in ' + str(path.parent) if self.keep else ''})"
        prices, volumes = eod_rows(eod)
        price_head = tuple(c for c in PRICE_HEAD if c != "kind")
        prices = [row[:1] + row[2:] for row in prices]
        whole = _rich_table(title, price_head + VOLUME_HEAD[1:], [p + v[1:] for p, v in zip(prices, volumes)])
        if self._natural_width(whole) <= width:
            self.console.print(whole)
        else:
            self.console.print(Text(title))
            self.console.print(_rich_table("prices, CNY per tonne", price_head, prices))
            # two-line headers: the volume table fits 80 columns with six-figure volumes
            head = tuple({"cross-reg": "cross-\nregional", "net SC->CQ": "net\nSC->CQ"}.get(c, c) for c in VOLUME_HEAD)
            self.console.print(_rich_table("volumes, tonnes", head, volumes))
        volume, items = vitality(summary)
        self.console.print(Text(volume))
        self.console.print()
        self.console.print(Text("MARKET VITALITY", style="bold"))
        grid = Table.grid(padding=(0, 2, 0, 0))
        grid.add_column(no_wrap=True)
        grid.add_column()
        for label, text in items:
            grid.add_row(Text(f"  {label}:"), Text(text))
        self.console.print(grid)
        if eod.get("market_makers"):
            self.console.print()
            self.console.print(Text("MARKET MAKERS", style="bold"))
            for line in maker_lines(eod["market_makers"], self.who, min(width, 100)):
                self.console.print(Text(line))


def _rich_table(title: str, head, rows):
    from rich.table import Table
    t = Table(title=title, title_justify="left")
    for col in head:
        t.add_column(col, justify="left" if col == "symbol" else "right", no_wrap=True)
    for row in rows:
        t.add_row(*row)
    return t


def _crop(text: str, width: int) -> str:
    return text if len(text) <= width else text[:width - 1] + "…"
