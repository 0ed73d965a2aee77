"""The Cython engine and the reference model, command stream for command stream.

Both must emit identical event arrays and reach identical state digests; after every step
both pass ``check_invariants()`` and the event-derived ledger matches the books.
"""
from __future__ import annotations

import os

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from matching import Engine, ReferenceEngine

from ledger import Ledger
from streams import (
    ACCOUNTS, FEES, INSTRUMENTS, LONG_ACCOUNTS, command, funded_accounts, listed, numpy_stream, to_array,
)

LONG = os.environ.get("CHUANYU_LONG", "") not in ("", "0")
MODES = {"risk_off": dict(), "risk_on": dict(risk=True, fees=FEES)}


def engines(mode: str, n_accounts: int = ACCOUNTS - 1, added: int = 0):
    """A Cython engine, a reference engine and a ledger, with funded accounts when risk is on
    and the first ``added`` of ``streams.ADDED`` listed (funded too when risk is on)."""
    engine, reference, ledger = Engine(INSTRUMENTS, **MODES[mode]), ReferenceEngine(INSTRUMENTS, **MODES[mode]), Ledger()
    if mode == "risk_on":
        run_both(engine, reference, funded_accounts(n_accounts), ledger)
    if added:
        run_both(engine, reference, listed(added, n_accounts if mode == "risk_on" else 0), ledger)
    return engine, reference, ledger


def assert_same_events(got: np.ndarray, want: np.ndarray, context: str = "") -> None:
    if len(got) != len(want) or not np.array_equal(got, want):
        for i, (g, w) in enumerate(zip(got, want)):
            if g != w:
                raise AssertionError(f"{context}event {i} differs:\n engine    {g}\n reference {w}")
        raise AssertionError(f"{context}{len(got)} events from the engine, {len(want)} from the reference")


def run_both(engine, reference, commands: np.ndarray, ledger: Ledger, step: str = "") -> None:
    got, want = engine.process(commands), reference.process(commands)
    assert_same_events(got, want, step)
    ledger.apply(want)
    engine.check_invariants()
    reference.check_invariants()
    ledger.check_against(engine)


@settings(max_examples=300 if not LONG else 5000, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(rows=st.lists(command(), min_size=1, max_size=120), chunk=st.integers(1, 16),
       mode=st.sampled_from(sorted(MODES)), added=st.integers(0, 2))
def test_random_streams_match_the_reference(rows, chunk, mode, added):
    engine, reference, ledger = engines(mode, added=added)
    commands = to_array(rows)
    for start in range(0, len(commands), chunk):
        run_both(engine, reference, commands[start:start + chunk], ledger, f"chunk at {start}: ")
        assert engine.state_digest() == reference.state_digest()


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows=st.lists(command(), min_size=2, max_size=80), cut=st.integers(0, 80),
       mode=st.sampled_from(sorted(MODES)), added=st.integers(0, 2))
def test_restored_engine_continues_like_one_that_never_stopped(rows, cut, mode, added):
    commands = to_array(rows)
    cut = min(cut, len(commands))
    straight, _, _ = engines(mode, added=added)
    expected = straight.process(commands)
    first, _, _ = engines(mode, added=added)
    head = first.process(commands[:cut])
    for restore_with in (Engine, ReferenceEngine):
        resumed = restore_with.restore(first.snapshot())
        assert resumed.state_digest() == first.state_digest()
        tail = resumed.process(commands[cut:])
        assert_same_events(np.concatenate([head, tail]), expected)
        assert resumed.state_digest() == straight.state_digest()


@pytest.mark.parametrize("mode", sorted(MODES))
def test_long_seeded_stream_matches_the_reference(mode):
    """1,000,000 commands with CHUANYU_LONG=1; 30,000 otherwise."""
    total = 1_000_000 if LONG else 30_000
    batch = 100
    rng = np.random.default_rng(20261128)
    engine, reference, ledger = engines(mode, LONG_ACCOUNTS - 1, added=1)     # the stream lists more
    for n in range(total // batch):
        live = [(o, reference._orders[o].account, reference._orders[o].order_type) for o in ledger.leaves]
        live += [(a.lot.order_id, a.lot.account, a.lot.order_type) for a in reference._auctions if a]
        commands = numpy_stream(rng, batch, live, listing=True)
        run_both(engine, reference, commands, ledger, f"batch {n}: ")
        if n % 100 == 0:
            assert engine.state_digest() == reference.state_digest()
    assert engine.state_digest() == reference.state_digest()
    assert ledger.traded > 0 and engine.resting_orders > 0
    assert len(engine.instruments) > len(INSTRUMENTS) + 1, "the stream listed no instrument"
    assert [i.to_dict() for i in engine.instruments] == [i.to_dict() for i in reference.instruments]
