"""Crash recovery with the real daemon: kill -9 under load, torn tails, corrupt records and
damaged snapshots (issue 6).

Each kill round: one client streams crossing orders in batched frames and records every ACK
and FILL it receives; a timer kills the daemon (SIGKILL) at a random moment; the client
drains what had already reached it; the daemon restarts on the same state dir. Then:

- the restarted daemon's state digest (admin ``status``, read before any new command)
  equals an offline replay of the same directory;
- replaying the journal offline, every acknowledged order id carries the client order id
  the client saw, exactly once; every reported trade id occurs exactly once; no client order
  id was ever accepted or journaled twice;
- an order acknowledged before the kill and still resting is routed after the restart: a
  crossing order fills it and its owner receives the passive FILL with its client order id
  (the gateway's routing tables were rebuilt from the journal);
- the client reconnects with gap fill after the last report it read: over all rounds it
  receives every report_seq 1..N exactly once, in order (the numbering and the kept reports
  were rebuilt from the periodic snapshots and the journal).

The daemon snapshots every few hundred commands (and keeps them all, with the whole journal,
so the history can be checked from the first command); a second test prunes old snapshots
and journal segments under kills and checks that recovery never lost what it needed.

``CHUANYU_LONG=1`` runs 20 kill rounds instead of 3. Loopback only; every wait polls with a
deadline.
"""
from __future__ import annotations

import os
import random
import subprocess
import sys
import threading
import time
from collections import Counter

import numpy as np
import pytest

from conftest import MARKET, REPO, Daemon, _env, admin_status, drain, eventually
from gateway.client import orders
from exchange.config import parse_config
from exchange.journal import HEADER, read_records, segments
from gateway.protocol import MsgType
from exchange.recovery import engine_for_config, replay, snapshots
from matching import CommandType, EventKind, OrderType, Side, TimeInForce

SCEA = 0
KILL_ROUNDS = 20 if os.environ.get("CHUANYU_LONG") == "1" else 3
CONFIG = parse_config(MARKET)
PERIODIC = MARKET + """
[durability]
snapshot_every_commands = 300
keep_snapshots = 0
prune_journal = false
segment_bytes = 65536
"""


# ------------------------------------------------------------------ helpers

def offline_digest(state_dir) -> str:
    return replay(state_dir, new_engine=lambda: engine_for_config(CONFIG)).engine.state_digest()


def journal_history(state_dir):
    """Replay the whole journal on a fresh engine: (NEW_ORDER coids of session 1, events)."""
    engine = engine_for_config(CONFIG)
    coids, events = [], []
    for rec in read_records(state_dir):
        rows = rec.rows
        new = (rows["type"] == CommandType.NEW_ORDER) & (rows["session"] == 1)
        coids += rows["client_order_id"][new].tolist()
        events.append(engine.process(np.ascontiguousarray(rows)))
    return coids, np.concatenate(events)


def kill(d: Daemon) -> None:
    if d.proc.poll() is None:
        d.proc.kill()
    d.proc.wait(10)
    d.out.close()


def crossing_frame(n_pairs: int, flip: bool) -> np.ndarray:
    """n_pairs of (sell 1 @ 5000, buy 1 @ 5000) between accounts 1 and 2: each pair trades."""
    msgs = orders(2 * n_pairs, instrument=SCEA, qty=1, price=5000, order_type=OrderType.LIMIT,
                  tif=TimeInForce.GTC)
    seller, buyer = (2, 1) if flip else (1, 2)
    msgs["side"][0::2], msgs["account"][0::2] = Side.SELL, seller
    msgs["side"][1::2], msgs["account"][1::2] = Side.BUY, buyer
    return msgs


class Seen:
    """What one client saw: ACKs (order id -> client order id), FILLs (trade id -> count) and
    report sequence numbers, each of which must arrive once and in order."""

    def __init__(self) -> None:
        self.acks: dict[int, int] = {}
        self.fills: Counter = Counter()
        self.report_seq = 0
        self.gateway_rejects = 0

    def take(self, reports) -> None:
        for r in reports:
            if r.msg_type == MsgType.REJECT and r.cmd_seq == 0:
                assert r.report_seq == 0
                self.gateway_rejects += 1
            if r.report_seq and MsgType.ACK <= r.msg_type < MsgType.LOGIN_ACK:
                assert r.report_seq == self.report_seq + 1, f"report_seq {r.report_seq} after {self.report_seq}"
                self.report_seq = r.report_seq
            if r.msg_type == MsgType.ACK:
                assert self.acks.setdefault(r.order_id, r.client_order_id) == r.client_order_id
            elif r.msg_type == MsgType.FILL:
                self.fills[(r.trade_id, r.side)] += 1


