"""What the transport's tests share: whether libzmq was found, sockets closed at teardown, and
the twin under test (C or pyzmq), so that every test of a twin's interface runs against both.

The fixtures live here and are imported by the test modules, not in a ``conftest.py``: a
second ``conftest`` module would shadow the integration tests' ``from conftest import ...``.
"""
import pytest
import zmq

from zmqio import libzmq

FUNCTIONS = libzmq.functions()
NO_LIBZMQ = ("libzmq's C functions not found (not Linux, not exactly one libzmq mapped, or "
             f"{libzmq.FORCE_PYZMQ} set): only the pyzmq twin runs")


class Sockets:
    """A context whose sockets are kept and closed at teardown (pyzmq warns of any left open)."""

    def __init__(self):
        self.context = zmq.Context()
        self.made = []

    def socket(self, kind):
        sock = self.context.socket(kind)
        sock.linger = 0
        self.made.append(sock)
        return sock

    def close(self):
        for sock in self.made:
            sock.close(linger=0)
        self.context.term()


@pytest.fixture
def ctx():
    sockets = Sockets()
    yield sockets
    sockets.close()


@pytest.fixture(params=[pytest.param(True, id="c", marks=pytest.mark.skipif(FUNCTIONS is None, reason=NO_LIBZMQ)),
                        pytest.param(False, id="pyzmq")])
def use_c(request):
    """The ``use_c`` argument of the factories (``open_router``, ``open_publisher``)."""
    return request.param
