"""Self-trade prevention: the incoming order's mode (its own, else its account's, else the
engine default) decides what happens when it meets a resting order of the same account."""
import pytest

from helpers import (
    SC, as_dicts, cancels, depth, event, kinds, ladder, reasons, state, trades,
)
from matching import (
    CancelReason, CommandType, EventKind, OrderType, Reject, Side, StpMode, TimeInForce,
)

BUY, SELL = Side.BUY, Side.SELL
ACCEPTED, TRADE, CANCELLED, REPLACED, DEPTH = (
    EventKind.ACCEPTED, EventKind.TRADE, EventKind.CANCELLED, EventKind.REPLACED, EventKind.DEPTH)
OFF, NEWEST, OLDEST, BOTH, DEFAULT = (StpMode.OFF, StpMode.CANCEL_NEWEST, StpMode.CANCEL_OLDEST,
                                      StpMode.CANCEL_BOTH, StpMode.ACCOUNT_DEFAULT)
FOK = TimeInForce.FOK
SELF_TRADE = CancelReason.SELF_TRADE
ME, OTHER = 7, 8


@pytest.fixture
def own_then_other(make_engine):
    """Asks at 5000: order 1 of account ME ahead of order 2 of account OTHER, 50 each."""
    engine = make_engine(default_stp=OFF)
    engine.submit(SC, ME, SELL, 50, 5000)
    engine.submit(SC, OTHER, SELL, 50, 5000)
    return engine


def test_off_trades_with_its_own_account(own_then_other):
    events = own_then_other.submit(SC, ME, BUY, 80, 5000, stp=OFF)
    assert trades(events) == [(5000, 50, 3, 1), (5000, 30, 3, 2)]
    assert ladder(own_then_other, SC) == [(None, None, 5000, 20)]


def test_cancel_newest_cancels_the_incoming_order(own_then_other):
    events = own_then_other.submit(SC, ME, BUY, 80, 5000, stp=NEWEST)
    assert kinds(events)[:2] == [ACCEPTED, CANCELLED]
    assert cancels(events) == [(3, SELF_TRADE, 80)]
    assert trades(events) == []
    assert ladder(own_then_other, SC) == [(None, None, 5000, 100)]
    assert own_then_other.order(1).qty == 50
    assert own_then_other.order(3) is None


def test_cancel_newest_publishes_no_depth_for_a_level_it_did_not_change(own_then_other):
    # The module docstring: "one DEPTH event per price level the command changed".
    events = own_then_other.submit(SC, ME, BUY, 80, 5000, stp=NEWEST)
    assert depth(events) == []


def test_cancel_newest_keeps_the_trades_made_before_meeting_its_own_order(make_engine):
    engine = make_engine(default_stp=OFF)
    engine.submit(SC, OTHER, SELL, 30, 5000)
    engine.submit(SC, ME, SELL, 30, 5001)
    engine.submit(SC, OTHER, SELL, 30, 5002)
    events = engine.submit(SC, ME, BUY, 80, 5002, stp=NEWEST)
    assert kinds(events)[:3] == [ACCEPTED, TRADE, CANCELLED]
    assert trades(events) == [(5000, 30, 4, 1)]
    assert cancels(events) == [(4, SELF_TRADE, 50)]
    assert ladder(engine, SC) == [(None, None, 5001, 30), (None, None, 5002, 30)]


def test_cancel_oldest_cancels_the_resting_order_and_goes_on(own_then_other):
    events = own_then_other.submit(SC, ME, BUY, 80, 5000, stp=OLDEST, seq=5)
    assert kinds(events) == [ACCEPTED, CANCELLED, TRADE, DEPTH, DEPTH]
    assert as_dicts(events[1:2]) == [event(
        CANCELLED, command=CommandType.NEW_ORDER, seq=6, cmd_seq=5, order_id=1, account=ME,
        instrument=0, side=SELL, order_type=OrderType.LIMIT, tif=TimeInForce.GTC, price=5000,
        qty=50, leaves=0, reason=SELF_TRADE)]
    assert trades(events) == [(5000, 50, 3, 2)]
    assert depth(events) == [(SELL, 5000, 0, 0), (BUY, 5000, 30, 1)]
    assert ladder(own_then_other, SC) == [(30, 5000, None, None)]


