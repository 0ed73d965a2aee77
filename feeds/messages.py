"""Market-data messages: one fixed-width little-endian layout for every public message.

A feed message carries the feed-wide sequence number (``seq``, gap-free over the whole
feed) and the instrument's own sequence number (``instrument_seq``, gap-free per
instrument), so a subscriber that filters by instrument still detects a loss. ``msg_type``
says which of the other fields are meaningful; unused ones are zero. Public messages never
carry an account id, and sealed auction bids and private block quotes are never published.

Topics (ZeroMQ subscription prefixes) are ``<channel letter>.<symbol>``: a subscriber to
``b"T."`` gets every trade, to ``b"D.SCEA2026"`` the depth of one instrument.
"""
from __future__ import annotations

from enum import IntEnum

import numpy as np

__all__ = ["FeedType", "FEED_DTYPE", "FEED_FIELD_DOCS", "CHANNEL", "topic"]


class FeedType(IntEnum):
    TRADE = 1            # a trade: continuous, fixed-price, block or auction (trade_type)
    DEPTH = 2            # one price level's new quantity and order count (0 = gone)
    BBO = 3              # best bid and offer of the continuous book after a batch
    STATUS = 4           # the instrument's phase, and whether its block window is open
    AUCTION_RESULT = 5   # an auction's outcome, clearing price and volumes
    DAILY_STATS = 6      # the end of day: OHLC, previous close, volume and amount by type
    INDICATIVE = 7       # a call auction's indicative uncrossing: price, volume, surplus
    ORDER = 8            # taker-select: one resting order's id, side, price and quantity left


# The channel letter of each message type: the first byte of its topic.
CHANNEL = {FeedType.TRADE: b"T", FeedType.DEPTH: b"D", FeedType.BBO: b"B", FeedType.STATUS: b"S",
           FeedType.AUCTION_RESULT: b"A", FeedType.DAILY_STATS: b"E", FeedType.INDICATIVE: b"I",
           FeedType.ORDER: b"O"}

FEED_DTYPE = np.dtype(
    [
        ("epoch", "<i8"),            # the publisher's start: a new epoch means numbering restarted
        ("seq", "<i8"),              # feed-wide, from 1 in each epoch, no gaps
        ("instrument_seq", "<i8"),   # per instrument, from 1, no gaps
        ("ts", "<i8"),               # engine time of the event, ns
        ("engine_seq", "<i8"),       # the engine event it comes from (0 for BBO)
        ("price", "<i8"),            # trade / level / clearing / close price, fen
        ("qty", "<i8"),              # trade / level quantity, volume sold, day volume
        ("trade_id", "<i8"),
        ("bid_price", "<i8"),        # BBO (0: side empty)
        ("bid_qty", "<i8"),
        ("ask_price", "<i8"),
        ("ask_qty", "<i8"),
        ("open", "<i8"),             # DAILY_STATS
        ("high", "<i8"),
        ("low", "<i8"),
        ("previous", "<i8"),         # DAILY_STATS: previous close; AUCTION_RESULT: volume bid
        ("volume", "<i8", (4,)),     # DAILY_STATS: by trade type CONTINUOUS..AUCTION
        ("amount", "<i8", (4,)),
        ("instrument", "<i4"),
        ("count", "<i4"),            # DEPTH: orders at the level; AUCTION_RESULT: bids
        ("msg_type", "u1"),          # FeedType
        ("side", "u1"),              # DEPTH: level side; TRADE: aggressor side
        ("trade_type", "u1"),        # TRADE: its type; DEPTH: the book (CONTINUOUS or FIXED)
        ("status", "u1"),            # STATUS: InstrumentStatus; AUCTION_RESULT: AuctionOutcome
        ("block_window", "u1"),      # STATUS
        ("cause", "u1"),             # STATUS: StatusCause (VOLATILITY: an interruption's call)
    ],
    align=True,
)


# What each field means, for docs/PROTOCOL.md (tools/protocol_doc.py renders the layout table).
FEED_FIELD_DOCS = {
    "epoch": "the publisher's start (ns since 1970); a new epoch means the numbering restarted: resynchronise",
    "seq": "feed-wide sequence number, from 1 in each epoch, no gaps over the whole feed",
    "instrument_seq": "sequence number within the topic (channel and instrument), from 1, no gaps",
    "ts": "engine time of the event, ns since 1970 (BBO: the latest event of its batch)",
    "engine_seq": "the engine event it comes from (0 for BBO)",
    "price": "TRADE: price; DEPTH: the level's price; AUCTION_RESULT: clearing price; DAILY_STATS: close; "
             "INDICATIVE: the price the call would uncross at now, 0 = it would not; ORDER: the order's "
             "price, 0 = unchanged (fen/t)",
    "qty": "TRADE: quantity; DEPTH: the level's quantity, 0 = level gone; AUCTION_RESULT: volume sold; "
           "DAILY_STATS: the day's volume; INDICATIVE: the volume it would execute; ORDER: the quantity "
           "left, 0 = gone (t)",
    "trade_id": "TRADE: engine trade id; AUCTION_RESULT: the auction id; ORDER: the order id (what a take names)",
    "bid_price": "BBO: best bid price, 0 = no bid",
    "bid_qty": "BBO: quantity at the best bid; INDICATIVE: the buy surplus (bids left unfilled)",
    "ask_price": "BBO: best ask price, 0 = no ask",
    "ask_qty": "BBO: quantity at the best ask; INDICATIVE: the sell surplus (asks left unfilled)",
    "open": "DAILY_STATS: first continuous or fixed-price trade's price, 0 = none",
    "high": "DAILY_STATS: highest such price",
    "low": "DAILY_STATS: lowest such price",
    "previous": "DAILY_STATS: previous close; AUCTION_RESULT: volume bid",
    "volume": "DAILY_STATS: volume by trade type, 4 x i64: CONTINUOUS, FIXED, BLOCK, AUCTION",
    "amount": "DAILY_STATS: amount (fen) by trade type, 4 x i64, same order",
    "instrument": "instrument index (the snapshot header's `symbols`, the configuration's order)",
    "count": "DEPTH: orders at the level; AUCTION_RESULT: bids",
    "msg_type": "FeedType",
    "side": "TRADE: aggressor side, 0 = none; DEPTH: the level's side; INDICATIVE: the surplus side, 0 = none; "
            "ORDER: the order's side",
    "trade_type": "TRADE: TradeType; DEPTH: the book, CONTINUOUS (1) or FIXED (2, fixed-price listings)",
    "status": "STATUS: InstrumentStatus; AUCTION_RESULT: AuctionOutcome",
    "block_window": "STATUS: 1 = the block-trade window is open",
    "cause": "STATUS: why the phase last changed, a StatusCause: 0 = a command (schedule or operator), "
             "1 = VOLATILITY (the engine started a call: a volatility interruption)",
}


def topic(msg_type: int, symbol: str) -> bytes:
    """The subscription topic of a message type on an instrument.

    >>> topic(FeedType.DEPTH, "SCEA2026")
    b'D.SCEA2026'
    """
    return CHANNEL[FeedType(msg_type)] + b"." + symbol.encode()
