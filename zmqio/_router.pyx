# cython: language_level=3
"""A ROUTER socket's receiving and sending in C, straight on libzmq.

At 20,000 orders/s a turn of the daemon's loop holds a handful of frames, and pyzmq's
per-call Python work (a ``Frame`` object per part, a ``zmq.Again`` raised to end every
drain, attribute lookups per send) was a fifth of the turn. :class:`RouterIO` calls the
libzmq functions :func:`zmqio.libzmq.functions` found, on the pyzmq socket's own handle
(``Socket.underlying``), from the loop's thread. Its pyzmq twin,
:class:`zmqio.router.PyzmqRouterIO`, serves where libzmq cannot be found and is what the
tests hold this module to; :func:`zmqio.router.open_router` picks one.
"""
from cpython.buffer cimport PyBUF_SIMPLE, PyBuffer_Release, PyObject_GetBuffer
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_FromStringAndSize, PyBytes_GET_SIZE
from cpython.dict cimport PyDict_GetItem
from cpython.list cimport PyList_GET_ITEM
from cpython.object cimport PyObject
from libc.errno cimport EAGAIN, EINTR
from libc.stdint cimport int64_t
from libc.string cimport strcmp
from posix.time cimport CLOCK_REALTIME, clock_gettime, timespec

from zmqio._libzmq cimport LibZmq, ZMQ_DONTWAIT, ZMQ_SNDMORE, ZMQ_SRCFD, load_libzmq, zmq_msg_t

import zmq

__all__ = ["RouterIO", "UNBOUND", "MULTIPART", "FOREIGN"]

UNBOUND = 1        # a stray: a frame from a routing id that has no session (LOGIN, or refused)
MULTIPART = 2      # a stray: a message of more than one frame after the identity (refused)
FOREIGN = 3        # a stray: a frame on a session's routing id from another connection or CURVE key


cdef inline int64_t _now_ns() noexcept nogil:
    cdef timespec t
    clock_gettime(CLOCK_REALTIME, &t)
    return <int64_t>t.tv_sec * 1_000_000_000 + t.tv_nsec


