"""The typed per-call results of ``Engine.place``, ``withdraw`` and ``amend``."""
from __future__ import annotations

import pytest

from matching import CancelReason, Engine, EventKind, Instrument, ReferenceEngine, Reject, Side, TimeInForce

ENGINES = [Engine, ReferenceEngine]


@pytest.fixture(params=ENGINES, ids=lambda cls: cls.__name__)
def engine(request):
    return request.param([Instrument("SCEA2026", reference_price=5000)])


def test_a_resting_order_reports_its_id_and_leaves(engine):
    r = engine.place("SCEA2026", account=1, side=Side.SELL, qty=100, price=5010)
    assert (r.order_id, r.status, r.reason, r.filled, r.leaves, r.fills) == (1, EventKind.ACCEPTED, 0, 0, 100, ())
    assert r.ok and r.n_fills == 0


def test_an_aggressive_order_lists_its_fills_with_the_contra_side(engine):
    engine.place("SCEA2026", account=1, side=Side.SELL, qty=100, price=5010)
    engine.place("SCEA2026", account=3, side=Side.SELL, qty=100, price=5012)
    r = engine.place("SCEA2026", account=2, side=Side.BUY, qty=150, price=5020)
    assert (r.order_id, r.filled, r.leaves) == (3, 150, 0)
    assert [f.astuple() for f in r.fills] == [(1, 5010, 100, 0, 1, 1), (2, 5012, 50, 0, 2, 3)]
    assert int(r.events[0]["kind"]) == EventKind.ACCEPTED and len(r.events) > len(r.fills)


def test_a_partly_filled_order_rests_the_rest(engine):
    engine.place("SCEA2026", account=1, side=Side.SELL, qty=40, price=5010)
    r = engine.place("SCEA2026", account=2, side=Side.BUY, qty=100, price=5010)
    assert (r.status, r.filled, r.leaves, r.n_fills) == (EventKind.ACCEPTED, 40, 60, 1)


def test_an_ioc_remainder_ends_cancelled(engine):
    engine.place("SCEA2026", account=1, side=Side.SELL, qty=40, price=5010)
    r = engine.place("SCEA2026", account=2, side=Side.BUY, qty=100, price=5010, tif=TimeInForce.IOC)
    assert (r.status, r.reason, r.filled, r.leaves) == (EventKind.CANCELLED, CancelReason.IOC_REMAINDER, 40, 0)


def test_a_rejected_order_has_no_id_and_names_its_reason(engine):
    r = engine.place("SCEA2026", account=1, side=Side.BUY, qty=0, price=5010)
    assert (r.order_id, r.status, r.reason, r.leaves, r.ok) == (0, EventKind.REJECTED, Reject.BAD_QUANTITY, 0, False)


def test_withdraw_and_amend_report_on_the_order_they_name(engine):
    oid = engine.place("SCEA2026", account=1, side=Side.BUY, qty=100, price=4990).order_id
    engine.place("SCEA2026", account=2, side=Side.SELL, qty=30, price=5000)
    moved = engine.amend(oid, account=1, price=5000, qty=100)
    assert (moved.order_id, moved.status, moved.filled, moved.leaves) == (oid, EventKind.REPLACED, 30, 70)
    assert [(f.price, f.qty, f.contra_account) for f in moved.fills] == [(5000, 30, 2)]
    gone = engine.withdraw(oid, account=1)
    assert (gone.order_id, gone.status, gone.reason, gone.leaves) == (oid, EventKind.CANCELLED, CancelReason.USER, 0)
    again = engine.withdraw(oid, account=1)
    assert (again.status, again.reason) == (EventKind.REJECTED, Reject.UNKNOWN_ORDER)


def test_results_are_independent_of_later_calls():
    engine = Engine([Instrument("SCEA2026", reference_price=5000)])
    first = engine.place("SCEA2026", account=1, side=Side.SELL, qty=10, price=5010)
    for _ in range(5000):                   # far past any buffer the engine reuses
        engine.withdraw(engine.place("SCEA2026", account=2, side=Side.BUY, qty=1, price=4000).order_id, 2)
    assert int(first.events[0]["order_id"]) == 1 and first.leaves == 10
