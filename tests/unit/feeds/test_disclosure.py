"""The trade tape and the end-of-day report against hand-computed figures."""
import csv
import json

import numpy as np

from feeds.disclosure import REPORT_FIELDS, TAPE_FIELDS, Disclosure
from matching import Engine, Instrument, InstrumentKind, Region, Side, StpMode, commands

TS = 1_764_300_000_000_000_000          # 2025-11-28 11:20 in China Standard Time
SELL, BUY = Side.SELL, Side.BUY
REGIONS = {1: Region.SC, 2: Region.CQ, 3: Region.SC, 4: Region.CQ}


def day(tmp_path):
    instruments = [Instrument("SCEA2026", region=Region.SC),
                   Instrument("CCER2025", kind=InstrumentKind.CER, region=Region.CQ, block_min_qty=100)]
    engine = Engine(instruments, default_stp=StpMode.OFF)
    batches = [
        np.concatenate([commands.new_order(0, 1, SELL, 100, 5010, ts=TS), commands.new_order(0, 2, BUY, 60, 5010),
                        commands.new_order(0, 3, BUY, 40, 5010)]),          # 60 t SC -> CQ, 40 t SC -> SC
        np.concatenate([commands.new_order(0, 4, SELL, 30, 5020), commands.new_order(0, 1, BUY, 30, 5020)]),  # 30 t CQ -> SC
        np.concatenate([commands.set_block_window(0, True), commands.block_quote(0, 2, SELL, 100_000, 4600),
                        commands.block_accept(6, 3, 100_000)]),             # quote 6: CQ -> SC, 100,000 t
        np.concatenate([commands.new_order(1, 2, SELL, 10, 5040), commands.new_order(1, 1, BUY, 10, 5040)]),  # CER
    ]
    with Disclosure(tmp_path, instruments, REGIONS.get) as disclosure:
        for batch in batches:
            disclosure.record(engine.process(batch))
        return disclosure.record(engine.process(commands.end_of_day(-1)))


def test_the_tape_has_every_trade_with_its_type_and_regions_but_no_accounts(tmp_path):
    day(tmp_path)
    rows = list(csv.DictReader((tmp_path / "trades-20251128.csv").read_text().splitlines()))
    assert tuple(rows[0]) == TAPE_FIELDS
    assert [(r["symbol"], r["trade_type"], r["price"], r["qty"], r["buyer_region"], r["seller_region"]) for r in rows] == [
        ("SCEA2026", "CONTINUOUS", "5010", "60", "CQ", "SC"), ("SCEA2026", "CONTINUOUS", "5010", "40", "SC", "SC"),
        ("SCEA2026", "CONTINUOUS", "5020", "30", "SC", "CQ"), ("SCEA2026", "BLOCK", "4600", "100000", "SC", "CQ"),
        ("CCER2025", "CONTINUOUS", "5040", "10", "SC", "CQ")]


def test_the_report_closes_at_the_vwap_with_block_volume_apart_and_the_regional_flows(tmp_path):
    written = day(tmp_path)
    assert sorted(p.name for p in written) == ["eod-20251128.csv", "eod-20251128.csv", "eod-20251128.json",
                                               "eod-20251128.json"]
    report = {r["symbol"]: r for r in json.loads((tmp_path / "eod-20251128.json").read_text())["instruments"]}
    sc = report["SCEA2026"]
    # continuous: 100 t at 5010 and 30 t at 5020: VWAP = (501,000 + 150,600) / 130 = 5012.3 -> 5012
    assert (sc["open"], sc["high"], sc["low"], sc["close"], sc["previous_close"], sc["change"]) == (
        5010, 5020, 5010, 5012, 5000, 12)
    assert (sc["continuous_volume"], sc["continuous_amount"]) == (130, 651_600)
    assert (sc["block_volume"], sc["block_amount"]) == (100_000, 460_000_000)      # not in the close
    # cross-regional: 60 (SC->CQ) + 30 (CQ->SC) + 100,000 (CQ->SC); net SC->CQ = 60 - 30 - 100,000
    assert (sc["cross_regional_volume"], sc["net_flow_sc_to_cq"]) == (100_090, -99_970)
    assert (sc["trades"], report["CCER2025"]["trades"]) == (4, 1)
    assert sc["in_circulation"] == 0                         # risk off: no account holds anything
    cer = report["CCER2025"]
    assert (cer["close"], cer["cross_regional_volume"], cer["net_flow_sc_to_cq"]) == (5040, 10, 0)   # CERs are no allowance flow
    rows = list(csv.DictReader((tmp_path / "eod-20251128.csv").read_text().splitlines()))
    assert tuple(rows[0]) == REPORT_FIELDS and [r["symbol"] for r in rows] == ["SCEA2026", "CCER2025"]


