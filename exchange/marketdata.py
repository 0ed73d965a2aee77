"""Market data: the last stage of the pipeline. What the market tells beyond the parties.

After each batch's execution reports have gone to their sessions, :meth:`MarketData.publish`
hands the batch's events to:

- the public feed (:class:`feeds.service.FeedService`): trades, depth, statistics, phases;
  its snapshot port answered from a thread of its own;
- the drop copy (:class:`feeds.dropcopy.DropCopy`): every execution with both accounts, for
  the drop-copy sessions' keys only;
- the disclosure files (:class:`feeds.disclosure.Disclosure`): the public tape and the
  end-of-day report, which recovery rebuilds from the journal (:meth:`record` during replay).

Parties hear of their own executions first: docs/PROTOCOL.md, "Order of messages".
"""
from __future__ import annotations

import time

import zmq

from feeds.disclosure import Disclosure
from feeds.dropcopy import ZAP_DOMAIN as DROP_COPY_DOMAIN, DropCopy, bind_drop_copy
from feeds.encoder import FeedEncoder
from feeds.service import FeedService, bind_feed

from gateway.errors import GatewayError

__all__ = ["MarketData", "FEED_HEARTBEAT_NS"]

FEED_HEARTBEAT_NS = 500_000_000           # market data heartbeat every half second


class MarketData:
    """The feed, the drop copy and the disclosure files of one market.

    The disclosure files exist from construction (recovery feeds them); the sockets from
    :meth:`bind`. Without ``network.feeds`` there is no feed and no disclosure.
    """

    def __init__(self, config, state_dir) -> None:
        self.config = config
        self.feed: FeedService | None = None
        self.drop_copy: DropCopy | None = None
        self.disclosure: Disclosure | None = None
        self.published = 0                     # feed messages
        self.active = False                    # anything to publish or write: a feed, a drop copy, disclosure
        self._next_beat = 0
        if config.network.feeds:
            region_of = {a.id: a.region for a in config.accounts}
            self.disclosure = Disclosure(state_dir, config.instruments, lambda a: region_of.get(a, 0),
                                         config.obligations())
            self.active = True

    def bind(self, ctx: zmq.Context, engine, auth, drop_copy_allowlist, server_keys: tuple[bytes, bytes]) -> dict:
        """Bind the feed (from ``engine`` as it is now, in a new epoch) and, when a session
        wants one, the drop copy; return their endpoints."""
        net = self.config.network
        endpoints = {"feed": None, "feed_snapshots": None, "drop_copy": None}
        if net.feeds:
            encoder = FeedEncoder([i.symbol for i in self.config.instruments], engine, epoch=time.time_ns())
            encoder.load()
            try:
                publisher, snapshots, (feed, feed_snapshots) = bind_feed(ctx, net.host, net.feed_port,
                                                                         net.snapshot_port, sndhwm=net.feed_hwm,
                                                                         sndbuf=net.feed_sndbuf)
            except zmq.ZMQError as exc:
                raise GatewayError(f"network.feed_port / network.snapshot_port: cannot bind {net.host}:"
                                   f"{net.feed_port or '*'} / {net.snapshot_port or '*'}: {exc}") from None
            self.feed = FeedService(encoder, publisher, snapshots, net.snapshot_min_interval_ms,
                                    net.snapshot_max_per_s, net.snapshot_max_pending)
            endpoints.update(feed=feed, feed_snapshots=feed_snapshots)
        if any(s.drop_copy for s in self.config.sessions):
            # executions with both accounts: CURVE, and only the drop-copy sessions' keys pass ZAP
            auth.configure_curve_callback(DROP_COPY_DOMAIN.decode(), drop_copy_allowlist)
            try:
                sock, endpoints["drop_copy"] = bind_drop_copy(ctx, net.host, net.drop_copy_port, *server_keys)
            except zmq.ZMQError as exc:
                raise GatewayError(f"network.drop_copy_port: cannot bind {net.host}:{net.drop_copy_port}: "
                                   f"{exc}") from None
            self.drop_copy = DropCopy(sock, epoch=time.time_ns())
        self.active = any(x is not None for x in (self.feed, self.drop_copy, self.disclosure))
        return endpoints

    def start(self, poller: zmq.Poller) -> None:
        """Start the snapshot thread; the loop polls for its requests (:meth:`serve_snapshots`)."""
        if self.feed is not None:
            self.feed.start()
            poller.register(self.feed.snapshot_asks, zmq.POLLIN)

    def serve_snapshots(self, ready: dict) -> None:
        """One snapshot encoding for every request waiting, if the snapshot thread asked."""
        if self.feed is not None and self.feed.snapshot_asks in ready:
            self.feed.serve_snapshots()

    def publish(self, events) -> None:
        """One committed batch's public data, drop copies and disclosure rows."""
        if self.feed is not None:
            self.published += self.feed.publish(events)
        if self.drop_copy is not None:
            self.drop_copy.publish(events)
        if self.disclosure is not None:
            self.disclosure.record(events)

    def record(self, events) -> None:
        """A replayed batch (recovery): the disclosure files only; nothing is published again."""
        if self.disclosure is not None:
            self.disclosure.record(events)

    def heartbeat(self, now: int) -> None:
        """Every half second: lets subscribers see a lost tail."""
        if now < self._next_beat:
            return
        if self.feed is not None:
            self.feed.heartbeat()
        if self.drop_copy is not None:
            self.drop_copy.heartbeat()
        self._next_beat = now + FEED_HEARTBEAT_NS

    def snapshot_counts(self) -> dict | None:
        return dict(self.feed.snapshot_server.counts) if self.feed is not None else None

    def close(self) -> None:
        if self.feed is not None:
            self.feed.close()                      # joins the snapshot thread
            self.feed = None
        if self.disclosure is not None:
            self.disclosure.close()
            self.disclosure = None
        if self.drop_copy is not None:
            self.drop_copy.publisher.close(linger=0)
            self.drop_copy = None
        self.active = False
