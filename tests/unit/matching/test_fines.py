"""Fines (FINE): a sanction's fine is debited from the account's available cash, the rest
recorded as owed; a later FINE of nothing collects what is owed as cash allows; fines
collected are the market's, so cash is conserved (cash + fees + fines = net deposits); the
reason and the case number travel with the event. Hand cases over both engines."""
import pytest

from helpers import SC, as_dicts, assert_rejected, cash, event, funded_engine, open_account, state
from matching import CommandType, EventKind, FineReason, Reject, Side, commands
from matching._state import pack_state, unpack_state

FIRM = 1


@pytest.fixture
def firm(make_engine):
    engine = funded_engine(make_engine, fees=(30, 50))
    open_account(engine, FIRM, 1_000_000, {SC: 1_000})
    return engine


def fine(engine, amount, reason=FineReason.MARKET_ABUSE, case=0, account=FIRM):
    return engine.process(commands.fine(account, amount, reason, case))


def test_a_fine_within_the_accounts_cash_is_debited_whole(firm):
    events = fine(firm, 300_000, case=2026_0042)
    assert as_dicts(events) == [event(EventKind.FINED, command=CommandType.FINE, seq=events["seq"][0], account=FIRM,
                                      instrument=-1, value=300_000, qty=300_000, leaves=0, order_id=2026_0042,
                                      reason=FineReason.MARKET_ABUSE)]
    assert cash(firm, FIRM) == (700_000, 0)
    assert firm.fines_collected == 300_000 and firm.account(FIRM)["fines_owed"] == 0
    firm.check_invariants()


def test_a_fine_beyond_the_available_cash_takes_what_is_there_and_records_the_rest_as_owed(firm):
    firm.submit(SC, FIRM, Side.BUY, 100, 5000)                # 501,500 held by the open buy: not available
    events = fine(firm, 800_000, FineReason.LATE_SURRENDER)
    assert (int(events["qty"][0]), int(events["leaves"][0])) == (498_500, 301_500)
    assert cash(firm, FIRM) == (0, 501_500)
    assert firm.account(FIRM)["fines_owed"] == 301_500
    firm.check_invariants()
    # a FINE of nothing collects what is owed, as far as cash allows
    firm.process(commands.deposit(FIRM, 200_000))
    events = fine(firm, 0, FineReason.LATE_SURRENDER)
    assert (int(events["value"][0]), int(events["qty"][0]), int(events["leaves"][0])) == (0, 200_000, 101_500)
    assert cash(firm, FIRM) == (0, 501_500) and firm.fines_collected == 698_500
    firm.check_invariants()


def test_fines_add_up_as_owed_until_collected(firm):
    firm.process(commands.withdraw(FIRM, 1_000_000))
    fine(firm, 100)
    fine(firm, 250, FineReason.REPORTING)
    assert firm.account(FIRM)["fines_owed"] == 350 and firm.fines_collected == 0


@pytest.mark.parametrize("args, reason", [
    ((FIRM, -1, FineReason.OTHER, 0), Reject.BAD_AMOUNT),
    ((FIRM, 10**17 + 1, FineReason.OTHER, 0), Reject.BAD_AMOUNT),
    ((FIRM, 100, 0, 0), Reject.BAD_PARAMETER),                 # a fine has a reason
    ((FIRM, 100, 9, 0), Reject.BAD_PARAMETER),
    ((77, 100, FineReason.OTHER, 0), Reject.UNKNOWN_ACCOUNT),
])
def test_a_bad_fine_is_refused_and_changes_nothing(firm, args, reason):
    assert_rejected(firm, commands.fine(*args), reason)


def test_collecting_when_nothing_is_owed_is_refused(firm):
    assert_rejected(firm, commands.fine(FIRM, 0, FineReason.OTHER, 0), Reject.BAD_AMOUNT)


def test_fines_survive_a_snapshot_and_old_snapshots_restore_without_any(firm, impl):
    firm.process(commands.withdraw(FIRM, 900_000))
    fine(firm, 150_000)
    restored = impl.restore(firm.snapshot())
    assert restored.state_digest() == firm.state_digest()
    assert restored.account(FIRM)["fines_owed"] == 50_000 and restored.fines_collected == 100_000
    meta, sections = unpack_state(firm.snapshot())
    del meta["fines_collected"], meta["fines_owed"]            # as written before fines
    meta["net_deposits"] -= 100_000                           # (then that cash had left by a withdrawal)
    old = impl.restore(pack_state(meta, sections))
    assert old.fines_collected == 0 and old.account(FIRM)["fines_owed"] == 0
    assert state(old)[0]["fines_owed"] == []
