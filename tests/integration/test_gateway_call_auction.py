"""A call auction through the real daemon: the operator opens a call, two regional platforms
enter crossing orders that rest, the feed publishes the indicative uncrossing (and a late
joiner gets it in its snapshot), and the operator's resume trades the book at one price:
both owners get their fills and the feed its trade."""
from conftest import admin_request, drain
from feeds.client import FeedClient
from feeds.messages import FeedType
from gateway.protocol import MsgType
from matching import InstrumentStatus, Side

SYMBOLS = ["SCEA2026", "CQEA2026", "CCER2025"]
SC_ACCOUNT, CQ_ACCOUNT = 1, 4


def indicative(client, n=0):
    row = client.latest.get((FeedType.INDICATIVE, n))
    return None if row is None else (int(row["price"]), int(row["qty"]), int(row["side"]),
                                     int(row["bid_qty"]), int(row["ask_qty"]))


def poll_until(client, done, rounds=200):
    for _ in range(rounds):
        if done():
            return True
        client.poll(20)
    return done()


def test_a_call_collects_crossing_orders_publishes_its_indicative_and_uncrosses_on_resume(fresh_daemon, connect,
                                                                                           zctx):
    feed = FeedClient(fresh_daemon.info["feed"], fresh_daemon.info["feed_snapshots"], SYMBOLS, ctx=zctx)
    feed.start()
    reply = admin_request(zctx, fresh_daemon, "phase", instrument="SCEA2026", status="CALL")
    assert [e["kind"] for e in reply["events"]] == ["INSTRUMENT_STATUS", "INDICATIVE"]
    sc, cq = connect(fresh_daemon, 1), connect(fresh_daemon, 2)
    sc.login()
    cq.login()
    sc.submit(0, SC_ACCOUNT, Side.SELL, qty=60, price=4990)
    cq.submit(0, CQ_ACCOUNT, Side.BUY, qty=100, price=5010)
    sell = drain(sc, lambda got: any(r.msg_type == MsgType.ACK for r in got))[-1]
    buy = drain(cq, lambda got: any(r.msg_type == MsgType.ACK for r in got))[-1]
    # 4990 and 5010 both execute 60 with a buy surplus of 40: the higher price
    assert poll_until(feed, lambda: indicative(feed) == (5010, 60, Side.BUY, 40, 0))
    assert not feed.trades
    late = FeedClient(fresh_daemon.info["feed"], fresh_daemon.info["feed_snapshots"], SYMBOLS, ctx=zctx)
    late.start()
    assert indicative(late) == (5010, 60, Side.BUY, 40, 0)        # from the snapshot
    assert int(late.latest[(FeedType.STATUS, 0)]["status"]) == InstrumentStatus.CALL

    reply = admin_request(zctx, fresh_daemon, "resume", instrument="SCEA2026")
    assert [e["kind"] for e in reply["events"]][:2] == ["TRADE", "INSTRUMENT_STATUS"]
    sold = drain(sc, lambda got: any(r.msg_type == MsgType.FILL for r in got))
    bought = drain(cq, lambda got: any(r.msg_type == MsgType.FILL for r in got))
    fill_s = next(r for r in sold if r.msg_type == MsgType.FILL)
    fill_b = next(r for r in bought if r.msg_type == MsgType.FILL)
    assert (fill_s.order_id, fill_s.price, fill_s.qty, fill_s.leaves) == (sell.order_id, 5010, 60, 0)
    assert fill_s.session == fill_b.session == 0            # caused by the operator's command
    assert (fill_b.order_id, fill_b.price, fill_b.qty, fill_b.leaves) == (buy.order_id, 5010, 60, 40)
    assert poll_until(feed, lambda: len(feed.trades) == 1)
    assert [(int(t["price"]), int(t["qty"])) for t in feed.trades] == [(5010, 60)]
    after = FeedClient(fresh_daemon.info["feed"], fresh_daemon.info["feed_snapshots"], SYMBOLS, ctx=zctx)
    after.start()
    assert indicative(after) is None                               # the call is over
    for c in (sc, cq):
        c.logout(timeout_ms=1000)
    for f in (feed, late, after):
        f.close()