def check_against_journal(state_dir, seen: Seen) -> None:
    coids, events = journal_history(state_dir)
    dup = [c for c, n in Counter(coids).items() if n > 1]
    assert not dup, f"client order ids journaled twice: {dup[:10]}"
    accepted = events[events["kind"] == EventKind.ACCEPTED]
    acc_coid = dict(zip(accepted["order_id"].tolist(), accepted["client_order_id"].tolist()))
    assert len(acc_coid) == len(accepted), "an order id accepted twice"
    for order_id, coid in seen.acks.items():
        assert acc_coid.get(order_id) == coid, f"acknowledged order {order_id} (coid {coid}) is missing after restart"
    trades = Counter(events[events["kind"] == EventKind.TRADE]["trade_id"].tolist())
    assert all(n == 1 for n in trades.values())
    for (trade_id, _side), n in seen.fills.items():
        assert n == 1 and trades.get(trade_id) == 1, f"reported trade {trade_id} is missing after restart"


# ------------------------------------------------------------------ (a) kill -9 under load
def test_kill_9_under_load_loses_no_acknowledged_order_or_trade(tmp_path, connect, zctx):
    rng = random.Random(int(os.environ.get("CHUANYU_SEED", "6")))
    d = Daemon(tmp_path / "state", config_text=PERIODIC)
    seen = Seen()
    c = connect(d, 1)
    c.login()
    try:
        for round_no in range(KILL_ROUNDS):
            # one resting order far from the market, to be filled after the restart
            rest_coid = c.submit(SCEA, 1, Side.SELL, qty=1, price=5400)
            got = []
            rest = c.wait_for(lambda r: r.client_order_id == rest_coid and r.msg_type == MsgType.ACK, into=got)
            seen.take(got + [rest])
            c.submit(SCEA, 3, Side.SELL, qty=1, price=5000)      # refused NOT_AUTHORISED: report_seq 0
            timer = threading.Timer(rng.uniform(0.05, 0.4), d.proc.kill)
            timer.start()
            deadline = time.monotonic() + 10
            flip = False
            while d.proc.poll() is None and time.monotonic() < deadline:
                c.send_orders(crossing_frame(rng.randint(1, 8), flip))
                flip = not flip
                if rng.random() < 0.2:                # a gateway reject: outside the report numbering
                    c.submit(SCEA, 3, Side.SELL, qty=1, price=5000)
                seen.take(c.reports(5))
            timer.cancel()
            kill(d)
            for _ in range(200):                      # what had already reached the client
                got = c.reports(20)
                if not got:
                    break
                seen.take(got)
            coid = c._coid

            d.start()
            st = admin_status(zctx, d)                      # before any new command
            assert st["state_digest"] == offline_digest(d.state_dir)
            snap = st["recovery"]["snapshot"]
            from_seq = int(snap.split("-")[1].split(".")[0]) if snap else 0
            assert st["recovery"]["replayed_commands"] == st["last_seq"] - from_seq
            check_against_journal(d.state_dir, seen)

            # back with gap fill: exactly the reports not read before the kill, then new ones
            ack = c.reconnect(endpoint=d.info["orders"])
            assert ack.last_client_order_id <= coid and c.last_report_seq == seen.report_seq <= ack.report_seq
            while seen.report_seq < ack.report_seq:
                got = c.reports(2000)
                assert got, f"gap fill stopped at report_seq {seen.report_seq} of {ack.report_seq}"
                seen.take(got)
            c._coid = max(coid, ack.last_client_order_id)
            c.submit(SCEA, 2, Side.BUY, qty=1, price=5400)
            got = []
            fill = c.wait_for(lambda r: r.msg_type == MsgType.FILL and r.order_id == rest.order_id, into=got)
            assert fill.client_order_id == rest_coid and fill.side == Side.SELL
            seen.take(got + [fill])
        assert len(seen.fills) >= 2 * KILL_ROUNDS and len(seen.acks) > 2 * KILL_ROUNDS
        assert seen.gateway_rejects >= 1
        assert len(snapshots(d.state_dir)) >= 1            # the periodic ones
        final = admin_status(zctx, d)
        c.logout()
        assert d.stop() == 0
        run = subprocess.run([sys.executable, "-m", "chuanyu.cli", "replay", str(d.state_dir), "--config",
                              str(d.config_path)], capture_output=True, text=True, cwd=REPO, env=_env(), timeout=60)
        assert run.returncode == 0, run.stderr
        assert f"state digest {final['state_digest']}" in run.stdout
    finally:
        d.stop()


