"""Large batches: process() hands its event buffer to the result array instead of copying it,
and a freed result's buffer serves the next large batch. Neither may change an event."""
from __future__ import annotations

import gc

import numpy as np
import pytest

from bench.workloads import broker_mix
from matching import Engine

N = 12_000          # ~30,000 events: past the size at which the buffer changes hands


@pytest.fixture(scope="module")
def workload():
    return broker_mix(n_commands=N, n_resting=500, shadow=Engine)


def started(w):
    engine = w.make_engine(Engine)
    engine.process(w.setup)
    return engine


def sliced(w) -> np.ndarray:
    engine = started(w)
    return np.concatenate([engine.process(w.timed[i:i + 500]) for i in range(0, N, 500)])


def test_one_large_batch_gives_the_events_of_many_small_ones(workload):
    want = sliced(workload)
    got = started(workload).process(workload.timed)
    assert len(got) > 8_192 and np.array_equal(got, want)


def test_a_handed_over_array_outlives_its_engine_and_later_batches(workload):
    want = sliced(workload)
    engine = started(workload)
    kept = engine.process(workload.timed)
    del engine
    gc.collect()
    for _ in range(3):                      # more large batches, from other engines
        started(workload).process(workload.timed)
    assert np.array_equal(kept, want)
    kept["qty"][0] += 1                     # the array owns writable memory
    assert kept["qty"][0] == want["qty"][0] + 1


def test_a_recycled_buffer_starts_clean(workload):
    want = sliced(workload)
    for _ in range(3):                      # each result freed before the next batch takes its buffer
        got = started(workload).process(workload.timed)
        assert np.array_equal(got, want)
        del got
    shorter = started(workload).process(workload.timed[: N // 2])
    assert np.array_equal(shorter, want[: len(shorter)])
    assert shorter["cmd_seq"].max() == want["cmd_seq"][len(shorter) - 1]
