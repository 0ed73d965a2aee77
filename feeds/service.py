"""The publishing side of the feed: a PUB socket for live messages and a ROUTER socket that
answers snapshot requests (the "clone" pattern), both driven from the daemon's loop.

Snapshot protocol: a DEALER sends ``[b"SNAPSHOT", symbols]`` (``symbols`` comma-separated,
empty for all); the reply is ``[b"SNAPSHOT", header, rows]``, ``header`` a JSON object with
``epoch`` (the publisher's start), ``seq`` (the feed sequence number the snapshot reflects),
``symbols`` (the instruments by index) and ``topics`` (each topic's last ``instrument_seq``),
``rows`` ``FEED_DTYPE`` messages (see :meth:`FeedEncoder.snapshot`).
A bad request gets ``[b"ERROR", reason]``. A heartbeat on topic ``b"H"`` (JSON ``epoch``,
``seq``, ``topics``) lets subscribers detect messages lost at the end of the stream.
"""
from __future__ import annotations

import json

import zmq

from gateway.libzmq import functions as libzmq_functions

from ._encode import publish
from .encoder import FeedEncoder

__all__ = ["FeedService", "SNAPSHOT", "ERROR", "HEARTBEAT"]

SNAPSHOT = b"SNAPSHOT"
ERROR = b"ERROR"
HEARTBEAT = b"H"          # topic of the heartbeat: JSON {epoch, seq, topics}


class FeedService:
    """Publish each engine batch's public messages and serve snapshots.

    Parameters
    ----------
    encoder : FeedEncoder
    publisher : zmq.Socket
        A bound PUB socket.
    snapshots : zmq.Socket
        A bound ROUTER socket.
    """

    def __init__(self, encoder: FeedEncoder, publisher, snapshots) -> None:
        self.encoder = encoder
        self.publisher = publisher
        self.snapshots = snapshots
        self.published = 0
        self.frames = 0
        # ~60 frames per engine batch: libzmq's zmq_send directly where it is found (see gateway.libzmq)
        found = libzmq_functions()
        self._zmq_send = (found["zmq_send"], found["zmq_errno"]) if found else None

    def publish(self, events) -> int:
        """Encode one engine batch and publish it; return the number of messages."""
        rows, groups = self.encoder.encode_grouped(events)
        # PUB never blocks: a slow subscriber loses messages and resynchronises.
        if self._zmq_send is not None:
            n = publish(*self._zmq_send, self.publisher.underlying, self.encoder.topics, rows, groups)
        else:
            n = 0
            topics, send = self.encoder.topics, self.publisher.send
            for k, a, b in groups:
                send(topics[k], zmq.SNDMORE)
                send(rows[a:b])
                n += b - a
        self.published += n
        self.frames += len(groups)
        return n

    def heartbeat(self) -> None:
        """Publish where every topic stands, so a subscriber notices messages lost at the
        tail of the stream, when no later message would show the gap."""
        header = {"epoch": self.encoder.epoch, "seq": self.encoder.seq,
                  "topics": {name.decode(): n for name, n in self.encoder.topic_seq.items()}}
        self.publisher.send_multipart([HEARTBEAT, json.dumps(header).encode()])

    def serve_snapshots(self) -> int:
        """Answer every snapshot request waiting; return how many."""
        served = 0
        while self.snapshots.poll(0):
            frames = self.snapshots.recv_multipart()
            identity, request = frames[0], frames[1:]
            self.snapshots.send_multipart([identity, *self._answer(request)])
            served += 1
        return served

    def _answer(self, request: list) -> list:
        if len(request) != 2 or request[0] != SNAPSHOT:
            return [ERROR, b"expected [SNAPSHOT, symbols]"]
        wanted = [s for s in request[1].decode(errors="replace").split(",") if s]
        index = {s: n for n, s in enumerate(self.encoder.symbols)}
        unknown = [s for s in wanted if s not in index]
        if unknown:
            return [ERROR, f"unknown instrument {unknown[0]}".encode()]
        seq, topics, rows = self.encoder.snapshot([index[s] for s in wanted] if wanted else None)
        header = {"epoch": self.encoder.epoch, "seq": seq, "symbols": self.encoder.symbols,
                  "topics": {name.decode(): n for name, n in topics.items()}}
        return [SNAPSHOT, json.dumps(header).encode(), rows.tobytes()]


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
    snapshots.setsockopt(zmq.LINGER, 0)
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
