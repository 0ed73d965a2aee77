"""The market configuration: the embedded default, and errors that name their key."""
import subprocess
import sys

import pytest

from exchange.config import ConfigError, default_config, example_toml, parse_config
from matching import Region

REPO = __import__("pathlib").Path(__file__).resolve().parents[3]


def test_the_default_market_has_both_regions_a_ccer_and_funded_accounts():
    cfg = default_config()
    assert {i.region for i in cfg.instruments[:2]} == {Region.SC, Region.CQ}
    assert cfg.instruments[2].symbol.startswith("CCER")
    assert {a.region for a in cfg.accounts} == {Region.SC, Region.CQ}
    assert all(a.cash > 0 for a in cfg.accounts)
    assert example_toml(2030).count("SCEA2030") >= 2


@pytest.mark.parametrize("edit, key", [
    (("tick = 5", "tick = 0"), "instruments[2].tick"),
    (("reference_price = 4480", "reference_price = -1"), "instruments[1].reference_price"),
    (("members = [201, 202]", "members = [201, 999]"), "sessions[1].members[1]"),
    (("sector = \"STEEL\"", "sector = \"STEAL\""), "accounts[2].sector"),
    (("order_port = 7001", "order_port = 70001"), "network.order_port"),
    (("rate_limit = 10000", "rate_limit = \"fast\""), "sessions[2].rate_limit"),
    (("mode = \"fsync\"", "mode = \"sometimes\""), "durability.mode"),
    (("interval_ms = 10", "interval_ms = 0"), "durability.interval_ms"),
    (("segment_bytes = 67108864", "segment_bytes = 100"), "durability.segment_bytes"),
    (("segment_bytes = 67108864", "segment_bytes = 67108864\nretain = 3"), "durability.retain"),
    (("max_order_qty = 99999\n", "max_order_qty = 99999\ncolour = 1\n"), "instruments[0].colour"),
    (("id = 3\nmember = 201", "id = 1\nmember = 201"), "accounts[2].id"),
    (("holdings = { CQEA", "holdings = { XXEA2000 = 1, CQEA"), "accounts[2].holdings.XXEA2000"),
])
def test_a_bad_value_names_its_key(edit, key):
    text = example_toml(2026)
    assert edit[0] in text
    with pytest.raises(ConfigError) as err:
        parse_config(text.replace(edit[0], edit[1], 1))
    assert err.value.key == key and str(err.value).startswith(key)


def test_durability_defaults_and_modes():
    cfg = default_config()
    assert (cfg.durability.mode, cfg.durability.interval_ms, cfg.durability.segment_bytes) == ("fsync", 10, 64 << 20)
    text = example_toml(2026)
    for mode in ("fsync", "interval", "none"):
        d = parse_config(text.replace('mode = "fsync"', f'mode = "{mode}"', 1)
                         .replace("interval_ms = 10", "interval_ms = 25", 1)).durability
        assert (d.mode, d.interval_ms) == (mode, 25)
    bare = text.split("[durability]")[0] + "[daemon]" + text.split("[daemon]", 1)[1]
    assert parse_config(bare).durability.mode == "fsync"


def test_not_toml_is_a_config_error():
    with pytest.raises(ConfigError, match="not valid TOML"):
        parse_config("[market\n")


def test_cli_config_errors_exit_2_without_a_traceback(tmp_path):
    bad = tmp_path / "m.toml"
    bad.write_text(example_toml(2026).replace("tick = 5", "tick = 0"))
    run = subprocess.run([sys.executable, "-m", "chuanyu.cli", "config", "check", str(bad)], capture_output=True,
                         text=True, cwd=REPO, timeout=60)
    assert run.returncode == 2 and "instruments[2].tick" in run.stderr and "Traceback" not in run.stderr
    ok = subprocess.run([sys.executable, "-m", "chuanyu.cli", "config", "example"], capture_output=True, text=True,
                        cwd=REPO, timeout=60)
    assert ok.returncode == 0
    parse_config(ok.stdout)


MAKER = """
[[market_makers]]
account = 4
instruments = ["CQEA2026", "SCEA2026"]
max_spread_bps = 150
rebate_bps = { continuous = 30, block = 5 }
"""


def test_a_market_maker_has_its_obligations_by_instrument_and_its_rebates_by_trade_type():
    from matching import TradeType
    cfg = parse_config(example_toml(2026) + MAKER)
    maker, = cfg.market_makers
    assert (maker.account, maker.instruments, maker.max_spread_bps, maker.min_qty, maker.presence_pct) == (
        4, ("CQEA2026", "SCEA2026"), 150, 1_000, 80)
    assert maker.rebate_bps == {TradeType.CONTINUOUS: 30, TradeType.BLOCK: 5}
    assert [(o.account, o.instrument, o.max_spread_bps) for o in cfg.obligations()] == [(4, 1, 150), (4, 0, 150)]
    assert default_config().market_makers == []


@pytest.mark.parametrize("edit, key", [
    (("account = 4", "account = 77"), "market_makers[0].account"),
    (('"CQEA2026", "SCEA2026"', '"CQEA2026", "XXEA1999"'), "market_makers[0].instruments[1]"),
    (('"CQEA2026", "SCEA2026"', '"CQEA2026", "CQEA2026"'), "market_makers[0].instruments"),
    (('["CQEA2026", "SCEA2026"]', "[]"), "market_makers[0].instruments"),
    (("max_spread_bps = 150", "max_spread_bps = 0"), "market_makers[0].max_spread_bps"),
    (("max_spread_bps = 150", "presence_pct = 101"), "market_makers[0].presence_pct"),
    (("max_spread_bps = 150", "min_qty = 0"), "market_makers[0].min_qty"),
    (("continuous = 30", "continuous = 1001"), "market_makers[0].rebate_bps.continuous"),
    (("block = 5", "spot = 5"), "market_makers[0].rebate_bps.spot"),
    (("max_spread_bps = 150", "max_spread_bps = 150\nspread = 3"), "market_makers[0].spread"),
])
def test_a_bad_market_maker_names_its_key(edit, key):
    text = MAKER.replace(edit[0], edit[1], 1)
    with pytest.raises(ConfigError) as err:
        parse_config(example_toml(2026) + text)
    assert err.value.key == key, str(err.value)


def test_an_account_is_designated_once():
    with pytest.raises(ConfigError, match="designated twice") as err:
        parse_config(example_toml(2026) + MAKER + MAKER.replace("\"CQEA2026\", ", ""))
    assert err.value.key == "market_makers[1].account"
