"""The trading schedule: the pure timetable function over a day, and the driver that turns it
into commands (only changes, never over a halt, one end of day per trading date)."""
import dataclasses
import datetime as dt

import numpy as np
import pytest

from exchange.config import Schedule, parse_config
from exchange.schedule import (
    ScheduleDriver, call_delay, clock_from_env, fake_clock, next_boundary, wanted_state,
)
from helpers import market
from matching import (
    CancelReason, CommandType, Engine, EventKind, InstrumentParameter, InstrumentStatus, Reject, Side, commands,
)

TRADING, HALTED, CLOSED, PRE_OPEN = (InstrumentStatus.TRADING, InstrumentStatus.HALTED, InstrumentStatus.CLOSED,
                                     InstrumentStatus.PRE_OPEN)
SYMBOLS = ["SCEA2026", "CQEA2026", "CCER2025"]
MON, TUE, SAT = dt.date(2026, 11, 30), dt.date(2026, 12, 1), dt.date(2026, 11, 28)
FRI = dt.date(2026, 11, 27)
DEFAULT = Schedule(enabled=True)


def at(day: dt.date, hhmm: str) -> dt.datetime:
    return dt.datetime.combine(day, dt.time.fromisoformat(hhmm))


def one(state):
    """The wanted state of the first instrument as (phase, block open, eod due)."""
    w = state[0]
    return w.phase, w.block_open, w.eod_due


# ------------------------------------------------------------------ the pure function
@pytest.mark.parametrize("hhmm, phase, block", [
    ("00:00", CLOSED, False),
    ("09:14:59", CLOSED, False),            # before pre-open
    ("09:15", PRE_OPEN, False),
    ("09:29:59", PRE_OPEN, False),
    ("09:30", TRADING, False),              # morning session
    ("11:29:59", TRADING, False),
    ("11:30", CLOSED, False),               # lunch break
    ("12:59:59", CLOSED, False),
    ("13:00", TRADING, True),               # afternoon, with the block window
    ("14:59:59", TRADING, True),
    ("15:00", CLOSED, False),               # after the close
    ("15:29:59", CLOSED, False),
    ("23:59:59", CLOSED, False),
])
def test_a_trading_day_hour_by_hour(hhmm, phase, block):
    state = wanted_state(DEFAULT, at(MON, hhmm), SYMBOLS)
    assert [(w.phase, w.block_open) for w in state] == [(phase, block)] * 3
    assert all(w.trading_day == MON for w in state)


def test_the_end_of_day_is_due_from_its_time_until_done():
    assert not one(wanted_state(DEFAULT, at(MON, "15:29:59"), SYMBOLS))[2]
    assert one(wanted_state(DEFAULT, at(MON, "15:30"), SYMBOLS)) == (CLOSED, False, True)
    assert one(wanted_state(DEFAULT, at(MON, "23:00"), SYMBOLS))[2]
    assert not one(wanted_state(DEFAULT, at(MON, "15:30"), SYMBOLS, [MON, None, None]))[2]
    assert one(wanted_state(DEFAULT, at(TUE, "15:30"), SYMBOLS, [MON, None, None]))[2]


def test_weekends_holidays_and_extra_trading_days():
    assert one(wanted_state(DEFAULT, at(SAT, "10:00"), SYMBOLS)) == (CLOSED, False, False)
    assert wanted_state(DEFAULT, at(SAT, "16:00"), SYMBOLS)[0].trading_day is None
    s = Schedule(enabled=True, holidays=frozenset({TUE}), extra_trading_days=frozenset({SAT}))
    assert one(wanted_state(s, at(TUE, "10:00"), SYMBOLS)) == (CLOSED, False, False)
    assert one(wanted_state(s, at(TUE, "15:45"), SYMBOLS)) == (CLOSED, False, False)
    assert one(wanted_state(s, at(SAT, "10:00"), SYMBOLS)) == (TRADING, False, False)
    assert one(wanted_state(s, at(SAT, "15:45"), SYMBOLS)) == (CLOSED, False, True)
    assert one(wanted_state(s, at(MON, "13:30"), SYMBOLS)) == (TRADING, True, False)


