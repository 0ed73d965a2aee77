"""The disclosure files after restarts and crashes (issue 13, F6 and F7), with the real daemon.

The trade tape (``trades-<date>.csv``) and the end-of-day report (``eod-<date>.csv`` /
``.json``) are derived from the journal: a restart, graceful or kill -9, rebuilds what the
report still needs (cross-regional volume and net SC -> CQ flow since each instrument's
last close, the rows of a date already reported) and the tape rows a crash kept from being
written, each trade exactly once. After kill -9 at random moments under continuous crossing
orders from both platforms, the files equal byte for byte those of a run that never crashed
fed the same journal: built offline (a fresh engine and :class:`feeds.disclosure.Disclosure`
over every journal record) and by a fresh daemon started on a copy of the journal alone (with
its keys).

``CHUANYU_LONG=1`` runs 10 kill rounds instead of 3. Loopback only; every wait polls with a
deadline.
"""
from __future__ import annotations

import csv
import json
import os
import random
import shutil
import threading
import time

import numpy as np
import pytest

from conftest import MARKET, Daemon, admin_request, drain
from feeds.disclosure import Disclosure
from gateway.client import orders
from exchange.config import parse_config
from exchange.journal import read_records, segments
from gateway.protocol import MsgType
from exchange.recovery import engine_for_config
from matching import EventKind, OrderType, Side, TimeInForce

SCEA, CQEA, CCER = 0, 1, 2
KILL_ROUNDS = 10 if os.environ.get("CHUANYU_LONG") == "1" else 3
CONFIG = parse_config(MARKET)
PERIODIC = MARKET + """
[durability]
snapshot_every_commands = 200
keep_snapshots = 0
prune_journal = false
"""


def kill(d: Daemon) -> None:
    if d.proc.poll() is None:
        d.proc.kill()
    d.proc.wait(10)
    d.out.close()


def trade(seller, seller_account: int, buyer, buyer_account: int, instrument: int, qty: int, price: int) -> None:
    """One trade between two platforms' accounts; returns when both sides have their FILL."""
    seller.submit(instrument, seller_account, Side.SELL, qty=qty, price=price)
    drain(seller, lambda got: any(r.msg_type == MsgType.ACK for r in got))
    buyer.submit(instrument, buyer_account, Side.BUY, qty=qty, price=price)
    drain(buyer, lambda got: any(r.msg_type == MsgType.FILL for r in got))
    drain(seller, lambda got: any(r.msg_type == MsgType.FILL for r in got))


def report(d: Daemon) -> dict:
    (path,) = d.state_dir.glob("eod-*.json")
    return {r["symbol"]: r for r in json.loads(path.read_text())["instruments"]}


def tape_ids(d: Daemon) -> list[int]:
    ids = []
    for path in sorted(d.state_dir.glob("trades-*.csv")):
        ids += [int(r["trade_id"]) for r in csv.DictReader(path.read_text().splitlines())]
    return ids


# ------------------------------------------------------------------ (a) one restart mid-day
@pytest.mark.parametrize("restart", ["graceful", "kill -9"])
def test_the_end_of_day_report_counts_the_flows_from_before_a_restart(tmp_path, connect, zctx, restart):
    d = Daemon(tmp_path / "state")
    try:
        sc, cq = connect(d, 1), connect(d, 2)
        sc.login()
        cq.login()
        trade(sc, 1, cq, 4, SCEA, 10, 5000)           # 10 t SC -> CQ
        trade(cq, 3, sc, 1, CQEA, 7, 4480)            # 7 t CQ -> SC
        admin_request(zctx, d, "end_of_day", instrument="CQEA2026")  # CQEA's row, before the restart
        sc.logout()
        cq.logout()
        if restart == "graceful":
            assert d.stop() == 0
        else:
            kill(d)
        d.start()
        st = admin_request(zctx, d, "status")["status"]
        assert (st["recovery"]["snapshot"] is None) == (restart == "kill -9")
        sc.reconnect(endpoint=d.info["orders"])
        cq.reconnect(endpoint=d.info["orders"])
        trade(sc, 2, cq, 4, SCEA, 5, 5000)            # 5 t SC -> CQ after the restart
        admin_request(zctx, d, "credit", account=1, instrument="CCER2025", qty=3)
        trade(sc, 1, cq, 4, CCER, 3, 6000)            # a CER: cross-regional, no allowance flow
        admin_request(zctx, d, "end_of_day", instrument="SCEA2026")
        admin_request(zctx, d, "end_of_day", instrument="CCER2025")
        rows = report(d)
        assert list(rows) == ["CQEA2026", "SCEA2026", "CCER2025"], "a row written before the restart was lost"
        sc_row, cq_row, cer_row = rows["SCEA2026"], rows["CQEA2026"], rows["CCER2025"]
        assert (sc_row["cross_regional_volume"], sc_row["net_flow_sc_to_cq"]) == (15, 15)
        assert sc_row["continuous_volume"] == 15
        assert (cq_row["cross_regional_volume"], cq_row["net_flow_sc_to_cq"]) == (7, -7)
        assert (cer_row["cross_regional_volume"], cer_row["net_flow_sc_to_cq"]) == (3, 0)
        assert tape_ids(d) == [1, 2, 3, 4], "the tape lost or repeated a trade"
        csv_rows = list(csv.DictReader(next(d.state_dir.glob("eod-*.csv")).read_text().splitlines()))
        assert [r["symbol"] for r in csv_rows] == ["CQEA2026", "SCEA2026", "CCER2025"]
    finally:
        d.stop()


