"""`chuanyu bench` with no target: the suites run in turn and one summary table comes out."""
import json

import pytest

from bench import engine_bench
from chuanyu import cli
from chuanyu.cli_bench import summary_rows


def test_bench_with_no_target_runs_the_chosen_suites_and_writes_one_json(tmp_path, capsys):
    out = tmp_path / "all.json"
    assert cli.main(["bench", "--quick", "--only", "recovery", "--json", str(out), "--no-fail"]) == 0
    data = json.loads(out.read_text())
    assert set(data["results"]) == {"recovery"}
    rec = data["results"]["recovery"]
    assert rec["replay_commands_per_s"] > 0 and rec["consistent"]
    target, = [r for r in data["summary"] if r["what"].startswith("replay >=")]
    assert target["met"] == (rec["replay_commands_per_s"] >= 2_000_000)
    shown = capsys.readouterr().out
    assert "chuanyu benchmarks (--quick)" in shown and "daemon restart" in shown


def test_summary_rows_carry_every_engine_target_with_its_verdict():
    runs = engine_bench.run_engine_bench(quick=True, workloads=["exchange_core_mix"], scale=0.02)
    rows = summary_rows({"engine": {"workloads": runs, "targets": engine_bench.check_targets(runs)}})
    judged = {r["what"]: r for r in rows if r["goal"]}
    assert set(judged) == set(engine_bench.TARGETS["exchange_core_mix"])
    p99 = judged["per-call p99 latency"]
    assert p99["value"].endswith("µs") and p99["goal"] == "≤ 5.00 µs"
    assert p99["met"] == (runs[0]["latency_p99_ns"] <= 5_000)


@pytest.mark.parametrize("argv", [["bench", "--only", "nothing"], ["bench", "--json"]])
def test_bad_arguments_exit_2(argv, capsys):
    assert cli.main(argv) == 2
    assert "usage" in capsys.readouterr().err
