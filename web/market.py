"""What the public pages show, kept live from the daemon's market-data feed.

:class:`MarketView` follows the feed as any subscriber does (:class:`feeds.client.AsyncFeedClient`:
a snapshot first, then the live messages, a new snapshot after a gap), and keeps per
instrument the day so far: last price, open, high, low (continuous and fixed-price trades
only: block trades and auctions are disclosed apart, never in the price bars), volume and
amount by trade type, the latest trades and one-second bars for the intraday chart. A web
server started mid-day reads the day's trades before it from the trade tape
(``trades-<date>.csv``) in the state dir; trades are counted once by id.

Pages follow it through :meth:`MarketView.subscribe`: after each batch of feed messages one
``{"type": "update", "symbols": [...], "trades": {symbol: count}}`` names the instruments the
batch touched and how many trades each had, and
``{"type": "resync"}`` says the view started anew (a new snapshot, or a subscriber too slow to
keep up): the page then asks for the whole state. Updates are per batch, not per message, and
trades are counted with array operations per batch and instrument, so a flat-out feed costs
this process little more than receiving it.
"""
from __future__ import annotations

import asyncio
import csv
import json
import logging
import time
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np

from feeds.client import AsyncFeedClient, FeedError
from feeds.messages import FEED_DTYPE, FeedType
from matching import InstrumentStatus, Side, TradeType
from matching.dtypes import take_rows

__all__ = ["MarketView", "InstrumentDay", "Trade", "intraday_bars"]

