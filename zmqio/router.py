"""A ROUTER socket's draining and sending: libzmq's C API where it is found, pyzmq elsewhere.

The two twins, :class:`zmqio._router.RouterIO` (C) and :class:`PyzmqRouterIO` (pyzmq,
the reference the tests hold the C one to), have the same two methods and the same results;
:func:`open_router` picks one when the socket is bound, so no production method asks which
it has. See :mod:`zmqio.libzmq` for when libzmq is found.
"""
from __future__ import annotations

import time

import zmq

from . import libzmq
from ._router import FOREIGN, MULTIPART, UNBOUND, RouterIO

__all__ = ["open_router", "PyzmqRouterIO", "RouterIO", "UNBOUND", "MULTIPART", "FOREIGN"]

_NOBLOCK, _MORE_NOBLOCK = int(zmq.NOBLOCK), int(zmq.SNDMORE | zmq.NOBLOCK)


def _user_id(frame: zmq.Frame) -> str | None:
    """A received frame's ZAP user id (its connection's CURVE public key), None without one."""
    try:
        return frame.get("User-Id")
    except zmq.ZMQError:
        return None


class PyzmqRouterIO:
    """Drain and send on a ROUTER socket through pyzmq: the twin of :class:`RouterIO`.

    Parameters
    ----------
    socket : zmq.Socket
        The ROUTER, used only from the thread that calls these methods.
    peer_fd : int32 array
        Per session index, the file descriptor of the connection the session logged in on
        (-1: none). Read at every frame, never copied: the caller binds sessions by writing it.
    peer_key : list
        Per session index, the session's CURVE public key (z85 bytes) or None; read likewise.
    """

    def __init__(self, socket: zmq.Socket, peer_fd, peer_key: list) -> None:
        if socket.closed:
            raise ValueError("the socket is closed")
        if len(peer_key) != len(peer_fd):
            raise ValueError("peer_fd and peer_key must have one entry per session index")
        if any(key is not None and not isinstance(key, bytes) for key in peer_key):
            raise TypeError("peer_key holds bytes (z85 public keys) or None")
        self.socket = socket
        self.peer_fd = peer_fd
        self.peer_key = peer_key

    def drain(self, session_of: dict, size: int, budget: int, payloads: list, frame_sess: list,
              frame_ts: list) -> tuple[int, tuple | None]:
        """Receive waiting ``[identity, payload]`` messages while ``size`` is under ``budget``;
        ``(size, stray)`` exactly as :meth:`RouterIO.drain`."""
        sock = self.socket
        recv = sock.recv
        now_ns = time.time_ns
        while size < budget:
            try:
                identity = recv(_NOBLOCK)
            except zmq.Again:
                return size, None
            frame = recv(0, copy=False)             # the parts of one message arrive together
            fd, user_id = frame.get(zmq.SRCFD), _user_id(frame)
            if frame.more:
                while sock.rcvmore:
                    recv()
                return size, (MULTIPART, identity, None, user_id, fd)
            idx = session_of.get(identity)
            if idx is None:
                return size, (UNBOUND, identity, frame.bytes, user_id, fd)
            if fd != self.peer_fd[idx] or user_id is None or user_id.encode() != self.peer_key[idx]:
                return size, (FOREIGN, identity, frame.bytes, user_id, fd)
            payload = frame.bytes
            payloads.append(payload)
            frame_sess.append(idx)
            frame_ts.append(now_ns())
            size += len(payload)
        return size, None

    def send(self, identity: bytes, data) -> int:
        """Send ``[identity, data]`` without blocking; 0 or the errno, as :meth:`RouterIO.send`."""
        if not isinstance(identity, bytes):
            raise TypeError(f"identity must be bytes, not {type(identity).__name__}")
        view = memoryview(data)
        if not view.c_contiguous:              # checked first: a bad buffer must not leave half a message
            raise ValueError("data is not a C-contiguous buffer")
        try:
            self.socket.send(identity, _MORE_NOBLOCK)
            self.socket.send(view, _NOBLOCK)
        except zmq.ZMQError as exc:
            return exc.errno
        return 0


def open_router(socket: zmq.Socket, peer_fd, peer_key: list, use_c: bool | None = None):
    """The order socket's I/O: :class:`RouterIO` where libzmq's functions are found, else
    :class:`PyzmqRouterIO`.

    ``use_c``: None chooses by :func:`zmqio.libzmq.functions`; True insists on the C one
    (RuntimeError where libzmq is not found), False takes pyzmq.
    """
    found = libzmq.functions() if use_c is not False else None
    if found is not None:
        return RouterIO(found, socket, peer_fd, peer_key)
    if use_c:
        raise RuntimeError(f"libzmq's C functions were not found (or {libzmq.FORCE_PYZMQ} is set)")
    return PyzmqRouterIO(socket, peer_fd, peer_key)
