"""Measuring the other platform while a hostile peer attacks the daemon (issue 13's bar: every
order answered, p99 round trip <= 50 ms, daemon RSS under a documented bound)."""
from __future__ import annotations

import os
import subprocess
import sys
import time
from typing import NamedTuple

import numpy as np

from conftest import REPO
from gateway.client import Client
from gateway.protocol import MsgType
from matching import OrderType, Side, TimeInForce

P99_BOUND_MS = 50
RSS_BOUND_MB = 512


class Timed(NamedTuple):
    rtts: list                # seconds, one per order
    rss_mb: list              # the daemon's resident memory after each

    @property
    def p99_ms(self) -> float:
        return float(np.percentile(self.rtts, 99)) * 1000

    def summary(self) -> str:
        return (f"{len(self.rtts)} orders, p50 {np.percentile(self.rtts, 50) * 1000:.2f} ms, "
                f"p99 {self.p99_ms:.2f} ms; daemon RSS max {max(self.rss_mb):.0f} MB")

    def assert_within_bounds(self, at_least: int = 200) -> None:
        assert len(self.rtts) >= at_least, self.summary()
        assert self.p99_ms <= P99_BOUND_MS, self.summary()
        assert max(self.rss_mb) < RSS_BOUND_MB, self.summary()


def rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise AssertionError(f"no VmRSS for pid {pid}")


def timed_orders(client: Client, seconds: float, daemon_pid: int, instrument: int = 0, account: int = 1,
                 price: int = 4600) -> Timed:
    """IOC buys that rest nowhere, one at a time for ``seconds``: each one's time to its ACK."""
    rtts, rss = [], []
    end = time.monotonic() + seconds
    coid = client._coid
    while time.monotonic() < end:
        coid += 1
        t0 = time.perf_counter()
        client.submit(instrument, account, Side.BUY, 1, price, order_type=OrderType.LIMIT, tif=TimeInForce.IOC,
                      client_order_id=coid)
        client.wait_for(lambda r, c=coid: r.msg_type == MsgType.ACK and r.client_order_id == c, timeout_ms=10_000)
        rtts.append(time.perf_counter() - t0)
        rss.append(rss_mb(daemon_pid))
        client.heartbeat()
        time.sleep(0.005)                  # paced: some hundred orders a second
    return Timed(rtts, rss)


def start_peer(script: str, *args) -> subprocess.Popen:
    """A hostile peer in its own process (so it shares no interpreter with the measuring side)."""
    return subprocess.Popen([sys.executable, "-c", script, *map(str, args)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env={**os.environ, "PYTHONPATH": str(REPO)})


def finish_peer(peer: subprocess.Popen, timeout: float = 30) -> str:
    """The peer's output once it has stopped by itself; killed (and the test failed) if it hangs."""
    try:
        out, err = peer.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        peer.kill()
        peer.wait()
        raise AssertionError("the attacking peer did not stop by itself") from None
    assert peer.returncode == 0, err
    return out
