"""`chuanyu bench compare`: do two engine runs agree within the spread they report?"""
import json

from chuanyu import cli
from chuanyu.cli_bench import compare_runs


def _doc(batch, call, whole=None, ratio=None):
    w = {"workload": "broker_mix", "spread": {"batch": batch, "call": call}}
    if whole:
        w["batch_curve"] = {"1024": batch, "whole": whole}
    if ratio:
        w["ratio_spread"] = {"batch_vs_plain": ratio}
    return {"workloads": [w]}


def test_runs_whose_medians_lie_in_each_other_s_range_agree(tmp_path, capsys):
    a = _doc({"min": 7.0e6, "median": 7.2e6, "max": 7.5e6}, {"min": 2.5e6, "median": 2.6e6, "max": 2.7e6},
             whole={"min": 7.1e6, "median": 7.3e6, "max": 7.6e6})
    b = _doc({"min": 6.9e6, "median": 7.1e6, "max": 7.4e6}, {"min": 2.55e6, "median": 2.62e6, "max": 2.66e6},
             whole={"min": 7.0e6, "median": 7.2e6, "max": 7.5e6})
    (tmp_path / "a.json").write_text(json.dumps(a))
    (tmp_path / "b.json").write_text(json.dumps(b))
    assert cli.main(["bench", "compare", str(tmp_path / "a.json"), str(tmp_path / "b.json")]) == 0
    out = capsys.readouterr().out
    assert "throughputs: 4 of 4 agree" in out and "process() whole" in out


def test_a_ratio_outside_the_other_run_s_range_differs_and_exits_3(tmp_path, capsys):
    a = _doc({"min": 7.0e6, "median": 7.2e6, "max": 7.5e6}, {"min": 2.5e6, "median": 2.6e6, "max": 2.7e6},
             ratio={"min": 11.5, "median": 11.7, "max": 11.9})
    b = _doc({"min": 5.0e6, "median": 5.5e6, "max": 5.9e6}, {"min": 2.55e6, "median": 2.62e6, "max": 2.66e6},
             ratio={"min": 9.0, "median": 9.4, "max": 9.6})
    rows = compare_runs(a, b)
    assert [(r["figure"], r["agree"]) for r in rows] == [("process() ÷ plain", False),
                                                          ("process() in 1,024s", False),
                                                          ("per-call, results read", True)]
    (tmp_path / "a.json").write_text(json.dumps(a))
    (tmp_path / "b.json").write_text(json.dumps(b))
    argv = ["bench", "compare", str(tmp_path / "a.json"), str(tmp_path / "b.json")]
    assert cli.main(argv) == 3
    out = capsys.readouterr().out
    assert "ratios: 0 of 1 agree" in out and "throughputs: 1 of 2 agree" in out and "11.70× (11.50–11.90)" in out
    assert cli.main([*argv, "--no-fail"]) == 0


def test_throughputs_that_drift_alone_do_not_fail_the_comparison(tmp_path):
    ratio = {"min": 11.5, "median": 11.7, "max": 11.9}
    a = _doc({"min": 7.0e6, "median": 7.2e6, "max": 7.5e6}, {"min": 2.5e6, "median": 2.6e6, "max": 2.7e6}, ratio=ratio)
    b = _doc({"min": 6.0e6, "median": 6.2e6, "max": 6.5e6}, {"min": 2.5e6, "median": 2.6e6, "max": 2.7e6}, ratio=ratio)
    (tmp_path / "a.json").write_text(json.dumps(a))
    (tmp_path / "b.json").write_text(json.dumps(b))
    assert cli.main(["bench", "compare", str(tmp_path / "a.json"), str(tmp_path / "b.json")]) == 0


def test_unreadable_or_foreign_files_are_clear_errors(tmp_path, capsys):
    (tmp_path / "x.json").write_text("{not json")
    (tmp_path / "y.json").write_text(json.dumps({"results": {}}))
    assert cli.main(["bench", "compare", str(tmp_path / "x.json"), str(tmp_path / "y.json")]) == 1
    assert "cannot read" in capsys.readouterr().err
    assert cli.main(["bench", "compare", str(tmp_path / "y.json"), str(tmp_path / "y.json")]) == 1
    assert "is not the JSON of `chuanyu bench engine --json`" in capsys.readouterr().err
