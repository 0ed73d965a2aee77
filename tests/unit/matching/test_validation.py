"""Command validation: every reject reason, the order the checks run in, and that a rejected
command changes nothing but the event sequence counter."""
import pytest

from helpers import (
    CQ, CQ_MAX_QTY, MAX_ACCOUNTS, SC, SC_MAX_QTY, as_dicts, command, event, kinds, ladder,
    reasons, rows, state,
)
from matching import (
    CommandType, EventKind, InstrumentStatus, OrderType, Reject, Side, StpMode, TimeInForce,
)

SC_IX, CQ_IX = 0, 1

# A valid order that would cross the resting ask of ``populated`` below.
VALID = dict(type=CommandType.NEW_ORDER, instrument=SC_IX, account=1, side=Side.BUY,
             order_type=OrderType.LIMIT, tif=TimeInForce.GTC, stp=StpMode.ACCOUNT_DEFAULT,
             qty=10, price=5000)

# Each case breaks the check it is named for AND every check after it, so the reason proves
# which check ran first. The documented order: instrument, account, (halted), side, order
# type, time in force, STP mode, qty > 0, lot, maximum, price > 0, tick, band, (FOK).
EVERYTHING_AFTER_INSTRUMENT = dict(account=MAX_ACCOUNTS, side=0, order_type=0, tif=0, stp=9,
                                   qty=0, price=0)
NEW_ORDER_REJECTS = [
    ("instrument-past-end", dict(EVERYTHING_AFTER_INSTRUMENT, instrument=3), Reject.UNKNOWN_INSTRUMENT),
    ("instrument-negative", dict(EVERYTHING_AFTER_INSTRUMENT, instrument=-1), Reject.UNKNOWN_INSTRUMENT),
    ("account-past-end", dict(account=MAX_ACCOUNTS, side=0, order_type=0, tif=0, stp=9, qty=0),
     Reject.UNKNOWN_ACCOUNT),
    ("account-negative", dict(account=-1, side=3, qty=0), Reject.UNKNOWN_ACCOUNT),
    ("side-zero", dict(side=0, order_type=0, tif=0, stp=9, qty=0, price=0), Reject.BAD_SIDE),
    ("side-three", dict(side=3), Reject.BAD_SIDE),
    ("order-type-zero", dict(order_type=0, tif=0, stp=9, qty=0, price=0), Reject.BAD_ORDER_TYPE),
    ("order-type-three", dict(order_type=3), Reject.BAD_ORDER_TYPE),
    ("tif-zero", dict(tif=0, stp=9, qty=0, price=0), Reject.BAD_TIME_IN_FORCE),
    ("tif-five", dict(tif=5), Reject.BAD_TIME_IN_FORCE),
    ("market-gtc", dict(order_type=OrderType.MARKET, tif=TimeInForce.GTC, stp=9, qty=0),
     Reject.BAD_TIME_IN_FORCE),
    ("market-day", dict(order_type=OrderType.MARKET, tif=TimeInForce.DAY), Reject.BAD_TIME_IN_FORCE),
    ("stp-five", dict(stp=5, qty=0, price=0), Reject.BAD_STP_MODE),
    ("stp-255", dict(stp=255), Reject.BAD_STP_MODE),
    ("qty-zero", dict(qty=0, price=0), Reject.BAD_QUANTITY),
    ("qty-negative", dict(qty=-10), Reject.BAD_QUANTITY),
    ("market-qty-zero", dict(order_type=OrderType.MARKET, tif=TimeInForce.IOC, qty=0),
     Reject.BAD_QUANTITY),
    ("off-lot", dict(instrument=CQ_IX, qty=150, price=0), Reject.OFF_LOT_QUANTITY),
    ("off-lot-and-too-large", dict(instrument=CQ_IX, qty=CQ_MAX_QTY + 50), Reject.OFF_LOT_QUANTITY),
    ("too-large", dict(qty=SC_MAX_QTY + 1, price=0), Reject.ORDER_TOO_LARGE),
    ("too-large-on-lot", dict(instrument=CQ_IX, qty=CQ_MAX_QTY + 100, price=3000),
     Reject.ORDER_TOO_LARGE),
    ("market-too-large", dict(order_type=OrderType.MARKET, tif=TimeInForce.FOK, qty=SC_MAX_QTY + 1),
     Reject.ORDER_TOO_LARGE),
    ("price-zero", dict(price=0), Reject.BAD_PRICE),
    ("price-negative-off-tick", dict(instrument=CQ_IX, qty=100, price=-5), Reject.BAD_PRICE),
    ("off-tick", dict(instrument=CQ_IX, qty=100, price=3001), Reject.OFF_TICK_PRICE),
    ("off-tick-and-outside-band", dict(instrument=CQ_IX, qty=100, price=9995), Reject.OFF_TICK_PRICE),
    ("below-band", dict(price=4499), Reject.PRICE_OUTSIDE_BAND),
    ("above-band", dict(price=5501), Reject.PRICE_OUTSIDE_BAND),
    ("below-rounded-band", dict(instrument=CQ_IX, qty=100, price=2700), Reject.PRICE_OUTSIDE_BAND),
    ("above-rounded-band", dict(instrument=CQ_IX, qty=100, price=3310), Reject.PRICE_OUTSIDE_BAND),
    ("fok-outside-band", dict(tif=TimeInForce.FOK, qty=11, price=5501), Reject.PRICE_OUTSIDE_BAND),
    ("fok-short-by-one", dict(tif=TimeInForce.FOK, qty=11), Reject.FOK_NOT_FILLABLE),
    ("fok-not-crossing", dict(tif=TimeInForce.FOK, price=4999), Reject.FOK_NOT_FILLABLE),
    ("market-fok-short", dict(order_type=OrderType.MARKET, tif=TimeInForce.FOK, qty=11),
     Reject.FOK_NOT_FILLABLE),
]

