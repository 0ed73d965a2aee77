"""zmqio.libzmq and the C twins' use of it (zmqio/_libzmq.pxd): the functions found, the
environment switch to pyzmq, and a clear refusal of a table without an address."""
import numpy as np
import pytest
import zmq

from zmqio import libzmq
from zmqio.publish import Publisher
from zmqio.router import RouterIO
from zmqio_twins import FUNCTIONS, NO_LIBZMQ, ctx  # noqa: F401  (fixtures)

needs_libzmq = pytest.mark.skipif(FUNCTIONS is None, reason=NO_LIBZMQ)


def _no_sessions():
    return np.full(1, -1, dtype=np.int32), [None]


@needs_libzmq
def test_pyzmq_is_forced_by_the_environment(monkeypatch):
    monkeypatch.setenv(libzmq.FORCE_PYZMQ, "1")
    assert libzmq.functions() is None
    monkeypatch.setenv(libzmq.FORCE_PYZMQ, "0")
    assert libzmq.functions() == FUNCTIONS


@needs_libzmq
def test_every_function_is_found():
    assert set(FUNCTIONS) == set(libzmq.NAMES) and all(FUNCTIONS.values())


@needs_libzmq
@pytest.mark.parametrize("name", libzmq.NAMES)
def test_the_c_twins_refuse_a_table_without_an_address(ctx, name):
    router, pub = ctx.socket(zmq.ROUTER), ctx.socket(zmq.PUB)
    lacking = {k: v for k, v in FUNCTIONS.items() if k != name}
    with pytest.raises(ValueError, match=f"no address for {name}$"):
        RouterIO(lacking, router, *_no_sessions())
    with pytest.raises(ValueError, match=f"no address for {name}$"):
        Publisher(lacking, pub)


@needs_libzmq
def test_the_c_twins_refuse_no_table(ctx):
    with pytest.raises(ValueError, match="no libzmq functions"):
        RouterIO(None, ctx.socket(zmq.ROUTER), *_no_sessions())
    with pytest.raises(ValueError, match="no libzmq functions"):
        Publisher(None, ctx.socket(zmq.PUB))