cdef class RouterIO:
    """Drain and send on a ROUTER socket through libzmq's C API.

    Parameters
    ----------
    functions : dict
        ``{name: address}`` from :func:`zmqio.libzmq.functions`.
    socket : zmq.Socket
        The ROUTER; kept alive here, and used only from the thread that calls these methods.
    peer_fd : int32 array
        Per session index, the file descriptor of the connection the session logged in on
        (-1: none). Read at every frame, never copied: the caller binds sessions by writing it.
    peer_key : list
        Per session index, the session's CURVE public key (z85 bytes) or None; read likewise.
    """

    cdef void* sock
    cdef object owner
    cdef LibZmq api
    cdef int[::1] peer_fd
    cdef list peer_key

    def __cinit__(self, dict functions, socket, int[::1] peer_fd, list peer_key):
        cdef size_t handle = socket.underlying
        if handle == 0:
            raise ValueError("the socket is closed")
        load_libzmq(&self.api, functions)
        if len(peer_key) != peer_fd.shape[0]:       # drain indexes peer_key unchecked
            raise ValueError("peer_fd and peer_key must have one entry per session index")
        for key in peer_key:
            if key is not None and not isinstance(key, bytes):
                raise TypeError("peer_key holds bytes (z85 public keys) or None")
        self.owner = socket
        self.sock = <void*>handle
        self.peer_fd = peer_fd
        self.peer_key = peer_key

    cdef bytes _take(self, zmq_msg_t* msg):
        return PyBytes_FromStringAndSize(<char*>self.api.zmq_msg_data(msg), self.api.zmq_msg_size(msg))

    cdef int _recv(self, zmq_msg_t* msg) except -2:
        """0 on a part received, -1 when nothing waits (or a signal interrupted); raises otherwise."""
        self.api.zmq_msg_init(msg)
        if self.api.zmq_msg_recv(msg, self.sock, ZMQ_DONTWAIT) >= 0:
            return 0
        code = self.api.zmq_errno()
        self.api.zmq_msg_close(msg)
        if code == EAGAIN or code == EINTR:
            return -1
        raise zmq.ZMQError(code)

    cdef object _user(self, zmq_msg_t* msg):
        """The message's ZAP user id (the connection's CURVE public key, z85), or None."""
        cdef const char* user = self.api.zmq_msg_gets(msg, b"User-Id")
        return user.decode() if user is not NULL else None

    def drain(self, dict session_of, Py_ssize_t size, Py_ssize_t budget, list payloads, list frame_sess,
              list frame_ts):
        """Receive waiting ``[identity, payload]`` messages while ``size`` (payload bytes so
        far) is under ``budget``.

        A frame on a session's routing id (``session_of``: identity -> session index) that
        came on the session's own connection (its file descriptor, ``peer_fd``) with the
        session's CURVE key (``peer_key``) goes onto ``payloads``, ``frame_sess`` and
        ``frame_ts`` (the receive time, ns since the epoch). Returns ``(size, stray)``: the
        drain stops at the first stray, ``(kind, identity, payload, user_id, fd)``: kind
        :data:`UNBOUND` (no session on that routing id), :data:`FOREIGN` (a session's routing
        id on another connection or key) or :data:`MULTIPART` (payload None, the rest of the
        message already read), so the caller can handle it (a LOGIN binds the connection for
        the frames behind it) and drain again. ``stray`` is None when nothing more waits or
        the budget is used.
        """
        cdef zmq_msg_t part
        cdef bytes identity, payload
        cdef PyObject* idx
        cdef PyObject* key
        cdef const char* user
        cdef int more, fd
        cdef Py_ssize_t i
        while size < budget:
            if self._recv(&part) < 0:
                return size, None
            identity = self._take(&part)
            more = self.api.zmq_msg_more(&part)
            self.api.zmq_msg_close(&part)
            if not more:                        # a ROUTER always prefixes an identity; nothing to answer
                continue
            if self._recv(&part) < 0:
                raise zmq.ZMQError(EAGAIN, "a message's second part did not follow its first")
            fd = self.api.zmq_msg_get(&part, ZMQ_SRCFD)
            if self.api.zmq_msg_more(&part):
                user_id = self._user(&part)
                self.api.zmq_msg_close(&part)
                while True:                     # the parts of one message arrive together
                    if self._recv(&part) < 0:
                        break
                    more = self.api.zmq_msg_more(&part)
                    self.api.zmq_msg_close(&part)
                    if not more:
                        break
                return size, (MULTIPART, identity, None, user_id, fd)
            payload = self._take(&part)
            idx = PyDict_GetItem(session_of, identity)
            if idx is NULL:
                user_id = self._user(&part)      # the message's metadata: read before closing it
                self.api.zmq_msg_close(&part)
                return size, (UNBOUND, identity, payload, user_id, fd)
            i = <object>idx
            key = PyList_GET_ITEM(self.peer_key, i)
            user = self.api.zmq_msg_gets(&part, b"User-Id")
            if (fd != self.peer_fd[i] or user is NULL or <object>key is None
                    or strcmp(user, PyBytes_AS_STRING(<bytes>key)) != 0):
                user_id = user.decode() if user is not NULL else None
                self.api.zmq_msg_close(&part)
                return size, (FOREIGN, identity, payload, user_id, fd)
            self.api.zmq_msg_close(&part)
            payloads.append(payload)
            frame_sess.append(<object>idx)
            frame_ts.append(_now_ns())
            size += PyBytes_GET_SIZE(payload)
        return size, None

    def send(self, bytes identity not None, data):
        """Send ``[identity, data]`` without blocking; 0, or libzmq's errno (``zmq.EAGAIN``:
        the peer's pipe is full; ``zmq.EHOSTUNREACH``: no such peer).

        ``data``: any contiguous buffer (bytes, a numpy array of reports).
        """
        cdef Py_buffer view
        cdef int code = 0
        PyObject_GetBuffer(data, &view, PyBUF_SIMPLE)     # first: a bad buffer must not leave half a message
        if self.api.zmq_send(self.sock, PyBytes_AS_STRING(identity), PyBytes_GET_SIZE(identity),
                             ZMQ_DONTWAIT | ZMQ_SNDMORE) < 0 \
                or self.api.zmq_send(self.sock, view.buf, view.len, ZMQ_DONTWAIT) < 0:
            code = self.api.zmq_errno()
        PyBuffer_Release(&view)
        return code
