"""Client library for platforms and brokers: :class:`Client` (blocking) and :class:`AsyncClient`.

Both speak :mod:`gateway.protocol` over a CURVE-encrypted DEALER socket. Reports arrive as
``REPORT_DTYPE`` rows (the fast path: whole frames as numpy arrays) or as :class:`Report`
named tuples (:func:`as_reports`).

::

    from gateway.client import Client, load_keys
    pub, sec = load_keys("state/keys", "sc-platform")
    with Client("tcp://127.0.0.1:7001", server_key, pub, sec, session=1) as c:
        c.login()
        coid = c.submit(instrument=0, account=1, side=Side.SELL, qty=100, price=5010)
        ack = c.wait_for(lambda r: r.client_order_id == coid)

Heartbeats: the blocking client sends one whenever it has been idle for the heartbeat
interval *while the caller is inside* :meth:`Client.poll` / :meth:`Client.recv`; a program
that stops calling them for ``heartbeat_misses`` intervals is logged out. ``AsyncClient``
runs a heartbeat task.

Gap fill: each client tracks the highest ``report_seq`` it has received
(``last_report_seq``; gateway rejects carry 0 and do not count). After a lost connection or a
daemon restart, :meth:`Client.reconnect` opens a new connection and logs in with gap fill:
the daemon first re-sends every report after ``last_report_seq``, in order, then new ones.
``login(last_report_seq=N)`` does the same on a fresh client (N = 0: every report kept).

High availability: given several endpoints (one per daemon node), a client logs in at the
one node that answers, the primary, and :meth:`Client.reconnect` after a failover goes
round the list until the new primary answers, then gap fills as above.

Client order ids: every NEW_ORDER must carry an id greater than every earlier one of the
session (the server refuses others as DUPLICATE_CLIENT_ORDER_ID). Left out, :meth:`submit`
numbers them itself, continuing from the LOGIN_ACK's ``last_client_order_id``.
"""
from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Callable, NamedTuple, Sequence

import numpy as np
import zmq
import zmq.asyncio
import zmq.auth

from matching import OrderType, StpMode, TimeInForce
from matching.commands import FLAG_PARTIAL, PUBLIC
from zmqio.failover import Rotation, as_list

from .protocol import (
    CREATING_TYPES, LOGIN_ACK_DTYPE, ORDER_DTYPE, OUTBOUND_SIZE, PROTOCOL_VERSION, REPORT_DTYPE, REPORT_TYPE_OFFSET,
    GatewayReject, LoginFlag, MsgType, encode, message,
    reject_name,
)

__all__ = ["Client", "AsyncClient", "Report", "LoginAck", "SessionError", "as_reports", "load_keys",
           "orders", "decode_reports", "login_frame"]


class SessionError(RuntimeError):
    """Login refused, logged out by the server, or no answer in time."""

    def __init__(self, message: str, reason: int = 0) -> None:
        super().__init__(message)
        self.reason = reason


class Report(NamedTuple):
    """One server message, every field of ``REPORT_DTYPE`` as a Python int."""

    msg_type: int
    side: int
    reason: int
    ref_type: int
    flags: int
    order_type: int
    tif: int
    instrument: int
    account: int
    session: int
    trade_type: int
    report_seq: int
    seq: int
    cmd_seq: int
    ts: int
    order_id: int
    client_order_id: int
    price: int
    qty: int
    leaves: int
    trade_id: int
    fee: int

    @property
    def type_name(self) -> str:
        return MsgType(self.msg_type).name if self.msg_type in _MSG_TYPES else str(self.msg_type)

    @property
    def reason_name(self) -> str:
        return reject_name(self.reason) if self.msg_type in (MsgType.REJECT, MsgType.SERVER_LOGOUT) else ""


_MSG_TYPES = set(map(int, MsgType))
_REPORT_FIELDS = [f for f in Report._fields]
assert all(f in REPORT_DTYPE.names for f in _REPORT_FIELDS)


class LoginAck(NamedTuple):
    session: int
    heartbeat_ms: int
    flags: int
    server_time: int
    report_seq: int
    next_cmd_seq: int
    rate_limit: int
    last_client_order_id: int


