"""Engine throughput and latency on the seeded workloads, against a plain sortedcontainers
book (what a user would pick instead) and the reference model (a slow specification).

For each workload (see :mod:`bench.workloads`) the runner generates the commands first,
then makes these runs, each from a fresh engine holding the same starting book (the setup
commands processed untimed; the pure-Python reference model restores a large book from a
snapshot of that state instead):

1. one untimed pass of each way below (a process's first large ``process()`` pays the
   allocator's fresh pages);
2. :data:`ROUNDS` rounds, each making every way once, so that a round's ratios compare
   runs made seconds apart:

   - the whole timed stream through ``process()`` in batches of :data:`BATCH_SIZE`;
   - the same stream through the per-call API with typed results (``place``/``withdraw``/
     ``amend``), one call per command, each result's order id and fills read as a
     broker's code would, timed as a whole;
   - risk off, the plain book (:mod:`bench.plain_book`) on the same commands from the
     same book, its own way (its command loop, results unread) and the per-call way
     (results read); its trades are checked against the engine's;
   - ``process()`` in slices of every other size of :data:`BATCH_CURVE` (1 to the whole
     stream in one call): ``batch_curve`` and ``whole_vs_slices``;

3. the per-call run once more with ``time.perf_counter_ns()`` read around every call, for
   the latency percentiles (and an HdrHistogram of them, ``latency_histogram``);
4. the reference model through ``process()`` in the same batches, once, on the whole
   stream or on its first ``reference_commands`` commands (see :data:`SIZES`).

Every workload has a risk-on variant, ``<name>_risk`` (funded accounts, fees; see
:mod:`bench.workloads`), run right after it; its result also carries
``batch_vs_risk_off``, its ``process()`` throughput over the risk-off workload's in the
same run. A deep book's result (:data:`DEEP_OF`) carries ``batch_vs_shallow``.

``fixed_price_takes`` is measured by :func:`bench_takes`: 100,000 ``TAKE_FIXED``
commands of resting fixed-price listings, through ``process()`` (there is no per-call
method for takes) and through the reference model. Its result is a separate entry with
:data:`TAKES_RESULT_KEYS` (``batch_ns_per_take`` and ``reference_ns_per_take`` among them).

``auction_clearing`` is measured by :func:`bench_auction`: the single ``AUCTION_CLOSE`` that
clears a 10,000-bid sealed-bid auction (about half the bids win), at least
:data:`AUCTION_ROUNDS` times, each from a fresh engine into which the bids were just
processed in batches (that run is timed too, for bids/s), then once through the reference
model. Its result is a separate entry with :data:`AUCTION_RESULT_KEYS` (``clearing_ms``,
the median round, and ``clearing_ms_max``). ``call_uncrossing`` is measured the same way:
the single move to TRADING that uncrosses a 100,000-order call book (``commands``: the
orders; ``bids_per_s``: their entry into the call).

Throughputs use the median round, with every figure's ``spread`` (min, median, max) over
the rounds. The garbage collector is off while a run is timed. Results are plain dicts,
one per workload, ready for ``json.dump``: :data:`RESULT_KEYS` are always there, and the
rest describes the run (reject fraction, book sizes, event bytes per command, every
round's seconds, the machine, ...). :func:`check_targets` holds each result to its
workload's :data:`TARGETS`; a result with targets carries them as ``targets``.

>>> from matching import ReferenceEngine
>>> res = run_engine_bench(engine=ReferenceEngine, workloads=["exchange_core_mix"], rounds=1,
...                        sizes={"exchange_core_mix": {"n_commands": 300, "n_resting": 50}})
>>> sorted(set(RESULT_KEYS) - set(res[0]))
[]
>>> res[0]["commands"], res[0]["reject_fraction"], res[0]["consistent"]
(300, 0.0, True)
"""
from __future__ import annotations

import gc
import time
from typing import Callable

import numpy as np

from matching.codes import CommandType, TradeType
from matching.dtypes import EVENT_DTYPE
from matching.reference import ReferenceEngine

from .histograms import histogram
from .plain_book import PlainBook, trades_agree
from .provenance import machine_info, spread
from .workloads import (
    AUCTION_CLEARING, CALL_UNCROSSING, FIXED_PRICE_TAKES, RISK_SUFFIX, WORKLOADS, Workload, auction_summary, generate,
    uncross_summary,
)

__all__ = [
    "BATCH_SIZE", "BATCH_CURVE", "SIZES", "RESULT_KEYS", "TAKES_RESULT_KEYS", "AUCTION_RESULT_KEYS", "TARGETS",
    "AUCTION_TARGETS", "AUCTION_ROUNDS", "ENGINES",
    "EngineUnavailable", "engine_class", "sizes_for", "fresh_engine", "split_batches", "process_batches",
    "call_plan", "bind_calls", "run_calls", "run_calls_timed", "run_plain_calls", "latency_summary", "ratio_spread",
    "cross_ratio_spread",
    "bench_workload", "bench_takes", "rate_spread", "bench_auction", "run_engine_bench", "check_targets", "machine_info",
    "MEASUREMENTS", "FIXED_PRICE_TAKES", "AUCTION_CLEARING", "CALL_UNCROSSING",
]

BATCH_SIZE = 1024
ROUNDS = 5                      # rounds of every way per workload; the median counts
AUCTION_ROUNDS = 11             # auction_clearing makes at least this many: a clearing takes milliseconds

