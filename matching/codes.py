"""Every enumerated value the engine reads or writes, defined once.

The numbers here are the wire values: the Cython core declares the same numbers in
``_types.pxd`` and checks them against this module when it is imported, the gateway
puts them on the wire, and ``docs/PROTOCOL.md`` lists them.

Reject reasons form ONE enum banded by layer, as exchange-core's ``CommandResultCode``:
1xxx protocol and authentication, 2xxx risk and accounts, 3xxx matching, 4xxx admin.
"""
from enum import IntEnum

__all__ = [
    "Side", "OrderType", "TimeInForce", "StpMode", "CommandType", "EventKind",
    "Reject", "CancelReason", "TradeType", "InstrumentStatus", "InstrumentKind", "Region",
]


class Side(IntEnum):
    BUY = 1
    SELL = 2


class OrderType(IntEnum):
    LIMIT = 1
    MARKET = 2


class TimeInForce(IntEnum):
    GTC = 1
    DAY = 2
    IOC = 3
    FOK = 4


class StpMode(IntEnum):
    """Self-trade prevention; ACCOUNT_DEFAULT on an order takes the account's mode."""

    ACCOUNT_DEFAULT = 0
    OFF = 1
    CANCEL_NEWEST = 2
    CANCEL_OLDEST = 3
    CANCEL_BOTH = 4


class CommandType(IntEnum):
    NEW_ORDER = 1
    CANCEL = 2
    REDUCE = 3
    REPLACE = 4
    SET_INSTRUMENT_STATUS = 10
    SET_ACCOUNT_STP = 11
    EXPIRE_DAY_ORDERS = 12


class EventKind(IntEnum):
    ACCEPTED = 1
    REJECTED = 2
    TRADE = 3
    CANCELLED = 4
    REDUCED = 5
    REPLACED = 6
    DEPTH = 7
    INSTRUMENT_STATUS = 8
    ACCOUNT_UPDATED = 9


class Reject(IntEnum):
    # 1xxx protocol and authentication
    UNKNOWN_COMMAND = 1001
    # 2xxx risk and accounts
    UNKNOWN_ACCOUNT = 2001
    # 3xxx matching
    UNKNOWN_INSTRUMENT = 3001
    INSTRUMENT_HALTED = 3002
    BAD_SIDE = 3003
    BAD_ORDER_TYPE = 3004
    BAD_TIME_IN_FORCE = 3005
    BAD_STP_MODE = 3006
    BAD_QUANTITY = 3007
    OFF_LOT_QUANTITY = 3008
    BAD_PRICE = 3009
    OFF_TICK_PRICE = 3010
    PRICE_OUTSIDE_BAND = 3011
    ORDER_TOO_LARGE = 3012
    UNKNOWN_ORDER = 3013
    NOT_OWNER = 3014
    FOK_NOT_FILLABLE = 3015
    REDUCE_NOT_SMALLER = 3016
    # 4xxx admin
    BAD_STATUS = 4001


class CancelReason(IntEnum):
    USER = 1
    IOC_REMAINDER = 2
    SELF_TRADE = 3
    EXPIRY = 4


class TradeType(IntEnum):
    CONTINUOUS = 1


class InstrumentStatus(IntEnum):
    TRADING = 1
    HALTED = 2


class InstrumentKind(IntEnum):
    ALLOWANCE = 1
    CER = 2


class Region(IntEnum):
    SC = 1
    CQ = 2
