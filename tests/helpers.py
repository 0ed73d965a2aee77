"""Small helpers that let engine tests read as tables of books and events."""
import numpy as np

from matching import (
    COMMAND_DTYPE, EVENT_DTYPE, EventKind, Instrument, InstrumentKind, Region, Sector, TradeType,
    commands,
)
from matching._state import unpack_state

# The test market. Bands, worked by hand from price_band():
#   SCEA2026  5000 ± 500          tick 1   -> (4500, 5500)
#   CQEA2026  3005 ± 300 (300.5)  tick 10  -> (2710, 3300)   rounded inwards
#   CCER2025  6000 ± 1200         tick 5   -> (4800, 7200)
SC, CQ, CER = "SCEA2026", "CQEA2026", "CCER2025"
SC_BAND, CQ_BAND, CER_BAND = (4500, 5500), (2710, 3300), (4800, 7200)
SC_MAX_QTY, CQ_MAX_QTY = 99_999, 50_000
MAX_ACCOUNTS = 1000


def market() -> list[Instrument]:
    """Three fresh instruments: two regional allowances and one CER, at indices 0, 1, 2."""
    return [
        Instrument(SC, kind=InstrumentKind.ALLOWANCE, region=Region.SC, year=2026,
                   reference_price=5000, tick=1, lot=1, band_bps=1000, max_order_qty=SC_MAX_QTY),
        Instrument(CQ, kind=InstrumentKind.ALLOWANCE, region=Region.CQ, year=2026,
                   reference_price=3005, tick=10, lot=100, band_bps=1000, max_order_qty=CQ_MAX_QTY),
        Instrument(CER, kind=InstrumentKind.CER, region=Region.SC, year=2025,
                   reference_price=6000, tick=5, lot=1, band_bps=2000),
    ]


def command(**fields) -> np.ndarray:
    """A one-row ``COMMAND_DTYPE`` array; unnamed fields are zero."""
    cmd = np.zeros(1, dtype=COMMAND_DTYPE)
    for name, value in fields.items():
        cmd[name] = value
    return cmd


def ladder(engine, symbol, depth=10) -> list[tuple]:
    """The book as rows ``(bid_qty, bid_price, ask_price, ask_qty)``, best first.

    A side shorter than the other is padded with ``None``; an empty book is ``[]``.
    """
    return _table(engine.book(symbol, depth))


def listing_ladder(engine, symbol, depth=10) -> list[tuple]:
    """The fixed-price listings as :func:`ladder` rows ``(bid_qty, bid_price, ask_price, ask_qty)``."""
    return _table(engine.listings(symbol, depth))


def _table(view) -> list[tuple]:
    table = []
    for n in range(max(len(view.bids), len(view.asks))):
        bid_qty = bid_price = ask_price = ask_qty = None
        if n < len(view.bids):
            bid_price, bid_qty = int(view.bids[n][0]), int(view.bids[n][1])
        if n < len(view.asks):
            ask_price, ask_qty = int(view.asks[n][0]), int(view.asks[n][1])
        table.append((bid_qty, bid_price, ask_price, ask_qty))
    return table


def kinds(events) -> list[EventKind]:
    """The kind of each event, in order."""
    return [EventKind(int(k)) for k in events["kind"]]


def only(events, kind) -> np.ndarray:
    """The events of one kind, in order."""
    return events[events["kind"] == kind]


def rows(events, *names) -> list[tuple]:
    """Each event as a tuple of the named fields, as Python ints."""
    return [tuple(int(e[name]) for name in names) for e in events]


def trades(events) -> list[tuple]:
    """Trades as ``(price, qty, buy_order_id, sell_order_id)``."""
    return rows(only(events, EventKind.TRADE), "price", "qty", "buy_order_id", "sell_order_id")


def depth(events) -> list[tuple]:
    """DEPTH events as ``(side, price, qty, count)``."""
    return rows(only(events, EventKind.DEPTH), "side", "price", "qty", "count")


def cancels(events) -> list[tuple]:
    """CANCELLED events as ``(order_id, reason, qty)``."""
    return rows(only(events, EventKind.CANCELLED), "order_id", "reason", "qty")


def reasons(events) -> list[int]:
    """The reason of every REJECTED event."""
    return [int(r) for r in only(events, EventKind.REJECTED)["reason"]]


