"""``chuanyu feed``'s pieces without a daemon: the JSON object of each message type, the
snapshot block, the reordering of live messages, the view's phase and listings, and the
arguments it refuses. tests/integration/test_feed_cli.py runs the command on a real daemon."""
import io
import json
from types import SimpleNamespace

import numpy as np
import pytest
from rich.console import Console

from chuanyu.cli import main
from chuanyu.cli_feed import _InFeedOrder, message_json, render, snapshot_json
from feeds.book import LocalBook
from feeds.messages import FEED_DTYPE, FeedType
from matching import AuctionOutcome, InstrumentStatus, Side, StatusCause, TradeType

SYMBOLS = ["SCEA2026", "CQEA2026"]


def row(msg_type, instrument=0, seq=1, **fields):
    r = np.zeros(1, FEED_DTYPE)
    r["msg_type"], r["instrument"], r["seq"], r["instrument_seq"] = msg_type, instrument, seq, seq
    r["ts"] = 10**18 + seq
    for name, value in fields.items():
        r[name] = value
    return r[0]


def test_each_message_type_becomes_a_json_object_in_fen_and_tonnes():
    trade = message_json(row(FeedType.TRADE, 1, seq=7, trade_id=42, price=4521, qty=25, side=Side.BUY,
                             trade_type=TradeType.CONTINUOUS), SYMBOLS)
    assert trade == {"type": "trade", "symbol": "CQEA2026", "seq": 7, "instrument_seq": 7, "ts_ns": 10**18 + 7,
                     "snapshot": False, "trade_id": 42, "trade_type": "CONTINUOUS", "price_fen": 4521, "qty_t": 25,
                     "aggressor": "BUY"}
    block = message_json(row(FeedType.TRADE, trade_type=TradeType.BLOCK, price=5000, qty=10_000), SYMBOLS)
    assert block["trade_type"] == "BLOCK" and block["aggressor"] is None
    depth = message_json(row(FeedType.DEPTH, side=Side.SELL, price=5010, qty=0, count=0,
                             trade_type=TradeType.CONTINUOUS), SYMBOLS)
    assert (depth["type"], depth["side"], depth["price_fen"], depth["qty_t"], depth["orders"]) == \
        ("depth", "SELL", 5010, 0, 0)
    listing = message_json(row(FeedType.DEPTH, side=Side.SELL, price=5000, qty=300, count=2,
                               trade_type=TradeType.FIXED), SYMBOLS, snapshot=True)
    assert listing["type"] == "listing" and listing["listings"] == 2 and "orders" not in listing
    assert listing["snapshot"] is True
    bbo = message_json(row(FeedType.BBO, ask_price=5010, ask_qty=15), SYMBOLS)
    assert (bbo["bid_fen"], bbo["bid_qty_t"], bbo["ask_fen"], bbo["ask_qty_t"]) == (None, 0, 5010, 15)
    phase = message_json(row(FeedType.STATUS, status=InstrumentStatus.PRE_OPEN, block_window=1), SYMBOLS)
    assert (phase["type"], phase["phase"], phase["block_window"], phase["cause"]) == (
        "phase", "PRE_OPEN", True, "COMMAND")
    interruption = message_json(row(FeedType.STATUS, status=InstrumentStatus.CALL, cause=StatusCause.VOLATILITY),
                                SYMBOLS)
    assert (interruption["phase"], interruption["cause"]) == ("CALL", "VOLATILITY")
    indicative = message_json(row(FeedType.INDICATIVE, price=5010, qty=60, side=Side.BUY, bid_qty=40), SYMBOLS)
    assert {k: indicative[k] for k in ("type", "price_fen", "qty_t", "surplus_t", "surplus_side")} == {
        "type": "indicative", "price_fen": 5010, "qty_t": 60, "surplus_t": 40, "surplus_side": "BUY"}
    order = message_json(row(FeedType.ORDER, trade_id=12, side=Side.SELL, price=5010, qty=7), SYMBOLS)
    assert {k: order[k] for k in ("type", "order_id", "side", "price_fen", "qty_t")} == {
        "type": "order", "order_id": 12, "side": "SELL", "price_fen": 5010, "qty_t": 7}
    assert message_json(row(FeedType.ORDER, trade_id=12, qty=3), SYMBOLS)["price_fen"] is None     # unchanged
    nothing = message_json(row(FeedType.INDICATIVE), SYMBOLS)
    assert (nothing["price_fen"], nothing["qty_t"], nothing["surplus_t"], nothing["surplus_side"]) == (None, 0, 0, None)
    auction = message_json(row(FeedType.AUCTION_RESULT, status=AuctionOutcome.CLEARED, price=4530, qty=60_000,
                               previous=86_000, count=11, trade_id=9), SYMBOLS)
    assert {k: auction[k] for k in ("type", "auction_id", "outcome", "clearing_price_fen", "sold_t", "bid_t",
                                    "bids")} == {"type": "auction", "auction_id": 9, "outcome": "CLEARED",
                                                 "clearing_price_fen": 4530, "sold_t": 60_000, "bid_t": 86_000,
                                                 "bids": 11}
    stats = message_json(row(FeedType.DAILY_STATS, price=5001, previous=5000, qty=225, open=0, high=0, low=0,
                             volume=[25, 200, 0, 0], amount=[125_250, 1_000_000, 0, 0]), SYMBOLS)
    assert stats["open_fen"] is None and stats["close_fen"] == 5001 and stats["previous_close_fen"] == 5000
    assert stats["volume_t_by_type"] == {"continuous": 25, "fixed": 200, "block": 0, "auction": 0}
    assert stats["amount_fen_by_type"]["fixed"] == 1_000_000
    json.dumps([trade, block, depth, listing, bbo, phase, interruption, indicative, auction, stats])      # plain JSON types only


