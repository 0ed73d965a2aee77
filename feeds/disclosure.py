"""Disclosure files: the trade tape and the end-of-day report, from engine events.

The tape (``trades-<YYYYMMDD>.csv``) has one row per trade with its type, and the regions of
buyer and seller but never their accounts. The end-of-day report (``eod-<YYYYMMDD>.csv`` and
``.json``) has, per instrument, the day's statistics as the engine closed them (open, high,
low, close, previous close, change, volume and amount per trade type: block and auction
volume apart from the price bars), the cross-regional volume (trades whose buyer and seller
are in different regions) and the net allowance flow from Sichuan to Chongqing accounts.
Dates are trading dates in China Standard Time (UTC+8).
"""
from __future__ import annotations

import csv
import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np

from matching import EVENT_DTYPE, EventKind, InstrumentKind, Region, Side, TradeType

from ._encode import tape

__all__ = ["Disclosure", "TAPE_FIELDS", "REPORT_FIELDS"]

CST = timezone(timedelta(hours=8))
TAPE_FIELDS = ("trade_id", "time", "symbol", "trade_type", "price", "qty", "aggressor",
               "buyer_region", "seller_region")
REPORT_FIELDS = ("symbol", "kind", "region", "open", "high", "low", "close", "previous_close", "change",
                 *(f"{t.name.lower()}_{m}" for t in TradeType for m in ("volume", "amount")),
                 "cross_regional_volume", "net_flow_sc_to_cq")


_UNASKED = -1
_TYPE_NAMES = ["", *(t.name for t in TradeType)]
_SIDE_NAMES = ["", Side.BUY.name, Side.SELL.name]
_REGION_NAMES = ["", Region.SC.name, Region.CQ.name]


def _date(ts: int) -> str:
    return datetime.fromtimestamp(ts / 1e9, CST).strftime("%Y%m%d")


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
    """

    def __init__(self, directory, instruments, region_of) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.instruments = list(instruments)
        self.region_of = region_of
        self._symbols = [ins.symbol for ins in self.instruments]
        self._allowance = np.array([ins.kind == InstrumentKind.ALLOWANCE for ins in self.instruments])
        self._cross = np.zeros(len(self.instruments), dtype=np.int64)     # since each instrument's last close
        self._net = np.zeros(len(self.instruments), dtype=np.int64)
        self._region = np.zeros(0, dtype=np.int64)                         # by account id; _UNASKED until asked
        self._tape_file = None
        self._tape_date = None
        self._report: dict[str, list[dict]] = {}

    def record(self, events: np.ndarray) -> list[Path]:
        """Append the batch's trades to the tape; write the report of any day it closed.

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
        if len(days):
            cuts = np.flatnonzero(days[1:] != days[:-1]) + 1      # a batch spanning midnight
            begin = 0
            for first, last in zip([0, *cuts.tolist()], [*cuts.tolist(), len(days)]):
                end = int(ends[last - 1])
                self._append(_day_name(int(days[first])), blob[begin:end])
                begin = end
        written = []
        for i in closes:
            stats = events[i]
            volumes = events[i + 1:i + 1 + len(TradeType)]
            volumes = volumes[(volumes["kind"] == EventKind.DAILY_VOLUME)
                              & (volumes["instrument"] == stats["instrument"])]
            written += self._close(stats, volumes)
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
                self._tape_file.close()
            path = self.directory / f"trades-{date}.csv"
            new = not path.exists()
            self._tape_file = path.open("ab")
            self._tape_date = date
            if new:
                self._tape_file.write((",".join(TAPE_FIELDS) + "\r\n").encode())
        self._tape_file.write(lines)
        self._tape_file.flush()            # readers of the tape see whole batches

    def close(self) -> None:
        """Close the open tape file (it stays open between batches: one write per batch)."""
        if self._tape_file is not None:
            self._tape_file.close()
            self._tape_file = None

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _close(self, stats, volumes) -> list[Path]:
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
        self._cross[n] = self._net[n] = 0
        date = _date(int(stats["ts"]))
        report = [r for r in self._report.get(date, []) if r["symbol"] != ins.symbol] + [row]
        self._report[date] = report
        csv_path, json_path = self.directory / f"eod-{date}.csv", self.directory / f"eod-{date}.json"
        with csv_path.open("w", newline="") as f:
            writer = csv.DictWriter(f, REPORT_FIELDS)
            writer.writeheader()
            writer.writerows(report)
        json_path.write_text(json.dumps({"date": date, "instruments": report}, indent=2))
        return [csv_path, json_path]
