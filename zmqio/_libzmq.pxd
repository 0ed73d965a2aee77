# The part of libzmq's C API the transport's C modules call, declared once for all of them.
# No zmq.h is compiled against: the functions are those of the libzmq pyzmq itself loaded,
# found at run time (zmqio.libzmq.functions()), so a header of another version can never
# disagree with the library the sockets belong to. The types and constants below are
# libzmq's stable ABI (zmq.h, 4.x).
from libc.stdint cimport int64_t

ctypedef struct zmq_msg_t:           # libzmq's opaque 64-byte message, pointer-aligned
    int64_t _[8]

ctypedef int (*zmq_send_fn)(void* socket, const void* buf, size_t length, int flags) noexcept nogil
ctypedef int (*zmq_errno_fn)() noexcept nogil
ctypedef int (*zmq_msg_init_fn)(zmq_msg_t* msg) noexcept nogil
ctypedef int (*zmq_msg_recv_fn)(zmq_msg_t* msg, void* socket, int flags) noexcept nogil
ctypedef void* (*zmq_msg_data_fn)(zmq_msg_t* msg) noexcept nogil
ctypedef size_t (*zmq_msg_size_fn)(const zmq_msg_t* msg) noexcept nogil
ctypedef int (*zmq_msg_more_fn)(const zmq_msg_t* msg) noexcept nogil
ctypedef int (*zmq_msg_close_fn)(zmq_msg_t* msg) noexcept nogil
ctypedef const char* (*zmq_msg_gets_fn)(const zmq_msg_t* msg, const char* prop) noexcept nogil
ctypedef int (*zmq_msg_get_fn)(const zmq_msg_t* msg, int prop) noexcept nogil

cdef enum:
    ZMQ_DONTWAIT = 1
    ZMQ_SNDMORE = 2
    ZMQ_SRCFD = 2          # zmq_msg_get: the file descriptor of the connection the message came on

# One field per name of zmqio.libzmq.NAMES, named as the C function it points to.
ctypedef struct LibZmq:
    zmq_send_fn zmq_send
    zmq_errno_fn zmq_errno
    zmq_msg_init_fn zmq_msg_init
    zmq_msg_recv_fn zmq_msg_recv
    zmq_msg_data_fn zmq_msg_data
    zmq_msg_size_fn zmq_msg_size
    zmq_msg_more_fn zmq_msg_more
    zmq_msg_close_fn zmq_msg_close
    zmq_msg_gets_fn zmq_msg_gets
    zmq_msg_get_fn zmq_msg_get


cdef inline size_t _address(dict functions, str name) except 0:
    address = functions.get(name)
    if not address:                  # a null pointer here would crash the first call, far from its cause
        raise ValueError(f"no address for {name}")
    return address


cdef inline int load_libzmq(LibZmq* api, dict functions) except -1:
    """Fill ``api`` from the ``{name: address}`` of :func:`zmqio.libzmq.functions`.

    Raises ValueError, before anything is written, when ``functions`` is None or lacks an
    address.
    """
    if functions is None:
        raise ValueError("no libzmq functions (zmqio.libzmq.functions() found none)")
    cdef LibZmq found
    found.zmq_send = <zmq_send_fn>_address(functions, "zmq_send")
    found.zmq_errno = <zmq_errno_fn>_address(functions, "zmq_errno")
    found.zmq_msg_init = <zmq_msg_init_fn>_address(functions, "zmq_msg_init")
    found.zmq_msg_recv = <zmq_msg_recv_fn>_address(functions, "zmq_msg_recv")
    found.zmq_msg_data = <zmq_msg_data_fn>_address(functions, "zmq_msg_data")
    found.zmq_msg_size = <zmq_msg_size_fn>_address(functions, "zmq_msg_size")
    found.zmq_msg_more = <zmq_msg_more_fn>_address(functions, "zmq_msg_more")
    found.zmq_msg_close = <zmq_msg_close_fn>_address(functions, "zmq_msg_close")
    found.zmq_msg_gets = <zmq_msg_gets_fn>_address(functions, "zmq_msg_gets")
    found.zmq_msg_get = <zmq_msg_get_fn>_address(functions, "zmq_msg_get")
    api[0] = found
    return 0
