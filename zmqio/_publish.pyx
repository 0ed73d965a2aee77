# cython: language_level=3
"""Publishing on a PUB socket in C, straight on libzmq.

A feed batch is some sixty ``[topic, messages]`` frames; through pyzmq each costs a few
microseconds of Python-level work, through libzmq's ``zmq_send`` a fraction of one.
:class:`Publisher` calls the function :func:`zmqio.libzmq.functions` found, on the pyzmq
socket's own handle (``Socket.underlying``). Its pyzmq twin,
:class:`zmqio.publish.PyzmqPublisher`, serves where libzmq cannot be found and is what the
tests hold this module to; :func:`zmqio.publish.open_publisher` picks one.
"""
cimport numpy as cnp

from zmqio._libzmq cimport LibZmq, ZMQ_DONTWAIT, ZMQ_SNDMORE, load_libzmq

import zmq

cnp.import_array()

__all__ = ["Publisher"]


cdef class Publisher:
    """Send groups of rows as ``[topic, rows]`` messages through libzmq's C API.

    Parameters
    ----------
    functions : dict
        ``{name: address}`` from :func:`zmqio.libzmq.functions`.
    socket : zmq.Socket
        The PUB socket; kept alive here, and used only from the thread that calls
        :meth:`send_groups`.
    """

    cdef void* sock
    cdef object owner
    cdef LibZmq api

    def __cinit__(self, dict functions, socket):
        cdef size_t handle = socket.underlying
        if handle == 0:
            raise ValueError("the socket is closed")
        load_libzmq(&self.api, functions)
        self.owner = socket
        self.sock = <void*>handle

    def send_groups(self, list topics, cnp.ndarray rows not None, list groups):
        """Send each ``(k, a, b)`` of ``groups`` as one message ``[topics[k], rows[a:b]]``.

        ``rows``: a contiguous one-dimensional array, sent as its raw bytes. Never blocks (a
        PUB socket drops what a slow subscriber cannot take). Returns the number of rows
        sent; raises ValueError at a group outside ``rows`` (the groups before it are sent)
        and ``zmq.ZMQError`` with libzmq's errno if a send fails.
        """
        if rows.ndim != 1 or not cnp.PyArray_IS_C_CONTIGUOUS(rows):
            raise TypeError("rows must be a contiguous one-dimensional array")
        cdef const char* data = <const char*>cnp.PyArray_DATA(rows)
        cdef Py_ssize_t itemsize = cnp.PyArray_ITEMSIZE(rows)
        cdef Py_ssize_t n_rows = rows.shape[0], k, a, b
        cdef Py_ssize_t sent = 0
        cdef bytes name
        for k, a, b in groups:
            if not 0 <= a <= b <= n_rows:
                raise ValueError(f"group {k}: rows {a}:{b} outside the batch")
            name = topics[k]
            if name is None:
                raise TypeError(f"group {k}: its topic is None, not bytes")
            if self.api.zmq_send(self.sock, <const char*>name, len(name), ZMQ_DONTWAIT | ZMQ_SNDMORE) < 0 \
                    or self.api.zmq_send(self.sock, data + a * itemsize, (b - a) * itemsize, ZMQ_DONTWAIT) < 0:
                raise zmq.ZMQError(self.api.zmq_errno())
            sent += b - a
        return sent
