"""The compiled feed encoder against a plain numpy model of the same rules, message for
message, on seeded streams of every command kind (orders, listings, block trades, auctions,
phases, end of day, account commands and bad input), risk off and on."""
import sys
from pathlib import Path

import numpy as np
import pytest

from feeds.encoder import FeedEncoder
from feeds.messages import FEED_DTYPE, FeedType, topic
from matching import CommandType, Engine, EventKind, InstrumentParameter, InstrumentStatus, TradeType

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "property"))
from streams import FEES, INSTRUMENTS, funded_accounts, numpy_stream  # noqa: E402


class ModelEncoder:
    """The rules of :mod:`feeds.encoder` in numpy, kept simple (never optimised)."""

    def __init__(self, symbols, engine):
        self.symbols, self.engine = list(symbols), engine
        self.seq = 0
        self.topic_seq = {}
        n = len(self.symbols)
        self.status = [int(InstrumentStatus.TRADING)] * n
        self.block_window = [0] * n
        self.cause = [0] * n
        self.bbo = [self._engine_bbo(i) for i in range(n)]
        self.selecting = {i for i, ins in enumerate(engine.instruments) if ins.select_depth}

    def _orders(self, events):
        """Taker-select instruments' ORDER messages, event by event: (event, id, side, price, qty)."""
        out = []
        for e in events:
            n, kind = int(e["instrument"]), EventKind(int(e["kind"]))
            if kind == EventKind.INSTRUMENT_PARAMETER and int(e["reason"]) == InstrumentParameter.SELECT_DEPTH:
                if int(e["value"]) and n not in self.selecting:
                    self.selecting.add(n)
                    view = self.engine.queue(n, 10**9)
                    out += [(e, o, 1, p, q) for o, p, q in view.bids] + [(e, o, 2, p, q) for o, p, q in view.asks]
                elif not int(e["value"]):
                    self.selecting.discard(n)
                continue
            if n not in self.selecting:
                continue
            if kind == EventKind.TRADE and int(e["trade_type"]) == TradeType.CONTINUOUS:
                for side, name in ((1, "buy"), (2, "sell")):
                    taker = int(e["command"]) == CommandType.TAKE_FIXED and int(e["side"]) == side
                    if not taker:
                        out.append((e, int(e[f"{name}_order_id"]), side, 0, int(e[f"{name}_leaves"])))
            elif int(e["order_type"]) == 1 and (kind in (EventKind.CANCELLED, EventKind.REDUCED, EventKind.REPLACED)
                                                or (kind == EventKind.ACCEPTED and int(e["tif"]) in (1, 2))):
                out.append((e, int(e["order_id"]), int(e["side"]), int(e["price"]), int(e["leaves"])))
        rows = np.zeros(len(out), FEED_DTYPE)
        for row, (e, oid, side, price, qty) in zip(rows, out):
            row["msg_type"], row["ts"], row["engine_seq"], row["instrument"] = FeedType.ORDER, e["ts"], e["seq"], \
                e["instrument"]
            row["trade_id"], row["side"], row["price"], row["qty"] = oid, side, price, qty
        return rows

    def _engine_bbo(self, n):
        view = self.engine.book(n, 1)
        return (*(view.bids[0][:2] if view.bids else (0, 0)), *(view.asks[0][:2] if view.asks else (0, 0)))

    @staticmethod
    def _rows(source, msg_type):
        rows = np.zeros(len(source), FEED_DTYPE)
        rows["msg_type"], rows["engine_seq"], rows["ts"] = msg_type, source["seq"], source["ts"]
        rows["instrument"] = source["instrument"]
        return rows

    def encode(self, events):
        trades = events[events["kind"] == EventKind.TRADE]
        t = self._rows(trades, FeedType.TRADE)
        for name in ("price", "qty", "trade_id", "side", "trade_type"):
            t[name] = trades[name]
        depth = events[(events["kind"] == EventKind.DEPTH) & np.isin(events["trade_type"], (1, 2))]
        key = np.stack([depth["instrument"], depth["trade_type"], depth["side"], depth["price"]], axis=1)
        _, last = np.unique(key[::-1], axis=0, return_index=True)          # each level's last change
        depth = depth[np.sort(len(depth) - 1 - last)]
        d = self._rows(depth, FeedType.DEPTH)
        for name in ("price", "qty", "count", "side", "trade_type"):
            d[name] = depth[name]
        changes = events[np.isin(events["kind"], (EventKind.INSTRUMENT_STATUS, EventKind.BLOCK_WINDOW))]
        s = self._rows(changes, FeedType.STATUS)
        for i, ev in enumerate(changes):
            n = int(ev["instrument"])
            if ev["kind"] == EventKind.INSTRUMENT_STATUS:
                self.status[n] = int(ev["value"])
            else:
                self.block_window[n] = int(ev["value"])
            if ev["kind"] == EventKind.INSTRUMENT_STATUS:
                self.cause[n] = int(ev["reason"])
            s["status"][i], s["block_window"][i], s["cause"][i] = self.status[n], self.block_window[n], self.cause[n]
        results = events[events["kind"] == EventKind.AUCTION_RESULT]
        a = self._rows(results, FeedType.AUCTION_RESULT)
        a["price"], a["qty"], a["count"] = results["price"], results["qty"], results["count"]
        a["previous"], a["status"], a["trade_id"] = results["value"], results["reason"], results["order_id"]
        stats = events[events["kind"] == EventKind.DAILY_STATS]
        e = self._rows(stats, FeedType.DAILY_STATS)
        for name in ("price", "open", "high", "low", "qty"):
            e[name] = stats[name]
        e["previous"] = stats["value"]
        volumes = events[events["kind"] == EventKind.DAILY_VOLUME]
        for i, ev in enumerate(stats):
            for v in volumes[(volumes["instrument"] == ev["instrument"]) & (volumes["seq"] > ev["seq"])
                             & (volumes["seq"] <= ev["seq"] + len(TradeType))]:
                e["volume"][i, int(v["trade_type"]) - 1] = v["qty"]
                e["amount"][i, int(v["trade_type"]) - 1] = v["value"]
        calls = events[events["kind"] == EventKind.INDICATIVE]
        _, last = np.unique(calls["instrument"][::-1], return_index=True)       # each call's last
        calls = calls[np.sort(len(calls) - 1 - last)]
        c = self._rows(calls, FeedType.INDICATIVE)
        c["price"], c["qty"], c["side"] = calls["price"], calls["qty"], calls["side"]
        c["bid_qty"] = np.where(calls["side"] == 1, calls["leaves"], 0)
        c["ask_qty"] = np.where(calls["side"] == 2, calls["leaves"], 0)
        rows = np.concatenate([t, d, s, a, e, c])
        rows = rows[np.argsort(rows["engine_seq"], kind="stable")]
        bbos = []
        moved = rows["instrument"][(rows["msg_type"] == FeedType.DEPTH) & (rows["trade_type"] == TradeType.CONTINUOUS)]
        for n in np.unique(moved).tolist():
            bbo = self._engine_bbo(n)
            if bbo != self.bbo[n]:
                self.bbo[n] = bbo
                row = np.zeros(1, FEED_DTYPE)
                row["msg_type"], row["instrument"], row["ts"] = FeedType.BBO, n, rows["ts"].max()
                row["bid_price"], row["bid_qty"], row["ask_price"], row["ask_qty"] = bbo
                bbos.append(row)
        rows = np.concatenate([rows, *bbos, self._orders(events)])
        rows["seq"] = np.arange(self.seq + 1, self.seq + len(rows) + 1)
        self.seq += len(rows)
        frames = []
        for msg_type in FeedType:
            for n, symbol in enumerate(self.symbols):
                mine = rows[(rows["msg_type"] == msg_type) & (rows["instrument"] == n)]
                if len(mine):
                    name = topic(msg_type, symbol)
                    first = self.topic_seq.get(name, 0)
                    mine["instrument_seq"] = np.arange(first + 1, first + len(mine) + 1)
                    self.topic_seq[name] = first + len(mine)
                    frames.append((name, mine))
        return frames


