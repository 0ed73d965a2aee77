"""A flooding session costs the daemon a bounded amount of memory and the other platform
nothing it would notice (issue 13, F2).

The flooder (a subprocess, so the measuring side does not share its interpreter) logs in and
sends maximum-size frames of messages of an unknown type flat out, never reading its
replies. Meanwhile the other platform's order round trips are timed and the daemon's
resident memory sampled.
"""
from __future__ import annotations

import pytest

from attack import finish_peer, start_peer, timed_orders
from conftest import MARKET, SOCKET_PATHS, Daemon, eventually, socket_path_env

FLOOD_S = 6

FLOODER = r"""
import sys, time
import numpy as np
import zmq
from gateway.client import login_frame, load_keys
from gateway.protocol import MAX_MESSAGES_PER_FRAME, ORDER_DTYPE

endpoint, server_key, keys_dir, seconds = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4])
public, secret = load_keys(keys_dir, "cq-platform")
ctx = zmq.Context()
sock = ctx.socket(zmq.DEALER)
sock.linger = 0
sock.rcvhwm = 1                       # reads nothing: every reply stays with the daemon
sock.rcvbuf = 4096
sock.sndhwm = 16
sock.curve_serverkey = server_key.encode()
sock.curve_publickey, sock.curve_secretkey = public, secret
sock.connect(endpoint)
sock.send(login_frame(2, heartbeat_ms=2000))
assert sock.poll(10_000), "no LOGIN_ACK"
sock.recv()
junk = np.zeros(MAX_MESSAGES_PER_FRAME, dtype=ORDER_DTYPE)
junk["msg_type"] = 200                 # no such message type: each one a REJECT
frame = junk.tobytes()
sent = 0
end = time.monotonic() + seconds
while time.monotonic() < end:
    try:
        sock.send(frame, zmq.NOBLOCK)
        sent += 1
    except zmq.Again:
        sock.poll(1, zmq.POLLOUT)
print(sent, flush=True)
ctx.destroy(linger=0)
"""


@pytest.mark.parametrize("path", SOCKET_PATHS)
def test_a_session_flooding_max_size_frames_without_reading_costs_bounded_memory(tmp_path, connect, path):
    d = Daemon(tmp_path / "state", MARKET, env=socket_path_env(path))
    try:
        victim = connect(d, 1, heartbeat_ms=1000)
        victim.login()
        flooder = start_peer(FLOODER, d.info["orders"], d.info["server_public_key"], d.keys, FLOOD_S)
        try:
            timed = timed_orders(victim, FLOOD_S, d.proc.pid)
        finally:
            sent = int(finish_peer(flooder).split()[0])
        print(f"flood: {sent} frames of 256 KiB; the other platform: {timed.summary()}")
        assert sent > 50, f"the flooder sent only {sent} frames"
        timed.assert_within_bounds()
        eventually(lambda: "cq-platform (2) disconnected (SLOW_CONSUMER)" in d.output(),
                   what="the flooder to be logged out")
    finally:
        d.stop()
