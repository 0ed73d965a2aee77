"""exchange.metrics: per-batch counting from numpy columns, the journal fsync hook, the
scrape-time collector, and serving /metrics over HTTP."""
import dataclasses
import socket
import urllib.request

import numpy as np
import pytest
from prometheus_client.parser import text_string_to_metric_families

import exchange.server as server
from bench.gateway_bench import market_config, orders_pool
from exchange.config import parse_config
from exchange.journal import Journal
from exchange.metrics import Metrics, reject_label, trade_type_label
from matching import COMMAND_DTYPE, EVENT_DTYPE, CommandType, EventKind, Reject, TradeType
from wire import logged_in


def _commands(*types):
    cmds = np.zeros(len(types), dtype=COMMAND_DTYPE)
    cmds["type"] = types
    return cmds


def _events(rows):
    """rows: (kind, trade_type, qty, reason)."""
    ev = np.zeros(len(rows), dtype=EVENT_DTYPE)
    for n, (kind, tt, qty, reason) in enumerate(rows):
        ev[n]["kind"], ev[n]["trade_type"], ev[n]["qty"], ev[n]["reason"] = kind, tt, qty, reason
    return ev


def test_orders_are_counted_by_the_trade_type_of_their_command():
    m = Metrics()
    m.observe_batch(_commands(CommandType.NEW_ORDER, CommandType.NEW_ORDER, CommandType.LIST_FIXED,
                              CommandType.TAKE_FIXED, CommandType.BLOCK_QUOTE, CommandType.AUCTION_BID,
                              CommandType.CANCEL, CommandType.DEPOSIT, CommandType.END_OF_DAY),
                    _events([]), resting_orders=0)
    counts = {tt.name.lower(): m.value("chuanyu_orders_total", trade_type=tt.name.lower()) for tt in TradeType}
    assert counts == {"continuous": 2, "fixed": 2, "block": 1, "auction": 1}


def test_every_command_is_counted_by_its_type_name():
    m = Metrics()
    m.observe_batch(_commands(CommandType.CANCEL, CommandType.CANCEL, CommandType.END_OF_DAY, 200),
                    _events([]), resting_orders=0)
    assert m.value("chuanyu_commands_total", command="CANCEL") == 2
    assert m.value("chuanyu_commands_total", command="END_OF_DAY") == 1
    assert m.value("chuanyu_commands_total", command="200") == 1      # no such command type
    assert m.value("chuanyu_commands_total", command="NEW_ORDER") is None


def test_trades_tonnes_and_engine_rejects_come_from_the_events():
    m = Metrics()
    events = _events([(EventKind.TRADE, TradeType.CONTINUOUS, 10, 0), (EventKind.TRADE, TradeType.CONTINUOUS, 5, 0),
                      (EventKind.TRADE, TradeType.BLOCK, 5000, 0), (EventKind.ACCEPTED, 0, 7, 0),
                      (EventKind.REJECTED, 0, 3, Reject.INSUFFICIENT_CASH),
                      (EventKind.REJECTED, 0, 3, Reject.INSUFFICIENT_CASH),
                      (EventKind.REJECTED, 0, 3, Reject.PRICE_OUTSIDE_BAND)])
    m.observe_batch(_commands(CommandType.NEW_ORDER), events, resting_orders=42)
    assert m.value("chuanyu_trades_total", trade_type="continuous") == 2
    assert m.value("chuanyu_trades_total", trade_type="block") == 1
    assert m.value("chuanyu_trades_total", trade_type="fixed") == 0
    assert m.value("chuanyu_traded_tonnes_total", trade_type="continuous") == 15
    assert m.value("chuanyu_traded_tonnes_total", trade_type="block") == 5000
    assert m.value("chuanyu_rejects_total", reason="INSUFFICIENT_CASH") == 2
    assert m.value("chuanyu_rejects_total", reason="PRICE_OUTSIDE_BAND") == 1
    assert m.value("chuanyu_resting_orders") == 42


def test_batch_size_histogram_counts_batches_and_commands():
    m = Metrics()
    for n in (1, 3, 1000):
        m.observe_batch(_commands(*[CommandType.NEW_ORDER] * n), _events([]), resting_orders=0)
    assert m.value("chuanyu_batch_commands_count") == 3
    assert m.value("chuanyu_batch_commands_sum") == 1004
    assert m.value("chuanyu_batch_commands_bucket", le="1.0") == 1
    assert m.value("chuanyu_batch_commands_bucket", le="4.0") == 2
    assert m.value("chuanyu_batch_commands_bucket", le="1024.0") == 3


def test_an_unknown_reject_code_is_labelled_by_its_number():
    m = Metrics()
    m.observe_rejects(np.array([Reject.NOT_AUTHORISED, 9999, Reject.NOT_AUTHORISED], dtype=np.uint16))
    assert m.value("chuanyu_rejects_total", reason="NOT_AUTHORISED") == 2
    assert m.value("chuanyu_rejects_total", reason="9999") == 1
    assert reject_label(9999) == "9999" and trade_type_label(TradeType.AUCTION) == "auction"


