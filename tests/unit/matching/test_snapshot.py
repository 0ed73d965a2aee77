"""Snapshots: restore gives an identical engine, in either implementation, that goes on exactly
as one that never stopped; damaged snapshots are refused."""
import struct

import pytest

from helpers import CER, CQ, MAX_ACCOUNTS, SC, as_dicts, ladder, market, rows
from matching import (
    BOOK_ORDER_DTYPE, CancelReason, EventKind, InstrumentStatus, OrderType, ReferenceEngine, Reject, Side,
    StpMode, TimeInForce,
)
from matching._state import MAGIC, digest

BUY, SELL = Side.BUY, Side.SELL
DAY, IOC = TimeInForce.DAY, TimeInForce.IOC

# Leaves: SC bid 40@4990 DAY (order 4) and asks 30@5001 (order 1, account 7) + 30@5001 DAY
# (order 2); CQ bid 300@2900 (order 5), ask 100@3100 (order 6, reduced); CER ask 5@6000
# (order 7) while CER is halted. Account 7 cancels its oldest orders on a self-trade.
BEFORE = [
    ("set_account_stp", (7, StpMode.CANCEL_OLDEST), {}),
    ("submit", (SC, 7, SELL, 50, 5001), {"client_order_id": 71}),
    ("submit", (SC, 8, SELL, 30, 5001), {"tif": DAY}),
    ("submit", (SC, 9, BUY, 20, 5001), {}),
    ("submit", (SC, 9, BUY, 40, 4990), {"tif": DAY}),
    ("submit", (CQ, 7, BUY, 300, 2900), {}),
    ("submit", (CQ, 8, SELL, 200, 3100), {}),
    ("reduce", (6, 8, 100), {}),
    ("submit", (CER, 8, SELL, 5, 6000), {}),
    ("set_instrument_status", (CER, InstrumentStatus.HALTED), {}),
]
BEFORE_LADDERS = {
    SC: [(40, 4990, 5001, 60)],
    CQ: [(300, 2900, 3100, 100)],
    CER: [(None, None, 6000, 5)],
}

AFTER = [
    ("submit", (SC, 7, BUY, 60, 5001), {}),             # cancels its own order 1, trades order 2
    ("submit", (CER, 9, BUY, 5, 6000), {}),             # halted
    ("set_instrument_status", (CER, InstrumentStatus.TRADING), {}),
    ("submit", (CER, 9, BUY, 5, 6000), {}),
    ("replace", (4, 9, 4995, 40), {}),
    ("expire_day_orders", (SC,), {}),
    ("cancel", (5, 7), {}),
    ("submit", (CQ, 8, SELL, 100, 0), {"order_type": OrderType.MARKET, "tif": IOC, "ts": 0}),
]
AFTER_LADDERS = {SC: [(30, 5001, None, None)], CQ: [(None, None, 3100, 100)], CER: []}


def run(engine, stream, first_ts):
    """Apply ``stream``; commands are stamped first_ts, first_ts + 1, ... unless they say."""
    out = []
    for n, (method, args, kwargs) in enumerate(stream):
        kwargs = {"ts": first_ts + n, "seq": first_ts + n, **kwargs}
        out.append(as_dicts(getattr(engine, method)(*args, **kwargs)))
    return out


def build(cls):
    engine = cls(market(), max_accounts=MAX_ACCOUNTS, default_stp=StpMode.CANCEL_NEWEST)
    run(engine, BEFORE, first_ts=1)
    return engine


def test_restore_rebuilds_an_identical_engine(impl):
    engine = build(impl)
    assert {symbol: ladder(engine, symbol) for symbol in BEFORE_LADDERS} == BEFORE_LADDERS
    blob = engine.snapshot()
    restored = impl.restore(blob)
    assert isinstance(restored, impl)
    assert restored.snapshot() == blob
    assert restored.state_digest() == engine.state_digest()
    assert {symbol: ladder(restored, symbol) for symbol in BEFORE_LADDERS} == BEFORE_LADDERS
    assert [restored.order(n) for n in range(1, 9)] == [engine.order(n) for n in range(1, 9)]
    assert restored.resting_orders == engine.resting_orders == 6
    assert [ins.status for ins in restored.instruments] == [
        InstrumentStatus.TRADING, InstrumentStatus.TRADING, InstrumentStatus.HALTED]


