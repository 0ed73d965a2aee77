"""A subscriber's copy of one instrument's published books, rebuilt from DEPTH messages."""
from __future__ import annotations

from matching import Side, TradeType
from matching._state import BookView

__all__ = ["LocalBook"]

_PUBLISHED = (TradeType.CONTINUOUS, TradeType.FIXED)


class LocalBook:
    """Price levels of the continuous book and the fixed-price listings of one instrument.

    >>> book = LocalBook()
    >>> book.apply_level(TradeType.CONTINUOUS, Side.BUY, 4990, 30, 2)
    >>> book.apply_level(TradeType.CONTINUOUS, Side.SELL, 5010, 10, 1)
    >>> book.bbo()
    (4990, 30, 5010, 10)
    >>> book.apply_level(TradeType.CONTINUOUS, Side.SELL, 5010, 0, 0)
    >>> book.view(TradeType.CONTINUOUS).asks
    []
    """

    def __init__(self) -> None:
        self.levels = {(book, side): {} for book in _PUBLISHED for side in (Side.BUY, Side.SELL)}

    def apply_level(self, book: int, side: int, price: int, qty: int, count: int) -> None:
        """Set one level; a zero quantity removes it."""
        levels = self.levels[(book, side)]
        if qty:
            levels[price] = (qty, count)
        else:
            levels.pop(price, None)

    def view(self, book: int = TradeType.CONTINUOUS, depth: int | None = None) -> BookView:
        """Both sides best first as (price, quantity, count), like ``Engine.book``."""
        sides = []
        for side in (Side.BUY, Side.SELL):
            levels = self.levels[(book, side)]
            prices = sorted(levels, reverse=side == Side.BUY)[:depth]
            sides.append([(p, *levels[p]) for p in prices])
        return BookView(*sides)

    def bbo(self) -> tuple[int, int, int, int]:
        """(bid price, bid quantity, ask price, ask quantity) of the continuous book; 0 for an empty side."""
        bids = self.levels[(TradeType.CONTINUOUS, Side.BUY)]
        asks = self.levels[(TradeType.CONTINUOUS, Side.SELL)]
        bid = max(bids) if bids else 0
        ask = min(asks) if asks else 0
        return bid, bids[bid][0] if bid else 0, ask, asks[ask][0] if ask else 0

    def clear(self) -> None:
        for levels in self.levels.values():
            levels.clear()
