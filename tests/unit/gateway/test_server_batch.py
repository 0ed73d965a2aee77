"""The daemon's batch step in-process (no sockets): both field-copy strategies of the numpy
reference report builder give the same reports as each other and as the C builder, and a big
mixed batch is routed to the right sessions."""
import numpy as np
import pytest

import exchange.server as server
import reports_reference
from bench.gateway_bench import market_config, orders_pool
from exchange.config import parse_config
from gateway.protocol import MsgType
from wire import logged_in


def _run(tmp_path, monkeypatch, gather_max):
    """The reports of one big batch; ``gather_max`` None: the C builder, else the numpy one."""
    if gather_max is None:
        gw = logged_in(server.ExchangeNode(parse_config(market_config(2)), tmp_path))
    else:
        monkeypatch.setattr(reports_reference, "GATHER_MAX", gather_max)
        gw = logged_in(server.ExchangeNode(parse_config(market_config(2)), tmp_path,
                                      report_builder=reports_reference.build_reports))
    frames, sess = [], []
    for k in range(2):                     # session k+1 trades accounts 2k+1, 2k+2
        pool = orders_pool(400, (2 * k + 1, 2 * k + 2), seed=k)
        pool["client_order_id"] = np.arange(1, 401)
        frames += [pool[:200].tobytes(), pool[200:].tobytes()]
        sess += [k + 1, k + 1]
    gw.run_batch(frames, sess, [1_000] * 4)
    gw.close()
    return gw.sessions.router.sent


def test_gather_and_column_copies_build_identical_reports(tmp_path, monkeypatch):
    by_gather = _run(tmp_path / "a", monkeypatch, 10**9)
    by_column = _run(tmp_path / "b", monkeypatch, 0)
    in_c = _run(tmp_path / "c", monkeypatch, None)
    for other in (by_column, in_c):
        assert [i for i, _ in by_gather] == [i for i, _ in other]
        for (_, a), (_, b) in zip(by_gather, other):
            a["ts"] = b["ts"] = 0          # the engine clock: each gateway's start-up time
            assert a.tobytes() == b.tobytes()
    reports = np.concatenate([r for _, r in by_gather])
    assert (reports["msg_type"] == MsgType.FILL).sum() > 20
    assert (reports["msg_type"] == MsgType.ACK).sum() + (reports["msg_type"] == MsgType.REJECT).sum() == 800


@pytest.mark.parametrize("gather_max", [None, 0, 10**9])
def test_every_report_reaches_the_session_owning_its_order(tmp_path, monkeypatch, gather_max):
    sent = _run(tmp_path, monkeypatch, gather_max)
    owner = {b"id1": (1, 2), b"id2": (3, 4)}
    for identity, reports in sent:
        assert set(reports["account"].tolist()) <= set(owner[identity])
        seqs = reports["report_seq"]
        assert (np.diff(seqs) == 1).all()


def test_a_restart_sweeps_what_a_kill_mid_snapshot_or_mid_prune_left(tmp_path):
    """Gateway tables without their snapshot-*.bin, and half-written snapshot files, go at
    start; the snapshot recovery uses and its tables stay."""
    cfg = parse_config(market_config(2))
    gw = server.ExchangeNode(cfg, tmp_path / "state")
    snap = gw.write_snapshot()
    gw.close()
    state = tmp_path / "state"
    tables = state / snap.name.replace("snapshot-", "gateway-").replace(".bin", ".npz")
    leftovers = [state / "gateway-000000000001.npz", state / "snapshot-000000000099.bin.tmp",
                 state / "gateway-000000000099.tmp.npz"]
    for path in leftovers:
        path.write_bytes(tables.read_bytes())
    again = server.ExchangeNode(cfg, state)
    try:
        assert again.recovery["snapshot"] == snap.name
        assert not any(path.exists() for path in leftovers)
        assert tables.exists() and snap.exists()
    finally:
        again.close()