# ------------------------------------------------------------------ (b) (c) (d) damage
def _some_batches(d: Daemon, connect, n: int, seen: Seen | None = None, start_coid: int = 0) -> int:
    """n separate batches (one frame each, each answered before the next): n journal records."""
    c = connect(d, 1)
    ack = c.login()
    c._coid = max(start_coid, ack.last_client_order_id)
    for k in range(n):
        c.send_orders(crossing_frame(2, k % 2 == 1))
        got = drain(c, lambda g: sum(r.msg_type == MsgType.FILL for r in g) >= 4)
        if seen is not None:
            seen.take(got)
    c.logout()
    coid = c._coid
    c.sock.close(linger=0)
    return coid


def test_a_torn_tail_is_truncated_and_the_rest_recovers(tmp_path, connect, zctx):
    d = Daemon(tmp_path / "state")
    try:
        seen = Seen()
        _some_batches(d, connect, 3, seen)
        kill(d)
        seg = segments(d.state_dir)[-1][1]
        data = seg.read_bytes()
        last = list(read_records(d.state_dir))[-1]
        good_size = len(data)
        with open(seg, "ab") as f:                    # a crash mid-write: half of a record copy
            f.write(data[last.offset:last.offset + HEADER.size + 20])
        d.start()
        assert "torn tail" in d.output()
        assert seg.stat().st_size == good_size
        st = admin_status(zctx, d)
        assert st["state_digest"] == offline_digest(d.state_dir)
        check_against_journal(d.state_dir, seen)
        _some_batches(d, connect, 1)                  # appending continues after the cut
        assert d.stop() == 0
        assert len(list(read_records(d.state_dir))) >= 5
    finally:
        d.stop()


