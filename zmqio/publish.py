"""Publishing groups of rows on a PUB socket: libzmq's C API where it is found, pyzmq elsewhere.

The two twins, :class:`zmqio._publish.Publisher` (C) and :class:`PyzmqPublisher` (pyzmq,
the reference the tests hold the C one to), send the same frames; :func:`open_publisher`
picks one when the socket is bound, so no production method asks which it has. See
:mod:`zmqio.libzmq` for when libzmq is found.
"""
from __future__ import annotations

import numpy as np
import zmq

from . import libzmq
from ._publish import Publisher

__all__ = ["open_publisher", "PyzmqPublisher", "Publisher"]

_NOBLOCK, _MORE_NOBLOCK = int(zmq.NOBLOCK), int(zmq.SNDMORE | zmq.NOBLOCK)


class PyzmqPublisher:
    """Send groups of rows as ``[topic, rows]`` messages through pyzmq: the twin of
    :class:`Publisher`.

    Parameters
    ----------
    socket : zmq.Socket
        The PUB socket, used only from the thread that calls :meth:`send_groups`.
    """

    def __init__(self, socket: zmq.Socket) -> None:
        if socket.closed:
            raise ValueError("the socket is closed")
        self.socket = socket

    def send_groups(self, topics: list, rows: np.ndarray, groups: list) -> int:
        """Send each ``(k, a, b)`` of ``groups`` as one message ``[topics[k], rows[a:b]]``;
        the number of rows sent, as :meth:`Publisher.send_groups`."""
        if not isinstance(rows, np.ndarray) or rows.ndim != 1 or not rows.flags.c_contiguous:
            raise TypeError("rows must be a contiguous one-dimensional array")
        send = self.socket.send
        n_rows = len(rows)
        sent = 0
        for k, a, b in groups:
            if not 0 <= a <= b <= n_rows:
                raise ValueError(f"group {k}: rows {a}:{b} outside the batch")
            if not isinstance(topics[k], bytes):     # pyzmq sends any buffer; the C twin takes bytes only
                raise TypeError(f"group {k}: its topic is {type(topics[k]).__name__}, not bytes")
            send(topics[k], _MORE_NOBLOCK)
            send(rows[a:b], _NOBLOCK)
            sent += b - a
        return sent


def open_publisher(socket: zmq.Socket, use_c: bool | None = None):
    """The PUB socket's sender: :class:`Publisher` where libzmq's functions are found, else
    :class:`PyzmqPublisher`.

    ``use_c``: None chooses by :func:`zmqio.libzmq.functions`; True insists on the C one
    (RuntimeError where libzmq is not found), False takes pyzmq.
    """
    found = libzmq.functions() if use_c is not False else None
    if found is not None:
        return Publisher(found, socket)
    if use_c:
        raise RuntimeError(f"libzmq's C functions were not found (or {libzmq.FORCE_PYZMQ} is set)")
    return PyzmqPublisher(socket)
