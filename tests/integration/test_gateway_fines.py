"""Fines through the real daemon: ``chuanyu admin fine`` debits what the account has and
records the rest as owed, ``fines`` lists it, a fine of 0 collects it once cash arrives, the
drop copy carries each fine to the regulator, and all of it survives kill -9. Loopback only."""
from __future__ import annotations

import json

from conftest import Daemon, admin_request, cli, eventually
from feeds.dropcopy import DropCopyClient
from gateway.client import load_keys
from matching import EventKind, FineReason


def admin(d: Daemon, *args: str):
    return cli("admin", "--state-dir", str(d.state_dir), *args)


def test_a_fine_is_paid_as_far_as_cash_goes_owed_for_the_rest_and_collected_later(tmp_path, zctx):
    d = Daemon(tmp_path / "state")
    try:
        regulator = DropCopyClient(d.info["drop_copy"], d.info["server_public_key"], *load_keys(d.keys, "regulator"),
                                   ctx=zctx, events=True)
        eventually(lambda: regulator.receive(50) is not None and regulator.heartbeats, 10, what="the drop copy")
        run = admin(d, "fine", "2", "150000000", "market_abuse", "--case", "20260042")   # it holds 100,000,000
        assert run.returncode == 0, run.stderr
        assert "FINED" in run.stdout and "paid 100,000,000, owed 50,000,000" in run.stdout, run.stdout
        assert "case 20260042" in run.stdout
        listed = json.loads(admin(d, "--json", "fines").stdout)["fines"]
        assert listed == {"collected": 100_000_000, "owed": [{"account": 2, "member": 102, "owed": 50_000_000}]}
        bad = admin(d, "fine", "2", "10", "gossip")
        assert bad.returncode != 0 and "reason must be one of" in bad.stderr

        seen = []
        eventually(lambda: (seen.extend(r for r in regulator.receive(50)[1] if r["kind"] == EventKind.FINED),
                            seen)[1], 10, what="the fine on the drop copy")
        fine, = seen
        assert (int(fine["account"]), int(fine["value"]), int(fine["qty"]), int(fine["leaves"]), int(fine["order_id"]),
                int(fine["reason"])) == (2, 150_000_000, 100_000_000, 50_000_000, 20260042, FineReason.MARKET_ABUSE)
        regulator.close()

        d.proc.kill()
        d.proc.wait(10)
        d.out.close()
        d.start()
        assert json.loads(admin(d, "--json", "fines").stdout)["fines"]["owed"][0]["owed"] == 50_000_000
        admin_request(zctx, d, "deposit", account=2, amount=30_000_000)
        collect = admin(d, "fine", "2", "0", "market_abuse", "--case", "20260042")
        assert collect.returncode == 0 and "paid 30,000,000, owed 20,000,000" in collect.stdout, collect.stdout
        assert admin_request(zctx, d, "account", account=2)["account"]["cash_available"] == 0
        assert json.loads(admin(d, "--json", "fines").stdout)["fines"]["collected"] == 130_000_000
    finally:
        d.stop()
