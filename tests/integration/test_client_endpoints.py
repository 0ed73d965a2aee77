"""Clients given several nodes' endpoints (high availability), against real daemons: only the
primary binds its ports, so an endpoint nobody listens on stands for a node that is not the
primary, and a daemon restarted on other ports from the same state dir (the same market, the
same report numbering) for a failover to another node. The order client finds the node that
answers and gap fills across the move with every report exactly once; the feed client moves
on when its node falls silent and ends with the engine's books; ``chuanyu order`` and
``chuanyu feed`` take several endpoints or state dirs."""
import asyncio
import time

import numpy as np
import zmq
import zmq.asyncio

from conftest import Daemon, cli
from exchange.nats_cluster import free_port
from feed_helpers import journal_events
from feeds.client import FeedClient
from gapfill_helpers import SC, SCEA, fill_while_away, numbered, resting_sells
from gateway.client import AsyncClient, Client, as_reports, load_keys
from gateway.protocol import REPORT_DTYPE, MsgType
from matching import EventKind, Side, TradeType

def endpoint(port: int) -> str:
    return f"tcp://127.0.0.1:{port}"


def receive(c: Client, count: int, timeout: float = 10.0) -> np.ndarray:
    """Numbered reports (copies) until ``count`` of them came."""
    got = [np.zeros(0, REPORT_DTYPE)]
    deadline = time.monotonic() + timeout
    while sum(len(g) for g in got) < count:
        assert time.monotonic() < deadline, f"{sum(len(g) for g in got)} of {count} reports"
        rows = c.recv(100)
        if rows is not None:
            got.append(numbered(rows).copy())
    return np.concatenate(got)


def session(d: Daemon, cls, endpoints, number: int, key: str, ctx):
    public, secret = load_keys(d.keys, key)
    return cls(endpoints, d.info["server_public_key"], public, secret, number, context=ctx)


def test_a_client_given_a_dead_and_a_live_endpoint_logs_in_on_the_live_one(daemon, zctx):
    live = daemon.info["orders"]
    with session(daemon, Client, [endpoint(free_port()), live], 1, "sc-platform", zctx) as c:
        started = time.monotonic()
        c.login(timeout_ms=5000)
        assert 0.9 < time.monotonic() - started < 4 and c.endpoint == live
        coid = c.submit(SCEA, SC, Side.SELL, qty=1, price=5400)
        assert c.wait_for(lambda r: r.client_order_id == coid).msg_type == MsgType.ACK
        c.logout()


def test_after_a_move_to_another_port_reconnect_finds_it_and_every_report_comes_once(tmp_path, zctx):
    d = Daemon(tmp_path / "state")
    try:
        first, moved = d.info["orders"], endpoint(free_port())
        c = session(d, Client, [first, moved], 1, "sc-platform", zctx)
        c.login()
        assert c.endpoint == first
        c.send_orders(resting_sells(20, 5300))
        seen = receive(c, 20)
        c.send_orders(resting_sells(5, 5310))                     # answered, never read before the node goes
        assert c.sock.poll(5000)
        assert d.stop() == 0
        d.start("--order-port", moved.rsplit(":", 1)[1])  # the same state dir: the same numbering
        assert d.info["orders"] == moved
        with session(d, Client, d.info["orders"], 2, "cq-platform", zctx) as cq:
            fill_while_away(cq, 6)
        ack = c.reconnect(timeout_ms=10_000)              # the old endpoint first, then the new one
        assert c.endpoint == moved and ack.report_seq == 20 + 5 + 6
        missed = receive(c, ack.report_seq - c.last_report_seq)
        assert [r for r in c.reports(300) if r.report_seq] == []
        every = np.concatenate([seen, missed])["report_seq"].tolist()
        assert every == list(range(1, ack.report_seq + 1))          # none lost, none twice
        kinds = as_reports(missed)
        assert sum(r.msg_type == MsgType.ACK and r.price == 5310 for r in kinds) == 5
        assert sum(r.msg_type == MsgType.FILL for r in kinds) == 6
        coid = c.submit(SCEA, SC, Side.SELL, qty=1, price=5320)
        assert c.wait_for(lambda r: r.client_order_id == coid).report_seq == ack.report_seq + 1
        c.logout()
        c.close()
    finally:
        d.stop()


def test_the_async_client_follows_a_killed_daemon_to_its_new_port(tmp_path):
    d = Daemon(tmp_path / "state")
    moved = endpoint(free_port())

    async def main():
        actx = zmq.asyncio.Context()
        c = session(d, AsyncClient, [d.info["orders"], moved], 1, "sc-platform", actx)
        try:
            await c.login()
            await c.send_orders(resting_sells(6, 5300))
            got = []
            while sum(r.msg_type == MsgType.ACK for r in got) < 3:
                got += await c.reports(2000)
            seen = [r.report_seq for r in got if r.report_seq]
            await c.send_orders(resting_sells(4, 5340))           # answered while the client is not reading
            assert await c.sock.poll(5000)
            d.proc.kill()
            d.proc.wait(10)
            d.start("--order-port", moved.rsplit(":", 1)[1])
            ack = await c.reconnect(timeout_ms=10_000)
            assert c.endpoint == moved and ack.report_seq == 10 and c.last_report_seq == seen[-1]
            while len(seen) < 10:
                rows = await c.reports(2000)
                assert rows, f"gap fill stopped after {seen}"
                seen += [r.report_seq for r in rows if r.report_seq]
            assert seen == list(range(1, 11))
            coid = await c.submit(SCEA, SC, Side.SELL, qty=1, price=5350)
            assert (await c.wait_for(lambda r: r.client_order_id == coid)).report_seq == 11
            await c.logout()
        finally:
            c.close()
            actx.destroy(linger=0)
    try:
        asyncio.run(main())
    finally:
        d.stop()


