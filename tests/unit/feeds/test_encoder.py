"""The feed encoder: public messages from engine batches, numbered without gaps, books that
a subscriber rebuilds equal to the engine's."""
import numpy as np
import pytest

from feeds.book import LocalBook
from feeds.encoder import FeedEncoder
from feeds.messages import FEED_DTYPE, FeedType, topic
from matching import (
    AuctionOutcome, Engine, Instrument, InstrumentStatus, Region, Side, TradeType, commands,
)

SYMBOLS = ["SCEA2026", "CQEA2026"]
SELL, BUY = Side.SELL, Side.BUY


@pytest.fixture
def market():
    engine = Engine([Instrument(SYMBOLS[0]), Instrument(SYMBOLS[1], region=Region.CQ, block_min_qty=100)])
    return engine, FeedEncoder(SYMBOLS, engine)


def publish(market, *rows):
    engine, encoder = market
    return encoder.encode(engine.process(np.concatenate(rows)))


def messages(frames, msg_type=None):
    rows = np.concatenate([f for _, f in frames]) if frames else np.zeros(0, FEED_DTYPE)
    rows = rows[np.argsort(rows["seq"])]
    return rows if msg_type is None else rows[rows["msg_type"] == msg_type]


def test_a_trade_is_published_without_accounts_and_depth_once_per_level(market):
    frames = publish(market, commands.new_order(0, 1, SELL, 100, 5010), commands.new_order(0, 2, SELL, 50, 5005),
                     commands.new_order(0, 3, BUY, 120, 5020))
    assert [name for name, _ in frames] == [b"T.SCEA2026", b"D.SCEA2026", b"B.SCEA2026"]
    trades = messages(frames, FeedType.TRADE)
    assert trades[["trade_id", "price", "qty", "side", "trade_type"]].tolist() == [
        (1, 5005, 50, BUY, TradeType.CONTINUOUS), (2, 5010, 70, BUY, TradeType.CONTINUOUS)]
    # 5010 was added (100) then hit (30 left), 5005 added (50) then taken: each level once, final state
    depth = messages(frames, FeedType.DEPTH)
    assert depth[["side", "price", "qty", "count"]].tolist() == [(SELL, 5005, 0, 0), (SELL, 5010, 30, 1)]
    assert "account" not in FEED_DTYPE.names
    (bbo,) = messages(frames, FeedType.BBO)
    assert (bbo["bid_price"], bbo["bid_qty"], bbo["ask_price"], bbo["ask_qty"]) == (0, 0, 5010, 30)


def test_sequence_numbers_run_over_the_feed_and_per_topic(market):
    first = publish(market, commands.new_order(0, 1, SELL, 10, 5010), commands.new_order(1, 1, SELL, 10, 5010))
    second = publish(market, commands.new_order(0, 2, SELL, 10, 5020))
    seqs = messages(first + second)["seq"].tolist()
    assert seqs == list(range(1, len(seqs) + 1))
    depth_sc = [f for name, f in first + second if name == b"D.SCEA2026"]
    assert np.concatenate(depth_sc)["instrument_seq"].tolist() == [1, 2]


def test_sealed_bids_and_block_quotes_are_never_published(market):
    frames = publish(market, commands.set_block_window(1, True),
                     commands.block_quote(1, 1, SELL, 100, 5000),
                     commands.auction_open(0, 1, SELL, 100, 4000, 10),
                     commands.auction_bid(2, 2, 50, 4500))
    assert not len(messages(frames, FeedType.DEPTH))
    assert messages(frames, FeedType.STATUS)[["instrument", "status", "block_window"]].tolist() == [
        (1, InstrumentStatus.TRADING, 1)]
    frames = publish(market, commands.auction_close(0))
    (result,) = messages(frames, FeedType.AUCTION_RESULT)
    assert (result["status"], result["price"], result["qty"], result["previous"], result["count"]) == (
        AuctionOutcome.UNDERSUBSCRIBED, 4500, 50, 50, 1)
    assert [t for t in messages(frames, FeedType.TRADE)["trade_type"].tolist()] == [TradeType.AUCTION]


