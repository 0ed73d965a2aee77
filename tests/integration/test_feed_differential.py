"""Market data through the real daemon against the engine itself: random order streams from
two platforms, subscribers from the start, sixteen at once, a late joiner, an asyncio one and
one forced to lose messages all end with the engine's books level for level, and the trades
they saw are the engine's (rebuilt offline from the daemon's journal)."""
import asyncio

import numpy as np
import pytest

from conftest import MARKET, SOCKET_PATHS, Daemon, eventually, socket_path_env
from feed_helpers import journal_events
from feeds.client import AsyncFeedClient, FeedClient
from feeds.messages import FeedType
from gateway.client import orders
from gateway.protocol import REPORT_DTYPE, MsgType
from matching import EventKind, Side, TradeType

INSTRUMENTS = 3
SC_ACCOUNTS, CQ_ACCOUNTS = (1, 2), (3, 4)
PRICE = {0: 5000, 1: 4480, 2: 6000}                  # the configured reference prices
TICK = {0: 1, 1: 1, 2: 5}


def _flow(rng, n, accounts):
    """``n`` random limit orders (GTC and IOC, both sides, near the reference) as one frame."""
    ins = rng.integers(0, INSTRUMENTS, n)
    side = rng.integers(1, 3, n)
    offset = rng.integers(-8, 9, n) * np.array([TICK[i] for i in ins.tolist()])
    price = np.array([PRICE[i] for i in ins.tolist()]) + offset
    return orders(n, instrument=ins, account=rng.choice(accounts, n), side=side, order_type=1,
                  tif=np.where(rng.random(n) < 0.8, 1, 3), price=price, qty=rng.integers(1, 30, n))


def _trade(platforms, rng, rounds, per_frame=60):
    """Random orders from both platforms, and cancels of some they rested; wait for every answer."""
    for _ in range(rounds):
        for client, accounts in platforms:
            client.send_orders(_flow(rng, per_frame, accounts))
            acks = _answers(client, per_frame)
            rested = acks[(acks["msg_type"] == MsgType.ACK) & (acks["leaves"] > 0)]
            doomed = rested[rng.random(len(rested)) < 0.3]
            for r in doomed:
                client.cancel(int(r["order_id"]), int(r["account"]))


def _answers(client, n):
    """The ACK/REJECT reports of the last ``n`` orders (other reports are read and dropped)."""
    got = []
    count = 0
    while count < n:
        rows = client.recv(5000)
        assert rows is not None, "no answer from the daemon"
        mine = rows[np.isin(rows["msg_type"], (MsgType.ACK, MsgType.REJECT)) & (rows["client_order_id"] > 0)]
        got.append(mine)
        count += len(mine)
    return np.concatenate(got) if got else np.zeros(0, REPORT_DTYPE)


def _ladders(books):
    return [(b.view(TradeType.CONTINUOUS), b.view(TradeType.FIXED)) for b in books]


def _engine_ladders(engine):
    return [(engine.book(n, 10**6), engine.listings(n, 10**6)) for n in range(INSTRUMENTS)]


@pytest.fixture(params=SOCKET_PATHS)
def market(request, tmp_path):
    # small feed buffers, so that a paused subscriber loses messages; published through
    # libzmq's zmq_send and through pyzmq (zmqio.libzmq)
    d = Daemon(tmp_path / "state", MARKET.replace("snapshot_port = 0\n",
                                                  "snapshot_port = 0\nfeed_hwm = 100\nfeed_sndbuf = 65536\n"),
               env=socket_path_env(request.param))
    yield d
    d.stop()


