"""Background snapshots (issue 13, F4): a forked child writes the state of one sequence number
while the loop goes on; the loop reaps it later, logs it and prunes; a failed one is logged
and tried again later; the admin ``snapshot`` is answered once its snapshot is on disk."""
import json
import logging
import time

import numpy as np
import pytest

import exchange.server as server
from bench.gateway_bench import market_config, orders_pool
from exchange.config import parse_config
from exchange.recovery import snapshots
from matching import Engine
from wire import Wire, logged_in


@pytest.fixture
def gw(tmp_path):
    text = market_config(1).replace("snapshot_every_commands = 0", "snapshot_every_commands = 100")
    g = logged_in(server.ExchangeNode(parse_config(text), tmp_path))
    g.admin.socket = Wire()
    yield g
    g.snapshots.wait()
    g.close()


def batch(gw, k: int) -> None:
    pool = orders_pool(50, (1, 2), seed=k)
    pool["client_order_id"] = np.arange(1 + 50 * k, 51 + 50 * k)
    gw.run_batch([pool.tobytes()], [1], [1_000])


def tick_until_reaped(gw, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while gw.snapshots.child is not None:
        assert time.monotonic() < deadline, "the snapshot writer did not finish"
        gw.snapshots.reap(block=False)          # the loop's own, non-blocking reap
        time.sleep(0.01)                        # polling a child process, with a deadline


def test_the_snapshot_is_the_state_at_the_fork_while_the_loop_goes_on(gw, tmp_path):
    for k in range(4):
        batch(gw, k)
    at_fork, digest = gw.next_seq - 1, gw.engine.state_digest()
    gw.snapshots.start()
    child = gw.snapshots.child
    assert child is not None and child.last == at_fork
    for k in range(4, 8):                       # the loop goes on matching meanwhile
        batch(gw, k)
    assert gw.next_seq - 1 > at_fork
    tick_until_reaped(gw)
    (last, path), *_ = snapshots(tmp_path)
    assert last == at_fork and gw.snapshots.last_seq == at_fork
    assert Engine.restore(path.read_bytes()).state_digest() == digest
    with np.load(tmp_path / f"gateway-{at_fork:012d}.npz") as z:
        assert json.loads(bytes(z["meta"]).decode())["next_seq"] == at_fork + 1


def test_the_timer_forks_one_writer_at_a_time_when_due(gw, tmp_path):
    while not gw.snapshots.due():
        batch(gw, gw.next_seq)
    gw.snapshots.tick()
    child = gw.snapshots.child
    assert child is not None
    batch(gw, 10_000)
    gw.snapshots.tick()                         # running or reaped: never a second writer at once
    assert gw.snapshots.child in (child, None)
    tick_until_reaped(gw)
    assert snapshots(tmp_path)[0][0] == child.last and not list(tmp_path.glob("*.tmp*"))


def test_a_failed_snapshot_is_logged_and_tried_again_later(gw, tmp_path, caplog):
    while not gw.snapshots.due():
        batch(gw, gw.next_seq)
    last = gw.next_seq - 1
    blocker = tmp_path / f"gateway-{last:012d}.tmp.npz"
    blocker.mkdir()                             # the child cannot write its gateway tables
    with caplog.at_level(logging.ERROR, logger="chuanyu.gateway"):
        gw.snapshots.tick()
        gw.snapshots.wait()
    assert f"snapshot at seq {last} failed" in caplog.text
    assert not snapshots(tmp_path) and gw.snapshots.last_seq == 0
    gw.snapshots.tick()                         # still due, but not before the retry time
    assert gw.snapshots.child is None
    blocker.rmdir()
    gw.snapshots.retry_at = 0.0
    gw.snapshots.tick()
    gw.snapshots.wait()
    assert snapshots(tmp_path)[0][0] == last


def test_the_admin_snapshot_is_answered_when_its_snapshot_is_on_disk(gw, tmp_path):
    batch(gw, 0)
    gw.request_snapshot(b"operator", 1)
    first = gw.snapshots.child.last
    batch(gw, 1)
    gw.request_snapshot(b"operator", 2)         # while one is written: the next one is its own
    assert gw.admin.socket.replies == []
    gw.snapshots.wait()
    assert gw.admin.socket.replies == [{"ok": True, "id": 1, "snapshot": str(tmp_path / f"snapshot-{first:012d}.bin")}]
    gw.snapshots.tick()
    second = gw.snapshots.child.last
    assert second > first
    gw.snapshots.wait()
    assert gw.admin.socket.replies[1] == {"ok": True, "id": 2, "snapshot": str(tmp_path / f"snapshot-{second:012d}.bin")}
