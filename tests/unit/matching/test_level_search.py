"""Finding a price's level on a side of many levels.

The engine narrows a side's sorted keys by halving, then counts one window of 16 keys at
once (keys_lower_bound). Sides of just under, at and just over 16 and 32 levels, and
prices below, between, on and above every level, must each find their own level: joining
it, or creating one in the right place, and leaving it when the last order goes.
"""
import random

import pytest

from helpers import SC
from matching import Side

LEVEL_COUNTS = [1, 2, 15, 16, 17, 31, 32, 33, 64, 150]
GAP = 3                 # ticks between the first levels: room for new levels between them


def _side(engine, side):
    view = engine.book(SC, depth=10_000)
    return [tuple(int(x) for x in level) for level in (view.bids if side == Side.BUY else view.asks)]


def _expected(resting: dict, side) -> list:
    """(price, quantity, count) best first, from ``{order_id: (price, qty)}``."""
    levels: dict = {}
    for price, qty in resting.values():
        total, count = levels.get(price, (0, 0))
        levels[price] = (total + qty, count + 1)
    return [(price, *levels[price]) for price in sorted(levels, reverse=side == Side.BUY)]


@pytest.mark.parametrize("side", [Side.BUY, Side.SELL], ids=["bids", "asks"])
@pytest.mark.parametrize("n_levels", LEVEL_COUNTS)
def test_every_price_finds_its_level_on_a_side_of_many(engine, side, n_levels):
    rng = random.Random(n_levels * 3 + side)
    away = -1 if side == Side.BUY else 1        # passive: bids under the reference, asks over
    prices = [5000 + away * (5 + GAP * k) for k in range(n_levels)]
    resting: dict = {}

    def rest(price, qty):
        r = engine.place(SC, account=1, side=side, qty=qty, price=price)
        assert r.ok and r.leaves == qty
        resting[r.order_id] = (price, qty)

    for price in rng.sample(prices, len(prices)):          # levels created in any order
        rest(price, 10)
    assert _side(engine, side) == _expected(resting, side)
    # every price from beyond the worst level to beyond the best: joins and new levels
    probes = list(range(min(prices) - 2, max(prices) + 3))
    for price in rng.sample(probes, len(probes)):
        rest(price, 1 + price % 7)
        assert _side(engine, side) == _expected(resting, side), price
    # and out again in any order: each cancel finds its level, the last one removes it
    for order_id in rng.sample(sorted(resting), len(resting)):
        price, _ = resting.pop(order_id)
        r = engine.withdraw(order_id, account=1)
        assert r.ok, (order_id, price)
        if len(resting) % 5 == 0:
            assert _side(engine, side) == _expected(resting, side), price
    assert _side(engine, side) == []
