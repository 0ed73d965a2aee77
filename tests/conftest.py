"""Shared fixtures: the engine implementations under test and a small three-instrument market.

Every engine test takes ``impl`` (the engine class) or ``make_engine`` (a factory) and so runs
once against the pure-Python reference model and once against the Cython engine.
"""
import pytest
import zmq

from helpers import MAX_ACCOUNTS, market
from matching import Engine, ReferenceEngine, StpMode


@pytest.fixture(params=["reference", "cython"])
def impl(request):
    """The engine class under test."""
    return ReferenceEngine if request.param == "reference" else Engine


@pytest.fixture
def make_engine(impl):
    """Build an ``impl`` engine over the test market (see ``helpers.market``).

    Keyword arguments go to the engine constructor; ``max_accounts`` defaults to
    ``helpers.MAX_ACCOUNTS`` so that account ``MAX_ACCOUNTS`` is the first unknown one.
    """
    def build(**kwargs):
        kwargs.setdefault("max_accounts", MAX_ACCOUNTS)
        return impl(market(), **kwargs)
    return build


@pytest.fixture
def engine(make_engine):
    """An engine over the test market whose accounts default to self-trade prevention OFF."""
    return make_engine(default_stp=StpMode.OFF)


@pytest.fixture
def zctx():
    """A ZeroMQ context of the test's own, destroyed (linger 0) at teardown."""
    ctx = zmq.Context()
    yield ctx
    ctx.destroy(linger=0)
