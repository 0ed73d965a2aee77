"""An order id the command's account may not see is answered exactly like an id that does not exist.

Order ids are dense, so a broker can walk them. If naming another account's live order drew a
different answer (it used to draw ``NOT_OWNER``, and a take of a limit order ``WRONG_ORDER_KIND``)
than naming a free id (``UNKNOWN_ORDER``), the broker would learn which ids are other members'
live orders. An account sees its own orders, fixed-price listings (offers to all) and block
quotes offered to all or to it; every other live order is ``UNKNOWN_ORDER``, and the REJECTED
event differs from that for a free id in nothing but the id named.
"""
import pytest

from helpers import SC, kinds, state
from matching import EventKind, Reject, Side, commands

BUY, SELL = Side.BUY, Side.SELL
SC_I = 0
BIG = 100_000                  # the default block minimum
FREE = 999                     # an order id no order has


def _orders(engine) -> dict:
    """Live orders of account 1 of every kind; returns their ids by name."""
    engine.process(commands.set_block_window(SC_I, True))
    ids = {}
    ids["limit"] = int(engine.submit(SC, 1, BUY, 10, 5000)[0]["order_id"])
    ids["listing"] = int(engine.process(commands.list_fixed(SC_I, 1, SELL, 100, 5010, 10))[0]["order_id"])
    ids["private_quote"] = int(engine.process(
        commands.block_quote(SC_I, 1, SELL, BIG, 5000, contra_account=2))[0]["order_id"])
    ids["public_quote"] = int(engine.process(commands.block_quote(SC_I, 1, BUY, BIG, 4900))[0]["order_id"])
    return ids


def _answer(engine, cmd) -> tuple:
    """The REJECTED event of ``cmd`` without the order id it named, and whether the state moved."""
    before = state(engine)[1]
    events = engine.process(cmd)
    assert kinds(events) == [EventKind.REJECTED]
    e = events[0]
    # the order id, and the fields of other kinds of event that share its bytes (trade_id)
    named = {n for n in events.dtype.names if events.dtype.fields[n][1] == events.dtype.fields["order_id"][1]}
    fields = {name: int(e[name]) for name in events.dtype.names if name not in named | {"seq"}}
    return fields, state(engine)[1] == before


# (name of account 1's order, the command account 3 sends about it)
HIDDEN = [
    ("limit", lambda oid: commands.cancel(oid, 3)),
    ("limit", lambda oid: commands.reduce(oid, 3, 5)),
    ("limit", lambda oid: commands.replace(oid, 3, 5001, 10)),
    ("listing", lambda oid: commands.cancel(oid, 3)),
    ("listing", lambda oid: commands.reduce(oid, 3, 50)),
    ("private_quote", lambda oid: commands.cancel(oid, 3)),
    ("limit", lambda oid: commands.take_fixed(oid, 3, 10)),               # a take of a limit order
    ("limit", lambda oid: commands.block_accept(oid, 3, BIG)),
    ("private_quote", lambda oid: commands.block_accept(oid, 3, BIG)),   # quoted to account 2, not 3
    ("private_quote", lambda oid: commands.take_fixed(oid, 3, 10)),
]


@pytest.mark.parametrize("which, build", HIDDEN)
def test_another_accounts_order_is_answered_as_an_unknown_order(engine, which, build):
    oid = _orders(engine)[which]
    hidden, unchanged = _answer(engine, build(oid))
    assert unchanged
    assert hidden["reason"] == Reject.UNKNOWN_ORDER
    free, _ = _answer(engine, build(FREE))
    assert hidden == {**free, "cmd_seq": hidden["cmd_seq"]}


def test_what_an_account_may_see_keeps_its_precise_reasons(engine):
    ids = _orders(engine)
    assert engine.process(commands.cancel(ids["limit"], 1))[0]["kind"] == EventKind.CANCELLED   # its own
    wrong_kind = [
        commands.take_fixed(ids["public_quote"], 3, 10),        # a public quote is not a listing
        commands.block_accept(ids["listing"], 3, BIG),          # a listing is not a block quote
        commands.take_fixed(ids["private_quote"], 2, 10),       # quoted to account 2: it may see it
    ]
    for cmd in wrong_kind:
        assert _answer(engine, cmd)[0]["reason"] == Reject.WRONG_ORDER_KIND
    assert _answer(engine, commands.block_accept(ids["private_quote"], 1, BIG))[0]["reason"] == Reject.SELF_TAKE
    assert _answer(engine, commands.take_fixed(ids["listing"], 1, 10))[0]["reason"] == Reject.SELF_TAKE


def test_no_command_produces_the_retired_codes(engine):
    ids = _orders(engine)
    for which, build in HIDDEN:
        events = engine.process(build(ids[which]))
        assert not {Reject.NOT_OWNER, Reject.NOT_COUNTERPARTY} & set(events["reason"].tolist())