# Commands per workload. ``reference_commands`` bounds the reference model's slice;
# ``n_accounts`` is how many accounts a risk-on setup creates and funds. For
# fixed_price_takes, ``n_commands`` takes of ``n_resting`` listings; for auction_clearing,
# the clearing of ``n_bids`` bids (the quick run keeps all of them: clearing is cheap).
SIZES = {
    "full": {
        "broker_mix": {"n_commands": 200_000, "n_resting": 1_900, "reference_commands": 50_000},
        "broker_mix_risk": {"n_commands": 200_000, "n_resting": 1_900, "n_accounts": 10_000,
                            "reference_commands": 50_000},
        "broker_deep": {"n_commands": 200_000, "n_resting": 100_000, "reference_commands": 20_000},
        "broker_deep_risk": {"n_commands": 200_000, "n_resting": 100_000, "n_accounts": 10_000,
                             "reference_commands": 20_000},
        "exchange_core_mix": {"n_commands": 1_000_000, "n_resting": 1_000},
        "exchange_core_mix_risk": {"n_commands": 1_000_000, "n_resting": 1_000, "n_accounts": 10_000},
        "carbon_mix": {"n_commands": 1_000_000, "n_resting": 20_000, "reference_commands": 200_000},
        "carbon_mix_risk": {"n_commands": 1_000_000, "n_resting": 20_000, "n_accounts": 10_000,
                            "reference_commands": 200_000},
        "deep_book": {"n_commands": 1_000_000, "n_resting": 1_000_000, "reference_commands": 100_000},
        "deep_book_risk": {"n_commands": 1_000_000, "n_resting": 1_000_000, "n_accounts": 10_000,
                           "reference_commands": 100_000},
        "fixed_price_takes": {"n_commands": 100_000, "n_resting": 100_000},
        "auction_clearing": {"n_bids": 10_000},
        "call_uncrossing": {"n_orders": 100_000},
    },
    # Quick risk-on runs of the 20-instrument workloads fund 2,000 accounts, and the deep
    # book is a tenth of the million orders (restoring the reference model from a
    # million-order snapshot alone takes ~10 s): it is then not compared with deep_book.
    "quick": {
        "broker_mix": {"n_commands": 100_000, "n_resting": 1_900, "reference_commands": 20_000},
        "broker_mix_risk": {"n_commands": 100_000, "n_resting": 1_900, "n_accounts": 2_000,
                            "reference_commands": 20_000},
        "broker_deep": {"n_commands": 100_000, "n_resting": 100_000, "reference_commands": 10_000},
        "broker_deep_risk": {"n_commands": 100_000, "n_resting": 100_000, "n_accounts": 2_000,
                             "reference_commands": 10_000},
        "exchange_core_mix": {"n_commands": 100_000, "n_resting": 1_000},
        "exchange_core_mix_risk": {"n_commands": 100_000, "n_resting": 1_000, "n_accounts": 10_000,
                                   "reference_commands": 20_000},
        "carbon_mix": {"n_commands": 100_000, "n_resting": 20_000, "reference_commands": 20_000},
        "carbon_mix_risk": {"n_commands": 100_000, "n_resting": 20_000, "n_accounts": 2_000,
                            "reference_commands": 20_000},
        "deep_book": {"n_commands": 100_000, "n_resting": 1_000_000, "reference_commands": 10_000},
        "deep_book_risk": {"n_commands": 100_000, "n_resting": 100_000, "n_accounts": 2_000,
                           "reference_commands": 10_000},
        "fixed_price_takes": {"n_commands": 100_000, "n_resting": 100_000, "reference_commands": 10_000},
        "auction_clearing": {"n_bids": 10_000},
        "call_uncrossing": {"n_orders": 100_000},
    },
}
# Smallest sizes ``scale`` may shrink to: the carbon books need an order per level and side.
_MINIMUM = {"n_commands": 100, "n_resting": 400, "reference_commands": 100, "n_accounts": 50, "n_bids": 100,
            "n_orders": 200}

# What run_engine_bench can run: the workloads, then the fixed-price takes and the auction clearing.
MEASUREMENTS = (*WORKLOADS, FIXED_PRICE_TAKES, AUCTION_CLEARING, CALL_UNCROSSING)

# Past this many setup commands the reference model is restored from a snapshot of the
# engine under test taken after its setup (the same state), not built command by command.
RESTORE_ABOVE = 50_000

RESULT_KEYS = (
    "workload", "commands", "batch_commands_per_s", "call_commands_per_s", "latency_ns",
    "reference_commands_per_s", "bytes_per_resting_order",
)
TAKES_RESULT_KEYS = (
    "workload", "commands", "batch_commands_per_s", "batch_ns_per_take", "reference_commands_per_s",
    "reference_ns_per_take",
)
# auction_clearing: ``commands`` is the number of bids; ``clearing_ms`` the median round.
AUCTION_RESULT_KEYS = (
    "workload", "commands", "clearing_ms", "clearing_ms_max", "bids_per_s", "reference_clearing_ms",
    "reference_bids_per_s", "outcome", "trades", "cancelled",
)