def test_an_aware_time_is_read_in_the_schedule_zone():
    utc = dt.datetime(2026, 11, 30, 2, 0, tzinfo=dt.timezone.utc)          # 10:00 in Shanghai
    assert one(wanted_state(DEFAULT, utc, SYMBOLS))[0] == TRADING
    late_sunday = dt.datetime(2026, 11, 29, 17, 0, tzinfo=dt.timezone.utc)  # Monday 01:00 there
    assert wanted_state(DEFAULT, late_sunday, SYMBOLS)[0].trading_day == MON


def test_an_instrument_with_its_own_hours():
    cfg = parse_config(_market('[schedule.instruments.CCER2025]\nblock = []\ncontinuous = [["10:00", "11:00"]]\n'))
    state = wanted_state(cfg.schedule, at(MON, "13:30"), SYMBOLS)
    assert [(w.phase, w.block_open) for w in state] == [(TRADING, True), (TRADING, True), (CLOSED, False)]
    state = wanted_state(cfg.schedule, at(MON, "09:45"), SYMBOLS)
    assert [w.phase for w in state] == [TRADING, TRADING, PRE_OPEN]


def test_the_next_boundary():
    assert next_boundary(DEFAULT, at(MON, "09:20"), SYMBOLS) == at(MON, "09:30")
    assert next_boundary(DEFAULT, at(MON, "11:30"), SYMBOLS) == at(MON, "13:00")
    assert next_boundary(DEFAULT, at(MON, "16:00"), SYMBOLS) == at(TUE, "00:00")
    assert next_boundary(DEFAULT, at(SAT, "08:00"), SYMBOLS) == at(dt.date(2026, 11, 29), "00:00")


# ------------------------------------------------------------------ the driver
class Clock:
    """A settable clock: the driver reads it, the test moves it."""

    def __init__(self, when: dt.datetime) -> None:
        self.when = when

    def __call__(self) -> dt.datetime:
        return self.when


def driver(when, statuses=None, state=None, schedule=DEFAULT):
    clock = Clock(when)
    return ScheduleDriver(schedule, SYMBOLS, clock, statuses=statuses, state=state), clock


def described(rows) -> list[tuple]:
    """Commands as readable tuples: ("status", n, NAME), ("block", n, 0/1), ("eod", n)."""
    if rows is None:
        return []
    out = []
    for r in rows:
        kind, n = int(r["type"]), int(r["instrument"])
        if kind == CommandType.SET_INSTRUMENT_STATUS:
            out.append(("status", n, InstrumentStatus(int(r["status"])).name))
        elif kind == CommandType.SET_BLOCK_WINDOW:
            out.append(("block", n, int(r["status"])))
        elif kind == CommandType.END_OF_DAY:
            out.append(("eod", n))
        else:
            raise AssertionError(f"unexpected command {kind}")
    return out


def each(kind, *values):
    return [(kind, n, *values) for n in range(3)]


def step(d, clock, when):
    clock.when = when
    return described(d.tick())


def test_on_start_the_state_for_now_is_applied_at_once():
    d, clock = driver(at(MON, "08:00"))                  # a new engine: everything TRADING
    assert d.due()
    assert step(d, clock, at(MON, "08:00")) == each("status", "CLOSED") + each("block", 0)
    assert not d.due() and step(d, clock, at(MON, "08:30")) == []


