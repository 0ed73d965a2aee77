"""Market data from the real daemon: a FeedClient's books and trades equal the engine's
(rebuilt offline from the daemon's journal), late joiners catch up, and the disclosure files
land in the state directory."""
import csv

import numpy as np

from conftest import drain
from feeds.client import FeedClient
from gateway.protocol import MsgType
from exchange.recovery import replay
from matching import Side

SYMBOLS = ["SCEA2026", "CQEA2026"]
SC_ACCOUNT, CQ_ACCOUNT = 1, 4


def feed_client(daemon, zctx):
    client = FeedClient(daemon.info["feed"], daemon.info["feed_snapshots"], SYMBOLS, ctx=zctx)
    client.start()
    return client


def test_feed_books_and_trades_match_the_engine_and_a_late_joiner_converges(fresh_daemon, connect, zctx):
    early = feed_client(fresh_daemon, zctx)
    sc, cq = connect(fresh_daemon, 1), connect(fresh_daemon, 2)
    sc.login()
    cq.login()
    rng = np.random.default_rng(3)
    sent = {sc: 0, cq: 0}
    for _ in range(120):                      # sells from Sichuan, buys from Chongqing: they cross
        price = int(5000 + rng.integers(-20, 21))
        if rng.random() < 0.5:
            sc.submit(0, SC_ACCOUNT, Side.SELL, qty=int(rng.integers(1, 20)), price=price)
            sent[sc] += 1
        else:
            cq.submit(0, CQ_ACCOUNT, Side.BUY, qty=int(rng.integers(1, 20)), price=price)
            sent[cq] += 1
    for client, n in sent.items():            # every order answered: the engine has seen them all
        drain(client, lambda got, n=n: sum(r.msg_type in (MsgType.ACK, MsgType.REJECT) for r in got) >= n)
    late = feed_client(fresh_daemon, zctx)
    trades_seen = []
    for _ in range(100):                      # let everything reach both subscribers
        early.poll(20)
        late.poll(20)
        trades_seen = [int(t["trade_id"]) for t in early.trades]
    sc.logout(timeout_ms=1000)
    cq.logout(timeout_ms=1000)
    early.poll(50)
    late.poll(50)
    assert fresh_daemon.stop() == 0
    engine = replay(fresh_daemon.state_dir).engine       # the state the daemon shut down with
    for n in range(len(SYMBOLS)):
        assert early.books[n].view(depth=None) == engine.book(n, depth=10**6)
        assert late.books[n].view(depth=None) == engine.book(n, depth=10**6)
    assert trades_seen and trades_seen == list(range(1, engine.next_trade_id))
    tape = list(csv.DictReader(next(fresh_daemon.state_dir.glob("trades-*.csv")).read_text().splitlines()))
    assert [int(r["trade_id"]) for r in tape] == trades_seen
    assert {(r["buyer_region"], r["seller_region"]) for r in tape} <= {("CQ", "SC")}
    early.close()
    late.close()
