"""An anonymous snapshot-request flood does not stall matching (issue 13, F3).

The snapshot port has no CURVE (the data is public), so anyone may flood it. Here four
anonymous DEALERs keep 800 requests in flight against a 1,000-level book, and one more peer
sends 800 and never reads an answer, while a platform enters orders one at a time: each
order is answered, p99 of its round trip stays within 50 ms, the daemon's memory stays
bounded, and a subscriber joining in the middle of the flood still catches up.
"""
from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from conftest import MARKET, Daemon, eventually
from feed_helpers import journal_events
from feeds.client import FeedClient
from gateway.client import SessionError
from gateway.protocol import MsgType
from matching import Side, TradeType

FLOODER = Path(__file__).with_name("snapshot_flooder.py")
SCEA, CQEA = 0, 1
LEVELS = 500                           # per side of SCEA: 1,000 levels in all
SAMPLES = 400
FLOOD_S = 4                            # measured under the flood this long at least
P99_LIMIT_S = 0.050
RSS_LIMIT_KB = 512 * 1024


@pytest.fixture(scope="module")
def deep_book(tmp_path_factory):
    """A daemon whose SCEA book has 1,000 price levels (band 4,500 .. 5,500)."""
    d = Daemon(tmp_path_factory.mktemp("flood") / "state", MARKET)
    yield d
    d.stop()


@pytest.fixture(scope="module")
def filled(deep_book, zctx_module):
    from gateway.client import Client, load_keys
    public, secret = load_keys(deep_book.keys, "sc-platform")
    sc = Client(deep_book.info["orders"], deep_book.info["server_public_key"], public, secret, 1,
                context=zctx_module)
    sc.login()
    for k in range(LEVELS):            # accounts 1 and 2 belong to the Sichuan platform
        sc.submit(SCEA, 1, Side.SELL, qty=1, price=5001 + k)
        sc.submit(SCEA, 2, Side.BUY, qty=1, price=4999 - k)
    acks = 0
    deadline = time.monotonic() + 60
    while acks < 2 * LEVELS:
        assert time.monotonic() < deadline, f"only {acks} of {2 * LEVELS} resting orders acknowledged"
        rows = sc.recv(1000)
        if rows is not None:
            assert not (rows["msg_type"] == MsgType.REJECT).any(), "a resting order was rejected"
            acks += int((rows["msg_type"] == MsgType.ACK).sum())
    sc.logout(timeout_ms=2000)
    sc.close()
    return deep_book


@pytest.fixture(scope="module")
def zctx_module():
    import zmq
    ctx = zmq.Context()
    yield ctx
    ctx.destroy(linger=0)


class Flood:
    """The flooding process: started, seen answering, stopped with its counts."""

    def __init__(self, endpoint: str, dealers: int = 4, in_flight: int = 800, non_readers: int = 1,
                 seconds: float = 120) -> None:
        self.proc = subprocess.Popen([sys.executable, str(FLOODER), endpoint, str(dealers), str(in_flight),
                                      str(non_readers), str(seconds)],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        first = self.proc.stdout.readline()      # blocks until the daemon answered once (or the flooder died)
        assert first.strip() == "ready", f"the flooder never got an answer: {first!r}"

    def stop(self) -> dict:
        if self.proc.poll() is None:
            self.proc.stdin.write("stop\n")
            self.proc.stdin.flush()
        out, _ = self.proc.communicate(timeout=30)
        return json.loads(out.strip().splitlines()[-1])


def rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError(f"no VmRSS for pid {pid}")


def round_trips(client, n: int, price: int, limit_s: float, min_s: float = 0) -> list[float]:
    """Enter resting buys on CQEA one at a time, each after the previous one's ACK, ``n`` of
    them and for ``min_s`` seconds at least; return each round trip in seconds (stops early
    after ``limit_s``)."""
    times = []
    start = time.monotonic()
    deadline = start + limit_s
    while (len(times) < n or time.monotonic() < start + min_s) and time.monotonic() < deadline:
        t0 = time.perf_counter()
        coid = client.submit(CQEA, 4, Side.BUY, qty=1, price=price)
        left_ms = max(1000, int((deadline - time.monotonic()) * 1000))
        try:
            report = client.wait_for(lambda r: r.client_order_id == coid, timeout_ms=left_ms)
        except SessionError:
            raise AssertionError(f"order {len(times) + 1} unanswered after {left_ms} ms; the ones before: "
                                 f"{len(times)} round trips, max {max(times, default=0) * 1000:.0f} ms") from None
        times.append(time.perf_counter() - t0)
        assert report.msg_type == MsgType.ACK, f"order {coid}: {report.type_name} {report.reason_name}"
    return times


def test_a_snapshot_flood_does_not_delay_the_other_platforms_orders(filled, connect):
    d = filled
    cq = connect(d, 2)
    cq.login()
    baseline = round_trips(cq, 50, 4100, 30)
    flood = Flood(d.info["feed_snapshots"])
    try:
        rss = [rss_kb(d.proc.pid)]
        times = round_trips(cq, SAMPLES, 4101, 60, min_s=FLOOD_S)
        rss.append(rss_kb(d.proc.pid))
    finally:
        counts = flood.stop()
    assert d.proc.poll() is None, "the daemon died under the flood"
    ms = np.array(times) * 1000
    p50, p99 = np.percentile(ms, 50), np.percentile(ms, 99)
    figures = (f"{len(times)} orders under the flood: p50 {p50:.2f} ms, p99 {p99:.2f} ms, max {ms.max():.1f} ms "
               f"(before it p50 {np.percentile(baseline, 50) * 1000:.2f} ms); daemon RSS {max(rss) // 1024} MB; "
               f"flood {counts}")
    print(figures)
    assert counts["snapshots"] > 0, figures                   # the flood was being answered meanwhile
    assert len(times) >= SAMPLES, figures
    assert p99 <= P99_LIMIT_S * 1000, figures
    assert max(rss) < RSS_LIMIT_KB, figures


def test_a_subscriber_joining_during_a_flood_catches_up_with_the_engine(filled, connect, zctx):
    d = filled
    cq = connect(d, 2)
    cq.login()
    flood = Flood(d.info["feed_snapshots"])
    try:
        late = FeedClient(d.info["feed"], d.info["feed_snapshots"], ctx=zctx, timeout_ms=10_000)
        late.start()                                           # its request waits its turn among the flood's
        times = round_trips(cq, 20, 4102, 60)                  # live changes after its snapshot
        assert len(times) == 20
        engine, _ = journal_events(d)                          # every order above was acknowledged: journaled

        def converged():
            late.poll(20)
            return all(late.books[n].view(TradeType.CONTINUOUS, None) == engine.book(n, 10**6)
                       for n in range(len(d.info["instruments"])))
        eventually(converged, 20, what="the late subscriber's books to equal the engine's")
    finally:
        flood.stop()
    assert len(late.books[SCEA].view(TradeType.CONTINUOUS, None).bids) == LEVELS
    late.close()
