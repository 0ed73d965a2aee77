"""A trading day under the operator's hand (issue 14), through the real daemon and the CLI:
a raised retention floor, a position limit, a halt of every instrument and a mass cancel of
one member's orders mid-session. Then kill -9 and a restart, and a full replay with no
snapshot: the state digest is the same all three ways, and every session's reports (by gap
fill from the first) are the same: every ACK stays an ACK, every reject a reject."""
from __future__ import annotations

import signal

from conftest import MARKET, Daemon, admin_status, cli, drain
from gateway.protocol import MsgType
from matching import CancelReason, Reject, Side

SCEA, CQEA = 0, 1
BUY, SELL = Side.BUY, Side.SELL
QUIET = MARKET.replace("heartbeat_ms = 200", "heartbeat_ms = 10000")   # the sessions wait out the CLI calls


def _admin(d: Daemon, *args: str) -> str:
    run = cli("admin", "--state-dir", str(d.state_dir), *args)
    assert run.returncode == 0, f"admin {args}: {run.stderr}"
    return run.stdout



def _history(connect, d: Daemon, session: int) -> list:
    c = connect(d, session)
    ack = c.login(last_report_seq=0)
    got = drain(c, lambda got: len(got) >= ack.report_seq) if ack.report_seq else []
    c.logout()
    return [(r.type_name, r.reason, r.client_order_id, r.order_id, r.price, r.qty, r.leaves) for r in got]


def _answer(c, coid):
    return c.wait_for(lambda r: r.client_order_id == coid and r.msg_type in (MsgType.ACK, MsgType.REJECT))


def test_an_operators_day_survives_kill_and_replays_to_the_same_market(tmp_path, zctx, connect):
    d = Daemon(tmp_path / "state", QUIET)
    try:
        sc, cq = connect(d, 1), connect(d, 2)
        sc.login()
        cq.login()
        # morning: both regions quote and trade SCEA
        rest1 = sc.submit(SCEA, 1, SELL, qty=300, price=5100)           # member 101
        rest2 = sc.submit(SCEA, 2, SELL, qty=200, price=5080)           # member 102
        assert _answer(sc, rest1).msg_type == MsgType.ACK and _answer(sc, rest2).msg_type == MsgType.ACK
        take = cq.submit(SCEA, 4, BUY, qty=150, price=5080)
        cq.wait_for(lambda r: r.msg_type == MsgType.FILL and r.client_order_id == take)

        # the operator raises account 1's floor and limits account 4's position
        assert "ACCOUNT_UPDATED" in _admin(d, "retention-floor", "1", "SCEA2026", "99800")
        assert "ACCOUNT_UPDATED" in _admin(d, "position-limit", "4", "SCEA2026", "1200")
        # 100,000 held, 300 offered: 100 more would leave 99,600 < 99,800
        floored = sc.submit(SCEA, 1, SELL, qty=100, price=5100)
        assert _answer(sc, floored).reason == Reject.RETENTION_FLOOR
        # account 4 holds 1,150: 100 more would pass 1,200
        limited = cq.submit(SCEA, 4, BUY, qty=100, price=5100)
        assert _answer(cq, limited).reason == Reject.POSITION_LIMIT

        out = _admin(d, "halt")                                         # every instrument
        assert out.count("INSTRUMENT_STATUS") == 3
        halted = cq.submit(CQEA, 3, BUY, qty=10, price=4480)
        assert _answer(cq, halted).reason == Reject.INSTRUMENT_HALTED
        out = _admin(d, "cancel-all", "--member", "101")
        assert "CANCELLED" in out and "OPERATOR" in out
        cancelled = sc.wait_for(lambda r: r.msg_type == MsgType.CANCELLED and r.client_order_id == rest1)
        assert cancelled.reason == CancelReason.OPERATOR
        _admin(d, "resume")
        after = cq.submit(SCEA, 4, BUY, qty=50, price=5080)              # member 102's offer is still there
        cq.wait_for(lambda r: r.msg_type == MsgType.FILL and r.client_order_id == after)
        sc.wait_for(lambda r: r.msg_type == MsgType.FILL and r.client_order_id == rest2)
        sc.logout()
        cq.logout()

        live = admin_status(zctx, d)["state_digest"]
        histories = {s: _history(connect, d, s) for s in (1, 2)}
        assert ("REJECT", Reject.RETENTION_FLOOR, floored) in [h[:3] for h in histories[1]]
        assert ("CANCELLED", CancelReason.OPERATOR, rest1) in [h[:3] for h in histories[1]]

        d.proc.send_signal(signal.SIGKILL)
        d.proc.wait(10)
        # the operator's rule changes go into the configuration too, or the start refuses it
        refused = cli("engine", "--config", str(d.config_path), "--state-dir", str(d.state_dir))
        assert refused.returncode == 1
        assert "accounts[1].retention_floor.SCEA2026: configuration 0, market 99800" in refused.stderr
        assert "accounts[4].position_limit.SCEA2026: configuration 0, market 1200" in refused.stderr
        d.config_path.write_text(QUIET.replace(
            "id = 1\nmember = 101\n", "id = 1\nmember = 101\nretention_floor = { SCEA2026 = 99_800 }\n").replace(
            "id = 4\nmember = 202\n", "id = 4\nmember = 202\nposition_limit = { SCEA2026 = 1_200 }\n"))
        d.start()
        assert admin_status(zctx, d)["state_digest"] == live
        assert {s: _history(connect, d, s) for s in (1, 2)} == histories
        assert d.stop() == 0

        for path in list(d.state_dir.glob("snapshot-*.bin")) + list(d.state_dir.glob("gateway-*.npz")):
            path.unlink()
        replayed = cli("replay", str(d.state_dir), "--config", str(d.config_path))
        assert f"state digest {live}" in replayed.stdout, replayed.stderr
        d.start()                                                        # the journal alone
        assert admin_status(zctx, d)["state_digest"] == live
        assert {s: _history(connect, d, s) for s in (1, 2)} == histories
    finally:
        d.stop()
