"""The engine's two numpy structured dtypes: commands in, events out.

Both are little-endian and C-aligned so that the Cython core can read and write them as
plain C structs (it checks the layout against these definitions on import). Fields a
command kind does not use are zero.
"""
import numpy as np

__all__ = ["COMMAND_DTYPE", "EVENT_DTYPE", "BOOK_ORDER_DTYPE"]

COMMAND_DTYPE = np.dtype(
    [
        ("seq", "<i8"),              # gateway sequence number, copied to events' cmd_seq
        ("ts", "<i8"),               # receive time, ns; an order's time priority stamp
        ("order_id", "<i8"),         # target of cancel / reduce / replace
        ("client_order_id", "<i8"),
        ("price", "<i8"),            # fen per tonne
        ("qty", "<i8"),              # tonnes (reduce / replace: the new remaining quantity)
        ("value", "<i8"),            # admin commands' argument (e.g. a status)
        ("account", "<i4"),
        ("instrument", "<i4"),
        ("session", "<i4"),          # originating gateway session, recorded not interpreted
        ("type", "u1"),              # CommandType
        ("side", "u1"),              # Side
        ("order_type", "u1"),        # OrderType
        ("tif", "u1"),               # TimeInForce
        ("stp", "u1"),               # StpMode
    ],
    align=True,
)

EVENT_DTYPE = np.dtype(
    [
        ("seq", "<i8"),              # engine-wide event sequence number, from 1
        ("cmd_seq", "<i8"),          # the causing command's seq
        ("ts", "<i8"),               # the causing command's ts
        ("order_id", "<i8"),
        ("client_order_id", "<i8"),
        ("price", "<i8"),
        ("qty", "<i8"),
        ("leaves", "<i8"),           # the order's remaining quantity after the event
        ("trade_id", "<i8"),
        ("buy_order_id", "<i8"),
        ("sell_order_id", "<i8"),
        ("buy_leaves", "<i8"),
        ("sell_leaves", "<i8"),
        ("value", "<i8"),            # kind-specific: new status, priority kept on replace, ...
        ("account", "<i4"),
        ("buy_account", "<i4"),
        ("sell_account", "<i4"),
        ("instrument", "<i4"),
        ("count", "<i4"),            # depth: orders at the level
        ("reason", "<u2"),           # Reject code or CancelReason
        ("kind", "u1"),              # EventKind
        ("side", "u1"),              # order side; trade: aggressor side; depth: level side
        ("trade_type", "u1"),        # TradeType
        ("order_type", "u1"),
        ("tif", "u1"),
    ],
    align=True,
)

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
        ("side", "u1"),
        ("tif", "u1"),
        ("stp", "u1"),
    ],
    align=True,
)
