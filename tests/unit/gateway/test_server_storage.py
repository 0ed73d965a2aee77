"""The gateway's side of a failing journal (issue 13, F5), in process on real files: a batch
the journal refuses is not applied, its sequence numbers and client order ids are reused, its
orders are refused STORAGE_UNAVAILABLE, operator commands get an error, the daemon's own
commands wait; EIO stops the daemon. A failed fsync is injected into ``os.fsync``."""
import errno
import os

import numpy as np
import pytest

import exchange.server as server
from bench.gateway_bench import market_config, orders_pool
from exchange.config import parse_config
from exchange.journal import read_records
from gateway.protocol import GatewayReject, MsgType
from matching import commands
from wire import Wire, logged_in


@pytest.fixture
def gw(tmp_path):
    g = logged_in(server.ExchangeNode(parse_config(market_config(1, durability="fsync")), tmp_path))
    g.admin.socket = Wire()
    yield g
    g.close()


def _pool(first_coid: int, n: int = 10) -> bytes:
    pool = orders_pool(n, (1, 2), seed=first_coid)
    pool["client_order_id"] = np.arange(first_coid, first_coid + n)
    return pool.tobytes()


def _fail_fsync(monkeypatch, code):
    def broken(fd):
        raise OSError(code, os.strerror(code))
    monkeypatch.setattr(os, "fsync", broken)


@pytest.mark.parametrize("code, state", [(errno.ENOSPC, "unavailable"), (errno.EIO, "failed")])
def test_a_refused_batch_changes_nothing_and_every_order_is_told(gw, tmp_path, monkeypatch, code, state):
    s = gw.sessions[1]
    gw.run_batch([_pool(1)], [s.idx], [1_000])
    seq, digest, journaled = gw.next_seq, gw.engine.state_digest(), gw.journal.last_seq
    gw.sessions.router.sent.clear()
    gw.submit_operator(b"op", 7, commands.deposit(1, 100))
    gw.admin.pending.append((commands.deposit(2, 5), None))        # e.g. a scheduled or on-disconnect command
    real = os.fsync
    _fail_fsync(monkeypatch, code)
    gw.run_batch([_pool(11)], [s.idx], [2_000])
    monkeypatch.setattr(os, "fsync", real)
    assert gw.next_seq == seq and gw.engine.state_digest() == digest and gw.journal.last_seq == journaled
    assert gw.storage.state == state and gw.stopping == (state == "failed")
    (_, reports), = gw.sessions.router.sent
    assert len(reports) == 10 and (reports["msg_type"] == MsgType.REJECT).all()
    assert (reports["reason"] == GatewayReject.STORAGE_UNAVAILABLE).all() and not reports["report_seq"].any()
    assert reports["client_order_id"].tolist() == list(range(11, 21))
    reply, = gw.admin.socket.replies
    assert reply["ok"] is False and reply["id"] == 7 and "storage unavailable" in reply["error"]
    assert len(gw.admin.pending) == 1 and len(gw.admin.pending[0][0]) == 1     # the daemon's own command waits
    assert gw.intake.state.coid_last[s.idx] == 10                                         # the refused ids are free again
    assert int(list(read_records(tmp_path))[-1].rows["seq"][-1]) == seq - 1
    if state == "unavailable":
        gw.sequencer.probe()                                          # space (tmp_path has plenty)
        assert gw.storage.available
        gw.sessions.router.sent.clear()
        gw.run_batch([_pool(11)], [s.idx], [3_000])                 # the same client order ids
        acks = np.concatenate([r for _, r in gw.sessions.router.sent])
        assert (acks["reason"] != GatewayReject.STORAGE_UNAVAILABLE).all()
        rows = np.concatenate([r.rows for r in read_records(tmp_path)])
        assert rows["seq"].tolist() == list(range(1, gw.next_seq))   # gapless
        assert gw.storage.describe()["episodes"] == 1
    else:
        assert not gw.sequencer.probe() and gw.storage.state == "failed"


def test_while_unavailable_orders_are_refused_before_the_journal(gw, monkeypatch):
    s = gw.sessions[1]
    real = os.fsync
    _fail_fsync(monkeypatch, errno.ENOSPC)
    gw.run_batch([_pool(1)], [s.idx], [1_000])
    monkeypatch.setattr(os, "fsync", real)
    records = gw.journal.counters["records"]
    gw.sessions.router.sent.clear()
    gw.run_batch([_pool(11, 5)], [s.idx], [2_000])
    assert gw.journal.counters["records"] == records
    (_, reports), = gw.sessions.router.sent
    assert (reports["reason"] == GatewayReject.STORAGE_UNAVAILABLE).all() and len(reports) == 5
    assert gw.intake.state.coid_last[s.idx] == 0 and gw.storage.refused == 15
    assert gw.status()["storage"]["state"] == "unavailable"
