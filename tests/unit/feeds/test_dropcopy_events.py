"""The drop copy's order and market events (DROP_COPY_EVENT_DTYPE): each order event with
its account, each phase change and end of day, numbered apart from the executions; nothing
else, and no byte of another event kind's fields."""
import numpy as np

from helpers import SC, open_account
from matching import CancelReason, EventKind, InstrumentStatus, Side, commands
from feeds.dropcopy import DROP_COPY_EVENT_DTYPE, drop_copy_event_rows, drop_copy_rows


def test_order_and_market_events_are_copied_with_their_accounts(make_engine):
    engine = make_engine(risk=True)
    open_account(engine, 1, 10_000_000, {SC: 1_000})
    open_account(engine, 2, 10_000_000, {SC: 1_000})
    batch = np.concatenate([
        commands.new_order(0, 1, Side.SELL, 100, 5010, ts=10, seq=1),
        commands.new_order(0, 2, Side.BUY, 40, 5010, ts=11, seq=2),            # trades 40, rests nothing
        commands.reduce(1, 1, 50, ts=12, seq=3),
        commands.replace(1, 1, 5020, 30, ts=13, seq=4),
        commands.cancel(1, 1, ts=14, seq=5),
        commands.set_instrument_status(0, InstrumentStatus.HALTED, ts=15, seq=6),
        commands.end_of_day(0, ts=16, seq=7),
    ])
    events = engine.process(batch)
    rows = drop_copy_event_rows(events, epoch=7, first_seq=5)
    assert rows.dtype == DROP_COPY_EVENT_DTYPE
    got = [(EventKind(r["kind"]).name, int(r["cmd_seq"]), int(r["account"]), int(r["order_id"]), int(r["price"]),
            int(r["qty"]), int(r["leaves"]), int(r["side"])) for r in rows]
    assert got == [
        ("ACCEPTED", 1, 1, 1, 5010, 100, 100, Side.SELL),
        ("ACCEPTED", 2, 2, 2, 5010, 40, 40, Side.BUY),
        ("REDUCED", 3, 1, 1, 5010, 10, 50, Side.SELL),
        ("REPLACED", 4, 1, 1, 5020, 30, 30, Side.SELL),
        ("CANCELLED", 5, 1, 1, 5020, 30, 0, Side.SELL),
        ("INSTRUMENT_STATUS", 6, -1, 0, 0, 0, 0, 0),
        ("DAILY_STATS", 7, -1, 0, 5010, 40, 0, 0),
    ]
    assert rows["seq"].tolist() == list(range(5, 12)) and set(rows["epoch"]) == {7}
    assert rows["value"][5] == InstrumentStatus.HALTED and rows["value"][6] == 5000    # the previous close
    assert rows["reason"][4] == CancelReason.USER
    assert rows["ts"].tolist() == [10, 11, 12, 13, 14, 15, 16]
    assert (rows["engine_seq"] == events["seq"][np.isin(events["kind"], [1, 4, 5, 6, 8, 11])]).all()
    assert len(drop_copy_rows(events)) == 1                # the executions stay in their own frames


def test_a_batch_without_such_events_gives_no_rows(make_engine):
    engine = make_engine()
    events = engine.process(commands.deposit(5, 100))
    assert len(drop_copy_event_rows(events)) == 0
