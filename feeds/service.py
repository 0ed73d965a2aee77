"""The publishing side of the feed: a PUB socket for live messages, driven from the daemon's
loop, and a ROUTER socket that answers snapshot requests (the "clone" pattern) from a thread
of its own (:mod:`feeds.snapshot_server`); the loop encodes at most one snapshot per interval
for it, however many requests wait.

Snapshot protocol: a DEALER sends ``[b"SNAPSHOT", symbols]`` (``symbols`` comma-separated,
empty for all); the reply is ``[b"SNAPSHOT", header, rows]``, ``header`` a JSON object with
``epoch`` (the publisher's start), ``seq`` (the feed sequence number the snapshot reflects),
``symbols`` (the instruments by index) and ``topics`` (each topic's last ``instrument_seq``),
``rows`` ``FEED_DTYPE`` messages (see :meth:`FeedEncoder.snapshot`).
A bad request gets ``[b"ERROR", reason]``; one the service could not answer in time
``[b"ERROR", b"busy, retry"]``. A heartbeat on topic ``b"H"`` (JSON ``epoch``,
``seq``, ``topics``) lets subscribers detect messages lost at the end of the stream.
"""
from __future__ import annotations

import json

import zmq

from zmqio.publish import open_publisher

from .encoder import FeedEncoder
from .snapshot_server import BUSY, ERROR, SNAPSHOT, SnapshotServer, configure_socket

__all__ = ["FeedService", "SNAPSHOT", "ERROR", "HEARTBEAT", "BUSY"]

HEARTBEAT = b"H"          # topic of the heartbeat: JSON {epoch, seq, topics}


class FeedService:
    """Publish each engine batch's public messages and serve snapshots.

    Parameters
    ----------
    encoder : FeedEncoder
    publisher : zmq.Socket
        A bound PUB socket.
    snapshots : zmq.Socket
        A bound ROUTER socket (:func:`bind_feed`): served by a :class:`SnapshotServer` thread
        from :meth:`start` on.
    min_interval_ms, max_per_s, max_pending
        The snapshot service's bounds (see :class:`SnapshotServer`).
    """

    def __init__(self, encoder: FeedEncoder, publisher, snapshots, min_interval_ms: int = 20,
                 max_per_s: int = 500, max_pending: int = 128) -> None:
        self.encoder = encoder
        self.publisher = publisher
        self.snapshot_server = SnapshotServer(snapshots, encoder.symbols, min_interval_ms, max_per_s, max_pending)
        self.published = 0
        self.frames = 0
        # ~60 frames per engine batch: libzmq's zmq_send directly where it is found (zmqio.publish)
        self.transport = open_publisher(publisher)

    def publish(self, events) -> int:
        """Encode one engine batch and publish it; return the number of messages."""
        rows, groups = self.encoder.encode_grouped(events)
        # PUB never blocks: a slow subscriber loses messages and resynchronises.
        n = self.transport.send_groups(self.encoder.topics, rows, groups)
        self.published += n
        self.frames += len(groups)
        return n

    def heartbeat(self) -> None:
        """Publish where every topic stands, so a subscriber notices messages lost at the
        tail of the stream, when no later message would show the gap."""
        header = {"epoch": self.encoder.epoch, "seq": self.encoder.seq,
                  "topics": {name.decode(): n for name, n in self.encoder.topic_seq.items()}}
        self.publisher.send_multipart([HEARTBEAT, json.dumps(header).encode()])

    def start(self) -> None:
        """Start serving snapshots (a thread); the loop then polls :attr:`snapshot_asks`."""
        self.snapshot_server.start()

    @property
    def snapshot_asks(self):
        """The socket that becomes readable when the snapshot thread wants a snapshot."""
        return self.snapshot_server.asks

    def serve_snapshots(self) -> bool:
        """Encode one full snapshot if the snapshot thread asked for one; return whether.

        The thread asks at most once per ``min_interval_ms`` and answers every request
        waiting from the one snapshot, so this costs the loop one encoding per interval at
        most, whatever the number of requests."""
        if not self.snapshot_server.asked():
            return False
        seq, topics, rows = self.encoder.snapshot(None)
        header = {"epoch": self.encoder.epoch, "seq": seq, "symbols": self.encoder.symbols,
                  "topics": {name.decode(): n for name, n in topics.items()}}
        self.snapshot_server.offer(json.dumps(header).encode(), rows)
        return True

    def close(self) -> None:
        """Stop the snapshot thread; close both sockets."""
        self.snapshot_server.close()
        self.publisher.close(linger=0)


def bind_feed(ctx: zmq.Context, host: str, pub_port: int = 0, snapshot_port: int = 0, sndhwm: int = 10_000,
              sndbuf: int = 0):
    """Bind the two feed sockets; return them and their endpoints (port 0: any free port).

    ``sndhwm``: frames queued per subscriber, ``sndbuf``: its kernel send buffer (0: the
    system's); a subscriber further behind loses messages and resynchronises.
    """
    publisher = ctx.socket(zmq.PUB)
    publisher.setsockopt(zmq.SNDHWM, sndhwm)
    if sndbuf:
        publisher.setsockopt(zmq.SNDBUF, sndbuf)
    publisher.setsockopt(zmq.LINGER, 0)
    snapshots = ctx.socket(zmq.ROUTER)
    configure_socket(snapshots)         # small queues both ways: the port is anonymous
    endpoints = []
    try:
        for sock, port in ((publisher, pub_port), (snapshots, snapshot_port)):
            if port:
                sock.bind(f"tcp://{host}:{port}")
                endpoints.append(f"tcp://{host}:{port}")
            else:
                endpoints.append(f"tcp://{host}:{sock.bind_to_random_port(f'tcp://{host}')}")
    except zmq.ZMQError:
        publisher.close()
        snapshots.close()
        raise
    return publisher, snapshots, endpoints
