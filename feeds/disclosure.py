"""Disclosure files: the trade tape and the end-of-day report, from engine events.

The tape (``trades-<YYYYMMDD>.csv``) has one row per trade with its type, and the regions of
buyer and seller but never their accounts. The end-of-day report (``eod-<YYYYMMDD>.csv`` and
``.json``) has, per instrument, the day's statistics as the engine closed them (open, high,
low, close, previous close, change, volume and amount per trade type: block and auction
volume apart from the price bars), the cross-regional volume (trades whose buyer and seller
are in different regions), the net allowance flow from Sichuan to Chongqing accounts, the
number of trades, and the units in circulation at the close (held in accounts, whatever
their state; surrendered units are retired and no longer count). The report is filed under
the trading date its END_OF_DAY named (the schedule names it; an operator's end of day names
the schedule's date too), else under the date of the command's engine time. With designated market makers it also has, per maker and instrument, the day's quoting
against the obligation (:mod:`feeds.market_makers`): under ``market_makers`` in the JSON and
in ``market-makers-<YYYYMMDD>.csv``. Dates are trading dates in China Standard Time (UTC+8).

Both are derived from the daemon's journal: recovery replays every journaled batch's events
through :meth:`Disclosure.record` as the live loop does, onto the figures kept with the
snapshot it starts from (:meth:`Disclosure.state` / :meth:`Disclosure.restore`: the flows
since each instrument's last close, the makers' quoting so far and the newest date's report
rows). The tape is written
exactly once per trade id: at start the last whole row of the tape files gives the last trade
written (a torn last line is cut off), and replayed trades up to it are not written again.
"""
from __future__ import annotations

import csv
import io
import json
import logging
import os
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np

from matching import EVENT_DTYPE, EventKind, InstrumentKind, Region, Side, TradeType

from ._encode import tape
from .market_makers import MAKER_FIELDS, Quoting

__all__ = ["Disclosure", "TAPE_FIELDS", "REPORT_FIELDS"]

CST = timezone(timedelta(hours=8))
TAPE_FIELDS = ("trade_id", "time", "symbol", "trade_type", "price", "qty", "aggressor",
               "buyer_region", "seller_region")
REPORT_FIELDS = ("symbol", "kind", "region", "open", "high", "low", "close", "previous_close", "change",
                 *(f"{t.name.lower()}_{m}" for t in TradeType for m in ("volume", "amount")),
                 "cross_regional_volume", "net_flow_sc_to_cq", "trades", "in_circulation")
_ADDED_FIELDS = ("trades", "in_circulation")       # reports and snapshots from before them lack them


log = logging.getLogger("chuanyu.disclosure")
_UNASKED = -1
_TRADE = int(EventKind.TRADE)
_EOL = b"\r\n"
_TYPE_NAMES = ["", *(t.name for t in TradeType)]
_SIDE_NAMES = ["", Side.BUY.name, Side.SELL.name]
_REGION_NAMES = ["", Region.SC.name, Region.CQ.name]


def _date(ts: int) -> str:
    return datetime.fromtimestamp(ts / 1e9, CST).strftime("%Y%m%d")


