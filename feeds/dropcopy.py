"""The regulator's drop copy: every execution with both accounts, on its own authenticated feed.

The daemon binds a PUB socket on ``[network] drop_copy_port`` as a CURVE server (ZAP domain
``dropcopy``) when at least one session is configured with ``drop_copy = true``; only those
sessions' public keys may connect. A subscriber without CURVE, or with any other key, fails
the handshake and receives nothing. Unlike the public feed, a drop copy names the buyer's and
seller's accounts and orders, and the fees.

Each engine batch with executions is one frame ``[b"X", rows]``, ``rows`` ``DROP_COPY_DTYPE``
messages back to back; ``seq`` runs from 1 per ``epoch`` (the publisher's start) without gaps,
so a subscriber sees a loss (and reads what it missed from the trade tape or the journal). A
heartbeat ``[b"H", {"epoch", "seq"}]`` twice a second shows a lost tail and tells a new
subscriber that its subscription is live.
"""
from __future__ import annotations

import json

import numpy as np
import zmq

from ._encode import drop_copy, drop_copy_layout

__all__ = ["DROP_COPY_DTYPE", "DROP_COPY_FIELD_DOCS", "DROP_COPY_TOPIC", "DropCopy", "DropCopyClient",
           "bind_drop_copy"]

DROP_COPY_TOPIC = b"X"
HEARTBEAT = b"H"          # JSON {epoch, seq}, twice a second
ZAP_DOMAIN = b"dropcopy"

DROP_COPY_DTYPE = np.dtype(
    [
        ("epoch", "<i8"),            # the publisher's start: a new epoch means numbering restarted
        ("seq", "<i8"),              # from 1 in each epoch, no gaps
        ("engine_seq", "<i8"),       # the TRADE event's engine sequence number
        ("cmd_seq", "<i8"),          # the command that caused it
        ("ts", "<i8"),               # engine time, ns
        ("trade_id", "<i8"),
        ("price", "<i8"),            # fen per tonne
        ("qty", "<i8"),              # tonnes
        ("buy_order_id", "<i8"),
        ("sell_order_id", "<i8"),
        ("buy_fee", "<i8"),          # fen
        ("sell_fee", "<i8"),
        ("buy_account", "<i4"),
        ("sell_account", "<i4"),
        ("instrument", "<i4"),
        ("side", "u1"),              # aggressor side
        ("trade_type", "u1"),        # CONTINUOUS, FIXED, BLOCK, AUCTION
    ],
    align=True,
)

DROP_COPY_FIELD_DOCS = {
    "epoch": "the publisher's start (ns since 1970); numbering restarts with a new epoch",
    "seq": "drop-copy sequence number, from 1 in each epoch, no gaps",
    "engine_seq": "the TRADE event's engine sequence number",
    "cmd_seq": "the gateway sequence number of the command that caused the trade",
    "ts": "engine time, ns since 1970",
    "trade_id": "engine trade id",
    "price": "fen per tonne",
    "qty": "tonnes",
    "buy_order_id": "the buyer's engine order id",
    "sell_order_id": "the seller's engine order id",
    "buy_fee": "the buyer's fee, fen",
    "sell_fee": "the seller's fee, fen",
    "buy_account": "the buyer's account",
    "sell_account": "the seller's account",
    "instrument": "instrument index",
    "side": "aggressor side (Side), 0 = none",
    "trade_type": "TradeType",
}



def _check_build() -> None:
    size, offsets = drop_copy_layout()
    expected = {name: DROP_COPY_DTYPE.fields[name][1] for name in DROP_COPY_DTYPE.names}
    if size != DROP_COPY_DTYPE.itemsize or offsets != expected:
        raise ImportError("feeds._encode: its drop-copy struct does not match DROP_COPY_DTYPE; rebuild the extension")


_check_build()


def drop_copy_rows(events: np.ndarray, epoch: int = 0, first_seq: int = 1) -> np.ndarray:
    """The ``DROP_COPY_DTYPE`` rows of a batch's TRADE events, numbered from ``first_seq``."""
    return drop_copy(events, DROP_COPY_DTYPE, epoch, first_seq)


