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

__all__ = ["Disclosure", "TAPE_FIELDS", "REPORT_FIELDS"]

CST = timezone(timedelta(hours=8))
TAPE_FIELDS = ("trade_id", "time", "symbol", "trade_type", "price", "qty", "aggressor",
               "buyer_region", "seller_region")
REPORT_FIELDS = ("symbol", "kind", "region", "open", "high", "low", "close", "previous_close", "change",
                 *(f"{t.name.lower()}_{m}" for t in TradeType for m in ("volume", "amount")),
                 "cross_regional_volume", "net_flow_sc_to_cq")


def _date(ts: int) -> str:
    return datetime.fromtimestamp(ts / 1e9, CST).strftime("%Y%m%d")


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
        self._flows = [self._no_flow() for _ in self.instruments]
        self._report: dict[str, list[dict]] = {}

    @staticmethod
    def _no_flow() -> dict:
        return {"cross_regional_volume": 0, "net_flow_sc_to_cq": 0}

    def record(self, events: np.ndarray) -> list[Path]:
        """Append the batch's trades to the tape; write the report of any day it closed.

        Returns the report files written.
        """
        if events.dtype != EVENT_DTYPE:
            raise TypeError("events must be an EVENT_DTYPE array")
        trades = events[events["kind"] == EventKind.TRADE]
        if len(trades):
            self._tape(trades)
        written = []
        for stats in events[events["kind"] == EventKind.DAILY_STATS]:
            volumes = events[(events["kind"] == EventKind.DAILY_VOLUME)
                             & (events["instrument"] == stats["instrument"])
                             & (events["seq"] > stats["seq"]) & (events["seq"] <= stats["seq"] + len(TradeType))]
            written += self._close(stats, volumes)
        return written

    def _regions(self, accounts: np.ndarray) -> np.ndarray:
        """Each account's region, asking ``region_of`` once per distinct account."""
        distinct, index = np.unique(accounts, return_inverse=True)
        return np.array([int(self.region_of(int(a))) for a in distinct])[index]

    def _tape(self, trades: np.ndarray) -> None:
        """Append the trades to the day's tape and add up the regional flows, per batch."""
        buyer, seller = self._regions(trades["buy_account"]), self._regions(trades["sell_account"])
        qty, instrument = trades["qty"], trades["instrument"]
        cross = buyer != seller
        allowance = np.array([ins.kind == InstrumentKind.ALLOWANCE for ins in self.instruments])[instrument]
        signed = np.where(seller == Region.SC, qty, -qty) * (cross & allowance)
        for n in np.unique(instrument).tolist():
            mine = instrument == n
            self._flows[n]["cross_regional_volume"] += int(qty[mine & cross].sum())
            self._flows[n]["net_flow_sc_to_cq"] += int(signed[mine].sum())
        local = trades["ts"].astype("datetime64[ns]") + np.timedelta64(8, "h")
        times = [t + "+08:00" for t in np.datetime_as_string(local, unit="s")]
        dates = np.datetime_as_string(local, unit="D")
        symbols = np.array([ins.symbol for ins in self.instruments])[instrument]
        types = np.array(["", *(t.name for t in TradeType)])[trades["trade_type"]]
        sides = np.array(["", Side.BUY.name, Side.SELL.name])[trades["side"]]
        names = np.array(["", Region.SC.name, Region.CQ.name])
        rows = zip(trades["trade_id"].tolist(), times, symbols.tolist(), types.tolist(), trades["price"].tolist(),
                   qty.tolist(), sides.tolist(), names[buyer].tolist(), names[seller].tolist())
        by_date: dict[str, list] = {}
        for date, row in zip(dates.tolist(), rows):
            by_date.setdefault(date.replace("-", ""), []).append(row)
        for date, rows in by_date.items():
            path = self.directory / f"trades-{date}.csv"
            new = not path.exists()
            with path.open("a", newline="") as f:
                writer = csv.writer(f)
                if new:
                    writer.writerow(TAPE_FIELDS)
                writer.writerows(rows)

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
        row.update(self._flows[n])
        self._flows[n] = self._no_flow()
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
