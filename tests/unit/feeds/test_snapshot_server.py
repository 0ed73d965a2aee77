"""SnapshotServer over real loopback sockets: one encoding answers many requests, a snapshot
never answers a request that came after it was asked for, subsets are cut in the thread,
the answer rate is capped, a request the loop leaves waiting is answered busy and
FeedClient retries it, and the thread stops cleanly."""
import json
import threading
import time

import numpy as np
import pytest
import zmq

from feeds.client import FeedClient
from feeds.encoder import FeedEncoder
from feeds.messages import FEED_DTYPE, FeedType
from feeds.service import BUSY, FeedService, bind_feed
from feeds.snapshot_server import SnapshotServer
from matching import Engine, Instrument, InstrumentStatus, Side, commands

SYMBOLS = ["SCEA2026", "CQEA2026"]


def _resting(engine, n=20):
    """Rest ``n`` buys on each instrument at distinct prices."""
    cmds = np.zeros(2 * n, dtype=commands.command(1).dtype)
    cmds["type"], cmds["side"], cmds["order_type"], cmds["tif"], cmds["qty"] = 1, Side.BUY, 1, 1, 5
    cmds["instrument"] = np.repeat([0, 1], n)
    cmds["account"] = np.arange(2 * n) % 7
    cmds["price"] = 4900 - np.tile(np.arange(n), 2)
    return engine.process(cmds)


class Loop:
    """The daemon's side: an engine and a FeedService whose asks a thread answers (or holds)."""

    def __init__(self, **limits):
        self.ctx = zmq.Context()
        self.engine = Engine([Instrument(s) for s in SYMBOLS])
        self.encoder = FeedEncoder(SYMBOLS, self.engine, epoch=1)
        pub, snap, (self.pub_endpoint, self.endpoint) = bind_feed(self.ctx, "127.0.0.1")
        self.service = FeedService(self.encoder, pub, snap, **{k: v for k, v in limits.items() if k != "max_wait_s"})
        if "max_wait_s" in limits:
            self.service.snapshot_server.max_wait = limits["max_wait_s"]
        self.server = self.service.snapshot_server
        self.service.start()
        self.lock = threading.Lock()
        self.serving = threading.Event()
        self.serving.set()
        self.held = threading.Event()
        self.encodings = 0
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._loop)
        self.thread.start()
        self.dealers = []

    def _loop(self):
        while not self.stop.is_set():
            if not self.serving.is_set():
                self.held.set()
                self.serving.wait(0.05)
                continue
            self.held.clear()
            if self.server.asks.poll(20):
                with self.lock:
                    self.encodings += self.service.serve_snapshots()

    def hold(self):
        """Stop encoding until ``serving`` is set again (the test may use ``asks`` meanwhile)."""
        self.serving.clear()
        assert self.held.wait(5)

    def publish(self, events):
        with self.lock:
            self.service.publish(events)

    def dealer(self):
        sock = self.ctx.socket(zmq.DEALER)
        sock.linger = 0
        sock.connect(self.endpoint)
        self.dealers.append(sock)
        return sock

    def close(self):
        self.stop.set()
        self.thread.join()
        for sock in self.dealers:
            sock.close(0)
        self.service.close()
        self.ctx.term()


@pytest.fixture
def loop():
    lp = Loop()
    yield lp
    lp.close()


def _answer(sock, timeout_ms=5000):
    assert sock.poll(timeout_ms), "no answer"
    return sock.recv_multipart()


def _wait(predicate, what, timeout=10.0):
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.005)                 # re-checked condition, bounded by the deadline


def test_many_waiting_requests_cost_one_encoding_or_two(loop):
    _resting(loop.engine)
    loop.hold()                                      # the loop is busy: requests pile up
    socks = [loop.dealer() for _ in range(60)]
    for s in socks:
        s.send_multipart([b"SNAPSHOT", b""])
    _wait(lambda: loop.server.counts["requests"] == 60, "the thread to read every request")
    loop.serving.set()
    answers = [_answer(s) for s in socks]
    assert all(a[0] == b"SNAPSHOT" for a in answers)
    assert loop.encodings <= 2                                 # the first ask may predate the later requests
    rows = np.frombuffer(answers[-1][2], dtype=FEED_DTYPE)
    assert (rows["msg_type"] == FeedType.DEPTH).sum() == 40 and set(rows["instrument"].tolist()) == {0, 1}
    status = rows[rows["msg_type"] == FeedType.STATUS]       # the phase, though none was published
    assert status["instrument"].tolist() == [0, 1] and set(status["status"].tolist()) == {InstrumentStatus.TRADING}