def test_the_end_of_day_is_one_message_with_volumes_by_trade_type(market):
    publish(market, commands.new_order(0, 1, SELL, 100, 5010), commands.new_order(0, 2, BUY, 100, 5010),
            commands.set_block_window(0, True), commands.block_quote(0, 1, SELL, 100_000, 5100))
    publish(market, commands.block_accept(3, 2, 100_000))               # the quote is order 3
    (stats,) = messages(publish(market, commands.end_of_day(0)), FeedType.DAILY_STATS)
    assert (stats["price"], stats["previous"], stats["open"], stats["high"], stats["low"]) == (5010, 5000, 5010, 5010, 5010)
    assert stats["volume"].tolist() == [100, 0, 100_000, 0]                 # block volume apart from the close
    assert stats["amount"].tolist() == [501_000, 0, 510_000_000, 0]


def test_a_subscribers_books_equal_the_engines_after_a_random_stream():
    rng = np.random.default_rng(7)
    engine = Engine([Instrument(s) for s in SYMBOLS])
    encoder = FeedEncoder(SYMBOLS, engine)
    books = [LocalBook() for _ in SYMBOLS]          # what a subscriber builds from DEPTH
    for _ in range(40):
        n = 200
        cmds = np.zeros(n, dtype=commands.command(1).dtype)
        cmds["type"] = np.where(rng.random(n) < 0.8, 1, 2)
        cmds["instrument"] = rng.integers(0, 2, n)
        cmds["account"] = rng.integers(0, 50, n)
        side = rng.integers(1, 3, n)
        cmds["side"], cmds["order_type"], cmds["tif"] = side, 1, 1
        cmds["price"] = 5000 + np.where(side == 1, -1, 1) * rng.integers(-5, 30, n)
        cmds["qty"] = rng.integers(1, 50, n)
        cmds["order_id"] = rng.integers(1, engine.next_order_id + 1, n)
        for row in messages(encoder.encode(engine.process(cmds)), FeedType.DEPTH):
            books[row["instrument"]].apply_level(row["trade_type"], row["side"], row["price"], row["qty"], row["count"])
        for n_ins in range(2):
            assert books[n_ins].view(depth=None) == engine.book(n_ins, depth=10**6)


def test_topics_are_channel_then_symbol():
    assert topic(FeedType.TRADE, "SCEA2026") == b"T.SCEA2026"
    assert topic(FeedType.DAILY_STATS, "CQEA2026") == b"E.CQEA2026"


def test_a_call_publishes_its_last_indicative_per_batch_and_snapshots_it_only_while_it_lasts(market):
    engine, encoder = market
    frames = publish(market, commands.set_instrument_status(0, InstrumentStatus.CALL),
                     commands.new_order(0, 1, BUY, 100, 5010), commands.new_order(0, 2, SELL, 60, 4990))
    # three INDICATIVE events in the batch (the call's start and each order): the last is published
    (indicative,) = messages(frames, FeedType.INDICATIVE)
    assert not messages(frames, FeedType.TRADE).size
    # 4990 and 5010: 100 vs 60 -> 60, a buy surplus of 40 everywhere: the higher price
    assert (indicative["price"], indicative["qty"], indicative["side"], indicative["bid_qty"],
            indicative["ask_qty"]) == (5010, 60, BUY, 40, 0)
    assert [name for name, _ in frames if name.startswith(b"I.")] == [b"I.SCEA2026"]
    _, _, rows = encoder.snapshot([0])
    assert rows[rows["msg_type"] == FeedType.INDICATIVE]["seq"].tolist() == [indicative["seq"]]
    frames = publish(market, commands.set_instrument_status(0, InstrumentStatus.TRADING))
    assert messages(frames, FeedType.TRADE)[["price", "qty"]].tolist() == [(5010, 60)]
    assert not messages(frames, FeedType.INDICATIVE).size
    _, _, rows = encoder.snapshot([0])
    assert not (rows["msg_type"] == FeedType.INDICATIVE).any()


