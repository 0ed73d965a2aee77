"""Smoke test of the surveillance benchmark: a small run's shape, its verdict computed from
its own figures, and `chuanyu bench surveillance` with its JSON. Speed itself is measured by
the benchmark, never asserted here."""
import json

from bench import surveillance_bench
from chuanyu import cli


def test_a_small_run_reports_both_rates_their_ratio_and_the_target(tmp_path, capsys):
    out = tmp_path / "surv.json"
    status = cli.main(["bench", "surveillance", "--commands", "12000", "--rounds", "2", "--json", str(out),
                       "--no-fail"])
    assert status == 0
    r = json.loads(out.read_text())
    assert set(surveillance_bench.RESULT_KEYS) <= set(r)
    assert r["rounds"] == 2 and r["commands"] == 12_000
    for key in ("engine_commands_per_s", "surveillance_commands_per_s", "surveillance_vs_engine"):
        assert 0 < r[key]["min"] <= r[key]["median"] <= r[key]["max"]
    assert r["target"]["value"] == r["surveillance_vs_daemon"]["min"]
    assert r["target"]["met"] == (r["target"]["value"] >= 1.0)
    assert r["alerts"] > 0                         # accounts two to a member: the rules saw wash trades
    assert r["run"]["argv"][:3] == ["chuanyu", "bench", "surveillance"]
    assert "surveillance / engine" in capsys.readouterr().out


def test_too_few_commands_is_a_usage_error(capsys):
    assert cli.main(["bench", "surveillance", "--commands", "100"]) == 2
