"""In-process gateway tests: a stand-in for the daemon's order and admin sockets, and a gateway
whose configured sessions are logged in on it (no sockets, no threads)."""
import json

import numpy as np

import exchange.server as server
from gateway.protocol import REPORT_DTYPE


class Wire:
    """The order socket's I/O (``send(identity, data)``, as :mod:`zmqio.router`): records each
    send as (identity, its REPORT_DTYPE rows); as the admin socket, its JSON replies."""

    def __init__(self):
        self.sent, self.replies = [], []

    def send(self, identity, data) -> int:
        self.sent.append((identity, np.frombuffer(bytes(data), dtype=REPORT_DTYPE).copy()))
        return 0

    def send_multipart(self, parts, flags=0):
        self.replies.append(json.loads(parts[-1]))

    def close(self, linger=None):
        pass


def logged_in(gw: server.ExchangeNode, sessions=None) -> server.ExchangeNode:
    """Log ``sessions`` (default: every configured one) in on a :class:`Wire`; identity ``id<index>``."""
    if not isinstance(gw.sessions.router, Wire):
        gw.sessions.router = Wire()
    for s in sessions if sessions is not None else gw.sessions:
        s.logged_in, s.identity, s.heartbeat_ns = True, b"id%d" % s.idx, 10**12
        gw.sessions.by_identity[s.identity] = s.idx
    return gw