def test_a_whole_day_emits_only_the_changes_and_one_end_of_day():
    d, clock = driver(at(MON, "08:00"))
    step(d, clock, at(MON, "08:00"))
    timeline = [
        ("09:00", []),
        ("09:15", each("status", "PRE_OPEN")),
        ("09:20", []),
        ("09:30", each("status", "TRADING")),
        ("11:30", each("status", "CLOSED")),
        ("12:00", []),
        ("13:00", each("status", "TRADING") + each("block", 1)),
        ("14:00", []),
        ("15:00", each("status", "CLOSED") + each("block", 0)),
        ("15:29:59", []),
        ("15:30", [("eod", n) for n in range(3)]),
        ("15:30:01", []),
        ("18:00", []),
        ("23:59", []),
    ]
    for hhmm, expected in timeline:
        assert step(d, clock, at(MON, hhmm)) == expected, hhmm
    assert step(d, clock, at(TUE, "09:15")) == each("status", "PRE_OPEN")
    assert d.eod_done == [MON] * 3 and d.day_open == [TUE] * 3


def test_the_loop_may_skip_boundaries_and_gets_the_state_of_now():
    d, clock = driver(at(MON, "09:20"))
    assert step(d, clock, at(MON, "09:20")) == each("status", "PRE_OPEN") + each("block", 0)
    assert step(d, clock, at(MON, "13:05")) == each("status", "TRADING") + each("block", 1)
    assert step(d, clock, at(MON, "17:00")) == (each("status", "CLOSED") + each("block", 0)
                                                + [("eod", n) for n in range(3)])


def test_a_weekend_and_a_holiday_are_closed_with_no_end_of_day():
    s = Schedule(enabled=True, holidays=frozenset({TUE}))
    d, clock = driver(at(SAT, "09:00"), schedule=s)
    assert step(d, clock, at(SAT, "09:00")) == each("status", "CLOSED") + each("block", 0)
    for when in (at(SAT, "09:30"), at(SAT, "13:00"), at(SAT, "15:30"), at(TUE, "10:00"), at(TUE, "15:45")):
        assert step(d, clock, when) == [], when


def test_an_extra_trading_day_trades():
    d, clock = driver(at(SAT, "09:00"), schedule=Schedule(enabled=True, extra_trading_days=frozenset({SAT})))
    step(d, clock, at(SAT, "09:00"))
    assert step(d, clock, at(SAT, "09:30")) == each("status", "TRADING")
    assert step(d, clock, at(SAT, "15:30")) == (each("status", "CLOSED") + [("eod", n) for n in range(3)])


def test_a_halt_stands_over_every_boundary_until_the_operator_resumes():
    d, clock = driver(at(MON, "10:00"))
    step(d, clock, at(MON, "10:00"))
    clock.when = at(MON, "10:30")
    d.note_operator(commands.set_instrument_status(0, HALTED))
    assert d.tick() is None                               # nothing to re-apply on a halt
    assert step(d, clock, at(MON, "11:30")) == [("status", 1, "CLOSED"), ("status", 2, "CLOSED")]
    assert step(d, clock, at(MON, "13:00")) == ([("status", 1, "TRADING"), ("status", 2, "TRADING")]
                                                + each("block", 1))   # block windows follow the clock
    assert step(d, clock, at(MON, "15:00")) == ([("status", 1, "CLOSED"), ("status", 2, "CLOSED")]
                                                + each("block", 0))
    assert step(d, clock, at(MON, "15:30")) == [("eod", n) for n in range(3)]   # the day still ends
    assert step(d, clock, at(TUE, "09:15")) == [("status", 1, "PRE_OPEN"), ("status", 2, "PRE_OPEN")]
    assert d.halted == [True, False, False]


def test_a_resume_is_followed_at_once_by_the_scheduled_phase():
    d, clock = driver(at(MON, "10:00"))
    step(d, clock, at(MON, "10:00"))
    d.note_operator(commands.set_instrument_status(0, HALTED))
    clock.when = at(MON, "12:00")                         # the lunch break
    assert described(d.tick()) == [("status", 1, "CLOSED"), ("status", 2, "CLOSED")]   # 11:30 passed
    d.note_operator(commands.set_instrument_status(0, TRADING))      # "resume"
    assert d.due()
    assert described(d.tick()) == [("status", 0, "CLOSED")]
    # resumed during a session: the resume itself put it where the timetable wants it
    clock.when = at(MON, "13:30")
    d.tick()
    d.note_operator(commands.set_instrument_status(1, HALTED))
    d.note_operator(commands.set_instrument_status(1, TRADING))
    assert described(d.tick()) == []


