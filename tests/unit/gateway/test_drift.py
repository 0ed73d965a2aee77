"""exchange.drift: the configuration against the market an engine holds. The first start's
commands (genesis) rebuild the configured market on any engine; a changed setting is named by
its configuration key, with the commands that apply it where a command can."""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from exchange.config import example_toml, parse_config
from exchange.drift import ConfigDrift, drift, genesis
from exchange.recovery import engine_for_config
from matching import EventKind, Instrument, StpMode

YEAR = 2026
SC = f"SCEA{YEAR}"


def market(extra_account: str = "", **instrument_changes):
    cfg = parse_config(example_toml(YEAR) + extra_account)
    if instrument_changes:
        first = dataclasses.replace(cfg.instruments[0], **instrument_changes)
        cfg.instruments = [Instrument(**first.to_dict())] + cfg.instruments[1:]
    return cfg


def started(cfg):
    """An engine after the first start's commands, none refused."""
    engine = engine_for_config(cfg)
    events = engine.process(genesis(cfg))
    assert EventKind.REJECTED not in events["kind"]
    return engine


def apply(engine, differences):
    for d in differences:
        events = engine.process(d.rows)
        assert EventKind.REJECTED not in events["kind"], d


def test_the_market_a_configuration_started_has_no_drift():
    assert drift(market(), started(market())) == []


def test_genesis_rebuilds_the_configured_parameters_on_an_engine_built_from_another_configuration():
    original = market(tick=300, reference_price=5100, band_bps=1500, lot=10, max_order_qty=5000)
    engine = engine_for_config(market(tick=1, reference_price=100, band_bps=0))   # today's, very different
    engine.process(genesis(original))
    assert [i.to_dict() for i in engine.instruments] == [i.to_dict() for i in started(original).instruments]
    assert drift(original, engine) == []


def test_a_changed_band_is_named_and_applied_by_its_command():
    engine = started(market())
    narrowed = market(band_bps=500)
    differences = drift(narrowed, engine)
    assert [(d.key, d.config, d.state) for d in differences] == [(f"instruments[{SC}].band_bps", 500, 1000)]
    with pytest.raises(ConfigDrift, match=rf"instruments\[{SC}\]\.band_bps: configuration 500, market 1000"):
        raise ConfigDrift(differences)
    apply(engine, differences)
    assert drift(narrowed, engine) == []
    assert engine.instruments[0].band == (4750, 5250)


def test_the_reference_price_is_an_opening_value_the_closes_move():
    assert drift(market(reference_price=5300), started(market())) == []


def test_a_field_no_command_changes_cannot_be_applied():
    differences = drift(market(t_plus_one=False), started(market()))
    assert [(d.key, d.rows) for d in differences] == [(f"instruments[{SC}].t_plus_one", None)]
    assert "no command changes it" in str(ConfigDrift(differences))


FLOORED = f"""
[[accounts]]
id = 7
member = 101
sector = "POWER"
cash = 1_000
holdings = {{ {SC} = 500 }}
stp = "OFF"
retention_floor = {{ {SC} = 200 }}
position_limit = {{ {SC} = 900 }}
obligation = {{ {SC} = 50 }}
"""


def test_account_rules_from_the_configuration_apply_at_the_first_start():
    cfg = market(FLOORED)
    engine = started(cfg)
    held = engine.account(7)["holdings"][SC]
    assert (held["available"], held["floor"], held["limit"], held["obligation"]) == (500, 200, 900, 50)
    assert drift(cfg, engine) == []


def test_a_new_account_and_changed_rules_are_named_and_applied():
    engine = started(market())
    cfg = market(FLOORED)
    differences = drift(cfg, engine)
    assert [d.key for d in differences] == ["accounts[7]"]
    apply(engine, differences)
    changed = market(FLOORED.replace("= 200 }", "= 300 }").replace('stp = "OFF"', 'stp = "CANCEL_BOTH"'))
    differences = drift(changed, engine)
    assert [(d.key, d.config, d.state) for d in differences] == [
        ("accounts[7].stp", "CANCEL_BOTH", "OFF"), (f"accounts[7].retention_floor.{SC}", 300, 200)]
    apply(engine, differences)
    assert drift(changed, engine) == []
    assert engine.account(7)["holdings"][SC]["floor"] == 300