@pytest.mark.parametrize("risk", [False, True])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_the_compiled_encoder_publishes_what_the_model_does(seed, risk):
    mode = dict(risk=True, fees=FEES) if risk else {}
    engine, twin = Engine(INSTRUMENTS, **mode), Engine(INSTRUMENTS, **mode)
    if risk:
        engine.process(funded_accounts())
        twin.process(funded_accounts())
    symbols = [i.symbol for i in INSTRUMENTS]
    compiled, model = FeedEncoder(symbols, engine), ModelEncoder(symbols, twin)
    compiled.load()
    rng = np.random.default_rng(seed)
    live, kinds = [], set()
    for batch in range(40):
        cmds = numpy_stream(rng, 150, live)
        events, twin_events = engine.process(cmds), twin.process(cmds)
        kinds |= set(events["kind"].tolist())
        accepted = events[events["kind"] == EventKind.ACCEPTED]
        live = (live + [(int(r["order_id"]), int(r["account"]), int(r["order_type"])) for r in accepted])[-300:]
        got, want = compiled.encode(events), model.encode(twin_events)
        assert [n for n, _ in got] == [n for n, _ in want], batch
        for (name, g), (_, w) in zip(got, want):
            for field in FEED_DTYPE.names:
                assert np.array_equal(g[field], w[field]), (batch, name, field)
    assert compiled.seq == model.seq and compiled.topic_seq == model.topic_seq
    # every kind of event the feed publishes came up
    assert {EventKind.TRADE, EventKind.DEPTH, EventKind.INSTRUMENT_STATUS, EventKind.BLOCK_WINDOW,
            EventKind.AUCTION_RESULT, EventKind.DAILY_STATS, EventKind.DAILY_VOLUME, EventKind.INDICATIVE} <= kinds