def decode_reports(frame: bytes) -> np.ndarray:
    """A server frame as a ``REPORT_DTYPE`` array (a read-only view, no copy)."""
    if len(frame) % OUTBOUND_SIZE:
        raise ValueError(f"a server frame of {len(frame)} bytes is not a multiple of {OUTBOUND_SIZE}")
    return np.frombuffer(frame, dtype=REPORT_DTYPE)


def as_reports(rows: np.ndarray) -> list[Report]:
    """``REPORT_DTYPE`` rows as :class:`Report` tuples."""
    cols = [rows[name].tolist() for name in _REPORT_FIELDS]
    return [Report(*values) for values in zip(*cols)]


def load_keys(keys_dir, name: str) -> tuple[bytes, bytes]:
    """The (public, secret) key pair ``name`` from ``keys_dir`` (files from ``chuanyu keys``)."""
    public, secret = zmq.auth.load_certificate(str(Path(keys_dir) / f"{name}.key_secret"))
    if secret is None:
        raise ValueError(f"{name}.key_secret has no secret key")
    return public, secret


def orders(n: int, msg_type: int = MsgType.NEW_ORDER, **fields) -> np.ndarray:
    """``n`` order messages (``ORDER_DTYPE``) with ``fields`` set (scalars or arrays): the
    batched path, sent with :meth:`Client.send_orders`."""
    return message(msg_type, n, **fields)


def login_frame(session: int, heartbeat_ms: int, last_report_seq: int | None = None) -> bytes:
    """A LOGIN frame for ``session``; with ``last_report_seq``, one asking for gap fill after it.

    :class:`Client` sends it itself; a test or a tool driving a raw socket sends this.
    """
    if last_report_seq is None:
        return encode(MsgType.LOGIN, version=PROTOCOL_VERSION, session=session, heartbeat_ms=heartbeat_ms)
    return encode(MsgType.LOGIN, version=PROTOCOL_VERSION, session=session, heartbeat_ms=heartbeat_ms,
                  flags=LoginFlag.GAP_FILL, last_report_seq=last_report_seq)


def _parse_login(frame: bytes, session: int) -> LoginAck:
    rows = decode_reports(frame)
    first = int(rows["msg_type"][0])
    if first == MsgType.LOGIN_ACK:
        a = rows[:1].view(LOGIN_ACK_DTYPE)[0]
        return LoginAck(*(int(a[f]) for f in LoginAck._fields))
    if first in (MsgType.REJECT, MsgType.SERVER_LOGOUT):
        reason = int(rows["reason"][0])
        detail = ""
        if reason == GatewayReject.REPORTS_NOT_RETAINED:
            detail = f" (the oldest report kept is report_seq {int(rows['qty'][0])})"
        elif reason == GatewayReject.REPORT_SEQ_AHEAD:
            detail = f" (the session's last report_seq is {int(rows['qty'][0])})"
        err = SessionError(f"login to session {session} refused: {reject_name(reason)}{detail}", reason)
        err.report_seq = int(rows["qty"][0]) if detail else 0
        raise err
    raise SessionError(f"unexpected reply to LOGIN: message type {first}")