def test_a_halted_instrument_moved_to_another_phase_keeps_it_until_the_next_boundary():
    d, clock = driver(at(MON, "10:00"))
    step(d, clock, at(MON, "10:00"))
    d.note_operator(commands.set_instrument_status(0, HALTED))
    d.note_operator(commands.set_instrument_status(0, CLOSED))      # "phase CLOSED", not a resume
    assert not d.due() and step(d, clock, at(MON, "10:30")) == []
    assert d.halted == [False] * 3
    assert step(d, clock, at(MON, "11:30")) == [("status", 1, "CLOSED"), ("status", 2, "CLOSED")]
    assert step(d, clock, at(MON, "13:00")) == each("status", "TRADING") + each("block", 1)


def test_a_halt_queued_in_the_same_batch_as_a_boundary_wins():
    d, clock = driver(at(MON, "11:29"))
    step(d, clock, at(MON, "11:29"))
    clock.when = at(MON, "11:30")
    d.note_operator(commands.set_instrument_status(2, HALTED))        # admin path, before the tick
    assert described(d.tick()) == [("status", 0, "CLOSED"), ("status", 1, "CLOSED")]


def test_an_instrument_halted_in_the_restored_engine_stays_halted():
    d, clock = driver(at(MON, "12:00"), statuses=[HALTED, TRADING, TRADING])
    assert step(d, clock, at(MON, "12:00")) == ([("status", 1, "CLOSED"), ("status", 2, "CLOSED")]
                                                + each("block", 0))


def test_halts_are_also_followed_from_the_engine_events():
    d, clock = driver(at(MON, "10:00"))
    step(d, clock, at(MON, "10:00"))
    ev = Engine(market()).process(commands.set_instrument_status(1, HALTED))
    d.observe(ev)
    assert d.halted == [False, True, False]
    assert step(d, clock, at(MON, "11:30")) == [("status", 0, "CLOSED"), ("status", 2, "CLOSED")]


def test_a_manual_phase_lasts_until_the_next_boundary():
    d, clock = driver(at(MON, "10:00"))
    step(d, clock, at(MON, "10:00"))
    d.note_operator(commands.set_instrument_status(1, CLOSED))       # closes early
    assert step(d, clock, at(MON, "10:30")) == []
    assert step(d, clock, at(MON, "11:30")) == [("status", 0, "CLOSED"), ("status", 2, "CLOSED")]
    assert step(d, clock, at(MON, "13:00")) == each("status", "TRADING") + each("block", 1)


def test_the_end_of_day_survives_a_restart_and_is_never_repeated():
    d, clock = driver(at(MON, "15:00"))
    step(d, clock, at(MON, "15:00"))
    assert step(d, clock, at(MON, "15:30")) == [("eod", n) for n in range(3)]
    saved = d.state()
    again, clock2 = driver(at(MON, "16:00"), statuses=[CLOSED] * 3, state=saved)
    assert step(again, clock2, at(MON, "16:00")) == each("block", 0)
    assert step(again, clock2, at(MON, "17:00")) == []


def test_a_missed_end_of_day_is_run_before_the_next_trading_date_opens():
    d, clock = driver(at(FRI, "14:00"))
    step(d, clock, at(FRI, "14:00"))                      # trading began on Friday ...
    saved = d.state()                                     # ... and the daemon stopped at 14:00
    again, clock2 = driver(at(MON, "09:20"), statuses=[TRADING] * 3, state=saved)
    assert step(again, clock2, at(MON, "09:20")) == ([("eod", n) for n in range(3)] + each("status", "PRE_OPEN")
                                                     + each("block", 0))
    assert again.eod_done == [FRI] * 3
    assert step(again, clock2, at(MON, "15:30")) [-3:] == [("eod", n) for n in range(3)]


