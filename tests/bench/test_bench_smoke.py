"""Smoke tests of the engine benchmark: tiny workloads through the reference model.

They check the shape of the results and of the JSON the CLI writes, and that the
generated workloads are meaningful (seeded, the intended mix, cancels and replaces that
hit live orders). Speed itself is measured by ``chuanyu bench engine``, never asserted here.
"""
import json
import sys

import numpy as np
import pytest

import bench
from bench import engine_bench, workloads
from chuanyu import cli
from matching import CancelReason, CommandType, EventKind, ReferenceEngine

TINY = {
    "exchange_core_mix": {"n_commands": 1_500, "n_resting": 200},
    "carbon_mix": {"n_commands": 1_500, "n_resting": 1_000},
    "deep_book": {"n_commands": 1_000, "n_resting": 5_000, "reference_commands": 300},
}
MIX = {
    "exchange_core_mix": {"gtc": 0.09, "ioc": 0.03, "cancel": 0.06, "move": 0.82},
    "carbon_mix": {"add": 0.60, "cancel": 0.30, "sweep": 0.10},
    "deep_book": {"add": 0.60, "cancel": 0.30, "sweep": 0.10},
}


def _generator_args(name):
    return {k: v for k, v in TINY[name].items() if k != "reference_commands"}


@pytest.fixture(scope="module")
def tiny():
    return {name: workloads.generate(name, **_generator_args(name)) for name in TINY}


def test_workload_generators_are_seeded():
    args = _generator_args("carbon_mix")
    a = workloads.generate("carbon_mix", seed=5, **args)
    b = workloads.generate("carbon_mix", seed=5, **args)
    c = workloads.generate("carbon_mix", seed=6, **args)
    assert np.array_equal(a.setup, b.setup) and np.array_equal(a.timed, b.timed)
    assert not np.array_equal(a.timed, c.timed)


@pytest.mark.parametrize("name", list(TINY))
def test_workload_has_the_intended_mix_and_prices(tiny, name):
    w = tiny[name]
    assert len(w.timed) == TINY[name]["n_commands"]
    assert len(w.setup) == TINY[name]["n_resting"] == w.stats["resting_start"]
    for kind, share in MIX[name].items():
        assert abs(w.stats["mix"].get(kind, 0.0) - share) < 0.04, (kind, w.stats["mix"])
    priced = w.timed[(w.timed["price"] != 0)]
    low, high = w.instruments[0].band
    assert ((priced["price"] >= low) & (priced["price"] <= high)).all()
    assert (np.diff(w.timed["seq"]) == 1).all() and w.timed["seq"][0] == len(w.setup) + 1
    # The book neither empties nor runs away.
    assert 0.8 < w.stats["resting_end"] / w.stats["resting_start"] < 1.2


@pytest.mark.parametrize("name", list(TINY))
def test_cancels_and_replaces_hit_live_orders(tiny, name):
    w = tiny[name]
    engine = ReferenceEngine(w.instruments, max_accounts=w.max_accounts)
    engine.process(w.setup)
    events = engine.process(w.timed)
    type_of = dict(zip(w.timed["seq"].tolist(), w.timed["type"].tolist(), strict=True))
    rejected = [type_of[s] for s in events["cmd_seq"][events["kind"] == EventKind.REJECTED].tolist()]
    targeted = int(np.count_nonzero(w.timed["type"] != CommandType.NEW_ORDER))
    assert targeted > 0.05 * len(w.timed)
    assert sum(t != CommandType.NEW_ORDER for t in rejected) / targeted < 0.05
    assert len(rejected) / len(w.timed) < 0.05
    assert w.stats["reject_fraction"] < 0.05
    cancels = int(np.count_nonzero(w.timed["type"] == CommandType.CANCEL))
    user_cancelled = int(np.count_nonzero((events["kind"] == EventKind.CANCELLED)
                                          & (events["reason"] == CancelReason.USER)))
    assert user_cancelled >= 0.95 * cancels
    assert engine.resting_orders == w.stats["resting_end"]


