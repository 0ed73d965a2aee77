"""Market vitality over time, from the end-of-day reports (``eod-<YYYYMMDD>.json``).

Per trading day, week (ISO weeks, Monday to Sunday) and compliance period (the year up to
a deadline, 31 December unless told otherwise):

- **turnover rate**: allowances traded between participants (continuous, fixed-price and
  block trades; auctions are the issuer's or a seller's sale, not trading between holders)
  over the allowances in circulation at the end of that stretch (held in accounts; units
  surrendered are retired and leave it). The national market's is about 2% a year (§2.2);
- **activity**: trading days, trades, volume and amount by trade type, the average volume a day;
- **cross-regional share**: the volume whose buyer and seller are in different regions,
  over all volume;
- **net allowance flow** from Sichuan to Chongqing accounts (negative: the other way);
- for compliance periods, the **deadline share**: the part of the period's volume traded in
  its last 30 days, which says how much trading bunches before the deadline.

Reports written before the files counted trades and circulation have those as unknown
(None), and any figure that needs them is None too.
"""
from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["DayFigures", "read_days", "group", "turnover_so_far", "parse_deadline", "BY", "TRADE_TYPES",
           "DEADLINE_WINDOW_DAYS"]

TRADE_TYPES = ("continuous", "fixed", "block", "auction")
_SECONDARY = TRADE_TYPES[:3]
BY = ("day", "week", "period")
DEADLINE_WINDOW_DAYS = 30
_NAME = re.compile(r"eod-(\d{8})\.json")


@dataclass
class DayFigures:
    """One trading day's market-wide figures, summed over its instruments."""
    date: dt.date
    volume: dict[str, int]
    amount: dict[str, int]
    trades: int | None
    secondary_allowance_volume: int
    allowances_in_circulation: int | None
    cross_regional_volume: int
    net_allowance_flow_sc_to_cq: int
    instruments: list[str] = field(default_factory=list)


def parse_deadline(text: str) -> tuple[int, int]:
    """``MM-DD`` as (month, day); ValueError with the reason. 29 February is refused: most
    years have none.

    >>> parse_deadline("12-31")
    (12, 31)
    """
    m = re.fullmatch(r"(\d{1,2})-(\d{1,2})", text.strip())
    if not m:
        raise ValueError(f"deadline {text!r}: expected MM-DD, e.g. 12-31")
    month, day = int(m[1]), int(m[2])
    try:
        dt.date(2001, month, day)
    except ValueError:
        raise ValueError(f"deadline {text!r}: no such day in every year") from None
    return month, day


def _day(path: Path, date: dt.date) -> DayFigures:
    report = json.loads(path.read_text())
    if report.get("date") != date.strftime("%Y%m%d"):
        raise ValueError(f"its date is {report.get('date')!r}, not that of its name")
    rows = report["instruments"]
    volume = {t: sum(int(r[f"{t}_volume"]) for r in rows) for t in TRADE_TYPES}
    amount = {t: sum(int(r[f"{t}_amount"]) for r in rows) for t in TRADE_TYPES}
    allowances = [r for r in rows if r["kind"] == "ALLOWANCE"]
    trades = [r.get("trades") for r in rows]
    held = [r.get("in_circulation") for r in allowances]
    return DayFigures(
        date=date, volume=volume, amount=amount,
        trades=None if None in trades else sum(int(t) for t in trades),
        secondary_allowance_volume=sum(int(r[f"{t}_volume"]) for r in allowances for t in _SECONDARY),
        allowances_in_circulation=None if None in held else sum(int(h) for h in held),
        cross_regional_volume=sum(int(r["cross_regional_volume"]) for r in rows),
        net_allowance_flow_sc_to_cq=sum(int(r["net_flow_sc_to_cq"]) for r in allowances),
        instruments=[str(r["symbol"]) for r in rows])


