"""The trading schedule the daemon drives: phases, block windows and the end of day.

The engine knows nothing of clocks: it changes phase only when it is told to, by commands.
This module turns the ``[schedule]`` of the market configuration (:class:`exchange.config.Schedule`)
and the time of day into those commands.

- :func:`wanted_state` is a pure function: (schedule, local date and time) -> what each
  instrument should be doing: its phase (``PRE_OPEN``, ``CALL``, ``TRADING`` or ``CLOSED``),
  whether its block window is open, and whether that trading date's end of day is due and
  not yet done.
- Call auctions: from ``opening_call`` until continuous trading starts, and from
  ``closing_call`` until the last continuous session ends, the phase is ``CALL``; the engine
  uncrosses the book at one price when the call ends (to TRADING, or to CLOSED after a
  closing call). With ``call_random_end_s`` each call ends up to that many seconds late, a
  whole number of seconds drawn per trading date and instrument from ``call_seed``
  (:func:`call_delay`): the same on every node and after a restart, unknown to traders.
- Volatility interruptions: when a trade would have printed outside an instrument's dynamic
  band the engine puts it into ``CALL`` by itself (INSTRUMENT_STATUS, reason VOLATILITY).
  The driver ends that call ``interruption_s`` later (plus up to ``call_random_end_s``, a
  draw seeded by ``call_seed``, the engine time of the command that started it and the
  symbol: the same on every node) with the phase the timetable
  wants then: TRADING uncrosses it; a boundary reached meanwhile (the lunch break, a closing
  call) takes it over. An instrument found in CALL on start while the timetable wants
  TRADING (an interruption under way when the daemon stopped, or an operator's call) is
  ended ``interruption_s`` after the start.
- :class:`ScheduleDriver` is what the daemon loop calls once per iteration. It compares the
  wanted state with what it last applied and returns the ``COMMAND_DTYPE`` rows to add to that
  iteration's batch (``set_instrument_status``, ``set_block_window``, ``end_of_day``), so that
  they are sequenced (and journaled) like every other command. On start it applies the state
  for "now" at once.

Rules the driver keeps:

- It only acts at boundaries (and on start): an operator's manual phase change stands until
  the next boundary of the timetable.
- An operator's HALT is never overridden: a halted instrument gets no phase command from the
  schedule until the operator resumes it; the resume (to TRADING) is followed, in the same
  batch, by the phase the timetable wants now (a resume during the lunch break leaves the
  instrument CLOSED). Moving a halted instrument to PRE_OPEN or CLOSED instead is a manual
  phase like any other: it stands until the next boundary.
- The end of day runs once per trading date and instrument, halted or not. A trading date
  whose end of day was missed (the daemon was down at the time) is closed before the next
  date's trading starts. An operator's ``end_of_day`` counts: after the instrument's last
  session of a trading date it is that date's end of day; earlier, it closes the earlier date
  still open, if any.
- Block windows follow the timetable regardless of halts (a halt refuses block trades anyway).

The clock is any callable returning a ``datetime`` (aware: converted to the schedule's zone;
naive: taken as local time already), so tests need no sleeping. :func:`fake_clock` runs from a
chosen local time (at its first reading) at a chosen speed; :func:`clock_from_env` builds one from
``CHUANYU_FAKE_CLOCK_START`` (an ISO local date and time) and ``CHUANYU_FAKE_CLOCK_SPEED``
(default 1), a test and demo aid.

>>> import datetime as dt
>>> from exchange.config import Schedule
>>> s = Schedule(enabled=True)
>>> [(w.phase.name, w.block_open) for w in wanted_state(s, dt.datetime(2026, 11, 30, 13, 5), ["SCEA"])]
[('TRADING', True)]
>>> wanted_state(s, dt.datetime(2026, 11, 30, 12, 0), ["SCEA"])[0].phase.name
'CLOSED'
"""
from __future__ import annotations

import datetime as dt
import os
import random
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from matching import CommandType, EventKind, InstrumentStatus, StatusCause, commands

from .config import Hours, Schedule

__all__ = ["Wanted", "wanted_state", "phase_at", "call_delay", "next_boundary", "local_time", "ScheduleDriver",
           "real_clock", "fake_clock", "clock_from_env", "FAKE_CLOCK_START", "FAKE_CLOCK_SPEED"]

FAKE_CLOCK_START = "CHUANYU_FAKE_CLOCK_START"
FAKE_CLOCK_SPEED = "CHUANYU_FAKE_CLOCK_SPEED"
RECHECK = dt.timedelta(seconds=60)      # recompute at least this often, boundary or not

