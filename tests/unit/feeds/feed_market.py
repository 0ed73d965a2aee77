"""A market publishing through a real FeedService on loopback, for the FeedClient tests: an
engine, its encoder, and a thread that plays the daemon's loop (snapshots, heartbeats)."""
import threading
import time

import numpy as np
import zmq

from feeds.client import FeedClient
from feeds.encoder import FeedEncoder
from feeds.messages import FeedType
from feeds.service import FeedService, bind_feed
from matching import Engine, Instrument, commands

SYMBOLS = ["SCEA2026", "CQEA2026"]


class Market:
    """An engine publishing through a FeedService; a thread plays the daemon's loop for the
    snapshot thread (encodes when asked) and, with ``heartbeat_s``, heartbeats as the daemon
    does (the tests that count resynchronisations send theirs by hand)."""

    def __init__(self, sndhwm=100_000, seed=11, heartbeat_s=None, epoch=0):
        self.ctx = zmq.Context()
        self.engine = Engine([Instrument(s) for s in SYMBOLS])
        self.encoder = FeedEncoder(SYMBOLS, self.engine, epoch)
        pub, snap, (self.pub_endpoint, self.snapshot_endpoint) = bind_feed(self.ctx, "127.0.0.1", sndhwm=sndhwm)
        self.service = FeedService(self.encoder, pub, snap)
        self.service.start()
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.rng = np.random.default_rng(seed)
        self.heartbeat_s = heartbeat_s          # set before the thread that reads it starts
        self.trades = []
        self.clients = []
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        beat_at = time.monotonic()
        while not self.stop.is_set():
            if self.service.snapshot_asks.poll(20):
                with self.lock:
                    self.service.serve_snapshots()
            if self.heartbeat_s is not None and time.monotonic() >= beat_at:
                with self.lock:
                    self.service.heartbeat()
                beat_at = time.monotonic() + self.heartbeat_s

    def trade_some(self, n=300):
        cmds = np.zeros(n, dtype=commands.command(1).dtype)
        cmds["type"] = np.where(self.rng.random(n) < 0.85, 1, 2)
        cmds["instrument"] = self.rng.integers(0, 2, n)
        cmds["account"] = self.rng.integers(0, 40, n)
        side = self.rng.integers(1, 3, n)
        cmds["side"], cmds["order_type"], cmds["tif"] = side, 1, 1
        cmds["price"] = 5000 + np.where(side == 1, -1, 1) * self.rng.integers(-5, 30, n)
        cmds["qty"] = self.rng.integers(1, 50, n)
        cmds["order_id"] = self.rng.integers(1, self.engine.next_order_id + 1, n)
        with self.lock:
            events = self.engine.process(cmds)
            self.service.publish(events)
        self.trades += events[events["kind"] == 3]["trade_id"].tolist()

    def probe(self):
        """Publish a status message (nothing changes): proof that a subscription is live."""
        with self.lock:
            self.service.publish(self.engine.process(commands.set_instrument_status(0, 1)))

    def close(self):
        for client in self.clients:
            client.close()
        self.stop.set()
        self.thread.join()
        self.service.close()
        self.ctx.term()


def converge(client, market, rounds=50):
    """Poll until the client's books equal the engine's (bounded); the market heartbeats."""
    for _ in range(rounds):
        with market.lock:
            market.service.heartbeat()
        client.poll(50)
        if all(client.books[n].view(depth=None) == market.engine.book(n, depth=10**6) for n in range(2)):
            return True
    return False


def subscriber(market, **kwargs):
    """A started client whose subscription is known to be live (ZeroMQ's slow joiner)."""
    client = FeedClient(market.pub_endpoint, market.snapshot_endpoint, SYMBOLS, ctx=market.ctx, **kwargs)
    market.clients.append(client)
    client.start()
    for _ in range(100):
        market.probe()
        if any(m["msg_type"] == FeedType.STATUS for m in client.poll(20)):
            return client
    raise AssertionError("the subscription never became live")
