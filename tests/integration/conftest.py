"""Fixtures for the integration tests: a real daemon (``chuanyu engine``) in a subprocess on
loopback ports chosen by the OS, and clients whose sockets are closed with linger=0.

Every wait polls with a deadline (:func:`eventually`, ``Client.recv(timeout_ms)``); nothing
sleeps blindly.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from exchange.admin import AdminClient
from gateway.client import Client, load_keys
from zmqio.libzmq import FORCE_PYZMQ

REPO = Path(__file__).resolve().parents[2]

# Accounts: 1, 2 belong to Sichuan members (101, 102); 3, 4 to Chongqing members (201, 202).
# Instruments: 0 SCEA, 1 CQEA, 2 CCER.
MARKET = """
[market]
max_accounts = 1000
default_stp = "CANCEL_NEWEST"
[market.fees]
continuous = [50, 50]

[[instruments]]
symbol = "SCEA2026"
region = "SC"
reference_price = 5000
[[instruments]]
symbol = "CQEA2026"
region = "CQ"
reference_price = 4480
[[instruments]]
symbol = "CCER2025"
kind = "CER"
reference_price = 6000
tick = 5
band_bps = 2000

[[members]]
id = 101
name = "SC Power"
region = "SC"
[[members]]
id = 102
name = "SC Cement"
region = "SC"
[[members]]
id = 201
name = "CQ Steel"
region = "CQ"
[[members]]
id = 202
name = "CQ Invest"
region = "CQ"

[[accounts]]
id = 1
member = 101
sector = "POWER"
cash = 100_000_000
holdings = { SCEA2026 = 100_000, CQEA2026 = 10_000 }
[[accounts]]
id = 2
member = 102
sector = "BUILDING_MATERIALS"
cash = 100_000_000
holdings = { SCEA2026 = 100_000 }
[[accounts]]
id = 3
member = 201
sector = "STEEL"
cash = 100_000_000
holdings = { CQEA2026 = 100_000 }
[[accounts]]
id = 4
member = 202
sector = "INVESTOR"
cash = 100_000_000
holdings = { CQEA2026 = 100_000, SCEA2026 = 1_000 }

[[sessions]]
id = 1
name = "sc-platform"
members = [101, 102]
key = "sc-platform"
[[sessions]]
id = 2
name = "cq-platform"
members = [201, 202]
key = "cq-platform"
[[sessions]]
id = 3
name = "limited"
members = [202]
key = "limited"
rate_limit = 5
burst = 5
[[sessions]]
id = 4
name = "cod"
members = [102]
key = "cod"
cancel_on_disconnect = true
[[sessions]]
id = 9
name = "regulator"
members = []
key = "regulator"
drop_copy = true

[security]
generate_missing_keys = true
admin_keys = ["admin"]
[network]
order_port = 0
admin_port = 0
feed_port = 0
snapshot_port = 0
[daemon]
heartbeat_ms = 200
heartbeat_misses = 3
"""


def eventually(predicate, timeout: float = 5.0, interval: float = 0.01, what: str = "condition"):
    """Poll ``predicate`` until it returns something truthy; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        # a bounded wait on a condition we re-check, not a blind sleep
        time.sleep(interval)


def _env() -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (env.get("PYTHONPATH"), str(REPO)) if p)
    return env


class Daemon:
    """A ``chuanyu engine`` subprocess and what it wrote to its state dir."""

    def __init__(self, state_dir: Path, config_text: str = MARKET, env: dict | None = None) -> None:
        self.state_dir = state_dir
        self.env = env or {}
        self.config_path = state_dir.parent / f"{state_dir.name}.toml"
        self.config_path.write_text(config_text)
        self.out_path = state_dir.parent / f"{state_dir.name}.out"
        self.start()

    def start(self, *args: str) -> None:
        """Start ``chuanyu engine`` on the state dir; ``args``: more command-line options."""
        endpoints = self.state_dir / "endpoints.json"
        if endpoints.exists():
            endpoints.unlink()
        if getattr(self, "out", None) is not None:
            self.out.close()
        self.out = open(self.out_path, "a")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "chuanyu.cli", "engine", "--config", str(self.config_path),
             "--state-dir", str(self.state_dir), *args],
            stdout=self.out, stderr=subprocess.STDOUT, cwd=self.state_dir.parent, env={**_env(), **self.env})
        eventually(lambda: endpoints.exists() or self.proc.poll() is not None, 20, what="the daemon to start")
        if self.proc.poll() is not None:
            text = self.output()
            self.out.close()
            raise AssertionError(f"daemon exited {self.proc.returncode}:\n{text}")
        self.info = json.loads(endpoints.read_text())

    def output(self) -> str:
        self.out.flush()
        return self.out_path.read_text()

    @property
    def keys(self) -> Path:
        return Path(self.info["keys_dir"])

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.out.close()
        return self.proc.returncode


