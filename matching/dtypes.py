"""The engine's two numpy structured dtypes: commands in, events out.

Both are little-endian and C-aligned so that the Cython core can read and write them as
plain C structs (it checks the layout against these definitions on import). Fields a
command kind does not use are zero; an event's fields follow the notes on EVENT_DTYPE.
"""
import numpy as np

__all__ = ["COMMAND_DTYPE", "EVENT_DTYPE", "BOOK_ORDER_DTYPE", "ACCOUNT_DTYPE", "HOLDING_DTYPE", "take_rows"]

COMMAND_DTYPE = np.dtype(
    [
        ("seq", "<i8"),              # gateway sequence number, copied to events' cmd_seq
        ("ts", "<i8"),               # receive time, ns; an order's time priority stamp
        ("order_id", "<i8"),         # target of cancel / reduce / replace
        ("client_order_id", "<i8"),
        ("price", "<i8"),            # fen per tonne
        ("qty", "<i8"),              # tonnes (reduce / replace: the new remaining quantity)
        ("value", "<i8"),            # admin commands' argument: a status, an amount in fen
        ("account", "<i4"),
        ("instrument", "<i4"),
        ("session", "<i4"),          # originating gateway session, recorded not interpreted
        ("member", "<i4"),           # create account: the member firm
        ("contra_account", "<i4"),   # block quote: the one account it is for, -1 = public
        ("min_qty", "<i4"),          # fixed-price listing: the minimum take
        ("type", "u1"),              # CommandType
        ("side", "u1"),              # Side
        ("order_type", "u1"),        # OrderType
        ("tif", "u1"),               # TimeInForce
        ("stp", "u1"),               # StpMode
        ("region", "u1"),            # create account: Region
        ("sector", "u1"),            # create account: Sector
        ("status", "u1"),            # AccountStatus / InstrumentStatus
        ("flags", "u1"),             # credit / debit holdings: 1 = non-tradable units
    ],
    align=True,
)

# Events: 120 bytes. No kind of event uses every field, so fields that no kind uses together
# share their bytes (a C union in the engine): a trade's ids, leaves and fees lie over an
# order event's order id, client order id, leaves and value, and the daily statistics'
# open, high and low over the trade-only fields. Read a field only for the kinds that set
# it (listed here); on other kinds it holds another field's value, not zero.
_EVENT_FIELDS = [
    # name               type   offset
    ("seq", "<i8", 0),               # engine-wide event sequence number, from 1
    ("cmd_seq", "<i8", 8),           # the causing command's seq
    ("ts", "<i8", 16),               # the causing command's ts
    ("order_id", "<i8", 24),         # order events, AUCTION_RESULT (the lot), ACCOUNT_UPDATED (eligibility)
    ("client_order_id", "<i8", 32),  # order events
    ("price", "<i8", 40),
    ("qty", "<i8", 48),
    ("leaves", "<i8", 56),           # order events: the order's remaining quantity after the event; AUCTION_RESULT;
                                     # DAILY_STATS: units in circulation
    ("trade_id", "<i8", 24),         # TRADE
    ("buy_order_id", "<i8", 32),     # TRADE
    ("sell_order_id", "<i8", 56),    # TRADE
    ("buy_leaves", "<i8", 64),       # TRADE
    ("sell_leaves", "<i8", 72),      # TRADE
    ("value", "<i8", 64),            # all but TRADE: new status, priority kept on replace, cash delta, ...
    ("buy_fee", "<i8", 80),          # TRADE, fen
    ("sell_fee", "<i8", 88),         # TRADE, fen
    ("open", "<i8", 72),             # DAILY_STATS
    ("high", "<i8", 80),             # DAILY_STATS
    ("low", "<i8", 88),              # DAILY_STATS
    ("account", "<i4", 96),          # all but TRADE
    ("buy_account", "<i4", 96),      # TRADE
    ("sell_account", "<i4", 100),    # TRADE
    ("instrument", "<i4", 104),
    ("count", "<i4", 100),           # DEPTH: orders at the level; AUCTION_RESULT: bids; DAILY_STATS: trading date
    ("reason", "<u2", 108),          # Reject code or CancelReason
    ("kind", "u1", 110),             # EventKind
    ("side", "u1", 111),             # order side; trade: aggressor side; depth: level side
    ("trade_type", "u1", 112),       # TradeType
    ("order_type", "u1", 113),
    ("tif", "u1", 114),
    ("command", "u1", 115),          # the CommandType that caused the event
]
EVENT_DTYPE = np.dtype({"names": [f[0] for f in _EVENT_FIELDS], "formats": [f[1] for f in _EVENT_FIELDS],
                        "offsets": [f[2] for f in _EVENT_FIELDS], "itemsize": 120})

# One resting order in canonical book order; the unit of snapshots and state digests.
BOOK_ORDER_DTYPE = np.dtype(
    [
        ("order_id", "<i8"),
        ("client_order_id", "<i8"),
        ("price", "<i8"),
        ("qty", "<i8"),
        ("ts", "<i8"),
        ("account", "<i4"),
        ("instrument", "<i4"),
        ("terms", "<i4"),            # listing: minimum take; block quote: contra account
        ("side", "u1"),
        ("tif", "u1"),
        ("stp", "u1"),
        ("order_type", "u1"),
        ("flags", "u1"),
    ],
    align=True,
)

# One account in a snapshot, ordered by account id.
ACCOUNT_DTYPE = np.dtype(
    [
        ("cash_available", "<i8"),
        ("cash_frozen", "<i8"),
        ("account", "<i4"),
        ("member", "<i4"),
        ("region", "u1"),
        ("sector", "u1"),
        ("status", "u1"),
    ],
    align=True,
)

# One account's position in one instrument, in a snapshot (every instrument of every account).
HOLDING_DTYPE = np.dtype(
    [
        ("available", "<i8"),        # sellable now
        ("frozen", "<i8"),           # held by open sell orders
        ("locked", "<i8"),           # bought today: sellable after the T+1 release
        ("non_tradable", "<i8"),     # held for compliance only
        ("floor", "<i8"),            # retention floor: must stay held
        ("limit", "<i8"),            # position limit, 0 = none
        ("buying", "<i8"),           # open buy quantity
        ("obligation", "<i8"),       # units to surrender for compliance; shortfall = obligation - held
        ("account", "<i4"),
        ("instrument", "<i4"),
    ],
    align=True,
)


def take_rows(rows: np.ndarray, which) -> np.ndarray:
    """``rows[which]`` (a boolean mask or indices) of a structured array, copied as whole rows
    of raw bytes: numpy copies a structured dtype field by field, 15-20x slower for these
    layouts, which makes a mask over a feed's or the engine's rows the cost of a batch.

    >>> rows = np.zeros(4, dtype=EVENT_DTYPE); rows["seq"] = [1, 2, 3, 4]
    >>> take_rows(rows, rows["seq"] % 2 == 0)["seq"].tolist(), take_rows(rows, [3, 0])["seq"].tolist()
    ([2, 4], [4, 1])
    """
    return rows.view(np.dtype((np.void, rows.dtype.itemsize)))[which].view(rows.dtype)