# The targets, by the workload they are checked on: label -> (result key, goal, kind, unit);
# kind "min": the value must reach the goal, "max": stay at or under it. Ratios compare runs
# of the same benchmark run. broker_mix and broker_deep carry the per-call, batch and memory
# targets against the plain sortedcontainers book; exchange_core_mix those against the
# reference model; the risk-on target compares exchange_core_mix_risk with exchange_core_mix.
TARGETS = {
    "broker_mix": {
        "per-call, results read, vs plain book": ("call_vs_plain", 3.0, "min", "×"),
        "process() vs plain sortedcontainers book": ("batch_vs_plain", 20.0, "min", "×"),
        "one process() of the whole workload vs 1,024-slices": ("whole_vs_slices", 0.90, "min", "×"),
    },
    "broker_deep": {
        "per-call, results read, vs plain book (100k-order book)": ("call_vs_plain", 3.0, "min", "×"),
        "process() vs plain book (100k-order book)": ("batch_vs_plain", 8.0, "min", "×"),
        "deep book process() vs broker_mix's": ("batch_vs_shallow", 0.50, "min", "×"),
        "bytes per resting order (100k-order book)": ("bytes_per_resting_order", 64, "max", "B"),
    },
    "exchange_core_mix": {
        "process() vs reference": ("batch_vs_reference", 15.0, "min", "×"),
        "per-call vs reference": ("call_vs_reference", 2.5, "min", "×"),
        "per-call p99 latency": ("latency_p99_ns", 5_000, "max", "ns"),
        "bytes per resting order": ("bytes_per_resting_order", 96, "max", "B"),
    },
    "exchange_core_mix_risk": {
        "risk-on ÷ risk-off process()": ("batch_vs_risk_off", 0.70, "min", "×"),
    },
}
# auction_clearing's, checked on the slowest round's clearing (not the median: the issue
# asks that it *stays* under 10 ms). A run with fewer bids than the target names
# (``--scale``) reports the value but does not judge it (``met`` None).
AUCTION_TARGETS = {
    "clearing a 10,000-bid auction < 10 ms": ("clearing_ms_max", 10.0, "max", "ms"),
}
TARGETS[AUCTION_CLEARING] = AUCTION_TARGETS
TARGETS[CALL_UNCROSSING] = {
    "uncrossing a 100,000-order call < 20 ms": ("clearing_ms_max", 20.0, "max", "ms"),
}
AUCTION_TARGET_BIDS = 10_000
# The size each one-command measurement's target names: smaller runs are reported, not judged.
TARGET_SIZE = {AUCTION_CLEARING: AUCTION_TARGET_BIDS, CALL_UNCROSSING: 100_000}
# The one-command measurements: (the setup's first command, the timed command, its summary).
CLOSINGS = {
    AUCTION_CLEARING: (CommandType.AUCTION_OPEN, CommandType.AUCTION_CLOSE, auction_summary),
    CALL_UNCROSSING: (CommandType.SET_INSTRUMENT_STATUS, CommandType.SET_INSTRUMENT_STATUS, uncross_summary),
}
# process() is also timed in slices of these sizes (None: the whole workload in one call)
BATCH_CURVE = (1, 64, BATCH_SIZE, 65_536, None)
DEEP_OF = {"broker_deep": "broker_mix", "broker_deep_risk": "broker_mix_risk"}

ENGINES = ("cython", "reference")


class EngineUnavailable(RuntimeError):
    """The requested engine implementation cannot be imported."""


def engine_class(name_or_class):
    """The engine class for ``"cython"`` (``matching.Engine``) or ``"reference"``.

    A class is returned unchanged, so callers may pass their own implementation.

    >>> engine_class("reference").__name__
    'ReferenceEngine'
    """
    if isinstance(name_or_class, type):
        return name_or_class
    if name_or_class == "reference":
        return ReferenceEngine
    if name_or_class == "cython":
        try:
            from matching import Engine
        except ImportError as exc:
            raise EngineUnavailable(
                f"the Cython engine (matching.Engine) cannot be imported: {exc}. Build it with "
                "`pip install -e .` (or `python setup.py build_ext --inplace`), or benchmark the "
                "reference model with --engine reference") from None
        return Engine
    raise ValueError(f"unknown engine {name_or_class!r}; choose from {', '.join(ENGINES)}")


def _name(cls) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


def sizes_for(quick: bool = False, scale: float = 1.0) -> dict:
    """The per-workload size arguments for a full or ``quick`` run, times ``scale``.

    >>> sizes_for(quick=True, scale=0.01)["exchange_core_mix"]
    {'n_commands': 1000, 'n_resting': 400}
    >>> sizes_for(quick=True, scale=0.01)["exchange_core_mix_risk"]["n_accounts"]
    100
    """
    if not scale > 0:
        raise ValueError("scale must be positive")
    base = SIZES["quick" if quick else "full"]
    return {name: {key: max(int(value * scale), _MINIMUM[key]) if scale != 1.0 else value
                   for key, value in args.items()}
            for name, args in base.items()}


# --------------------------------------------------------------------------- building state
def fresh_engine(engine_cls, workload: Workload, snapshot: bytes | None = None):
    """A new ``engine_cls`` engine in the workload's starting state, built untimed.

    With ``snapshot`` (the ``snapshot()`` of an engine that processed ``workload.setup``)
    the engine is restored from it; otherwise the setup commands are processed.
    """
    if snapshot is not None:
        return engine_cls.restore(snapshot)
    engine = workload.make_engine(engine_cls)
    setup = workload.setup
    for start in range(0, len(setup), 65_536):
        engine.process(setup[start:start + 65_536])
    return engine


def _builder(engine_cls, workload: Workload):
    """``(engine, build)``: a fresh ``engine_cls`` engine in the starting state, and
    ``build(cls)``, which makes another one of ``cls``.

    The pure-Python model restores a large starting book from a snapshot of the first
    engine (minutes saved on a million orders); compiled engines always process their
    setup, since a restored book is laid out in canonical order and could flatter their
    memory access.
    """
    first = fresh_engine(engine_cls, workload)
    snapshot = first.snapshot() if len(workload.setup) > RESTORE_ABOVE else None

    def build(cls):
        if snapshot is not None and issubclass(cls, ReferenceEngine):
            return fresh_engine(cls, workload, snapshot)
        return fresh_engine(cls, workload)
    return first, build


def split_batches(commands: np.ndarray, batch_size: int = BATCH_SIZE) -> list:
    """``commands`` as a list of consecutive views of at most ``batch_size`` rows."""
    return [commands[i:i + batch_size] for i in range(0, len(commands), batch_size)]


def process_batches(engine, batches: list) -> None:
    """Feed every batch to ``engine.process()``, discarding the events. The timed loop."""
    process = engine.process
    for batch in batches:
        process(batch)


_CALL_FIELDS = {
    CommandType.NEW_ORDER: ("place", ("instrument", "account", "side", "qty", "price", "order_type",
                                      "tif", "stp", "client_order_id", "ts", "seq")),
    CommandType.CANCEL: ("withdraw", ("order_id", "account", "ts", "seq")),
    CommandType.REPLACE: ("amend", ("order_id", "account", "price", "qty", "ts", "seq")),
}