def test_restored_engine_goes_on_like_one_that_never_stopped(impl):
    engine = build(impl)
    restored = impl.restore(engine.snapshot())
    expected = run(engine, AFTER, first_ts=100)
    assert run(restored, AFTER, first_ts=100) == expected
    assert restored.state_digest() == engine.state_digest()
    assert {symbol: ladder(restored, symbol) for symbol in AFTER_LADDERS} == AFTER_LADDERS


def test_restored_engine_keeps_its_counters_clock_and_account_modes(impl):
    restored = impl.restore(build(impl).snapshot())
    events = restored.submit(SC, 7, BUY, 60, 5001, ts=0)
    # 19 events so far; order ids 1-7 and trade id 1 used; the clock stands at 10. The id
    # column is the trade id of a trade, the order id of an order event (DEPTH has neither).
    ids = [int(e["trade_id"] if e["kind"] == EventKind.TRADE else e["order_id"]) for e in events]
    assert [(*row[:2], k, *row[2:]) for row, k in zip(rows(events, "seq", "kind", "ts", "reason"), ids)] == [
        (20, 1, 8, 10, 0),                                      # ACCEPTED
        (21, 4, 1, 10, CancelReason.SELF_TRADE),                # own order 1, cancel-oldest
        (22, 3, 2, 10, 0),                                      # TRADE 2, with order 2
        (23, 7, 0, 10, 0),                                      # DEPTH ask 5001
        (24, 7, 0, 10, 0),                                      # DEPTH bid 5001
    ]
    assert rows(restored.submit(CER, 9, BUY, 5, 6000), "reason") == [(Reject.INSTRUMENT_HALTED,)]


def test_empty_engine_round_trips(impl):
    engine = impl(market())
    restored = impl.restore(engine.snapshot())
    assert restored.state_digest() == engine.state_digest()
    assert rows(restored.submit(SC, 1, BUY, 1, 5000), "seq", "order_id") == [(1, 1), (2, 0)]


def test_digest_is_the_hash_of_the_snapshot_and_follows_the_state(impl):
    engine = build(impl)
    assert engine.state_digest() == digest(engine.snapshot())
    assert build(impl).state_digest() == engine.state_digest()
    before = engine.state_digest()
    engine.cancel(5, 7)
    assert engine.state_digest() != before


@pytest.mark.parametrize("direction", ["ref_to_cy", "cy_to_ref"])
@pytest.mark.parametrize("impl", ["cython"], indirect=True)
def test_snapshot_restores_into_the_other_implementation(impl, direction):
    source_cls, target_cls = (ReferenceEngine, impl) if direction == "ref_to_cy" else (impl,
                                                                                       ReferenceEngine)
    source = build(source_cls)
    target = target_cls.restore(source.snapshot())
    assert isinstance(target, target_cls)
    assert target.snapshot() == source.snapshot()
    assert target.state_digest() == source.state_digest()
    assert run(target, AFTER, first_ts=100) == run(source, AFTER, first_ts=100)
    assert target.state_digest() == source.state_digest()


def _header_end(blob):
    (n,) = struct.unpack_from("<I", blob, len(MAGIC))
    return len(MAGIC) + 4 + n


DAMAGE = {
    "empty": lambda b: b"",
    "magic-only": lambda b: MAGIC,
    "wrong-magic": lambda b: b"X" + b[1:],
    "cut-in-length": lambda b: b[:len(MAGIC) + 2],
    "cut-in-metadata": lambda b: b[:_header_end(b) - 5],
    "metadata-only": lambda b: b[:_header_end(b)],
    "last-byte-missing": lambda b: b[:-1],
    "last-order-missing": lambda b: b[:-BOOK_ORDER_DTYPE.itemsize],
    "extra-byte": lambda b: b + b"\x00",
    "metadata-garbled": lambda b: b[:len(MAGIC) + 4] + b"\xff" + b[len(MAGIC) + 5:],
    "length-too-large": lambda b: b[:len(MAGIC)] + struct.pack("<I", len(b)) + b[len(MAGIC) + 4:],
}


@pytest.mark.parametrize("damage", DAMAGE.values(), ids=DAMAGE.keys())
def test_damaged_snapshot_is_refused(impl, damage):
    blob = build(impl).snapshot()
    with pytest.raises(ValueError):
        impl.restore(damage(blob))