def test_an_operator_end_of_day_after_the_close_is_the_day_s():
    d, clock = driver(at(MON, "15:05"))
    step(d, clock, at(MON, "15:05"))
    d.note_operator(commands.end_of_day(0))
    assert step(d, clock, at(MON, "15:30")) == [("eod", 1), ("eod", 2)]
    d2, clock2 = driver(at(MON, "10:00"))                 # during trading it does not count
    step(d2, clock2, at(MON, "10:00"))
    d2.note_operator(commands.end_of_day())
    clock2.when = at(MON, "15:30")
    assert described(d2.tick())[-3:] == [("eod", n) for n in range(3)]


def test_each_end_of_day_names_its_date_and_a_replayed_one_is_not_repeated():
    d, clock = driver(at(MON, "15:05"))
    step(d, clock, at(MON, "15:05"))
    clock.when = at(MON, "15:30")
    rows = d.tick()
    closes = rows[rows["type"] == CommandType.END_OF_DAY]
    assert closes["value"].tolist() == [20261130] * 3
    early, _ = driver(at(MON, "10:00"))
    during = commands.end_of_day(0)
    early.note_operator(during)                           # during trading: no date's end of day
    assert during["value"].tolist() == [0]
    late, _ = driver(at(MON, "15:40"))
    operator = commands.end_of_day(1)
    late.note_operator(operator)                          # the day's end of day, by the operator
    assert operator["value"].tolist() == [20261130]
    again, clock2 = driver(at(MON, "16:00"))             # a node that replayed the first one
    again.closed(closes)
    assert [r for r in described(again.tick()) if r[0] == "eod"] == []
    fresh, _ = driver(at(MON, "16:00"))
    assert [r for r in described(fresh.tick()) if r[0] == "eod"] == [("eod", n) for n in range(3)]


def test_the_commands_drive_a_real_engine_through_the_day():
    """Orders during continuous trading trade; during the break they are refused MARKET_CLOSED."""
    engine = Engine(market(), risk=False)
    d, clock = driver(at(MON, "09:00"))

    def run(when):
        clock.when = when
        rows = d.tick()
        events = engine.process(rows) if rows is not None else None
        if events is not None:
            d.observe(events)
        return events

    def order(side, price=5000):
        return engine.submit("SCEA2026", 7 if side == Side.BUY else 8, side, 10, price)

    run(at(MON, "09:00"))
    assert order(Side.BUY)[-1]["reason"] == Reject.MARKET_CLOSED
    run(at(MON, "09:20"))
    assert order(Side.BUY)[0]["kind"] == EventKind.ACCEPTED           # pre-open: it rests
    run(at(MON, "09:30"))
    assert any(e["kind"] == EventKind.TRADE for e in order(Side.SELL))
    run(at(MON, "12:00"))
    assert order(Side.SELL)[-1]["reason"] == Reject.MARKET_CLOSED
    run(at(MON, "13:00"))
    quote = engine.process(commands.block_quote(0, 7, Side.SELL, 100_000, 5000))
    assert quote[0]["kind"] == EventKind.ACCEPTED
    closing = run(at(MON, "15:00"))                                   # the window closes: quotes expire
    expired = closing[closing["kind"] == EventKind.CANCELLED]
    assert expired["order_id"].tolist() == [quote[0]["order_id"]] and expired["reason"][0] == CancelReason.EXPIRY
    assert engine.process(commands.block_quote(0, 7, Side.SELL, 100_000, 5000))[0]["reason"] == \
        Reject.BLOCK_WINDOW_CLOSED
    eod = run(at(MON, "15:30"))
    assert [i.status for i in engine.instruments] == [CLOSED] * 3
    stats = eod[eod["kind"] == EventKind.DAILY_STATS]
    assert stats["instrument"].tolist() == [0, 1, 2] and stats["qty"][0] == 10      # the 10 t traded at 09:30
    assert run(at(MON, "16:00")) is None


