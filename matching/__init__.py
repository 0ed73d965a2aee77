"""chuanyu matching: the price-time-priority engine and its pure-Python reference model.

>>> from matching import Engine, EventKind, Instrument, Side
>>> eng = Engine([Instrument("SCEA2026", reference_price=5000)])
>>> _ = eng.submit("SCEA2026", account=1, side=Side.SELL, qty=100, price=5010)
>>> ev = eng.submit("SCEA2026", account=2, side=Side.BUY, qty=60, price=5020)
>>> [(int(e["price"]), int(e["qty"])) for e in ev if e["kind"] == EventKind.TRADE]
[(5010, 60)]
>>> eng.book("SCEA2026").asks
[(5010, 40, 1)]
"""
from . import commands
from .codes import (
    AccountStatus, AuctionOutcome, CancelReason, CommandType, EventKind, FineReason, InstrumentKind, InstrumentParameter,
    InstrumentStatus, OrderType, Region, Reject, Sector, Side, StatusCause, StpMode, TimeInForce, TradeType,
)
from .dtypes import ACCOUNT_DTYPE, BOOK_ORDER_DTYPE, COMMAND_DTYPE, EVENT_DTYPE, HOLDING_DTYPE
from .engine import Engine
from .instrument import Instrument, price_band
from .reference import ReferenceEngine

__all__ = [
    "Engine", "ReferenceEngine", "Instrument", "price_band", "commands",
    "COMMAND_DTYPE", "EVENT_DTYPE", "BOOK_ORDER_DTYPE", "ACCOUNT_DTYPE", "HOLDING_DTYPE",
    "AccountStatus", "AuctionOutcome", "CancelReason", "CommandType", "EventKind", "InstrumentKind",
    "InstrumentParameter", "InstrumentStatus", "OrderType", "Region", "Reject", "Sector", "Side", "StatusCause",
    "StpMode", "TimeInForce", "TradeType", "FineReason",
]