def call_plan(commands: np.ndarray) -> list:
    """The per-call equivalent of ``commands``: a list of ``(method name, args)``.

    Arguments are positional, in the order of the engine API's signatures; the methods are
    those with typed results (``place``, ``withdraw``, ``amend``).

    >>> from bench.workloads import exchange_core_mix
    >>> call_plan(exchange_core_mix(n_commands=300, n_resting=50).timed)[0][0] in ("place", "withdraw", "amend")
    True
    """
    at = {name: k for k, name in enumerate(commands.dtype.names)}
    layouts = {int(t): (method, tuple(at[f] for f in fields)) for t, (method, fields) in _CALL_FIELDS.items()}
    type_at = at["type"]
    plan = []
    for row in commands.tolist():
        try:
            method, idx = layouts[row[type_at]]
        except KeyError:
            raise ValueError(f"command type {row[type_at]} has no per-call method") from None
        plan.append((method, tuple(row[k] for k in idx)))
    return plan


def bind_calls(engine, plan: list) -> list:
    """``plan`` with each method name bound to ``engine`` (or a plain book): ``(callable, args)``."""
    methods = {name: getattr(engine, name) for name in {m for m, _ in _CALL_FIELDS.values()}}
    return [(methods[name], args) for name, args in plan]


def run_calls(bound: list) -> int:
    """Make every call of ``bound`` and read each result as a broker's code would: the order
    id, then every fill's price and quantity. The timed loop of the per-call run; returns
    the quantity filled, so the reads cannot be skipped."""
    filled = 0
    for fn, args in bound:
        r = fn(*args)
        if r.order_id:
            for f in r.fills:
                filled += f.qty if f.price else 0
    return filled


def run_plain_calls(bound: list) -> int:
    """:func:`run_calls` for the plain book, whose calls return ``(id, fills)`` with each fill
    a ``(price, qty, contra order id)`` tuple."""
    filled = 0
    for fn, args in bound:
        oid, fills = fn(*args)
        if oid:
            for price, qty, _contra in fills:
                filled += qty if price else 0
    return filled


def run_calls_timed(bound: list) -> np.ndarray:
    """:func:`run_calls` reading ``perf_counter_ns`` around each call and its reads; ns per call."""
    clock = time.perf_counter_ns
    out = [0] * len(bound)
    for i, (fn, args) in enumerate(bound):
        t0 = clock()
        r = fn(*args)
        if r.order_id:
            for f in r.fills:
                _ = f.price, f.qty
        out[i] = clock() - t0
    return np.array(out, dtype=np.int64)


def ratio_spread(seconds_a: list, seconds_b: list) -> dict:
    """A's throughput over B's on the same commands, round by round (B's seconds over A's
    in round r): its ``min``, ``median`` and ``max``.

    >>> ratio_spread([1.0, 2.0, 1.0], [10.0, 30.0, 12.0])
    {'min': 10.0, 'median': 12.0, 'max': 15.0}
    """
    return spread([b / a for a, b in zip(seconds_a, seconds_b) if a > 0])


def cross_ratio_spread(seconds_a: list, seconds_b: list) -> dict:
    """A's throughput over B's when their rounds do not pair (A and B ran at different
    times): the spread over every round of A against every round of B.

    >>> cross_ratio_spread([1.0, 2.0], [10.0, 30.0])
    {'min': 5.0, 'median': 12.5, 'max': 30.0}
    """
    return spread([b / a for a in seconds_a for b in seconds_b if a > 0])


def _ratio_spreads(seconds: dict) -> dict:
    pairs = {"batch_vs_plain": ("batch", "plain"), "call_vs_plain": ("call", "plain_call"),
             "whole_vs_slices": ("batch_whole", "batch")}
    return {key: ratio_spread(seconds[a], seconds[b]) for key, (a, b) in pairs.items()
            if seconds.get(a) and seconds.get(b)}


def rate_spread(n: int, seconds: list) -> dict:
    """Commands/s over the rounds: ``min``, ``median`` (the figure reported) and ``max``."""
    return spread([n / s for s in seconds if s > 0])