def test_a_snapshot_never_answers_a_request_read_after_it_was_asked_for(loop):
    loop.hold()
    first, second = loop.dealer(), loop.dealer()
    first.send_multipart([b"SNAPSHOT", b""])
    assert loop.server.asks.poll(5000)                        # the thread asked: `first` is covered
    assert loop.server.asked()
    stale = loop.encoder.snapshot(None)                        # encoded now, before the next batch
    loop.publish(_resting(loop.engine))
    second.send_multipart([b"SNAPSHOT", b""])
    _wait(lambda: loop.server.counts["requests"] == 2, "the second request to be read")
    header = {"epoch": 1, "seq": stale[0], "symbols": SYMBOLS, "topics": {k.decode(): v for k, v in stale[1].items()}}
    loop.server.offer(json.dumps(header).encode(), stale[2])
    assert json.loads(_answer(first)[1])["seq"] == stale[0] == 0
    assert not second.poll(100)                                # not with a snapshot older than its request
    loop.serving.set()
    assert json.loads(_answer(second)[1])["seq"] == loop.encoder.seq > 0


def test_a_subset_is_cut_from_the_full_snapshot_and_bad_requests_are_refused(loop):
    loop.publish(_resting(loop.engine))
    s = loop.dealer()
    s.send_multipart([b"SNAPSHOT", b"CQEA2026"])
    tag, header, rows = _answer(s)
    header, rows = json.loads(header), np.frombuffer(rows, dtype=FEED_DTYPE)
    assert tag == b"SNAPSHOT" and header["symbols"] == SYMBOLS
    assert set(rows["instrument"].tolist()) == {1} and len(rows[rows["msg_type"] == 2]) == 20
    assert header["topics"] and all(t.endswith(".CQEA2026") for t in header["topics"])
    assert header["topics"]["D.CQEA2026"] == loop.encoder.topic_seq[b"D.CQEA2026"]
    s.send_multipart([b"SNAPSHOT", b"SCEA2026,NOPE"])
    assert _answer(s) == [b"ERROR", b"unknown instrument NOPE"]
    s.send_multipart([b"GIVE", b"ME", b"ALL"])
    assert _answer(s) == [b"ERROR", b"expected [SNAPSHOT, symbols]"]


def test_answers_are_capped_per_second_across_peers():
    lp = Loop(max_per_s=50)                                    # a token bucket of 5
    try:
        socks = [lp.dealer() for _ in range(30)]
        start = time.monotonic()
        for s in socks:
            s.send_multipart([b"SNAPSHOT", b""])
        for s in socks:
            assert _answer(s)[0] == b"SNAPSHOT"
        assert time.monotonic() - start >= (30 - 5) / 50 * 0.9   # no faster than the cap allows
        assert lp.encodings < 30
    finally:
        lp.close()


def test_a_request_left_waiting_is_answered_busy_and_the_client_retries():
    lp = Loop(max_wait_s=0.2)
    try:
        lp.publish(_resting(lp.engine))
        lp.hold()                                     # the loop does not encode for now
        raw = lp.dealer()
        raw.send_multipart([b"SNAPSHOT", b""])
        assert _answer(raw) == [b"ERROR", BUSY]

        def unblock_after_a_busy():
            _wait(lambda: lp.server.counts["busy"] >= 2, "the client's first busy answer")
            lp.serving.set()
        helper = threading.Thread(target=unblock_after_a_busy)
        helper.start()
        client = FeedClient(lp.pub_endpoint, lp.endpoint, SYMBOLS, ctx=lp.ctx, timeout_ms=10_000)
        try:
            client.start()                                     # busy, backoff, ask again: served
        finally:
            helper.join()
            client.close()
        assert client.resyncs == 1
        assert client.books[1].view(depth=None) == lp.engine.book(1, depth=10**6)
    finally:
        lp.close()


def test_a_client_gives_up_when_the_service_stays_busy_past_its_timeout():
    from feeds.client import FeedError
    lp = Loop(max_wait_s=0.05)
    try:
        lp.hold()
        client = FeedClient(lp.pub_endpoint, lp.endpoint, SYMBOLS, ctx=lp.ctx, timeout_ms=500)
        try:
            with pytest.raises(FeedError, match="busy"):
                client.start()
        finally:
            client.close()
        assert lp.server.counts["busy"] >= 2
    finally:
        lp.close()


def test_the_thread_stops_and_closes_its_sockets():
    lp = Loop()
    s = lp.dealer()
    s.send_multipart([b"SNAPSHOT", b""])
    assert _answer(s)[0] == b"SNAPSHOT"
    lp.close()                                                 # ctx.term() returns: every socket is closed
    assert not [t for t in threading.enumerate() if t.name == "chuanyu-snapshots"]


def test_bad_limits_are_refused():
    ctx = zmq.Context()
    sock = ctx.socket(zmq.ROUTER)
    try:
        with pytest.raises(ValueError, match="max_per_s"):
            SnapshotServer(sock, SYMBOLS, max_per_s=0)
    finally:
        sock.close(0)
        ctx.term()
