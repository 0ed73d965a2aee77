"""The compliance deadline through the real daemon: the operator surrenders an account's
allowances and CERs (``chuanyu admin surrender``), the CER cap refuses what goes past it, the
shortfall shows in ``chuanyu admin compliance``, retired units cannot be sold through the
gateway, and all of it survives kill -9 (the journal replays it). Loopback only."""
from __future__ import annotations

import json

from conftest import MARKET, Daemon, admin_request, cli, drain
from gateway.protocol import MsgType
from matching import Side

SCEA = 0
# account 1: obliged to surrender 50,000 t of SCEA, and holding 5,000 t of CERs
OBLIGED = MARKET.replace("holdings = { SCEA2026 = 100_000, CQEA2026 = 10_000 }",
                         "holdings = { SCEA2026 = 100_000, CQEA2026 = 10_000, CCER2025 = 5_000 }\n"
                         "obligation = { SCEA2026 = 50_000 }")
assert OBLIGED != MARKET


def admin(d: Daemon, *args: str):
    return cli("admin", "--state-dir", str(d.state_dir), *args)


def compliance(d: Daemon) -> list[dict]:
    run = admin(d, "--json", "compliance")
    assert run.returncode == 0, run.stderr
    return json.loads(run.stdout)["compliance"]


def test_surrender_with_the_cer_cap_the_shortfall_and_retired_units_across_a_crash(tmp_path, connect, zctx):
    d = Daemon(tmp_path / "state", OBLIGED)
    try:
        done = admin(d, "surrender", "1", "SCEA2026", "40000")
        assert done.returncode == 0 and "SURRENDERED" in done.stdout, done.stdout + done.stderr
        assert "against SCEA2026, obligation left 10,000 t" in done.stdout
        past = admin(d, "surrender", "1", "CCER2025", "2501", "--against", "SCEA2026")   # 5% of 50,000: 2,500
        assert past.returncode == 1 and "CER_CAP" in past.stdout
        at = admin(d, "surrender", "1", "CCER2025", "2500", "--against", "SCEA2026")
        assert at.returncode == 0, at.stdout
        expected = [{"account": 1, "member": 101, "instrument": "SCEA2026", "obligation_left": 7_500,
                     "surrendered": 42_500, "cer_surrendered": 2_500, "cer_room": 0}]
        assert compliance(d) == expected
        table = admin(d, "compliance")
        assert table.returncode == 0 and "7,500" in table.stdout and "42,500" in table.stdout

        sc = connect(d, 1)
        sc.login()
        sc.submit(SCEA, 1, Side.SELL, qty=60_001, price=5000)           # 100,000 - 40,000 retired
        refused = [r for r in drain(sc, lambda got: any(r.msg_type == MsgType.REJECT for r in got))
                   if r.msg_type == MsgType.REJECT]
        assert refused[0].reason_name == "INSUFFICIENT_HOLDINGS"
        twice = admin(d, "surrender", "1", "SCEA2026", "7501")            # more than is left to meet
        assert twice.returncode == 1 and "EXCEEDS_REMAINING" in twice.stdout
        sc.logout()
        digest = admin_request(zctx, d, "status")["status"]["state_digest"]

        d.proc.kill()
        d.proc.wait(10)
        d.out.close()
        d.start()
        assert admin_request(zctx, d, "status")["status"]["state_digest"] == digest
        assert compliance(d) == expected
        account = admin_request(zctx, d, "account", account=1)["account"]
        assert account["holdings"]["SCEA2026"]["available"] == 60_000
        assert account["holdings"]["CCER2025"]["available"] == 2_500
    finally:
        d.stop()
