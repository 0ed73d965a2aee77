"""`chuanyu bench engine --export-workload`: another engine, here the plain book, run on the
exported files alone must make exactly the trades the export lists."""
import csv
import json

import numpy as np

import bench.export
from bench.plain_book import PlainBook
from chuanyu import cli


def test_an_exported_workload_replays_in_another_engine_trade_for_trade(tmp_path, capsys):
    argv = ["bench", "engine", "--export-workload", str(tmp_path), "--workload", "broker_mix", "broker_deep",
            "--scale", "0.01"]
    assert cli.main(argv) == 0
    assert "broker_deep: " in capsys.readouterr().out
    for name in ("broker_mix", "broker_deep"):
        manifest = json.loads((tmp_path / f"{name}.json").read_text())
        setup = np.load(tmp_path / manifest["files"]["setup"])
        timed = np.load(tmp_path / manifest["files"]["timed"])
        assert len(timed) == manifest["commands"]["timed"] == 2_000
        assert {f["name"]: f["offset"] for f in manifest["layout"]["fields"]} == \
            {name: setup.dtype.fields[name][1] for name in setup.dtype.names}
        with open(tmp_path / manifest["files"]["trades"], newline="") as f:
            rows = list(csv.reader(f))
        assert rows[0] == ["buy_order_id", "sell_order_id", "price", "qty"]
        expected = [tuple(int(x) for x in row) for row in rows[1:]]
        assert len(expected) == manifest["trades"] > 50
        book = PlainBook(len(manifest["instruments"]))
        book.run(setup)
        book.trades.clear()
        book.run(timed)
        assert book.trades == expected


def test_an_unwritable_export_directory_is_a_clear_error(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("")
    argv = ["bench", "engine", "--export-workload", str(blocker / "sub"), "--workload", "broker_mix",
            "--scale", "0.01"]
    assert cli.main(argv) == 1
    assert "cannot write the workload" in capsys.readouterr().err


def test_the_export_module_doctests():
    import doctest
    failures, tried = doctest.testmod(bench.export)
    assert tried and not failures
