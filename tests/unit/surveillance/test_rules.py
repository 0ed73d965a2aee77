"""The surveillance rules over engine events turned into drop-copy rows, as live and
back-tests feed them: each abuse pattern raises its alert with the orders and trades that
make it, and the same day without the pattern raises none."""
import dataclasses

import numpy as np
import pytest

from exchange.config import SurveillanceRules
from feeds.dropcopy import drop_copy_event_rows, drop_copy_rows
from matching import Engine, InstrumentStatus, OrderType, Side, StpMode, TimeInForce, commands
from helpers import market
from surveillance import Surveillance

S = 1_000_000_000
T0 = 1_780_000_000 * S                  # engine time, ns
BUY, SELL = Side.BUY, Side.SELL
SC = 0
# accounts 1 and 2 belong to member 100; the others each to a member of their own
MEMBERS = {1: 100, 2: 100, 3: 103, 4: 104, 5: 105, 6: 106, 7: 107, 8: 108}


class Day:
    """An engine (risk off, STP off) and the rules, fed batch by batch as the drop copy would be."""

    def __init__(self, **rules) -> None:
        self.engine = Engine(market(), default_stp=StpMode.OFF)
        self.rules = dataclasses.replace(SurveillanceRules(), **rules)
        self.surveillance = Surveillance(self.rules, [i.symbol for i in self.engine.instruments], MEMBERS,
                                         market_makers=[8])
        self.alerts: list[dict] = []
        self.seq = 0

    def run(self, ts_s: float, cmd) -> np.ndarray:
        self.seq += 1
        cmd["ts"], cmd["seq"] = T0 + int(ts_s * S), self.seq
        events = self.engine.process(cmd)
        self.alerts += self.surveillance.process(drop_copy_rows(events), drop_copy_event_rows(events))
        return events

    def order(self, ts_s, account, side, qty, price, tif=TimeInForce.GTC) -> int:
        events = self.run(ts_s, commands.new_order(SC, account, side, qty, price, tif=tif))
        return int(events["order_id"][0])

    def close(self, ts_s) -> None:
        self.run(ts_s, commands.set_instrument_status(SC, InstrumentStatus.CLOSED))
        self.run(ts_s + 1, commands.end_of_day(SC))

    def kinds(self) -> list[str]:
        return [a["kind"] for a in self.alerts]


def background(day: Day, start_s: float = 0, n: int = 20) -> None:
    """Ordinary trading between members 103 .. 106: 100 t a minute around 50.00."""
    for k in range(n):
        seller, buyer = 3 + k % 2, 5 + k % 2
        day.order(start_s + 60 * k, seller, SELL, 100, 5000 + k % 3)
        day.order(start_s + 60 * k + 1, buyer, BUY, 100, 5000 + k % 3)


def test_a_clean_day_raises_nothing():
    day = Day()
    background(day)
    day.close(3000)
    assert day.alerts == []


@pytest.mark.parametrize("seller, buyer, related, why", [
    (1, 1, (), "one account"),
    (1, 2, (), "accounts of member 100"),
    (3, 4, ((3, 4),), "declared related parties"),
    (4, 3, ((3, 4),), "declared related parties"),
])
def test_a_wash_trade_is_flagged_at_once_with_its_trade(seller, buyer, related, why):
    day = Day(related_accounts=related)
    day.order(0, seller, SELL, 300, 5000)
    events = day.run(1, commands.new_order(SC, buyer, BUY, 300, 5000))
    alert, = day.alerts
    trade = events[events["kind"] == 3][0]
    assert alert["kind"] == "wash_trade" and alert["accounts"] == sorted({seller, buyer})
    assert why in alert["summary"] and alert["ts"] == T0 + S and alert["instrument"] == "SCEA2026"
    assert alert["evidence"]["trades"] == [{
        "trade_id": int(trade["trade_id"]), "ts": T0 + S, "price": 5000, "qty": 300, "buy_account": buyer,
        "sell_account": seller, "buy_order_id": 2, "sell_order_id": 1, "trade_type": "CONTINUOUS",
        "aggressor": "BUY"}]


def test_accounts_of_different_members_trading_are_not_a_wash():
    day = Day(related_accounts=((5, 6),))
    day.order(0, 3, SELL, 300, 5000)
    day.order(1, 5, BUY, 300, 5000)
    assert day.alerts == []


def layering_day(cancel_after_s: float, large: int = 20_000, fill_first: bool = True, **rules) -> Day:
    """Account 5 bids 20,000 t under the market (pressure to buy), sells 500 t into account 3's
    bid, then pulls the large bid ``cancel_after_s`` after that fill."""
    day = Day(**rules)
    background(day, n=3)
    big = day.order(200, 5, BUY, large, 4990)
    day.order(205, 3, BUY, 500, 5003)
    if fill_first:
        day.order(210, 5, SELL, 500, 5003)                  # the fill on the other side
    day.run(210 + cancel_after_s, commands.cancel(big, 5))
    return day


def test_a_large_order_pulled_soon_after_a_fill_on_the_other_side_is_layering():
    day = layering_day(cancel_after_s=20)
    alert, = day.alerts
    assert alert["kind"] == "layering" and alert["accounts"] == [5]
    assert alert["evidence"]["orders"] == [{"order_id": 7, "side": "BUY", "qty": 20_000, "price": 4990,
                                            "entered": T0 + 200 * S, "cancelled": T0 + 230 * S}]
    fill, = alert["evidence"]["trades"]
    assert (fill["sell_account"], fill["buy_account"], fill["qty"], fill["price"]) == (5, 3, 500, 5003)
    assert alert["figures"] == {"order_qty": 20_000, "filled_qty": 500}