def test_a_status_value_this_version_does_not_know_is_passed_on_as_its_number():
    assert message_json(row(FeedType.STATUS, status=99), SYMBOLS)["phase"] == 99


def _client(seq=20):
    books = [LocalBook() for _ in SYMBOLS]
    books[0].apply_level(TradeType.CONTINUOUS, Side.BUY, 4990, 30, 2)
    books[0].apply_level(TradeType.CONTINUOUS, Side.SELL, 5010, 15, 1)
    books[0].apply_level(TradeType.FIXED, Side.SELL, 5000, 300, 1)
    latest = {(FeedType.STATUS, 0): row(FeedType.STATUS, seq=2, status=InstrumentStatus.TRADING),
              (FeedType.TRADE, 0): row(FeedType.TRADE, seq=21, trade_id=5, price=5010, qty=5, side=Side.BUY,
                                       trade_type=TradeType.CONTINUOUS)}
    return SimpleNamespace(symbols=SYMBOLS, books=books, latest=latest, seq=seq, epoch=77, trades=[],
                           topic_seq={b"D.SCEA2026": 6})


def test_the_snapshot_block_holds_the_state_and_leaves_later_events_to_the_live_lines():
    client = _client()
    since = [row(FeedType.TRADE, seq=21)]          # came while the snapshot was on its way: a live line
    lines = snapshot_json(client, [0], since)
    assert lines[0] == {"type": "snapshot", "seq": 21, "epoch": 77, "symbols": ["SCEA2026"]}
    body = lines[1:]
    assert all(o["snapshot"] and o["symbol"] == "SCEA2026" for o in body)
    assert [o["type"] for o in body] == ["phase", "depth", "depth", "listing"]
    assert body[0]["phase"] == "TRADING"
    assert {(o["side"], o["price_fen"], o["qty_t"]) for o in body if o["type"] == "depth"} == \
        {("BUY", 4990, 30), ("SELL", 5010, 15)}
    assert body[3] == {"type": "listing", "symbol": "SCEA2026", "seq": 21, "instrument_seq": 6, "ts_ns": None,
                       "snapshot": True, "side": "SELL", "price_fen": 5000, "qty_t": 300, "listings": 1}
    client.seq = 21                                 # the trade was in the snapshot itself: it is state there
    assert [o["type"] for o in snapshot_json(client, [0])[1:]] == ["phase", "depth", "depth", "listing", "trade"]
    assert snapshot_json(client, [1])[1:] == []     # nothing known of CQEA2026


def test_the_snapshot_block_shows_the_indicative_uncrossing_only_during_a_call():
    client = _client()
    client.latest[(FeedType.INDICATIVE, 0)] = row(FeedType.INDICATIVE, seq=3, price=5000, qty=15)
    assert "indicative" not in [o["type"] for o in snapshot_json(client, [0])]     # the call is over
    client.latest[(FeedType.STATUS, 0)] = row(FeedType.STATUS, seq=2, status=InstrumentStatus.CALL)
    body = snapshot_json(client, [0])[1:]
    assert [o["type"] for o in body] == ["phase", "depth", "depth", "listing", "indicative"]
    assert (body[-1]["price_fen"], body[-1]["qty_t"]) == (5000, 15)


def test_live_messages_come_out_in_feed_order():
    order = _InFeedOrder()
    order.restart(10)
    order.add(row(FeedType.DEPTH, seq=13), True)
    order.add(row(FeedType.DAILY_STATS, seq=12), True)
    assert order.ready() == []                      # 11 is still on its way
    order.add(row(FeedType.DEPTH, instrument=1, seq=11), False)   # another instrument's: only counted
    assert [int(r["seq"]) for r in order.ready()] == [12, 13]
    order.add(row(FeedType.TRADE, seq=15), True)
    assert order.ready() == [] and [int(r["seq"]) for r in order.ready(everything=True)] == [15]


def test_a_message_that_never_comes_holds_the_others_up_only_briefly(monkeypatch):
    order = _InFeedOrder()
    order.restart(0)
    order.add(row(FeedType.TRADE, seq=3), True)
    assert order.ready() == []
    monkeypatch.setattr(order, "STALL_S", 0.0)
    assert [int(r["seq"]) for r in order.ready()] == [3]


def test_the_view_shows_each_instruments_phase_and_its_fixed_price_listings():
    client = _client()
    client.books[0].apply_level(TradeType.FIXED, Side.BUY, 4900, 50, 1)
    out = io.StringIO()
    Console(file=out, width=100, color_system=None).print(render(client, [0, 1]))
    text = out.getvalue()
    assert "SCEA2026  TRADING" in text
    assert "SCEA2026 fixed-price listings" in text
    listing_rows = [line for line in text.splitlines() if "sell" in line or "buy" in line]
    assert any("50.00" in line and "300" in line for line in listing_rows)
    assert any("49.00" in line and "50" in line for line in listing_rows)
    assert "CQEA2026  phase not published yet" in text and "no fixed-price listings" in text


@pytest.mark.parametrize("args, message", [
    (["--count", "0"], "--count: must be at least 1"),
    (["--count", "many"], "--count: not an integer"),
    (["--duration", "nan"], "--duration: not a number of seconds"),
    (["--timeout", "-1"], "--timeout: must be more than 0"),
])
def test_bad_arguments_exit_2_with_a_message(args, message, capsys):
    assert main(["feed", "--json", *args]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_the_help_documents_the_json_lines(capsys):
    assert main(["feed", "--help"]) == 0
    out = capsys.readouterr().out
    for text in ("--json", "price_fen", "qty_t", '"snapshot"', "listing", "phase", "daily_stats", "--count N"):
        assert text in out
