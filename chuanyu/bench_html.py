"""A benchmark's results as a page: the batch-size curves and the latency distributions as
charts, the targets and the run's provenance as tables (``--html FILE`` on ``chuanyu bench
engine`` and ``gateway``, and ``chuanyu bench report RESULT.json --html FILE`` for a JSON
written before). The page has no scripts and fetches nothing (:mod:`web.charts`)."""
from __future__ import annotations

from web.charts import Series, html_page, html_table, line_chart

__all__ = ["bench_page", "PERCENTILES"]

PERCENTILES = (50.0, 90.0, 99.0, 99.9, 99.99, 99.999)
_MAX_SERIES = 8


def _rate(v: float) -> str:
    return f"{v / 1e6:.2f}M/s" if v >= 1e6 else f"{v / 1e3:.0f}k/s"


def _us(v: float) -> str:
    return f"{v:,.1f} µs" if v < 100 else f"{v:,.0f} µs"


def _batch_curves(document: dict) -> list[str]:
    """One chart of process() rate against batch size (log axis), a line per workload at the
    median with its min and max as thin lines; the whole workload at its command count."""
    out = []
    for w in document.get("workloads") or []:
        curve = w.get("batch_curve")
        if not curve:
            continue
        sizes = [(int(k) if k != "whole" else int(w.get("commands") or 0), k) for k in curve]
        sizes = [(n, k) for n, k in sizes if n > 0]
        sizes.sort()
        labels = [f"{n:,}" + (" (whole)" if k == "whole" else "") for n, k in sizes]
        series = [Series(name, [curve[k][name] for _, k in sizes]) for name in ("median", "min", "max")]
        out.append(line_chart(f"{w['workload']}: process() rate by batch size", labels, series,
                              x=[n for n, _ in sizes], log_x=True, y_label="commands / s", fmt=_rate))
    return out


def _latency_charts(document: dict) -> list[str]:
    """The latency distributions (HdrHistograms in the JSON): latency at each percentile, on a
    logarithmic axis of 1 / (1 - percentile) as HdrHistogram's plotter draws them."""
    from bench.histograms import encoded_histograms
    histograms = encoded_histograms(document)
    if not histograms:
        return []
    names = sorted(histograms)[:_MAX_SERIES]
    series = [Series(n, [histograms[n].get_value_at_percentile(p) / 1000 for p in PERCENTILES]) for n in names]
    charts = [line_chart("Latency by percentile", [f"{p:g}%" for p in PERCENTILES], series,
                         x=[1 / (1 - p / 100) for p in PERCENTILES], log_x=True, y_label="µs", fmt=_us)]
    rows = [[n, f"{histograms[n].get_total_count():,}",
             *(_us(histograms[n].get_value_at_percentile(p) / 1000) for p in PERCENTILES),
             _us(histograms[n].get_max_value() / 1000)] for n in sorted(histograms)]
    charts.append(html_table(["series", "count", *(f"p{p:g}" for p in PERCENTILES), "max"], rows,
                             caption="Latency percentiles (HdrHistogram, 3 significant digits)"))
    return charts


def _targets(document: dict) -> list[str]:
    targets = [t for t in document.get("targets") or [] if isinstance(t, dict)]
    if not targets:
        return []
    rows = []
    for t in targets:
        value = t.get("value")
        shown = "n/a" if value is None else (f"{value:,.3g}" if isinstance(value, float) else f"{value:,}")
        goal = t.get("goal")
        rows.append([t.get("workload", ""), t.get("label", t.get("name", "")), shown,
                     ("≥ " if t.get("kind") == "min" else "≤ ") + (f"{goal:,}" if goal is not None else "?"),
                     {True: "met", False: "missed", None: "n/a"}.get(t.get("met"), "n/a")])
    return [html_table(["workload", "target", "measured", "goal", ""], rows, caption="Targets (ratios from this run)")]


def _provenance(document: dict) -> list[str]:
    run = document.get("run") or {}
    rows = [[k, str(v)] for k, v in run.items() if not isinstance(v, (dict, list))]
    machine = run.get("machine") if isinstance(run.get("machine"), dict) else {}
    rows += [[f"machine {k}", str(v)] for k, v in machine.items() if not isinstance(v, (dict, list))]
    return [html_table(["", ""], rows, caption="Run")] if rows else []


def bench_page(document: dict, title: str) -> str:
    """The page of one benchmark JSON document."""
    sections = []
    curves = _batch_curves(document)
    if curves:
        sections += ["<h2>Batch-size curve</h2>", *(f"<figure>{c}</figure>" for c in curves)]
    latency = _latency_charts(document)
    if latency:
        sections += ["<h2>Latency</h2>", f"<figure>{latency[0]}</figure>", *latency[1:]]
    sections += _targets(document)
    sections += _provenance(document)
    if not sections:
        sections = ["<p>This document holds neither batch curves, latency histograms nor targets.</p>"]
    return html_page(title, sections, note="Figures from one run; each rate is the median of its rounds, "
                                            "the thin lines their min and max.")
