"""Member statements over a journal written with the real journal code: two trading dates,
each account's movements filed under its date, the second opening where the first closed,
and every balance equal to the engine's at each date's close."""
import numpy as np

from exchange.config import example_toml, parse_config
from exchange.drift import genesis
from exchange.journal import Journal
from exchange.recovery import engine_for_config
from exchange.statements import statements
from matching import FineReason, Side, commands

YEAR = 2026
DAY1 = 1_780_000_000 * 10**9          # 2026-05-29 04:26 in China
DAY2 = DAY1 + 86_400 * 10**9
SC, CER = 0, 2


def journal(tmp_path, cfg, batches) -> None:
    """Write the market's first-start commands and ``batches`` as journal records, numbered."""
    seq = 0
    with Journal(tmp_path, durability="none") as j:
        for batch in [stamped(DAY1 - 3600 * 10**9, genesis(cfg)), *batches]:
            batch = batch.copy()
            batch["seq"] = np.arange(seq + 1, seq + 1 + len(batch))
            seq += len(batch)
            j.append(batch)
            j.sync()


def stamped(ts, *rows):
    batch = np.concatenate(rows)
    batch["ts"] = ts
    return batch


def test_two_dates_of_statements_reconcile_and_the_second_opens_where_the_first_closed(tmp_path):
    cfg = parse_config(example_toml(YEAR))
    journal(tmp_path, cfg, [
        stamped(DAY1, commands.new_order(SC, 1, Side.SELL, 1_000, 5000)),
        stamped(DAY1 + 60 * 10**9, commands.new_order(SC, 2, Side.BUY, 400, 5000), commands.deposit(2, 7_000)),
        stamped(DAY2, commands.new_order(SC, 4, Side.BUY, 600, 5000),
                commands.fine(1, 1_000_000, FineReason.REPORTING, 9), commands.credit_holdings(3, CER, 50)),
    ])
    by_date = statements(tmp_path, cfg)
    assert sorted(by_date) == ["20260529", "20260530"]
    first = {a["account"]: a for m in by_date["20260529"] for a in m["accounts"]}
    second = {a["account"]: a for m in by_date["20260530"] for a in m["accounts"]}
    assert sorted(first) == [1, 2, 3, 4] and sorted(second) == [1, 3, 4]    # the opening funding on day one
    assert first[3]["cash"]["opening"] == 0 and first[3]["cash"]["deposits"] == first[3]["cash"]["closing"] > 0
    one = first[1]
    assert one["cash"]["sold"] == 400 * 5000 and one["units"][f"SCEA{YEAR}"]["sold"] == 400
    assert [t["qty"] for t in one["trades"]] == [400]
    assert first[2]["cash"]["deposits"] == cfg.accounts[1].cash + 7_000
    # day two opens with day one's close; the fine is in it
    assert second[1]["cash"]["opening"] == one["cash"]["closing"]
    assert second[1]["cash"]["fines"] == 1_000_000 and second[1]["units"][f"SCEA{YEAR}"]["sold"] == 600
    assert second[3]["units"][f"CCER{YEAR - 1}"]["credited"] == 50
    assert all(a["reconciled"] for day in by_date.values() for m in day for a in m["accounts"])
    # the closes are the engine's: replay the same commands by hand
    engine = engine_for_config(cfg)
    engine.process(genesis(cfg))
    for cmd in (commands.new_order(SC, 1, Side.SELL, 1_000, 5000), commands.new_order(SC, 2, Side.BUY, 400, 5000),
                commands.deposit(2, 7_000)):
        engine.process(cmd)
    view = engine.account(2)
    assert first[2]["cash"]["closing"] == view["cash_available"] + view["cash_frozen"]
    h = view["holdings"][f"SCEA{YEAR}"]
    assert first[2]["units"][f"SCEA{YEAR}"]["closing"] == h["available"] + h["frozen"] + h["locked"] + h["non_tradable"]
