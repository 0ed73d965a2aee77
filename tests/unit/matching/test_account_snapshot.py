"""Snapshots of a risk-on engine: accounts, holds, locked units, bounds, sanctions and the fee
and cash totals survive a restore in either implementation, and the engine goes on exactly as
one that never stopped."""
import numpy as np
import pytest

from helpers import CER, MAX_ACCOUNTS, SC, as_dicts, cash, market, reasons, units
from matching import (
    AccountStatus, CancelReason, EventKind, OrderType, ReferenceEngine, Reject, Side, StpMode,
    TimeInForce, TradeType, commands,
)

BUY, SELL = Side.BUY, Side.SELL
SC_I, CQ_I, CER_I = 0, 1, 2
FEES = (30, 50)
ACCOUNTS = range(0, 6)            # 1-4 exist; 0 and 5 do not

BEFORE = [
    commands.create_account(1, 10, 1, 1),
    commands.deposit(1, 1_000_000),
    commands.credit_holdings(1, SC_I, 100),
    commands.set_retention_floor(1, SC_I, 10),
    commands.set_position_limit(1, CER_I, 8),
    commands.create_account(2, 20, 2, 9),
    commands.deposit(2, 500_000),
    commands.credit_holdings(2, CER_I, 50),
    commands.credit_holdings(2, CER_I, 5, non_tradable=True),
    commands.set_account_stp(2, StpMode.CANCEL_OLDEST),
    commands.create_account(3, 30, 1, 5),
    commands.deposit(3, 200_000),
    commands.set_account_status(3, AccountStatus.SELL_ONLY),
    commands.create_account(4, 40, 2, 10),
    commands.deposit(4, 1_000),
    commands.set_account_status(4, AccountStatus.SUSPENDED),
    commands.new_order(SC_I, 1, SELL, 30, 5010),                # order 1
    commands.new_order(SC_I, 2, BUY, 10, 5020),                 # order 2: 10 @ 5010, 2 gets 10 locked
    commands.new_order(SC_I, 2, BUY, 5, 4990),                  # order 3 rests
    commands.new_order(CER_I, 1, BUY, 5, 6000),                 # order 4 rests
    commands.new_order(CER_I, 2, SELL, 20, 6100),               # order 5 rests
]

AFTER = [
    commands.new_order(SC_I, 3, BUY, 1, 5000),                  # sell-only
    commands.new_order(SC_I, 4, SELL, 1, 5000),                 # suspended
    commands.new_order(SC_I, 2, SELL, 1, 5000),                 # its 10 are still locked
    commands.new_order(CER_I, 1, BUY, 4, 6000),                 # 5 + 4 > 8
    commands.release_t1(SC_I),
    commands.new_order(SC_I, 2, SELL, 10, 4990),                # cancels its own bid 3, rests
    commands.new_order(SC_I, 1, BUY, 15, 4990),                 # 10 @ 4990, rests 5
    commands.replace(4, 1, 6100, 5),                            # crosses order 5
    commands.withdraw(2, 10_000),
    commands.set_account_status(3, AccountStatus.ACTIVE),
    commands.new_order(CER_I, 3, BUY, 20, order_type=OrderType.MARKET,
                       tif=TimeInForce.IOC),                    # order 8: takes 5's last 15
    commands.reduce(1, 1, 5),
    commands.cancel(7, 1),
    commands.set_account_status(1, AccountStatus.SUSPENDED),    # cancels order 1
    commands.release_t1(),
]


def run(engine, stream, first_ts):
    """Apply ``stream``, stamping commands first_ts, first_ts + 1, ...; return the events."""
    out = []
    for n, cmd in enumerate(stream):
        cmd = cmd.copy()
        cmd["ts"] = cmd["seq"] = first_ts + n
        out.append(engine.process(cmd))
    return np.concatenate(out)


def build(cls):
    engine = cls(market(), max_accounts=MAX_ACCOUNTS, risk=True,
                 fees={TradeType.CONTINUOUS: FEES})
    run(engine, BEFORE, first_ts=1)
    return engine


def views(engine):
    return [engine.account(a) for a in ACCOUNTS]


def test_build_reaches_the_hand_computed_state(impl):
    engine = build(impl)
    # trade 10 @ 5010 = 50,100: buyer fee floor(150.3) = 150, seller fee floor(250.5) = 250
    # account 1: 1,000,000 + 50,100 - 250, with 5 x 6000 + 90 held for order 4
    assert cash(engine, 1) == (1_049_850 - 30_090, 30_090)
    assert units(engine, 1, SC) == (70, 20, 0, 0)
    # account 2: 500,000 - 50,250, with 5 x 4990 + floor(74.85) = 25,024 held for order 3
    assert cash(engine, 2) == (449_750 - 25_024, 25_024)
    assert units(engine, 2, SC) == (0, 0, 10, 0)
    assert units(engine, 2, CER) == (30, 20, 0, 5)
    assert (engine.fees_collected, engine.net_deposits) == (400, 1_701_000)