_TRADING, _HALTED = InstrumentStatus.TRADING, InstrumentStatus.HALTED
_CLOSED, _PRE_OPEN, _CALL = InstrumentStatus.CLOSED, InstrumentStatus.PRE_OPEN, InstrumentStatus.CALL
_STATUSES = frozenset(int(s) for s in InstrumentStatus)
_ALL = commands.ALL_INSTRUMENTS


@dataclass(frozen=True)
class Wanted:
    """What the timetable wants of one instrument at one moment."""

    phase: InstrumentStatus          # PRE_OPEN, CALL, TRADING or CLOSED
    block_open: bool
    trading_day: dt.date | None      # the date, if it is a trading date
    eod_due: bool                    # that date's end of day is due and not yet done

    @property
    def day_started(self) -> bool:
        """Trading of the date has begun (pre-open, continuous or block)."""
        return self.trading_day is not None and (self.phase != _CLOSED or self.block_open)


def _within(t: dt.time, spans) -> bool:
    return any(start <= t < end for start, end in spans)


def _plus(t: dt.time, delay: dt.timedelta) -> dt.time:
    return min((dt.datetime.combine(dt.date.min, t) + delay).time(), dt.time.max) if delay else t


def call_delay(schedule: Schedule, day: dt.date, symbol: str) -> dt.timedelta:
    """How late the calls of ``symbol`` end on ``day``: 0 ..``call_random_end_s`` whole
    seconds, drawn from the schedule's ``call_seed``, the date and the symbol.

    >>> from exchange.config import Hours, Schedule, DEFAULT_HOURS
    >>> import dataclasses
    >>> s = Schedule(enabled=True, hours=dataclasses.replace(DEFAULT_HOURS, call_random_end_s=30), call_seed=7)
    >>> call_delay(s, dt.date(2026, 11, 30), "SCEA") == call_delay(s, dt.date(2026, 11, 30), "SCEA")
    True
    """
    most = schedule.hours_for(symbol).call_random_end_s
    if not most:
        return dt.timedelta()
    draw = random.Random(f"{schedule.call_seed}/{day.isoformat()}/{symbol}").randint(0, most)
    return dt.timedelta(seconds=draw)


def phase_at(hours: Hours, t: dt.time, delay: dt.timedelta = dt.timedelta()) -> tuple[InstrumentStatus, bool]:
    """(phase, block window open) at local time ``t`` of a trading date whose calls end
    ``delay`` late.

    Sessions are half-open, ``[start, end)``: at 11:30 the morning session is over.
    """
    if hours.continuous and hours.opening_call is not None and (
            hours.opening_call <= t < _plus(hours.continuous[0][0], delay)):
        phase = _CALL
    elif hours.continuous and hours.closing_call is not None and (
            hours.closing_call <= t < _plus(hours.continuous[-1][1], delay)):
        phase = _CALL
    elif _within(t, hours.continuous):
        phase = _TRADING
    elif hours.continuous and hours.pre_open <= t < hours.continuous[0][0]:
        phase = _PRE_OPEN
    else:
        phase = _CLOSED
    return phase, _within(t, hours.block)


def local_time(schedule: Schedule, now: dt.datetime) -> dt.datetime:
    """``now`` as a naive local date and time of the schedule's zone."""
    if now.tzinfo is not None:
        now = now.astimezone(schedule.tz).replace(tzinfo=None)
    return now


def wanted_state(schedule: Schedule, now: dt.datetime, symbols: Sequence[str],
                 eod_done: Sequence[dt.date | None] | None = None) -> list[Wanted]:
    """What each instrument (by symbol, in index order) should be doing at ``now``.

    ``eod_done[n]``: the latest date whose end of day instrument ``n`` has had (None: none).
    Outside trading dates everything is CLOSED, block windows shut and no end of day is due.
    """
    now = local_time(schedule, now)
    day, t = now.date(), now.time()
    if not schedule.is_trading_day(day):
        return [Wanted(_CLOSED, False, None, False) for _ in symbols]
    out = []
    for n, symbol in enumerate(symbols):
        hours = schedule.hours_for(symbol)
        phase, block = phase_at(hours, t, call_delay(schedule, day, symbol))
        done = eod_done[n] if eod_done is not None else None
        due = t >= hours.end_of_day and (done is None or done < day)
        out.append(Wanted(phase, block, day, due))
    return out


