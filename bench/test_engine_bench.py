"""pytest-benchmark benchmarks: the compiled engine against the reference model.

Not collected by the default ``pytest`` run (pyproject's ``testpaths`` is ``tests``). Run::

    pytest bench/ --benchmark-only --benchmark-disable-gc
    pytest bench/ --benchmark-only --benchmark-disable-gc --benchmark-json=engine-bench.json

Parametrised over implementation (``engine``: ``matching.Engine``, skipped when it is not
built; ``reference``: ``matching.ReferenceEngine``), workload, risk (``risk_off``: the
workload; ``risk_on``: its ``<name>_risk`` variant, funded accounts and fees) and path
(``process()`` in batches of 1,024, or one per-call API call per command). Benchmarks of
one workload and path share a group, risk on and off, so pytest-benchmark's table shows
the engine's speed-up over the reference model and the cost of risk from this one run.
``test_fixed_price_takes`` times the fixed-price takes through ``process()`` (takes have
no per-call method); ``test_auction_clearing`` times the ``AUCTION_CLOSE`` of a 10,000-bid
auction, each round from a fresh engine holding the bids; ``test_call_uncrossing`` the move
to TRADING that uncrosses a 100,000-order call auction.

Each workload is generated once per session with ``bench.engine_bench.SIZES["quick"]``
(seeded, untimed, shadowed by the fastest engine available); a risk-on variant takes its
risk-off workload's sizes, funding the full run's number of accounts, so that one group
compares like with like. Both implementations process the same commands: the whole
stream, or its first ``reference_commands`` where that size is set (the reference model
is slow). Every round starts from a fresh engine in
the workload's starting state, built in pedantic's untimed setup (the reference model
restores a large book from a snapshot of the engine's).
"""
import pytest

from bench import engine_bench
from bench.workloads import (
    AUCTION_CLEARING, BASE_WORKLOADS, CALL_UNCROSSING, FIXED_PRICE_TAKES, RISK_SUFFIX, generate, risk_name,
)
from matching import ReferenceEngine

ROUNDS = {"engine": 5, "reference": 2}


def _compiled():
    try:
        return engine_bench.engine_class("cython")
    except engine_bench.EngineUnavailable:
        return None


class _Prepared:
    """One generated workload, the slice both implementations time, and their starting states."""

    def __init__(self, name: str) -> None:
        if name.endswith(RISK_SUFFIX):
            args = dict(engine_bench.SIZES["quick"][name[:-len(RISK_SUFFIX)]],
                        n_accounts=engine_bench.SIZES["full"][name]["n_accounts"])
        else:
            args = dict(engine_bench.SIZES["quick"][name])
        limit = args.pop("reference_commands", None)
        shadow = _compiled() or ReferenceEngine
        self.workload = generate(name, shadow=shadow, **args)
        self.commands = self.workload.timed[:limit] if limit else self.workload.timed
        self.batches = engine_bench.split_batches(self.commands, engine_bench.BATCH_SIZE)
        no_calls = name in (FIXED_PRICE_TAKES, AUCTION_CLEARING, CALL_UNCROSSING)
        self.plan = None if no_calls else engine_bench.call_plan(self.commands)
        self.snapshot = None
        if len(self.workload.setup) > engine_bench.RESTORE_ABOVE:
            self.snapshot = engine_bench.fresh_engine(shadow, self.workload).snapshot()

    def fresh(self, cls):
        if self.snapshot is not None and issubclass(cls, ReferenceEngine):
            return engine_bench.fresh_engine(cls, self.workload, self.snapshot)
        return engine_bench.fresh_engine(cls, self.workload)


@pytest.fixture(scope="session")
def prepared():
    cache = {}

    def get(name: str) -> _Prepared:
        if name not in cache:
            cache[name] = _Prepared(name)
        return cache[name]
    return get


@pytest.fixture(params=["engine", "reference"])
def impl(request):
    if request.param == "reference":
        return "reference", ReferenceEngine
    cls = _compiled()
    if cls is None:
        pytest.skip("matching.Engine is not built")
    return "engine", cls


@pytest.fixture(params=[False, True], ids=["risk_off", "risk_on"])
def risk(request):
    return request.param


def _record(benchmark, n: int) -> None:
    benchmark.extra_info["commands"] = n
    stats = getattr(benchmark, "stats", None)
    if stats is not None:
        benchmark.extra_info["commands_per_s"] = n / stats.stats.median


@pytest.mark.parametrize("name", list(BASE_WORKLOADS))
def test_process_batches(benchmark, prepared, impl, name, risk):
    label, cls = impl
    p = prepared(risk_name(name) if risk else name)
    benchmark.group = f"{name}: process() in batches of {engine_bench.BATCH_SIZE}"

    def setup():
        return (p.fresh(cls), p.batches), {}

    benchmark.pedantic(engine_bench.process_batches, setup=setup, rounds=ROUNDS[label], iterations=1)
    _record(benchmark, len(p.commands))


@pytest.mark.parametrize("name", list(BASE_WORKLOADS))
def test_per_call(benchmark, prepared, impl, name, risk):
    label, cls = impl
    p = prepared(risk_name(name) if risk else name)
    benchmark.group = f"{name}: per-call API"

    def setup():
        return (engine_bench.bind_calls(p.fresh(cls), p.plan),), {}

    benchmark.pedantic(engine_bench.run_calls, setup=setup, rounds=ROUNDS[label], iterations=1)
    _record(benchmark, len(p.commands))


def test_fixed_price_takes(benchmark, prepared, impl):
    label, cls = impl
    p = prepared(FIXED_PRICE_TAKES)
    benchmark.group = f"{FIXED_PRICE_TAKES}: process() in batches of {engine_bench.BATCH_SIZE}"

    def setup():
        return (p.fresh(cls), p.batches), {}

    benchmark.pedantic(engine_bench.process_batches, setup=setup, rounds=ROUNDS[label], iterations=1)
    _record(benchmark, len(p.commands))


def _time_closing(benchmark, prepared, impl, name: str, what: str, counted: str, ms_key: str) -> None:
    """Time the one command that closes ``name``'s setup (``counted``: what its setup enters)."""
    label, cls = impl
    p = prepared(name)
    n = len(p.workload.setup) - 1
    benchmark.group = f"{name}: {what} of {n:,} {counted}"

    def setup():
        return (p.fresh(cls), p.batches), {}

    benchmark.pedantic(engine_bench.process_batches, setup=setup, rounds=ROUNDS[label], iterations=1)
    benchmark.extra_info[counted] = n
    stats = getattr(benchmark, "stats", None)
    if stats is not None:
        benchmark.extra_info[ms_key] = stats.stats.median * 1e3


def test_auction_clearing(benchmark, prepared, impl):
    _time_closing(benchmark, prepared, impl, AUCTION_CLEARING, "AUCTION_CLOSE", "bids", "clearing_ms")


def test_call_uncrossing(benchmark, prepared, impl):
    _time_closing(benchmark, prepared, impl, CALL_UNCROSSING, "the move to TRADING that uncrosses a call",
                  "orders", "uncrossing_ms")
