"""A session is bound to one connection: its CURVE key and its socket, checked on every frame.

The attack these tests stage (issue 13, F1): a platform with a fixed ZeroMQ routing id drops
its connection without a LOGOUT; another key holder connects with the same routing id and,
without logging in, sends orders and cancels as if it were the platform's session.
"""
from __future__ import annotations

import pytest
import zmq

from gateway.client import login_frame, decode_reports, load_keys, orders
from gateway.protocol import GatewayReject, MsgType
from matching import OrderType, Side, TimeInForce

from attack import finish_peer, start_peer, timed_orders
from conftest import SOCKET_PATHS, Daemon, eventually, socket_path_env

FIXED_ID = b"SC-GW-1"
SCEA, ACCOUNT = 0, 1


@pytest.fixture(params=SOCKET_PATHS)
def target(request, tmp_path):
    d = Daemon(tmp_path / "state", env=socket_path_env(request.param))
    yield d
    d.stop()


def _dealer(ctx, d: Daemon, key: str, routing_id: bytes | None = None) -> zmq.Socket:
    public, secret = load_keys(d.keys, key)
    sock = ctx.socket(zmq.DEALER)
    sock.linger = 0
    if routing_id is not None:
        sock.routing_id = routing_id
    sock.curve_serverkey = d.info["server_public_key"].encode()
    sock.curve_publickey, sock.curve_secretkey = public, secret
    sock.connect(d.info["orders"])
    return sock


def _replies(sock: zmq.Socket, timeout_ms: int) -> list:
    """The report rows of the frames waiting, after waiting up to ``timeout_ms`` for the first."""
    rows = []
    wait = timeout_ms
    while sock.poll(wait):
        rows += list(decode_reports(sock.recv()))
        wait = 0
    return rows


def _wait_for_the_session_to_end(d: Daemon) -> None:
    """ZeroMQ lets a second connection have a routing id once the first is gone: wait for that."""
    eventually(lambda: "sc-platform (1) disconnected (CONNECTION_LOST)" in d.output(),
               what="the daemon to see the platform's connection close")


def _sell(coid: int, msg_type=MsgType.NEW_ORDER, **fields) -> bytes:
    base = dict(instrument=SCEA, account=ACCOUNT, side=Side.SELL, order_type=OrderType.LIMIT,
                tif=TimeInForce.GTC, qty=10, price=5400, client_order_id=coid)
    base.update(fields)
    return orders(1, msg_type, **base).tobytes()


def test_a_second_key_on_a_dropped_platforms_routing_id_cannot_act_as_its_session(target, zctx, connect):
    platform = _dealer(zctx, target, "sc-platform", FIXED_ID)
    platform.send(login_frame(1, heartbeat_ms=2000))
    ack = _replies(platform, 3000)
    assert int(ack[0]["msg_type"]) == MsgType.LOGIN_ACK
    platform.send(_sell(1))
    placed = eventually(lambda: [r for r in _replies(platform, 200) if int(r["msg_type"]) == MsgType.ACK],
                        what="the platform's ACK")
    order_id, last_seen = int(placed[0]["order_id"]), int(placed[-1]["report_seq"])
    platform.close(linger=0)                            # gone without a LOGOUT
    _wait_for_the_session_to_end(target)

    # a broker's valid key, the platform's routing id, no LOGIN: a cancel and a new order for
    # the platform's account
    squatter = _dealer(zctx, target, "cq-platform", FIXED_ID)
    cancel = orders(1, MsgType.CANCEL, instrument=SCEA, account=ACCOUNT, order_id=order_id,
                    client_order_id=0).tobytes()
    answered = []
    for coid in range(100, 110):
        squatter.send(cancel + _sell(coid, price=5300), zmq.NOBLOCK)
        answered += _replies(squatter, 100)
    acted = [r for r in answered if int(r["msg_type"]) in (MsgType.ACK, MsgType.CANCELLED, MsgType.FILL)]
    assert acted == [], "the squatter's frames were executed as the platform's session"
    squatter.close(linger=0)

    # the platform's session was not taken: its order still rests, its report stream holds
    # nothing of the squatter's, and a new connection logs in (no ALREADY_LOGGED_IN)
    back = connect(target, 1)
    back.login(last_report_seq=last_seen)
    later = back.reports(500)
    assert [r for r in later if r.type_name in ("ACK", "CANCELLED")] == []
    back.submit(SCEA, 2, Side.BUY, 10, 5400, order_type=OrderType.LIMIT, tif=TimeInForce.IOC)
    fills = eventually(lambda: [r for r in back.reports(200) if r.type_name == "FILL"], what="a fill")
    assert {r.order_id for r in fills} >= {order_id}

    log = target.output()
    assert "routing id" in log and "refused" in log, log[-2000:]


