"""The demo's dashboard and end-of-day report at 80x24 and on wide terminals: nothing wider
than the terminal, the live view no taller, and every symbol and price whole (issue 14, 9)."""
import io
import re
from pathlib import Path
from types import SimpleNamespace

import pytest
from rich.cells import cell_len
from rich.console import Console

from chuanyu.demo import Tally
from chuanyu.demo_plan import CAST, SHORT_NAMES
from chuanyu.demo_view import Dashboard, Headless, price
from feeds.book import LocalBook
from matching import Side, TradeType

SYMBOLS = ["SCEA2026", "CQEA2026", "CCER2025"]
NAMES = {f.account: f.name for f in CAST}
REGION = {f.account: f.region.name for f in CAST}
MID = {0: 4873, 1: 4621, 2: 6130}

EOD = {"date": "20261207", "instruments": [
    {"symbol": "SCEA2026", "kind": "ALLOWANCE", "open": 4880, "high": 4962, "low": 4868, "close": 4918,
     "previous_close": 5000, "change": -82, "continuous_volume": 139300, "fixed_volume": 20000,
     "block_volume": 100000, "auction_volume": 0, "cross_regional_volume": 51300, "net_flow_sc_to_cq": -28100},
    {"symbol": "CQEA2026", "kind": "ALLOWANCE", "open": 4602, "high": 4698, "low": 4562, "close": 4623,
     "previous_close": 4480, "change": 143, "continuous_volume": 116300, "fixed_volume": 40000,
     "block_volume": 120000, "auction_volume": 60000, "cross_regional_volume": 173900, "net_flow_sc_to_cq": -154300},
    {"symbol": "CCER2025", "kind": "CER", "open": 6135, "high": 6170, "low": 6050, "close": 6104,
     "previous_close": 6000, "change": 104, "continuous_volume": 39800, "fixed_volume": 20000,
     "block_volume": 0, "auction_volume": 40000, "cross_regional_volume": 51300, "net_flow_sc_to_cq": 0},
]}
SUMMARY = {
    "volume_by_type": {"continuous": 295400, "fixed": 80000, "block": 220000, "auction": 100000},
    "trades_by_type": {"continuous": 273, "fixed": 19, "block": 2, "auction": 13}, "trades": 307,
    "turnover_rate": 0.426773, "secondary_allowance_volume": 535600, "allowances_in_circulation": 1255000,
    "allowances_allocated": 1195000, "allowances_created_by_primary_auction": 60000, "active_accounts": 15,
    "accounts": 15, "orders_accepted": 483, "orders_refused": 0, "cross_regional_volume": 276500,
    "cross_regional_share": 0.397613, "volume_total": 695400, "net_allowance_flow_sc_to_cq": -182400,
}


def _feed():
    """Full books (five levels a side, six-figure quantities) and fixed-price listings."""
    books = [LocalBook() for _ in SYMBOLS]
    for n, book in enumerate(books):
        for i in range(6):
            book.apply_level(TradeType.CONTINUOUS, Side.BUY, MID[n] - 1 - i, 120_000 - i, 3)
            book.apply_level(TradeType.CONTINUOUS, Side.SELL, MID[n] + 1 + i, 99_000 + i, 2)
        book.apply_level(TradeType.FIXED, Side.SELL, MID[n] - 50, 20_000, 1)
        book.apply_level(TradeType.FIXED, Side.BUY, MID[n] - 90, 10_000, 1)
    return SimpleNamespace(books=books)


def _trade(i):
    # every firm in turn, the longest names too, and a block trade's six-figure quantity
    buyer, seller = CAST[i % len(CAST)], CAST[(i + 5) % len(CAST)]
    n = i % 3
    return {"trade_id": 1000 + i, "symbol": SYMBOLS[n], "instrument": n, "type": ("CONTINUOUS", "BLOCK")[i % 2],
            "price": MID[n] + i, "qty": 120_000 if i % 2 else 2_300, "buyer": buyer.account, "seller": seller.account,
            "buyer_region": buyer.region.name, "seller_region": seller.region.name}


def _dashboard(width, height, trades=12, story=12):
    """A dashboard on a ``width`` x ``height`` console, driven as the demo drives it; the
    console's text so far and the dashboard."""
    out = io.StringIO()
    view = Dashboard(Console(file=out, width=width, height=height, color_system=None))
    tally = Tally(SYMBOLS, [True, True, False], lambda a: REGION.get(a, "?"))
    view.start(seed=2**63 - 1, duration=30, state=Path("/nonexistent"), symbols=SYMBOLS, names=NAMES, tally=tally,
               steps=241, keep=False, refs={}, short_names=SHORT_NAMES)
    view.feed = _feed()
    for i in range(trades):
        t = _trade(i)
        tally.trades.append(t)
        tally.volume[(t["instrument"], t["type"])] += t["qty"]
        tally.last_price[t["instrument"]] = t["price"]
        view.trade(t)
    tally.cross, tally.net_sc_to_cq, tally.acks = 1_234_500, -182_400, 48_300
    for i in range(story):
        view.log(f"feed: auction result CQEA2026: CLEARED at {price(4530 + i)}, 60,000 t sold of 86,000 t bid, "
                 f"11 bids (story line {i})")
    return view, out


