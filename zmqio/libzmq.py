"""The C functions of the libzmq this process's pyzmq runs on, for the C twins that call
libzmq directly (:mod:`zmqio._router`, :mod:`zmqio._publish`; declared in ``_libzmq.pxd``).

Through pyzmq a receive or send costs a few microseconds of Python-level work (a ``Frame``
object, an exception at the end of every drain); through libzmq's C API a fraction of one.
The library is found among the process's mapped files (Linux) and must be the very version
pyzmq reports. Elsewhere, or when more than one libzmq is mapped, or with
``CHUANYU_PYZMQ=1`` in the environment, :func:`functions` returns None and the factories
(:func:`zmqio.router.open_router`, :func:`zmqio.publish.open_publisher`) take the pyzmq
twins, the references the tests hold the C twins to.
"""
from __future__ import annotations

import ctypes
import functools
import os

import zmq

__all__ = ["functions", "NAMES", "FORCE_PYZMQ"]

FORCE_PYZMQ = "CHUANYU_PYZMQ"
NAMES = ("zmq_send", "zmq_errno", "zmq_msg_init", "zmq_msg_recv", "zmq_msg_data", "zmq_msg_size",
         "zmq_msg_more", "zmq_msg_close", "zmq_msg_gets", "zmq_msg_get")


def _mapped_libzmq() -> str | None:
    try:
        with open("/proc/self/maps") as maps:
            paths = set()
            for line in maps:
                fields = line.split(None, 5)
                if len(fields) == 6 and "libzmq" in os.path.basename(fields[5].strip()):
                    paths.add(fields[5].strip())
    except OSError:
        return None
    paths = {p for p in paths if os.path.exists(p)}
    return paths.pop() if len(paths) == 1 else None


@functools.cache
def _found() -> dict | None:
    path = _mapped_libzmq()
    if path is None:
        return None
    try:
        lib = ctypes.CDLL(path)
        major, minor, patch = ctypes.c_int(), ctypes.c_int(), ctypes.c_int()
        lib.zmq_version(ctypes.byref(major), ctypes.byref(minor), ctypes.byref(patch))
        if (major.value, minor.value, patch.value) != zmq.zmq_version_info():
            return None
        return {name: ctypes.cast(getattr(lib, name), ctypes.c_void_p).value for name in NAMES}
    except (OSError, AttributeError):
        return None


def functions() -> dict | None:
    """``{name: address}`` for :data:`NAMES`, or None where pyzmq must be used instead."""
    if os.environ.get(FORCE_PYZMQ, "") not in ("", "0"):
        return None
    return _found()
