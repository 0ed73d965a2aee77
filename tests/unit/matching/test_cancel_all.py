"""CANCEL_ALL: the operator's mass cancel by instrument, account and member (each optional,
together all must match). Resting orders, listings and block quotes go, in canonical book
order, with reason OPERATOR; sealed auction bids are irrevocable and stay."""
import pytest

from helpers import CQ, SC, cancels, kinds, ladder, listing_ladder, open_account, reasons
from matching import CancelReason, EventKind, Reject, Side, commands

BUY, SELL = Side.BUY, Side.SELL
SC_I, CQ_I = 0, 1
OPERATOR = CancelReason.OPERATOR


@pytest.fixture
def market(make_engine):
    """Accounts 1, 2 of member 10; account 3 of member 20; orders on two instruments."""
    engine = make_engine()
    for account, member in ((1, 10), (2, 10), (3, 20)):
        open_account(engine, account, member=member)
    engine.submit(SC, 1, BUY, 10, 4900)              # 1
    engine.submit(SC, 3, SELL, 10, 5100)             # 2
    engine.submit(CQ, 2, BUY, 100, 3000)             # 3
    engine.process(commands.list_fixed(SC_I, 2, SELL, 10, 5050, 10))   # 4
    engine.submit(CQ, 3, SELL, 100, 3100)            # 5
    return engine


@pytest.mark.parametrize("filters, cancelled", [
    (dict(), [1, 2, 4, 3, 5]),                        # everything, instrument by instrument, book by book
    (dict(instrument=SC_I), [1, 2, 4]),
    (dict(account=3), [2, 5]),
    (dict(member=10), [1, 4, 3]),
    (dict(member=10, instrument=CQ_I), [3]),
    (dict(account=1, member=20), []),                 # both must match
    (dict(member=99), []),
])
def test_mass_cancel_takes_exactly_what_the_filters_name(market, filters, cancelled):
    events = market.process(commands.cancel_all(**filters))
    assert [c[0] for c in cancels(events)] == cancelled
    assert all(reason == OPERATOR for _, reason, _ in cancels(events))
    assert EventKind.REJECTED not in kinds(events)


def test_after_a_mass_cancel_of_a_member_the_others_trade_on(market):
    market.process(commands.cancel_all(member=10))
    assert ladder(market, SC) == [(None, None, 5100, 10)]
    assert listing_ladder(market, SC) == []
    assert kinds(market.submit(SC, 2, BUY, 10, 5100))[:2] == [EventKind.ACCEPTED, EventKind.TRADE]


def test_auction_bids_are_irrevocable(make_engine):
    engine = make_engine()
    for account in (1, 2):
        open_account(engine, account)
    opened = engine.process(commands.auction_open(SC_I, 1, SELL, 100, 4000, 10))
    auction = int(opened["order_id"][0])
    bid = engine.process(commands.auction_bid(auction, 2, 10, 4500))
    assert kinds(bid)[0] == EventKind.ACCEPTED
    assert cancels(engine.process(commands.cancel_all())) == []
    result = engine.process(commands.auction_close(SC_I))
    assert EventKind.TRADE in kinds(result)


@pytest.mark.parametrize("filters, reason", [
    (dict(instrument=7), Reject.UNKNOWN_INSTRUMENT),
    (dict(instrument=-2), Reject.UNKNOWN_INSTRUMENT),
    (dict(account=-2), Reject.UNKNOWN_ACCOUNT),
    (dict(account=10**6), Reject.UNKNOWN_ACCOUNT),
])
def test_bad_filters_are_refused(market, filters, reason):
    events = market.process(commands.cancel_all(**filters))
    assert reasons(events) == [reason] and cancels(events) == []
