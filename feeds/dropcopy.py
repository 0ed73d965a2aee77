"""The regulator's drop copy: every execution with both accounts, on its own authenticated feed.

The daemon binds a PUB socket on ``[network] drop_copy_port`` as a CURVE server (ZAP domain
``dropcopy``) when at least one session is configured with ``drop_copy = true``; only those
sessions' public keys may connect. A subscriber without CURVE, or with any other key, fails
the handshake and receives nothing. Unlike the public feed, a drop copy names the buyer's and
seller's accounts and orders, and the fees.

Each engine batch with executions is one frame ``[b"X", rows]``, ``rows`` ``DROP_COPY_DTYPE``
messages back to back; ``seq`` runs from 1 per ``epoch`` (the publisher's start) without gaps,
so a subscriber sees a loss (and reads what it missed from the trade tape or the journal).

Market surveillance needs the orders too: each batch with order events is one frame
``[b"E", rows]`` of ``DROP_COPY_EVENT_DTYPE``: every order's acceptance, reduction,
replacement and cancellation with its account, and each instrument's phase changes and end of
day (its statistics: the close), and each account's surrenders and fines. Its ``seq`` is numbered apart, from 1 per epoch. A subscriber
asks for it (:class:`DropCopyClient` with ``events=True``); the executions alone stay as they were.

A heartbeat ``[b"H", {"epoch", "seq", "events_seq"}]`` twice a second shows a lost tail and
tells a new subscriber that its subscription is live.
"""
from __future__ import annotations

import json

import numpy as np
import zmq

from matching import EventKind

from ._encode import drop_copy, drop_copy_layout

__all__ = ["DROP_COPY_DTYPE", "DROP_COPY_FIELD_DOCS", "DROP_COPY_TOPIC", "DROP_COPY_EVENT_DTYPE",
           "DROP_COPY_EVENT_FIELD_DOCS", "EVENTS_TOPIC", "DropCopy", "DropCopyClient", "bind_drop_copy",
           "drop_copy_rows", "drop_copy_event_rows"]

DROP_COPY_TOPIC = b"X"
EVENTS_TOPIC = b"E"
HEARTBEAT = b"H"          # JSON {epoch, seq, events_seq}, twice a second
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


DROP_COPY_EVENT_DTYPE = np.dtype(
    [
        ("epoch", "<i8"),            # as the executions'
        ("seq", "<i8"),              # from 1 in each epoch, no gaps; numbered apart from the executions
        ("engine_seq", "<i8"),       # the event's engine sequence number
        ("cmd_seq", "<i8"),          # the command that caused it
        ("ts", "<i8"),               # engine time, ns
        ("order_id", "<i8"),         # order events
        ("price", "<i8"),            # order events: its limit; DAILY_STATS: the close
        ("qty", "<i8"),              # ACCEPTED: the order's quantity; CANCELLED, REDUCED: the quantity taken off
        ("leaves", "<i8"),           # order events: what still rests after the event
        ("value", "<i8"),            # INSTRUMENT_STATUS: the new status; DAILY_STATS: the previous close
        ("account", "<i4"),          # order events; -1 on the others
        ("instrument", "<i4"),
        ("reason", "<u2"),           # CANCELLED: CancelReason; INSTRUMENT_STATUS: StatusCause
        ("kind", "u1"),              # EventKind: the order events, INSTRUMENT_STATUS, DAILY_STATS, SURRENDERED, FINED
        ("side", "u1"),
        ("order_type", "u1"),
        ("tif", "u1"),
    ],
    align=True,
)

DROP_COPY_EVENT_FIELD_DOCS = {
    "epoch": "the publisher's start (ns since 1970), as the executions'",
    "seq": "event sequence number, from 1 in each epoch, no gaps (apart from the executions')",
    "engine_seq": "the event's engine sequence number",
    "cmd_seq": "the gateway sequence number of the command that caused it",
    "ts": "engine time, ns since 1970",
    "order_id": "order events: the engine order id; FINED: the regulator's case number",
    "price": "order events: the order's limit (0 for a market order); DAILY_STATS: the close",
    "qty": "ACCEPTED: the order's quantity; CANCELLED, REDUCED: the quantity taken off; REPLACED: the new "
           "quantity; SURRENDERED: the units retired; FINED: the fen paid now",
    "leaves": "order events: the quantity still resting after the event; SURRENDERED: the obligation left; "
              "FINED: the fines owed after it",
    "value": "INSTRUMENT_STATUS: the new InstrumentStatus; DAILY_STATS: the previous close; SURRENDERED: the "
             "allowance whose obligation it met; FINED: the fine, fen",
    "account": "order events: the order's account; SURRENDERED, FINED: the account; -1 on the others",
    "instrument": "instrument index",
    "reason": "CANCELLED: CancelReason; INSTRUMENT_STATUS: StatusCause; FINED: FineReason",
    "kind": "EventKind: ACCEPTED, CANCELLED, REDUCED, REPLACED, INSTRUMENT_STATUS, DAILY_STATS, SURRENDERED or FINED",
    "side": "order events: Side",
    "order_type": "order events: OrderType",
    "tif": "order events: TimeInForce",
}

