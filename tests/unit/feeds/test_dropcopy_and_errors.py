"""The drop copy's rows carry both accounts of every execution, numbered without gaps; the
compiled encoder refuses bad input with a clear error instead of reading out of bounds."""
import numpy as np
import pytest

from feeds._encode import BatchEncoder, tape
from feeds.dropcopy import DROP_COPY_DTYPE, drop_copy_rows
from feeds.encoder import FeedEncoder
from matching import EVENT_DTYPE, Engine, EventKind, Instrument, Side, commands

SELL, BUY = Side.SELL, Side.BUY


def test_drop_copy_rows_carry_both_accounts_orders_and_fees():
    engine = Engine([Instrument("SCEA2026")], fees={1: (50, 30)})
    events = engine.process(np.concatenate([
        commands.new_order(0, 7, SELL, 100, 5010, ts=5), commands.new_order(0, 8, SELL, 50, 5020, ts=6),
        commands.new_order(0, 9, BUY, 120, 5020, ts=7)]))
    trades = events[events["kind"] == EventKind.TRADE]
    rows = drop_copy_rows(events, epoch=3, first_seq=11)
    assert rows.dtype == DROP_COPY_DTYPE and rows["seq"].tolist() == [11, 12] and set(rows["epoch"]) == {3}
    assert rows[["buy_account", "sell_account", "qty", "price"]].tolist() == [(9, 7, 100, 5010), (9, 8, 20, 5020)]
    for name in ("trade_id", "buy_order_id", "sell_order_id", "buy_fee", "sell_fee", "cmd_seq", "ts", "side"):
        assert rows[name].tolist() == trades[name].tolist(), name
    assert rows["engine_seq"].tolist() == trades["seq"].tolist()
    assert len(drop_copy_rows(events[events["kind"] != EventKind.TRADE])) == 0


def test_the_compiled_encoder_refuses_bad_input():
    engine = Engine([Instrument("SCEA2026")])
    encoder = FeedEncoder(["SCEA2026"], engine)
    with pytest.raises(TypeError, match="EVENT_DTYPE"):
        encoder.encode(np.zeros(3, dtype=np.int64))
    stray = np.zeros(1, EVENT_DTYPE)
    stray["kind"], stray["instrument"], stray["trade_type"], stray["side"] = EventKind.DEPTH, 5, 1, 1
    with pytest.raises(ValueError, match="instrument 5 outside"):
        encoder.encode(stray)
    stray["instrument"], stray["price"] = 0, -1
    with pytest.raises(ValueError, match="price -1"):
        encoder.encode(stray)
    with pytest.raises(ValueError, match="1..1048576 instruments"):
        BatchEncoder(0)
    assert encoder.seq == 0                                  # nothing was numbered on the way


def test_the_tape_asks_for_unknown_accounts_before_writing_anything():
    engine = Engine([Instrument("SCEA2026")])
    events = engine.process(np.concatenate([commands.new_order(0, 3, SELL, 10, 5000),
                                            commands.new_order(0, 4, BUY, 10, 5000)]))
    regions = np.full(4, -1, dtype=np.int64)                 # account 4 lies beyond the table
    cross, net = np.zeros(1, np.int64), np.zeros(1, np.int64)
    args = (["SCEA2026"], ["", "CONTINUOUS", "FIXED", "BLOCK", "AUCTION"], ["", "BUY", "SELL"], ["", "SC", "CQ"])
    blob, days, ends, unknown, closes = tape(events, *args, regions, np.ones(1, bool), cross, net)
    assert (blob, unknown, closes, cross.tolist()) == (b"", [3, 4], [], [0])
    regions = np.array([0, 0, 0, 1, 2], dtype=np.int64)
    blob, days, ends, unknown, closes = tape(events, *args, regions, np.ones(1, bool), cross, net)
    assert unknown == [] and blob.endswith(b",SCEA2026,CONTINUOUS,5000,10,BUY,CQ,SC\r\n")
    assert (cross.tolist(), net.tolist(), ends.tolist()) == ([10], [10], [len(blob)])     # SC sold to CQ
    regions[3] = 9
    with pytest.raises(ValueError, match="region code 9"):
        tape(events, *args, regions, np.ones(1, bool), cross, net)


def test_a_busy_feed_port_stops_the_start_with_the_key_named(tmp_path):
    import socket

    import exchange.server as server
    from bench.gateway_bench import market_config
    from exchange.config import parse_config
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        text = market_config(1).replace("feed_port = 0", f"feed_port = {port}").replace("feeds = false", "feeds = true")
        gw = server.ExchangeNode(parse_config(text), tmp_path)
        try:
            with pytest.raises(server.GatewayError, match="network.feed_port"):
                gw.bind()
        finally:
            gw.close()
