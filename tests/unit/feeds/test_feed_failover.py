"""FeedClient and AsyncFeedClient given several nodes' feed and snapshot endpoints (high
availability): they follow the node that answers, and when its feed goes silent move to the
next and resynchronise there, under that node's epoch and numbering. Nodes are FeedServices
on loopback that heartbeat as the daemon does; a node that is not the primary binds nothing."""
import asyncio
import time

import pytest
import zmq
import zmq.asyncio

from feed_market import SYMBOLS, Market
from feeds.client import AsyncFeedClient, FeedClient, FeedError
from helpers import free_endpoint

BEAT_S = 0.1


def books_of(market):
    return [market.engine.book(n, depth=10**6) for n in range(len(SYMBOLS))]


def client_books(client):
    return [client.books[n].view(depth=None) for n in range(len(SYMBOLS))]


def poll_until(client, predicate, timeout=5.0):
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        client.poll(50)


@pytest.fixture
def markets():
    """``markets(seed, epoch)``: a node publishing a market of its own, heartbeating; closed at
    teardown."""
    made = []

    def make(seed, epoch=0):
        made.append(Market(seed=seed, heartbeat_s=BEAT_S, epoch=epoch))
        return made[-1]
    yield make
    for m in made:
        if not m.stop.is_set():
            m.close()


def test_one_pair_or_several_paired_by_index(zctx):
    a, b = free_endpoint(), free_endpoint()
    client = FeedClient(a, b, ctx=zctx)
    assert (client.pub_endpoints, client.snapshot_endpoints, client.pub_endpoint) == ([a], [b], a)
    client.close()
    with pytest.raises(ValueError, match="one of each per node"):
        FeedClient([a, b], [a], ctx=zctx)
    with pytest.raises(ValueError, match="snapshot_endpoint"):
        FeedClient([a], [], ctx=zctx)


def test_a_client_given_a_dead_pair_first_follows_the_live_one(zctx, markets):
    live = markets(11)
    for _ in range(5):
        live.trade_some()
    client = FeedClient([free_endpoint(), live.pub_endpoint], [free_endpoint(), live.snapshot_endpoint],
                        SYMBOLS, ctx=zctx)
    try:
        started = time.monotonic()
        client.start()
        assert 0.9 < time.monotonic() - started < 3                  # a second on the dead node first
        assert client.node == 1 and client.snapshot_endpoint == live.snapshot_endpoint
        assert client_books(client) == books_of(live) and client.epoch == live.encoder.epoch
        live.trade_some()
        poll_until(client, lambda: client_books(client) == books_of(live))
    finally:
        client.close()


def test_no_snapshot_service_answering_is_a_feed_error_naming_them(zctx):
    snaps = [free_endpoint(), free_endpoint()]
    client = FeedClient([free_endpoint(), free_endpoint()], snaps, ctx=zctx, timeout_ms=1200)
    try:
        started = time.monotonic()
        with pytest.raises(FeedError, match="no snapshot service answered within 1200 ms") as err:
            client.start()
        assert 1.1 < time.monotonic() - started < 2.5 and all(s in str(err.value) for s in snaps)
    finally:
        client.close()


def test_a_silent_feed_moves_the_client_to_the_next_node_and_its_own_epoch(zctx, markets):
    # the new node's publisher started first (or its clock is behind): its epoch is the older
    # one, and its sequence numbers are below those the client saw; it is followed all the same
    new = markets(22, epoch=1)
    old = markets(11, epoch=2)
    client = FeedClient([old.pub_endpoint, new.pub_endpoint], [old.snapshot_endpoint, new.snapshot_endpoint],
                        SYMBOLS, ctx=zctx)
    try:
        client.start()
        assert client.node == 0
        poll_until(client, lambda: client.heartbeats)                # the subscription is live: no trade missed
        for _ in range(10):
            old.trade_some()
        poll_until(client, lambda: client_books(client) == books_of(old) and len(client.trades) == len(old.trades))
        new.trade_some()
        assert books_of(new) != books_of(old)
        resyncs = client.resyncs
        old.close()                                                   # the primary is gone
        silent_at = time.monotonic()
        poll_until(client, lambda: client.node == 1, timeout=5)
        assert client.SILENCE_S <= time.monotonic() - silent_at < client.SILENCE_S + 1.5
        assert client.resyncs == resyncs + 1 and client.epoch == new.encoder.epoch
        assert client_books(client) == books_of(new)
        poll_until(client, lambda: client.heartbeats > resyncs)      # live on the new node too
        known = len(new.trades)
        for _ in range(3):
            new.trade_some()
        fresh = new.trades[known:]
        poll_until(client, lambda: client_books(client) == books_of(new)
                   and len(client.trades) == len(old.trades) + len(fresh))
        # the trades in the order they happened: the new node's numbering starts again below the old one's
        assert [int(t["trade_id"]) for t in client.trades] == old.trades + fresh
    finally:
        client.close()


def test_the_async_client_passes_a_dead_node_and_follows_a_failover(markets):
    old, new = markets(11), markets(22)          # the same epoch, as two nodes' clocks may give

    async def main():
        actx = zmq.asyncio.Context()
        client = AsyncFeedClient([free_endpoint(), old.pub_endpoint, new.pub_endpoint],
                                 [free_endpoint(), old.snapshot_endpoint, new.snapshot_endpoint],
                                 SYMBOLS, ctx=actx)
        try:
            await client.start()
            assert client.node == 1 and client.epoch == old.encoder.epoch
            old.trade_some()
            new.trade_some()
            old.close()
            deadline = time.monotonic() + 5
            while client.node != 2 or [client.books[n].view(depth=None) for n in range(2)] != books_of(new):
                assert time.monotonic() < deadline, "no failover"
                await client.poll(50)
            assert client.epoch == new.encoder.epoch
        finally:
            client.close()
            actx.destroy(linger=0)
    asyncio.run(main())
