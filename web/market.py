"""What the public pages show, kept live from the daemon's market-data feed.

:class:`MarketView` follows the feed as any subscriber does (:class:`feeds.client.AsyncFeedClient`:
a snapshot first, then the live messages, a new snapshot after a gap), and keeps per
instrument the day so far: last price, open, high, low (continuous and fixed-price trades
only: block trades and auctions are disclosed apart, never in the price bars), volume and
amount by trade type, the latest trades and one-second bars for the intraday chart. A web
server started mid-day reads the day's trades before it from the trade tape
(``trades-<date>.csv``) in the state dir; trades are counted once by id.

Pages follow it through :meth:`MarketView.subscribe`: each live message arrives as the JSON
object ``chuanyu feed --json`` writes, and ``{"type": "resync"}`` when the view started anew
(a new snapshot, or a subscriber too slow to keep up): the page then asks for the whole state.
"""
from __future__ import annotations

import asyncio
import csv
import json
import logging
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

from feeds.messages import FeedType
from matching import InstrumentStatus, Side, TradeType

__all__ = ["MarketView", "InstrumentDay", "Trade", "intraday_bars"]

log = logging.getLogger("chuanyu.web")
CST = timezone(timedelta(hours=8))
_PRICED = ("CONTINUOUS", "FIXED")          # the trade types in the price bars and the close
TRADES_KEPT = 200
QUEUE_MESSAGES = 2_000                     # a page further behind than this starts anew


@dataclass(frozen=True)
class Trade:
    trade_id: int
    ts: datetime
    price: int                 # fen / t
    qty: int                   # t
    trade_type: str
    aggressor: str | None


@dataclass
class InstrumentDay:
    """One instrument's trading day so far, as the public sees it."""
    symbol: str
    date: str | None = None                 # YYYY-MM-DD (China Standard Time) of the trades counted
    previous_close: int | None = None
    open: int | None = None
    high: int | None = None
    low: int | None = None
    last: int | None = None
    volume: dict = field(default_factory=lambda: {t.name: 0 for t in TradeType})
    amount: dict = field(default_factory=lambda: {t.name: 0 for t in TradeType})
    trades: deque = field(default_factory=lambda: deque(maxlen=TRADES_KEPT))
    bars: dict = field(default_factory=dict)     # second of the day -> [open, high, low, close, volume]
    closed: dict | None = None              # the end-of-day statistics, once the day closed
    seen: set = field(default_factory=set)  # trade ids counted today

    @property
    def change(self) -> int | None:
        return None if self.last is None or self.previous_close is None else self.last - self.previous_close

    def new_day(self, date: str) -> None:
        if self.closed is not None:
            self.previous_close = self.closed["close"]
        elif self.last is not None and self.date is not None:
            self.previous_close = self.last
        fresh = InstrumentDay(self.symbol, date, self.previous_close)
        self.__dict__.update(fresh.__dict__)

    def add(self, t: Trade) -> bool:
        """Count a trade (False: counted already)."""
        if t.trade_id in self.seen:
            return False
        date = t.ts.strftime("%Y-%m-%d")
        if date != self.date:
            if self.date is not None and date < self.date:
                return False                    # yesterday's, read late: not today's figures
            self.new_day(date)
        self.seen.add(t.trade_id)
        self.trades.append(t)
        self.volume[t.trade_type] = self.volume.get(t.trade_type, 0) + t.qty
        self.amount[t.trade_type] = self.amount.get(t.trade_type, 0) + t.qty * t.price
        if t.trade_type in _PRICED:
            self.open = t.price if self.open is None else self.open
            self.high = t.price if self.high is None else max(self.high, t.price)
            self.low = t.price if self.low is None else min(self.low, t.price)
            self.last = t.price
            second = t.ts.hour * 3600 + t.ts.minute * 60 + t.ts.second
            bar = self.bars.get(second)
            if bar is None:
                self.bars[second] = [t.price, t.price, t.price, t.price, t.qty]
            else:
                bar[1], bar[2], bar[3] = max(bar[1], t.price), min(bar[2], t.price), t.price
                bar[4] += t.qty
        return True


def _cst(ts_ns: int) -> datetime:
    return datetime.fromtimestamp(ts_ns / 1e9, CST)


def _name(enum, value: int) -> str:
    try:
        return enum(int(value)).name
    except ValueError:
        return str(int(value))


