"""Market vitality over time through the real daemon: three trading days on a fake clock
(Wednesday 30 and Thursday 31 December 2026, the compliance deadline, then Monday 4 January
2027), each a restart of the daemon on the same state dir, with trades within and across
the regions and a surrender at the deadline; then ``chuanyu report vitality`` reads the
end-of-day reports the daemon wrote. Loopback only.

Allowances in circulation: SCEA 201,000 t + CQEA 210,000 t = 411,000 t, less the 10,000 t
account 2 surrenders on the 31st (retired) = 401,000 t.

=========  ==========================================  =============  =====  =======
date       trades                                      secondary t    cross  SC→CQ
=========  ==========================================  =============  =====  =======
12-30      SCEA 1,000 acct 1 (SC) → acct 3 (CQ);        1,500          1,000  +1,000
           SCEA 500 acct 2 (SC) → acct 1 (SC)
12-31      CQEA 200 acct 3 (CQ) → acct 4 (CQ)           200            0      0
01-04      SCEA 300 acct 4 (CQ) → acct 2 (SC)           300            300    -300
=========  ==========================================  =============  =====  =======
"""
from __future__ import annotations

import json

from conftest import MARKET, Daemon, admin_status, cli, eventually
from gateway.protocol import MsgType
from matching import Side

SCEA, CQEA = 0, 1
SCHEDULE = """
[schedule]
timezone = "UTC+08:00"
pre_open = "10:00"
continuous = [["10:01", "10:03"]]
block = [["10:01", "10:03"]]
end_of_day = "10:03"
"""
OBLIGED = MARKET.replace('holdings = { SCEA2026 = 100_000 }',
                         'holdings = { SCEA2026 = 100_000 }\nobligation = { SCEA2026 = 10_000 }')
assert OBLIGED != MARKET
DAYS = {
    "2026-12-30": [(1, 1, SCEA, 1_000, 3, 2), (1, 2, SCEA, 500, 1, 1)],    # (seller session, account, ...)
    "2026-12-31": [(2, 3, CQEA, 200, 4, 2)],
    "2027-01-04": [(2, 4, SCEA, 300, 2, 1)],
}


def trade(connect, d, seller_session, seller, instrument, qty, buyer, buyer_session):
    sell, buy = connect(d, seller_session), connect(d, buyer_session) if buyer_session != seller_session else None
    sell.login()
    if buy is not None:
        buy.login()
    price = 5000 if instrument == SCEA else 4480
    sell.submit(instrument, seller, Side.SELL, qty=qty, price=price)
    assert sell.wait_for(lambda r: r.msg_type in (MsgType.ACK, MsgType.REJECT), timeout_ms=3000).msg_type == MsgType.ACK
    (buy or sell).submit(instrument, buyer, Side.BUY, qty=qty, price=price)
    fill = (buy or sell).wait_for(lambda r: r.msg_type == MsgType.FILL, timeout_ms=3000)
    assert fill.qty == qty
    for c in (sell, buy):
        if c is not None:
            c.logout()


def test_vitality_per_day_week_and_period_from_the_daemons_end_of_day_reports(tmp_path, connect, zctx):
    state = tmp_path / "state"
    d = None
    for date, trades in DAYS.items():
        env = {"CHUANYU_FAKE_CLOCK_START": f"{date}T10:00:50", "CHUANYU_FAKE_CLOCK_SPEED": "20"}
        if d is None:
            d = Daemon(state, OBLIGED + SCHEDULE, env=env)
        else:
            d.env = env
            d.start()
        try:
            def trading():
                st = admin_status(zctx, d)
                return st["schedule"]["now"] >= f"{date}T10:01" and st["instruments"][SCEA]["status"] == "TRADING"
            eventually(trading, 10, interval=0.05, what=f"trading on {date}")
            for t in trades:
                trade(connect, d, *t)
            if date == "2026-12-31":
                run = cli("admin", "--state-dir", str(state), "surrender", "2", "SCEA2026", "10000")
                assert run.returncode == 0, run.stdout + run.stderr
            eod = state / f"eod-{date.replace('-', '')}.json"
            eventually(lambda: eod.exists() and len(json.loads(eod.read_text())["instruments"]) == 3, 15,
                       interval=0.05, what=f"the end-of-day report of {date}")
        finally:
            assert d.stop() == 0, d.output()

    rows = {r["symbol"]: r for r in json.loads((state / "eod-20261231.json").read_text())["instruments"]}
    assert (rows["SCEA2026"]["in_circulation"], rows["CQEA2026"]["in_circulation"]) == (191_000, 210_000)
    assert (rows["SCEA2026"]["trades"], rows["CQEA2026"]["trades"]) == (0, 1)

    out = tmp_path / "vitality"
    run = cli("report", "vitality", "--state-dir", str(state), "--from", "2026-12-01", "--to", "2027-01-31",
              "--out", str(out))
    assert run.returncode == 0, run.stdout + run.stderr
    figures = json.loads((out / "vitality-20261230-20270104.json").read_text())

    def pick(rows, *keys):
        return [tuple(r[k] for k in keys) for r in rows]

    keys = ("label", "trading_days", "volume", "trades", "secondary_allowance_volume", "allowances_in_circulation",
            "turnover_rate", "cross_regional_share", "net_allowance_flow_sc_to_cq")
    assert pick(figures["day"], *keys) == [
        ("2026-12-30", 1, 1_500, 2, 1_500, 411_000, round(1_500 / 411_000, 6), round(1_000 / 1_500, 6), 1_000),
        ("2026-12-31", 1, 200, 1, 200, 401_000, round(200 / 401_000, 6), 0.0, 0),
        ("2027-01-04", 1, 300, 1, 300, 401_000, round(300 / 401_000, 6), 1.0, -300)]
    assert pick(figures["week"], *keys) == [
        ("2026-W53", 2, 1_700, 3, 1_700, 401_000, round(1_700 / 401_000, 6), round(1_000 / 1_700, 6), 1_000),
        ("2027-W01", 1, 300, 1, 300, 401_000, round(300 / 401_000, 6), 1.0, -300)]
    assert pick(figures["period"], *keys, "deadline_share") == [
        ("period to 2026-12-31", 2, 1_700, 3, 1_700, 401_000, round(1_700 / 401_000, 6), round(1_000 / 1_700, 6),
         1_000, 1.0),
        ("period to 2027-12-31", 1, 300, 1, 300, 401_000, round(300 / 401_000, 6), 1.0, -300, 0.0)]
    assert "2026-W53" in run.stdout and "period to 2026-12-31" in run.stdout and "0.424%" in run.stdout

    page = (out / "vitality-20261230-20270104.html").read_text()
    assert page.count("<svg") == 4 and "<script" not in page and "2027-W01" in page

    later = cli("report", "vitality", "--state-dir", str(state), "--from", "2027-01-01", "--out", "-")
    assert later.returncode == 0 and "2026-12-30" not in later.stdout and "2027-01-04" in later.stdout
    none = cli("report", "vitality", "--state-dir", str(state), "--from", "2028-01-01")
    assert none.returncode == 1 and "no end-of-day reports" in none.stderr
