"""The disclosure files rebuilt after a crash (issue 13, F6/F7): a torn tape line is cut off and
rewritten, trades already on the tape are not written twice, and the report's figures come back
from :meth:`Disclosure.state` as a snapshot keeps them."""
import json

import numpy as np
import pytest

from feeds.disclosure import Disclosure
from matching import Engine, EventKind, Instrument, InstrumentKind, Region, Side, StpMode, commands

TS = 1_764_300_000_000_000_000          # 2025-11-28 11:20 in China Standard Time
SELL, BUY = Side.SELL, Side.BUY
REGIONS = {1: Region.SC, 2: Region.CQ, 3: Region.SC, 4: Region.CQ}
INSTRUMENTS = [Instrument("SCEA2026", region=Region.SC),
               Instrument("CCER2025", kind=InstrumentKind.CER, region=Region.CQ)]


def day_events() -> list:
    """The events of a day's batches, the end of day of the CER in the middle, then of both."""
    engine = Engine(INSTRUMENTS, default_stp=StpMode.OFF)
    batches = [
        np.concatenate([commands.new_order(0, 1, SELL, 100, 5010, ts=TS), commands.new_order(0, 2, BUY, 60, 5010, ts=TS),
                        commands.new_order(0, 3, BUY, 40, 5010, ts=TS)]),
        np.concatenate([commands.new_order(1, 2, SELL, 10, 5040, ts=TS), commands.new_order(1, 1, BUY, 10, 5040, ts=TS)]),
        commands.end_of_day(1, ts=TS),
        np.concatenate([commands.new_order(0, 4, SELL, 30, 5020, ts=TS), commands.new_order(0, 1, BUY, 30, 5020, ts=TS)]),
        np.concatenate([commands.new_order(0, 4, SELL, 5, 5020, ts=TS), commands.new_order(0, 3, BUY, 5, 5020, ts=TS)]),
        commands.end_of_day(-1, ts=TS),
    ]
    return [engine.process(b) for b in batches]


def files(directory) -> dict:
    return {p.name: p.read_bytes() for p in sorted(directory.iterdir()) if not p.name.endswith(".tmp")}


def never_crashed(tmp_path) -> dict:
    ref = tmp_path / "reference"
    with Disclosure(ref, INSTRUMENTS, REGIONS.get) as d:
        for events in day_events():
            d.record(events)
    return files(ref)


@pytest.mark.parametrize("crash_after", [1, 2, 3, 4])
def test_a_torn_tape_line_is_cut_and_replay_writes_each_trade_once(tmp_path, crash_after):
    events = day_events()
    live = tmp_path / "live"
    with Disclosure(live, INSTRUMENTS, REGIONS.get) as d:
        for e in events[:crash_after]:
            d.record(e)
    (tape,) = live.glob("trades-*.csv")
    with tape.open("ab") as f:
        f.write(b"99,2025-11-28T11:2")            # a kill in the middle of a write
    with Disclosure(live, INSTRUMENTS, REGIONS.get) as d:
        written = np.concatenate([e["trade_id"][e["kind"] == EventKind.TRADE] for e in events[:crash_after]])
        assert d._tape_through == written.max()    # the last whole row; the torn one is gone
        for e in events:                           # the whole journal replayed, from no snapshot
            d.record(e)
    assert files(live) == never_crashed(tmp_path)


def test_the_report_figures_come_back_from_the_snapshot_state(tmp_path):
    events = day_events()
    live = tmp_path / "live"
    with Disclosure(live, INSTRUMENTS, REGIONS.get) as d:
        for e in events[:4]:
            d.record(e)
        kept = json.loads(json.dumps(d.state()))   # as the snapshot's gateway tables keep it
    with Disclosure(live, INSTRUMENTS, REGIONS.get) as d:
        d.restore(kept)
        for e in events[4:]:                       # the journal after the snapshot
            d.record(e)
    assert files(live) == never_crashed(tmp_path)
    report = {r["symbol"]: r for r in json.loads((live / "eod-20251128.json").read_text())["instruments"]}
    # 60 SC -> CQ, 30 CQ -> SC, 5 CQ -> SC: 95 t across regions, 25 t net from Sichuan
    assert (report["SCEA2026"]["cross_regional_volume"], report["SCEA2026"]["net_flow_sc_to_cq"]) == (95, 25)
    assert list(report) == ["SCEA2026", "CCER2025"]      # the last end of day closed both, in order


def test_a_restart_without_snapshot_state_keeps_the_rows_already_reported(tmp_path):
    events = day_events()
    live = tmp_path / "live"
    with Disclosure(live, INSTRUMENTS, REGIONS.get) as d:
        for e in events[:3]:                        # the CER's end of day written
            d.record(e)
    with Disclosure(live, INSTRUMENTS, REGIONS.get) as d:
        for e in events:                            # recovery from the start of the journal
            d.record(e)
    assert files(live) == never_crashed(tmp_path)


def test_state_for_another_market_is_refused(tmp_path):
    with Disclosure(tmp_path, INSTRUMENTS, REGIONS.get) as d:
        state = d.state()
        state["cross"] = [0, 0, 0]
        with pytest.raises(ValueError, match="3 instruments"):
            d.restore(state)
