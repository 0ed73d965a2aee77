"""The per-call typed results (``place``, ``withdraw``, ``amend``), engine against reference.

Random streams run order commands through the per-call methods and everything else through
``process()``: both engines must return the same results and the same events, and the
compiled engine's result must equal the reference fold (``matching.results.fold``) of its
own events, so the C fold and the Python specification cannot drift apart.
"""
from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from matching import CommandType, EventKind
from matching.results import fold

from streams import command, to_array
from test_differential import MODES, assert_same_events, engines

_ORDER_ARGS = ("instrument", "account", "side", "qty", "price", "order_type", "tif", "stp", "client_order_id",
               "ts", "seq")
_PER_CALL = {
    int(CommandType.NEW_ORDER): ("place", _ORDER_ARGS),
    int(CommandType.CANCEL): ("withdraw", ("order_id", "account", "ts", "seq")),
    int(CommandType.REPLACE): ("amend", ("order_id", "account", "price", "qty", "ts", "seq")),
}


def per_call(engine, row: np.ndarray):
    method, fields = _PER_CALL[int(row["type"])]
    return getattr(engine, method)(*(int(row[f]) for f in fields))


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows=st.lists(command(), min_size=1, max_size=100), mode=st.sampled_from(sorted(MODES)))
def test_per_call_results_match_the_reference(rows, mode):
    engine, reference, _ = engines(mode)
    commands = to_array(rows)
    for i in range(len(commands)):
        one = commands[i:i + 1]
        if int(one[0]["type"]) not in _PER_CALL:
            assert_same_events(engine.process(one), reference.process(one), f"command {i}: ")
            continue
        got, want = per_call(engine, one[0]), per_call(reference, one[0])
        assert_same_events(got.events, want.events, f"command {i}: ")
        assert got.astuple() == want.astuple(), f"command {i}"
        assert got.astuple() == fold(got.events).astuple(), f"command {i}: the C fold differs from the spec"
        assert got.n_fills == len(got.fills) and got.ok == (got.status != EventKind.REJECTED)
    assert engine.state_digest() == reference.state_digest()