class DropCopy:
    """Publishes each batch's executions on the authenticated drop-copy socket."""

    def __init__(self, publisher, epoch: int = 0) -> None:
        self.publisher = publisher
        self.epoch = epoch
        self.seq = 0

    def publish(self, events: np.ndarray) -> int:
        """Send the batch's executions (nothing when there are none); return how many."""
        rows = drop_copy_rows(events, self.epoch, self.seq + 1)
        if not len(rows):
            return 0
        self.seq += len(rows)
        self.publisher.send_multipart([DROP_COPY_TOPIC, rows.tobytes()])
        return len(rows)

    def heartbeat(self) -> None:
        """Where the drop copy stands (JSON ``epoch``, ``seq``): a subscriber sees a lost tail,
        and a new one knows its subscription is live."""
        self.publisher.send_multipart([HEARTBEAT, json.dumps({"epoch": self.epoch, "seq": self.seq}).encode()])


def bind_drop_copy(ctx: zmq.Context, host: str, port: int, server_public: bytes, server_secret: bytes,
                   sndhwm: int = 100_000):
    """A CURVE-server PUB socket in ZAP domain ``dropcopy``; return it and its endpoint.

    The caller configures the ZAP handler of that domain (the allowlisted keys).
    """
    sock = ctx.socket(zmq.PUB)
    sock.linger = 0
    sock.sndhwm = sndhwm
    sock.curve_server = True
    sock.curve_publickey = server_public
    sock.curve_secretkey = server_secret
    sock.zap_domain = ZAP_DOMAIN
    try:
        if port:
            sock.bind(f"tcp://{host}:{port}")
        else:
            sock.bind_to_random_port(f"tcp://{host}")
    except zmq.ZMQError:
        sock.close()
        raise
    return sock, sock.last_endpoint.decode()


class DropCopyClient:
    """A supervisor's subscription to the drop copy.

    Parameters
    ----------
    endpoint : str
        The daemon's drop-copy endpoint (``endpoints.json``: ``drop_copy``).
    server_public : bytes or str
        The daemon's CURVE public key.
    public, secret : bytes
        This subscriber's key pair; the public key must belong to a ``drop_copy`` session.
    """

    def __init__(self, endpoint: str, server_public, public: bytes, secret: bytes,
                 ctx: zmq.Context | None = None) -> None:
        self.ctx = ctx or zmq.Context.instance()
        self.sub = self.ctx.socket(zmq.SUB)
        self.sub.linger = 0
        self.sub.curve_serverkey = server_public.encode() if isinstance(server_public, str) else server_public
        self.sub.curve_publickey, self.sub.curve_secretkey = public, secret
        self.sub.setsockopt(zmq.SUBSCRIBE, DROP_COPY_TOPIC)
        self.sub.setsockopt(zmq.SUBSCRIBE, HEARTBEAT)
        self.sub.connect(endpoint)
        self.executions: list = []
        self.epoch = None
        self.seq = 0
        self.gaps = 0          # losses seen (a sequence jump within an epoch, or behind a heartbeat)
        self.heartbeats = 0

    def poll(self, timeout_ms: int = 0) -> np.ndarray:
        """The executions that arrived (waiting up to ``timeout_ms`` for the first frame)."""
        got = []
        wait = timeout_ms
        while self.sub.poll(wait):
            wait = 0
            topic, payload = self.sub.recv_multipart()
            if topic == HEARTBEAT:
                self.heartbeats += 1
                beat = json.loads(payload)
                if beat["epoch"] == self.epoch and beat["seq"] > self.seq:
                    self.gaps += 1
                    self.seq = beat["seq"]
                elif beat["epoch"] != self.epoch:
                    self.epoch, self.seq = beat["epoch"], beat["seq"]     # numbering from here on
                continue
            if topic != DROP_COPY_TOPIC or len(payload) % DROP_COPY_DTYPE.itemsize:
                continue                       # not a drop-copy frame: ignore rather than misread
            rows = np.frombuffer(payload, DROP_COPY_DTYPE)
            if not len(rows):
                continue
            if rows["epoch"][0] != self.epoch:
                self.epoch, self.seq = int(rows["epoch"][0]), int(rows["seq"][0]) - 1
            if int(rows["seq"][0]) != self.seq + 1:
                self.gaps += 1
            self.seq = int(rows["seq"][-1])
            got.append(rows)
        rows = np.concatenate(got) if got else np.zeros(0, DROP_COPY_DTYPE)
        self.executions += list(rows)
        return rows

    def close(self) -> None:
        self.sub.close(0)
