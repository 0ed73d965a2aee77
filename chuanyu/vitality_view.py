"""How ``chuanyu report vitality`` shows its figures in the terminal: tables, with a bar for
the volume, read at a glance (the page of charts: :mod:`web.vitality_page`)."""
from __future__ import annotations

from rich.console import Console
from rich.table import Table

from exchange.vitality import DEADLINE_WINDOW_DAYS, DayFigures
from web.vitality_page import TITLES, cells, columns

__all__ = ["print_tables"]

_BAR = 12


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
        table = Table(title=TITLES[by], title_justify="left")
        for n, name in enumerate(columns(by)):
            table.add_column(name, justify="left" if n == 0 else "right", no_wrap=True)
            if n == 2:
                table.add_column("", no_wrap=True, style="cyan")
        for row in rows:
            texts = cells(by, row)
            bar = "█" * round(_BAR * row["volume"] / top)
            table.add_row(*texts[:3], bar, *texts[3:])
        console.print(table)
    console.print("turnover: allowances traded between participants (continuous, fixed-price, block) over "
                  "allowances in circulation at the end of the stretch; cross-reg.: volume whose buyer and "
                  "seller are in different regions; SC→CQ: net allowance flow from Sichuan to Chongqing "
                  f"accounts; last 30 d: the period's volume in its last {DEADLINE_WINDOW_DAYS} days.", style="dim")