def test_a_batch_across_midnight_goes_to_two_tapes_and_fixed_price_volume_is_reported(tmp_path):
    midnight = 1_764_345_600_000_000_000          # 2025-11-29 00:00 in China Standard Time
    instruments = [Instrument("SCEA2026", region=Region.SC)]
    engine = Engine(instruments, default_stp=StpMode.OFF)
    batch = np.concatenate([
        commands.new_order(0, 1, SELL, 10, 5010, ts=midnight - 1_000_000_000),
        commands.new_order(0, 2, BUY, 10, 5010, ts=midnight - 1_000_000_000),        # 23:59:59, SC -> CQ
        commands.list_fixed(0, 3, SELL, 20, 5030, 5, ts=midnight + 2_000_000_000),   # listing 3
        commands.take_fixed(3, 4, 20, ts=midnight + 2_000_000_000),                  # 00:00:02, SC -> CQ
    ])
    with Disclosure(tmp_path, instruments, REGIONS.get) as disclosure:
        disclosure.record(engine.process(batch))
        disclosure.record(engine.process(commands.end_of_day(0, ts=midnight + 3_000_000_000)))
    before = list(csv.DictReader((tmp_path / "trades-20251128.csv").read_text().splitlines()))
    after = list(csv.DictReader((tmp_path / "trades-20251129.csv").read_text().splitlines()))
    assert [(r["time"], r["trade_type"], r["qty"]) for r in before] == [("2025-11-28T23:59:59+08:00", "CONTINUOUS", "10")]
    assert [(r["time"], r["trade_type"], r["qty"]) for r in after] == [("2025-11-29T00:00:02+08:00", "FIXED", "20")]
    (sc,) = json.loads((tmp_path / "eod-20251129.json").read_text())["instruments"]
    # close = VWAP of continuous and fixed-price trades: (50,100 + 100,600) / 30 = 5023.3 -> 5023
    assert (sc["close"], sc["continuous_volume"], sc["fixed_volume"], sc["fixed_amount"]) == (5023, 10, 20, 100_600)
    assert (sc["cross_regional_volume"], sc["net_flow_sc_to_cq"]) == (30, 30)


def test_the_report_counts_units_in_circulation_and_is_filed_under_the_trading_date_named(tmp_path):
    """Risk on: 1,000 t credited, 100 t debited; the END_OF_DAY, sent after midnight, names the
    trading date before it."""
    instruments = [Instrument("SCEA2026", region=Region.SC)]
    engine = Engine(instruments, risk=True, default_stp=StpMode.OFF)
    after_midnight = 1_764_345_600_000_000_000 + 60_000_000_000        # 2025-11-29 00:01 CST
    for account in (1, 2):
        engine.process(commands.create_account(account, account, REGIONS[account], 1))
        engine.process(commands.deposit(account, 10**9))
    setup = np.concatenate([commands.credit_holdings(1, 0, 1_000), commands.debit_holdings(1, 0, 100)])
    with Disclosure(tmp_path, instruments, REGIONS.get) as disclosure:
        disclosure.record(engine.process(setup))
        disclosure.record(engine.process(np.concatenate([commands.new_order(0, 1, SELL, 50, 5000, ts=TS),
                                                         commands.new_order(0, 2, BUY, 50, 5000, ts=TS)])))
        disclosure.record(engine.process(commands.end_of_day(0, ts=after_midnight, trading_date=20251128)))
    assert not (tmp_path / "eod-20251129.json").exists()
    (sc,) = json.loads((tmp_path / "eod-20251128.json").read_text())["instruments"]
    assert (sc["trades"], sc["in_circulation"], sc["continuous_volume"]) == (1, 900, 50)


def test_reports_and_snapshots_from_before_the_trade_count_keep_their_rows_with_those_figures_unknown(tmp_path):
    old = {f: 0 for f in REPORT_FIELDS if f not in ("trades", "in_circulation")}
    old.update(symbol="CCER2025", kind="CER", region="CQ")
    (tmp_path / "eod-20251128.json").write_text(json.dumps({"date": "20251128", "instruments": [old]}))
    day(tmp_path)                                             # closes SCEA2026 and CCER2025 on that date
    rows = json.loads((tmp_path / "eod-20251128.json").read_text())["instruments"]
    assert [r["symbol"] for r in rows] == ["SCEA2026", "CCER2025"]      # the old CER row was replaced, not lost

    instruments = [Instrument("SCEA2026", region=Region.SC), Instrument("CCER2025", kind=InstrumentKind.CER)]
    kept = dict(old, symbol="SCEA2026", kind="ALLOWANCE", region="SC")
    with Disclosure(tmp_path / "restored", instruments, REGIONS.get) as disclosure:
        disclosure.restore({"cross": [5, 0], "net": [5, 0], "report_date": "20251127", "report": [kept]})
        state = disclosure.state()
    assert state["trades"] == [0, 0] and state["report"] == [dict(kept, trades=None, in_circulation=None)]
