"""A market maker's day, measured from the engine's events (feeds.market_makers): a scripted
day whose presence, spread and size are worked out by hand, through both engines; the
measurement resumed from its state mid-day; the report files the disclosure writes."""
import json

import numpy as np
import pytest

from helpers import SC, open_account
from matching import InstrumentStatus, Side, TradeType, commands
from feeds.disclosure import Disclosure
from feeds.market_makers import MAKER_FIELDS, Obligation, Quoting

S = 1_000_000_000                       # engine ts are nanoseconds
MAKER, TAKER = 1, 2
FEES = {TradeType.CONTINUOUS: (30, 50)}
OBLIGATION = Obligation(MAKER, 0, max_spread_bps=100, min_qty=500, presence_pct=80)
BUY, SELL = Side.BUY, Side.SELL
TRADING, HALTED, CLOSED = InstrumentStatus.TRADING, InstrumentStatus.HALTED, InstrumentStatus.CLOSED


def scripted_day(engine, start: int = 0):
    """(engine ts, command) of one day on SCEA, second by second, from ``start`` seconds.

    | s        | the maker's quotes (bid / offer)      | counts as                       |
    |----------|---------------------------------------|---------------------------------|
    | 0-100    | closed                                | nothing                         |
    | 100-150  | none                                  | trading                         |
    | 150-200  | 600 @ 49.80 / none                    | trading, one-sided              |
    | 200-300  | 600 @ 49.80 / 600 @ 50.20: 80 bps     | present                         |
    | 300-350  | a 200 t sell leaves 400 on the bid    | two-sided, too small            |
    | 350-600  | replaced: 600 @ 49.85 / 600 @ 50.20   | present (20000 x 35 // 10005 = 69 bps) |
    | 600-700  | halted                                | nothing                         |
    | 700-800  | as before                             | present                         |
    | 800-900  | offer replaced at 51.00: 228 bps      | two-sided, too wide             |
    | 900-1100 | offer cancelled                       | trading, one-sided              |
    | 1100     | closed, end of day                    |                                 |
    """
    n = engine.instrument_index(SC)
    t = lambda s: (start + s) * S           # noqa: E731
    return [
        (t(0), commands.set_instrument_status(n, CLOSED, ts=t(0))),
        (t(100), commands.set_instrument_status(n, TRADING, ts=t(100))),
        (t(150), commands.new_order(n, MAKER, BUY, 600, 4980, ts=t(150))),
        (t(200), commands.new_order(n, MAKER, SELL, 600, 5020, ts=t(200))),
        (t(300), commands.new_order(n, TAKER, SELL, 200, 4980, ts=t(300))),
        (t(350), "replace bid"),
        (t(600), commands.set_instrument_status(n, HALTED, ts=t(600))),
        (t(700), commands.set_instrument_status(n, TRADING, ts=t(700))),
        (t(800), "replace offer"),
        (t(900), "cancel offer"),
        (t(1100), commands.set_instrument_status(n, CLOSED, ts=t(1100))),
        (t(1100), commands.end_of_day(n, ts=t(1100))),
    ]


def run(engine, steps, ids: dict):
    """Process the steps, resolving the maker's later commands by its orders' ids; yield each batch."""
    for ts, cmd in steps:
        if isinstance(cmd, str):
            cmd = {"replace bid": lambda: commands.replace(ids[BUY], MAKER, 4985, 600, ts=ts),
                   "replace offer": lambda: commands.replace(ids[SELL], MAKER, 5100, 600, ts=ts),
                   "cancel offer": lambda: commands.cancel(ids[SELL], MAKER, ts=ts)}[cmd]()
        events = engine.process(cmd)
        if int(cmd["account"][0]) == MAKER and int(cmd["type"][0]) == 1:
            ids[int(cmd["side"][0])] = int(events["order_id"][0])
        yield events


@pytest.fixture
def market(make_engine):
    engine = make_engine(risk=True, fees=FEES)
    open_account(engine, MAKER, 100_000_000, {SC: 10_000})
    open_account(engine, TAKER, 100_000_000, {SC: 10_000})
    engine.process(commands.set_fee_rebate(MAKER, TradeType.CONTINUOUS, 20))
    return engine


EXPECTED = {
    "account": MAKER, "symbol": SC, "trading_s": 900.0, "two_sided_s": 600.0, "present_s": 450.0,
    "presence_pct": 50.0, "required_presence_pct": 80,
    # (80 x 150 + 69 x 350 + 228 x 100) / 600
    "avg_spread_bps": round((80 * 150 + 69 * 350 + 228 * 100) / 600, 1), "max_spread_bps": 100,
    # (600 x 100 + 400 x 50 + 600 x 450) / 600
    "avg_size": round((600 * 100 + 400 * 50 + 600 * 450) / 600), "min_qty": 500, "compliant": False,
    # bought 200 t at 49.80: 996,000 fen at 30 - 20 bps
    "volume": 200, "trades": 1, "fees": 996_000 * 10 // 10_000,
}


