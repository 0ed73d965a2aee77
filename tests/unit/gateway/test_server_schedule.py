"""The daemon's loop and the schedule in-process (no sockets, a settable clock): the timetable's
commands join the batch after the orders and the operator's, are sequenced and journaled, a halt
queued by the admin path is never overridden, and the end of day survives a restart."""
import datetime as dt

import numpy as np

import exchange.server as server
from gateway.client import orders
from exchange.config import example_toml, parse_config
from exchange.journal import read_records
from gateway.protocol import MsgType
from wire import Wire, logged_in
from matching import CommandType, InstrumentStatus, Side, TimeInForce, commands

MON = dt.date(2026, 11, 30)
TRADING, HALTED, CLOSED, CALL = (InstrumentStatus.TRADING, InstrumentStatus.HALTED, InstrumentStatus.CLOSED,
                                 InstrumentStatus.CALL)


def at(hhmm: str) -> dt.datetime:
    return dt.datetime.combine(MON, dt.time.fromisoformat(hhmm))


class Clock:
    def __init__(self, when):
        self.when = when

    def __call__(self):
        return self.when


class Journal(server.NullJournal):
    """Records every sequenced batch the loop hands to the journal hook."""

    def __init__(self):
        self.batches = []

    def append(self, batch):
        self.batches.append(batch.copy())


def _gateway(state_dir, clock, journal=None):
    gw = server.ExchangeNode(parse_config(example_toml(2026)), state_dir, journal=journal, clock=clock)
    logged_in(gw, gw.sessions[1:2])                     # sc-platform: accounts 1 and 2
    gw.admin.socket = Wire()
    return gw


def _statuses(gw):
    return [InstrumentStatus(int(i.status)) for i in gw.engine.instruments]


def test_the_schedule_rows_are_sequenced_after_the_orders_of_their_batch(tmp_path):
    clock, journal = Clock(at("08:00")), Journal()
    gw = _gateway(tmp_path, clock, journal)
    assert gw.schedule.due()
    gw.run_batch([], [], [])                            # start: the state of "now" at once
    assert _statuses(gw) == [CLOSED] * 3
    start = journal.batches[-1]
    assert (start["session"] == 0).all() and (np.diff(start["seq"]) == 1).all()
    assert sorted(set(start["type"].tolist())) == [CommandType.SET_INSTRUMENT_STATUS, CommandType.SET_BLOCK_WINDOW]
    n = len(journal.batches)
    gw.run_batch([], [], [])
    assert len(journal.batches) == n                     # nothing changed, nothing sent

    clock.when = at("09:25")                            # the opening call auction
    gw.run_batch([], [], [])
    assert _statuses(gw) == [CALL] * 3
    clock.when = at("09:31")                            # it ends up to 30 s late
    gw.run_batch([], [], [])
    assert _statuses(gw) == [TRADING] * 3
    # An order received in the iteration that reaches 11:30 goes first: it still trades.
    clock.when = at("11:30")
    msg = orders(1, instrument=0, account=1, side=Side.SELL, qty=5, price=5000, order_type=1,
                 tif=TimeInForce.DAY, client_order_id=1)
    gw.run_batch([msg.tobytes()], [1], [1_000])
    batch = journal.batches[-1]
    assert batch["type"].tolist() == [CommandType.NEW_ORDER] + [CommandType.SET_INSTRUMENT_STATUS] * 3
    assert batch["session"].tolist() == [1, 0, 0, 0] and (np.diff(batch["seq"]) == 1).all()
    ack = gw.sessions.router.sent[-1][1]
    assert ack["msg_type"][0] == MsgType.ACK
    assert _statuses(gw) == [CLOSED] * 3
    gw.close()