class MarketView:
    """The feed's state and each instrument's day, for the pages.

    Parameters
    ----------
    state_dir : path
        The daemon's state dir: its ``endpoints.json`` names the feed (read again until the
        daemon has written it), its trade tape seeds the day.
    kinds : dict, optional
        Symbol -> ("ALLOWANCE" | "CER", region) from the market configuration, for the pages.
    references : dict, optional
        Symbol -> the configured reference price: the previous close until an end-of-day
        report or the feed's daily statistics give one.
    """

    def __init__(self, state_dir, kinds: dict | None = None, references: dict | None = None) -> None:
        self.state_dir = Path(state_dir)
        self.kinds = kinds or {}
        self.references = references or {}
        self.client = None
        self.days: dict[str, InstrumentDay] = {}
        self.error: str | None = "waiting for the daemon's feed"
        self.resyncs = 0
        self._queues: set[asyncio.Queue] = set()

    # ---------------------------------------------------------------- following the feed
    async def run(self) -> None:
        """Follow the feed until cancelled; wait for the daemon and start anew when it goes."""
        from feeds.client import AsyncFeedClient, FeedError
        while True:
            try:
                info = json.loads((self.state_dir / "endpoints.json").read_text())
                feed, snapshots = info.get("feed"), info.get("feed_snapshots")
                if not (feed and snapshots):
                    raise FileNotFoundError("the daemon runs with feeds off")
            except (OSError, ValueError) as exc:
                self.error = f"waiting for the daemon's feed ({exc.__class__.__name__})"
                await asyncio.sleep(0.5)
                continue
            client = AsyncFeedClient(feed, snapshots, timeout_ms=1000)
            try:
                await client.start()
                self.client = client
                self._load(client)
                self.error = None
                generation = client._generation
                while True:
                    rows = await client.poll(250)
                    if client._generation != generation:           # the client resynchronised
                        generation = client._generation
                        self._load(client)
                        continue
                    for row in rows:
                        self._apply(row)
            except FeedError as exc:
                self.error = f"the feed does not answer ({exc})"
                log.warning("web: %s", self.error)
            finally:
                client.close()
                self.client = None
            await asyncio.sleep(0.5)

    def _load(self, client) -> None:
        """Start anew from the client's snapshot, the trade tape and the end-of-day files."""
        self.resyncs += 1
        for symbol in client.symbols:
            self.days.setdefault(symbol, InstrumentDay(symbol))
        for n, symbol in enumerate(client.symbols):
            stats = client.latest.get((FeedType.DAILY_STATS, n))
            if stats is not None:
                self._closed(n, stats)
        self._previous_closes()
        self._read_tape()
        for row in client.trades:
            self._trade(row)
        self._broadcast({"type": "resync"})

    def _previous_closes(self) -> None:
        """The newest end-of-day report's closes (else the configured reference prices) where
        the feed gave none."""
        closes = dict(self.references)
        today = datetime.now(CST).strftime("%Y%m%d")
        reports = sorted(p for p in self.state_dir.glob("eod-*.json") if p.name[4:12] < today)
        if reports:
            try:
                closes.update({r["symbol"]: int(r["close"]) for r in json.loads(reports[-1].read_text())["instruments"]})
            except (OSError, ValueError, KeyError, TypeError) as exc:
                log.warning("web: %s: %s", reports[-1], exc)
        for symbol, day in self.days.items():
            if day.previous_close is None and symbol in closes:
                day.previous_close = closes[symbol]

    def _read_tape(self) -> None:
        today = datetime.now(CST).strftime("%Y%m%d")
        path = self.state_dir / f"trades-{today}.csv"
        try:
            with path.open(newline="") as f:
                for r in csv.DictReader(f):
                    day = self.days.get(r["symbol"])
                    if day is None:
                        continue
                    ts = datetime.fromisoformat(r["time"]).astimezone(CST)
                    day.add(Trade(int(r["trade_id"]), ts, int(r["price"]), int(r["qty"]), r["trade_type"],
                                  r["aggressor"] or None))
        except FileNotFoundError:
            pass
        except (OSError, ValueError, KeyError) as exc:
            log.warning("web: %s: %s (the day starts from the feed)", path, exc)

    def _trade(self, row) -> bool:
        symbol = self.client.symbols[int(row["instrument"])]
        side = int(row["side"])
        return self.days[symbol].add(Trade(int(row["trade_id"]), _cst(int(row["ts"])), int(row["price"]),
                                           int(row["qty"]), _name(TradeType, row["trade_type"]),
                                           _name(Side, side) if side else None))

    def _closed(self, n: int, row) -> None:
        day = self.days[self.client.symbols[n]]
        date = _cst(int(row["ts"])).strftime("%Y-%m-%d")
        if day.date is None or date >= day.date:
            if day.date != date:
                day.new_day(date)
            day.previous_close = int(row["previous"])
            day.closed = {"close": int(row["price"]), "volume": int(row["qty"])}

    def _apply(self, row) -> None:
        kind = int(row["msg_type"])
        if kind == FeedType.TRADE:
            self._trade(row)
        elif kind == FeedType.DAILY_STATS:
            self._closed(int(row["instrument"]), row)
        from chuanyu.cli_feed import message_json
        self._broadcast(message_json(row, self.client.symbols))

    # ---------------------------------------------------------------- pages
    def subscribe(self) -> asyncio.Queue:
        """A queue of the messages from now on (see the module's doc); :meth:`unsubscribe` it."""
        q: asyncio.Queue = asyncio.Queue(QUEUE_MESSAGES)
        self._queues.add(q)
        return q

    def unsubscribe(self, q: asyncio.Queue) -> None:
        self._queues.discard(q)

    def _broadcast(self, message: dict) -> None:
        for q in list(self._queues):
            try:
                q.put_nowait(message)
            except asyncio.QueueFull:              # too slow: it starts anew from the whole state
                while not q.empty():
                    q.get_nowait()
                q.put_nowait({"type": "resync"})

    @property
    def symbols(self) -> list[str]:
        return list(self.client.symbols) if self.client else list(self.days)

    def phase(self, symbol: str) -> str:
        if not self.client or symbol not in self.client.symbols:
            return "unknown"
        row = self.client.latest.get((FeedType.STATUS, self.client.symbols.index(symbol)))
        if row is None:
            return "TRADING"           # nothing published since the engine started: it starts TRADING
        return _name(InstrumentStatus, row["status"]) + (" · block window" if int(row["block_window"]) else "")

    def book(self, symbol: str, depth: int | None = None, book: int = TradeType.CONTINUOUS) -> dict:
        """``{"bids": [(price, qty, orders)], "asks": [...]}`` best first."""
        if not self.client or symbol not in self.client.symbols:
            return {"bids": [], "asks": []}
        view = self.client.books[self.client.symbols.index(symbol)].view(book, depth)
        return {"bids": [tuple(map(int, level)) for level in view.bids],
                "asks": [tuple(map(int, level)) for level in view.asks]}

    def summary(self, symbol: str) -> dict:
        """The overview's row of one instrument."""
        day = self.days.get(symbol) or InstrumentDay(symbol)
        book = self.book(symbol, 1)
        kind, region = self.kinds.get(symbol, ("", ""))
        return {"symbol": symbol, "kind": kind, "region": region, "phase": self.phase(symbol), "date": day.date,
                "last": day.last, "change": day.change, "previous_close": day.previous_close,
                "open": day.open, "high": day.high, "low": day.low, "volume": dict(day.volume),
                "amount": dict(day.amount), "closed": day.closed,
                "bid": book["bids"][0] if book["bids"] else None, "ask": book["asks"][0] if book["asks"] else None}