class _Base:
    def _setup(self, ctx, endpoint, server_key, public_key, secret_key, session, heartbeat_ms) -> None:
        self.endpoints = as_list(endpoint)
        self.endpoint = self.endpoints[0]  # the node logged in on, or the one to try first
        self._keys = (server_key, public_key, secret_key)
        self.last_report_seq = 0          # the highest report_seq received (gap fill resumes after it)
        self._open(ctx, self.endpoint)
        self.session = session
        self.heartbeat_ms = heartbeat_ms
        self.login_ack: LoginAck | None = None
        self._coid = 0
        self._last_send = 0.0
        self.logged_out: Report | None = None
        self._held: list[Report] = []      # received after the one wait_for returned: reports() gives them first

    def _take(self, got: list[Report], predicate, into: list | None) -> Report | None:
        """The first report ``predicate`` accepts; those before it go to ``into``, those
        after it are held for the next :meth:`reports` (none is lost)."""
        for i, r in enumerate(got):
            if predicate(r):
                self._held = got[i + 1:] + self._held
                return r
            if into is not None:
                into.append(r)
        return None

    def _turns(self, timeout_ms: int, endpoint: str | None = None) -> Rotation:
        """The endpoints a login tries, from the current one on; only ``endpoint`` if given
        (it becomes the current one, and takes the current one's place in :attr:`endpoints`
        when it is not there)."""
        if endpoint is None:
            return Rotation(self.endpoints, self.endpoints.index(self.endpoint), timeout_ms)
        if endpoint not in self.endpoints:
            self.endpoints[self.endpoints.index(self.endpoint)] = endpoint
        return Rotation([endpoint], 0, timeout_ms)

    def _unanswered(self, timeout_ms: int) -> SessionError:
        if len(self.endpoints) == 1:
            return SessionError(f"no answer to LOGIN within {timeout_ms} ms (unknown key, or no server)")
        return SessionError(f"no answer to LOGIN within {timeout_ms} ms from any of {', '.join(self.endpoints)} "
                            "(no primary among them, an unknown key, or no server)")

    def _moving_on(self, exc: SessionError, turns: Rotation) -> bool:
        """A node shutting down (a planned switchover) refuses the LOGIN ``SHUTTING_DOWN``: with
        other nodes to try, go on to the next (True) instead of failing."""
        if exc.reason == GatewayReject.SHUTTING_DOWN and len(self.endpoints) > 1 and turns.next():
            self._reopen(turns.current)
            return True
        return False

    def _reopen(self, endpoint: str) -> None:
        """Drop the socket, and whatever it still queues for its node, for a new one to ``endpoint``."""
        self.sock.close(linger=0)
        self.endpoint = endpoint
        self._open(self.ctx, endpoint)

    def _open(self, ctx, endpoint: str) -> None:
        """A new DEALER socket (a new ZeroMQ identity) connected to the daemon."""
        server_key, public_key, secret_key = self._keys
        self.sock = ctx.socket(zmq.DEALER)
        self.sock.linger = 0
        self.sock.curve_serverkey = server_key.encode() if isinstance(server_key, str) else server_key
        self.sock.curve_publickey = public_key
        self.sock.curve_secretkey = secret_key
        self.sock.rcvhwm = 0
        self.sock.sndhwm = 100_000
        self.sock.connect(endpoint)

    def _next_coid(self, coid) -> int:
        if coid is None:
            self._coid += 1
            return self._coid
        self._coid = max(self._coid, int(coid))
        return int(coid)

    def _accepted_login(self, ack: LoginAck) -> LoginAck:
        self.login_ack = ack
        self.heartbeat_ms = ack.heartbeat_ms
        self._coid = max(self._coid, ack.last_client_order_id)
        return ack

    def _order_bytes(self, msg_type, instrument=0, account=0, side=0, qty=0, price=0, order_type=0, tif=0,
                     stp=0, client_order_id=0, order_id=0) -> bytes:
        return encode(msg_type, instrument=instrument, account=account, side=side, qty=qty, price=price,
                      order_type=order_type, tif=tif, stp=stp, client_order_id=client_order_id,
                      order_id=order_id)

    def _creating(self, msg_type: int, client_order_id: int | None, **fields) -> tuple[bytes, int]:
        """A message that creates an order, numbered with the session's next client order id."""
        coid = self._next_coid(client_order_id)
        return encode(msg_type, client_order_id=coid, **fields), coid

    def _note(self, rows: np.ndarray) -> None:
        mt = rows["msg_type"]
        reports = (mt > REPORT_TYPE_OFFSET) & (mt < MsgType.LOGIN_ACK)     # session messages number nothing
        if reports.any():
            self.last_report_seq = max(self.last_report_seq, int(rows["report_seq"][reports].max()))
        logout = mt == MsgType.SERVER_LOGOUT
        if logout.any():
            self.logged_out = as_reports(rows[logout][:1])[0]


_FRAMES_PER_CALL = 1024          # reports() returns under a steady stream too