def test_runner_results_have_the_documented_shape():
    results = engine_bench.run_engine_bench(engine="reference", sizes=TINY, rounds=1)
    assert [r["workload"] for r in results] == list(TINY)
    for r in results:
        assert set(engine_bench.RESULT_KEYS) <= set(r)
        assert set(r["latency_ns"]) == {"p50", "p99", "p999"}
        assert 0 < r["latency_ns"]["p50"] <= r["latency_ns"]["p99"] <= r["latency_ns"]["p999"]
        for key in ("batch_commands_per_s", "call_commands_per_s", "reference_commands_per_s"):
            assert r[key] > 0
        assert r["commands"] == TINY[r["workload"]]["n_commands"]
        assert r["bytes_per_resting_order"] is None          # the reference model has no memory_bytes()
        assert r["reject_fraction"] < 0.05
        assert r["consistent"]
        assert r["machine"]["cores"] >= 1 and r["machine"]["numpy"]
    # The implementation under test is the reference model itself: its batch run is reused.
    assert [r["reference_commands"] for r in results] == [1_500, 1_500, 1_000]
    assert "targets" in results[0] and all("targets" not in r for r in results[1:])
    assert json.loads(json.dumps(results)) == results


def test_a_separate_reference_is_timed_on_its_bounded_slice():
    class Twin(ReferenceEngine):
        """Stands in for the compiled engine: another class with the same behaviour."""

        def memory_bytes(self):
            return 64 * self.resting_orders

    sizes = {"deep_book": TINY["deep_book"]}
    (r,) = engine_bench.run_engine_bench(engine=Twin, workloads=["deep_book"], sizes=sizes, rounds=2)
    assert r["reference_commands"] == 300 and r["commands"] == 1_000
    assert r["bytes_per_resting_order"] == 64
    assert len(r["seconds"]["batch"]) == len(r["seconds"]["call"]) == 2
    assert r["consistent"]


def test_cli_runs_the_bench_and_writes_json(tmp_path, capsys):
    path = tmp_path / "engine.json"
    argv = ["bench", "engine", "--quick", "--engine", "reference", "--scale", "0.002", "--json", str(path)]
    assert cli.main(argv) == 0
    data = json.loads(path.read_text())
    assert [r["workload"] for r in data] == list(workloads.WORKLOADS)
    assert all(set(engine_bench.RESULT_KEYS) <= set(r) for r in data)
    out = capsys.readouterr().out
    assert "process() ÷ ref" in out and "targets on exchange_core_mix" in out


def test_cli_runs_selected_workloads(capsys):
    argv = ["bench", "engine", "--engine", "reference", "--scale", "0.001", "--workload", "carbon_mix",
            "--json", "-"]
    assert cli.main(argv) == 0
    captured = capsys.readouterr()
    assert [r["workload"] for r in json.loads(captured.out)] == ["carbon_mix"]


@pytest.mark.parametrize("argv", [
    [],
    ["frobnicate"],
    ["bench"],
    ["bench", "engine", "--workload", "nope"],
    ["bench", "engine", "--engine", "java"],
    ["bench", "engine", "--scale", "0"],
    ["bench", "engine", "--scale", "many"],
    ["bench", "engine", "--seed", "x"],
])
def test_cli_bad_arguments_exit_2_with_usage(argv, capsys):
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert "usage:" in err and "Traceback" not in err


def test_cli_help_exits_0(capsys):
    assert cli.main(["bench", "engine", "--help"]) == 0
    assert "--quick" in capsys.readouterr().out


def test_cli_reports_an_unbuilt_engine(monkeypatch, capsys):
    def unavailable(name):
        raise engine_bench.EngineUnavailable("matching.Engine cannot be imported: test")

    monkeypatch.setattr(engine_bench, "engine_class", unavailable)
    assert cli.main(["bench", "engine", "--quick"]) == 1
    err = capsys.readouterr().err
    assert "chuanyu: error: matching.Engine cannot be imported" in err and "Traceback" not in err


def test_cli_reports_an_unloadable_benchmark(monkeypatch, capsys):
    monkeypatch.delattr(bench, "engine_bench")
    monkeypatch.setitem(sys.modules, "bench.engine_bench", None)      # import now fails
    assert cli.main(["bench", "engine", "--quick"]) == 1
    err = capsys.readouterr().err
    assert "chuanyu: error: cannot load the engine benchmark" in err and "Traceback" not in err


def test_cli_refuses_an_unwritable_json_path_before_running(tmp_path, capsys):
    assert cli.main(["bench", "engine", "--json", str(tmp_path / "missing" / "out.json")]) == 1
    assert "does not exist" in capsys.readouterr().err


def test_cli_workload_names_match_the_generators():
    assert cli._WORKLOAD_NAMES == tuple(workloads.WORKLOADS)
