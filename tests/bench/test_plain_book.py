"""The benchmark's plain sortedcontainers book: the baseline must do the engine's work, trade for
trade, or the ratio against it means nothing."""
import doctest

import pytest

import bench.engine_bench
import bench.plain_book
import bench.provenance
from bench.plain_book import PlainBook, trades_agree
from bench.workloads import generate
from matching import OrderType, Side, TimeInForce

BUY, SELL = int(Side.BUY), int(Side.SELL)
LIMIT, MARKET = int(OrderType.LIMIT), int(OrderType.MARKET)
GTC, IOC, FOK = int(TimeInForce.GTC), int(TimeInForce.IOC), int(TimeInForce.FOK)


@pytest.mark.parametrize("name, kw", [("exchange_core_mix", dict(n_commands=20_000, n_resting=500)),
                                      ("carbon_mix", dict(n_commands=20_000, n_resting=4_000)),
                                      ("deep_book", dict(n_commands=10_000, n_resting=20_000))])
def test_the_plain_book_makes_the_engine_s_trades(name, kw):
    w = generate(name, **kw)
    book = PlainBook(len(w.instruments))
    book.run(w.setup)
    book.trades.clear()
    book.run(w.timed)
    assert len(book.trades) > 100 and trades_agree(w, book.trades)
    book.trades[len(book.trades) // 2] = (0, 0, 0, 0)       # and the check would see one trade wrong
    assert not trades_agree(w, book.trades)


def test_price_time_priority_market_orders_fok_stp_and_replace():
    b = PlainBook(1)
    first = b.submit(0, 1, SELL, 10, 5000)
    second = b.submit(0, 2, SELL, 10, 5000)
    better = b.submit(0, 3, SELL, 5, 4990)
    assert b.submit(0, 4, BUY, 8, 5000) == 4
    assert b.trades == [(4, better, 4990, 5), (4, first, 5000, 3)]           # best price, then time
    assert b.submit(0, 4, BUY, 100, 5000, LIMIT, FOK) == 0 and b.next_id == 5   # not fillable: refused, no id
    b.trades.clear()
    assert b.submit(0, 1, BUY, 5, 0, MARKET, IOC) == 5 and b.trades == []      # its own order first: cancelled
    assert b.replace(second, 2, 5000, 4) and b.orders[second][3] == 4        # smaller in place: keeps its turn
    assert b.replace(first, 1, 5001, 7)                                      # moved: behind, at the new price
    b.submit(0, 9, BUY, 20, 5001, LIMIT, IOC)
    assert b.trades == [(6, second, 5000, 4), (6, first, 5001, 7)]
    assert not b.cancel(first, 1) and not b.cancel(second, 99)


def test_the_benchmark_modules_doctests():
    for module in (bench.plain_book, bench.provenance, bench.engine_bench):
        failures, tried = doctest.testmod(module)
        assert tried and not failures, module.__name__