def test_cancel_oldest_cancels_every_own_order_on_its_way(make_engine):
    engine = make_engine(default_stp=OFF)
    engine.submit(SC, ME, SELL, 10, 5000)
    engine.submit(SC, ME, SELL, 10, 5001)
    engine.submit(SC, OTHER, SELL, 10, 5001)
    events = engine.submit(SC, ME, BUY, 15, 5001, stp=OLDEST)
    assert kinds(events) == [ACCEPTED, CANCELLED, CANCELLED, TRADE, DEPTH, DEPTH, DEPTH]
    assert cancels(events) == [(1, SELF_TRADE, 10), (2, SELF_TRADE, 10)]
    assert trades(events) == [(5001, 10, 4, 3)]
    assert depth(events) == [(SELL, 5000, 0, 0), (SELL, 5001, 0, 0), (BUY, 5001, 5, 1)]
    assert ladder(engine, SC) == [(5, 5001, None, None)]


def test_cancel_both_cancels_resting_and_incoming(own_then_other):
    events = own_then_other.submit(SC, ME, BUY, 80, 5000, stp=BOTH)
    assert kinds(events) == [ACCEPTED, CANCELLED, CANCELLED, DEPTH]
    assert cancels(events) == [(1, SELF_TRADE, 50), (3, SELF_TRADE, 80)]
    assert depth(events) == [(SELL, 5000, 50, 1)]
    assert ladder(own_then_other, SC) == [(None, None, 5000, 50)]


@pytest.mark.parametrize("mode", [NEWEST, OLDEST, BOTH])
def test_prevention_applies_only_to_the_same_account(make_engine, mode):
    engine = make_engine(default_stp=mode)
    engine.submit(SC, OTHER, SELL, 50, 5000)
    assert trades(engine.submit(SC, ME, BUY, 50, 5000)) == [(5000, 50, 2, 1)]


def test_only_the_incoming_orders_mode_counts(make_engine):
    engine = make_engine(default_stp=OFF)
    engine.submit(SC, ME, SELL, 50, 5000, stp=BOTH)
    assert trades(engine.submit(SC, ME, BUY, 50, 5000, stp=OFF)) == [(5000, 50, 2, 1)]


def test_account_mode_is_set_with_an_event(make_engine):
    engine = make_engine(default_stp=NEWEST)
    assert as_dicts(engine.set_account_stp(ME, BOTH, ts=4, seq=2)) == [
        event(EventKind.ACCOUNT_UPDATED, command=CommandType.SET_ACCOUNT_STP, seq=1, cmd_seq=2,
              ts=4, account=ME, value=BOTH)]


def test_order_mode_is_its_own_else_its_accounts_else_the_engine_default(make_engine):
    engine = make_engine(default_stp=OLDEST)
    engine.set_account_stp(ME, BOTH)
    engine.submit(SC, ME, SELL, 10, 5000, stp=DEFAULT)    # 1
    engine.submit(SC, OTHER, SELL, 10, 5001)              # 2
    engine.submit(SC, ME, SELL, 10, 5002, stp=NEWEST)     # 3
    assert [engine.order(n).stp for n in (1, 2, 3)] == [BOTH, OLDEST, NEWEST]


def test_order_mode_overrides_the_account_mode(make_engine):
    engine = make_engine(default_stp=NEWEST)
    engine.set_account_stp(ME, BOTH)
    engine.submit(SC, ME, SELL, 50, 5000)
    assert trades(engine.submit(SC, ME, BUY, 20, 5000, stp=OFF)) == [(5000, 20, 2, 1)]
    events = engine.submit(SC, ME, BUY, 20, 5000)
    assert cancels(events) == [(1, SELF_TRADE, 30), (3, SELF_TRADE, 20)]


