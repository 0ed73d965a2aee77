"""OPERATIONS.md's backup and restore runbook, step by step through the real daemon and CLI
(issue 14, item 7): a copy taken while the daemon runs, a start on the copy that forgot keys/
refused (never a new server key), the keys put back, `chuanyu replay --expect` and
`chuanyu admin status --expect-digest` comparing digests, and the clients' pinned server key
still good."""
from __future__ import annotations

import json
import shutil

from conftest import Daemon, cli
from gateway.client import Client, load_keys
from gateway.protocol import MsgType
from matching import Side



def test_backup_while_running_then_restore_with_digests_compared(tmp_path, zctx, connect):
    live = Daemon(tmp_path / "live")
    try:
        c = connect(live, 1)
        c.login()
        for price in (4990, 5000, 5010):
            coid = c.submit(0, 1, Side.SELL, qty=10, price=price)
            c.wait_for(lambda r, coid=coid: r.msg_type == MsgType.ACK and r.client_order_id == coid)
        c.logout()
        pinned_server_key = live.info["server_public_key"]

        # backup, as section 5 lists it, while the daemon runs
        backup = tmp_path / "backup"
        (backup / "keys").mkdir(parents=True)
        assert cli("admin", "--state-dir", str(live.state_dir), "snapshot").returncode == 0
        for pattern in ("snapshot-*.bin", "gateway-*.npz", "journal-*.seg"):
            for path in sorted(live.state_dir.glob(pattern)):
                shutil.copy2(path, backup / path.name)
        for path in live.keys.iterdir():
            shutil.copy2(path, backup / "keys" / path.name)
        status = cli("admin", "--state-dir", str(live.state_dir), "--json", "status")
        digest = json.loads(status.stdout)["status"]["state_digest"]
    finally:
        live.proc.kill()                                   # the machine is lost
        live.proc.wait(10)
        live.out.close()

    restored = tmp_path / "restored"
    restored.mkdir()
    for path in backup.glob("*.*"):
        shutil.copy2(path, restored / path.name)
    config = str(live.config_path)
    # a restore that forgot keys/: refused, and no new server key is made
    forgot = cli("engine", "--config", config, "--state-dir", str(restored))
    assert forgot.returncode == 1
    assert "restore its keys/ from the backup" in forgot.stderr, forgot.stderr
    assert not (restored / "keys" / "server.key").exists()

    shutil.copytree(backup / "keys", restored / "keys")
    checked = cli("replay", str(restored), "--config", config, "--expect", digest)
    assert checked.returncode == 0, checked.stderr
    wrong = cli("replay", str(restored), "--config", config, "--expect", "0" * 32)
    assert wrong.returncode == 1 and f"state digest {digest} is not the expected" in wrong.stderr

    d = Daemon(restored, live.config_path.read_text())    # the same configuration
    try:
        assert d.info["server_public_key"] == pinned_server_key
        same = cli("admin", "--state-dir", str(restored), "status", "--expect-digest", digest)
        assert same.returncode == 0, same.stderr
        other = cli("admin", "--state-dir", str(restored), "status", "--expect-digest", "f" * 32)
        assert other.returncode == 1 and "is not the expected" in other.stderr
        public, secret = load_keys(backup / "keys", "sc-platform")       # the platform's own copy
        client = Client(d.info["orders"], pinned_server_key, public, secret, 1, context=zctx)
        try:
            assert client.login().report_seq == 3                        # its three ACKs, still there
            client.logout()
        finally:
            client.close()
    finally:
        d.stop()