# ------------------------------------------------------------------ (b) kill -9 at random moments
def platform_frame(platform: int, n: int) -> np.ndarray:
    """n orders from one platform, half on SCEA (SC sells to CQ) and half on CQEA (CQ sells to SC):
    each platform's orders cross the other's, so both instruments trade across regions."""
    msgs = orders(2 * n, qty=1, order_type=OrderType.LIMIT, tif=TimeInForce.GTC)
    msgs["instrument"][:n], msgs["price"][:n] = SCEA, 5000
    msgs["instrument"][n:], msgs["price"][n:] = CQEA, 4480
    if platform == 1:       # accounts 1 (sells SCEA) and 2 (buys CQEA)
        msgs["account"][:n], msgs["side"][:n] = 1, Side.SELL
        msgs["account"][n:], msgs["side"][n:] = 2, Side.BUY
    else:                   # accounts 4 (buys SCEA) and 3 (sells CQEA)
        msgs["account"][:n], msgs["side"][:n] = 4, Side.BUY
        msgs["account"][n:], msgs["side"][n:] = 3, Side.SELL
    return msgs


def disclosure_files(state_dir) -> dict:
    return {p.name: p.read_bytes() for pattern in ("trades-*.csv", "eod-*.csv", "eod-*.json")
            for p in sorted(state_dir.glob(pattern))}


def offline_reference(state_dir, out_dir) -> dict:
    """The disclosure files of a run that never crashed: every journal record, in order, through a
    fresh engine into a fresh Disclosure."""
    engine = engine_for_config(CONFIG)
    region_of = {a.id: a.region for a in CONFIG.accounts}
    with Disclosure(out_dir, CONFIG.instruments, lambda a: region_of.get(a, 0)) as disclosure:
        for rec in read_records(state_dir):
            disclosure.record(engine.process(np.ascontiguousarray(rec.rows)))
    return disclosure_files(out_dir)


def test_after_kill_9_at_random_moments_the_tape_and_report_equal_a_run_that_never_crashed(tmp_path, connect, zctx):
    rng = random.Random(int(os.environ.get("CHUANYU_SEED", "13")))
    d = Daemon(tmp_path / "state", config_text=PERIODIC)
    try:
        sc, cq = connect(d, 1), connect(d, 2)
        sc.login()
        cq.login()
        for round_no in range(KILL_ROUNDS):
            timer = threading.Timer(rng.uniform(0.1, 0.6), d.proc.kill)
            timer.start()
            deadline = time.monotonic() + 10
            while d.proc.poll() is None and time.monotonic() < deadline:
                sc.send_orders(platform_frame(1, rng.randint(1, 6)))
                cq.send_orders(platform_frame(2, rng.randint(1, 6)))
                sc.reports(2)
                cq.reports(2)
                if round_no == 1 and rng.random() < 0.05:        # a close mid-run: its row must survive
                    try:
                        admin_request(zctx, d, "end_of_day", timeout_ms=1000, instrument="CQEA2026")
                    except Exception:        # noqa: BLE001  (the kill may come first)
                        pass
            timer.cancel()
            kill(d)
            d.start()
            sc.reconnect(endpoint=d.info["orders"])
            cq.reconnect(endpoint=d.info["orders"])
        # the day ends without a crash; every order answered first
        for client, platform in ((sc, 1), (cq, 2)):
            first = client._coid + 1
            client.send_orders(platform_frame(platform, 3))
            drain(client, lambda got, first=first: sum(r.msg_type == MsgType.ACK and r.client_order_id >= first
                                                           for r in got) == 6,
                  timeout=20)
        admin_request(zctx, d, "end_of_day")
        sc.logout()
        cq.logout()
        assert d.stop() == 0
        assert len(segments(d.state_dir)) >= 1 and list(d.state_dir.glob("snapshot-*.bin"))

        journal_trades = []
        engine = engine_for_config(CONFIG)
        for rec in read_records(d.state_dir):
            ev = engine.process(np.ascontiguousarray(rec.rows))
            journal_trades += ev["trade_id"][ev["kind"] == EventKind.TRADE].tolist()
        assert len(journal_trades) > 20 * KILL_ROUNDS
        ids = tape_ids(d)
        missing = sorted(set(journal_trades) - set(ids))
        assert not missing, f"{len(missing)} trades missing from the tape, e.g. {missing[:10]}"
        assert ids == journal_trades, "the tape repeats or reorders trades"

        got = disclosure_files(d.state_dir)
        assert any(name.startswith("eod-") for name in got)
        expected = offline_reference(d.state_dir, tmp_path / "offline")
        assert got.keys() == expected.keys()
        for name in got:
            assert got[name] == expected[name], f"{name} differs from the run that never crashed"

        # a fresh daemon on a copy of the journal (and the market's keys) rebuilds the same files
        fresh = tmp_path / "fresh"
        fresh.mkdir()
        for _, seg in segments(d.state_dir):
            shutil.copy(seg, fresh / seg.name)
        shutil.copytree(d.keys, fresh / "keys")
        f = Daemon(fresh, config_text=PERIODIC)
        assert f.stop() == 0
        rebuilt = disclosure_files(fresh)
        assert rebuilt.keys() == expected.keys()
        for name in rebuilt:
            assert rebuilt[name] == expected[name], f"{name} rebuilt from the journal differs"
    finally:
        d.stop()