BAR_SECONDS = (1, 5, 15, 30, 60, 300, 900, 1800, 3600)
MAX_BARS = 60


def intraday_bars(day: InstrumentDay) -> tuple[int, list[tuple[str, int, int]]]:
    """The day's price and volume in at most about :data:`MAX_BARS` bars of a round length:
    ``(seconds a bar, [(label, close, volume)])``.

    >>> d = InstrumentDay("X", "2026-12-07")
    >>> for second, price in ((0, 5000), (30, 5010), (200, 4990)):
    ...     _ = d.add(Trade(second + 1, datetime(2026, 12, 7, 10, 0, second % 60, tzinfo=CST)
    ...                     + timedelta(seconds=second - second % 60), price, 10, "CONTINUOUS", None))
    >>> intraday_bars(d)
    (5, [('10:00:00', 5000, 10), ('10:00:30', 5010, 10), ('10:03:20', 4990, 10)])
    """
    if not day.bars:
        return 1, []
    seconds = sorted(day.bars)
    span = seconds[-1] - seconds[0]
    size = next((b for b in BAR_SECONDS if span / b <= MAX_BARS), BAR_SECONDS[-1])
    out: dict[int, list] = {}
    for s in seconds:
        bar = day.bars[s]
        key = s - s % size
        if key in out:
            out[key][1] = bar[3]
            out[key][2] += bar[4]
        else:
            out[key] = [key, bar[3], bar[4]]
    form = "{:02d}:{:02d}:{:02d}" if size < 60 else "{:02d}:{:02d}"
    return size, [((form.format(k // 3600, k // 60 % 60, k % 60) if size < 60 else form.format(k // 3600, k // 60 % 60)),
                   close, volume) for k, close, volume in out.values()]