log = logging.getLogger("chuanyu.web")
CST = timezone(timedelta(hours=8))
_PRICED = ("CONTINUOUS", "FIXED")          # the trade types in the price bars and the close
TRADES_KEPT = 200
QUEUE_MESSAGES = 2_000                     # a page further behind than this starts anew
_TAPE_CHUNK_BYTES = 8 << 20
RESYNC_EVERY_S = 5.0                       # at most one feed snapshot this often
# Read the feed at most this often: a busy feed's frames wait in the socket's queue and come in
# one drain, whose fixed costs (the array work per batch, a page notice) are paid once, not
# per frame. A page hears of a trade this much later at most.
DRAIN_EVERY_S = 0.05


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
    through: int = 0                        # the highest trade id counted (ids only grow)

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
        """Count a trade (False: counted already, or of a day before this one): the plain rule,
        one trade at a time, that :meth:`add_rows` follows per batch (the tests hold them equal)."""
        if t.trade_id <= self.through:
            return False
        date = t.ts.strftime("%Y-%m-%d")
        if date != self.date:
            if self.date is not None and date < self.date:
                return False                    # yesterday's, read late: not today's figures
            self.new_day(date)
        self.through = t.trade_id
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


    def add_rows(self, rows) -> int:
        """Count a batch of this instrument's TRADE messages (FEED_DTYPE rows in feed order) at
        once: per batch, not per trade, as a flat-out feed needs. The number counted."""
        if not len(rows):
            return 0
        if rows["trade_id"][0] <= self.through:              # ids grow in feed order: most batches are all new
            rows = take_rows(rows, rows["trade_id"] > self.through)
            if not len(rows):
                return 0
        local_s = rows["ts"] // 1_000_000_000 + _CST_OFFSET_S
        days = local_s // 86_400
        cuts = np.flatnonzero(days[1:] != days[:-1]) + 1          # a batch across midnight: day by day
        counted = 0
        for part, seconds in zip(np.split(rows, cuts), np.split(local_s % 86_400, cuts)):
            date = (datetime(1970, 1, 1) + timedelta(days=int(part["ts"][0] // 1_000_000_000 + _CST_OFFSET_S)
                                                     // 86_400)).strftime("%Y-%m-%d")
            if date != self.date:
                if self.date is not None and date < self.date:
                    continue
                self.new_day(date)
            counted += self._add_day_rows(part, seconds)
        return counted

    def _add_day_rows(self, rows, seconds) -> int:
        prices, qtys, types = rows["price"].astype(np.int64), rows["qty"].astype(np.int64), rows["trade_type"]
        for t in TradeType:
            mask = types == t
            if mask.any():
                self.volume[t.name] += int(qtys[mask].sum())
                self.amount[t.name] += int((qtys[mask] * prices[mask]).sum())
        priced = (types == TradeType.CONTINUOUS) | (types == TradeType.FIXED)
        if priced.any():
            p, q, sec = prices[priced], qtys[priced], seconds[priced]
            self.open = int(p[0]) if self.open is None else self.open
            self.high = int(p.max()) if self.high is None else max(self.high, int(p.max()))
            self.low = int(p.min()) if self.low is None else min(self.low, int(p.min()))
            self.last = int(p[-1])
            starts = np.flatnonzero(np.r_[True, sec[1:] != sec[:-1]])       # feed order is time order
            ends = np.r_[starts[1:], len(sec)] - 1
            for second, first, high, low, close, volume in zip(
                    sec[starts].tolist(), p[starts].tolist(), np.maximum.reduceat(p, starts).tolist(),
                    np.minimum.reduceat(p, starts).tolist(), p[ends].tolist(), np.add.reduceat(q, starts).tolist()):
                bar = self.bars.get(second)
                if bar is None:
                    self.bars[second] = [first, high, low, close, volume]
                else:
                    bar[1], bar[2], bar[3], bar[4] = max(bar[1], high), min(bar[2], low), close, bar[4] + volume
        for row in rows[-TRADES_KEPT:]:                                  # only what the page can show
            side = int(row["side"])
            self.trades.append(Trade(int(row["trade_id"]), _cst(int(row["ts"])), int(row["price"]), int(row["qty"]),
                                     _name(TradeType, row["trade_type"]), _name(Side, side) if side else None))
        self.through = int(rows["trade_id"][-1])
        return len(rows)


_CST_OFFSET_S = 8 * 3600


def _cst(ts_ns: int) -> datetime:
    """Engine time (ns) in China Standard Time, exactly: ``ts / 1e9`` as a float rounds the last
    nanoseconds of a second up into the next one."""
    seconds, ns = divmod(int(ts_ns), 1_000_000_000)
    return datetime.fromtimestamp(seconds, CST).replace(microsecond=ns // 1000)


def _name(enum, value: int) -> str:
    try:
        return enum(int(value)).name
    except ValueError:
        return str(int(value))


class _PacedFeedClient(AsyncFeedClient):
    """A feed client that takes a new snapshot at most every :data:`RESYNC_EVERY_S`: under a
    flood this process cannot follow in Python, it falls behind, its socket drops what it
    cannot hold (ZeroMQ drops at the publisher's queue for it, which costs the daemon
    nothing), and it catches up from a snapshot now and then instead of asking the daemon for
    one on every gap."""
    _last_resync = float("-inf")

    async def resync(self) -> None:
        wait = self._last_resync + RESYNC_EVERY_S - time.monotonic()
        if wait > 0:
            await asyncio.sleep(wait)
        self._last_resync = time.monotonic()
        await super().resync()


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
        self._tape: tuple[Path | None, int] = (None, 0)      # the tape file read, and how far

    # ---------------------------------------------------------------- following the feed
    async def run(self) -> None:
        """Follow the feed until cancelled; wait for the daemon and start anew when it goes."""
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
            client = _PacedFeedClient(feed, snapshots, timeout_ms=1000, max_trades=TRADES_KEPT)
            try:
                await client.start()
                self.client = client
                self._load(client)
                self.error = None
                resyncs = client.resyncs
                while True:
                    rows = await client.poll(250)
                    if client.resyncs != resyncs:                  # the client took a new snapshot
                        resyncs = client.resyncs
                        self._load(client)
                        continue
                    if len(rows):
                        self._apply(rows)
                        await asyncio.sleep(DRAIN_EVERY_S)
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
        if client.trades:
            self._trades(np.array(client.trades, dtype=client.trades[0].dtype))
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
        """Count today's trades from the trade tape, from where the last reading stopped: the
        whole file once, then only what the daemon appended since (after a resync)."""
        today = datetime.now(CST).strftime("%Y%m%d")
        path = self.state_dir / f"trades-{today}.csv"
        if self._tape[0] != path:
            self._tape = (path, 0)
        try:
            with path.open("rb") as f:
                f.seek(self._tape[1])
                while True:
                    chunk = f.readlines(_TAPE_CHUNK_BYTES)
                    if not chunk:
                        break
                    whole = chunk if chunk[-1].endswith(b"\n") else chunk[:-1]     # a row being written: later
                    self._tape = (path, self._tape[1] + sum(len(line) for line in whole))
                    self._count_tape_lines(whole)
                    if len(whole) < len(chunk):
                        break
        except FileNotFoundError:
            pass
        except (OSError, ValueError, KeyError, IndexError) as exc:
            log.warning("web: %s: %s (the day starts from the feed)", path, exc)

    def _count_tape_lines(self, lines: list[bytes]) -> None:
        index = {symbol: n for n, symbol in enumerate(self.client.symbols)}
        types = {t.name: int(t) for t in TradeType}
        sides = {"": 0, Side.BUY.name: int(Side.BUY), Side.SELL.name: int(Side.SELL)}
        midnight: dict[str, int] = {}
        columns = ([], [], [], [], [], [], [])       # instrument, trade id, seconds, price, qty, type, side
        for r in csv.reader(line.decode() for line in lines):
            if not r or r[0] == "trade_id" or r[2] not in index:
                continue
            stamp = r[1]                                     # 2026-12-07T10:31:05+08:00: China Standard Time
            day = stamp[:10]
            if day not in midnight:
                midnight[day] = int(datetime.fromisoformat(day).replace(tzinfo=CST).timestamp())
            seconds = midnight[day] + int(stamp[11:13]) * 3600 + int(stamp[14:16]) * 60 + int(stamp[17:19])
            for column, value in zip(columns, (index[r[2]], int(r[0]), seconds, int(r[4]), int(r[5]), types[r[3]],
                                               sides.get(r[6], 0))):
                column.append(value)
        if columns[0]:
            rows = np.zeros(len(columns[0]), dtype=FEED_DTYPE)
            rows["msg_type"] = FeedType.TRADE
            for name, column in zip(("instrument", "trade_id", "ts", "price", "qty", "trade_type", "side"), columns):
                rows[name] = column
            rows["ts"] *= 1_000_000_000
            self._trades(rows)

    def _trades(self, rows) -> dict[str, int]:
        """Count TRADE messages, instrument by instrument; ``{symbol: trades counted}``."""
        counted = {}
        instruments = rows["instrument"]
        for n in np.unique(instruments).tolist():
            symbol = self.client.symbols[n]
            k = self.days[symbol].add_rows(take_rows(rows, instruments == n))
            if k:
                counted[symbol] = k
        return counted

    def _closed(self, n: int, row) -> None:
        day = self.days[self.client.symbols[n]]
        date = _cst(int(row["ts"])).strftime("%Y-%m-%d")
        if day.date is None or date >= day.date:
            if day.date != date:
                day.new_day(date)
            day.previous_close = int(row["previous"])
            day.closed = {"close": int(row["price"]), "volume": int(row["qty"])}

    def _apply(self, rows) -> None:
        """One batch of live messages (a FEED_DTYPE array, as the client applied them)."""
        symbols = self.client.symbols
        kinds = rows["msg_type"]
        traded = self._trades(take_rows(rows, kinds == FeedType.TRADE))
        for row in take_rows(rows, kinds == FeedType.DAILY_STATS):
            self._closed(int(row["instrument"]), row)
        if self._queues:
            touched = np.unique(rows["instrument"]).tolist()
            self._broadcast({"type": "update", "symbols": [symbols[n] for n in touched if 0 <= n < len(symbols)],
                             "trades": traded})

    # ---------------------------------------------------------------- pages
    def subscribe(self) -> asyncio.Queue:
        """A queue of the messages from now on (see the module's doc); :meth:`unsubscribe` it."""
        q: asyncio.Queue = asyncio.Queue(QUEUE_MESSAGES)
        self._queues.add(q)
        return q

    @property
    def subscribers(self) -> int:
        return len(self._queues)

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
