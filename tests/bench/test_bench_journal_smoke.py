"""Smoke tests of the journal benchmarks: ``chuanyu bench recovery`` on a tiny workload and
``chuanyu bench gateway`` with durability runs on a tiny daemon load.

They check the shape of the results and of the JSON the CLI writes (every gateway row carries
its ``durability``, the fsync/none target is computed, the replayed state matches direct
processing). Speed itself is measured by the benchmarks, never asserted here.
"""
import json

import pytest

from bench import gateway_bench, recovery_bench
from chuanyu import cli

TINY = {"n_commands": 3_000, "n_resting": 200, "n_accounts": 100}


def test_recovery_bench_replays_the_journal_it_wrote_to_the_same_state():
    r = recovery_bench.run(sizes=TINY, batch=256, repeat=1, log=lambda m: None, daemon_commands=2_000)
    assert set(recovery_bench.RESULT_KEYS) <= set(r)
    assert r["consistent"] is True
    assert r["commands"] > TINY["n_commands"] and r["records"] == -(-r["commands"] // 256)
    assert r["replay_commands_per_s"] > 0 and r["verify_commands_per_s"] > r["replay_commands_per_s"]
    assert r["trades"] > 0 and r["journal_bytes"] > r["commands"] * 64
    assert r["daemon_consistent"] is True and r["daemon_commands"] >= 2_000
    assert r["daemon_recovery_commands_per_s"] > 0
    target, = r["targets"]
    assert target["goal"] == 2_000_000 and target["met"] == (r["replay_commands_per_s"] >= 2_000_000)
    assert json.loads(json.dumps(r)) == r
    assert "replay (verify + engine)" in recovery_bench.table(r)


def test_recovery_bench_refuses_bad_arguments():
    with pytest.raises(ValueError):
        recovery_bench.run(sizes=TINY, batch=0, log=lambda m: None)


def test_cli_bench_recovery_writes_json(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(recovery_bench.SIZES, "quick", TINY)
    real = recovery_bench.daemon_recovery
    monkeypatch.setattr(recovery_bench, "daemon_recovery", lambda d, n, b: real(d, 2_000, b))
    path = tmp_path / "recovery.json"
    assert cli.main(["bench", "recovery", "--quick", "--batch", "500", "--json", str(path), "--no-fail"]) == 0
    data = json.loads(path.read_text())
    assert data["replay_commands_per_s"] > 0 and data["batch"] == 500 and data["consistent"]
    replay = data["spread"]["replay_commands_per_s"]          # the headline is the best of the rounds
    assert replay["min"] <= replay["median"] <= replay["max"] == pytest.approx(data["replay_commands_per_s"])
    assert "commands/s" in capsys.readouterr().out
    assert cli.main(["bench", "recovery", "--batch", "0"]) == 2


def test_cli_bench_gateway_runs_the_durability_modes(tmp_path, capsys):
    path = tmp_path / "gateway.json"
    argv = ["bench", "gateway", "--no-fail", "--clients", "1", "--batch", "256", "--duration", "0.6",
            "--durability", "fsync", "--durability", "none", "--no-baselines", "--json", str(path)]
    assert cli.main(argv) == 0
    data = json.loads(path.read_text())
    runs = data["runs"]
    assert [r["durability"] for r in runs] == ["none", "fsync"]
    assert all(set(gateway_bench.RESULT_KEYS) <= set(r) for r in runs)
    assert all(r["acked"] > 0 and r["orders_per_s"] > 0 for r in runs)
    fsync = runs[1]["journal"]
    assert fsync["mode"] == "fsync" and fsync["fsyncs"] >= 1 and runs[0]["journal"]["fsyncs"] == 0
    target = next(t for t in data["targets"] if "fsync" in t["target"])
    assert target["value"] == pytest.approx(runs[1]["orders_per_s"] / runs[0]["orders_per_s"])
    out = capsys.readouterr().out
    assert "durability fsync keeps >= 50%" in out and "fsync" in out


def test_gateway_bench_refuses_an_unknown_durability_mode():
    with pytest.raises(ValueError, match="durability"):
        gateway_bench.run(clients=1, batch=8, duration=0.1, durability=("paranoid",), log=lambda m: None)


def test_cli_bench_gateway_alternates_the_paced_run_and_the_echo(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(gateway_bench, "LATENCY_MIN_S", 0.8)     # the paced rounds' floor, kept short here
    path = tmp_path / "gateway.json"
    argv = ["bench", "gateway", "--no-fail", "--clients", "1", "--rate", "2000", "--duration", "0.5",
            "--durability", "none", "--rounds", "2", "--json", str(path)]
    assert cli.main(argv) == 0
    data = json.loads(path.read_text())
    paced, = data["runs"]
    assert len(paced["rounds"]) == 2 and all(p["gateway_p99"] > 0 and p["echo_p99"] > 0 for p in paced["rounds"])
    assert paced["duration_s"] == 0.8
    assert paced["acked"] == paced["sent"] > 0
    echo = data["baseline"]["bare_echo_latency_ns"]
    assert data["baseline"]["bare_echo_rate"] == 2000
    # pooled percentiles lie within the rounds' own
    lows, highs = min(p["echo_p99"] for p in paced["rounds"]), max(p["echo_p99"] for p in paced["rounds"])
    assert 0.99 * lows <= echo["p99"] <= 1.01 * highs
    target = next(t for t in data["targets"] if "bare echo p99" in t["target"])
    assert target["value"] == pytest.approx(paced["latency_ns"]["p99"] / echo["p99"])
    assert paced["spread"]["echo_p99"]["min"] == lows and paced["spread"]["echo_p99"]["max"] == highs
    # every latency series as an HdrHistogram beside the JSON, holding every sample of the rounds
    from hdrh.histogram import HdrHistogram

    from bench.histograms import read_histogram_log
    logs = {p.name for p in tmp_path.glob("gateway.*.hdr")}
    assert {p.name for p in tmp_path.glob("gateway.*.hgrm")} == {n[:-4] + ".hgrm" for n in logs}
    pooled = HdrHistogram.decode(paced["latency_histogram"])
    # HdrHistogram takes the sample at the 99th rank, the JSON interpolates between the two
    # around it: in a sparse tail of a few thousand samples they lie a few percent apart
    assert pooled.get_value_at_percentile(99) == pytest.approx(paced["latency_ns"]["p99"], rel=0.05)
    echo_log = tmp_path / "gateway.baseline.bare_echo.hdr"
    assert echo_log.name in logs
    read = read_histogram_log(echo_log)
    assert read.get_total_count() == HdrHistogram.decode(data["baseline"]["bare_echo_latency_histogram"]).get_total_count()
    assert "p99 of each round" in capsys.readouterr().out
    assert cli.main(["bench", "gateway", "--rounds", "0"]) == 2
