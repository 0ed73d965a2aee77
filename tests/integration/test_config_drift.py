"""Config drift can't rewrite history (issue 14, item 2), through the real daemon.

A sell at 5450 is ACKed under a 10 % band; the operator narrows the band to 5 % in the
configuration and restarts. The start is refused, naming the key; with --apply-config the
change is journaled (the resting sell is cancelled OUTSIDE_BAND and 5440 is refused from then
on). With every snapshot deleted the journal alone rebuilds the same market under the old
band up to the change: the same digest, and by gap fill the same reports, the ACK an ACK."""
from __future__ import annotations

from conftest import MARKET, Daemon, admin_status, cli, drain
from exchange.admin import AdminClient
from gateway.client import load_keys
from gateway.protocol import MsgType
from matching import CancelReason, Reject, Side

NARROW = MARKET.replace('symbol = "SCEA2026"\nregion = "SC"\n', 'symbol = "SCEA2026"\nregion = "SC"\nband_bps = 500\n', 1)



def _engine_cli(d: Daemon, *args):
    return cli("engine", "--config", str(d.config_path), "--state-dir", str(d.state_dir), *args)


def _files(state_dir):
    return {p.name: p.stat().st_size for p in state_dir.iterdir() if p.is_file()}


def _session_history(connect, d: Daemon) -> list:
    """Every report session 1 was ever sent, by gap fill from the start."""
    c = connect(d, 1)
    ack = c.login(last_report_seq=0)
    got = drain(c, lambda got: len(got) >= ack.report_seq) if ack.report_seq else []
    c.logout()
    return [(r.type_name, r.reason, r.client_order_id, r.price) for r in got]


def test_a_narrowed_band_is_refused_then_applied_as_a_journaled_change(tmp_path, zctx, connect):
    assert NARROW != MARKET
    d = Daemon(tmp_path / "state")
    try:
        c = connect(d, 1)
        c.login()
        first = c.submit(0, 1, Side.SELL, qty=10, price=5450)
        c.wait_for(lambda r: r.msg_type == MsgType.ACK and r.client_order_id == first)
        c.logout()
        assert d.stop() == 0

        d.config_path.write_text(NARROW)
        before = _files(d.state_dir)
        refused = _engine_cli(d)
        assert refused.returncode == 1, refused.stderr
        assert "instruments[SCEA2026].band_bps: configuration 500, market 1000" in refused.stderr
        assert "--apply-config" in refused.stderr
        assert {k: v for k, v in _files(d.state_dir).items() if k != "LOCK"} == {
            k: v for k, v in before.items() if k != "LOCK"}            # a refused start writes nothing

        d.start("--apply-config")
        assert "configuration applied: instruments[SCEA2026].band_bps 1000 -> 500" in d.output()
        c = connect(d, 1)
        c.login()
        second = c.submit(0, 1, Side.SELL, qty=10, price=5440)
        assert c.wait_for(lambda r: r.client_order_id == second).reason == Reject.PRICE_OUTSIDE_BAND
        c.logout()
        live = admin_status(zctx, d)
        history = _session_history(connect, d)
        assert history[0] == ("ACK", 0, first, 5450)
        assert ("CANCELLED", CancelReason.OUTSIDE_BAND, first, 5450) in history
        assert ("REJECT", Reject.PRICE_OUTSIDE_BAND, second, 5440) in history
        assert d.stop() == 0

        for path in list(d.state_dir.glob("snapshot-*.bin")) + list(d.state_dir.glob("gateway-*.npz")):
            path.unlink()
        d.start()                          # the journal holds the change: nothing differs now
        recovered = admin_status(zctx, d)
        assert recovered["recovery"]["snapshot"] is None
        assert recovered["state_digest"] == live["state_digest"]
        assert _session_history(connect, d) == history
        assert d.stop() == 0
        for path in list(d.state_dir.glob("snapshot-*.bin")):
            path.unlink()
        replayed = cli("replay", str(d.state_dir), "--config", str(d.config_path))
        assert f"state digest {live['state_digest']}" in replayed.stdout, replayed.stderr

        d.config_path.write_text(MARKET)   # and back: refused again, naming the key the other way
        refused = _engine_cli(d)
        assert refused.returncode == 1
        assert "instruments[SCEA2026].band_bps: configuration 1000, market 500" in refused.stderr
    finally:
        d.stop()


def test_a_difference_no_command_can_apply_is_refused_even_with_apply_config(tmp_path):
    d = Daemon(tmp_path / "state")
    assert d.stop() == 0
    d.config_path.write_text(MARKET.replace('[[accounts]]\nid = 1\nmember = 101\n', '[[accounts]]\nid = 1\nmember = 102\n'))
    refused = _engine_cli(d, "--apply-config")
    assert refused.returncode == 1
    assert "accounts[1].member: configuration 102, market 101 (no command changes it)" in refused.stderr


def test_a_new_account_in_the_configuration_is_created_with_apply_config(tmp_path, zctx, connect):
    d = Daemon(tmp_path / "state")
    try:
        assert d.stop() == 0
        d.config_path.write_text(MARKET.replace("[[sessions]]", '[[accounts]]\nid = 5\nmember = 102\n'
                                                'sector = "POWER"\ncash = 7_000\n\n[[sessions]]', 1))
        refused = _engine_cli(d)
        assert refused.returncode == 1 and "accounts[5]: configuration 'configured', market 'absent'" in refused.stderr
        d.start("--apply-config")
        public, secret = load_keys(d.keys, "admin")
        a = AdminClient(d.info["admin"], d.info["server_public_key"], public, secret, timeout_ms=5000,
                        context=zctx)
        try:
            deposit = a.request("deposit", account=5, amount=1)
        finally:
            a.close()
        assert deposit["ok"], deposit
    finally:
        d.stop()