def read_days(directory, first: dt.date | None = None, last: dt.date | None = None
              ) -> tuple[list[DayFigures], list[str]]:
    """The days reported in ``directory`` from ``first`` to ``last`` (both included; None: no
    bound), in date order, and one line per report that could not be read (left out)."""
    days, problems = [], []
    for path in sorted(Path(directory).glob("eod-*.json")):
        m = _NAME.fullmatch(path.name)
        if not m:
            continue
        try:
            date = dt.datetime.strptime(m[1], "%Y%m%d").date()
        except ValueError:
            problems.append(f"{path.name}: not a date")
            continue
        if (first and date < first) or (last and date > last):
            continue
        try:
            days.append(_day(path, date))
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
            problems.append(f"{path.name}: not an end-of-day report ({exc.__class__.__name__}: {exc})")
    return days, problems


def _period_end(date: dt.date, deadline: tuple[int, int]) -> dt.date:
    end = dt.date(date.year, *deadline)
    return end if date <= end else dt.date(date.year + 1, *deadline)


def _key(day: DayFigures, by: str, deadline: tuple[int, int]) -> tuple[str, dt.date, dt.date]:
    """(label, first date, last date) of the stretch ``day`` falls in."""
    d = day.date
    if by == "day":
        return d.isoformat(), d, d
    if by == "week":
        year, week, weekday = d.isocalendar()
        monday = d - dt.timedelta(days=weekday - 1)
        return f"{year}-W{week:02d}", monday, monday + dt.timedelta(days=6)
    end = _period_end(d, deadline)
    start = _period_end(end - dt.timedelta(days=366), deadline) + dt.timedelta(days=1)
    return f"period to {end.isoformat()}", start, end


def _ratio(num: int | None, den: int | None) -> float | None:
    return None if num is None or not den else round(num / den, 6)


def group(days: list[DayFigures], by: str, deadline: tuple[int, int] = (12, 31)) -> list[dict]:
    """The figures per ``by`` ("day", "week" or "period"), as JSON-ready dicts in date order."""
    if by not in BY:
        raise ValueError(f"by {by!r}: one of {', '.join(BY)}")
    stretches: dict[str, tuple[dt.date, dt.date, list[DayFigures]]] = {}
    for day in days:
        label, first, last = _key(day, by, deadline)
        stretches.setdefault(label, (first, last, []))[2].append(day)
    out = []
    for label, (first, last, members) in stretches.items():
        volume = {t: sum(d.volume[t] for d in members) for t in TRADE_TYPES}
        total = sum(volume.values())
        secondary = sum(d.secondary_allowance_volume for d in members)
        known = [d.allowances_in_circulation for d in members if d.allowances_in_circulation is not None]
        circulation = known[-1] if known else None               # at the stretch's last known close
        trades = [d.trades for d in members]
        cross = sum(d.cross_regional_volume for d in members)
        row = {
            "label": label, "from": first.isoformat(), "to": last.isoformat(), "trading_days": len(members),
            "volume_by_type": volume, "volume": total,
            "amount": sum(sum(d.amount.values()) for d in members),
            "trades": None if None in trades else sum(trades),
            "average_daily_volume": total // len(members),
            "secondary_allowance_volume": secondary, "allowances_in_circulation": circulation,
            "turnover_rate": _ratio(secondary, circulation) if circulation is not None else None,
            "cross_regional_volume": cross, "cross_regional_share": _ratio(cross, total) or 0.0,
            "net_allowance_flow_sc_to_cq": sum(d.net_allowance_flow_sc_to_cq for d in members),
        }
        if by == "period":
            window = last - dt.timedelta(days=DEADLINE_WINDOW_DAYS)
            late = sum(sum(d.volume.values()) for d in members if d.date > window)
            row["deadline_share"] = _ratio(late, total) or 0.0
        out.append(row)
    return out


def turnover_so_far(days: list[DayFigures], deadline: tuple[int, int] = (12, 31)) -> list[float | None]:
    """Each day's turnover rate of its compliance period so far: the period's secondary allowance
    volume up to that day over that day's allowances in circulation (None: not known)."""
    out, period, traded = [], None, 0
    for day in days:
        end = _period_end(day.date, deadline)
        if end != period:
            period, traded = end, 0
        traded += day.secondary_allowance_volume
        out.append(_ratio(traded, day.allowances_in_circulation) if day.allowances_in_circulation else None)
    return out
