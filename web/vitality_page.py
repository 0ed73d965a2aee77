"""The vitality figures (:mod:`exchange.vitality`) as a page: charts and tables, no scripts.
Served by the web console (``/vitality``) and written by ``chuanyu report vitality``."""
from __future__ import annotations

from exchange.vitality import DEADLINE_WINDOW_DAYS, TRADE_TYPES, DayFigures, turnover_so_far

from .charts import Series, bar_chart, html_page, html_table, line_chart

__all__ = ["page", "columns", "cells", "TITLES"]

TITLES = {"day": "Per trading day", "week": "Per week (ISO weeks)", "period": "Per compliance period"}
_MAX_DAILY_BARS = 92           # more days than this are charted per week


def _pct(v: float | None, digits: int = 2) -> str:
    return "n/a" if v is None else f"{v:.{digits}%}"


def _int(v: int | None) -> str:
    return "n/a" if v is None else f"{v:,}"


def columns(by: str) -> list[str]:
    """The table's column names for ``by`` (day, week or period)."""
    return (["", "days", "volume t", "trades", "turnover", "cross-reg.", "SC→CQ t"]
            + ([f"last {DEADLINE_WINDOW_DAYS} d"] if by == "period" else []))


def cells(by: str, row: dict) -> list[str]:
    """One row of :func:`group`'s figures as the table's texts."""
    return ([row["label"], str(row["trading_days"]), _int(row["volume"]), _int(row["trades"]),
             _pct(row["turnover_rate"], 3), _pct(row["cross_regional_share"], 1),
             f"{row['net_allowance_flow_sc_to_cq']:+,}"]
            + ([_pct(row["deadline_share"], 1)] if by == "period" else []))


def page(tables: dict[str, list[dict]], days: list[DayFigures], deadline: tuple[int, int] = (12, 31)) -> str:
    """A page (HTML, no scripts) with the charts and the three tables."""
    daily = len(days) <= _MAX_DAILY_BARS
    rows = tables["day" if daily else "week"]
    labels = [r["label"] for r in rows]
    unit = "trading day" if daily else "week"
    sections = [
        "<h2>Volume</h2>",
        _figure(bar_chart(f"Volume by trade type, per {unit}", labels,
                          [Series(t, [r["volume_by_type"][t] for r in rows]) for t in TRADE_TYPES], y_label="t"),
                "Block trades and auctions are disclosed apart from the continuous and fixed-price trades."),
        "<h2>Turnover</h2>",
        _figure(line_chart("Turnover rate of the compliance period so far", [d.date.isoformat() for d in days],
                           _per_period(days, turnover_so_far(days, deadline), tables["period"]),
                           y_label="share of circulation", fmt=lambda v: f"{v:.2%}"),
                "Allowances traded between participants since the period began, over the allowances in "
                "circulation that day."),
        "<h2>Cross-regional trading</h2>",
        _figure(line_chart(f"Cross-regional share of volume, per {unit}", labels,
                           [Series("cross-regional", [r["cross_regional_share"] for r in rows])],
                           y_label="share of volume", fmt=lambda v: f"{v:.0%}"),
                "Volume whose buyer and seller are in different regions, over all volume."),
        _figure(bar_chart("Net allowance flow from Sichuan to Chongqing, per week",
                          [r["label"] for r in tables["week"]],
                          [Series("SC → CQ", [r["net_allowance_flow_sc_to_cq"] for r in tables["week"]])],
                          stacked=False, y_label="t"),
                "Positive: Chongqing accounts bought more allowances from Sichuan accounts than they sold them."),
    ]
    for by in ("period", "week", "day"):
        sections.append(html_table(columns(by), [cells(by, r) for r in tables[by]], caption=TITLES[by]))
    return html_page(f"Market vitality {days[0].date} to {days[-1].date}", sections,
                     note=f"{len(days)} trading day(s) reported. Turnover: allowances traded between participants "
                          "(continuous, fixed-price and block) over those in circulation at the end of the stretch.")


def _figure(svg: str, caption: str) -> str:
    return f"<figure>{svg}<figcaption>{caption}</figcaption></figure>"


def _per_period(days: list[DayFigures], values: list, periods: list[dict]) -> list[Series]:
    """One series per compliance period (its days' values, None elsewhere): a line never joins two."""
    out = []
    for p in periods:
        inside = [p["from"] <= d.date.isoformat() <= p["to"] for d in days]
        out.append(Series(p["label"], [v if i else None for v, i in zip(values, inside)]))
    return out