class Client(_Base):
    """A blocking order-entry session.

    Parameters
    ----------
    endpoint : str or list of str
        The daemon's order-entry endpoint; with high availability, every node's (only the
        primary answers: :meth:`login` and :meth:`reconnect` find it).
    server_key : str or bytes
        The daemon's z85 public key (``endpoints.json``, or the printed banner).
    public_key, secret_key : bytes
        This client's CURVE key pair (:func:`load_keys`).
    session : int
        The configured session id to log in as.
    heartbeat_ms : int
        Requested heartbeat interval; 0 takes the server's.
    """

    def __init__(self, endpoint: str | Sequence[str], server_key, public_key: bytes, secret_key: bytes,
                 session: int, heartbeat_ms: int = 0, context: zmq.Context | None = None) -> None:
        self._own_ctx = context is None
        self.ctx = context or zmq.Context()
        self._setup(self.ctx, endpoint, server_key, public_key, secret_key, session, heartbeat_ms)

    # .............................................................. session
    def login(self, timeout_ms: int = 5000, last_report_seq: int | None = None) -> LoginAck:
        """Log in; :class:`SessionError` if refused or unanswered (e.g. an unknown key).

        With ``last_report_seq`` (gap fill) the server first re-sends every report of the
        session after that one, in order, before any new one; they arrive through
        :meth:`recv` like any others. Refused ``REPORTS_NOT_RETAINED`` when the server no
        longer keeps them all, ``REPORT_SEQ_AHEAD`` when it never sent that many.

        With several :attr:`endpoints` the LOGIN goes to the current one first and, each
        time one leaves it unanswered for a second, to the next on a new socket, round and
        round until ``timeout_ms``; the one that answers becomes :attr:`endpoint`. A refusal
        raises at once, wherever it came from.
        """
        return self._log_in(self._turns(timeout_ms), last_report_seq, timeout_ms, retry_taken=False)

    def reconnect(self, timeout_ms: int = 5000, endpoint: str | None = None) -> LoginAck:
        """A new connection and a login with gap fill after :attr:`last_report_seq`.

        For a lost connection, a restarted daemon or a failover: the current endpoint first,
        then the others in turn as :meth:`login` (``endpoint``: that one only, where the
        daemon listens now, if it moved). While the server has not yet noticed the old
        connection is gone (``ALREADY_LOGGED_IN``, until its heartbeat timeout) the login is
        retried until ``timeout_ms``.
        """
        turns = self._turns(timeout_ms, endpoint)
        self._reopen(turns.current)
        self.login_ack, self.logged_out = None, None
        return self._log_in(turns, self.last_report_seq, timeout_ms, retry_taken=True)

    def _log_in(self, turns: Rotation, last_report_seq: int | None, timeout_ms: int, retry_taken: bool) -> LoginAck:
        """Send the LOGIN at each of ``turns`` until one answers; ``retry_taken``: send it
        again to a node that answers ``ALREADY_LOGGED_IN`` (it is the primary, and has not
        yet seen our old connection close)."""
        frame = login_frame(self.session, self.heartbeat_ms, last_report_seq)
        while True:
            if self._offer(frame, turns.wait_ms()) and self.sock.poll(turns.wait_ms()):
                try:
                    return self._accepted_login(_parse_login(self.sock.recv(), self.session))
                except SessionError as exc:
                    if self._moving_on(exc, turns):
                        continue
                    if not retry_taken or exc.reason != GatewayReject.ALREADY_LOGGED_IN or not turns.left_ms():
                        raise
                self.sock.poll(min(50, turns.left_ms()))
            elif turns.next():
                self._reopen(turns.current)
            else:
                raise self._unanswered(timeout_ms)

    def logout(self, timeout_ms: int = 2000) -> Report | None:
        """Log out and wait for the server's SERVER_LOGOUT."""
        self._send(encode(MsgType.LOGOUT))
        deadline = time.monotonic() + timeout_ms / 1000
        while self.logged_out is None and time.monotonic() < deadline:
            self.recv(int(max(1, (deadline - time.monotonic()) * 1000)))
        return self.logged_out

    def heartbeat(self) -> None:
        self._send(encode(MsgType.HEARTBEAT, ts=time.time_ns()))

    # .............................................................. order entry
    def submit(self, instrument: int, account: int, side: int, qty: int, price: int = 0,
               order_type: int = OrderType.LIMIT, tif: int = TimeInForce.GTC,
               stp: int = StpMode.ACCOUNT_DEFAULT, client_order_id: int | None = None) -> int:
        """Send one NEW_ORDER; return its client order id."""
        coid = self._next_coid(client_order_id)
        self._send(self._order_bytes(MsgType.NEW_ORDER, instrument, account, side, qty, price, order_type, tif,
                                     stp, coid))
        return coid

    def cancel(self, order_id: int, account: int, client_order_id: int = 0) -> None:
        self._send(self._order_bytes(MsgType.CANCEL, account=account, order_id=order_id,
                                     client_order_id=client_order_id))

    def reduce(self, order_id: int, account: int, qty: int, client_order_id: int = 0) -> None:
        self._send(self._order_bytes(MsgType.REDUCE, account=account, order_id=order_id, qty=qty,
                                     client_order_id=client_order_id))

    def replace(self, order_id: int, account: int, price: int, qty: int, client_order_id: int = 0) -> None:
        self._send(self._order_bytes(MsgType.REPLACE, account=account, order_id=order_id, price=price, qty=qty,
                                     client_order_id=client_order_id))

    # .............................................................. the other trade types
    def list_fixed(self, instrument: int, account: int, side: int, qty: int, price: int, min_qty: int,
                   client_order_id: int | None = None) -> int:
        """Post a fixed-price listing (takes of at least ``min_qty``); return its client order id."""
        frame, coid = self._creating(MsgType.LIST_FIXED, client_order_id, instrument=instrument, account=account,
                                     side=side, qty=qty, price=price, min_qty=min_qty)
        self._send(frame)
        return coid

    def take_fixed(self, listing_id: int, account: int, qty: int, client_order_id: int | None = None) -> int:
        """Take ``qty`` of the listing ``listing_id`` at its price; return the client order id."""
        frame, coid = self._creating(MsgType.TAKE_FIXED, client_order_id, order_id=listing_id, account=account,
                                     qty=qty)
        self._send(frame)
        return coid

    def block_quote(self, instrument: int, account: int, side: int, qty: int, price: int,
                    contra_account: int = PUBLIC, partial: bool = False, client_order_id: int | None = None) -> int:
        """Quote a block trade to ``contra_account`` (or to any account); return the client order id."""
        frame, coid = self._creating(MsgType.BLOCK_QUOTE, client_order_id, instrument=instrument, account=account,
                                     side=side, qty=qty, price=price, contra_account=contra_account,
                                     flags=FLAG_PARTIAL if partial else 0)
        self._send(frame)
        return coid

    def block_accept(self, quote_id: int, account: int, qty: int, client_order_id: int | None = None) -> int:
        """Accept ``qty`` of the block quote ``quote_id``; return the client order id."""
        frame, coid = self._creating(MsgType.BLOCK_ACCEPT, client_order_id, order_id=quote_id, account=account,
                                     qty=qty)
        self._send(frame)
        return coid

    def auction_bid(self, auction_id: int, account: int, qty: int, price: int,
                    client_order_id: int | None = None) -> int:
        """A sealed, irrevocable bid in auction ``auction_id``; return the client order id."""
        frame, coid = self._creating(MsgType.AUCTION_BID, client_order_id, order_id=auction_id, account=account,
                                     qty=qty, price=price)
        self._send(frame)
        return coid

    def send_orders(self, msgs: np.ndarray) -> None:
        """Send many order messages (``ORDER_DTYPE``) in one frame: the batched fast path.

        NEW_ORDER rows whose client order id is 0 are numbered here.
        """
        if msgs.dtype != ORDER_DTYPE:
            raise TypeError("send_orders takes an ORDER_DTYPE array (see gateway.client.orders)")
        new = np.isin(msgs["msg_type"], CREATING_TYPES) & (msgs["client_order_id"] == 0)
        if new.any():
            k = int(new.sum())
            msgs = msgs.copy()
            msgs["client_order_id"][new] = np.arange(self._coid + 1, self._coid + k + 1)
            self._coid += k
        if len(msgs):
            self._coid = max(self._coid, int(msgs["client_order_id"].max()))
        self._send(msgs.tobytes())

    def send_raw(self, frame: bytes) -> None:
        """Send bytes as they are (for tests and tools)."""
        self._send(frame)

    def _send(self, frame: bytes) -> None:
        self.sock.send(frame)
        self._last_send = time.monotonic()

    def _offer(self, frame: bytes, wait_ms: int) -> bool:
        """Send ``frame`` if the socket can queue it within ``wait_ms``; False if it had no
        connection to queue it on all that time. A refused CURVE key ends the connection and
        libzmq makes a new one a moment later: a blocking send in between never returns."""
        if not self.sock.poll(wait_ms, zmq.POLLOUT):
            return False
        try:
            self.sock.send(frame, zmq.NOBLOCK)
        except zmq.Again:
            return False
        self._last_send = time.monotonic()
        return True

    # .............................................................. receiving
    def poll(self, timeout_ms: int) -> bool:
        """True when a frame is waiting; sends a heartbeat when one is due."""
        self._maybe_heartbeat()
        return bool(self.sock.poll(timeout_ms))

    def recv(self, timeout_ms: int = 1000) -> np.ndarray | None:
        """The next frame of reports as a ``REPORT_DTYPE`` array, or None after ``timeout_ms``."""
        self._maybe_heartbeat()
        if not self.sock.poll(timeout_ms):
            return None
        rows = decode_reports(self.sock.recv())
        self._note(rows)
        return rows

    def reports(self, timeout_ms: int = 1000) -> list[Report]:
        """Every report received so far and not yet returned, as :class:`Report` tuples:
        all frames already waiting, after waiting up to ``timeout_ms`` for the first ([] if
        none came)."""
        got, self._held = self._held, []
        rows = self.recv(0 if got else timeout_ms)
        frames = 0
        while rows is not None:
            got += as_reports(rows)
            frames += 1
            rows = self.recv(0) if frames < _FRAMES_PER_CALL else None
        return got

    def wait_for(self, predicate: Callable[[Report], bool], timeout_ms: int = 5000,
                 into: list | None = None) -> Report:
        """Receive until a report satisfies ``predicate``; earlier ones go to ``into``, later
        ones stay for the next :meth:`reports` or :meth:`wait_for`.

        :class:`SessionError` after ``timeout_ms``.
        """
        deadline = time.monotonic() + timeout_ms / 1000
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise SessionError(f"no matching report within {timeout_ms} ms")
            found = self._take(self.reports(int(max(1, left * 1000))), predicate, into)
            if found is not None:
                return found

    def _maybe_heartbeat(self) -> None:
        hb = (self.login_ack.heartbeat_ms if self.login_ack else 0) / 1000
        if hb and time.monotonic() - self._last_send >= hb:
            self.heartbeat()

    def close(self) -> None:
        self.sock.close(linger=0)
        if self._own_ctx:
            self.ctx.term()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class AsyncClient(_Base):
    """The asyncio twin of :class:`Client` (``zmq.asyncio``), with a heartbeat task."""

    def __init__(self, endpoint: str | Sequence[str], server_key, public_key: bytes, secret_key: bytes,
                 session: int, heartbeat_ms: int = 0, context: zmq.asyncio.Context | None = None) -> None:
        self._own_ctx = context is None
        self.ctx = context or zmq.asyncio.Context()
        self._setup(self.ctx, endpoint, server_key, public_key, secret_key, session, heartbeat_ms)
        self._hb_task: asyncio.Task | None = None

    async def login(self, timeout_ms: int = 5000, last_report_seq: int | None = None) -> LoginAck:
        """Log in (with gap fill after ``last_report_seq`` if given; over several endpoints:
        see :meth:`Client.login`)."""
        ack = await self._log_in(self._turns(timeout_ms), last_report_seq, timeout_ms, retry_taken=False)
        self._start_heartbeats()
        return ack

    async def reconnect(self, timeout_ms: int = 5000, endpoint: str | None = None) -> LoginAck:
        """A new connection and a login with gap fill (see :meth:`Client.reconnect`)."""
        if self._hb_task is not None:
            self._hb_task.cancel()
            self._hb_task = None
        turns = self._turns(timeout_ms, endpoint)
        self._reopen(turns.current)
        self.login_ack, self.logged_out = None, None
        ack = await self._log_in(turns, self.last_report_seq, timeout_ms, retry_taken=True)
        self._start_heartbeats()
        return ack

    async def _log_in(self, turns: Rotation, last_report_seq: int | None, timeout_ms: int,
                      retry_taken: bool) -> LoginAck:
        """As :meth:`Client._log_in`."""
        frame = login_frame(self.session, self.heartbeat_ms, last_report_seq)
        while True:
            if await self._offer(frame, turns.wait_ms()) and await self.sock.poll(turns.wait_ms()):
                try:
                    return self._accepted_login(_parse_login(await self.sock.recv(), self.session))
                except SessionError as exc:
                    if self._moving_on(exc, turns):
                        continue
                    if not retry_taken or exc.reason != GatewayReject.ALREADY_LOGGED_IN or not turns.left_ms():
                        raise
                await asyncio.sleep(min(50, turns.left_ms()) / 1000)    # until the server's heartbeat timeout
            elif turns.next():
                self._reopen(turns.current)
            else:
                raise self._unanswered(timeout_ms)

    def _start_heartbeats(self) -> None:
        if self._hb_task is None or self._hb_task.done():
            self._hb_task = asyncio.get_running_loop().create_task(self._heartbeats())

    async def _heartbeats(self) -> None:
        interval = self.heartbeat_ms / 1000
        while True:
            await asyncio.sleep(max(interval - (time.monotonic() - self._last_send), interval / 4))
            if time.monotonic() - self._last_send >= interval:
                await self._send(encode(MsgType.HEARTBEAT, ts=time.time_ns()))

    async def logout(self, timeout_ms: int = 2000) -> Report | None:
        await self._send(encode(MsgType.LOGOUT))
        deadline = time.monotonic() + timeout_ms / 1000
        while self.logged_out is None and time.monotonic() < deadline:
            await self.recv(int(max(1, (deadline - time.monotonic()) * 1000)))
        return self.logged_out

    async def submit(self, instrument: int, account: int, side: int, qty: int, price: int = 0,
                     order_type: int = OrderType.LIMIT, tif: int = TimeInForce.GTC,
                     stp: int = StpMode.ACCOUNT_DEFAULT, client_order_id: int | None = None) -> int:
        coid = self._next_coid(client_order_id)
        await self._send(self._order_bytes(MsgType.NEW_ORDER, instrument, account, side, qty, price, order_type,
                                           tif, stp, coid))
        return coid

    async def cancel(self, order_id: int, account: int, client_order_id: int = 0) -> None:
        await self._send(self._order_bytes(MsgType.CANCEL, account=account, order_id=order_id,
                                           client_order_id=client_order_id))

    async def reduce(self, order_id: int, account: int, qty: int, client_order_id: int = 0) -> None:
        await self._send(self._order_bytes(MsgType.REDUCE, account=account, order_id=order_id, qty=qty,
                                           client_order_id=client_order_id))

    async def replace(self, order_id: int, account: int, price: int, qty: int, client_order_id: int = 0) -> None:
        await self._send(self._order_bytes(MsgType.REPLACE, account=account, order_id=order_id, price=price,
                                           qty=qty, client_order_id=client_order_id))

    # .............................................................. the other trade types
    async def list_fixed(self, instrument: int, account: int, side: int, qty: int, price: int, min_qty: int,
                   client_order_id: int | None = None) -> int:
        """Post a fixed-price listing (takes of at least ``min_qty``); return its client order id."""
        frame, coid = self._creating(MsgType.LIST_FIXED, client_order_id, instrument=instrument, account=account,
                                     side=side, qty=qty, price=price, min_qty=min_qty)
        await self._send(frame)
        return coid

    async def take_fixed(self, listing_id: int, account: int, qty: int, client_order_id: int | None = None) -> int:
        """Take ``qty`` of the listing ``listing_id`` at its price; return the client order id."""
        frame, coid = self._creating(MsgType.TAKE_FIXED, client_order_id, order_id=listing_id, account=account,
                                     qty=qty)
        await self._send(frame)
        return coid

    async def block_quote(self, instrument: int, account: int, side: int, qty: int, price: int,
                    contra_account: int = PUBLIC, partial: bool = False, client_order_id: int | None = None) -> int:
        """Quote a block trade to ``contra_account`` (or to any account); return the client order id."""
        frame, coid = self._creating(MsgType.BLOCK_QUOTE, client_order_id, instrument=instrument, account=account,
                                     side=side, qty=qty, price=price, contra_account=contra_account,
                                     flags=FLAG_PARTIAL if partial else 0)
        await self._send(frame)
        return coid

    async def block_accept(self, quote_id: int, account: int, qty: int, client_order_id: int | None = None) -> int:
        """Accept ``qty`` of the block quote ``quote_id``; return the client order id."""
        frame, coid = self._creating(MsgType.BLOCK_ACCEPT, client_order_id, order_id=quote_id, account=account,
                                     qty=qty)
        await self._send(frame)
        return coid

    async def auction_bid(self, auction_id: int, account: int, qty: int, price: int,
                    client_order_id: int | None = None) -> int:
        """A sealed, irrevocable bid in auction ``auction_id``; return the client order id."""
        frame, coid = self._creating(MsgType.AUCTION_BID, client_order_id, order_id=auction_id, account=account,
                                     qty=qty, price=price)
        await self._send(frame)
        return coid

    async def send_orders(self, msgs: np.ndarray) -> None:
        if msgs.dtype != ORDER_DTYPE:
            raise TypeError("send_orders takes an ORDER_DTYPE array (see gateway.client.orders)")
        new = np.isin(msgs["msg_type"], CREATING_TYPES) & (msgs["client_order_id"] == 0)
        if new.any():
            k = int(new.sum())
            msgs = msgs.copy()
            msgs["client_order_id"][new] = np.arange(self._coid + 1, self._coid + k + 1)
            self._coid += k
        await self._send(msgs.tobytes())

    async def _send(self, frame: bytes) -> None:
        await self.sock.send(frame)
        self._last_send = time.monotonic()

    async def _offer(self, frame: bytes, wait_ms: int) -> bool:
        """As :meth:`Client._offer`."""
        if not await self.sock.poll(wait_ms, zmq.POLLOUT):
            return False
        try:
            await self.sock.send(frame, zmq.NOBLOCK)
        except zmq.Again:
            return False
        self._last_send = time.monotonic()
        return True

    async def recv(self, timeout_ms: int = 1000) -> np.ndarray | None:
        if not await self.sock.poll(timeout_ms):
            return None
        rows = decode_reports(await self.sock.recv())
        self._note(rows)
        return rows

    async def reports(self, timeout_ms: int = 1000) -> list[Report]:
        """As :meth:`Client.reports`."""
        got, self._held = self._held, []
        rows = await self.recv(0 if got else timeout_ms)
        frames = 0
        while rows is not None:
            got += as_reports(rows)
            frames += 1
            rows = await self.recv(0) if frames < _FRAMES_PER_CALL else None
        return got

    async def wait_for(self, predicate: Callable[[Report], bool], timeout_ms: int = 5000,
                       into: list | None = None) -> Report:
        """As :meth:`Client.wait_for`."""
        deadline = time.monotonic() + timeout_ms / 1000
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise SessionError(f"no matching report within {timeout_ms} ms")
            found = self._take(await self.reports(int(max(1, left * 1000))), predicate, into)
            if found is not None:
                return found

    def close(self) -> None:
        if self._hb_task is not None:
            self._hb_task.cancel()
        self.sock.close(linger=0)
        if self._own_ctx:
            self.ctx.term()

    async def __aenter__(self):
        return self

    async def __aexit__(self, *exc):
        self.close()