def test_a_platform_reconnecting_on_its_fixed_routing_id_logs_in_again(target, zctx):
    platform = _dealer(zctx, target, "sc-platform", FIXED_ID)
    platform.send(login_frame(1, heartbeat_ms=2000))
    assert int(_replies(platform, 3000)[0]["msg_type"]) == MsgType.LOGIN_ACK
    platform.close(linger=0)

    # the session ends with its connection, not heartbeats later: the same platform, back
    # on the same routing id, is let in at once
    def relogin():
        again = _dealer(zctx, target, "sc-platform", FIXED_ID)
        again.send(login_frame(1, heartbeat_ms=2000))
        rows = _replies(again, 300)
        again.close(linger=0)
        refused = [int(r["reason"]) for r in rows if int(r["msg_type"]) == MsgType.REJECT]
        assert GatewayReject.ALREADY_LOGGED_IN not in refused, refused
        return any(int(r["msg_type"]) == MsgType.LOGIN_ACK for r in rows)
    eventually(relogin, timeout=3, what="a LOGIN_ACK for the platform's reconnection")


def test_a_squatter_on_a_sessions_routing_id_is_disconnected(target, zctx):
    platform = _dealer(zctx, target, "sc-platform", FIXED_ID)
    platform.send(login_frame(1, heartbeat_ms=2000))
    assert int(_replies(platform, 3000)[0]["msg_type"]) == MsgType.LOGIN_ACK
    platform.close(linger=0)
    _wait_for_the_session_to_end(target)

    squatter = _dealer(zctx, target, "cq-platform", FIXED_ID)
    events = squatter.get_monitor_socket(zmq.EVENT_DISCONNECTED)
    try:
        def kicked():
            squatter.send(_sell(1), zmq.NOBLOCK)
            return events.poll(200)
        eventually(kicked, timeout=5, what="the daemon to close the squatter's connection")
    finally:
        squatter.disable_monitor()
        events.close(linger=0)
        squatter.close(linger=0)
    # and the platform gets its routing id back
    platform = _dealer(zctx, target, "sc-platform", FIXED_ID)
    platform.send(login_frame(1, heartbeat_ms=2000))
    assert int(_replies(platform, 3000)[0]["msg_type"]) == MsgType.LOGIN_ACK
    platform.close(linger=0)
    assert "sc-platform" in target.output()


SQUATTER = r"""
import sys, time
import zmq
from gateway.client import load_keys

endpoint, server_key, keys_dir, routing_id, seconds = sys.argv[1:6]
public, secret = load_keys(keys_dir, "limited")
ctx = zmq.Context()
kicked = 0
end = time.monotonic() + float(seconds)
while time.monotonic() < end:
    sock = ctx.socket(zmq.DEALER)
    sock.linger = 0
    sock.routing_id = routing_id.encode()
    sock.curve_serverkey = server_key.encode()
    sock.curve_publickey, sock.curve_secretkey = public, secret
    events = sock.get_monitor_socket(zmq.EVENT_DISCONNECTED)
    sock.connect(endpoint)
    sock.send(bytes(64) * 8)
    if events.poll(1000):
        kicked += 1
    sock.disable_monitor()
    events.close(linger=0)
    sock.close(linger=0)
print(kicked, flush=True)
ctx.destroy(linger=0)
"""


def test_squatters_reconnecting_in_a_loop_do_not_slow_the_other_platform(target, zctx, connect):
    platform = _dealer(zctx, target, "sc-platform", FIXED_ID)
    platform.send(login_frame(1, heartbeat_ms=2000))
    assert int(_replies(platform, 3000)[0]["msg_type"]) == MsgType.LOGIN_ACK
    platform.close(linger=0)
    _wait_for_the_session_to_end(target)
    other = connect(target, 2, heartbeat_ms=1000)
    other.login()
    squatter = start_peer(SQUATTER, target.info["orders"], target.info["server_public_key"], target.keys,
                          FIXED_ID.decode(), 5)
    try:
        timed = timed_orders(other, 5, target.proc.pid, instrument=1, account=3, price=4300)
    finally:
        kicked = int(finish_peer(squatter).split()[0])
    print(f"squatter closed {kicked} times; the other platform: {timed.summary()}")
    assert kicked >= 5
    timed.assert_within_bounds()
