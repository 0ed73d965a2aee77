"""The web console's day figures: counting a batch of trades at once (what the live feed and
the tape reading do) gives what the plain rule, one trade at a time (``InstrumentDay.add``),
gives, across midnight too."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from feeds.messages import FEED_DTYPE, FeedType
from matching import Side, TradeType
from web.market import InstrumentDay, Trade, _cst, intraday_bars

MIDNIGHT = 1_765_123_200_000_000_000 - 8 * 3600 * 10**9      # 2025-12-08 00:00 in China Standard Time


@st.composite
def trades(draw):
    n = draw(st.integers(1, 40))
    gaps = draw(st.lists(st.integers(0, 3 * 10**9), min_size=n, max_size=n))
    start = MIDNIGHT - draw(st.integers(0, 20)) * 10**9
    rows = np.zeros(n, dtype=FEED_DTYPE)
    rows["msg_type"] = FeedType.TRADE
    rows["trade_id"] = np.arange(1, n + 1) * draw(st.integers(1, 3))
    rows["ts"] = start + np.cumsum(gaps)
    rows["price"] = draw(st.lists(st.integers(4000, 6000), min_size=n, max_size=n))
    rows["qty"] = draw(st.lists(st.integers(1, 10**6), min_size=n, max_size=n))
    rows["trade_type"] = draw(st.lists(st.sampled_from([int(t) for t in TradeType]), min_size=n, max_size=n))
    rows["side"] = draw(st.lists(st.sampled_from([0, int(Side.BUY), int(Side.SELL)]), min_size=n, max_size=n))
    return rows, draw(st.integers(1, n))


def one_by_one(rows) -> InstrumentDay:
    day = InstrumentDay("SCEA")
    for r in rows:
        side = int(r["side"])
        day.add(Trade(int(r["trade_id"]), _cst(int(r["ts"])), int(r["price"]),
                      int(r["qty"]), TradeType(int(r["trade_type"])).name, Side(side).name if side else None))
    return day


def figures(day: InstrumentDay):
    return (day.date, day.open, day.high, day.low, day.last, day.previous_close, day.volume, day.amount, day.bars,
            list(day.trades), day.through, intraday_bars(day))


def test_the_last_nanoseconds_of_a_second_stay_in_it():
    assert _cst(1_765_094_402_999_999_360).second == 2       # as a float, ts / 1e9 rounds up to :03


@settings(max_examples=200, deadline=None)
@given(trades())
def test_a_batch_counts_as_its_trades_one_by_one(case):
    rows, cut = case
    batched = InstrumentDay("SCEA")
    assert batched.add_rows(rows[:cut]) + batched.add_rows(rows[cut:]) + batched.add_rows(rows) <= len(rows)
    assert figures(batched) == figures(one_by_one(rows))


def test_the_tape_is_read_once_and_then_only_what_was_appended(tmp_path):
    """The day a web console started mid-day sees: the daemon's tape (written by the real
    disclosure code), read whole, then only the rows appended since; a torn last row waits."""
    import time
    from types import SimpleNamespace

    from feeds.disclosure import Disclosure
    from matching import Engine, Instrument, Region, StpMode, commands
    from web.market import MarketView

    now = time.time_ns()
    instruments = [Instrument("SCEA", region=Region.SC), Instrument("CQEA", region=Region.CQ)]
    engine = Engine(instruments, default_stp=StpMode.OFF)
    view = MarketView(tmp_path)
    view.client = SimpleNamespace(symbols=["SCEA", "CQEA"])
    view.days = {s: InstrumentDay(s) for s in view.client.symbols}

    def trade(n, price, qty, ts):
        return np.concatenate([commands.new_order(n, 1, Side.SELL, qty, price, ts=ts),
                               commands.new_order(n, 2, Side.BUY, qty, price, ts=ts)])
    with Disclosure(tmp_path, instruments, lambda a: Region.SC if a == 1 else Region.CQ) as disclosure:
        disclosure.record(engine.process(np.concatenate([trade(0, 5000, 10, now), trade(1, 4950, 5, now),
                                                         trade(0, 5010, 20, now + 10**9)])))
        view._read_tape()
        assert (view.days["SCEA"].volume["CONTINUOUS"], view.days["SCEA"].last, view.days["CQEA"].last) == (30, 5010, 4950)
        disclosure.record(engine.process(trade(0, 4990, 7, now + 2 * 10**9)))
        (tape,) = tmp_path.glob("trades-*.csv")
        with tape.open("ab") as f:
            f.write(b"99,2026-12-07T10:00")                   # a row being written
        view._read_tape()
        view._read_tape()
    sc = view.days["SCEA"]
    assert (sc.volume["CONTINUOUS"], sc.open, sc.high, sc.low, sc.last, sc.through) == (37, 5000, 5010, 4990, 4990, 4)
    assert [t.qty for t in sc.trades] == [10, 20, 7]