UNKNOWN_COMMANDS = [
    ("type-zero", dict(type=0)),
    ("type-five", dict(VALID, type=5)),
    ("type-thirteen", dict(type=13, instrument=SC_IX)),
    ("type-255", dict(type=255)),
]

# Admin commands through the per-call API: (id, method, args, reason).
ADMIN_REJECTS = [
    ("status-instrument-past-end", "set_instrument_status", (3, InstrumentStatus.HALTED),
     Reject.UNKNOWN_INSTRUMENT),
    ("status-instrument-negative", "set_instrument_status", (-1, 7), Reject.UNKNOWN_INSTRUMENT),
    ("status-zero", "set_instrument_status", (SC_IX, 0), Reject.BAD_STATUS),
    ("status-nine", "set_instrument_status", (SC_IX, 9), Reject.BAD_STATUS),
    ("stp-account-past-end", "set_account_stp", (MAX_ACCOUNTS, 9), Reject.UNKNOWN_ACCOUNT),
    ("stp-account-negative", "set_account_stp", (-1, StpMode.OFF), Reject.UNKNOWN_ACCOUNT),
    ("stp-account-default", "set_account_stp", (1, StpMode.ACCOUNT_DEFAULT), Reject.BAD_STP_MODE),
    ("stp-five", "set_account_stp", (1, 5), Reject.BAD_STP_MODE),
    ("expire-instrument-past-end", "expire_day_orders", (3,), Reject.UNKNOWN_INSTRUMENT),
]


@pytest.fixture
def populated(engine):
    """SC: bid 20@4990 (id 1, account 3), ask 10@5000 (id 2, account 2); CQ: ask 100@3000
    (id 3, DAY); account 1 has its own STP mode. The clock stands at 50."""
    engine.submit(SC, 3, Side.BUY, 20, 4990, ts=10)
    engine.submit(SC, 2, Side.SELL, 10, 5000, ts=20)
    engine.submit(CQ, 2, Side.SELL, 100, 3000, tif=TimeInForce.DAY, ts=30)
    engine.set_account_stp(1, StpMode.CANCEL_OLDEST, ts=50)
    return engine