def test_a_flipped_byte_in_a_middle_record_refuses_to_start_naming_file_and_offset(tmp_path, connect):
    d = Daemon(tmp_path / "state")
    try:
        _some_batches(d, connect, 4)
    finally:
        kill(d)
    records = list(read_records(d.state_dir))
    middle = records[len(records) // 2]
    with open(middle.path, "r+b") as f:
        f.seek(middle.offset + HEADER.size + 9)
        b = f.read(1)
        f.seek(middle.offset + HEADER.size + 9)
        f.write(bytes([b[0] ^ 0x40]))
    (d.state_dir / "endpoints.json").unlink()         # left by the killed daemon
    run = subprocess.run([sys.executable, "-m", "chuanyu.cli", "engine", "--config", str(d.config_path),
                          "--state-dir", str(d.state_dir)], capture_output=True, text=True, cwd=REPO, env=_env(),
                         timeout=60)
    assert run.returncode != 0
    assert str(middle.path.name) in run.stderr and f"byte offset {middle.offset}" in run.stderr, run.stderr
    assert "Traceback" not in run.stderr + run.stdout
    assert not (d.state_dir / "endpoints.json").exists()


def test_a_damaged_newest_snapshot_falls_back_to_the_previous_one_plus_journal(tmp_path, connect, zctx):
    d = Daemon(tmp_path / "state")
    seen = Seen()
    try:
        coid = _some_batches(d, connect, 2, seen)
        assert d.stop() == 0                          # snapshot A
        d.start()
        coid = _some_batches(d, connect, 2, seen, coid)
        assert d.stop() == 0                          # snapshot B
        d.start()
        _some_batches(d, connect, 2, seen, coid)
        kill(d)
        snaps = snapshots(d.state_dir)
        assert len(snaps) == 2
        (_, newest), (_, previous) = snaps
        blob = bytearray(newest.read_bytes())
        blob[len(blob) // 2] ^= 0xFF
        newest.write_bytes(bytes(blob))
        d.start()
        eventually(lambda: "skipping damaged snapshot" in d.output(), 5, what="the skip log line")
        st = admin_status(zctx, d)
        assert st["recovery"]["snapshot"] == previous.name
        assert newest.name in st["recovery"]["skipped_snapshots"]
        assert st["recovery"]["replayed_commands"] > 0
        assert st["state_digest"] == offline_digest(d.state_dir)
        check_against_journal(d.state_dir, seen)
    finally:
        d.stop()


@pytest.mark.parametrize("mode", ["interval", "none"])
def test_other_durability_modes_journal_and_report_counters(tmp_path, connect, zctx, mode):
    text = MARKET + f'\n[durability]\nmode = "{mode}"\ninterval_ms = 20\n'
    d = Daemon(tmp_path / "state", config_text=text)
    try:
        _some_batches(d, connect, 2)
        st = admin_status(zctx, d)
        j = st["journal"]
        assert st["durability"] == j["mode"] == mode and j["bytes"] > 0 and j["last_seq"] == st["last_seq"]
        if mode == "interval":                        # the idle loop fsyncs the last batch
            eventually(lambda: admin_status(zctx, d)["journal"]["fsyncs"] >= 1, 5, what="an idle fsync")
        else:
            assert j["fsyncs"] == 0
        kill(d)
        d.start()
        assert admin_status(zctx, d)["state_digest"] == offline_digest(d.state_dir)
    finally:
        d.stop()


# ------------------------------------------------------------------ (e) retention and pruning
def test_pruned_snapshots_and_segments_never_take_what_recovery_needs(tmp_path, connect, zctx):
    text = MARKET + """
[durability]
snapshot_every_commands = 100
keep_snapshots = 2
segment_bytes = 4096
"""
    d = Daemon(tmp_path / "state", config_text=text)
    seen = Seen()
    c = connect(d, 1)
    c.login()
    try:
        for round_no in range(3):
            first_snapshot = snapshots(d.state_dir)[0][0] if snapshots(d.state_dir) else 0
            for k in range(15):                       # 8 commands a batch, ~5 records a segment
                c.send_orders(crossing_frame(4, k % 2 == 1))
                seen.take(drain(c, lambda g: sum(r.msg_type == MsgType.FILL for r in g) >= 8))
            # a periodic snapshot, reaped by the daemon: retention and pruning applied
            eventually(lambda: (snaps := snapshots(d.state_dir)) and snaps[0][0] > first_snapshot
                       and len(snaps) <= 2 and (st := admin_status(zctx, d)["snapshots"])["writing"] is None
                       and st["last_seq"] == snaps[0][0], 5, what="a periodic snapshot")
            kill(d)
            d.start()
            st = admin_status(zctx, d)
            assert st["recovery"]["snapshot"] is not None
            assert st["state_digest"] == offline_digest(d.state_dir)
            ack = c.reconnect(endpoint=d.info["orders"])
            while seen.report_seq < ack.report_seq:
                got = c.reports(2000)
                assert got, f"gap fill stopped at report_seq {seen.report_seq} of {ack.report_seq}"
                seen.take(got)
        snaps = snapshots(d.state_dir)
        segs = segments(d.state_dir)
        assert len(snaps) == 2 and len(list(d.state_dir.glob("gateway-*.npz"))) == 2
        oldest = snaps[-1][0]
        assert segs[0][0] > 1, "no journal segment was pruned"
        assert segs[0][0] <= oldest + 1, "a segment the oldest kept snapshot needs was pruned"
        # the newest snapshot damaged: the older one and the journal kept for it still recover
        kill(d)
        blob = bytearray(snaps[0][1].read_bytes())
        blob[len(blob) // 2] ^= 0xFF
        snaps[0][1].write_bytes(bytes(blob))
        d.start()
        st = admin_status(zctx, d)
        assert st["recovery"]["snapshot"] == snaps[1][1].name
        assert st["state_digest"] == offline_digest(d.state_dir)
        ack = c.reconnect(endpoint=d.info["orders"])
        assert ack.report_seq == seen.report_seq          # nothing new, nothing lost
        c.send_orders(crossing_frame(1, False))
        seen.take(drain(c, lambda g: sum(r.msg_type == MsgType.FILL for r in g) >= 2))
        # an operator's snapshot on demand, through the CLI: the retention applies to it too
        for op in ("snapshot", "status"):
            run = subprocess.run([sys.executable, "-m", "chuanyu.cli", "admin", "--state-dir", str(d.state_dir), op],
                                 capture_output=True, text=True, cwd=REPO, env=_env(), timeout=60)
            assert run.returncode == 0, run.stderr
        newest = snapshots(d.state_dir)[0]
        assert newest[0] == admin_status(zctx, d)["last_seq"] and len(snapshots(d.state_dir)) == 2
        assert f"snapshots: newest at seq {newest[0]:,}; kept {newest[1].name}" in run.stdout
        c.logout()
    finally:
        d.stop()
