"""How ``chuanyu report vitality`` shows its figures: tables in the terminal (with a bar for
the volume, read at a glance) and a page of charts and tables (see :mod:`exchange.vitality`)."""
from __future__ import annotations

from rich.console import Console
from rich.table import Table

from exchange.vitality import DEADLINE_WINDOW_DAYS, TRADE_TYPES, DayFigures, turnover_so_far

from .charts import Series, bar_chart, html_page, html_table, line_chart

__all__ = ["print_tables", "page"]

_BAR = 12
_TITLES = {"day": "Per trading day", "week": "Per week (ISO weeks)", "period": "Per compliance period"}
_MAX_DAILY_BARS = 92           # more days than this are charted per week


def _pct(v: float | None, digits: int = 2) -> str:
    return "n/a" if v is None else f"{v:.{digits}%}"


def _int(v: int | None) -> str:
    return "n/a" if v is None else f"{v:,}"


def _columns(by: str) -> list[str]:
    return (["", "days", "volume t", "trades", "turnover", "cross-reg.", "SC→CQ t"]
            + (["last 30 d"] if by == "period" else []))


def _cells(by: str, row: dict) -> list[str]:
    return ([row["label"], str(row["trading_days"]), _int(row["volume"]), _int(row["trades"]),
             _pct(row["turnover_rate"], 3), _pct(row["cross_regional_share"], 1),
             f"{row['net_allowance_flow_sc_to_cq']:+,}"]
            + ([_pct(row["deadline_share"], 1)] if by == "period" else []))


def print_tables(tables: dict[str, list[dict]], shown: list[str], days: list[DayFigures],
                 console: Console | None = None) -> None:
    """One table per granularity in ``shown``, with a bar of each row's volume."""
    if console is None:
        console = Console()
        if not console.is_terminal:             # piped or saved: whole rows, not the default 80 columns
            console = Console(width=max(console.width, 120))
    console.print(f"Market vitality {days[0].date} to {days[-1].date}: {len(days)} trading day(s) reported")
    for by in shown:
        rows = tables[by]
        top = max((r["volume"] for r in rows), default=0) or 1
        table = Table(title=_TITLES[by], title_justify="left")
        for n, name in enumerate(_columns(by)):
            table.add_column(name, justify="left" if n == 0 else "right", no_wrap=True)
            if n == 2:
                table.add_column("", no_wrap=True, style="cyan")
        for row in rows:
            cells = _cells(by, row)
            bar = "█" * round(_BAR * row["volume"] / top)
            table.add_row(*cells[:3], bar, *cells[3:])
        console.print(table)
    console.print("turnover: allowances traded between participants (continuous, fixed-price, block) over "
                  "allowances in circulation at the end of the stretch; cross-reg.: volume whose buyer and "
                  "seller are in different regions; SC→CQ: net allowance flow from Sichuan to Chongqing "
                  f"accounts; last 30 d: the period's volume in its last {DEADLINE_WINDOW_DAYS} days.", style="dim")


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
        sections.append(html_table(_columns(by), [_cells(by, r) for r in tables[by]], caption=_TITLES[by]))
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