def as_dicts(events) -> list[dict]:
    """Every field of every event, as Python ints: for exact whole-event comparisons."""
    return [{name: int(e[name]) for name in EVENT_DTYPE.names} for e in events]


def event(kind, **fields) -> dict:
    """An expected event for :func:`as_dicts`: ``kind`` and ``fields``, every other field 0
    (or, where it shares bytes with a given field, that field's value).

    A DEPTH event is of the continuous book unless ``trade_type`` says otherwise. A field
    name the dtype lacks is an error.
    """
    unknown = set(fields) - set(EVENT_DTYPE.names)
    if unknown:
        raise KeyError(f"EVENT_DTYPE has no field {sorted(unknown)}")
    # built as a row, so that fields sharing bytes with the given ones read as they will
    row = np.zeros(1, dtype=EVENT_DTYPE)
    if kind == EventKind.DEPTH:
        row["trade_type"] = TradeType.CONTINUOUS           # the continuous book's depth, unless given
    for name, value in fields.items():
        row[name] = value
    row["kind"] = kind
    return as_dicts(row)[0]


def state(engine) -> tuple[dict, list]:
    """The engine's canonical state decoded from its snapshot: ``(meta, rows)``, where rows are
    the resting orders (and any further snapshot sections) as Python values."""
    meta, sections = unpack_state(engine.snapshot())
    return meta, {name: rows.tolist() for name, rows in sections.items()}


# ------------------------------------------------------------------ accounts and risk
def open_account(engine, account, cash=0, units=None, *, member=None, region=Region.SC,
                 sector=Sector.POWER, non_tradable=None):
    """Create ``account`` and fund it: deposit ``cash`` fen and credit ``units`` and
    ``non_tradable`` (each ``{symbol: qty}``). Every step must succeed with its one event.
    ``member`` defaults to the account id."""
    steps = [(commands.create_account(account, account if member is None else member, region, sector),
              EventKind.ACCOUNT_UPDATED)]
    if cash:
        steps.append((commands.deposit(account, cash), EventKind.BALANCE))
    for flag, table in ((False, units), (True, non_tradable)):
        for symbol, qty in (table or {}).items():
            steps.append((commands.credit_holdings(account, engine.instrument_index(symbol), qty, flag),
                          EventKind.BALANCE))
    for cmd, kind in steps:
        assert kinds(engine.process(cmd)) == [kind], f"setting up account {account} failed"
    return engine


def funded_engine(make_engine, accounts=None, fees=(0, 0), **kwargs):
    """A risk-on engine over the test market, continuous-trading fees ``(buyer_bps,
    seller_bps)``, with ``accounts`` ``{id: (cash, {symbol: qty})}`` opened by
    :func:`open_account`; other keyword arguments go to the engine."""
    engine = make_engine(risk=True, fees={TradeType.CONTINUOUS: fees}, **kwargs)
    for account, (cash, units) in (accounts or {}).items():
        open_account(engine, account, cash, units)
    return engine


def cash(engine, account) -> tuple[int, int]:
    """An account's cash as ``(available, frozen)``."""
    view = engine.account(account)
    return view["cash_available"], view["cash_frozen"]


def units(engine, account, symbol) -> tuple[int, int, int, int]:
    """An account's units of ``symbol`` as ``(available, frozen, locked, non_tradable)``."""
    h = engine.account(account)["holdings"][symbol]
    return h["available"], h["frozen"], h["locked"], h["non_tradable"]


def assert_rejected(engine, cmd, reason) -> np.ndarray:
    """Process ``cmd``, which must be refused with ``reason`` alone and change nothing but the
    clock and the event sequence: no order, account, holding, day, auction or rollover."""
    def frozen_state():
        meta, sections = state(engine)
        meta = {k: v for k, v in meta.items() if k not in ("next_event_seq", "clock")}
        return meta, sections
    before = frozen_state()
    events = engine.process(cmd)
    assert kinds(events) == [EventKind.REJECTED]
    assert reasons(events) == [reason]
    assert frozen_state() == before
    return events


def free_endpoint() -> str:
    """A loopback endpoint nothing listens on (a node that is not the primary, or not up)."""
    from exchange.nats_cluster import free_port
    return f"tcp://127.0.0.1:{free_port()}"