# ------------------------------------------------------------------ clocks
def test_a_fake_clock_runs_from_its_start_at_its_speed():
    now = [100.0]
    clock = fake_clock(at(MON, "11:29"), 60, monotonic=lambda: now[0])
    now[0] += 7                                           # it starts at its first reading
    assert clock() == at(MON, "11:29")
    now[0] += 1.5
    assert clock() == at(MON, "11:30:30")


def test_the_fake_clock_from_the_environment():
    assert clock_from_env(DEFAULT, {}) == (None, None)
    clock, note = clock_from_env(DEFAULT, {"CHUANYU_FAKE_CLOCK_START": "2026-11-30T09:29:00",
                                           "CHUANYU_FAKE_CLOCK_SPEED": "30"})
    assert abs(clock() - at(MON, "09:29")) < dt.timedelta(seconds=5) and "30x" in note
    clock, _ = clock_from_env(DEFAULT, {"CHUANYU_FAKE_CLOCK_START": "2026-11-30T01:29:00+00:00"})
    assert abs(clock() - at(MON, "09:29")) < dt.timedelta(seconds=1)          # converted to local
    with pytest.raises(ValueError, match="CHUANYU_FAKE_CLOCK_START"):
        clock_from_env(DEFAULT, {"CHUANYU_FAKE_CLOCK_START": "monday"})
    with pytest.raises(ValueError, match="CHUANYU_FAKE_CLOCK_SPEED"):
        clock_from_env(DEFAULT, {"CHUANYU_FAKE_CLOCK_START": "2026-11-30T09:29", "CHUANYU_FAKE_CLOCK_SPEED": "0"})


def _market(schedule_text: str) -> str:
    from exchange.config import example_toml
    return example_toml(2026).split("# The trading schedule the daemon drives")[0] + "[schedule]\n" + schedule_text


def test_rows_are_plain_commands():
    d, clock = driver(at(MON, "08:00"))
    rows = d.tick()
    assert isinstance(rows, np.ndarray) and rows.dtype.names[0] == "seq" and (rows["seq"] == 0).all()


# ------------------------------------------------------------------ call auctions
CALL = InstrumentStatus.CALL
CALLS = Schedule(enabled=True, hours=dataclasses.replace(
    DEFAULT.hours, opening_call=dt.time(9, 25), closing_call=dt.time(14, 57), call_random_end_s=30), call_seed=5)


def test_calls_open_and_close_the_day_and_end_late_by_a_seeded_draw():
    delays = {s: call_delay(CALLS, MON, s) for s in SYMBOLS}
    assert all(dt.timedelta() <= d <= dt.timedelta(seconds=30) for d in delays.values())
    assert delays == {s: call_delay(CALLS, MON, s) for s in SYMBOLS}          # the same draw every time
    days = [call_delay(CALLS, MON + dt.timedelta(days=k), SYMBOLS[0]) for k in range(20)]
    assert len(set(days)) > 5, "the end should vary from day to day"
    d = delays[SYMBOLS[0]]
    open_end, close_end = at(MON, "09:30") + d, at(MON, "15:00") + d

    def phase(when):
        return wanted_state(CALLS, when, SYMBOLS)[0].phase
    assert [phase(at(MON, t)) for t in ("09:20", "09:24:59", "09:25", "09:29:59")] == [PRE_OPEN, PRE_OPEN, CALL, CALL]
    assert (phase(open_end - dt.timedelta(seconds=1)), phase(open_end)) == (CALL, TRADING)
    assert [phase(at(MON, t)) for t in ("14:56:59", "14:57")] == [TRADING, CALL]
    assert (phase(close_end - dt.timedelta(seconds=1)), phase(close_end)) == (CALL, CLOSED)
    # the boundaries the driver wakes up for include each call's start and its drawn end
    assert next_boundary(CALLS, at(MON, "09:20"), SYMBOLS[:1]) == at(MON, "09:25")
    assert next_boundary(CALLS, at(MON, "09:29:59"), SYMBOLS[:1]) == at(MON, "09:30")    # the session's start
    assert next_boundary(CALLS, open_end - dt.timedelta(seconds=1), SYMBOLS[:1]) == open_end