def next_boundary(schedule: Schedule, now: dt.datetime, symbols: Sequence[str]) -> dt.datetime:
    """The first moment after ``now`` (naive local) at which :func:`wanted_state` may change."""
    now = local_time(schedule, now)
    midnight = dt.datetime.combine(now.date() + dt.timedelta(days=1), dt.time())
    if not schedule.is_trading_day(now.date()):
        return midnight
    times = set()
    for symbol in symbols:
        h = schedule.hours_for(symbol)
        times.update((h.pre_open, h.end_of_day))
        for start, end in h.continuous + h.block:
            times.update((start, end))
        if h.continuous and (h.opening_call or h.closing_call):
            delay = call_delay(schedule, now.date(), symbol)
            times.update(t for t in (h.opening_call, h.closing_call) if t is not None)
            times.update((_plus(h.continuous[0][0], delay), _plus(h.continuous[-1][1], delay)))
    later = [t for t in times if t > now.time()]
    return dt.datetime.combine(now.date(), min(later)) if later else midnight


# ------------------------------------------------------------------ clocks
def real_clock(schedule: Schedule) -> Callable[[], dt.datetime]:
    """The wall clock in the schedule's zone."""
    tz = schedule.tz
    return lambda: dt.datetime.now(tz)


def fake_clock(start: dt.datetime, speed: float = 1.0,
               monotonic: Callable[[], float] = time.monotonic) -> Callable[[], dt.datetime]:
    """A clock that reads ``start`` at its first reading and runs ``speed`` times as fast as
    real time from then on (in the daemon: from the first turn of its loop)."""
    if not speed > 0:
        raise ValueError("the speed must be > 0")
    t0 = None

    def clock() -> dt.datetime:
        nonlocal t0
        now = monotonic()
        if t0 is None:
            t0 = now
        return start + dt.timedelta(seconds=(now - t0) * speed)
    return clock


def clock_from_env(schedule: Schedule, environ: Mapping[str, str] | None = None):
    """``(clock, description)`` from ``CHUANYU_FAKE_CLOCK_START`` / ``_SPEED``, or ``(None, None)``.

    The start is an ISO date and time, local to the schedule's zone unless it carries an
    offset. ValueError names the variable when either is malformed.
    """
    env = os.environ if environ is None else environ
    text = env.get(FAKE_CLOCK_START, "").strip()
    if not text:
        return None, None
    try:
        start = dt.datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"{FAKE_CLOCK_START}={text!r}: not an ISO date and time "
                         "(e.g. 2026-11-30T09:29:00)") from None
    start = local_time(schedule, start)
    speed_text = env.get(FAKE_CLOCK_SPEED, "").strip() or "1"
    try:
        speed = float(speed_text)
        if not 0 < speed < 1e6:
            raise ValueError
    except ValueError:
        raise ValueError(f"{FAKE_CLOCK_SPEED}={speed_text!r}: must be a number > 0") from None
    return fake_clock(start, speed), f"fake clock from {start.isoformat()} at {speed:g}x ({FAKE_CLOCK_START})"


# ------------------------------------------------------------------ the driver
def day_value(day: dt.date) -> int:
    """A trading date as the ``value`` of its END_OF_DAY command (YYYYMMDD): journaled with the
    command, so that replay and standbys learn which dates were closed."""
    return day.year * 10_000 + day.month * 100 + day.day


