"""In-process gateway tests: a stand-in for the daemon's ROUTER sockets, and a gateway whose
configured sessions are logged in on it (no sockets, no threads)."""
import json

import numpy as np

import gateway.server as server
from gateway.protocol import REPORT_DTYPE


class Wire:
    """Records each two-part send as (identity, its REPORT_DTYPE rows); admin JSON replies apart."""

    def __init__(self):
        self.sent, self.replies, self._identity = [], [], None

    def send(self, data, flags=0, **kw):
        if self._identity is None:
            self._identity = data
        else:
            self.sent.append((self._identity, np.frombuffer(data, dtype=REPORT_DTYPE).copy()))
            self._identity = None

    def send_multipart(self, parts, flags=0):
        self.replies.append(json.loads(parts[-1]))

    def close(self, linger=None):
        pass


def logged_in(gw: server.Gateway, sessions=None) -> server.Gateway:
    """Log ``sessions`` (default: every configured one) in on a :class:`Wire`; identity ``id<index>``."""
    gw.orders = Wire()
    for s in sessions if sessions is not None else gw.sessions[1:]:
        s.logged_in, s.identity, s.heartbeat_ns = True, b"id%d" % s.idx, 10**12
        gw._by_identity[s.identity] = s.idx
    return gw
