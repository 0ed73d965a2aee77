"""Listing a new vintage in a running market (issue 14, item 2), through the real daemon: the
instrument added at the end of the configuration is refused by a plain start, listed by
--apply-config as journaled commands, traded, and rebuilt by a kill -9 restart and by a replay
of the journal alone (no snapshot), with the same digest."""
from __future__ import annotations

import signal

from conftest import MARKET, Daemon, admin_status, cli
from gateway.protocol import MsgType
from matching import Side

NEW = MARKET.replace("[[members]]", '''[[instruments]]
symbol = "CCER2026"
kind = "CER"
year = 2026
reference_price = 6200
tick = 5
band_bps = 2000

[[members]]''', 1) + """
[[accounts]]
id = 5
member = 101
sector = "POWER"
holdings = { CCER2026 = 1_000 }
"""


def test_a_new_vintage_is_listed_by_apply_config_and_survives_kill_and_replay(tmp_path, zctx, connect):
    d = Daemon(tmp_path / "state")
    try:
        c = connect(d, 1)
        c.login()
        early = c.submit(3, 1, Side.BUY, qty=10, price=6200)           # no instrument 3 yet
        assert c.wait_for(lambda r: r.client_order_id == early).msg_type == MsgType.REJECT
        c.logout()
        assert d.stop() == 0

        d.config_path.write_text(NEW)
        refused = cli("engine", "--config", str(d.config_path), "--state-dir", str(d.state_dir))
        assert refused.returncode == 1
        assert "instruments[CCER2026]: configuration 'configured', market 'absent'" in refused.stderr
        assert "accounts[5]: configuration 'configured', market 'absent'" in refused.stderr

        d.start("--apply-config")
        assert "CCER2026" in d.info["instruments"]
        sc, cq = connect(d, 1), connect(d, 2)
        sc.login()
        cq.login()
        sell = sc.submit(3, 5, Side.SELL, qty=100, price=6200)
        assert sc.wait_for(lambda r: r.client_order_id == sell).msg_type == MsgType.ACK
        buy = cq.submit(3, 4, Side.BUY, qty=40, price=6200)
        cq.wait_for(lambda r: r.msg_type == MsgType.FILL and r.client_order_id == buy)
        outside = cq.submit(3, 4, Side.BUY, qty=1, price=8000)           # band 4960..7440
        assert cq.wait_for(lambda r: r.client_order_id == outside).msg_type == MsgType.REJECT
        sc.logout()
        cq.logout()
        live = admin_status(zctx, d)["state_digest"]

        d.proc.send_signal(signal.SIGKILL)
        d.proc.wait(10)
        d.start()                                                        # the journal lists it now
        assert admin_status(zctx, d)["state_digest"] == live
        assert d.stop() == 0
        for path in list(d.state_dir.glob("snapshot-*.bin")) + list(d.state_dir.glob("gateway-*.npz")):
            path.unlink()
        replayed = cli("replay", str(d.state_dir), "--config", str(d.config_path), "--expect", live)
        assert replayed.returncode == 0, replayed.stderr
        d.start()
        assert admin_status(zctx, d)["state_digest"] == live
    finally:
        d.stop()