def test_an_operator_halt_in_the_same_batch_as_a_boundary_stands(tmp_path):
    clock = Clock(at("11:00"))
    gw = _gateway(tmp_path, clock)
    gw.run_batch([], [], [])
    gw.submit_operator(b"op", 7, commands.set_instrument_status(1, HALTED))
    clock.when = at("11:30")
    gw.run_batch([], [], [])
    assert _statuses(gw) == [CLOSED, HALTED, CLOSED]
    reply = gw.admin.socket.replies[-1]
    assert reply["id"] == 7 and [e["kind"] for e in reply["events"]] == ["INSTRUMENT_STATUS"]
    clock.when = at("13:00")
    gw.run_batch([], [], [])
    assert _statuses(gw) == [TRADING, HALTED, TRADING]
    clock.when = at("14:00")
    gw.submit_operator(b"op", 8, commands.set_instrument_status(1, TRADING))       # resume
    gw.run_batch([], [], [])
    assert _statuses(gw) == [TRADING] * 3
    st = gw.status()["schedule"]
    assert st["now"] == "2026-11-30T14:00:00" and st["next_boundary"] == "2026-11-30T15:00:00"
    assert [i["block_window"] for i in st["instruments"]] == [True] * 3
    gw.close()


def test_the_end_of_day_runs_once_and_is_remembered_across_a_restart(tmp_path):
    clock = Clock(at("14:30"))
    gw = _gateway(tmp_path, clock)
    gw.run_batch([], [], [])
    msg = orders(1, instrument=0, account=1, side=Side.SELL, qty=5, price=5100, order_type=1,
                 tif=TimeInForce.DAY, client_order_id=1)
    gw.run_batch([msg.tobytes()], [1], [1_000])
    clock.when = at("15:30")
    gw.run_batch([], [], [])
    expired = gw.sessions.router.sent[-1][1]
    assert expired["msg_type"].tolist() == [MsgType.CANCELLED] and expired["session"][0] == 0
    assert gw.status()["schedule"]["instruments"][0]["eod_done"] == "2026-11-30"
    gw.write_snapshot()
    gw.close()

    journal = Journal()
    again = _gateway(tmp_path, Clock(at("16:00")), journal)           # restored from the snapshot
    again.run_batch([], [], [])
    assert journal.batches[-1]["type"].tolist() == [CommandType.SET_BLOCK_WINDOW] * 3   # no second end of day
    again.close()

    journal = Journal()
    fresh = _gateway(tmp_path / "fresh", Clock(at("16:00")), journal)  # nothing remembered: it is due
    fresh.run_batch([], [], [])
    kinds = journal.batches[-1]["type"].tolist()
    assert kinds.count(CommandType.END_OF_DAY) == 3
    fresh.close()


def test_an_end_of_day_after_the_last_snapshot_is_not_repeated_after_a_crash(tmp_path):
    """Replayed from the journal (a crash after the end of day, or a standby that applied it):
    the schedule learns the dates closed from the replayed END_OF_DAY commands themselves."""
    clock = Clock(at("14:30"))
    gw = _gateway(tmp_path, clock)
    gw.run_batch([], [], [])
    gw.write_snapshot()                                   # before the end of day
    clock.when = at("15:30")
    gw.run_batch([], [], [])
    gw.close()                                            # no shutdown snapshot: as after kill -9

    again = _gateway(tmp_path, Clock(at("16:00")))
    assert again.status()["schedule"]["instruments"][0]["eod_done"] == "2026-11-30"
    again.run_batch([], [], [])
    again.close()
    closes = [int(r) for rec in read_records(tmp_path) for r in rec.rows["type"] if r == CommandType.END_OF_DAY]
    assert len(closes) == 3                               # one per instrument, once


def test_without_a_schedule_table_the_loop_sends_no_phase_commands(tmp_path):
    text = example_toml(2026).split("# The trading schedule the daemon drives")[0]
    journal = Journal()
    gw = server.ExchangeNode(parse_config(text), tmp_path, journal=journal)
    n = len(journal.batches)
    gw.run_batch([], [], [])
    assert gw.schedule is None and len(journal.batches) == n
    assert _statuses(gw) == [TRADING] * 3 and gw.status()["schedule"] == {"enabled": False}
    gw.close()

