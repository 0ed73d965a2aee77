"""The ``[schedule]`` table of the market configuration: defaults, forms, and errors naming their key."""
import dataclasses
import datetime as dt
import logging
import zoneinfo

import pytest

from exchange import config as config_module
from exchange.config import CHINA, ConfigError, default_config, example_toml, parse_config

T = dt.time
# A market with no [schedule] table, to which the tests add one.
BASE = example_toml(2026).split("# The trading schedule the daemon drives")[0]


def schedule(text: str = ""):
    return parse_config(BASE + "[schedule]\n" + text).schedule


def test_the_embedded_market_drives_the_default_timetable():
    s = default_config().schedule
    assert s.enabled and s.timezone == "Asia/Shanghai"
    assert s.hours.pre_open == T(9, 15)
    assert s.hours.continuous == ((T(9, 30), T(11, 30)), (T(13, 0), T(15, 0)))
    assert s.hours.block == ((T(13, 0), T(15, 0)),)
    assert s.hours.end_of_day == T(15, 30)
    assert s.weekdays == frozenset(range(5)) and not s.holidays and not s.extra_trading_days
    # the embedded market opens with a call auction, and no closing one
    assert (s.hours.opening_call, s.hours.closing_call, s.hours.call_random_end_s, s.call_seed) == (
        T(9, 25), None, 30, 2026)


def test_an_empty_schedule_table_means_the_defaults_switched_on():
    embedded = default_config().schedule
    no_calls = dataclasses.replace(embedded.hours, opening_call=None, call_random_end_s=0)
    assert schedule() == dataclasses.replace(embedded, hours=no_calls, call_seed=0)


@pytest.mark.parametrize("text, key, message", [
    ('opening_call = "09:35"', "schedule.opening_call", "must be from the pre-open (09:15) to before the first"),
    ('opening_call = "09:10"', "schedule.opening_call", "must be from the pre-open"),
    ('closing_call = "11:00"', "schedule.closing_call", "must fall within the last continuous session (13:00-15:00)"),
    ('closing_call = "14:57"\ncall_random_end_s = 301', "schedule.call_random_end_s", "must be 0..300 seconds"),
    ('closing_call = "14:57"\ncall_random_end_s = 120\nend_of_day = "15:01"', "schedule.end_of_day",
     "is before the last session ends (15:02)"),
    ('opening_call = "nine"', "schedule.opening_call", 'must be a time "HH:MM"'),
    ('call_seed = -1', "schedule.call_seed", "must be 0 .. 2**63-1"),
])
def test_call_auction_hours_are_checked(text, key, message):
    with pytest.raises(ConfigError) as err:
        schedule(text)
    assert err.value.key == key and message in str(err.value)


def test_call_auction_hours_are_read():
    s = schedule('opening_call = "09:25"\nclosing_call = "14:57:30"\ncall_random_end_s = 20\ncall_seed = 9\n'
                 '[schedule.instruments.CCER2025]\nopening_call = ""\n')
    assert (s.hours.opening_call, s.hours.closing_call, s.hours.call_random_end_s, s.call_seed) == (
        T(9, 25), T(14, 57, 30), 20, 9)
    assert s.hours_for("CCER2025").opening_call is None and s.hours_for("CCER2025").closing_call == T(14, 57, 30)
    assert "opening call 09:25, closing call 14:57:30 (ends up to 20 s late)" in s.describe()


def test_without_a_schedule_table_the_daemon_drives_nothing():
    assert parse_config(BASE).schedule.enabled is False


def test_the_example_prints_the_section_with_comments():
    text = example_toml(2026)
    section = text[text.index("[schedule]"):]
    for key in ("enabled", "timezone", "pre_open", "continuous", "block", "end_of_day", "weekdays",
                "holidays", "extra_trading_days"):
        line = next(ln for ln in section.splitlines() if ln.startswith(key))
        assert "#" in line, line
    assert "# [schedule.instruments.CCER2025]" in section