def test_an_obligation_met_by_surrenders_is_no_drift_and_a_changed_one_applies_to_what_is_left():
    from matching import commands
    cfg = market(FLOORED)
    engine = started(cfg)
    engine.process(commands.surrender(7, 0, 30))           # 30 of the 50 t: 20 left
    assert drift(cfg, engine) == []
    raised = market(FLOORED.replace(f"obligation = {{{{ {SC} = 50 }}}}".format(), f"obligation = {{ {SC} = 80 }}"))
    differences = drift(raised, engine)
    assert [(d.key, d.config, d.state) for d in differences] == [(f"accounts[7].obligation.{SC}", 80, 50)]
    apply(engine, differences)
    assert engine.account(7)["holdings"][SC]["obligation"] == 50 and drift(raised, engine) == []
    lowered = market(FLOORED.replace(f"obligation = {{{{ {SC} = 50 }}}}".format(), f"obligation = {{ {SC} = 10 }}"))
    apply(engine, drift(lowered, engine))                   # below what was surrendered: nothing left to meet
    assert engine.account(7)["holdings"][SC]["obligation"] == 0


def test_an_accounts_member_cannot_be_changed():
    engine = started(market(FLOORED))
    differences = drift(market(FLOORED.replace("member = 101", "member = 102")), engine)
    assert [(d.key, d.config, d.state, d.rows) for d in differences] == [("accounts[7].member", 102, 101, None)]


def test_market_wide_settings_are_compared():
    engine = started(market())
    cfg = market()
    cfg.default_stp = StpMode.OFF
    cfg.fees = {}
    assert [d.key for d in drift(cfg, engine)] == ["market.default_stp", "market.fees"]


def test_a_first_start_the_engine_refuses_journals_nothing(tmp_path, monkeypatch):
    """A configuration the engine refuses is tried on a scratch engine first: nothing reaches
    the journal, so the corrected configuration is what the next start applies."""
    import exchange.recovery as persistence
    from bench.gateway_bench import market_config
    from gateway.errors import GatewayError
    from exchange.journal import read_records
    from exchange.server import ExchangeNode
    from matching import commands

    cfg = parse_config(market_config(1))
    refused = lambda config: np.concatenate([genesis(config), commands.deposit(999, 5)])   # noqa: E731
    monkeypatch.setattr(persistence, "genesis", refused)
    with pytest.raises(GatewayError, match="the configuration was refused by the engine: UNKNOWN_ACCOUNT for DEPOSIT"):
        ExchangeNode(cfg, tmp_path)
    assert list(read_records(tmp_path)) == []
    monkeypatch.setattr(persistence, "genesis", genesis)
    gw = ExchangeNode(cfg, tmp_path)
    try:
        assert drift(cfg, gw.engine) == [] and len(list(read_records(tmp_path))) == 1
    finally:
        gw.close()


def test_a_new_instrument_at_the_end_is_listed_with_its_rules_and_a_reordered_list_refused():
    engine = started(market())
    vintage = f"""
[[instruments]]
symbol = "CCER{YEAR}"
kind = "CER"
year = {YEAR}
reference_price = 6300
tick = 5
"""
    listed = parse_config(example_toml(YEAR).replace("[[members]]", vintage + "\n[[members]]", 1)
                          .replace("id = 1\nmember = 101\n", f"id = 1\nmember = 101\nretention_floor = {{ CCER{YEAR} = 10 }}\n", 1))
    differences = drift(listed, engine)
    assert [d.key for d in differences] == [f"instruments[CCER{YEAR}]", f"accounts[1].retention_floor.CCER{YEAR}"]
    apply(engine, differences)
    assert drift(listed, engine) == []
    assert engine.instruments[-1].symbol == f"CCER{YEAR}" and engine.instruments[-1].tick == 5
    assert engine.account(1)["holdings"][f"CCER{YEAR}"]["floor"] == 10
    reordered = market()
    reordered.instruments = reordered.instruments[::-1]
    assert [(d.key, d.rows) for d in drift(reordered, started(market()))] == [("instruments", None)]


MAKER = f"""
[[market_makers]]
account = 4
instruments = ["{SC}"]
rebate_bps = {{ continuous = 30, auction = 2 }}
"""


def test_genesis_gives_the_market_makers_their_rebates_and_a_changed_rebate_is_applied_by_its_command():
    from matching import TradeType
    engine = started(market(MAKER))
    assert engine.export_meta()["fee_rebates"] == [[4, TradeType.CONTINUOUS, 30], [4, TradeType.AUCTION, 2]]
    assert drift(market(MAKER), engine) == []
    changed = market(MAKER.replace("continuous = 30, auction = 2", "continuous = 20, fixed = 1"))
    differences = drift(changed, engine)
    assert [(d.key, d.config, d.state) for d in differences] == [
        ("market_makers[4].rebate_bps.continuous", 20, 30), ("market_makers[4].rebate_bps.fixed", 1, 0),
        ("market_makers[4].rebate_bps.auction", 0, 2)]
    apply(engine, differences)
    assert drift(changed, engine) == []
    undesignated = drift(market(), engine)                 # the maker struck from the configuration
    assert {d.key for d in undesignated} == {"market_makers[4].rebate_bps.continuous",
                                             "market_makers[4].rebate_bps.fixed"}
    apply(engine, undesignated)
    assert engine.export_meta()["fee_rebates"] == []