def assert_rejected_without_effect(engine, call, reason):
    """``call()`` gives exactly one REJECTED event with ``reason``, and the state afterwards
    differs from before only by that one event's sequence number."""
    meta, orders = state(engine)
    events = call()
    assert kinds(events) == [EventKind.REJECTED]
    assert reasons(events) == [reason]
    meta_after, orders_after = state(engine)
    assert orders_after == orders
    assert meta_after == dict(meta, next_event_seq=meta["next_event_seq"] + 1)


@pytest.mark.parametrize("fields, reason", [case[1:] for case in NEW_ORDER_REJECTS],
                         ids=[case[0] for case in NEW_ORDER_REJECTS])
def test_new_order_is_rejected_by_its_first_failing_check_and_changes_nothing(populated, fields, reason):
    cmd = command(**dict(VALID, **fields))
    assert_rejected_without_effect(populated, lambda: populated.process(cmd), reason)


@pytest.mark.parametrize("fields", [case[1] for case in UNKNOWN_COMMANDS],
                         ids=[case[0] for case in UNKNOWN_COMMANDS])
def test_unknown_command_type_is_rejected_and_changes_nothing(populated, fields):
    cmd = command(**fields)
    assert_rejected_without_effect(populated, lambda: populated.process(cmd), Reject.UNKNOWN_COMMAND)


@pytest.mark.parametrize("method, args, reason", [case[1:] for case in ADMIN_REJECTS],
                         ids=[case[0] for case in ADMIN_REJECTS])
def test_bad_admin_command_is_rejected_and_changes_nothing(populated, method, args, reason):
    assert_rejected_without_effect(populated, lambda: getattr(populated, method)(*args), reason)


def test_the_valid_base_order_is_accepted(populated):
    # Guards the table above: without its breakage, every case would be accepted and trade.
    events = populated.process(command(**VALID))
    assert kinds(events) == [EventKind.ACCEPTED, EventKind.TRADE, EventKind.DEPTH]


def test_halted_instrument_rejects_new_orders_after_the_account_check(populated):
    populated.set_instrument_status(SC, InstrumentStatus.HALTED)
    before = state(populated)[1]
    broken_after_halt = dict(VALID, side=0, order_type=0, tif=0, stp=9, qty=0, price=0)
    assert reasons(populated.process(command(**broken_after_halt))) == [Reject.INSTRUMENT_HALTED]
    assert reasons(populated.process(command(**VALID))) == [Reject.INSTRUMENT_HALTED]
    market = dict(VALID, order_type=OrderType.MARKET, tif=TimeInForce.IOC)
    assert reasons(populated.process(command(**market))) == [Reject.INSTRUMENT_HALTED]
    assert reasons(populated.process(command(**dict(VALID, account=MAX_ACCOUNTS)))) == [
        Reject.UNKNOWN_ACCOUNT]
    assert reasons(populated.process(command(**dict(VALID,
                                                    instrument=3)))) == [Reject.UNKNOWN_INSTRUMENT]
    assert state(populated)[1] == before
    assert ladder(populated, SC) == [(20, 4990, 5000, 10)]


def test_halting_one_instrument_leaves_the_others_trading(populated):
    populated.set_instrument_status(SC, InstrumentStatus.HALTED)
    events = populated.submit(CQ, 1, Side.BUY, 100, 3000)
    assert kinds(events) == [EventKind.ACCEPTED, EventKind.TRADE, EventKind.DEPTH]


def test_resuming_trading_accepts_orders_again(populated):
    populated.set_instrument_status(SC, InstrumentStatus.HALTED)
    populated.set_instrument_status(SC, InstrumentStatus.TRADING)
    events = populated.submit(SC, 1, Side.BUY, 10, 5000)
    assert kinds(events) == [EventKind.ACCEPTED, EventKind.TRADE, EventKind.DEPTH]


def test_instrument_status_event_carries_the_new_status(engine):
    events = engine.set_instrument_status(CQ, InstrumentStatus.HALTED, ts=7, seq=3)
    assert as_dicts(events) == [event(EventKind.INSTRUMENT_STATUS,
                                      command=CommandType.SET_INSTRUMENT_STATUS, seq=1, cmd_seq=3,
                                      ts=7, instrument=CQ_IX, value=InstrumentStatus.HALTED)]