_ORDER_KINDS = np.array([EventKind.ACCEPTED, EventKind.CANCELLED, EventKind.REDUCED, EventKind.REPLACED],
                        dtype=np.uint8)
_MARKET_KINDS = np.array([EventKind.INSTRUMENT_STATUS, EventKind.DAILY_STATS], dtype=np.uint8)
# an account's compliance and sanctions: copied with the account, order_id (a fine's case), leaves and value
_ACCOUNT_KINDS = np.array([EventKind.SURRENDERED, EventKind.FINED], dtype=np.uint8)
_COPIED = ("cmd_seq", "ts", "price", "qty", "instrument", "reason", "kind")
_ORDER_ONLY = ("order_id", "leaves", "account", "side", "order_type", "tif")


def _check_build() -> None:
    size, offsets = drop_copy_layout()
    expected = {name: DROP_COPY_DTYPE.fields[name][1] for name in DROP_COPY_DTYPE.names}
    if size != DROP_COPY_DTYPE.itemsize or offsets != expected:
        raise ImportError("feeds._encode: its drop-copy struct does not match DROP_COPY_DTYPE; rebuild the extension")


_check_build()


def drop_copy_rows(events: np.ndarray, epoch: int = 0, first_seq: int = 1) -> np.ndarray:
    """The ``DROP_COPY_DTYPE`` rows of a batch's TRADE events, numbered from ``first_seq``."""
    return drop_copy(events, DROP_COPY_DTYPE, epoch, first_seq)


def drop_copy_event_rows(events: np.ndarray, epoch: int = 0, first_seq: int = 1) -> np.ndarray:
    """The ``DROP_COPY_EVENT_DTYPE`` rows of a batch's order, phase and end-of-day events."""
    kind = events["kind"]
    order = np.isin(kind, _ORDER_KINDS)
    account = np.isin(kind, _ACCOUNT_KINDS)
    chosen = order | account | np.isin(kind, _MARKET_KINDS)
    picked = events[chosen]
    out = np.zeros(len(picked), DROP_COPY_EVENT_DTYPE)
    if not len(out):
        return out
    out["epoch"] = epoch
    out["seq"] = np.arange(first_seq, first_seq + len(out))
    out["engine_seq"] = picked["seq"]
    for name in _COPIED:
        out[name] = picked[name]
    mine, theirs = order[chosen], account[chosen]
    for name in _ORDER_ONLY:                 # other kinds hold other fields' bytes there: zero, -1
        keep = mine | theirs if name in ("order_id", "leaves", "account") else mine
        out[name] = np.where(keep, picked[name], -1 if name == "account" else 0)
    out["value"][~mine] = picked["value"][~mine]
    return out


