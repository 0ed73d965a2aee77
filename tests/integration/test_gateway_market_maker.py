"""A designated market maker through the real daemon: the configuration's rebate is in force
from the first start (fills report the lower fee), the operator changes it with ``chuanyu
admin fee-rebate``, and the end-of-day report measures the maker's day in engine time,
including the time before a kill -9 (the journal replays it). Loopback only."""
from __future__ import annotations

import json
import time

from conftest import MARKET, Daemon, admin_request, cli, drain
from gateway.protocol import MsgType
from matching import Side

SCEA = 0
MAKER, SELLER = 4, 1                 # account 4 on the cq-platform session, account 1 on sc-platform
MAKER_MARKET = MARKET + """
[[market_makers]]
account = 4
instruments = ["SCEA2026"]
max_spread_bps = 100
min_qty = 500
presence_pct = 50
rebate_bps = { continuous = 30 }
"""


def acked(client, instrument, account, side, qty, price) -> int:
    client.submit(instrument, account, side, qty=qty, price=price)
    got = drain(client, lambda got: any(r.msg_type in (MsgType.ACK, MsgType.REJECT) for r in got))
    ack = next(r for r in got if r.msg_type in (MsgType.ACK, MsgType.REJECT))
    assert ack.msg_type == MsgType.ACK, ack.reason_name
    return ack.order_id


def sell_into_the_bid(seller, maker, qty: int, price: int) -> int:
    """Account 1 sells into the maker's bid; returns the maker's fee from its FILL."""
    seller.submit(SCEA, SELLER, Side.SELL, qty=qty, price=price)
    drain(seller, lambda got: any(r.msg_type == MsgType.FILL for r in got))
    fills = [r for r in drain(maker, lambda got: any(r.msg_type == MsgType.FILL for r in got))
             if r.msg_type == MsgType.FILL]
    return fills[0].fee


def test_a_market_maker_pays_its_rebated_fee_and_its_day_is_measured_across_a_crash(tmp_path, connect, zctx):
    d = Daemon(tmp_path / "state", MAKER_MARKET)
    try:
        maker, seller = connect(d, 2), connect(d, 1)
        maker.login()
        seller.login()
        quoted = time.time_ns()
        acked(maker, SCEA, MAKER, Side.BUY, 500, 4990)
        acked(maker, SCEA, MAKER, Side.SELL, 500, 5010)           # 40 bps apart, 500 t a side: present
        time.sleep(0.3)
        # 100 t x 49.90 = 499,000 fen; the market's 50 bps less the maker's 30
        assert sell_into_the_bid(seller, maker, 100, 4990) == 499_000 * 20 // 10_000
        time.sleep(0.2)
        crashed = time.time_ns()
        d.proc.kill()
        d.proc.wait(10)
        d.out.close()

        d.start()
        maker.reconnect(endpoint=d.info["orders"])
        seller.reconnect(endpoint=d.info["orders"])
        acked(maker, SCEA, MAKER, Side.BUY, 100, 4990)            # the bid back to 500 t
        cut = cli("admin", "--state-dir", str(d.state_dir), "fee-rebate", str(MAKER), "continuous", "0")
        assert cut.returncode == 0, cut.stderr
        assert "ACCOUNT_UPDATED" in cut.stdout and "continuous fee rebate 0 bps" in cut.stdout, cut.stdout
        assert sell_into_the_bid(seller, maker, 100, 4990) == 499_000 * 50 // 10_000
        bad = admin_request(zctx, d, "fee_rebate", account=MAKER, trade_type="continuous", bps=5000)
        assert [(e["kind"], e["reason"]) for e in bad["events"]] == [("REJECTED", "BAD_PARAMETER")]
        admin_request(zctx, d, "end_of_day", instrument="SCEA2026")

        (path,) = d.state_dir.glob("eod-*.json")
        row, = json.loads(path.read_text())["market_makers"]
        assert (row["account"], row["symbol"], row["volume"], row["trades"]) == (MAKER, "SCEA2026", 200, 2)
        assert row["fees"] == 998 + 2_495
        # measured from the maker's first order, the time before the crash included
        assert row["trading_s"] >= (crashed - quoted) / 1e9 - 0.05
        assert 0 < row["present_s"] <= row["two_sided_s"] <= row["trading_s"]
        assert row["present_s"] >= 0.3, "the half second quoted in full before the crash is missing"
        assert row["avg_spread_bps"] == 40.0 and (row["min_qty"], row["max_spread_bps"]) == (500, 100)
        assert (d.state_dir / path.name.replace("eod-", "market-makers-").replace(".json", ".csv")).exists()
    finally:
        d.stop()