def instrument_setting(reference_price: int, setting: str) -> str:
    """MARKET with ``setting`` (a TOML line) added to the instrument of that reference price."""
    line = f"reference_price = {reference_price}\n"
    assert MARKET.count(line) == 1, f"MARKET has no one instrument at {reference_price}"
    return MARKET.replace(line, line + setting + "\n")


def admin_request(zctx, d: Daemon, op: str, timeout_ms: int = 10_000, **args) -> dict:
    """One admin request to the daemon with the admin key pair: its reply."""
    public, secret = load_keys(d.keys, "admin")
    a = AdminClient(d.info["admin"], d.info["server_public_key"], public, secret, timeout_ms=timeout_ms,
                    context=zctx)
    try:
        return a.request(op, **args)
    finally:
        a.close()


def admin_status(zctx, d: Daemon, timeout_ms: int = 10_000) -> dict:
    """The daemon's ``status`` over its admin socket."""
    return admin_request(zctx, d, "status", timeout_ms)["status"]


def cli(*args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    """``chuanyu ARGS`` as a subprocess from the repository: its exit status and output."""
    return subprocess.run([sys.executable, "-m", "chuanyu.cli", *args], capture_output=True, text=True, cwd=REPO,
                          env=_env(), timeout=timeout)


@pytest.fixture(scope="module")
def daemon(tmp_path_factory):
    """One daemon for a test module (tests use distinct accounts or instruments)."""
    d = Daemon(tmp_path_factory.mktemp("gw") / "state")
    yield d
    d.stop()


SOCKET_PATHS = ("libzmq", "pyzmq")       # the daemon's order socket: libzmq's C API, or pyzmq (zmqio.libzmq)


def socket_path_env(path: str) -> dict:
    """The daemon's environment for one of :data:`SOCKET_PATHS`."""
    return {FORCE_PYZMQ: "1"} if path == "pyzmq" else {}


def daemon_on_socket_path(request, tmp_path_factory):
    """A module's daemon on the socket path ``request.param``: for a module-scoped fixture
    parametrized with :data:`SOCKET_PATHS`, so the module's tests hold both paths alike."""
    d = Daemon(tmp_path_factory.mktemp(f"gw-{request.param}") / "state", env=socket_path_env(request.param))
    yield d
    d.stop()


@pytest.fixture
def fresh_daemon(tmp_path):
    """A daemon of the test's own."""
    d = Daemon(tmp_path / "state")
    yield d
    d.stop()


@pytest.fixture
def connect(zctx):
    """``connect(daemon, session, key=None)``: a logged-out Client, closed at teardown."""
    made = []

    def make(d: Daemon, session: int, key: str | None = None, heartbeat_ms: int = 0) -> Client:
        name = key or {1: "sc-platform", 2: "cq-platform", 3: "limited", 4: "cod", 9: "regulator"}[session]
        public, secret = load_keys(d.keys, name)
        c = Client(d.info["orders"], d.info["server_public_key"], public, secret, session,
                   heartbeat_ms=heartbeat_ms, context=zctx)
        made.append(c)
        return c

    yield make
    for c in made:
        if c.login_ack is not None and c.logged_out is None and not c.sock.closed:
            c.logout(timeout_ms=1000)         # free the session for the next test
        c.sock.close(linger=0)


def drain(client: Client, until, timeout: float = 5.0) -> list:
    """Receive reports until ``until(all_so_far)`` holds; return them all."""
    got = []
    deadline = time.monotonic() + timeout
    while not until(got):
        left = deadline - time.monotonic()
        if left <= 0:
            raise AssertionError(f"timed out; received {[(r.type_name, r.reason_name) for r in got]}")
        got += client.reports(int(max(1, left * 1000)))
    return got
