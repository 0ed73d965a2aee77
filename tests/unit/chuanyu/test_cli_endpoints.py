"""``chuanyu order`` and ``chuanyu feed`` given several nodes (high availability): repeated
--endpoint / --state-dir, and --feed / --snapshots pairs, read without a daemon.
tests/integration/test_client_endpoints.py runs both commands against a real one."""
import json
from types import SimpleNamespace

import pytest
import zmq.auth

from chuanyu.cli import main
from chuanyu.cli_feed import _endpoints
from chuanyu.cli_gateway import _connections
from chuanyu.clikit import CliError


def node(folder, n: int, server_key: str = "S" * 40, feeds: bool = True):
    """A node's state dir with its endpoints.json (ports 7n01...) and the sc-platform key pair."""
    folder.mkdir()
    zmq.auth.create_certificates(str(folder), "sc-platform")
    (folder / "endpoints.json").write_text(json.dumps({
        "orders": f"tcp://10.0.0.{n}:7001", "admin": f"tcp://10.0.0.{n}:7002",
        "feed": f"tcp://10.0.0.{n}:7003" if feeds else None,
        "feed_snapshots": f"tcp://10.0.0.{n}:7004" if feeds else None,
        "server_public_key": server_key, "keys_dir": str(folder), "instruments": ["SCEA2026"]}))
    return str(folder)


def order_args(**given):
    args = dict(state_dir=None, endpoint=None, server_key=None, keys=None, key="sc-platform", timeout=0.2)
    return SimpleNamespace(**{**args, **given})


def test_order_reads_every_state_dir_in_turn_and_skips_one_not_there(tmp_path):
    a, b = node(tmp_path / "a", 1), node(tmp_path / "b", 2)
    endpoints, server_key, public, secret, info = _connections(
        order_args(state_dir=[a, str(tmp_path / "standby"), b]), "orders")
    assert endpoints == ["tcp://10.0.0.1:7001", "tcp://10.0.0.2:7001"] and server_key == "S" * 40
    assert info["orders"] == "tcp://10.0.0.1:7001" and len(public) == len(secret) == 40
    given = _connections(order_args(state_dir=[a, b], endpoint=["tcp://h1:1", "tcp://h2:1"]), "orders")[0]
    assert given == ["tcp://h1:1", "tcp://h2:1"]


def test_nodes_with_different_server_keys_need_one_given(tmp_path):
    a, b = node(tmp_path / "a", 1, "A" * 40), node(tmp_path / "b", 2, "B" * 40)
    with pytest.raises(CliError, match="different server keys"):
        _connections(order_args(state_dir=[a, b]), "orders")
    assert _connections(order_args(state_dir=[a, b], server_key="K" * 40), "orders")[1] == "K" * 40


def test_order_without_any_node_names_every_state_dir(tmp_path, capsys):
    assert main(["order", "--state-dir", str(tmp_path / "x"), "--state-dir", str(tmp_path / "y"), "--timeout",
                 "0.1", "--session", "1", "cancel", "5", "--account", "1"]) == 1
    err = capsys.readouterr().err
    assert "no daemon found" in err and "x/endpoints.json and" in err and "y/endpoints.json are missing" in err


def test_feed_pairs_each_nodes_feed_with_its_snapshots(tmp_path):
    a, b = node(tmp_path / "a", 1), node(tmp_path / "b", 2)
    off = node(tmp_path / "off", 3, feeds=False)
    args = SimpleNamespace(state_dir=[a, off, b], feed=None, snapshots=None)
    assert _endpoints(args) == (["tcp://10.0.0.1:7003", "tcp://10.0.0.2:7003"],
                                ["tcp://10.0.0.1:7004", "tcp://10.0.0.2:7004"], ["SCEA2026"])


def test_feed_refuses_unpaired_endpoints(capsys):
    assert main(["feed", "--feed", "tcp://h1:1", "--feed", "tcp://h2:1", "--snapshots", "tcp://h1:2", "--once"]) == 2
    err = capsys.readouterr().err
    assert "2 feed endpoints but 1 snapshot endpoints" in err and "Traceback" not in err


def test_the_help_says_the_options_repeat(capsys):
    assert main(["order", "--help"]) == 0
    out = capsys.readouterr().out
    assert "repeat for each node" in out and "--endpoint URL" in out
    assert main(["feed", "--help"]) == 0
    out = capsys.readouterr().out
    assert "repeat for each node" in out and "in the order of --feed" in out