@pytest.mark.parametrize("case", ["too late", "too small", "no fill"])
def test_no_layering_without_every_part_of_the_pattern(case):
    day = {"too late": lambda: layering_day(cancel_after_s=61),
           "too small": lambda: layering_day(cancel_after_s=5, large=9_999),
           "no fill": lambda: layering_day(cancel_after_s=5, fill_first=False)}[case]()
    assert day.alerts == []


def closing_day(push_qty: int) -> Day:
    """Trading around 50.00 all day; account 7 buys ``push_qty`` t at 52.00 in the last five minutes."""
    day = Day()
    background(day, n=20)                                     # 2,000 t by 19:00 minutes
    day.order(1500, 4, SELL, push_qty, 5200)
    day.order(2700, 7, BUY, push_qty, 5200)                 # 300 s before the close at 3000
    day.close(3000)
    return day


def test_aggressive_buying_in_the_close_window_that_moves_the_vwap_is_marking_the_close():
    day = closing_day(push_qty=300)     # 2,000 t at ~50.01 and 300 t at 52.00: VWAP +52 bps, under 100
    assert day.alerts == []
    day = closing_day(push_qty=1_000)   # 1,000 t at 52.00: VWAP 50.68 vs 50.01: +134 bps
    alert, = day.alerts
    assert alert["kind"] == "marking_the_close" and alert["accounts"] == [7]
    assert [(t["buy_account"], t["qty"], t["price"]) for t in alert["evidence"]["trades"]] == [(7, 1_000, 5200)]
    figures = alert["figures"]
    assert figures["move_bps"] >= 100 and figures["vwap_without"] == pytest.approx(5001.0, abs=1)
    assert figures["close"] == day.engine.instruments[0].reference_price        # the close became the reference


def test_the_same_trade_earlier_in_the_day_is_not_marking_the_close():
    day = Day()
    background(day, n=20)
    day.order(100, 4, SELL, 1_000, 5200)
    day.order(101, 7, BUY, 1_000, 5200)                    # long before the window
    day.close(3000)
    assert day.alerts == []


def test_many_orders_for_few_trades_is_a_high_order_to_trade_ratio_but_not_for_a_market_maker():
    day = Day(otr_min_orders=50, otr_max=40)
    background(day, n=2)
    for account in (6, 8):                                   # 8 is a designated market maker
        for k in range(60):
            order = day.order(300 + k, account, BUY, 100, 4900 - k)
            day.run(300 + k + 0.5, commands.cancel(order, account))
    day.close(1000)
    alert, = day.alerts
    assert alert["kind"] == "order_to_trade" and alert["accounts"] == [6]
    assert alert["figures"] == {"orders_entered": 61, "trades_made": 1, "ratio": 61.0}   # one background buy, one trade
    assert [t["buy_account"] for t in alert["evidence"]["trades"]] == [6]
    exempt_off = Day(otr_min_orders=50, otr_max=40, otr_exempt_market_makers=False)
    for k in range(60):
        exempt_off.run(k + 0.5, commands.cancel(exempt_off.order(k, 8, BUY, 100, 4900 - k), 8))
    exempt_off.close(100)
    assert exempt_off.kinds() == ["order_to_trade"]


def test_an_account_with_most_of_the_days_volume_is_concentration():
    day = Day(concentration_min_volume=1_000, concentration_max_pct=40)
    background(day, n=4)                                      # 400 t among four accounts: 25% each
    day.order(500, 6, SELL, 1_000, 5000)
    day.order(501, 7, BUY, 1_000, 5000)                       # 6 and 7: 1,000 of 1,400 t each, 35.7%
    day.order(502, 7, SELL, 400, 5001)
    day.order(503, 3, BUY, 400, 5001)                         # 7: 1,400 of 1,800: 38.9%
    day.order(504, 7, BUY, 300, 5002)
    day.order(505, 4, SELL, 300, 5002)                        # 7: 1,700 of 2,100: 40.5%
    day.close(1000)
    alert, = day.alerts
    assert alert["kind"] == "concentration" and alert["accounts"] == [7]
    assert alert["figures"] == {"share_pct": round(100 * 1_700 / 4_200, 2), "volume": 2_100}
    assert len(alert["evidence"]["trades"]) == 3


def test_a_market_order_sweep_and_a_fok_are_seen_as_any_trade():
    day = Day()
    day.order(0, 1, SELL, 100, 5000)
    day.run(1, commands.new_order(SC, 2, BUY, 100, 0, order_type=OrderType.MARKET, tif=TimeInForce.IOC))
    assert day.kinds() == ["wash_trade"]
    assert day.alerts[0]["evidence"]["trades"][0]["aggressor"] == "BUY"


def test_alert_ids_count_up_and_the_counts_by_kind_follow():
    day = Day()
    day.order(0, 1, SELL, 100, 5000)
    day.order(1, 2, BUY, 50, 5000)
    day.order(2, 2, BUY, 50, 5000)
    assert [a["id"] for a in day.alerts] == [1, 2]
    assert day.surveillance.counts["wash_trade"] == 2 and day.surveillance.rows > 0