def value_day(value: int) -> dt.date | None:
    """The trading date an END_OF_DAY command's ``value`` names (None: none, or not a date)."""
    try:
        return dt.date(value // 10_000, value // 100 % 100, value % 100) if value > 0 else None
    except ValueError:
        return None


def closing(n: int, day: dt.date) -> np.ndarray:
    """The END_OF_DAY command of instrument ``n`` for trading date ``day``."""
    row = commands.end_of_day(n)
    row["value"] = day_value(day)
    return row


def _iso(d: dt.date | None) -> str | None:
    return d.isoformat() if d is not None else None


def _date(text) -> dt.date | None:
    return dt.date.fromisoformat(text) if text else None


class ScheduleDriver:
    """Drives the timetable: the daemon loop asks it each iteration for the commands to inject.

    Parameters
    ----------
    schedule : Schedule
    symbols : sequence of str
        The instruments in index order.
    clock : callable
        Returns the current ``datetime`` (see the module docstring).
    statuses : sequence of int, optional
        The engine's current status per instrument (after a restore an instrument may be
        HALTED); default all TRADING, as a new engine starts.
    state : dict, optional
        What :meth:`state` returned before a restart (which dates have had their end of day).
    """

    def __init__(self, schedule: Schedule, symbols: Sequence[str], clock: Callable[[], dt.datetime],
                 statuses: Sequence[int] | None = None, state: dict | None = None) -> None:
        self.schedule = schedule
        self.symbols = list(symbols)
        self.clock = clock
        n = len(self.symbols)
        self.actual = [int(s) for s in statuses] if statuses is not None else [int(_TRADING)] * n
        self.halted = [s == _HALTED for s in self.actual]
        self.applied_phase: list = [None] * n      # the timetable's phase last acted on
        self.applied_block: list = [None] * n      # the block window last set
        self.eod_done: list = [None] * n           # latest date that had its end of day
        self.day_open: list = [None] * n           # latest trading date whose trading began
        self._reapply: set = set()
        self._next_check: dt.datetime | None = None  # None: due now
        self.interrupted: dict[int, dt.datetime] = {}   # instrument -> when its interruption ends
        self._started = False
        if state:
            self.load(state)

    # -------------------------------------------------------------- the loop's calls
    def now(self) -> dt.datetime:
        """The clock's time as naive local time."""
        return local_time(self.schedule, self.clock())

    def due(self, now: dt.datetime | None = None) -> bool:
        """Whether :meth:`tick` may have work: a boundary passed, a start, or a resume."""
        if self._next_check is None:
            return True
        return (self.now() if now is None else local_time(self.schedule, now)) >= self._next_check

    def tick(self, now: dt.datetime | None = None) -> np.ndarray | None:
        """The commands to add to this iteration's batch, or None.

        In order: end of day for earlier trading dates left open, phase changes, block
        windows, then this date's end of day when it is due.
        """
        now = self.now() if now is None else local_time(self.schedule, now)
        if self._next_check is not None and now < self._next_check:
            return None
        wanted = wanted_state(self.schedule, now, self.symbols, self.eod_done)
        today = now.date()
        rows = []
        if not self._started:                   # an interruption under way when the daemon stopped
            self._started = True
            for n, w in enumerate(wanted):
                if self.actual[n] == _CALL and w.phase == _TRADING:
                    self._interrupted(n, now)
        for n in range(len(self.symbols)):          # a missed end of day comes before all else
            opened, done = self.day_open[n], self.eod_done[n]
            if opened is not None and opened < today and (done is None or done < opened):
                rows.append(closing(n, opened))
                self.eod_done[n] = opened
        for n, w in enumerate(wanted):
            if w.phase != self.applied_phase[n] or n in self._reapply:
                first = self.applied_phase[n] is None
                self.applied_phase[n] = w.phase
                if first and n in self.interrupted:
                    continue                        # on start: the interruption's end moves it on
                if not self.halted[n] and self.actual[n] != w.phase:
                    rows.append(commands.set_instrument_status(n, w.phase))
                    self.actual[n] = int(w.phase)
        for n, end in sorted(self.interrupted.items()):
            if self.actual[n] != _CALL or self.halted[n]:
                del self.interrupted[n]             # a boundary, a halt or the operator ended it
            elif now >= end:
                del self.interrupted[n]
                if wanted[n].phase != _CALL:        # a call the timetable wants goes on
                    rows.append(commands.set_instrument_status(n, wanted[n].phase))
                    self.actual[n] = int(wanted[n].phase)
        for n, w in enumerate(wanted):
            if w.block_open != self.applied_block[n]:
                rows.append(commands.set_block_window(n, w.block_open))
                self.applied_block[n] = w.block_open
        for n, w in enumerate(wanted):
            if w.day_started and (self.day_open[n] is None or self.day_open[n] < w.trading_day):
                self.day_open[n] = w.trading_day
            if w.eod_due:
                rows.append(closing(n, w.trading_day))
                self.eod_done[n] = w.trading_day
                if self.day_open[n] is None or self.day_open[n] < w.trading_day:
                    self.day_open[n] = w.trading_day
        self._reapply.clear()
        self._next_check = min(next_boundary(self.schedule, now, self.symbols), now + RECHECK,
                               *self.interrupted.values())
        return np.concatenate(rows) if rows else None

    def _interrupted(self, n: int, now: dt.datetime, started_ns: int | None = None) -> None:
        """Instrument ``n`` went into a volatility interruption at ``now`` (by the command of
        engine time ``started_ns``, which seeds its late end: the same draw on every node and
        in every replay; None: no late end): note when it ends."""
        hours = self.schedule.hours_for(self.symbols[n])
        late = 0
        if started_ns is not None and hours.call_random_end_s:
            draw = random.Random(f"{self.schedule.call_seed}/{started_ns}/{self.symbols[n]}")
            late = draw.randint(0, hours.call_random_end_s)
        end = now + dt.timedelta(seconds=hours.interruption_s + late)
        self.interrupted[n] = end
        if self._next_check is None or end < self._next_check:
            self._next_check = end

    def note_operator(self, rows: np.ndarray, now: dt.datetime | None = None) -> None:
        """Take note of operator commands queued for the next batch (the admin path).

        Called before :meth:`tick` of the same batch, so that a halt is never followed by a
        scheduled phase, and a resume is followed at once by the scheduled phase.
        """
        n_ins = len(self.symbols)
        local = None
        for row in rows:
            kind = int(row["type"])
            if kind == CommandType.SET_INSTRUMENT_STATUS:
                n, status = int(row["instrument"]), int(row["status"])
                if not 0 <= n < n_ins or status not in _STATUSES:
                    continue                  # the engine rejects it; nothing changes
                if status == _HALTED:
                    self.halted[n] = True
                elif self.halted[n]:
                    self.halted[n] = False
                    if status == _TRADING:        # a resume: back to the phase of the timetable
                        self._reapply.add(n)
                        self._next_check = None
                self.actual[n] = status
            elif kind == CommandType.END_OF_DAY:
                n = int(row["instrument"])
                targets = range(n_ins) if n == _ALL else [n] if 0 <= n < n_ins else []
                if local is None:
                    local = self.now() if now is None else local_time(self.schedule, now)
                closed = [self._operator_end_of_day(n, local) for n in targets]
                if any(closed):
                    row["value"] = day_value(max(d for d in closed if d))

    def closed(self, rows: np.ndarray) -> None:
        """Learn from END_OF_DAY commands sequenced before (replayed after a crash, or applied
        by a standby) which trading dates had their end of day: each row's ``value``."""
        n_ins = len(self.symbols)
        for n, value in zip(rows["instrument"].tolist(), rows["value"].tolist()):
            day = value_day(value)
            if day is None:
                continue
            for k in (range(n_ins) if n == _ALL else [n] if 0 <= n < n_ins else []):
                if self.eod_done[k] is None or self.eod_done[k] < day:
                    self.eod_done[k] = day
                if self.day_open[k] is None or self.day_open[k] < day:
                    self.day_open[k] = day

    def _operator_end_of_day(self, n: int, now: dt.datetime) -> dt.date | None:
        day = now.date()
        hours = self.schedule.hours_for(self.symbols[n])
        if self.schedule.is_trading_day(day) and now.time() >= hours.last_end:
            closes = day                       # the trading is over: this is the date's end of day
        elif self.day_open[n] is not None and self.day_open[n] < day:
            closes = self.day_open[n]          # closes an earlier date left open
        else:
            return None
        if self.eod_done[n] is None or self.eod_done[n] < closes:
            self.eod_done[n] = closes
        return closes

    def observe(self, events: np.ndarray) -> None:
        """Follow the engine's INSTRUMENT_STATUS events (the status each instrument really has)."""
        changes = events[events["kind"] == EventKind.INSTRUMENT_STATUS]
        for n, value, cause, ts in zip(changes["instrument"].tolist(), changes["value"].tolist(),
                                       changes["reason"].tolist(), changes["ts"].tolist()):
            if 0 <= n < len(self.symbols):
                self.actual[n] = value
                self.halted[n] = value == _HALTED
                if value == _CALL and cause == StatusCause.VOLATILITY:
                    self._interrupted(n, self.now(), ts)

    # -------------------------------------------------------------- persistence and status
    def state(self) -> dict:
        """What must survive a restart, JSON-ready, keyed by symbol."""
        return {"eod_done": {s: _iso(d) for s, d in zip(self.symbols, self.eod_done)},
                "day_open": {s: _iso(d) for s, d in zip(self.symbols, self.day_open)}}

    def load(self, state: dict) -> None:
        for n, symbol in enumerate(self.symbols):
            self.eod_done[n] = _date(state.get("eod_done", {}).get(symbol))
            self.day_open[n] = _date(state.get("day_open", {}).get(symbol))

    def describe(self) -> dict:
        """The schedule's part of the admin ``status`` reply."""
        now = self.now()
        wanted = wanted_state(self.schedule, now, self.symbols, self.eod_done)
        return {
            "enabled": True,
            "timezone": self.schedule.timezone,
            "now": now.isoformat(timespec="seconds"),
            "trading_day": self.schedule.is_trading_day(now.date()),
            "next_boundary": next_boundary(self.schedule, now, self.symbols).isoformat(timespec="seconds"),
            "instruments": [
                {"symbol": s, "scheduled_phase": w.phase.name, "block_window": bool(self.applied_block[n]),
                 "halted": self.halted[n], "eod_done": _iso(self.eod_done[n]), "day_open": _iso(self.day_open[n])}
                for n, (s, w) in enumerate(zip(self.symbols, wanted))],
        }
