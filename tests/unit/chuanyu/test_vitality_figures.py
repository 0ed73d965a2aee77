"""Vitality figures from end-of-day report files written by hand, and the SVG charts."""
import datetime as dt
import json

import pytest

from exchange.vitality import group, parse_deadline, read_days, turnover_so_far
from feeds.disclosure import REPORT_FIELDS
from web.charts import Series, bar_chart, line_chart
from web.vitality_page import page


def row(symbol, kind="ALLOWANCE", continuous=0, block=0, auction=0, cross=0, net=0, trades=0, held=1_000_000):
    r = dict.fromkeys(REPORT_FIELDS, 0)
    r.update(symbol=symbol, kind=kind, region="SC", continuous_volume=continuous, continuous_amount=continuous * 50,
             block_volume=block, auction_volume=auction, cross_regional_volume=cross, net_flow_sc_to_cq=net,
             trades=trades, in_circulation=held)
    return r


def report(directory, date, *rows):
    (directory / f"eod-{date}.json").write_text(json.dumps({"date": date, "instruments": list(rows)}))


def test_figures_per_day_week_and_a_june_deadline(tmp_path):
    report(tmp_path, "20270628", row("SCEA", continuous=10_000, cross=4_000, net=4_000, trades=7),
           row("CCER", kind="CER", continuous=5_000, trades=3, held=50_000))
    report(tmp_path, "20270630", row("SCEA", block=20_000, cross=20_000, net=-20_000, trades=1, held=990_000))
    report(tmp_path, "20270701", row("SCEA", continuous=1_000, auction=50_000, trades=4, held=1_040_000))
    days, problems = read_days(tmp_path)
    assert problems == [] and [d.date.day for d in days] == [28, 30, 1]
    periods = group(days, "period", parse_deadline("06-30"))
    assert [(p["label"], p["from"], p["to"], p["trading_days"]) for p in periods] == [
        ("period to 2027-06-30", "2026-07-01", "2027-06-30", 2), ("period to 2028-06-30", "2027-07-01", "2028-06-30", 1)]
    first = periods[0]
    # CERs count in volume and trades but not in allowance turnover or flow; block trades count as secondary
    assert (first["volume"], first["trades"], first["secondary_allowance_volume"]) == (35_000, 11, 30_000)
    assert (first["allowances_in_circulation"], first["turnover_rate"]) == (990_000, round(30_000 / 990_000, 6))
    assert (first["cross_regional_share"], first["net_allowance_flow_sc_to_cq"]) == (round(24_000 / 35_000, 6), -16_000)
    assert first["deadline_share"] == 1.0 and first["average_daily_volume"] == 17_500
    second = periods[1]
    assert (second["secondary_allowance_volume"], second["volume_by_type"]["auction"]) == (1_000, 50_000)
    weeks = group(days, "week")
    assert [(w["label"], w["from"], w["trading_days"]) for w in weeks] == [("2027-W26", "2027-06-28", 3)]
    assert turnover_so_far(days, (6, 30)) == [round(10_000 / 1_000_000, 6), round(30_000 / 990_000, 6),
                                              round(1_000 / 1_040_000, 6)]


def test_the_deadline_share_is_what_the_last_30_days_traded(tmp_path):
    report(tmp_path, "20261101", row("SCEA", continuous=3_000))
    report(tmp_path, "20261201", row("SCEA", continuous=500))            # the last 30 days: 2 to 31 December
    report(tmp_path, "20261202", row("SCEA", continuous=1_000))
    report(tmp_path, "20261230", row("SCEA", continuous=5_500))
    (period,) = group(read_days(tmp_path)[0], "period")
    assert period["deadline_share"] == 0.65


def test_old_reports_leave_turnover_and_trades_unknown_and_bad_files_are_named(tmp_path):
    old = {k: v for k, v in row("SCEA", continuous=500).items() if k not in ("trades", "in_circulation")}
    report(tmp_path, "20261207", old)
    report(tmp_path, "20261208", row("SCEA", continuous=500, trades=2, held=None))
    (tmp_path / "eod-20261209.json").write_text("{torn")
    report(tmp_path, "20261210", row("SCEA"))
    (tmp_path / "eod-20261210.json").rename(tmp_path / "eod-20261211.json")          # its date is not its name's
    days, problems = read_days(tmp_path, dt.date(2026, 12, 1), dt.date(2026, 12, 31))
    assert [d.date.day for d in days] == [7, 8]
    assert [p.split(":")[0] for p in problems] == ["eod-20261209.json", "eod-20261211.json"]
    (day_7, day_8) = group(days, "day")
    assert (day_7["trades"], day_7["turnover_rate"], day_8["trades"], day_8["turnover_rate"]) == (None, None, 2, None)
    (week,) = group(days, "week")
    assert week["trades"] is None and week["volume"] == 1_000
    html = page({by: group(days, by) for by in ("day", "week", "period")}, days)
    assert "n/a" in html and html.count("<svg") == 4


@pytest.mark.parametrize("text", ["02-29", "13-01", "1231", ""])
def test_a_deadline_must_be_a_day_of_every_year(text):
    with pytest.raises(ValueError, match="deadline"):
        parse_deadline(text)


def test_bars_hang_below_zero_and_names_are_escaped():
    svg = bar_chart("flow <SC>", ["w1", "w2"], [Series("a&b", [300, -200])], stacked=False)
    assert "flow &lt;SC&gt;" in svg and "a&amp;b" in svg and "<SC>" not in svg
    assert svg.count("<rect") == 2 + 1                       # two bars and the legend's mark
    with pytest.raises(ValueError, match=">= 0"):
        bar_chart("t", ["w1"], [Series("a", [-1])])
    with pytest.raises(ValueError, match="one value per label"):
        bar_chart("t", ["w1", "w2"], [Series("a", [1])])


def test_a_missing_value_breaks_the_line_and_log_positions_must_be_positive():
    svg = line_chart("t", ["1", "2", "3", "4"], [Series("s", [1, 2, None, 4])])
    assert svg.count("<polyline") == 2 and svg.count("<circle") == 3
    assert line_chart("t", ["1", "64"], [Series("s", [1, 2])], x=[1, 64], log_x=True).count("<circle") == 2
    with pytest.raises(ValueError, match="> 0"):
        line_chart("t", ["0"], [Series("s", [1])], x=[0], log_x=True)