def trade(d: Daemon, zctx, price: int) -> None:
    """A resting sell, a partly filling buy and a resting buy on SCEA: depth, a trade, a BBO."""
    with session(d, Client, d.info["orders"], 1, "sc-platform", zctx) as sc, \
            session(d, Client, d.info["orders"], 2, "cq-platform", zctx) as cq:
        sc.login(), cq.login()
        coid = sc.submit(SCEA, SC, Side.SELL, qty=30, price=price)
        assert sc.wait_for(lambda r: r.client_order_id == coid).msg_type == MsgType.ACK
        cq.submit(SCEA, 3, Side.BUY, qty=10, price=price)
        cq.wait_for(lambda r: r.msg_type == MsgType.FILL)
        coid = cq.submit(SCEA, 3, Side.BUY, qty=5, price=price - 20)
        assert cq.wait_for(lambda r: r.client_order_id == coid).msg_type == MsgType.ACK
        sc.logout(), cq.logout()


def ladders_of(d: Daemon) -> list:
    """Every instrument's book and listings, as the engine rebuilt from the journal has them."""
    engine, _ = journal_events(d)
    return [(engine.book(n, 10**6), engine.listings(n, 10**6)) for n in range(3)]


def poll_until(client, predicate, what: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        client.poll(50)


def books(client) -> list:
    return [(b.view(TradeType.CONTINUOUS), b.view(TradeType.FIXED)) for b in client.books]


def test_the_feed_client_passes_a_dead_pair_and_moves_on_when_its_node_falls_silent(tmp_path, zctx):
    d = Daemon(tmp_path / "state")
    try:
        pub, snaps = free_port(), free_port()
        client = FeedClient([endpoint(free_port()), d.info["feed"], endpoint(pub)],
                            [endpoint(free_port()), d.info["feed_snapshots"], endpoint(snaps)], ctx=zctx)
        try:
            client.start()
            assert client.node == 1 and client.symbols == d.info["instruments"]
            trade(d, zctx, 5400)
            ladders = ladders_of(d)
            poll_until(client, lambda: books(client) == ladders, "the live node's books")
            epoch = client.epoch
            # the node goes; another comes up on the third pair's ports, from the same state
            assert d.stop() == 0
            d.config_path.write_text(d.config_path.read_text().replace(
                "feed_port = 0\nsnapshot_port = 0\n", f"feed_port = {pub}\nsnapshot_port = {snaps}\n"))
            d.start()
            assert (d.info["feed"], d.info["feed_snapshots"]) == (endpoint(pub), endpoint(snaps))
            poll_until(client, lambda: client.node == 2, "the move to the third pair")
            assert client.epoch != epoch and books(client) == ladders
            beats = client.heartbeats
            poll_until(client, lambda: client.heartbeats > beats, "the new node's heartbeat")   # subscribed there
            seen = len(client.trades)
            trade(d, zctx, 5410)
            ladders = ladders_of(d)
            poll_until(client, lambda: books(client) == ladders and len(client.trades) > seen,
                        "the new node's books and trade")
            _, events = journal_events(d)
            assert [int(t["trade_id"]) for t in client.trades[seen:]] == \
                events[events["kind"] == EventKind.TRADE]["trade_id"].tolist()[-1:]
        finally:
            client.close()
    finally:
        d.stop()


def test_chuanyu_order_takes_several_endpoints_or_state_dirs(daemon, tmp_path):
    dead = endpoint(free_port())
    run = cli("order", "--endpoint", dead, "--endpoint", daemon.info["orders"], "--server-key",
              daemon.info["server_public_key"], "--keys", str(daemon.keys), "--session", "1",
              "sell", "0", "1", "5400", "--account", "1")
    assert run.returncode == 0, run.stderr
    assert run.stdout.startswith("ACK")
    run = cli("order", "--state-dir", str(tmp_path / "standby"), "--state-dir", str(daemon.state_dir),
              "--session", "1", "sell", "SCEA2026", "1", "5400", "--account", "1")
    assert run.returncode == 0, run.stderr
    assert run.stdout.startswith("ACK")


def test_chuanyu_feed_takes_several_pairs_or_state_dirs(daemon, tmp_path):
    run = cli("feed", "--feed", endpoint(free_port()), "--snapshots", endpoint(free_port()),
              "--feed", daemon.info["feed"], "--snapshots", daemon.info["feed_snapshots"], "--once", "SCEA2026")
    assert run.returncode == 0, run.stderr
    assert "SCEA2026" in run.stdout and "CQEA2026" not in run.stdout
    run = cli("feed", "--state-dir", str(tmp_path / "standby"), "--state-dir", str(daemon.state_dir),
              "--json", "--once")
    assert run.returncode == 0, run.stderr
    assert '"type":"snapshot"' in run.stdout.splitlines()[0]
