"""Refused CURVE keys through the real daemon: the refusals are logged (rate-limited) and
counted (admin status, Prometheus), and an admin client with a refused key fails each request
within its timeout with a message naming the cause, never blocking."""
import subprocess
import sys
import time

import zmq
import zmq.auth

from conftest import REPO, _env, eventually
from exchange.admin import AdminClient, AdminError
from gateway.client import load_keys
from test_gateway_metrics import ObservedDaemon, free_port, sample, scrape


def _stranger(tmp_path, name="stranger"):
    zmq.auth.create_certificates(str(tmp_path), name)
    return load_keys(tmp_path, name)


def _status(d, zctx) -> dict:
    public, secret = load_keys(d.keys, "admin")
    with AdminClient(d.info["admin"], d.info["server_public_key"], public, secret, timeout_ms=5000,
                     context=zctx) as op:
        return op.request("status")["status"]


def _handshake(d, zctx, public, secret, endpoint="orders"):
    """Connect with a key and send one frame: the daemon runs the CURVE handshake (ZAP) for it."""
    sock = zctx.socket(zmq.DEALER)
    sock.linger = 0
    sock.curve_serverkey = d.info["server_public_key"].encode()
    sock.curve_publickey, sock.curve_secretkey = public, secret
    sock.connect(d.info[endpoint])
    sock.send(b"\0" * 64)
    return sock


def test_refused_handshakes_are_logged_once_per_key_and_counted(tmp_path, zctx):
    port = free_port()
    d = ObservedDaemon(tmp_path / "state", ["--metrics-port", str(port)])
    socks = []
    try:
        public, secret = _stranger(tmp_path)
        socks.append(_handshake(d, zctx, public, secret))             # the order port
        try:
            with AdminClient(d.info["admin"], d.info["server_public_key"], public, secret, timeout_ms=3000,
                             context=zctx) as op:                     # the admin port
                op.request("status")
            raise AssertionError("the admin port answered a stranger's key")
        except AdminError:
            pass
        counted = eventually(lambda: (lambda c: c if c["orders"] >= 1 and c["admin"] >= 1 else None)(
            _status(d, zctx)["curve_refused"]), 10, what="the refusals counted in the status")
        assert counted["drop_copy"] == 0
        key = public.decode()
        lines = eventually(lambda: [ln for ln in d.log().splitlines() if "CURVE handshake refused" in ln]
                           if key in d.log() else None, 10, what="the refusal logged")
        assert any("orders" in ln and key in ln and "127.0.0.1" in ln for ln in lines), lines
        assert any("admin" in ln and key in ln for ln in lines), lines

        # a flood of handshakes with the same key: counted one by one, logged once
        before = _status(d, zctx)["curve_refused"]["orders"]
        for _ in range(30):
            socks.append(_handshake(d, zctx, public, secret))
        eventually(lambda: _status(d, zctx)["curve_refused"]["orders"] >= before + 30, 20,
                   what="every refused handshake counted")
        orders_lines = [ln for ln in d.log().splitlines() if "CURVE handshake refused" in ln and "orders" in ln]
        assert len(orders_lines) == 1, orders_lines
        m = scrape(d.info["metrics"])
        assert sample(m, "chuanyu_curve_refused_total", domain="orders") >= before + 30
        assert sample(m, "chuanyu_curve_refused_total", domain="admin") >= 1
    finally:
        for s in socks:
            s.close(linger=0)
        assert d.stop() == 0
    # the refusals not logged one by one are summed up (here: at shutdown)
    log = d.log_path.read_text()
    summary = [ln for ln in log.splitlines() if "refused CURVE handshakes" in ln and "orders" in ln]
    assert summary and "not logged one by one" in summary[-1], log


# Two requests with a key the admin port refuses, in a process of its own so that a client
# that blocks fails the test by the subprocess timeout instead of hanging it.
_TWO_REQUESTS = """
import sys, time
from exchange.admin import AdminClient, AdminError
from gateway.client import load_keys
endpoint, server_key, keys = sys.argv[1:4]
public, secret = load_keys(keys, "stranger")
with AdminClient(endpoint, server_key, public, secret, timeout_ms=1500) as op:
    for n in range(2):
        t0 = time.monotonic()
        try:
            op.request("status")
            print("answered")
        except AdminError as exc:
            print(f"{time.monotonic() - t0:.2f} {exc}")
"""


def test_an_admin_client_with_a_refused_key_fails_each_request_in_time(fresh_daemon, tmp_path):
    _stranger(tmp_path)
    proc = subprocess.run([sys.executable, "-c", _TWO_REQUESTS, fresh_daemon.info["admin"],
                           fresh_daemon.info["server_public_key"], str(tmp_path)],
                          capture_output=True, text=True, env=_env(), timeout=60, cwd=REPO)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert len(lines) == 2, proc.stdout
    for line in lines:
        took, message = line.split(" ", 1)
        assert float(took) < 10                         # the timeout is 1.5 s: generous on a loaded machine
        assert "refused" in message and "admin key" in message, message


def test_an_admin_client_names_a_daemon_that_does_not_answer(zctx, tmp_path):
    public, secret = _stranger(tmp_path)
    server_public, _ = _stranger(tmp_path, "server")
    port = free_port()                                 # nobody listens there
    with AdminClient(f"tcp://127.0.0.1:{port}", server_public, public, secret, timeout_ms=300,
                     context=zctx) as op:
        for _ in range(2):
            t0 = time.monotonic()
            try:
                op.request("status")
                raise AssertionError("answered")
            except AdminError as exc:
                assert "not answering" in str(exc) and str(port) in str(exc), str(exc)
            assert time.monotonic() - t0 < 10


def test_the_admin_cli_with_a_refused_key_exits_non_zero_with_the_cause(fresh_daemon):
    proc = subprocess.run([sys.executable, "-m", "chuanyu.cli", "admin", "--state-dir", str(fresh_daemon.state_dir),
                           "--key", "sc-platform", "--timeout", "1.5", "status"],
                          capture_output=True, text=True, env=_env(), timeout=60, cwd=REPO)
    assert proc.returncode != 0
    assert "refused" in proc.stderr and "admin key" in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr
