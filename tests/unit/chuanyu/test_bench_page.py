"""Benchmark results as a page: the batch-size curve and the latency percentiles as charts."""
import re

from bench.histograms import histogram
from chuanyu.bench_html import bench_page


def document():
    rates = {"1": 1.0e6, "64": 4.0e6, "1024": 5.0e6, "65536": 5.2e6, "whole": 4.9e6}
    curve = {k: {"min": v * 0.9, "median": v, "max": v * 1.1} for k, v in rates.items()}
    latencies = [1_000] * 99 + [250_000]                        # 1 µs, and one of 250 µs
    return {"workloads": [{"workload": "broker_mix", "commands": 200_000, "batch_curve": curve,
                           "latency_histogram": histogram(latencies).encode().decode()}],
            "targets": [{"workload": "broker_mix", "label": "process() ÷ plain book", "value": 21.5, "goal": 20,
                         "kind": "min", "met": True}],
            "run": {"commit": "abc123", "date": "2026-12-07", "cpu": "AMD EPYC"}}


def test_the_page_draws_the_curve_at_each_batch_size_and_the_latency_percentiles():
    page = bench_page(document(), "chuanyu bench engine")
    assert "<script" not in page and page.count("<svg") == 2
    assert "200,000 (whole)" in page and "broker_mix: process() rate by batch size" in page
    points = re.findall(r"<circle[^>]*><title>([^<]*)</title>", page)
    assert "1 median: 1.00M/s" in points and "200,000 (whole) max: 5.39M/s" in points
    assert "50% broker_mix: 1.0 µs" in points and "99.9% broker_mix: 250 µs" in points
    assert "process() ÷ plain book" in page and "met" in page and "abc123" in page


def test_a_document_without_figures_says_so():
    assert "holds neither" in bench_page({"whatever": 1}, "t")
