"""Smoke test of the feed benchmark: a tiny run through real daemons and subscriber
processes, the shape of its results, and a load stream whose cancels hit live orders.
Speed itself is measured by ``chuanyu bench feeds``, never asserted here."""
import json

import numpy as np

from bench import feeds_bench
from chuanyu import cli
from matching import COMMAND_DTYPE, CommandType, Engine, EventKind, Instrument, Reject


def test_the_load_streams_cancels_name_live_orders_of_their_owners():
    msgs, back, news = feeds_bench.stream(30_000, seed=3)
    engine = Engine([Instrument(s, reference_price=5000) for s in feeds_bench._symbols()], max_accounts=100)
    cmds = np.zeros(len(msgs), COMMAND_DTYPE)
    for name in ("side", "order_type", "tif", "instrument", "account", "price", "qty"):
        cmds[name] = msgs[name]
    cmds["type"] = msgs["msg_type"]                      # NEW_ORDER and CANCEL share their numbers
    is_new = msgs["msg_type"] == CommandType.NEW_ORDER
    entered = np.cumsum(is_new) - is_new
    cancel = ~is_new
    cmds["order_id"][cancel] = 1 + entered[cancel] - back[cancel]
    cmds["seq"] = np.arange(1, len(cmds) + 1)
    events = engine.process(cmds)
    rejected = events[events["kind"] == EventKind.REJECTED]
    assert not len(rejected[rejected["command"] == CommandType.NEW_ORDER])      # every order accepted
    cancel_rejects = rejected[rejected["command"] == CommandType.CANCEL]
    assert set(cancel_rejects["reason"].tolist()) <= {Reject.UNKNOWN_ORDER}       # never someone else's order
    cancelled = events[(events["kind"] == EventKind.CANCELLED) & (events["command"] == CommandType.CANCEL)]
    assert len(cancelled) > 0.5 * cancel.sum()                                    # most find their order resting
    assert news == int(is_new.sum()) and engine.next_order_id == news + 1


def test_a_tiny_run_reports_fan_out_and_the_target():
    logged = []
    # a second a run: on two loaded cores a subscriber may spend half of one joining (slow joiner)
    results = feeds_bench.run(subscribers=[2], seconds=1.0, quick=True, pairs=1, path_commands=6_000,
                              log=logged.append)
    for key in feeds_bench.RESULT_KEYS:
        assert key in results
    assert results["subscribers"] == 1
    assert [r["subscribers"] for r in results["fan_out"]] == [1, 2]
    on = [r for r in results["runs"] if r["feeds"]]
    off = [r for r in results["runs"] if not r["feeds"]]
    assert len(off) == 1 and all(r["published_per_s"] > 0 for r in on) and off[0]["published_per_s"] == 0
    assert all(r["commands_per_s"] > 0 for r in results["runs"])
    assert all(r["delivered_per_s"] > 0 for r in on)
    (target,) = results["targets"]
    assert target["value"] == results["cost"] and target["met"] == (results["cost"] <= 0.25)
    assert results["in_process"]["feed_us_per_batch"] > 0
    text = feeds_bench.table(results)
    assert "target: publishing costs" in text and "feed path in process" in text
    json.dumps(results)                                   # JSON-ready


def test_the_cli_refuses_bad_subscriber_counts(capsys):
    assert cli.main(["bench", "feeds", "--subscribers", "99"]) == 2
    assert "--subscribers must be 0..64" in capsys.readouterr().err