def test_a_risk_engine_round_trips_through_a_snapshot(impl):
    engine = build(impl)
    blob = engine.snapshot()
    restored = impl.restore(blob)
    assert restored.snapshot() == blob
    assert restored.state_digest() == engine.state_digest()
    assert views(restored) == views(engine)
    assert views(restored)[0] is None and views(restored)[5] is None
    assert restored.account(1)["holdings"][SC]["floor"] == 10
    assert restored.account(1)["holdings"][CER]["limit"] == 8
    assert restored.account(1)["holdings"][CER]["buying"] == 5
    assert restored.account(2)["holdings"][SC]["locked"] == 10
    assert restored.account(2)["holdings"][CER]["non_tradable"] == 5
    assert [restored.account(a)["status"] for a in (1, 2, 3, 4)] == [
        AccountStatus.ACTIVE, AccountStatus.ACTIVE, AccountStatus.SELL_ONLY, AccountStatus.SUSPENDED]
    assert [restored.account(a)["member"] for a in (1, 2, 3, 4)] == [10, 20, 30, 40]
    assert (restored.fees_collected, restored.net_deposits) == (400, 1_701_000)
    assert restored.risk
    restored.check_invariants()


def test_a_restored_risk_engine_still_enforces_every_rule(impl):
    restored = impl.restore(build(impl).snapshot())
    assert reasons(restored.submit(SC, 9, BUY, 1, 5000)) == [Reject.UNKNOWN_ACCOUNT]
    assert reasons(restored.submit(SC, 3, BUY, 1, 5000)) == [Reject.ACCOUNT_SELL_ONLY]
    assert reasons(restored.submit(SC, 4, SELL, 1, 5000)) == [Reject.ACCOUNT_SUSPENDED]
    assert reasons(restored.submit(SC, 2, SELL, 1, 5000)) == [Reject.INSUFFICIENT_HOLDINGS]
    assert reasons(restored.submit(SC, 1, SELL, 61, 5000)) == [Reject.RETENTION_FLOOR]   # 70 - 61 < 10
    assert reasons(restored.submit(CER, 1, BUY, 4, 6000)) == [Reject.POSITION_LIMIT]     # 5 + 4 > 8
    # 1,019,760 free: 204 x 5000 = 1,020,000 is already too much
    assert reasons(restored.submit(SC, 1, BUY, 204, 5000)) == [Reject.INSUFFICIENT_CASH]


def test_a_restored_risk_engine_goes_on_like_one_that_never_stopped(impl):
    engine = build(impl)
    restored = impl.restore(engine.snapshot())
    expected = run(engine, AFTER, first_ts=100)
    got = run(restored, AFTER, first_ts=100)
    assert as_dicts(got) == as_dicts(expected)
    assert restored.state_digest() == engine.state_digest()
    assert views(restored) == views(engine)
    assert restored.fees_collected == engine.fees_collected
    assert restored.net_deposits == engine.net_deposits
    # the continuation did what its comments say
    assert reasons(expected)[:4] == [Reject.ACCOUNT_SELL_ONLY, Reject.ACCOUNT_SUSPENDED,
                                     Reject.INSUFFICIENT_HOLDINGS, Reject.POSITION_LIMIT]
    cancelled = expected[expected["kind"] == EventKind.CANCELLED]
    assert [(int(c["order_id"]), int(c["reason"])) for c in cancelled] == [
        (3, CancelReason.SELF_TRADE), (8, CancelReason.IOC_REMAINDER), (7, CancelReason.USER),
        (1, CancelReason.SANCTION)]
    assert restored.resting_orders == 0
    restored.check_invariants()


@pytest.mark.parametrize("direction", ["ref_to_cy", "cy_to_ref"])
@pytest.mark.parametrize("impl", ["cython"], indirect=True)
def test_a_risk_snapshot_restores_into_the_other_implementation(impl, direction):
    source_cls, target_cls = ((ReferenceEngine, impl) if direction == "ref_to_cy"
                              else (impl, ReferenceEngine))
    source = build(source_cls)
    target = target_cls.restore(source.snapshot())
    assert isinstance(target, target_cls)
    assert target.snapshot() == source.snapshot()
    assert target.state_digest() == source.state_digest()
    assert views(target) == views(source)
    assert as_dicts(run(target, AFTER, first_ts=100)) == as_dicts(run(source, AFTER, first_ts=100))
    assert target.state_digest() == source.state_digest()
    assert views(target) == views(source)
    assert (target.fees_collected, target.net_deposits) == (source.fees_collected, source.net_deposits)
