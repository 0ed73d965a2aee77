"""Every benchmark's JSON says where its figures come from (bench/provenance.py), and a busy
machine is named before the figures it spoils."""
import re

from bench import provenance
from chuanyu import clikit


def test_a_run_records_the_commit_the_command_the_date_and_the_load():
    run = provenance.Run(["chuanyu", "bench", "recovery", "--quick"])
    record = run.finish()
    assert record["argv"] == ["chuanyu", "bench", "recovery", "--quick"]
    assert re.fullmatch(r"[0-9a-f]{40}(-dirty)?|chuanyu .+", record["commit"])     # a checkout, or installed
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00", record["date"])
    assert len(record["load_start"]) == len(record["load_end"]) == 3 and record["usable_cores"] >= 1
    assert record["seconds"] >= 0 and record["cpu"]


def test_a_busy_machine_is_warned_about(monkeypatch, capsys):
    monkeypatch.setattr(provenance, "_load", lambda: [8.0, 4.0, 2.0])
    run = clikit.begin_bench(["chuanyu", "bench"])
    assert run.loaded and "the machine is busy (load average 8.00" in capsys.readouterr().err
    monkeypatch.setattr(provenance, "_load", lambda: [0.0, 0.0, 0.0])
    quiet = clikit.begin_bench(["chuanyu", "bench"])
    assert not quiet.loaded and quiet.warning() is None and capsys.readouterr().err == ""


def test_a_missed_target_is_an_exit_status_unless_told_otherwise(capsys):
    targets = [{"target": "a >= 1", "met": True}, {"label": "b <= 2", "met": False}, {"target": "c", "met": None}]
    assert clikit.bench_status(targets, no_fail=False) == clikit.TARGET_MISSED
    assert "1 target missed: b <= 2" in capsys.readouterr().err
    assert clikit.bench_status(targets, no_fail=True) == 0
    assert "(--no-fail: exit 0)" in capsys.readouterr().err
    assert clikit.bench_status(targets[:1] + targets[2:], no_fail=False) == 0 and capsys.readouterr().err == ""