def test_every_subscriber_ends_with_the_engines_books_and_trades(market, connect, zctx):
    d = market
    feed, snaps = d.info["feed"], d.info["feed_snapshots"]
    early = FeedClient(feed, snaps, ctx=zctx, timeout_ms=5000)
    crowd = [FeedClient(feed, snaps, ctx=zctx, timeout_ms=5000) for _ in range(16)]
    lossy = FeedClient(feed, snaps, ctx=zctx, timeout_ms=5000, rcvhwm=1, rcvbuf=4096)
    for c in (early, *crowd, lossy):
        c.start()
    sc, cq = connect(d, 1), connect(d, 2)
    sc.login(), cq.login()
    rng = np.random.default_rng(20)
    platforms = [(sc, SC_ACCOUNTS), (cq, CQ_ACCOUNTS)]
    # a heartbeat (twice a second) proves each subscription live before anything trades
    eventually(lambda: all((c.poll(0), c.heartbeats)[1] for c in (early, *crowd, lossy)), 10,
               what="a heartbeat on every subscriber")
    late = None
    for k in range(20):
        _trade(platforms, rng, 1, per_frame=250)
        for c in (early, *crowd):                 # these keep up; the lossy one is paused throughout
            c.poll(0)
        if k == 5:
            late = FeedClient(feed, snaps, ctx=zctx, timeout_ms=5000)        # joins mid-stream
            late.start()
        if late is not None:
            late.poll(0)
    sc.logout(timeout_ms=1000), cq.logout(timeout_ms=1000)
    reference = FeedClient(feed, snaps, ctx=zctx, timeout_ms=5000)          # the engine's books, now
    reference.start()
    everyone = (early, *crowd, late, lossy)
    names = ["early", *(f"crowd[{i}]" for i in range(len(crowd))), "late", "lossy"]

    def behind():
        return [f"{n} (resyncs {c.resyncs})" for n, c in zip(names, everyone)
                if (c.poll(20), _ladders(c.books) != _ladders(reference.books))[1]]
    try:
        eventually(lambda: not behind(), 20, what="every subscriber's books to converge")
    except AssertionError as e:
        raise AssertionError(f"{e}: still behind {behind()}") from None
    beats = [c.heartbeats for c in everyone]       # one more heartbeat each: a lost tail would show now
    eventually(lambda: all((c.poll(20), c.heartbeats > b)[1] for c, b in zip(everyone, beats)), 10,
               what="a heartbeat after convergence")
    assert _ladders(lossy.books) == _ladders(reference.books)
    assert lossy.resyncs >= 2                       # it lost messages, saw the gap and caught up from a snapshot
    assert early.resyncs == 1 and all(c.resyncs == 1 for c in crowd)       # these never lost one

    async def follow():                             # an asyncio subscriber converges the same way
        client = AsyncFeedClient(feed, snaps, timeout_ms=5000)
        try:
            await client.start()
            assert _ladders(client.books) == _ladders(reference.books)
            return client.resyncs, client.symbols
        finally:
            client.close()
    resyncs, symbols = asyncio.run(follow())
    assert resyncs == 1 and symbols == d.info["instruments"]

    assert d.stop() == 0
    engine, events = journal_events(d)
    assert _ladders(reference.books) == _engine_ladders(engine)
    trades = events[events["kind"] == EventKind.TRADE]
    assert len(trades) > 100
    seen = np.array(early.trades)
    assert seen[["trade_id", "price", "qty", "side", "trade_type", "instrument"]].tolist() == \
        trades[["trade_id", "price", "qty", "side", "trade_type", "instrument"]].tolist()
    for c in crowd:
        assert [int(t["trade_id"]) for t in c.trades] == trades["trade_id"].tolist()
    for c in (*everyone, reference):
        c.close()


def test_an_asyncio_subscriber_follows_the_live_feed(daemon, connect):
    feed, snaps = daemon.info["feed"], daemon.info["feed_snapshots"]
    sc = connect(daemon, 1)
    sc.login()

    async def scenario():
        client = AsyncFeedClient(feed, snaps, topics=(b"T.", b"D.", b"B."), timeout_ms=5000)
        try:
            await client.start()
            applied = []
            for _ in range(200):                   # until a heartbeat proves the subscription live
                applied += list(await client.poll(25))
                if client.heartbeats:
                    break
            sc.submit(0, 1, Side.SELL, qty=7, price=5013)
            sc.submit(0, 2, Side.BUY, qty=3, price=5013)
            async for row in client:               # until the trade and the depth it left have come
                applied.append(row)
                if any(r["msg_type"] == FeedType.TRADE for r in applied) and \
                        (5013, 4, 1) in client.books[0].view(TradeType.CONTINUOUS).asks:
                    break
            return client, applied
        finally:
            client.close()
    client, applied = asyncio.run(scenario())
    trade = [r for r in applied if r["msg_type"] == FeedType.TRADE][-1]
    assert (int(trade["price"]), int(trade["qty"]), int(trade["side"])) == (5013, 3, Side.BUY)
    assert client.heartbeats >= 1 and client.resyncs == 1
    assert (5013, 4, 1) in client.books[0].view(TradeType.CONTINUOUS).asks