def test_engine_default_applies_to_accounts_without_a_mode(make_engine):
    engine = make_engine(default_stp=OLDEST)
    engine.set_account_stp(OTHER, OFF)
    engine.submit(SC, ME, SELL, 50, 5000)
    engine.submit(SC, OTHER, SELL, 50, 5000)
    events = engine.submit(SC, ME, BUY, 50, 5000)
    assert cancels(events) == [(1, SELF_TRADE, 50)]
    assert trades(events) == [(5000, 50, 3, 2)]
    engine.submit(SC, OTHER, SELL, 10, 5001)
    assert trades(engine.submit(SC, OTHER, BUY, 10, 5001)) == [(5001, 10, 5, 4)]


def test_replace_uses_the_mode_the_order_was_entered_with(make_engine):
    engine = make_engine(default_stp=OFF)
    engine.set_account_stp(ME, OLDEST)
    engine.submit(SC, ME, BUY, 20, 4990)       # 1, entered with CANCEL_OLDEST
    engine.submit(SC, ME, SELL, 10, 5000)      # 2
    engine.submit(SC, OTHER, SELL, 10, 5000)   # 3
    engine.set_account_stp(ME, OFF)
    events = engine.replace(1, ME, 5000, 20)
    assert kinds(events) == [REPLACED, CANCELLED, TRADE, DEPTH, DEPTH, DEPTH]
    assert cancels(events) == [(2, SELF_TRADE, 10)]
    assert trades(events) == [(5000, 10, 1, 3)]
    assert depth(events) == [(BUY, 4990, 0, 0), (SELL, 5000, 0, 0), (BUY, 5000, 10, 1)]


# ------------------------------------------------------------------------ FOK feasibility
def test_fok_cancel_oldest_does_not_count_own_orders(own_then_other):
    before = state(own_then_other)[1]
    assert reasons(own_then_other.submit(SC, ME, BUY, 100, 5000, tif=FOK, stp=OLDEST)) == [
        Reject.FOK_NOT_FILLABLE]
    assert state(own_then_other)[1] == before
    events = own_then_other.submit(SC, ME, BUY, 50, 5000, tif=FOK, stp=OLDEST)
    assert kinds(events) == [ACCEPTED, CANCELLED, TRADE, DEPTH]
    assert cancels(events) == [(1, SELF_TRADE, 50)]
    assert trades(events) == [(5000, 50, 3, 2)]
    assert ladder(own_then_other, SC) == []


@pytest.mark.parametrize("mode", [NEWEST, BOTH])
def test_fok_cancelling_the_incoming_order_must_fill_before_meeting_its_own(make_engine, mode):
    engine = make_engine(default_stp=OFF)
    engine.submit(SC, OTHER, SELL, 50, 5000)
    engine.submit(SC, ME, SELL, 50, 5001)
    assert reasons(engine.submit(SC, ME, BUY, 60, 5001, tif=FOK, stp=mode)) == [Reject.FOK_NOT_FILLABLE]
    events = engine.submit(SC, ME, BUY, 50, 5001, tif=FOK, stp=mode)
    assert kinds(events) == [ACCEPTED, TRADE, DEPTH]
    assert trades(events) == [(5000, 50, 3, 1)]
    assert ladder(engine, SC) == [(None, None, 5001, 50)]


@pytest.mark.parametrize("mode", [NEWEST, BOTH])
def test_fok_cancelling_the_incoming_order_is_rejected_when_its_own_order_is_first(own_then_other, mode):
    assert reasons(own_then_other.submit(SC, ME, BUY, 10, 5000, tif=FOK, stp=mode)) == [
        Reject.FOK_NOT_FILLABLE]
    assert ladder(own_then_other, SC) == [(None, None, 5000, 100)]


def test_fok_with_prevention_off_counts_own_orders(own_then_other):
    events = own_then_other.submit(SC, ME, BUY, 100, 5000, tif=FOK, stp=OFF)
    assert trades(events) == [(5000, 50, 3, 1), (5000, 50, 3, 2)]
