"""Disk full with the real daemon (issue 13, F5): the state dir on a small tmpfs, filled up.

While the journal cannot write, new orders are refused ``STORAGE_UNAVAILABLE`` (never
acknowledged), the daemon stays up, sessions stay logged in and heartbeats flow, a new
session can log in, and the admin status says so. When space returns the daemon resumes on
its own; after a kill -9 every acknowledged order is in the journal, the journal has no
torn tail and the restarted state equals an offline replay.

Mounting needs root (or CAP_SYS_ADMIN): the test is skipped, saying so, where it is not
permitted. The mount is undone in a ``finally``.
"""
from __future__ import annotations

import pytest

import tmpfs
from conftest import MARKET, Daemon, admin_status, eventually
from gateway.client import orders
from exchange.config import parse_config
from exchange.journal import read_records
from gateway.protocol import GatewayReject, MsgType
from exchange.recovery import engine_for_config, replay
from matching import CommandType, EventKind, OrderType, Side, TimeInForce

SCEA = 0
CONFIG = MARKET + """
[durability]
segment_bytes = 65536
"""


@pytest.fixture
def small_fs(tmp_path):
    """A 2 MiB tmpfs at ``tmp_path / "state"``."""
    with tmpfs.mounted(tmp_path / "state", "2m") as where:
        yield where



def answer(c, coid: int):
    """The ACK or REJECT of the order with client order id ``coid``."""
    return c.wait_for(lambda r: r.client_order_id == coid and r.msg_type in (MsgType.ACK, MsgType.REJECT), 10_000)


def buy(c) -> int:
    """A resting buy of 1 t SCEA at 49.00 for account 1 (nothing sells that low: no trade)."""
    return c.submit(SCEA, 1, Side.BUY, 1, 4900, OrderType.LIMIT, TimeInForce.GTC)


def test_a_full_disk_refuses_orders_keeps_sessions_and_resumes_when_space_returns(small_fs, connect, zctx):
    d = Daemon(small_fs, config_text=CONFIG)
    filler = None
    try:
        c = connect(d, 1, heartbeat_ms=200)
        c.login()
        acked = {}                                   # order id -> client order id
        for _ in range(5):
            coid = buy(c)
            r = answer(c, coid)
            assert r.msg_type == MsgType.ACK, r
            acked[r.order_id] = coid
        filler = tmpfs.fill(small_fs)
        # the open segment's last page may still take a few records: then the first refusal
        refused = []
        for _ in range(2000):
            coid = buy(c)
            r = answer(c, coid)
            if r.msg_type == MsgType.REJECT:
                assert r.reason == GatewayReject.STORAGE_UNAVAILABLE, r.reason_name
                assert r.cmd_seq == 0 and r.report_seq == 0
                refused.append(coid)
                break
            acked[r.order_id] = coid
        else:
            raise AssertionError("no order was refused on a full file system")
        # degraded: refused at once, the daemon up, the session logged in
        msgs = orders(20, instrument=SCEA, account=1, side=Side.BUY, qty=1, price=4900, order_type=OrderType.LIMIT,
                      tif=TimeInForce.GTC)
        c.send_orders(msgs)                          # numbered by the client
        got = []
        while len(got) < 20:
            got += [r for r in c.reports(10_000) if r.msg_type in (MsgType.ACK, MsgType.REJECT)]
        assert {r.reason for r in got} == {int(GatewayReject.STORAGE_UNAVAILABLE)}, [r.reason_name for r in got]
        refused += [r.client_order_id for r in got]
        assert d.proc.poll() is None, d.output()
        c.wait_for(lambda r: r.msg_type == MsgType.SERVER_HEARTBEAT, 5000)      # heartbeats go on
        st = admin_status(zctx, d)
        assert st["storage"]["state"] == "unavailable" and "No space left" in st["storage"]["error"], st["storage"]
        assert st["storage"]["refused"] >= 21
        assert st["sessions"][0]["logged_in"]
        other = connect(d, 2)
        other.login()                                # logins still work
        other.logout()
        assert d.output().count("storage unavailable") == 1, d.output()   # one line entering, not one per order

        # space returns: the daemon resumes on its own, no restart
        filler.unlink()
        filler = None
        eventually(lambda: admin_status(zctx, d)["storage"]["state"] == "ok", 10, what="the storage probe")
        for _ in range(3):
            coid = buy(c)
            r = answer(c, coid)
            assert r.msg_type == MsgType.ACK, r.reason_name
            acked[r.order_id] = coid
        assert d.output().count("storage available again") == 1, d.output()
        assert d.proc.poll() is None
        assert admin_status(zctx, d)["sessions"][0]["logged_in"]

        # kill -9 and restart: every acknowledged order is there, the journal is clean
        d.proc.kill()
        d.proc.wait(10)
        d.out.close()
        records = list(read_records(small_fs))           # raises TornTail / JournalCorrupt if not clean
        cfg = parse_config(CONFIG)
        engine = engine_for_config(cfg)
        accepted = {}
        journaled_coids = []
        for rec in records:
            rows = rec.rows
            new = (rows["type"] == CommandType.NEW_ORDER) & (rows["session"] == 1)
            journaled_coids += rows["client_order_id"][new].tolist()
            ev = engine.process(rows.copy())
            ev = ev[ev["kind"] == EventKind.ACCEPTED]
            accepted.update(zip(ev["order_id"].tolist(), ev["client_order_id"].tolist()))
        assert all(accepted.get(oid) == coid for oid, coid in acked.items())
        assert not set(refused) & set(journaled_coids), "a refused order was journaled"
        seqs = [int(rec.rows["seq"][0]) for rec in records]
        assert seqs == sorted(seqs)                      # read_records checked: no gap
        d.start()
        st = admin_status(zctx, d)
        assert st["resting_orders"] == len(acked)
        assert st["state_digest"] == replay(small_fs, new_engine=lambda: engine_for_config(cfg)).engine.state_digest()
        assert st["recovery"]["torn_tail"] is None
    finally:
        if filler is not None:
            filler.unlink()
        if d.proc.poll() is None:
            d.proc.kill()
            d.proc.wait(10)
        d.out.close()