def latency_summary(ns: np.ndarray) -> dict:
    """p50, p99 and p99.9 of per-command latencies in ns, by nearest rank (observed values).

    >>> latency_summary(np.arange(1, 1001))
    {'p50': 500, 'p99': 990, 'p999': 999}
    """
    n = len(ns)
    if n == 0:
        return {"p50": None, "p99": None, "p999": None}
    ranks = {"p50": (50, 100), "p99": (99, 100), "p999": (999, 1000)}
    index = {key: -(-n * num // den) - 1 for key, (num, den) in ranks.items()}
    values = np.partition(np.asarray(ns), sorted(set(index.values())))
    return {key: int(values[k]) for key, k in index.items()}


def _timed(fn: Callable, *args) -> tuple[float, object]:
    """Run ``fn(*args)`` with the garbage collector off; (seconds, result)."""
    gc.collect()
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        t0 = time.perf_counter()
        result = fn(*args)
        return time.perf_counter() - t0, result
    finally:
        if was_enabled:
            gc.enable()


# --------------------------------------------------------------------------- one workload
def _time_reference(build, engine_cls, reference_cls, timed, reference_commands, batch_size,
                    seconds: dict, resting: list) -> int:
    """Time the reference model on the first ``reference_commands`` of ``timed`` (all when
    None) into ``seconds["reference"]``; return how many commands it ran."""
    n = len(timed)
    if reference_cls is engine_cls:
        seconds["reference"] = seconds["batch"]
        return n
    m = n if reference_commands is None else min(n, reference_commands)
    reference = build(reference_cls)
    elapsed, _ = _timed(process_batches, reference, split_batches(timed[:m], batch_size))
    seconds["reference"] = [elapsed]
    if m == n:
        resting.append(reference.resting_orders)
    return m


def _plain_book_factory(workload: Workload):
    """``fresh()``: a plain sortedcontainers book (:mod:`bench.plain_book`) holding the
    workload's starting book."""
    def fresh():
        book = PlainBook(len(workload.instruments))
        book.run(workload.setup)
        book.trades.clear()
        return book
    return fresh


def _curve_key(size) -> str:
    return "batch" if size == BATCH_SIZE else f"batch_{size or 'whole'}"


def bench_workload(workload: Workload, engine_cls, *, reference_cls=ReferenceEngine,
                   reference_commands: int | None = None, batch_size: int = BATCH_SIZE,
                   rounds: int = ROUNDS, progress: Callable[[str], None] | None = None) -> dict:
    """Time ``engine_cls`` and the reference model on ``workload``; one result dict.

    Parameters
    ----------
    workload : Workload
        Generated commands (generation is not timed).
    engine_cls : type
        The implementation under test.
    reference_cls : type
        The yardstick, normally :class:`matching.ReferenceEngine`. When it is
        ``engine_cls`` itself, the batch run is reused as the reference run.
    reference_commands : int, optional
        Time the reference model on only the first this many commands.
    batch_size : int
        Rows per ``process()`` call.
    rounds : int
        Rounds of every way (batch, per-call, the plain book, the batch-size curve), each
        run from a fresh starting state; the median round counts. Latency and reference:
        once. One round, no warm-up and no curve when ``engine_cls`` is ``reference_cls``.
    progress : callable, optional
        Called with the name of each phase as it starts.

    Returns
    -------
    dict
        The :data:`RESULT_KEYS` and more; see the module docstring.
    """
    say = progress or (lambda phase: None)
    timed = workload.timed
    n = len(timed)
    # The reference model timing itself: its runs are long and steady, one round does.
    rounds = 1 if reference_cls is engine_cls else max(1, int(rounds))
    seconds: dict[str, list] = {"batch": [], "call": []}
    resting = []                                # resting orders at the end of every run

    first, build = _builder(engine_cls, workload)
    batches = split_batches(timed, batch_size)
    plan = call_plan(timed)
    compiled = engine_cls is not reference_cls
    plain_fresh = _plain_book_factory(workload) if not workload.risk else None
    # Slices of every other size of the curve (1 to the whole stream in one call).
    curve = {size: split_batches(timed, size or max(n, 1)) for size in BATCH_CURVE
             if size != batch_size} if compiled else {}
    for size in curve:
        seconds[_curve_key(size)] = []
    if plain_fresh is not None:
        seconds["plain"], seconds["plain_call"] = [], []

    if compiled:
        # One untimed pass of each way first: the first large process() of a process pays
        # the allocator's fresh pages (the whole stream in one call ran 3-6x slower in its
        # first round than in the next ones), which is start-up, not throughput.
        say("warm-up")
        for ways in (batches, *curve.values()):
            process_batches(build(engine_cls), ways)
        run_calls(bind_calls(build(engine_cls), plan))

    memory = None
    agrees = None
    # Round by round, every way once: each round's ratios compare runs made seconds apart,
    # so that the machine's drift over the minutes of a run lands in the spread of the
    # rates, not in the ratios the targets judge.
    for r in range(rounds):
        say(f"round {r + 1} of {rounds}")
        engine = first if r == 0 else build(engine_cls)
        elapsed, _ = _timed(process_batches, engine, batches)
        seconds["batch"].append(elapsed)
        resting.append(engine.resting_orders)
        if r == 0 and hasattr(engine, "memory_bytes"):
            memory = engine.memory_bytes()
        first = engine = None

        engine = build(engine_cls)
        bound = bind_calls(engine, plan)
        elapsed, _ = _timed(run_calls, bound)
        seconds["call"].append(elapsed)
        resting.append(engine.resting_orders)
        engine = bound = None

        if plain_fresh is not None:
            book = plain_fresh()
            elapsed, _ = _timed(book.run, timed)
            seconds["plain"].append(elapsed)
            if r == 0:
                agrees = trades_agree(workload, book.trades, engine_cls)
            bound = bind_calls(plain_fresh(), plan)
            elapsed, _ = _timed(run_plain_calls, bound)
            seconds["plain_call"].append(elapsed)
            book = bound = None

        for size, ways in curve.items():
            engine = build(engine_cls)
            elapsed, _ = _timed(process_batches, engine, ways)
            seconds[_curve_key(size)].append(elapsed)
            engine = None

    say("latency")
    engine = build(engine_cls)
    bound = bind_calls(engine, plan)
    elapsed, latencies = _timed(run_calls_timed, bound)
    seconds["latency"] = [elapsed]
    resting.append(engine.resting_orders)
    engine = bound = plan = None
    curve = {str(size or "whole"): rate_spread(n, seconds[_curve_key(size)]) for size in BATCH_CURVE} \
        if compiled else None
    plain = {"agrees": agrees} if plain_fresh is not None else None

    say("reference")
    m = _time_reference(build, engine_cls, reference_cls, timed, reference_commands, batch_size,
                        seconds, resting)
    gc.collect()

    stats = workload.stats
    median = {k: float(np.median(v)) for k, v in seconds.items()}
    batch_rate = n / median["batch"]
    call_rate = n / median["call"]
    ref_rate = m / median["reference"]
    lat = latency_summary(latencies)
    end = stats.get("resting_end", resting[0])
    plain_rate = n / median["plain"] if plain is not None else None
    plain_call_rate = n / median["plain_call"] if plain is not None else None
    whole = curve["whole"]["median"] if curve else None
    return {
        "workload": workload.name,
        "commands": n,
        "batch_commands_per_s": batch_rate,
        "call_commands_per_s": call_rate,
        "plain_commands_per_s": plain_rate,
        "plain_call_commands_per_s": plain_call_rate,
        "batch_vs_plain": batch_rate / plain_rate if plain_rate else None,
        "call_vs_plain": call_rate / plain_call_rate if plain_call_rate else None,
        "plain_trades_agree": plain["agrees"] if plain is not None else None,
        "batch_curve": curve,
        "whole_vs_slices": whole / batch_rate if whole else None,
        "latency_ns": lat,
        "latency_histogram": histogram(latencies).encode().decode("ascii") if n else None,
        "reference_commands_per_s": ref_rate,
        "bytes_per_resting_order": memory / resting[0] if memory is not None and resting[0] else None,
        "events_per_command": stats["events"] / n if stats.get("events") and n else None,
        "event_bytes_per_command": stats["events"] * EVENT_DTYPE.itemsize / n if stats.get("events") and n else None,
        "reference_commands": m,
        "batch_vs_reference": batch_rate / ref_rate,
        "call_vs_reference": call_rate / ref_rate,
        "latency_p99_ns": lat["p99"],
        "latency_mean_ns": float(latencies.mean()) if n else None,
        "latency_max_ns": int(latencies.max()) if n else None,
        "reject_fraction": stats.get("reject_fraction"),
        "batch_size": batch_size,
        "rounds": rounds,
        "setup_commands": len(workload.setup),
        "resting_orders_start": stats.get("resting_start"),
        "resting_orders_end": resting[0],
        "memory_bytes": memory,
        **_risk_fields(workload),
        # Every run from the same state must end with the same book, the one the generator's
        # shadow engine saw: a cheap check that the runs really did the same work.
        "consistent": all(x == end for x in resting),
        "engine": _name(engine_cls),
        "reference": _name(reference_cls),
        "seed": workload.seed,
        "seconds": {k: [round(x, 4) for x in v] for k, v in seconds.items()},
        "spread": {k: rate_spread(n, seconds[k]) for k in ("batch", "call", "plain", "plain_call") if k in seconds},
        # the ratios the targets judge, round by round: both sides of a round ran minutes
        # apart at most, so a ratio's spread also holds what the machine's drift does to it
        "ratio_spread": _ratio_spreads(seconds),
        "workload_stats": stats,
    }


def _risk_fields(workload: Workload) -> dict:
    """How the workload's engines are built: risk, funded accounts, fees in bps by trade type."""
    fees = None
    if workload.fees:
        fees = {TradeType(int(t)).name: [int(b), int(s)] for t, (b, s) in sorted(workload.fees.items())}
    return {"risk": workload.risk, "accounts": workload.accounts, "fees_bps": fees}


# --------------------------------------------------------------------------- fixed-price takes
def bench_takes(workload: Workload, engine_cls, *, reference_cls=ReferenceEngine,
                reference_commands: int | None = None, batch_size: int = BATCH_SIZE,
                rounds: int = ROUNDS, progress: Callable[[str], None] | None = None) -> dict:
    """Time the fixed-price takes of ``workload`` (see :func:`bench.workloads.fixed_price_takes`).

    Like :func:`bench_workload` without the per-call and latency runs (the engine API
    has no per-call method for takes): ``process()`` in batches, ``rounds`` times from a
    fresh book of listings, then the reference model once on its first
    ``reference_commands`` takes.

    Returns
    -------
    dict
        The :data:`TAKES_RESULT_KEYS` and more: ``trades``, ``reject_fraction``, book sizes,
        the ratio to the reference model, every round's seconds.
    """
    say = progress or (lambda phase: None)
    timed = workload.timed
    n = len(timed)
    rounds = 1 if reference_cls is engine_cls else max(1, int(rounds))
    seconds: dict[str, list] = {"batch": []}
    resting = []

    say("process()")
    first, build = _builder(engine_cls, workload)
    batches = split_batches(timed, batch_size)
    for r in range(rounds):
        engine = first if r == 0 else build(engine_cls)
        elapsed, _ = _timed(process_batches, engine, batches)
        seconds["batch"].append(elapsed)
        resting.append(engine.resting_orders)
        first = engine = None

    say("reference")
    m = _time_reference(build, engine_cls, reference_cls, timed, reference_commands, batch_size,
                        seconds, resting)
    gc.collect()

    stats = workload.stats
    median = {k: float(np.median(v)) for k, v in seconds.items()}
    batch_rate = n / median["batch"]
    ref_rate = m / median["reference"]
    end = stats.get("resting_end", resting[0])
    return {
        "workload": workload.name,
        "commands": n,
        "batch_commands_per_s": batch_rate,
        "batch_ns_per_take": 1e9 / batch_rate,
        "reference_commands_per_s": ref_rate,
        "reference_ns_per_take": 1e9 / ref_rate,
        "reference_commands": m,
        "batch_vs_reference": batch_rate / ref_rate,
        "trades": stats.get("trades"),
        "reject_fraction": stats.get("reject_fraction"),
        "batch_size": batch_size,
        "rounds": rounds,
        "setup_commands": len(workload.setup),
        "resting_orders_start": stats.get("resting_start"),
        "resting_orders_end": resting[0],
        **_risk_fields(workload),
        "consistent": all(x == end for x in resting),
        "engine": _name(engine_cls),
        "reference": _name(reference_cls),
        "seed": workload.seed,
        "seconds": {k: [round(x, 4) for x in v] for k, v in seconds.items()},
        "workload_stats": stats,
    }


# --------------------------------------------------------------------------- auction clearing
def _auction_engine(engine_cls, workload: Workload, bid_batches: list):
    """A fresh ``engine_cls`` engine with the auction open (untimed) and the bids processed
    in ``bid_batches`` (timed); ``(engine, seconds for the bids)``."""
    engine = workload.make_engine(engine_cls)
    engine.process(workload.setup[:1])
    elapsed, _ = _timed(process_batches, engine, bid_batches)
    return engine, elapsed


def bench_auction(workload: Workload, engine_cls, *, reference_cls=ReferenceEngine,
                  reference_commands: int | None = None, batch_size: int = BATCH_SIZE,
                  rounds: int = AUCTION_ROUNDS, progress: Callable[[str], None] | None = None) -> dict:
    """Time the clearing of the auction of ``workload`` (see :func:`bench.workloads.auction_clearing`),
    or the uncrossing of its call (:func:`bench.workloads.call_uncrossing`).

    Every round builds a fresh engine, opens the auction or the call (untimed), processes the
    bids or orders in batches of ``batch_size`` (timed: ``bids_per_s``), then processes the
    ``AUCTION_CLOSE`` (or the move to TRADING) on its own (timed: the clearing, every trade,
    cancellation and the result, and the events array ``process()`` returns). ``rounds`` rounds; then the reference model once,
    the same way (its bids cost it time quadratic in their number: it adds up a bidder's
    earlier bids by scanning them all). One round when ``engine_cls`` is ``reference_cls``.

    Parameters
    ----------
    reference_commands : int, optional
        Must be None or at least the number of bids: the reference model clears the whole
        auction.

    Returns
    -------
    dict
        The :data:`AUCTION_RESULT_KEYS` and more: ``clearing_price``, ``volume``,
        ``bid_volume``, ``sold``, ``close_events``, ``clearing_ns_per_bid``, the ratios to the
        reference model, every round's seconds. ``consistent`` is True when every round and
        the reference model gave identical events for the close, each engine held every bid
        before it and none after.
    """
    say = progress or (lambda phase: None)
    setup, close = workload.setup, workload.timed
    opening, closing, summarise = CLOSINGS.get(workload.name, CLOSINGS[AUCTION_CLEARING])
    if not len(setup) or setup["type"][0] != opening or len(close) != 1 or close["type"][0] != closing:
        raise ValueError(f"bench_auction needs an auction_clearing or call_uncrossing workload: setup = "
                         f"{opening.name} then the bids, timed = the {closing.name}")
    n = len(setup) - 1
    if reference_commands is not None and reference_commands < n:
        raise ValueError("the reference model clears the whole auction: reference_commands cannot bound it")
    rounds = 1 if reference_cls is engine_cls else max(1, int(rounds))
    bid_batches = split_batches(setup[1:], batch_size)
    seconds: dict[str, list] = {"bids": [], "clearing": []}
    closes, resting = [], []                    # the close's events and (bids before, orders after)
    # The reference model publishes a call's indicative price after every order by adding up
    # the crossed levels order by order: it starts from the engine's call book instead.
    call_book: list = []

    def one_round(cls, bids_key: str, clearing_key: str) -> None:
        if cls is reference_cls and call_book:
            engine = reference_cls.restore(call_book[0])
        else:
            engine, elapsed = _auction_engine(cls, workload, bid_batches)
            seconds[bids_key].append(elapsed)
            if workload.name == CALL_UNCROSSING and not call_book:
                call_book.append(engine.snapshot())
        before = engine.resting_orders
        elapsed, events = _timed(engine.process, close)
        seconds[clearing_key].append(elapsed)
        closes.append(events)
        resting.append((before, engine.resting_orders))

    say("process()")
    for _ in range(rounds):
        one_round(engine_cls, "bids", "clearing")

    say("reference")
    if reference_cls is engine_cls:
        seconds["reference_bids"], seconds["reference_clearing"] = seconds["bids"], seconds["clearing"]
    else:
        seconds["reference_bids"], seconds["reference_clearing"] = [], []
        one_round(reference_cls, "reference_bids", "reference_clearing")
    gc.collect()

    stats = workload.stats
    median = {k: (float(np.median(v)) if v else None) for k, v in seconds.items()}
    clearing_ms = median["clearing"] * 1e3
    reference_ms = median["reference_clearing"] * 1e3
    bids_per_s = n / median["bids"] if median["bids"] else None
    reference_bids_per_s = n / median["reference_bids"] if median["reference_bids"] else None
    summary = {"outcome": None, "sold": None, "bid_volume": None, **summarise(closes[0])}
    start, end = stats.get("resting_start", n), stats.get("resting_end", 0)
    return {
        "workload": workload.name,
        "commands": n,
        "clearing_ms": clearing_ms,
        "clearing_ms_max": max(seconds["clearing"]) * 1e3,
        "clearing_ms_min": min(seconds["clearing"]) * 1e3,
        "clearing_ns_per_bid": clearing_ms * 1e6 / n,
        "bids_per_s": bids_per_s,
        "reference_clearing_ms": reference_ms,
        "reference_bids_per_s": reference_bids_per_s,
        "reference_commands": n,
        "clearing_vs_reference": reference_ms / clearing_ms,
        "bids_vs_reference": bids_per_s / reference_bids_per_s if bids_per_s and reference_bids_per_s else None,
        "outcome": summary["outcome"],
        "clearing_price": summary["clearing_price"],
        "volume": summary["volume"],
        "bid_volume": summary["bid_volume"],
        "sold": summary["sold"],
        "trades": summary["trades"],
        "cancelled": summary["cancelled"],
        "close_events": summary["events"],
        "reject_fraction": stats.get("reject_fraction"),
        "batch_size": batch_size,
        "rounds": rounds,
        "setup_commands": len(setup),
        "resting_orders_start": resting[0][0],
        "resting_orders_end": resting[0][1],
        **_risk_fields(workload),
        "consistent": all(np.array_equal(closes[0], e) for e in closes) and all(r == (start, end) for r in resting),
        "engine": _name(engine_cls),
        "reference": _name(reference_cls),
        "seed": workload.seed,
        "seconds": {k: [round(x, 6) for x in v] for k, v in seconds.items()},
        "workload_stats": stats,
    }


# --------------------------------------------------------------------------- the whole bench
def run_engine_bench(*, engine="cython", quick: bool = False, workloads=None, scale: float = 1.0,
                     sizes: dict | None = None, seed: int | None = None, rounds: int = ROUNDS,
                     reference_cls=ReferenceEngine,
                     progress: Callable[[str, str], None] | None = None) -> list:
    """Generate and time every workload; a list of result dicts, one per workload.

    Parameters
    ----------
    engine : str or type
        ``"cython"``, ``"reference"`` or an engine class (see :func:`engine_class`).
    quick : bool
        Use the quick sizes (well under a minute with the Cython engine on two cores).
    workloads : sequence of str, optional
        Names from :data:`MEASUREMENTS` (the workloads of :data:`bench.workloads.WORKLOADS`,
        ``"fixed_price_takes"`` and ``"auction_clearing"``); by default all of them, in that
        order, or with ``sizes`` those it sizes.
    scale : float
        Multiply every size by this (tests use a small value).
    sizes : dict, optional
        Explicit generator arguments per workload, overriding ``quick`` and ``scale``;
        ``reference_commands`` in them bounds the reference slice.
    seed : int, optional
        Overrides each generator's default seed.
    rounds : int
        Batch and per-call runs per workload (see :func:`bench_workload`); auction_clearing
        makes at least :data:`AUCTION_ROUNDS`.
    reference_cls : type
        The yardstick implementation.
    progress : callable, optional
        Called as ``progress(workload, phase)`` when a phase starts (``"generate"``,
        ``"warm-up"``, ``"round 1 of 5"``..., ``"latency"``, ``"reference"``;
        fixed_price_takes and the closings have ``"process()"`` instead of the warm-up, the
        rounds and the latency) and with phase ``"done"`` at the end of each workload.

    The exchange_core_mix result, if any, carries ``targets``: every check of
    :func:`check_targets` on this run. The auction_clearing result carries its own.
    """
    engine_cls = engine_class(engine)
    if workloads:
        names = list(workloads)
    else:
        names = [name for name in MEASUREMENTS if sizes is None or name in sizes]
    for name in names:
        if name not in MEASUREMENTS:
            raise ValueError(f"unknown workload {name!r}; choose from {', '.join(MEASUREMENTS)}")
    all_sizes = sizes if sizes is not None else sizes_for(quick, scale)
    machine = machine_info()
    results = []
    for name in names:
        say = (lambda phase, _n=name: progress(_n, phase)) if progress else None
        args = dict(all_sizes[name])
        reference_commands = args.pop("reference_commands", None)
        if seed is not None:
            args["seed"] = seed
        if say:
            say("generate")
        t0 = time.perf_counter()
        workload = generate(name, shadow=engine_cls, **args)
        generated = time.perf_counter() - t0
        bench, n_rounds = bench_workload, rounds
        if name == FIXED_PRICE_TAKES:
            bench = bench_takes
        elif name in CLOSINGS:
            bench, n_rounds = bench_auction, max(rounds, AUCTION_ROUNDS)
        result = bench(workload, engine_cls, reference_cls=reference_cls,
                       reference_commands=reference_commands, rounds=n_rounds, progress=say)
        result["seconds"]["generate"] = [round(generated, 4)]
        result["machine"] = machine
        results.append(result)
        del workload
        if say:
            say("done")
    _compare_risk(results)
    _compare_depth(results)
    for result in results:
        checks = check_targets([result])
        if checks:
            result["targets"] = {t.pop("label"): t for t in checks}
    return results


def _compare_depth(results: list) -> None:
    """Give each deep-book result (:data:`DEEP_OF`) ``batch_vs_shallow``: its process()
    throughput over that of its shallow workload in ``results`` (None when that was not run)."""
    by_name = {r["workload"]: r for r in results}
    for r in results:
        shallow = by_name.get(DEEP_OF.get(r["workload"], ""))
        if shallow is not None:
            r["batch_vs_shallow"] = r["batch_commands_per_s"] / shallow["batch_commands_per_s"]
            # The two workloads ran minutes apart, so their rounds do not pair: every deep
            # round against every shallow one.
            deep_s = [t / r["commands"] for t in r["seconds"]["batch"]]
            shallow_s = [t / shallow["commands"] for t in shallow["seconds"]["batch"]]
            r.setdefault("ratio_spread", {})["batch_vs_shallow"] = cross_ratio_spread(deep_s, shallow_s)
        elif r["workload"] in DEEP_OF:
            r["batch_vs_shallow"] = None


def _compare_risk(results: list) -> None:
    """Give each risk-on result ``batch_vs_risk_off``: its process() throughput over that
    of its risk-off workload in ``results``. None when that one was not run, or ran on
    another number of commands or resting orders (``risk_off_comparable`` is then False)."""
    by_name = {r["workload"]: r for r in results}
    for r in results:
        if not r["workload"].endswith(RISK_SUFFIX):
            continue
        off = by_name.get(r["workload"][:-len(RISK_SUFFIX)])
        same = off is not None and all(off[k] == r[k] for k in ("commands", "resting_orders_start"))
        r["risk_off_comparable"] = same
        r["risk_off_batch_commands_per_s"] = off["batch_commands_per_s"] if off else None
        r["batch_vs_risk_off"] = r["batch_commands_per_s"] / off["batch_commands_per_s"] if same else None


def check_targets(results: list) -> list:
    """Every result's :data:`TARGETS`, those of its workload.

    Returns a list of dicts with ``label``, ``workload`` (the result checked), ``value``,
    ``goal``, ``kind`` (``"min"``: the value must be at least the goal; ``"max"``: at most),
    ``unit`` and ``met`` (None when the value is not available, e.g. memory for the
    reference model, or when an auction had fewer than 10,000 bids).

    >>> [t["met"] for t in check_targets([{"workload": "broker_mix", "call_vs_plain": 3.5,
    ...     "batch_vs_plain": 12.0, "whole_vs_slices": None}])]
    [True, False, None]
    >>> [(t["label"], t["met"]) for t in check_targets([{"workload": "exchange_core_mix_risk",
    ...     "batch_vs_risk_off": 0.8}])]
    [('risk-on ÷ risk-off process()', True)]
    >>> [(t["label"], t["met"]) for t in check_targets([{"workload": "auction_clearing", "commands": 10_000,
    ...     "clearing_ms_max": 3.2}])]
    [('clearing a 10,000-bid auction < 10 ms', True)]
    """
    out = []
    for result in results:
        workload = result.get("workload")
        targets = TARGETS.get(workload)
        if not targets:
            continue
        judged = result.get("commands", 0) >= TARGET_SIZE.get(workload, 0)
        for label, (key, goal, kind, unit) in targets.items():
            value = result.get(key)
            met = None if value is None or not judged else (value >= goal if kind == "min" else value <= goal)
            out.append({"label": label, "workload": workload, "value": value, "goal": goal, "kind": kind,
                        "unit": unit, "met": met})
    return out