def test_round_trip_and_fsync_histograms_take_nanoseconds():
    m = Metrics()
    m.observe_round_trip(1_000_000, 1_300_000)       # 300 µs
    m.observe_round_trip(5, 1)                       # a clock step backwards counts as 0, not negative
    m.observe_fsync(2_000_000)                       # 2 ms
    assert m.value("chuanyu_round_trip_seconds_count") == 2
    assert m.value("chuanyu_round_trip_seconds_sum") == pytest.approx(300e-6)
    assert m.value("chuanyu_round_trip_seconds_bucket", le="0.00025") == 1
    assert m.value("chuanyu_journal_fsync_seconds_sum") == pytest.approx(2e-3)


def test_each_metrics_object_has_its_own_registry():
    a, b = Metrics(), Metrics()
    a.observe_batch(_commands(CommandType.NEW_ORDER), _events([]), resting_orders=1)
    assert a.value("chuanyu_orders_total", trade_type="continuous") == 1
    assert b.value("chuanyu_orders_total", trade_type="continuous") == 0


def test_the_journal_reports_each_fsync_to_its_hook(tmp_path):
    m = Metrics()
    j = Journal(tmp_path, "fsync")
    j.on_fsync = m.observe_fsync
    batch = np.zeros(4, dtype=COMMAND_DTYPE)
    batch["type"] = CommandType.NEW_ORDER
    batch["seq"] = np.arange(1, 5)
    j.append(batch)
    j.sync()
    j.close()
    assert m.value("chuanyu_journal_fsync_seconds_count") == j.counters["fsyncs"] >= 1
    assert m.value("chuanyu_journal_fsync_seconds_sum") == pytest.approx(j.counters["fsync_ns"] / 1e9)


# ------------------------------------------------------------------ wired into a gateway (no sockets)
def _gateway(tmp_path, metrics_port):
    cfg = parse_config(market_config(2))
    cfg.daemon = dataclasses.replace(cfg.daemon, metrics_port=metrics_port)
    return logged_in(server.ExchangeNode(cfg, tmp_path))


def test_a_gateway_without_a_metrics_port_has_no_metrics(tmp_path):
    gw = _gateway(tmp_path, 0)
    try:
        assert gw.metrics is None
        pool = orders_pool(50, (1, 2), seed=1)
        pool["client_order_id"] = np.arange(1, 51)
        gw.run_batch([pool.tobytes()], [1], [1_000])      # the hooks are skipped, nothing breaks
    finally:
        gw.close()


def test_a_gateway_batch_updates_its_metrics_and_the_collector_reads_its_state(tmp_path):
    gw = _gateway(tmp_path, 1)       # a port makes the metrics; nothing is served without bind()
    try:
        frames, sess = [], []
        for k in range(2):                               # session k+1 trades accounts 2k+1, 2k+2
            pool = orders_pool(200, (2 * k + 1, 2 * k + 2), seed=k)
            pool["client_order_id"] = np.arange(1, 201)
            frames.append(pool.tobytes())
            sess.append(k + 1)
        unauthorised = pool[:3].copy()
        unauthorised["account"] = 1                      # session 2 may not act for account 1
        unauthorised["client_order_id"] = [201, 202, 203]
        gw.run_batch(frames + [unauthorised.tobytes()], sess + [2], [1_000] * 3)
        m = gw.metrics
        assert m.value("chuanyu_orders_total", trade_type="continuous") == 400
        assert m.value("chuanyu_trades_total", trade_type="continuous") > 0
        assert m.value("chuanyu_rejects_total", reason="NOT_AUTHORISED") == 3
        assert m.value("chuanyu_resting_orders") == gw.engine.resting_orders > 0
        assert m.value("chuanyu_round_trip_seconds_count") == 1
        assert m.value("chuanyu_sessions_logged_in") == 2
        assert m.value("chuanyu_session_logged_in", session="bench-0") == 1
        assert m.value("chuanyu_last_seq") == gw.next_seq - 1
        gw.sessions[2].logged_in = False
        assert m.value("chuanyu_sessions_logged_in") == 1
    finally:
        gw.close()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_serve_exposes_the_registry_over_http_until_closed():
    m = Metrics()
    m.observe_batch(_commands(CommandType.NEW_ORDER, CommandType.BLOCK_QUOTE), _events([]), resting_orders=2)
    port = _free_port()
    url = m.serve("127.0.0.1", port)
    try:
        assert url == f"http://127.0.0.1:{port}/metrics"
        with urllib.request.urlopen(url, timeout=5) as r:
            text = r.read().decode()
    finally:
        m.close()
    families = {f.name: f for f in text_string_to_metric_families(text)}
    orders = {s.labels["trade_type"]: s.value for s in families["chuanyu_orders"].samples
              if s.name == "chuanyu_orders_total"}
    assert orders == {"continuous": 1, "fixed": 0, "block": 1, "auction": 0}
    assert not any(s.name.endswith("_created") for f in families.values() for s in f.samples)
    with pytest.raises(ConnectionRefusedError), socket.create_connection(("127.0.0.1", port), timeout=5):
        pass                                     # closed: nothing listens any more


def test_serve_refuses_a_port_out_of_range():
    with pytest.raises(ValueError, match="1..65535"):
        Metrics().serve("127.0.0.1", 0)

