"""FeedClient over real loopback sockets against a FeedService: late joiners, lost messages
and many subscribers all converge to the engine's books and trades."""
import pytest
import zmq

from feed_market import SYMBOLS, Market, converge, subscriber
from feeds.client import FeedClient, FeedError
from feeds.encoder import FeedEncoder
from feeds.messages import CHANNEL, FeedType, topic
from matching._state import BookView


@pytest.fixture
def market():
    m = Market()
    yield m
    m.close()


def test_a_subscriber_from_the_start_sees_every_trade_and_the_same_books(market):
    client = subscriber(market)
    for _ in range(10):
        market.trade_some()
    assert converge(client, market)
    assert [int(t["trade_id"]) for t in client.trades] == market.trades


def test_max_trades_keeps_the_latest_trades_in_feed_order_and_no_more_than_twice_as_many(market):
    client = subscriber(market, max_trades=3)
    for _ in range(10):
        market.trade_some()
    assert converge(client, market)
    kept = [int(t["trade_id"]) for t in client.trades]
    assert len(market.trades) > 6 and 3 <= len(kept) < 6 and kept == market.trades[-len(kept):]
    with pytest.raises(ValueError, match="max_trades"):
        FeedClient(market.pub_endpoint, market.snapshot_endpoint, max_trades=0)


def test_a_late_joiner_converges_from_a_snapshot(market):
    for _ in range(10):
        market.trade_some()
    client = subscriber(market)
    assert client.resyncs >= 1 and client.books[0].view(depth=None) == market.engine.book(0, depth=10**6)
    for _ in range(5):
        market.trade_some()
    assert converge(client, market)
    (_, last), = [(k, v) for k, v in client.latest.items() if k == (FeedType.TRADE, 0)] or [(None, None)]
    assert last is not None


def test_a_subscriber_that_loses_messages_detects_the_gap_and_resynchronises():
    market = Market(sndhwm=1)
    try:
        client = subscriber(market, rcvhwm=1)
        for _ in range(30):                                   # the consumer is paused meanwhile
            market.trade_some(500)
        assert converge(client, market, rounds=200)
        assert client.resyncs >= 2
    finally:
        market.close()


def test_a_subscriber_behind_reads_its_backlog_in_a_poll_or_a_few_not_a_frame_per_poll(market):
    # rcvhwm=1: libzmq hands the socket its next frame only once one is read, so the queue
    # looks empty between two frames of a backlog; reading one frame per poll, a paused
    # subscriber polled now and then would stay behind, never reaching its gap or the
    # heartbeat that shows it
    client = subscriber(market, rcvhwm=1)
    for _ in range(600):                                      # paused meanwhile: ~3,500 frames, none lost
        market.trade_some(50)
    for _ in range(10):
        client.poll(1000)
        if all(client.books[n].view(depth=None) == market.engine.book(n, depth=10**6) for n in range(2)):
            break
    assert all(client.books[n].view(depth=None) == market.engine.book(n, depth=10**6) for n in range(2))
    assert [int(t["trade_id"]) for t in client.trades] == market.trades and client.resyncs == 1


def test_sixteen_subscribers_all_converge(market):
    clients = [subscriber(market) for _ in range(16)]
    for _ in range(5):
        market.trade_some()
    assert all(converge(c, market) for c in clients)


def test_an_unknown_instrument_snapshot_is_refused(market):
    sock = market.ctx.socket(zmq.DEALER)
    sock.setsockopt(zmq.LINGER, 0)
    sock.connect(market.snapshot_endpoint)
    sock.send_multipart([b"SNAPSHOT", b"NOPE"])
    assert sock.poll(2000)
    assert sock.recv_multipart() == [b"ERROR", b"unknown instrument NOPE"]
    sock.close(0)


def test_a_restarted_publisher_starts_a_new_epoch_from_the_engine_and_subscribers_follow(market):
    client = subscriber(market)
    for _ in range(5):
        market.trade_some()
    assert converge(client, market)
    # the daemon restarts: its encoder starts again from the engine's state, numbering from 1
    with market.lock:
        restarted = FeedEncoder(SYMBOLS, market.engine, epoch=market.encoder.epoch + 1)
        restarted.load()
        market.encoder = market.service.encoder = restarted
    resyncs = client.resyncs
    for _ in range(5):
        market.trade_some()
    assert converge(client, market)
    assert client.resyncs > resyncs and client.epoch == restarted.epoch


def test_symbols_choose_the_instruments_followed(market):
    """``symbols=`` is a filter: only its instruments' topics are subscribed and only their
    books and trades kept; ``books[n]`` stays instrument n's (the feed's list by index)."""
    for _ in range(3):
        market.trade_some()
    client = FeedClient(market.pub_endpoint, market.snapshot_endpoint, ["SCEA2026"], ctx=market.ctx)
    market.clients.append(client)
    assert set(client.topics) == {topic(kind, "SCEA2026") for kind in CHANNEL}
    client.start()
    # a SUB connection is live some time after start(): trade until the client has heard trades
    # as well as converged (a trade published before then is lost to it, not wrong)
    for _ in range(100):
        market.trade_some()
        with market.lock:
            market.service.heartbeat()
        client.poll(50)
        if client.trades and client.books[0].view(depth=None) == market.engine.book(0, depth=10**6):
            break
    for _ in range(50):                   # the last batch's messages, if the loop ran out first
        with market.lock:
            market.service.heartbeat()
        client.poll(50)
        if client.books[0].view(depth=None) == market.engine.book(0, depth=10**6):
            break
    assert client.symbols == SYMBOLS
    assert client.books[0].view(depth=None) == market.engine.book(0, depth=10**6)
    assert market.engine.book(1, depth=10**6) != client.books[1].view(depth=None)   # CQEA: not followed
    assert client.books[1].view(depth=None) == BookView([], [])
    assert {int(t["instrument"]) for t in client.trades} == {0}
    assert {k[1] for k in client.latest} == {0}


def test_an_unknown_symbol_is_refused_at_start(market):
    client = FeedClient(market.pub_endpoint, market.snapshot_endpoint, ["SCEA2026", "NOPE"], ctx=market.ctx)
    market.clients.append(client)
    with pytest.raises(FeedError, match="the feed lists no NOPE"):
        client.start()


def test_taker_select_orders_are_followed_from_the_snapshot_and_live(market):
    from matching import InstrumentParameter, commands

    def publish(*cmds):
        with market.lock:
            for cmd in cmds:
                market.service.publish(market.engine.process(cmd))

    def engine_orders():
        view = market.engine.queue(0, 10**6)
        return {oid: [side, price, qty] for side, rows in ((1, view.bids), (2, view.asks)) for oid, price, qty in rows}
    publish(commands.set_instrument_parameter(0, InstrumentParameter.SELECT_DEPTH, 5),
            commands.new_order(0, 1, 2, 10, 5010), commands.new_order(0, 2, 1, 7, 5030))     # crossed: it rests
    late = subscriber(market)
    assert late.orders[0] == engine_orders() == {1: [2, 5010, 10], 2: [1, 5030, 7]}     # from the snapshot
    publish(commands.take_fixed(1, 3, 4), commands.new_order(0, 4, 2, 5, 5020), commands.cancel(2, 2))
    for _ in range(100):
        late.poll(20)
        if late.orders[0] == engine_orders():
            break
    assert late.orders[0] == engine_orders() == {1: [2, 5010, 6], 4: [2, 5020, 5]}