def _live(width, height, **kw):
    view, out = _dashboard(width, height, **kw)
    view.stop()                        # a console that is no terminal gets the last frame once, here
    return view, out.getvalue().splitlines()


def _report(view, out):
    mark = len(out.getvalue())
    view.report(EOD, Path("/var/lib/chuanyu/eod-20261207.json"), SUMMARY)
    return out.getvalue()[mark:].splitlines()


def _assert_whole(text: str, *values: str):
    for v in values:
        assert re.search(rf"(?<![\w.,]){re.escape(v)}(?![\w.,])", text), f"{v!r} is not whole in:\n{text}"


def _levels(n):
    return price(MID[n] - 1), price(MID[n] + 1)


@pytest.mark.parametrize("width, height", [(80, 24), (80, 30), (100, 30), (120, 40), (132, 43), (160, 50),
                                           (200, 60)])
def test_the_live_view_fits_the_terminal_with_symbols_and_prices_whole(width, height):
    view, lines = _live(width, height)
    assert len(lines) <= height, "\n".join(lines)
    assert max(cell_len(line) for line in lines) <= width
    text = "\n".join(lines)
    assert "…" not in text                          # at these widths even the firms' names fit
    for n, sym in enumerate(SYMBOLS):
        _assert_whole(text, sym, *_levels(n), price(view.tally.last_price[n]), price(MID[n] - 50))
    assert "cross-regional" in text and "CQ -> SC" in text
    assert "the day" in text and "(story line 11)" in text    # the story's latest line is shown


def test_at_80x24_the_view_is_compact_and_uses_every_row():
    view, lines = _live(80, 24)
    text = "\n".join(lines)
    assert len(lines) == 24
    assert "listed" in text and "volume t" in text
    assert "SC Chengdu Power" in text and "SC Sichuan Air" in text      # short names where full ones do not fit
    assert "last trades" not in text                # the full screen's titles are the first to go


def test_a_wide_tall_terminal_gets_the_full_view():
    view, lines = _live(200, 60)
    text = "\n".join(lines)
    assert "last trades" in text and "volume by trade type (t)" in text
    assert "Chongqing Green Investment" in text     # full names, not the short ones
    for n in range(3):                               # all five levels of each book
        assert all(price(MID[n] - 1 - i) in text for i in range(5))


def test_the_view_before_any_trade_and_on_a_tiny_terminal():
    view, lines = _live(80, 24, trades=0, story=0)
    assert len(lines) <= 24 and "no trades yet" in "\n".join(lines)
    view, lines = _live(60, 12)                     # smaller than any promise: still no wider, no taller
    assert len(lines) <= 12 and max(cell_len(line) for line in lines) <= 60


@pytest.mark.parametrize("width", [80, 100, 200])
def test_the_end_of_day_report_fits_with_every_symbol_and_close_whole(width):
    view, out = _dashboard(width, 24)
    view.stop()
    lines = _report(view, out)
    assert max(cell_len(line) for line in lines) <= width
    text = "\n".join(lines)
    assert "…" not in text
    for r in EOD["instruments"]:
        row = next(line for line in lines if r["symbol"] in line and price(r["close"]) in line)
        _assert_whole(row, r["symbol"], price(r["open"]), price(r["high"]), price(r["low"]), price(r["close"]))
        _assert_whole(text, f"{r['continuous_volume']:,}", f"{r['net_flow_sc_to_cq']:,}")
    for label in ("turnover rate:", "trading activity:", "cross-regional share:", "net allowance flow:"):
        assert label in text
    assert "182,400 t from Chongqing to Sichuan" in text


def test_a_wide_report_is_one_table_a_narrow_one_two():
    view, out = _dashboard(200, 50)
    view.stop()
    wide = _report(view, out)
    assert any("SCEA2026" in line and "49.18" in line and "139,300" in line for line in wide)
    view, out = _dashboard(80, 24)
    view.stop()
    narrow = _report(view, out)
    assert any("prices, CNY per tonne" in line for line in narrow) and any("volumes, tonnes" in line for line in narrow)


def test_the_headless_report_is_plain_lines_of_at_most_80_columns():
    out = io.StringIO()
    view = Headless(out)
    view.start(seed=1, duration=30, state=Path("/tmp/s"), symbols=SYMBOLS, names=NAMES, tally=None, steps=241,
               keep=False, refs={})
    view.report(EOD, Path("/tmp/s/eod-20261207.json"), SUMMARY)
    lines = out.getvalue().splitlines()
    assert max(len(line) for line in lines) <= 80
    for r in EOD["instruments"]:                    # symbol and close on one line, as scripts read them
        assert re.search(rf"^  {r['symbol']} .*{price(r['close'])}", out.getvalue(), re.M)
    # an indicator's text continues under itself, not under its label
    i = next(i for i, line in enumerate(lines) if line.startswith("  turnover rate:"))
    assert lines[i + 1].startswith(" " * 24) and lines[i + 1].strip()


def test_every_firm_has_a_short_name_that_fits():
    assert {f.account for f in CAST} == set(SHORT_NAMES)
    assert all(0 < len(name) <= 14 for name in SHORT_NAMES.values())