def test_the_driver_moves_through_the_calls_and_the_engine_uncrosses_them():
    engine = Engine(market())
    driver = ScheduleDriver(CALLS, SYMBOLS, clock=lambda: at(MON, "09:00"))
    engine.process(driver.tick(at(MON, "09:00")))
    engine.process(driver.tick(at(MON, "09:25")))
    assert engine.instruments[0].status == CALL
    engine.submit(0, 1, Side.BUY, 10, 5010)
    engine.submit(0, 2, Side.SELL, 10, 4990)
    done = at(MON, "09:30") + call_delay(CALLS, MON, SYMBOLS[0])
    events = engine.process(driver.tick(done))
    trades = events[events["kind"] == EventKind.TRADE]
    assert trades[["price", "qty", "command"]].tolist() == [(5010, 10, CommandType.SET_INSTRUMENT_STATUS)]
    assert engine.instruments[0].status == TRADING


# ------------------------------------------------------------------ volatility interruptions
INTERRUPTING = Schedule(enabled=True, hours=dataclasses.replace(DEFAULT.hours, interruption_s=120,
                                                                call_random_end_s=30), call_seed=3)


def _interrupted_market():
    """An engine whose first instrument has a dynamic band of 1%, trading; a driver at 10:00."""
    engine = Engine(market())
    engine.process(commands.set_instrument_parameter(0, InstrumentParameter.DYNAMIC_BAND_BPS, 100))
    driver = ScheduleDriver(INTERRUPTING, SYMBOLS, clock=lambda: at(MON, "10:00"))
    engine.process(driver.tick(at(MON, "10:00")))
    engine.submit(0, 1, Side.SELL, 10, 5080)
    events = engine.submit(0, 2, Side.BUY, 10, 5100)            # 80 fen from 5000: interrupted
    assert engine.instruments[0].status == CALL
    driver.observe(events)
    return engine, driver


def test_the_driver_ends_a_volatility_interruption_after_its_length():
    engine, driver = _interrupted_market()
    end = driver.interrupted[0]
    assert at(MON, "10:02") <= end <= at(MON, "10:02:30")
    assert driver.tick(end - dt.timedelta(seconds=1)) is None
    rows = driver.tick(end)
    assert rows[["type", "instrument", "status"]].tolist() == [(CommandType.SET_INSTRUMENT_STATUS, 0, TRADING)]
    events = engine.process(rows)
    assert events[events["kind"] == EventKind.TRADE][["price", "qty"]].tolist() == [(5080, 10)]
    assert not driver.interrupted


def test_a_boundary_during_an_interruption_takes_it_over():
    engine, driver = _interrupted_market()
    driver.interrupted[0] = at(MON, "11:31")                   # a long one: it runs into the lunch break
    rows = driver.tick(at(MON, "11:30"))
    assert (CommandType.SET_INSTRUMENT_STATUS, 0, CLOSED) in rows[["type", "instrument", "status"]].tolist()
    events = engine.process(rows)
    assert events[events["kind"] == EventKind.TRADE]["price"].tolist() == [5080]   # CALL -> CLOSED uncrosses
    driver.observe(events)
    assert driver.tick(at(MON, "11:31")) is None and not driver.interrupted


def test_an_interruption_found_on_start_ends_after_its_length():
    driver = ScheduleDriver(INTERRUPTING, SYMBOLS, clock=lambda: at(MON, "10:00"),
                            statuses=[CALL, TRADING, TRADING])
    rows = driver.tick(at(MON, "10:00"))
    assert (CommandType.SET_INSTRUMENT_STATUS, 0) not in rows[["type", "instrument"]].tolist()
    assert driver.interrupted == {0: at(MON, "10:02")}          # no random end: its start is not known
    rows = driver.tick(at(MON, "10:02"))
    assert rows[["type", "instrument", "status"]].tolist() == [(CommandType.SET_INSTRUMENT_STATUS, 0, TRADING)]
