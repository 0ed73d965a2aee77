"""Charts drawn on the server as SVG, and pages that hold them.

No JavaScript and nothing fetched: an SVG chart is text in the page, readable by any browser
(and by a screen reader: each chart has a title and a description), and a page is one file a
person can mail or archive. Used by the web console's pages, the reports (``chuanyu report
vitality``) and the benchmark pages (``--html``).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from html import escape
from typing import Callable, Sequence

__all__ = ["Series", "bar_chart", "line_chart", "nice_ticks", "html_page", "html_table"]

PALETTE = ("#3366aa", "#ee8833", "#44aa66", "#aa4488", "#cc3333", "#777777", "#22aaaa", "#aaaa22")
_FONT = 'font-family="system-ui, sans-serif" font-size="12"'
_MARGIN = dict(left=72, right=16, top=34, bottom=48)


@dataclass(frozen=True)
class Series:
    """One named row of values (None: no value there)."""
    name: str
    values: Sequence[float | None]


def nice_ticks(low: float, high: float, count: int = 5) -> list[float]:
    """Round tick values spanning ``[low, high]``: steps of 1, 2 or 5 times a power of ten.

    >>> nice_ticks(0, 97)
    [0, 20, 40, 60, 80, 100]
    >>> nice_ticks(0, 0)
    [0, 1]
    >>> nice_ticks(-300, 1000)
    [-500, 0, 500, 1000]
    >>> nice_ticks(0, 0.00424)
    [0, 0.001, 0.002, 0.003, 0.004, 0.005]
    """
    if not high > low:
        return [low, low + 1]
    raw = (high - low) / max(count, 1)
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= raw)
    first = math.floor(low / step)
    last = math.ceil(high / step - 1e-9)
    return [int(k * step) if float(k * step).is_integer() else round(k * step, 12) for k in range(first, last + 1)]


def _number(v: float) -> str:
    """An axis label: 12,000 / 1.5M / 0.25."""
    a = abs(v)
    if a >= 1e9:
        return f"{v / 1e9:g}G"
    if a >= 1e6:
        return f"{v / 1e6:g}M"
    if a >= 1e4:
        return f"{v / 1e3:g}k"
    return f"{v:,g}"


class _Frame:
    """The plot area of one chart and its y scale."""

    def __init__(self, width: int, height: int, ticks: list[float]) -> None:
        self.width, self.height = width, height
        self.x0, self.x1 = _MARGIN["left"], width - _MARGIN["right"]
        self.y0, self.y1 = height - _MARGIN["bottom"], _MARGIN["top"]
        self.low, self.high = ticks[0], ticks[-1]
        self.ticks = ticks

    def y(self, v: float) -> float:
        return self.y0 - (v - self.low) / (self.high - self.low) * (self.y0 - self.y1)

    def axes(self, title: str, description: str, y_label: str, fmt: Callable[[float], str]) -> list[str]:
        out = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {self.width} {self.height}" '
               f'width="100%" role="img" {_FONT}>',
               f"<title>{escape(title)}</title>", f"<desc>{escape(description)}</desc>",
               f'<text x="{self.x0}" y="18" font-size="14" font-weight="bold">{escape(title)}</text>']
        for t in self.ticks:
            y = self.y(t)
            out.append(f'<line x1="{self.x0}" x2="{self.x1}" y1="{y:.1f}" y2="{y:.1f}" stroke="#dddddd"/>')
            out.append(f'<text x="{self.x0 - 6}" y="{y + 4:.1f}" text-anchor="end">{escape(fmt(t))}</text>')
        out.append(f'<line x1="{self.x0}" x2="{self.x0}" y1="{self.y0}" y2="{self.y1}" stroke="#888888"/>')
        if y_label:
            out.append(f'<text transform="translate(14 {(self.y0 + self.y1) / 2:.0f}) rotate(-90)" '
                       f'text-anchor="middle">{escape(y_label)}</text>')
        return out

    def legend(self, names: Sequence[str], marks: str = "rect") -> list[str]:
        out, x = [], self.x1
        for n in reversed(range(len(names))):
            x -= 14 + 7 * len(names[n]) + 12
            color = PALETTE[n % len(PALETTE)]
            mark = (f'<rect x="{x}" y="9" width="10" height="10" fill="{color}"/>' if marks == "rect" else
                    f'<line x1="{x - 2}" x2="{x + 12}" y1="14" y2="14" stroke="{color}" stroke-width="2.5"/>')
            out.append(mark + f'<text x="{x + 14}" y="18">{escape(names[n])}</text>')
        return out


def _x_labels(frame: _Frame, labels: Sequence[str], xs: Sequence[float]) -> list[str]:
    """At most about one label every 60 px, the last always shown."""
    every = max(1, math.ceil(len(labels) * 60 / max(frame.x1 - frame.x0, 1)))
    out = []
    for n, (label, x) in enumerate(zip(labels, xs)):
        if n % every == 0 or n == len(labels) - 1:
            out.append(f'<text x="{x:.1f}" y="{frame.y0 + 16}" text-anchor="middle">{escape(label)}</text>')
    return out


def bar_chart(title: str, labels: Sequence[str], series: Sequence[Series], *, stacked: bool = True,
              y_label: str = "", fmt: Callable[[float], str] = _number, width: int = 860, height: int = 300) -> str:
    """Bars per label, one colour per series, stacked (or side by side), as an SVG element.

    Each bar carries a tooltip (``<title>``) with its label, series and value.
    """
    n = len(labels)
    if any(len(s.values) != n for s in series):
        raise ValueError("every series needs one value per label")
    if stacked and any((v or 0) < 0 for s in series for v in s.values):
        raise ValueError("stacked bars need values >= 0")
    totals = [sum((s.values[i] or 0) for s in series) if stacked else
              max([(s.values[i] or 0) for s in series], default=0) for i in range(n)]
    lowest = min([0] + [v for s in series for v in s.values if v is not None])     # bars below 0 hang down
    frame = _Frame(width, height, nice_ticks(lowest, max(totals, default=0)))
    slot = (frame.x1 - frame.x0) / max(n, 1)
    bar = slot * 0.75 / (1 if stacked else max(len(series), 1))
    out = frame.axes(title, f"{title}: {len(series)} series over {n} bars", y_label, fmt)
    xs = []
    for i, label in enumerate(labels):
        left = frame.x0 + i * slot + slot * 0.125
        xs.append(frame.x0 + (i + 0.5) * slot)
        base = 0.0
        for k, s in enumerate(series):
            v = s.values[i]
            if not v:
                continue
            x = left + (0 if stacked else k * bar)
            bottom = base if stacked else 0.0
            y_top, y_bottom = sorted((frame.y(bottom + v), frame.y(bottom)))
            out.append(f'<rect x="{x:.1f}" y="{y_top:.1f}" width="{max(bar, 0.5):.1f}" '
                       f'height="{max(y_bottom - y_top, 0.5):.1f}" fill="{PALETTE[k % len(PALETTE)]}">'
                       f"<title>{escape(label)} {escape(s.name)}: {escape(fmt(v))}</title></rect>")
            if stacked:
                base += v
    out += _x_labels(frame, labels, xs)
    out += frame.legend([s.name for s in series])
    out.append("</svg>")
    return "\n".join(out)


def line_chart(title: str, labels: Sequence[str], series: Sequence[Series], *, y_label: str = "",
               fmt: Callable[[float], str] = _number, x: Sequence[float] | None = None, log_x: bool = False,
               low: float | None = 0, width: int = 860, height: int = 300) -> str:
    """Lines with a point per value, one colour per series, as an SVG element.

    ``x`` places the points (evenly spaced by default; ``log_x`` on a logarithmic axis, e.g.
    batch sizes); ``labels`` name them. A None value breaks the line. ``low`` is where the y
    axis starts (None: at the smallest value).
    """
    n = len(labels)
    if any(len(s.values) != n for s in series):
        raise ValueError("every series needs one value per label")
    values = [v for s in series for v in s.values if v is not None]
    bottom = (min(values, default=0) if low is None else low)
    frame = _Frame(width, height, nice_ticks(bottom, max(values, default=bottom)))
    positions = list(x) if x is not None else list(range(n))
    if log_x:
        if any(p <= 0 for p in positions):
            raise ValueError("a logarithmic axis needs positions > 0")
        positions = [math.log10(p) for p in positions]
    first, last = (min(positions), max(positions)) if positions else (0, 1)
    span = (last - first) or 1
    pad = 0.5 if x is None else 0.0

    def px(p: float) -> float:
        return frame.x0 + (p - first + pad) / (span + 2 * pad) * (frame.x1 - frame.x0)

    xs = [px(p) for p in positions]
    out = frame.axes(title, f"{title}: {len(series)} series over {n} points", y_label, fmt)
    for k, s in enumerate(series):
        color = PALETTE[k % len(PALETTE)]
        runs, run = [], []
        for xp, v in zip(xs, s.values):
            if v is None:
                runs, run = runs + [run] if run else runs, []
            else:
                run.append((xp, frame.y(v)))
        runs += [run] if run else []
        for r in runs:
            points = " ".join(f"{a:.1f},{b:.1f}" for a, b in r)
            out.append(f'<polyline points="{points}" fill="none" stroke="{color}" stroke-width="2"/>')
        for label, xp, v in zip(labels, xs, s.values):
            if v is not None:
                out.append(f'<circle cx="{xp:.1f}" cy="{frame.y(v):.1f}" r="3" fill="{color}">'
                           f"<title>{escape(label)} {escape(s.name)}: {escape(fmt(v))}</title></circle>")
    out += _x_labels(frame, labels, xs)
    out += frame.legend([s.name for s in series], marks="line")
    out.append("</svg>")
    return "\n".join(out)


def html_table(header: Sequence[str], rows: Sequence[Sequence[object]], caption: str = "") -> str:
    """A plain HTML table (numbers right-aligned by the page's style)."""
    out = ["<table>"]
    if caption:
        out.append(f"<caption>{escape(caption)}</caption>")
    out.append("<thead><tr>" + "".join(f'<th scope="col">{escape(h)}</th>' for h in header) + "</tr></thead><tbody>")
    for row in rows:
        out.append("<tr>" + "".join(f"<td>{escape(str(c))}</td>" for c in row) + "</tr>")
    out.append("</tbody></table>")
    return "\n".join(out)


_STYLE = """
body { font-family: system-ui, sans-serif; margin: 1rem auto; max-width: 60rem; padding: 0 0.75rem; color: #222; }
h1 { font-size: 1.4rem; } h2 { font-size: 1.15rem; margin-top: 2rem; }
figure { margin: 1rem 0; } figcaption { color: #555; font-size: 0.9rem; }
table { border-collapse: collapse; margin: 0.5rem 0; font-variant-numeric: tabular-nums; display: block;
        overflow-x: auto; }
th, td { padding: 0.25rem 0.6rem; border-bottom: 1px solid #ddd; text-align: right; white-space: nowrap; }
th:first-child, td:first-child { text-align: left; }
caption { text-align: left; font-weight: bold; padding: 0.3rem 0; }
.note { color: #555; font-size: 0.9rem; }
"""


def html_page(title: str, sections: Sequence[str], note: str = "") -> str:
    """A whole HTML page (no scripts, nothing fetched) holding ``sections`` (HTML fragments)."""
    return "\n".join([
        "<!doctype html>", '<html lang="en">', "<head>", '<meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{escape(title)}</title>", f"<style>{_STYLE}</style>", "</head>", "<body>",
        f"<h1>{escape(title)}</h1>", *([f'<p class="note">{escape(note)}</p>'] if note else []),
        *sections, "</body>", "</html>", ""])
