"""Operator commands over the admin socket, graceful shutdown and restart from the snapshot."""
import signal
import subprocess
import sys

import pytest

from conftest import REPO, _env
from exchange.admin import AdminClient, AdminError
from gateway.client import load_keys
from gateway.protocol import GatewayReject, MsgType
from matching import Engine, Reject, Side

SCEA, CQEA = 0, 1


@pytest.fixture
def admin(zctx):
    made = []

    def make(d, key="admin"):
        public, secret = load_keys(d.keys, key)
        a = AdminClient(d.info["admin"], d.info["server_public_key"], public, secret, timeout_ms=3000,
                        context=zctx)
        made.append(a)
        return a

    yield make
    for a in made:
        a.close()


def test_halt_resume_suspend_and_funding_take_effect(fresh_daemon, connect, admin):
    op = admin(fresh_daemon)
    sc = connect(fresh_daemon, 1)
    sc.login()
    events = op.request("halt", instrument="SCEA2026")["events"]
    assert events[0]["kind"] == "INSTRUMENT_STATUS"
    coid = sc.submit(SCEA, 1, Side.SELL, qty=1, price=5000)
    assert sc.wait_for(lambda r: r.client_order_id == coid).reason == Reject.INSTRUMENT_HALTED
    op.request("resume", instrument=SCEA)
    coid = sc.submit(SCEA, 1, Side.SELL, qty=1, price=5000)
    ack = sc.wait_for(lambda r: r.client_order_id == coid)
    assert ack.msg_type == MsgType.ACK

    op.request("suspend", account=1)                      # cancels its resting order: the owner hears
    cancelled = sc.wait_for(lambda r: r.msg_type == MsgType.CANCELLED)
    assert cancelled.order_id == ack.order_id and cancelled.session == 0
    coid = sc.submit(SCEA, 1, Side.SELL, qty=1, price=5000)
    assert sc.wait_for(lambda r: r.client_order_id == coid).reason == Reject.ACCOUNT_SUSPENDED
    op.request("restore", account=1)

    rejected = op.request("deposit", account=999, amount=5)["events"]
    assert rejected == [{"kind": "REJECTED", "seq": rejected[0]["seq"], "account": 999, "instrument": 0,
                         "reason": "UNKNOWN_ACCOUNT", "value": 5}]
    assert op.request("credit", account=2, instrument="CCER2025", qty=10)["events"][0]["kind"] == "BALANCE"
    coid = sc.submit(2, 2, Side.SELL, qty=10, price=6000)      # the credited units can be sold
    assert sc.wait_for(lambda r: r.client_order_id == coid).msg_type == MsgType.ACK
    with pytest.raises(AdminError, match="unknown instrument"):
        op.request("halt", instrument="NOPE")
    status = op.request("status")["status"]
    assert status["resting_orders"] == 1 and status["counters"]["gateway_rejects"] == 0


def test_order_keys_are_not_admin_keys(fresh_daemon, admin):
    with pytest.raises(AdminError, match="refused this key"):
        admin(fresh_daemon, key="sc-platform").request("status")


def test_sigterm_stops_intake_snapshots_and_exits_0_and_a_restart_restores(fresh_daemon, connect):
    sc = connect(fresh_daemon, 1)
    sc.login()
    coid = sc.submit(SCEA, 1, Side.SELL, qty=25, price=5100)
    ack = sc.wait_for(lambda r: r.client_order_id == coid)
    fresh_daemon.proc.send_signal(signal.SIGTERM)
    assert fresh_daemon.proc.wait(15) == 0
    bye = sc.wait_for(lambda r: r.msg_type == MsgType.SERVER_LOGOUT)
    assert bye.reason == GatewayReject.SHUTTING_DOWN
    snaps = sorted(fresh_daemon.state_dir.glob("snapshot-*.bin"))
    assert len(snaps) == 1
    engine = Engine.restore(snaps[0].read_bytes())
    assert engine.order(ack.order_id).qty == 25
    assert "shut down; snapshot" in fresh_daemon.output()

    fresh_daemon.start()                     # same state dir: the snapshot is restored
    again = connect(fresh_daemon, 1)
    login = again.login()
    assert login.last_client_order_id == coid and login.next_cmd_seq > ack.cmd_seq
    again.cancel(ack.order_id, 1)
    done = again.wait_for(lambda r: r.msg_type == MsgType.CANCELLED)
    assert (done.order_id, done.qty, done.client_order_id) == (ack.order_id, 25, coid)


def test_admin_shutdown_replies_then_exits_0(fresh_daemon, admin):
    reply = admin(fresh_daemon).request("shutdown")
    assert reply["snapshot"].endswith(".bin")
    assert fresh_daemon.proc.wait(15) == 0


def test_invalid_config_names_the_key_and_exits_2(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("[[instruments]]\nsymbol = 'X'\nreference_price = 5000\ntick = 0\n")
    proc = subprocess.run([sys.executable, "-m", "chuanyu.cli", "engine", "--config", str(bad),
                           "--state-dir", str(tmp_path / "s")], capture_output=True, text=True, cwd=tmp_path,
                          env=_env(), timeout=60)
    assert proc.returncode == 2
    assert "instruments[0].tick" in proc.stderr and "Traceback" not in proc.stderr
    assert REPO.exists()
