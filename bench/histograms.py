"""Latency histograms saved beside a benchmark's JSON, in HdrHistogram's own formats.

For each named series of latencies (nanoseconds) a run writes two files next to its JSON
``<stem>.json``: ``<stem>.<series>.hdr``, an HdrHistogram interval log (one compressed
histogram, readable by HistogramLogAnalyzer and every HdrHistogram library) and
``<stem>.<series>.hgrm``, the percentile distribution in microseconds, which the
HdrHistogram plotter draws. Values are kept to three significant digits, from 1 ns to a
minute.

>>> import io, numpy as np
>>> h = histogram(np.array([1_000, 2_000, 2_000, 50_000]))
>>> h.get_total_count(), h.get_value_at_percentile(50) == 2_000
(4, True)
"""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np
from hdrh.histogram import HdrHistogram
from hdrh.log import HistogramLogWriter

__all__ = ["histogram", "save_histograms", "histogram_paths", "encoded_histograms", "read_histogram_log"]

LOWEST_NS, HIGHEST_NS, DIGITS = 1, 60 * 10**9, 3
_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+")


def histogram(ns) -> HdrHistogram:
    """An HdrHistogram of ``ns`` (latencies in nanoseconds), clamped to 1 ns .. 60 s."""
    h = HdrHistogram(LOWEST_NS, HIGHEST_NS, DIGITS)
    values, counts = np.unique(np.clip(np.asarray(ns, dtype=np.int64), LOWEST_NS, HIGHEST_NS), return_counts=True)
    for value, count in zip(values.tolist(), counts.tolist()):
        h.record_value(value, count)
    return h


def histogram_paths(json_path: str | Path, series: str) -> tuple[Path, Path]:
    """The ``.hdr`` log and ``.hgrm`` distribution of ``series`` beside ``json_path``."""
    path = Path(json_path)
    base = path.with_suffix("") if path.suffix == ".json" else path
    name = _UNSAFE.sub("_", series)
    return base.with_name(f"{base.name}.{name}.hdr"), base.with_name(f"{base.name}.{name}.hgrm")


def save_histograms(json_path: str | Path | None, latencies: dict, comment: str = "") -> list[Path]:
    """Write every ``{series: ns array or HdrHistogram}`` of ``latencies`` beside ``json_path``;
    the paths written.

    Nothing is written when the JSON goes to standard output (``-``) or nowhere (None).
    """
    if json_path in (None, "-"):
        return []
    written = []
    for series, ns in latencies.items():
        h = ns if isinstance(ns, HdrHistogram) else histogram(ns if ns is not None else [])
        if h.get_total_count() == 0:
            continue
        log_path, hgrm_path = histogram_paths(json_path, series)
        with open(log_path, "w", encoding="utf-8") as f:
            writer = HistogramLogWriter(f)
            writer.output_comment(f"[chuanyu {series}: latency in ns{'; ' + comment if comment else ''}]")
            writer.output_log_format_version()
            writer.output_legend()
            writer.output_interval_histogram(h)
        with open(hgrm_path, "wb") as f:
            h.output_percentile_distribution(f, 1000.0)         # ns recorded, µs shown
        written += [log_path, hgrm_path]
    return written


def encoded_histograms(document, path: str = "") -> dict:
    """Every HdrHistogram encoded in a benchmark's JSON-ready ``document`` (a ``latency_histogram``
    or ``*_latency_histogram`` string), decoded, by a series name made of where it was found:
    the ``workload`` or ``scenario`` of its dict, else its key path.

    >>> doc = {"runs": [{"scenario": "paced", "latency_histogram": histogram([5, 7]).encode().decode()}]}
    >>> {name: h.get_total_count() for name, h in encoded_histograms(doc).items()}
    {'paced': 2}
    """
    found = {}
    if isinstance(document, dict):
        here = str(document.get("workload") or document.get("scenario") or path)
        for key, value in document.items():
            if key.endswith("latency_histogram") and isinstance(value, str):
                prefix = key[:-len("latency_histogram")].rstrip("_")
                name = ".".join(part for part in (here, prefix) if part) or "latency"
                found[name] = HdrHistogram.decode(value)
            elif isinstance(value, (dict, list)):
                found.update(encoded_histograms(value, f"{path}.{key}" if path else str(key)))
    elif isinstance(document, list):
        for i, item in enumerate(document):
            found.update(encoded_histograms(item, f"{path}.{i}"))
    return found


def read_histogram_log(path: str | Path) -> HdrHistogram:
    """The (first) histogram of an interval log :func:`save_histograms` wrote, read back with
    HdrHistogram's own log reader."""
    from hdrh.log import HistogramLogReader        # noqa: PLC0415 - only readers of logs need it
    reader = HistogramLogReader(str(path), HdrHistogram(LOWEST_NS, HIGHEST_NS, DIGITS))
    try:
        return reader.get_next_interval_histogram()
    finally:
        reader.input_file.close()                  # the reader never closes its file itself
