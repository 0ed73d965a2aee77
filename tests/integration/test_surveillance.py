"""Market surveillance through the real daemon and the real ``chuanyu surveil`` process: a
scripted day with each abuse pattern, entered through the gateway, raises each alert with its
evidence in the alert file, on the CURVE alerts feed and in Prometheus; a back-test of the
same journal raises the very same alerts. Loopback only."""
from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.request

import pytest
import zmq

from conftest import MARKET, REPO, Daemon, _env, admin_request, cli, drain, eventually
from gateway.client import load_keys
from gateway.protocol import MsgType
from matching import Side

SCEA = 0
RULES = """
[surveillance]
related_accounts = [[1, 2]]
layering_min_qty = 5000
layering_window_s = 30
otr_min_orders = 20
otr_max = 10
close_window_s = 2
close_move_bps = 100
concentration_min_volume = 100
concentration_max_pct = 40
"""


def wait_for(client, kind):
    got = drain(client, lambda got: any(r.msg_type in (kind, MsgType.REJECT) for r in got))
    hit = next(r for r in got if r.msg_type in (kind, MsgType.REJECT))
    assert hit.msg_type == kind, hit.reason_name
    return hit


def order(client, account, side, qty, price) -> int:
    client.submit(SCEA, account, side, qty=qty, price=price)
    return wait_for(client, MsgType.ACK).order_id


@pytest.fixture
def market(tmp_path, connect):
    d = Daemon(tmp_path / "state", MARKET + RULES)
    out = tmp_path / "alerts"
    proc = subprocess.Popen([sys.executable, "-m", "chuanyu.cli", "surveil", "--state-dir", str(d.state_dir),
                             "--config", str(d.config_path), "--out", str(out), "--alerts-port", "0",
                             "--metrics-port", "0"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            cwd=REPO, env=_env())
    try:
        started = json.loads(proc.stdout.readline())
        assert started["subscribed"], "the surveillance process never heard the drop copy's heartbeat"
        yield d, proc, started, out
    finally:
        if proc.poll() is None:
            proc.terminate()
            proc.wait(10)
        proc.stdout.close()
        proc.stderr.close()
        d.stop()


def test_each_pattern_raises_its_alert_with_evidence_live_and_in_a_back_test(market, connect, zctx, tmp_path,
                                                                            request):
    d, proc, started, out = market
    regulator = zctx.socket(zmq.SUB)
    request.addfinalizer(lambda: regulator.close(0))
    regulator.linger = 0
    regulator.curve_serverkey = (d.keys / "surveillance.key").read_text().split('public-key = "')[1].split('"')[0].encode()
    regulator.curve_publickey, regulator.curve_secretkey = load_keys(d.keys, "regulator")
    regulator.setsockopt(zmq.SUBSCRIBE, b"A")
    regulator.connect(started["alerts"])
    time.sleep(0.3)                                       # the alerts feed's slow joiner
    sc, cq = connect(d, 1), connect(d, 2)
    sc.login()
    cq.login()
    # wash: accounts 1 and 2 are declared related parties
    order(sc, 1, Side.SELL, 100, 5000)
    order(sc, 2, Side.BUY, 100, 5000)
    # layering: account 4 bids 6,000 t under the market, sells 50 t into account 3's bid, pulls the bid
    big = order(cq, 4, Side.BUY, 6_000, 4900)
    order(cq, 3, Side.BUY, 50, 5001)
    order(cq, 4, Side.SELL, 50, 5001)
    cq.cancel(big, 4)
    wait_for(cq, MsgType.CANCELLED)
    # order-to-trade: account 3 enters and pulls 25 orders
    for k in range(25):
        cq.cancel(order(cq, 3, Side.BUY, 10, 4800 - k), 3)
        wait_for(cq, MsgType.CANCELLED)
    order(sc, 1, Side.SELL, 300, 5200)
    for _ in range(25):                                   # the close window is the last 2 s
        sc.heartbeat()
        cq.heartbeat()
        time.sleep(0.1)
    # marking the close: account 4 lifts the 52.00 offer just before the end of day
    order(cq, 4, Side.BUY, 300, 5200)
    admin_request(zctx, d, "end_of_day", instrument="SCEA2026")

    path = out / f"alerts-{time.strftime('%Y%m%d', time.gmtime(time.time() + 8 * 3600))}.jsonl"
    eventually(lambda: path.exists() and len(path.read_text().splitlines()) >= 5, 10, what="five alerts")
    alerts = [json.loads(line) for line in path.read_text().splitlines()]
    by_kind = {a["kind"]: a for a in alerts}
    assert sorted(by_kind) == ["concentration", "layering", "marking_the_close", "order_to_trade", "wash_trade"]
    assert len(alerts) == 5
    assert by_kind["wash_trade"]["accounts"] == [1, 2]
    assert [(t["sell_account"], t["buy_account"], t["qty"]) for t in by_kind["wash_trade"]["evidence"]["trades"]] \
        == [(1, 2, 100)]
    layering = by_kind["layering"]
    assert layering["accounts"] == [4] and layering["evidence"]["orders"][0]["order_id"] == big
    assert [(t["sell_account"], t["qty"]) for t in layering["evidence"]["trades"]] == [(4, 50)]
    assert by_kind["order_to_trade"]["accounts"] == [3] and by_kind["order_to_trade"]["figures"]["orders_entered"] == 26
    marking = by_kind["marking_the_close"]
    assert marking["accounts"] == [4] and [t["price"] for t in marking["evidence"]["trades"]] == [5200]
    assert marking["figures"]["move_bps"] > 100
    assert by_kind["concentration"]["accounts"] == [1]      # sold 400 of the day's 450 t

    # the regulator's feed carried the same alerts
    heard = []
    eventually(lambda: (heard.extend(json.loads(regulator.recv_multipart()[1]) for _ in iter(
        lambda: regulator.poll(0), 0)), len(heard) >= 5)[1], 5, what="the alerts on the feed")
    assert heard == alerts
    metrics = urllib.request.urlopen(f"http://127.0.0.1:{started['metrics']}/metrics", timeout=5).read().decode()
    assert 'chuanyu_surveillance_alerts_total{kind="layering"} 1.0' in metrics

    # the back-test of the journal: the very same alerts from the same code
    proc.terminate()
    assert proc.wait(10) == 0
    again = cli("surveil", "--journal", str(d.state_dir), "--config", str(d.config_path), "--out",
                str(tmp_path / "backtest"))
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout.splitlines()[-1])["alerts"] == 5
    replayed = [json.loads(line) for line in (tmp_path / "backtest" / path.name).read_text().splitlines()]
    assert replayed == alerts