def test_every_form_is_read():
    s = schedule('enabled = false\ntimezone = "UTC+08:00"\npre_open = 09:00:00\n'
                 'continuous = [["09:30", "11:30:30"]]\nblock = []\nend_of_day = "16:00"\n'
                 'weekdays = ["monday", "Tue", "SAT"]\nholidays = ["2026-10-01", 2026-10-02]\n'
                 'extra_trading_days = ["2026-10-11"]\n'
                 '[schedule.instruments.CCER2025]\nblock = [["14:00", "15:00"]]\n')
    assert not s.enabled
    assert s.tz.utcoffset(None) == dt.timedelta(hours=8)
    assert s.hours.pre_open == T(9) and s.hours.continuous == ((T(9, 30), T(11, 30, 30)),)
    assert s.hours.block == () and s.hours.end_of_day == T(16)
    assert s.weekdays == {0, 1, 5}
    assert s.holidays == {dt.date(2026, 10, 1), dt.date(2026, 10, 2)}
    assert s.extra_trading_days == {dt.date(2026, 10, 11)}
    ccer = s.hours_for("CCER2025")
    assert ccer.block == ((T(14), T(15)),) and ccer.continuous == s.hours.continuous
    assert s.hours_for("SCEA2026") is s.hours


@pytest.mark.parametrize("text, key, words", [
    ('continuous = [["09:30", "11:30"], ["15:00", "13:00"]]', "schedule.continuous[1]", "not after its start"),
    ('continuous = [["09:30", "11:30"], ["11:00", "15:00"]]', "schedule.continuous[1]", "overlap"),
    ('continuous = [["09:30", "11:30"], ["13:00", "25:00"]]', "schedule.continuous[1]", "HH:MM"),
    ('continuous = [["9:30", "11:30"]]', "schedule.continuous[0]", "HH:MM"),
    ('continuous = [["09:30"]]', "schedule.continuous[0]", "pair"),
    ('continuous = "09:30-11:30"', "schedule.continuous", "list"),
    ('block = [["13:00", "13:00"]]', "schedule.block[0]", "not after its start"),
    ('pre_open = "09:45"', "schedule.pre_open", "after the first continuous session"),
    ('pre_open = "9h15"', "schedule.pre_open", "HH:MM"),
    ('end_of_day = "14:59"', "schedule.end_of_day", "before the last session ends"),
    ('block = [["15:00", "16:00"]]', "schedule.block", "before the last session ends"),
    ('timezone = "Mars/Olympus_Mons"', "schedule.timezone", "unknown time zone"),
    ('weekdays = ["Mon", "Tue", "Funday"]', "schedule.weekdays[2]", "day name"),
    ('holidays = ["2026-02-30"]', "schedule.holidays[0]", "YYYY-MM-DD"),
    ('holidays = ["2026-10-01"]\nextra_trading_days = ["2026-10-01"]', "schedule.holidays", "also in"),
    ("enabled = 1", "schedule.enabled", "bool"),
    ("colour = 1", "schedule.colour", "unknown key"),
    ('[schedule.instruments.NOPE2026]\nblock = []', "schedule.instruments.NOPE2026", "no such instrument"),
    ('[schedule.instruments.SCEA2026]\nblock = [["13:00", "12:00"]]', "schedule.instruments.SCEA2026.block[0]",
     "not after"),
    ('[schedule.instruments.SCEA2026]\nlunch = 1', "schedule.instruments.SCEA2026.lunch", "unknown key"),
])
def test_a_bad_schedule_names_its_key(text, key, words):
    with pytest.raises(ConfigError) as err:
        schedule(text + "\n")
    assert err.value.key == key and str(err.value).startswith(key + ":")
    assert words in str(err.value)


def test_without_a_time_zone_database_china_falls_back_to_a_fixed_utc_plus_8(monkeypatch, caplog):
    def missing(name):
        raise zoneinfo.ZoneInfoNotFoundError(name)
    monkeypatch.setattr(config_module.zoneinfo, "ZoneInfo", missing)
    with caplog.at_level(logging.WARNING, logger="chuanyu.config"):
        s = schedule()
    assert s.tz is CHINA and s.tz_fallback and s.timezone == "Asia/Shanghai"
    assert any("fixed UTC+08:00" in r.getMessage() for r in caplog.records)
    assert "fixed UTC+08:00" in s.describe()
    with pytest.raises(ConfigError, match="unknown time zone"):
        schedule('timezone = "Europe/Berlin"')      # no silent guess for other zones