def test_a_scripted_day_measures_as_worked_out_by_hand(market):
    quoting = Quoting([OBLIGATION], [SC], [TRADING])
    closed = [quoting.record(events) for events in run(market, scripted_day(market), {})]
    assert [c for c in closed if c] == [{0: [EXPECTED]}]
    assert set(EXPECTED) == set(MAKER_FIELDS)


def test_the_next_day_starts_from_nothing_and_a_met_obligation_is_compliant(market):
    quoting = Quoting([Obligation(MAKER, 0, max_spread_bps=300, min_qty=400, presence_pct=60)], [SC], [TRADING])
    ids: dict = {}
    for events in run(market, scripted_day(market), ids):
        quoting.record(events)
    n = market.instrument_index(SC)
    day2 = [commands.set_instrument_status(n, TRADING, ts=2000 * S),
            commands.new_order(n, MAKER, SELL, 500, 5010, ts=2000 * S),
            commands.set_instrument_status(n, CLOSED, ts=2100 * S), commands.end_of_day(n, ts=2100 * S)]
    rows = [quoting.record(market.process(cmd)) for cmd in day2][-1][0]
    # all day: the GTC bid 600 @ 49.85 kept from yesterday and 500 @ 50.10: 50 bps, 500 t
    assert rows[0]["trading_s"] == 100.0 and rows[0]["present_s"] == 100.0 and rows[0]["compliant"]
    assert rows[0]["avg_spread_bps"] == 20_000 * 25 // 9995 and rows[0]["avg_size"] == 500
    assert rows[0]["volume"] == 0 and rows[0]["fees"] == 0


def test_resumed_from_its_state_mid_day_it_measures_the_same(market, make_engine):
    steps = scripted_day(market)
    whole = Quoting([OBLIGATION], [SC], [TRADING])
    first = Quoting([OBLIGATION], [SC], [TRADING])
    batches = list(run(market, steps, {}))
    for events in batches[:7]:                   # up to the halt
        whole.record(events)
        first.record(events)
    state = json.loads(json.dumps(first.state()))          # as it goes into a snapshot
    second = Quoting([OBLIGATION], [SC], [CLOSED])
    second.restore(state)
    assert [whole.record(e) for e in batches[7:]] == [second.record(e) for e in batches[7:]]


def test_a_maker_without_orders_is_measured_absent_and_others_orders_do_not_count(market):
    quoting = Quoting([Obligation(3, 0, 100, 500, 80)], [SC], [TRADING])
    closed = [quoting.record(events) for events in run(market, scripted_day(market), {})]
    row = [c for c in closed if c][0][0][0]
    assert (row["account"], row["trading_s"], row["two_sided_s"], row["present_s"], row["avg_spread_bps"],
            row["compliant"]) == (3, 900.0, 0.0, 0.0, None, False)


def test_no_obligations_costs_nothing_and_returns_nothing(market):
    quoting = Quoting([], [SC], [TRADING])
    assert all(quoting.record(events) == {} for events in run(market, scripted_day(market), {}))


def test_the_report_carries_the_makers_rows_and_a_csv_beside_it(market, tmp_path):
    written = []
    with Disclosure(tmp_path, market.instruments, lambda a: 1, [OBLIGATION]) as disclosure:
        for events in run(market, scripted_day(market, start=1_780_000_000), {}):   # 2026-05-29 CST
            written += disclosure.record(events)
    names = sorted(p.name for p in written)
    assert names == ["eod-20260529.csv", "eod-20260529.json", "market-makers-20260529.csv"]
    report = json.loads((tmp_path / "eod-20260529.json").read_text())
    assert report["market_makers"] == [EXPECTED]
    lines = (tmp_path / "market-makers-20260529.csv").read_text().splitlines()
    assert lines[0] == ",".join(MAKER_FIELDS) and lines[1].startswith(f"{MAKER},{SC},900.0,600.0,450.0,50.0,80,")
    # the state kept with a snapshot carries the rows; a restore writes the same report again
    with Disclosure(tmp_path / "again", market.instruments, lambda a: 1, [OBLIGATION]) as again:
        again.restore(json.loads(json.dumps(disclosure.state())))
        assert again.state() == disclosure.state()


def test_without_makers_the_report_has_an_empty_list_and_no_csv(market, tmp_path):
    with Disclosure(tmp_path, market.instruments, lambda a: 1) as disclosure:
        for events in run(market, scripted_day(market, start=1_780_000_000), {}):
            disclosure.record(events)
    assert json.loads((tmp_path / "eod-20260529.json").read_text())["market_makers"] == []
    assert not list(tmp_path.glob("market-makers-*"))
    assert np.array_equal(disclosure.quoting.accounts, np.zeros(0, dtype=np.int32))