class DropCopy:
    """Publishes each batch's executions on the authenticated drop-copy socket."""

    def __init__(self, publisher, epoch: int = 0) -> None:
        self.publisher = publisher
        self.epoch = epoch
        self.seq = 0
        self.events_seq = 0

    def publish(self, events: np.ndarray) -> int:
        """Send the batch's executions and its order and market events (nothing of a kind
        there is none of); return how many executions."""
        rows = drop_copy_event_rows(events, self.epoch, self.events_seq + 1)
        if len(rows):
            self.events_seq += len(rows)
            self.publisher.send_multipart([EVENTS_TOPIC, rows.tobytes()])
        rows = drop_copy_rows(events, self.epoch, self.seq + 1)
        if not len(rows):
            return 0
        self.seq += len(rows)
        self.publisher.send_multipart([DROP_COPY_TOPIC, rows.tobytes()])
        return len(rows)

    def heartbeat(self) -> None:
        """Where the drop copy stands (JSON ``epoch``, ``seq``, ``events_seq``): a subscriber
        sees a lost tail, and a new one knows its subscription is live."""
        self.publisher.send_multipart([HEARTBEAT, json.dumps({"epoch": self.epoch, "seq": self.seq,
                                                              "events_seq": self.events_seq}).encode()])


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
    events : bool
        Also subscribe to the order and market events: :meth:`receive` returns them.
    """

    def __init__(self, endpoint: str, server_public, public: bytes, secret: bytes,
                 ctx: zmq.Context | None = None, events: bool = False) -> None:
        self.ctx = ctx or zmq.Context.instance()
        self.sub = self.ctx.socket(zmq.SUB)
        self.sub.linger = 0
        self.sub.curve_serverkey = server_public.encode() if isinstance(server_public, str) else server_public
        self.sub.curve_publickey, self.sub.curve_secretkey = public, secret
        self.sub.setsockopt(zmq.SUBSCRIBE, DROP_COPY_TOPIC)
        self.sub.setsockopt(zmq.SUBSCRIBE, HEARTBEAT)
        self.events_wanted = events
        if events:
            self.sub.setsockopt(zmq.SUBSCRIBE, EVENTS_TOPIC)
        self.sub.connect(endpoint)
        self.executions: list = []
        self.epoch = None
        self.seq = 0
        self.events_seq = 0
        self.gaps = 0          # losses seen (a sequence jump within an epoch, or behind a heartbeat)
        self.heartbeats = 0

    def poll(self, timeout_ms: int = 0) -> np.ndarray:
        """The executions that arrived (waiting up to ``timeout_ms`` for the first frame)."""
        return self.receive(timeout_ms)[0]

    def receive(self, timeout_ms: int = 0) -> tuple[np.ndarray, np.ndarray]:
        """The executions and the events (with ``events=True``) that arrived, waiting up to
        ``timeout_ms`` for the first frame. Within a batch its events come before its executions."""
        got = {DROP_COPY_TOPIC: [], EVENTS_TOPIC: []}
        wait = timeout_ms
        while self.sub.poll(wait):
            wait = 0
            topic, payload = self.sub.recv_multipart()
            if topic == HEARTBEAT:
                self.heartbeats += 1
                self._beat(json.loads(payload))
                continue
            dtype = {DROP_COPY_TOPIC: DROP_COPY_DTYPE, EVENTS_TOPIC: DROP_COPY_EVENT_DTYPE}.get(topic)
            if dtype is None or len(payload) % dtype.itemsize:
                continue                       # not a drop-copy frame: ignore rather than misread
            rows = np.frombuffer(payload, dtype)
            if len(rows):
                self._count(topic, rows)
                got[topic].append(rows)
        executions = np.concatenate(got[DROP_COPY_TOPIC]) if got[DROP_COPY_TOPIC] else np.zeros(0, DROP_COPY_DTYPE)
        events = np.concatenate(got[EVENTS_TOPIC]) if got[EVENTS_TOPIC] else np.zeros(0, DROP_COPY_EVENT_DTYPE)
        self.executions += list(executions)
        return executions, events

    def _beat(self, beat: dict) -> None:
        if beat["epoch"] != self.epoch:                    # numbering from here on
            self.epoch, self.seq, self.events_seq = beat["epoch"], beat["seq"], beat.get("events_seq", 0)
            return
        for name in ("seq", "events_seq") if self.events_wanted else ("seq",):
            mine, seen = getattr(self, name), beat.get(name, 0)
            if mine is None:
                setattr(self, name, seen)
            elif seen > mine:                              # a lost tail
                self.gaps += 1
                setattr(self, name, seen)

    def _count(self, topic: bytes, rows: np.ndarray) -> None:
        """Follow the numbering of ``topic``; a jump is a loss. In a new epoch each topic's
        numbering starts from its first frame (or heartbeat)."""
        if rows["epoch"][0] != self.epoch:
            self.epoch, self.seq, self.events_seq = int(rows["epoch"][0]), None, None
        name = "seq" if topic == DROP_COPY_TOPIC else "events_seq"
        mine = getattr(self, name)
        if mine is not None and int(rows["seq"][0]) != mine + 1:
            self.gaps += 1
        setattr(self, name, int(rows["seq"][-1]))

    def close(self) -> None:
        self.sub.close(0)