def test_reject_event_echoes_the_command(engine):
    events = engine.process(command(type=CommandType.NEW_ORDER, seq=42, ts=1000, client_order_id=77,
                                    instrument=SC_IX, account=5, side=Side.SELL,
                                    order_type=OrderType.LIMIT, tif=TimeInForce.DAY,
                                    stp=StpMode.CANCEL_BOTH, qty=10, price=4499, value=6))
    assert as_dicts(events) == [event(
        EventKind.REJECTED, command=CommandType.NEW_ORDER, seq=1, cmd_seq=42, ts=1000,
        reason=Reject.PRICE_OUTSIDE_BAND, client_order_id=77, instrument=SC_IX, account=5,
        side=Side.SELL, order_type=OrderType.LIMIT, tif=TimeInForce.DAY, qty=10, price=4499,
        value=6)]


@pytest.mark.parametrize("price", [4500, 5500])
def test_band_edges_are_inside_the_band(engine, price):
    assert kinds(engine.submit(SC, 1, Side.BUY, 1, price)) == [EventKind.ACCEPTED, EventKind.DEPTH]


@pytest.mark.parametrize("price", [2710, 3300])
def test_rounded_band_edges_are_inside_the_band(engine, price):
    assert kinds(engine.submit(CQ, 1, Side.SELL, 100, price)) == [EventKind.ACCEPTED, EventKind.DEPTH]


@pytest.mark.parametrize("symbol, qty, price", [(SC, SC_MAX_QTY, 5000), (CQ, CQ_MAX_QTY, 3000)])
def test_maximum_quantity_is_allowed(engine, symbol, qty, price):
    assert kinds(engine.submit(symbol, 1, Side.BUY, qty, price)) == [EventKind.ACCEPTED, EventKind.DEPTH]


@pytest.mark.parametrize("price", [0, -1, 5501, 12_345])
def test_market_order_price_is_not_checked(engine, price):
    events = engine.process(command(**dict(VALID, order_type=OrderType.MARKET, tif=TimeInForce.IOC,
                                           price=price)))
    assert kinds(events) == [EventKind.ACCEPTED, EventKind.CANCELLED]


def test_rejected_orders_do_not_use_order_ids(populated):
    for fields in (dict(qty=0), dict(price=4499), dict(tif=TimeInForce.FOK, qty=11)):
        populated.process(command(**dict(VALID, **fields)))
    events = populated.submit(SC, 1, Side.BUY, 1, 4900)
    assert rows(events, "kind", "order_id") == [(EventKind.ACCEPTED, 4), (EventKind.DEPTH, 0)]


def test_a_rejected_command_leaves_later_events_unchanged_but_for_their_sequence(make_engine):
    """Two engines get the same valid stream; one also gets rejected commands interleaved.
    Every later event is identical except its ``seq``, shifted by the number of rejects."""
    def stream(engine, with_rejects):
        out = []
        engine.submit(SC, 1, Side.SELL, 10, 5001)
        engine.submit(SC, 2, Side.SELL, 10, 5002, tif=TimeInForce.DAY)
        if with_rejects:
            engine.submit(SC, 3, Side.BUY, 30, 5002, tif=TimeInForce.FOK)
            engine.process(command(type=99))
            engine.cancel(1, account=3)
        out += as_dicts(engine.submit(SC, 3, Side.BUY, 15, 5002))
        out += as_dicts(engine.reduce(2, 2, 1))
        out += as_dicts(engine.submit(SC, 3, Side.SELL, 7, 5000))
        return out

    plain, interleaved = make_engine(default_stp=StpMode.OFF), make_engine(default_stp=StpMode.OFF)
    expected = stream(plain, with_rejects=False)
    got = stream(interleaved, with_rejects=True)
    assert [dict(e, seq=e["seq"] - 3) for e in got] == expected
    meta, orders = state(interleaved)
    plain_meta, plain_orders = state(plain)
    assert orders == plain_orders
    assert meta == dict(plain_meta, next_event_seq=plain_meta["next_event_seq"] + 3)
