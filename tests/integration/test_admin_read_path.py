"""The operator's read path through the real CLI (issue 14, item 5): `chuanyu admin --json
status` carries every field the docs promise and its digest is `chuanyu replay`'s; `chuanyu
admin account` reads cash and holdings; every operator command is logged with its admin key."""
from __future__ import annotations

import json

from conftest import cli
from gateway.protocol import MsgType
from matching import Side



def _admin_json(d, *args):
    run = cli("admin", "--state-dir", str(d.state_dir), "--json", *args)
    assert run.returncode == 0, run.stderr
    return json.loads(run.stdout)


def test_status_json_account_and_the_operator_log(fresh_daemon, connect):
    d = fresh_daemon
    sc, cq = connect(d, 1), connect(d, 2)
    sc.login()
    cq.login()
    sell = sc.submit(0, 1, Side.SELL, qty=40, price=5010)
    sc.wait_for(lambda r: r.msg_type == MsgType.ACK and r.client_order_id == sell)
    buy = cq.submit(0, 4, Side.BUY, qty=40, price=5010)
    cq.wait_for(lambda r: r.msg_type == MsgType.FILL and r.client_order_id == buy)
    sc.logout()
    cq.logout()

    deposit = _admin_json(d, "deposit", "4", "12345")
    assert [e["kind"] for e in deposit["events"]] == ["BALANCE"] and deposit["events"][0]["seq"] > 0

    status = _admin_json(d, "status")["status"]
    for key in ("state_digest", "last_seq", "next_seq", "journal", "recovery", "schedule", "storage", "snapshots",
                "sessions", "instruments", "counters", "endpoints", "feed_snapshots"):
        assert key in status, key
    assert status["journal"]["last_seq"] == status["last_seq"] == deposit["events"][0]["seq"]
    assert status["journal"]["records"] >= 4 and status["journal"]["fsyncs"] >= 1
    assert status["recovery"]["snapshot"] is None

    seller = _admin_json(d, "account", "1")["account"]
    buyer = _admin_json(d, "account", "4")["account"]
    assert seller["holdings"]["SCEA2026"]["available"] == 100_000 - 40
    assert buyer["holdings"]["SCEA2026"]["locked"] + buyer["holdings"]["SCEA2026"]["available"] == 1_000 + 40
    assert buyer["cash_available"] < 100_000_000 + 12345                # paid 40 x 5010 and fees
    table = cli("admin", "--state-dir", str(d.state_dir), "account", "1")
    assert table.returncode == 0 and "SCEA2026" in table.stdout and "99,960" in table.stdout
    unknown = cli("admin", "--state-dir", str(d.state_dir), "account", "777")
    assert unknown.returncode == 1 and "unknown account 777" in unknown.stderr

    assert d.stop() == 0
    assert 'operator deposit {"account": 4, "amount": 12345} by admin key ' in d.out_path.read_text()
    replayed = cli("replay", str(d.state_dir), "--config", str(d.config_path))
    assert replayed.returncode == 0, replayed.stderr
    assert f"state digest {status['state_digest']}" in replayed.stdout