def test_a_volatility_interruption_is_announced_with_its_cause(market):
    from matching import InstrumentParameter, StatusCause
    frames = publish(market, commands.set_instrument_parameter(0, InstrumentParameter.DYNAMIC_BAND_BPS, 100),
                     commands.new_order(0, 1, SELL, 10, 5080), commands.new_order(0, 2, BUY, 10, 5100))
    (status,) = messages(frames, FeedType.STATUS)
    assert (status["status"], status["cause"]) == (InstrumentStatus.CALL, StatusCause.VOLATILITY)
    assert not messages(frames, FeedType.TRADE).size and messages(frames, FeedType.INDICATIVE)["qty"].tolist() == [10]
    frames = publish(market, commands.set_instrument_status(0, InstrumentStatus.TRADING))
    (status,) = messages(frames, FeedType.STATUS)
    assert (status["status"], status["cause"]) == (InstrumentStatus.TRADING, StatusCause.COMMAND)


def test_a_block_window_change_keeps_the_cause_of_the_phase_in_force(market):
    from matching import InstrumentParameter, StatusCause
    publish(market, commands.set_instrument_parameter(0, InstrumentParameter.DYNAMIC_BAND_BPS, 100),
            commands.new_order(0, 1, SELL, 10, 5080), commands.new_order(0, 2, BUY, 10, 5100))
    frames = publish(market, commands.set_block_window(0, True))
    (status,) = messages(frames, FeedType.STATUS)
    assert (status["status"], status["block_window"], status["cause"]) == (
        InstrumentStatus.CALL, 1, StatusCause.VOLATILITY)


def test_taker_select_instruments_publish_every_resting_order_for_takers_to_name(market):
    from matching import InstrumentParameter
    engine, encoder = market
    publish(market, commands.new_order(0, 1, SELL, 10, 5010))                    # order 1, before the mode
    frames = publish(market, commands.set_instrument_parameter(0, InstrumentParameter.SELECT_DEPTH, 5),
                     commands.new_order(0, 2, SELL, 20, 5020), commands.new_order(0, 3, BUY, 5, 5030))
    orders = messages(frames, FeedType.ORDER)
    # the book as the mode starts (after the batch: orders 1 and 2 ask, 3 bids), then each order in turn
    assert orders[["trade_id", "side", "price", "qty"]].tolist() == [
        (3, BUY, 5030, 5), (1, SELL, 5010, 10), (2, SELL, 5020, 20), (2, SELL, 5020, 20), (3, BUY, 5030, 5)]
    assert orders["seq"].tolist() == sorted(orders["seq"].tolist()) and orders["seq"][0] > messages(
        frames)["seq"][messages(frames)["msg_type"] != FeedType.ORDER].max()           # numbered last
    assert [name for name, _ in frames][-1] == b"O.SCEA2026"
    frames = publish(market, commands.take_fixed(2, 4, 8), commands.cancel(1, 1))
    # the take: the taker (order 4) never rests, the named order keeps 12; the cancel: 0 left
    assert messages(frames, FeedType.ORDER)[["trade_id", "price", "qty"]].tolist() == [(2, 0, 12), (1, 5010, 0)]
    _, _, rows = encoder.snapshot([0])
    snap = rows[rows["msg_type"] == FeedType.ORDER]
    assert snap[["trade_id", "side", "price", "qty"]].tolist() == [(3, BUY, 5030, 5), (2, SELL, 5020, 12)]
    frames = publish(market, commands.set_instrument_parameter(0, InstrumentParameter.SELECT_DEPTH, 0))
    assert messages(frames, FeedType.TRADE)[["price", "qty"]].tolist() == [(5020, 5)]     # back to matching
    assert not messages(frames, FeedType.ORDER).size                             # the mode ended first
