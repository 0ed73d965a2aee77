"""Quantity conservation from the event stream alone, independent of either engine.

Every order's remaining quantity is followed through its events: accepted with its size,
lowered by each fill, reduce or replace, gone at zero or on a cancel. At any point the
orders still open must be exactly the engine's resting orders, quantity for quantity.
"""
from __future__ import annotations

from matching import EventKind, Instrument, InstrumentParameter, OrderType, TradeType
from matching.commands import PARAMETER_FIELDS

from streams import INSTRUMENTS



class Ledger:
    def __init__(self) -> None:
        self.instruments = [Instrument(**ins.to_dict()) for ins in INSTRUMENTS]
        self.leaves: dict[int, int] = {}
        self.lots: set[int] = set()
        self.traded = 0
        self.last_trade_id = 0

    def apply(self, events) -> None:
        for ev in events:
            kind = int(ev["kind"])
            if kind == EventKind.ACCEPTED and ev["order_type"] == OrderType.AUCTION_LOT:
                self.lots.add(int(ev["order_id"]))      # an auction's own side: it never rests
            elif kind == EventKind.AUCTION_RESULT:
                self.lots.remove(int(ev["order_id"]))
            elif kind == EventKind.ACCEPTED:
                assert int(ev["order_id"]) not in self.leaves, "order id reused"
                assert ev["leaves"] == ev["qty"] > 0
                self.leaves[int(ev["order_id"])] = int(ev["qty"])
            elif kind == EventKind.TRADE:
                qty = int(ev["qty"])
                assert qty > 0 and int(ev["trade_id"]) == self.last_trade_id + 1
                self.last_trade_id += 1
                ins = self.instruments[int(ev["instrument"])]
                low, high = ins.block_band if ev["trade_type"] == TradeType.BLOCK else ins.band
                if ev["trade_type"] != TradeType.AUCTION:         # auctions have a reserve, no band
                    assert low <= ev["price"] <= high, "trade outside the band"
                for side in ("buy", "sell"):
                    oid = int(ev[f"{side}_order_id"])
                    if oid in self.lots:
                        continue
                    self.leaves[oid] -= qty
                    assert self.leaves[oid] == ev[f"{side}_leaves"] >= 0
                    if self.leaves[oid] == 0:
                        del self.leaves[oid]
                self.traded += qty
            elif kind == EventKind.CANCELLED:
                oid = int(ev["order_id"])
                assert self.leaves.pop(oid) == ev["qty"], "cancelled quantity is not what was left"
            elif kind == EventKind.DAILY_STATS:          # the close, on the tick, re-centres the bands
                ins, close = self.instruments[int(ev["instrument"])], int(ev["price"])
                if int(ev["qty"]) > ins.min_close_volume:  # a close the day's trades made
                    close = (2 * close + ins.tick) // (2 * ins.tick) * ins.tick
                ins.recentre(close)
            elif kind == EventKind.INSTRUMENT_ADDED:      # listed at the next index with the defaults
                assert int(ev["instrument"]) == len(self.instruments), "an instrument added out of order"
                self.instruments.append(Instrument(f"#{len(self.instruments)}"))
            elif kind == EventKind.INSTRUMENT_PARAMETER:  # a changed parameter may move the bands
                ins = self.instruments[int(ev["instrument"])]
                setattr(ins, PARAMETER_FIELDS[InstrumentParameter(int(ev["reason"]))], int(ev["value"]))
                ins.recentre(ins.reference_price)
            elif kind in (EventKind.REDUCED, EventKind.REPLACED):
                oid = int(ev["order_id"])
                if kind == EventKind.REDUCED:
                    assert self.leaves[oid] - ev["qty"] == ev["leaves"]
                self.leaves[oid] = int(ev["leaves"])

    def check_against(self, engine) -> None:
        assert len(self.leaves) == engine.resting_orders
        for oid, leaves in self.leaves.items():
            view = engine.order(oid)
            assert view is not None and view.qty == leaves
