"""Smoke test of `chuanyu bench web`: a short run through the real daemon, the bare subscriber
and the real `chuanyu web` process; its shape and its verdict computed from its own figures.
Speed itself is measured by the benchmark, never asserted here."""
import json
import os
import time

from bench import web_bench
from chuanyu import cli


def test_a_short_run_measures_every_setup_and_judges_the_console_against_the_bare_subscriber(tmp_path, capsys):
    out = tmp_path / "web.json"
    assert cli.main(["bench", "web", "--rounds", "1", "--duration", "1", "--json", str(out), "--no-fail"]) == 0
    r = json.loads(out.read_text())
    assert list(r["orders_per_s"]) == list(web_bench.SETUPS)
    assert all(s["median"] > 0 for s in r["orders_per_s"].values())
    bare, web = (r["orders_per_s"][s]["median"] for s in web_bench.SETUPS[1:])
    assert abs(r["web_vs_bare"] - web / bare) < 1e-9
    (target,) = r["targets"]
    assert target["met"] == (r["web_vs_bare"] >= web_bench.TARGET_RATIO or r["within_spread"])
    (reader,) = r["web_readers"]
    assert reader["pages"] > 0 and reader["page_errors"] == 0      # the console answered while the daemon was driven
    used = r["attached_cpu_percent"]
    assert list(used) == list(web_bench.SETUPS[1:]) and all(0 <= s["median"] < 400 for s in used.values())
    assert r["run"]["argv"][:3] == ["chuanyu", "bench", "web"]
    assert "web console ÷ bare subscriber" in capsys.readouterr().out


def test_a_page_of_a_benchmarks_json_and_clear_errors(tmp_path, capsys):
    doc = tmp_path / "r.json"
    doc.write_text(json.dumps({"targets": [{"label": "x", "value": 1.5, "goal": 1, "kind": "min", "met": True}]}))
    page = tmp_path / "r.html"
    assert cli.main(["bench", "report", str(doc), "--html", str(page)]) == 0
    assert "<svg" not in page.read_text() and "Targets" in page.read_text()
    assert cli.main(["bench", "report", str(tmp_path / "missing.json"), "--html", str(page)]) == 1
    (tmp_path / "bad.json").write_text("[1, 2]")
    assert cli.main(["bench", "report", str(tmp_path / "bad.json"), "--html", str(page)]) == 1
    err = capsys.readouterr().err
    assert "cannot read" in err and "is not the JSON of a `chuanyu bench` run" in err


def test_the_cpu_a_process_used_is_read_from_proc():
    before = web_bench._cpu_seconds(os.getpid())
    until = time.process_time() + 0.3
    while time.process_time() < until:
        pass
    used = web_bench._cpu_seconds(os.getpid()) - before
    assert 0.2 <= used <= 5                 # clock ticks: 10 ms each