def _trading_date(stats) -> str:
    """The trading date a DAILY_STATS event closed: the one its END_OF_DAY named, else the
    date of its engine time (a command that named none)."""
    named = int(stats["count"])
    try:
        return datetime(named // 10_000, named // 100 % 100, named % 100).strftime("%Y%m%d")
    except ValueError:
        return _date(int(stats["ts"]))


def _day_name(day: int) -> str:
    """``YYYYMMDD`` of a day number (days since 1970-01-01).

    >>> _day_name(20420)
    '20251128'
    """
    return (datetime(1970, 1, 1) + timedelta(days=day)).strftime("%Y%m%d")


class Disclosure:
    """Writes the tape as trades happen and the report at each instrument's end of day.

    Parameters
    ----------
    directory : path
        Where the files go (the daemon's state directory).
    instruments : sequence of Instrument
        By engine index.
    region_of : callable
        Account id -> ``Region`` (from the market configuration).
    obligations : sequence of feeds.market_makers.Obligation, optional
        The designated market makers' obligations, measured into the report.
    """

    def __init__(self, directory, instruments, region_of, obligations=()) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.instruments = list(instruments)
        self.region_of = region_of
        self._symbols = [ins.symbol for ins in self.instruments]
        self._allowance = np.array([ins.kind == InstrumentKind.ALLOWANCE for ins in self.instruments])
        self._cross = np.zeros(len(self.instruments), dtype=np.int64)     # since each instrument's last close
        self._net = np.zeros(len(self.instruments), dtype=np.int64)
        self._trades = np.zeros(len(self.instruments), dtype=np.int64)
        self._region = np.zeros(0, dtype=np.int64)                         # by account id; _UNASKED until asked
        self._tape_file = None
        self._tape_date = None
        self._report_date: str | None = None        # the newest date reported, and its rows so far
        self._report_rows: list[dict] = []
        self._maker_rows: list[dict] = []
        self.quoting = Quoting(obligations, self._symbols, [ins.status for ins in self.instruments])
        self._tape_through = self._scan_tapes()      # trades up to this id are on the tape already

    def record(self, events: np.ndarray) -> list[Path]:
        """Append the batch's trades to the tape; write the report of any day it closed.

        Trades up to the last one found on the tape at construction (recovery replaying what
        was written before a crash) count in the figures but are not written again.
        Returns the report files written.
        """
        if events.dtype != EVENT_DTYPE:
            raise TypeError("events must be an EVENT_DTYPE array")
        while True:
            blob, days, ends, unknown, closes = tape(events, self._symbols, _TYPE_NAMES, _SIDE_NAMES,
                                                     _REGION_NAMES, self._region, self._allowance, self._cross,
                                                     self._net)
            if not unknown:
                break
            self._ask_regions(unknown)
        makers = self.quoting.record(events)
        if len(days):
            traded = events["instrument"][events["kind"] == _TRADE]
            self._trades += np.bincount(traded, minlength=len(self._trades))[:len(self._trades)]
        skip = 0
        if len(days) and self._tape_through:               # replay: leave out the rows already written
            ids = events["trade_id"][events["kind"] == _TRADE]
            skip = int(np.searchsorted(ids, self._tape_through, side="right"))
            if skip < len(ids):
                self._tape_through = 0                     # past the tape's end: every later trade is new
        if skip < len(days):
            cuts = np.flatnonzero(days[skip + 1:] != days[skip:-1]) + skip + 1      # a batch spanning midnight
            begin = int(ends[skip - 1]) if skip else 0
            for first, last in zip([skip, *cuts.tolist()], [*cuts.tolist(), len(days)]):
                end = int(ends[last - 1])
                self._append(_day_name(int(days[first])), blob[begin:end])
                begin = end
        written = []
        for i in closes:
            stats = events[i]
            volumes = events[i + 1:i + 1 + len(TradeType)]
            volumes = volumes[(volumes["kind"] == EventKind.DAILY_VOLUME)
                              & (volumes["instrument"] == stats["instrument"])]
            written += self._close(stats, volumes, makers.get(int(stats["instrument"]), []))
        return written

    def _ask_regions(self, accounts: list) -> None:
        """Ask ``region_of`` once for each account not seen before."""
        top = max(accounts) + 1
        if top > len(self._region):
            grown = np.full(max(top, 2 * len(self._region)), _UNASKED, dtype=np.int64)
            grown[:len(self._region)] = self._region
            self._region = grown
        for a in accounts:
            region = int(self.region_of(a) or 0)
            self._region[a] = region if region in (Region.SC, Region.CQ) else 0

    def _append(self, date: str, lines: bytes) -> None:
        if self._tape_file is None or self._tape_date != date:
            if self._tape_file is not None:
                os.fsync(self._tape_file.fileno())     # a day's tape is whole on disk before the next
                self._tape_file.close()
            path = self.directory / f"trades-{date}.csv"
            self._tape_file = path.open("ab")
            self._tape_date = date
            if self._tape_file.tell() == 0:            # new, or cut to nothing (a torn header)
                self._tape_file.write((",".join(TAPE_FIELDS) + "\r\n").encode())
        self._tape_file.write(lines)
        self._tape_file.flush()            # readers of the tape see whole batches; a kill -9 loses none

    def sync(self) -> None:
        """Make the tape written so far durable (before a snapshot: replay starts after it)."""
        if self._tape_file is not None:
            self._tape_file.flush()
            os.fsync(self._tape_file.fileno())

    def close(self) -> None:
        """Close the open tape file (it stays open between batches: one write per batch)."""
        if self._tape_file is not None:
            self._tape_file.close()
            self._tape_file = None

    def _scan_tapes(self) -> int:
        """The trade id of the last whole row on the tape files (0: none); torn last lines are cut off.

        Rows are written in trade id order, one batch per write, so the highest last row of
        any tape file is the last trade written. Only the file being written when the daemon
        died can end in a torn line.
        """
        through = 0
        for path in self.directory.glob("trades-*.csv"):
            with path.open("r+b") as f:
                size = f.seek(0, io.SEEK_END)
                tail, start = b"", size
                while start > 0 and tail.count(_EOL) < 2:      # the last whole line and what follows it
                    start = max(0, start - 4096)
                    f.seek(start)
                    tail = f.read(size - start)
                cut = tail.rfind(_EOL) + len(_EOL) if _EOL in tail else 0
                if start + cut < size:
                    f.truncate(start + cut)                    # a crash mid-write: the rest of it comes from replay
                line = tail[:cut - len(_EOL)].rsplit(_EOL, 1)[-1] if cut else b""
            field = line.split(b",", 1)[0]
            if field.isdigit():                                # not the header
                through = max(through, int(field))
        return through

    def state(self) -> dict:
        """What the report needs from before now (JSON-ready): kept with each snapshot."""
        return {"cross": self._cross.tolist(), "net": self._net.tolist(), "trades": self._trades.tolist(),
                "report_date": self._report_date,
                "report": self._report_rows, "makers": self._maker_rows, "quoting": self.quoting.state()}

    def restore(self, state: dict) -> None:
        """Take back :meth:`state` (recovery, from a snapshot); ValueError if it does not fit."""
        cross = np.array(state["cross"], dtype=np.int64)
        net = np.array(state["net"], dtype=np.int64)
        trades = np.array(state.get("trades", np.zeros_like(net)), dtype=np.int64)   # older snapshots: none counted
        rows = [_with_added_fields(r) for r in state["report"]]
        n = len(self._cross)
        if cross.ndim != 1 or cross.shape != net.shape or cross.shape != trades.shape or len(cross) > n:
            raise ValueError(f"disclosure figures for {len(cross)} instruments, not {n}")
        # instruments listed after the snapshot (a new vintage) start from nothing
        cross, net, trades = (np.pad(a, (0, n - len(a))) for a in (cross, net, trades))
        if not all(isinstance(r, dict) and set(r) == set(REPORT_FIELDS) for r in rows):
            raise ValueError("disclosure report rows without the report's fields")
        makers = list(state.get("makers", []))          # snapshots from before market makers have none
        if not all(isinstance(r, dict) and set(r) == set(MAKER_FIELDS) for r in makers):
            raise ValueError("disclosure market maker rows without the report's fields")
        if "quoting" in state:
            self.quoting.restore(state["quoting"])
        date = state["report_date"]
        self._cross, self._net, self._trades = cross, net, trades
        self._report_date, self._report_rows = (None if date is None else str(date)), rows
        self._maker_rows = makers

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _close(self, stats, volumes, makers: list[dict]) -> list[Path]:
        n = int(stats["instrument"])
        ins = self.instruments[n]
        by_type = {int(v["trade_type"]): (int(v["qty"]), int(v["value"])) for v in volumes}
        row = {"symbol": ins.symbol, "kind": InstrumentKind(ins.kind).name, "region": Region(ins.region).name,
               "open": int(stats["open"]), "high": int(stats["high"]), "low": int(stats["low"]),
               "close": int(stats["price"]), "previous_close": int(stats["value"]),
               "change": int(stats["price"]) - int(stats["value"])}
        for t in TradeType:
            row[f"{t.name.lower()}_volume"], row[f"{t.name.lower()}_amount"] = by_type.get(int(t), (0, 0))
        row["cross_regional_volume"], row["net_flow_sc_to_cq"] = int(self._cross[n]), int(self._net[n])
        row["trades"], row["in_circulation"] = int(self._trades[n]), int(stats["leaves"])
        self._cross[n] = self._net[n] = self._trades[n] = 0
        date = _trading_date(stats)
        csv_path, json_path = self.directory / f"eod-{date}.csv", self.directory / f"eod-{date}.json"
        if date != self._report_date:
            # another date (a new day, or a replay reaching one after the snapshot): its rows so
            # far are those written already; replay rewrites any it repeats, in the same order
            self._report_date = date
            self._report_rows, self._maker_rows = _report_rows(json_path)
        report = [r for r in self._report_rows if r["symbol"] != ins.symbol] + [row]
        self._report_rows = report
        self._maker_rows = [r for r in self._maker_rows if r["symbol"] != ins.symbol] + makers
        written = [csv_path, json_path]
        _replace(csv_path, _csv(REPORT_FIELDS, report))
        if self._maker_rows:
            written.append(self.directory / f"market-makers-{date}.csv")
            _replace(written[-1], _csv(MAKER_FIELDS, self._maker_rows))
        _replace(json_path, json.dumps({"date": date, "instruments": report, "market_makers": self._maker_rows},
                                       indent=2).encode())
        return written


def _csv(fields, rows) -> bytes:
    text = io.StringIO(newline="")
    writer = csv.DictWriter(text, fields)
    writer.writeheader()
    writer.writerows(rows)
    return text.getvalue().encode()


def _report_rows(path: Path) -> tuple[list[dict], list[dict]]:
    """The instrument and market maker rows of an end-of-day report written before (none if
    there is none)."""
    try:
        report = json.loads(path.read_text())
        rows, makers = report["instruments"], report.get("market_makers", [])
        rows = [_with_added_fields(r) for r in rows]
        return ([r for r in rows if isinstance(r, dict) and set(r) == set(REPORT_FIELDS)],
                [r for r in makers if isinstance(r, dict) and set(r) == set(MAKER_FIELDS)])
    except FileNotFoundError:
        return [], []
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:   # damaged by hand: report anew
        log.warning("%s is not an end-of-day report (%s): writing it anew", path, exc,
                    extra={"event": "error", "error": f"{path.name}: {exc}"})
        return [], []


def _with_added_fields(row):
    """A report row written before the fields added since: those unknown (None; empty in the CSV)."""
    if isinstance(row, dict) and set(REPORT_FIELDS) - set(row) == set(_ADDED_FIELDS):
        return {**row, **dict.fromkeys(_ADDED_FIELDS)}
    return row


def _replace(path: Path, data: bytes) -> None:
    """Write a file whole: readers (and a restart) see the old one or the new one, never a part."""
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
