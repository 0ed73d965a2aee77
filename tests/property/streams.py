"""Random command streams for the differential tests: a hypothesis strategy that shrinks
well, and a seeded numpy generator for the long mode."""
from __future__ import annotations

import numpy as np
from hypothesis import strategies as st

from matching import COMMAND_DTYPE, CommandType, Instrument, InstrumentKind, InstrumentStatus, Region, commands

# Narrow on purpose: few accounts so self-trade prevention fires, prices packed around the
# reference so orders cross, and a tick/lot that off-tick and off-lot inputs can miss.
INSTRUMENTS = [
    Instrument("SCEA2026", region=Region.SC, reference_price=5000, tick=1, lot=1, max_order_qty=500,
               block_min_qty=50, dynamic_band_bps=40),       # 20 fen from the last trade: interruptions
    Instrument("CCER2025", kind=InstrumentKind.CER, region=Region.CQ, year=2025,
               reference_price=3000, tick=5, lot=10, band_bps=500, max_order_qty=2000,
               block_min_qty=200, t_plus_one=False, min_close_volume=100, must_take_best=False,
               select_depth=3),                                  # taker-select: orders rest, takes pick
]
# Instruments a stream may list (ADD_INSTRUMENT) at indices 2, 3 ... in the order the adds
# succeed; each starts with the Instrument defaults (ADDED_MODEL), which orders are drawn for.
ADDED = [
    Instrument("SCEA2027", year=2027),
    Instrument("CQCER2024", kind=InstrumentKind.CER, region=Region.CQ, year=2024, t_plus_one=False,
               must_take_best=False),
    Instrument("重庆EA2028", region=Region.CQ, year=2028, status=InstrumentStatus.PRE_OPEN, listings_expire=False),
    Instrument("V" * 32, year=2100, status=InstrumentStatus.HALTED),
]
ADDED_MODEL = Instrument("added")
MODELS = INSTRUMENTS + [ADDED_MODEL] * len(ADDED)       # by index, once listed


def _add_row(instrument: Instrument, **fields) -> np.ndarray:
    """An ADD_INSTRUMENT row for ``instrument`` with some fields overwritten."""
    row = commands.add_instrument(instrument)
    for name, value in fields.items():
        row[name] = value
    return row


# What an ADD_INSTRUMENT row may carry: the candidates (likeliest), duplicates of the
# instruments there from the start, then definitions every engine refuses (and one valid
# symbol with every flag bit set).
ADD_ROWS = np.concatenate(
    [commands.add_instrument(ins) for ins in ADDED * 3]
    + [commands.add_instrument(ins) for ins in INSTRUMENTS]
    + [_add_row(Instrument("X"), order_id=0),                         # empty symbol
       _add_row(Instrument("X"), qty=0x42),                           # a byte after the first NUL
       _add_row(Instrument("X"), order_id=0xFF41),                    # not UTF-8
       _add_row(Instrument("X"), order_id=0x80E3),                    # a truncated UTF-8 sequence
       _add_row(Instrument("BADKIND"), order_type=3),
       _add_row(Instrument("BADREGION"), region=0),
       _add_row(Instrument("BADSTATUS"), status=max(InstrumentStatus) + 1),
       _add_row(Instrument("BADYEAR"), min_qty=2101),
       _add_row(Instrument("OLDYEAR"), min_qty=1999),
       _add_row(Instrument("WILDFLAGS"), flags=255)])
ACCOUNTS = 5
# SET_INSTRUMENT_PARAMETER values: each parameter's edges and values near the instruments' own
PARAMETER_VALUES = [-1, 0, 1, 5, 10, 50, 100, 200, 300, 500, 1000, 2000, 3000, 4800, 5000, 5300, 10_000,
                    10_001, 10**7 + 1, 10**8 + 1, 10**15 + 1]
LONG_ACCOUNTS = 8           # the long stream's accounts; all but the last are funded there
COMMAND_FIELDS = COMMAND_DTYPE.names
FEES = {1: (30, 50), 2: (0, 400), 3: (10, 10)}
ACCOUNT_COMMANDS = [CommandType.CREATE_ACCOUNT, CommandType.SET_ACCOUNT_STATUS, CommandType.DEPOSIT,
                    CommandType.WITHDRAW, CommandType.CREDIT_HOLDINGS, CommandType.DEBIT_HOLDINGS,
                    CommandType.SET_RETENTION_FLOOR, CommandType.SET_POSITION_LIMIT, CommandType.RELEASE_T1,
                    CommandType.SET_OBLIGATION]


def funded_accounts(n_accounts: int = ACCOUNTS - 1, cash: int = 2_000_000, units: int = 300) -> np.ndarray:
    """Create accounts 0..n-1 (leaving the rest unknown) with cash and units of each instrument."""
    rows = []
    for a in range(n_accounts):
        rows.append(commands.create_account(a, 100 + a, Region.SC if a % 2 else Region.CQ, 1 + a % 10))
        rows.append(commands.deposit(a, cash * (a + 1)))
        for n, ins in enumerate(INSTRUMENTS):
            rows.append(commands.credit_holdings(a, n, units // ins.lot * ins.lot * (a + 1)))
    return np.concatenate(rows)


def listed(k: int, n_accounts: int = 0, units: int = 300) -> np.ndarray | None:
    """List the first ``k`` of ADDED at indices 2, 3 ... (the first by its ADD_INSTRUMENT
    alone, the others by ``commands.instrument_commands``, as the gateway lists one; all
    keep the default parameters ADDED_MODEL stands for), and credit funded accounts 0..n-1
    with units of each."""
    rows = []
    for j, ins in enumerate(ADDED[:k]):
        n = len(INSTRUMENTS) + j
        rows.append(commands.add_instrument(ins) if j == 0 else commands.instrument_commands(n, ins))
        rows += [commands.credit_holdings(a, n, units * (a + 1)) for a in range(n_accounts)]
    return np.concatenate(rows) if rows else None


def _price(draw, instrument: int) -> int:
    ins = MODELS[instrument]
    low, high = ins.band
    span = (high - low) // 4
    choice = draw(st.integers(0, 19))
    if choice == 0:
        return draw(st.sampled_from([0, -ins.tick, low - ins.tick, high + ins.tick, 2**62]))
    if choice == 1:
        return draw(st.integers(low, high))                     # may be off tick
    mid = ins.reference_price // ins.tick * ins.tick
    return mid + ins.tick * draw(st.integers(-span // ins.tick // 4, span // ins.tick // 4))


def _qty(draw, instrument: int) -> int:
    ins = MODELS[instrument]
    choice = draw(st.integers(0, 19))
    if choice == 0:
        return draw(st.sampled_from([0, -ins.lot, ins.max_order_qty + ins.lot, 2**62, ins.lot + 1]))
    return ins.lot * draw(st.integers(1, 12))


@st.composite
def command(draw, max_order_id: int = 60) -> tuple:
    row = dict.fromkeys(COMMAND_FIELDS, 0)
    kind = draw(st.integers(0, 102))
    # mostly the instruments there from the start; now and then one a stream may have listed
    instrument = draw(st.sampled_from([0, 0, 0, 1, 1, 1, 2, 2, 3]))
    row["account"] = draw(st.integers(0, ACCOUNTS - 1))
    row["client_order_id"] = draw(st.integers(0, 1000))
    row["ts"] = draw(st.integers(0, 10**6))
    row["seq"] = draw(st.integers(0, 2**40))
    row["session"] = draw(st.integers(0, 3))
    if kind < 55:
        row["type"] = CommandType.NEW_ORDER
        row["instrument"] = instrument if draw(st.integers(0, 30)) else draw(st.sampled_from([-1, 7, 99]))
        row["side"] = draw(st.sampled_from([1, 2, 1, 2, 1, 2, 0, 3]))
        row["order_type"] = draw(st.sampled_from([1, 1, 1, 1, 2, 2, 0]))
        row["tif"] = draw(st.sampled_from([1, 1, 2, 3, 4, 0, 9]))
        row["stp"] = draw(st.sampled_from([0, 0, 0, 1, 2, 3, 4, 7]))
        row["price"] = _price(draw, instrument)
        row["qty"] = _qty(draw, instrument)
        if draw(st.integers(0, 40)) == 0:
            row["account"] = draw(st.sampled_from([-1, 100_000, 2**31 - 1]))
    elif kind < 88:
        row["type"] = draw(st.sampled_from([CommandType.CANCEL, CommandType.REDUCE, CommandType.REPLACE]))
        row["order_id"] = draw(st.integers(0, max_order_id))
        row["price"] = _price(draw, instrument)
        row["qty"] = _qty(draw, instrument) if draw(st.booleans()) else draw(st.integers(-1, 30))
    elif kind < 91:
        row["type"] = CommandType.SET_INSTRUMENT_STATUS
        row["instrument"] = instrument if draw(st.integers(0, 10)) else 7
        row["status"] = draw(st.sampled_from([1, 1, 1, 2, 0, 3, 5, 5, 5]))   # 5: a call auction
    elif kind < 92:
        row["type"] = CommandType.SET_ACCOUNT_STP
        row["stp"] = draw(st.sampled_from([1, 2, 3, 4, 0, 5]))
    elif kind < 93:
        row["type"] = CommandType.SET_FEE_REBATE
        row["status"] = draw(st.sampled_from([1, 1, 2, 3, 4, 0, 5]))       # the trade type
        row["value"] = draw(st.sampled_from([0, 1, 3, 5, 50, 1000, 1001, -1]))
        if draw(st.integers(0, 10)) == 0:
            row["account"] = draw(st.sampled_from([-1, 100_000]))
    elif kind < 94:
        row["type"] = CommandType.CANCEL_ALL
        row["instrument"] = draw(st.sampled_from([-1, -1, instrument, 7]))
        row["account"] = draw(st.sampled_from([-1, -1, row["account"], 99_999_999]))
        row["member"] = draw(st.sampled_from([-1, -1, 100, 101, 102, 7]))
    elif kind < 95:
        row["type"] = CommandType.SET_INSTRUMENT_PARAMETER
        row["instrument"] = instrument if draw(st.integers(0, 10)) else draw(st.sampled_from([-1, 7]))
        row["status"] = draw(st.sampled_from(list(range(14))))
        row["value"] = draw(st.sampled_from(PARAMETER_VALUES))
    elif kind < 97:
        row["type"] = draw(st.sampled_from([CommandType.EXPIRE_DAY_ORDERS, CommandType.END_OF_DAY,
                                            CommandType.SET_BLOCK_WINDOW, CommandType.SET_INSTRUMENT_STATUS]))
        row["instrument"] = instrument if draw(st.integers(0, 10)) else draw(st.sampled_from([-1, -3, 7]))
        row["status"] = draw(st.sampled_from([1, 1, 0, 2, 3, 4, 5, 9]))
    elif kind < 98:
        row["type"] = draw(st.sampled_from([CommandType.LIST_FIXED, CommandType.BLOCK_QUOTE,
                                            CommandType.TAKE_FIXED, CommandType.BLOCK_ACCEPT,
                                            CommandType.AUCTION_OPEN, CommandType.AUCTION_BID,
                                            CommandType.AUCTION_BID, CommandType.AUCTION_ELIGIBLE,
                                            CommandType.AUCTION_CLOSE]))
        row["value"] = draw(st.sampled_from([0, 0, MODELS[instrument].lot * 20]))
        row["client_order_id"] = draw(st.integers(-5, 5))
        row["instrument"] = instrument
        row["side"] = draw(st.sampled_from([1, 2, 0]))
        row["price"] = _price(draw, instrument)
        row["qty"] = min(_qty(draw, instrument) * draw(st.sampled_from([1, 1, 10])), 2**63 - 1)
        int32 = lambda x: max(-2**31, min(x, 2**31 - 1))          # noqa: E731 - the field is 32 bits
        row["min_qty"] = int32(draw(st.sampled_from([MODELS[instrument].lot, row["qty"], 0, row["qty"] + 1])))
        row["contra_account"] = draw(st.sampled_from([-1, -1, 0, 1, 2, 99, -7]))
        row["flags"] = draw(st.sampled_from([0, 2, 4, 8, 16, 16 | 32, 64, 64 | 4, 128]))
        row["order_id"] = draw(st.integers(0, max_order_id))
    elif kind < 99:
        row["type"] = draw(st.sampled_from([*ACCOUNT_COMMANDS, CommandType.SURRENDER, CommandType.FINE]))
        row["instrument"] = draw(st.sampled_from([instrument, instrument, -1, 5]))
        row["status"] = draw(st.sampled_from([1, 1, 2, 3, 0]))
        row["value"] = draw(st.sampled_from([0, -5, 1, 10_000, 5_000_000, 10**17]))
        row["qty"] = draw(st.sampled_from([0, -1, 10, 100, 1000, 10**12 + 1]))
        row["flags"] = draw(st.sampled_from([0, 0, 1]))
        row["region"] = draw(st.sampled_from([1, 2, 0]))
        row["sector"] = draw(st.sampled_from([1, 9, 0, 11]))
    elif kind < 100:
        row["type"] = draw(st.sampled_from([0, 5, 9, 13, 255]))
    else:
        add = ADD_ROWS[draw(st.integers(0, len(ADD_ROWS) - 1))]
        row.update({name: add[name].item() for name in COMMAND_FIELDS if name not in ("ts", "seq", "session")})
    return tuple(row[name] for name in COMMAND_FIELDS)


def to_array(rows) -> np.ndarray:
    out = np.zeros(len(rows), dtype=COMMAND_DTYPE)
    for i, row in enumerate(rows):
        out[i] = row
    return out


def numpy_stream(rng: np.random.Generator, n: int, live: list[tuple[int, int, int]],
                 listing: bool = False) -> np.ndarray:
    """A seeded batch of ``n`` mixed commands of every kind. Cancels, reduces and replaces
    mostly aim at ``live`` (order id, account, order type) triples with the owner's account;
    takes and accepts at live listings and quotes, mostly from other accounts.

    With ``listing``, one command in 500 is an ADD_INSTRUMENT (one of ADD_ROWS) and about a
    third aim at the instruments such commands list (indices 2 on, with the defaults);
    without it the stream is what it was before instruments could be listed."""
    out = np.zeros(n, dtype=COMMAND_DTYPE)
    if listing:     # the instruments there from the start, and those the stream may have listed
        instrument = rng.choice(len(MODELS), n, p=[0.35, 0.35, 0.12, 0.1, 0.04, 0.04])
    else:
        instrument = rng.integers(0, len(INSTRUMENTS), n)
    ticks = np.array([i.tick for i in MODELS])[instrument]
    lots = np.array([i.lot for i in MODELS])[instrument]
    refs = np.array([i.reference_price for i in MODELS])[instrument]
    block_min = np.array([i.block_min_qty for i in MODELS])[instrument]
    kind = rng.integers(0, 1000, n)
    bounds = [430, 560, 620, 780, 830, 880, 900, 920, 924, 950, 953, 958, 960, 968, 972, 974, 978, 979, 980, 992]
    kinds = [CommandType.NEW_ORDER, CommandType.CANCEL, CommandType.REDUCE, CommandType.REPLACE,
             CommandType.LIST_FIXED, CommandType.TAKE_FIXED, CommandType.BLOCK_QUOTE, CommandType.BLOCK_ACCEPT,
             CommandType.AUCTION_OPEN, CommandType.AUCTION_BID, CommandType.AUCTION_ELIGIBLE,
             CommandType.SET_ACCOUNT_STP, CommandType.EXPIRE_DAY_ORDERS, CommandType.SET_INSTRUMENT_STATUS,
             CommandType.SET_BLOCK_WINDOW, CommandType.END_OF_DAY, CommandType.AUCTION_CLOSE,
             CommandType.SET_INSTRUMENT_PARAMETER, CommandType.CANCEL_ALL,
             rng.choice(ACCOUNT_COMMANDS, n, p=[0.05, 0.05, 0.3, 0.05, 0.25, 0.05, 0.05, 0.05, 0.1, 0.05])]
    if listing:     # 980..982 of the account commands' share
        bounds.insert(-1, 982)
        kinds.insert(-1, CommandType.ADD_INSTRUMENT)
    out["type"] = np.select([kind < b for b in bounds], kinds, rng.choice([0, 5, 99]))

    def rare(values, common, p=0.02):
        return np.where(rng.random(n) < p, rng.choice(values, n), common)

    out["instrument"] = rare([-1, 7 if listing else 2, 1000], instrument, 0.005)
    out["account"] = rng.integers(0, LONG_ACCOUNTS, n)
    side = rng.integers(1, 3, n)
    out["side"] = rare([0, 3], side)
    out["order_type"] = rare([0, 9], np.where(rng.random(n) < 0.1, 2, 1))
    out["tif"] = rare([0, 5], rng.choice([1, 1, 1, 2, 2, 3, 4], n))
    out["stp"] = rare([5, 200], rng.choice([0] * 10 + [1, 2, 3, 4], n))
    # Mostly passive (buys below the reference, sells above) so that a book builds up.
    away = rng.integers(-8, 40, n) * np.where(side == 1, -1, 1)
    out["price"] = (refs // ticks + away) * ticks + (rng.random(n) < 0.01)
    out["qty"] = lots * rng.integers(1, 40, n) - (rng.random(n) < 0.01) * lots * 100
    is_block = (out["type"] == CommandType.BLOCK_QUOTE) | (out["type"] == CommandType.BLOCK_ACCEPT)
    out["qty"] = np.where(is_block, block_min * rng.integers(1, 4, n) - lots * (rng.random(n) < 0.1),
                          out["qty"])
    bounds_set = np.isin(out["type"], [CommandType.SET_POSITION_LIMIT, CommandType.SET_RETENTION_FLOOR,
                                       CommandType.SET_OBLIGATION])
    out["qty"] = np.where(bounds_set, rng.choice([0, 0, 200, 10**6], n), out["qty"])
    out["min_qty"] = lots * rng.integers(1, 6, n)
    out["contra_account"] = np.where(rng.random(n) < 0.6, -1, rng.integers(0, LONG_ACCOUNTS, n))
    out["status"] = np.where(out["type"] == CommandType.SET_BLOCK_WINDOW, rng.random(n) < 0.8,
                             rng.choice([1] * 16 + [2, 3, 4, 5, 5, 0], n))
    out["qty"] = np.where(out["type"] == CommandType.BLOCK_ACCEPT, block_min * rng.integers(1, 3, n), out["qty"])
    out["value"] = rng.choice([100_000, 1_000_000, 20_000_000, 0, -1], n)
    out["flags"] = np.where(is_block, 2 * (rng.random(n) < 0.5), rng.random(n) < 0.1)
    # parameter changes the book survives (a band around the reference, a nearby reference),
    # and now and then any value at all
    parameter = out["type"] == CommandType.SET_INSTRUMENT_PARAMETER
    which = rng.choice([3, 4, 5, 5, 6, 7, 8, 9, 10, 11, 12], n)
    sane = np.select([which == 3, which == 4, which == 5, which == 6, which == 7, which == 9, which == 10,
                      which == 11, which == 12],
                     [rng.choice([500, 2000], n), refs + ticks * rng.integers(-20, 21, n), rng.choice([300, 1000, 2000], n),
                      rng.choice([2000, 3000], n), block_min, rng.choice([0, 40, 300], n), rng.choice([0, 1, 3, 5], n),
                      rng.integers(0, 2, n), rng.choice([0, 500, 2000, 10000], n)], rng.choice([0, 100], n))
    wild = rng.random(n) < 0.1
    out["status"] = np.where(parameter, np.where(wild, rng.integers(0, 14, n), which), out["status"])
    out["value"] = np.where(parameter, np.where(wild, rng.choice(PARAMETER_VALUES, n), sane), out["value"])
    # half the holdings debits and T+1 releases surrender units instead, against an allowance's obligation
    surrender = np.isin(out["type"], [CommandType.DEBIT_HOLDINGS, CommandType.RELEASE_T1]) & (rng.random(n) < 0.5)
    out["type"] = np.where(surrender, CommandType.SURRENDER, out["type"])
    out["value"] = np.where(surrender, rare([-1, 5], rng.integers(0, len(INSTRUMENTS), n), 0.05), out["value"])
    # half the withdrawals are fines instead (amount 0: collecting what is owed; small ones: a
    # stream whose accounts are fined broke stops trading)
    fined = (out["type"] == CommandType.WITHDRAW) & (rng.random(n) < 0.5)
    out["type"] = np.where(fined, CommandType.FINE, out["type"])
    out["status"] = np.where(fined, rare([0, 9], rng.integers(1, 5, n), 0.05), out["status"])
    out["value"] = np.where(fined, rare([-1, 10**18], rng.choice([0, 100, 5_000, 50_000], n), 0.05), out["value"])
    out["order_id"] = np.where(fined, rng.integers(0, 10**6, n), out["order_id"])
    # half the STP rows set a fee rebate instead: within the fees, past them, now and then out of range
    rebate = (out["type"] == CommandType.SET_ACCOUNT_STP) & (rng.random(n) < 0.5)
    out["type"] = np.where(rebate, CommandType.SET_FEE_REBATE, out["type"])
    out["status"] = np.where(rebate, rng.choice([1, 1, 2, 3, 4, 0, 5], n), out["status"])
    out["value"] = np.where(rebate, rng.choice([0, 1, 3, 5, 50, 1000, 1001, -1], n), out["value"])
    mass = out["type"] == CommandType.CANCEL_ALL
    out["instrument"] = np.where(mass & (rng.random(n) < 0.5), -1, out["instrument"])
    out["account"] = np.where(mass & (rng.random(n) < 0.5), -1, out["account"])
    out["member"] = np.where(mass, np.where(rng.random(n) < 0.5, 100 + rng.integers(0, LONG_ACCOUNTS, n), -1),
                             out["member"])
    out["region"] = rng.integers(0, 3, n)
    out["sector"] = rng.integers(0, 12, n)
    out["ts"] = np.cumsum(rng.integers(0, 1000, n)) - rng.integers(0, 50, n)
    out["seq"] = np.arange(n)
    out["client_order_id"] = rng.integers(0, 2**40, n)
    opening = out["type"] == CommandType.AUCTION_OPEN
    out["qty"] = np.where(opening, lots * rng.integers(20, 120, n), out["qty"])
    out["value"] = np.where(opening, rng.choice([0, 0, 400], n) * lots, out["value"])
    out["contra_account"] = np.where(opening, rng.choice([0, 0, 200, 1000], n), out["contra_account"])
    out["flags"] = np.where(opening, rng.choice([0, 4, 8, 16, 16 | 32, 64, 68, 128 | 16], n), out["flags"])
    if live:
        pick = np.array(live)[rng.integers(0, len(live), n)]
        aimed = rng.random(n) < 0.9
        out["order_id"] = np.where(aimed, pick[:, 0], rng.integers(0, 10**6, n))
        out["account"] = np.where(aimed & (rng.random(n) < 0.95), pick[:, 1], out["account"])
        # listings, quotes and (taker-select) limit orders
        posted = np.array([(o, a, t) for o, a, t in live if t in (1, 3, 5)] or [(0, 0, 0)])
        takes = (out["type"] == CommandType.TAKE_FIXED) | (out["type"] == CommandType.BLOCK_ACCEPT)
        target = posted[rng.integers(0, len(posted), n)]
        out["order_id"] = np.where(takes, target[:, 0], out["order_id"])
        out["account"] = np.where(takes, (target[:, 1] + rng.integers(0, 4, n)) % LONG_ACCOUNTS, out["account"])
        # a take of a limit order (taker-select): a few lots of any instrument (the lots divide 10)
        out["qty"] = np.where(takes & (target[:, 2] == 1), 10 * rng.integers(1, 4, n), out["qty"])
        lots_open = np.array([(o, a, t) for o, a, t in live if t == 8] or [(0, 0, 0)])
        bidding = (out["type"] == CommandType.AUCTION_BID) | (out["type"] == CommandType.AUCTION_ELIGIBLE)
        out["order_id"] = np.where(bidding, lots_open[rng.integers(0, len(lots_open), n)][:, 0], out["order_id"])
    # last: an ADD_INSTRUMENT row is one of ADD_ROWS whole (its symbol fills order_id .. qty)
    adding = out["type"] == CommandType.ADD_INSTRUMENT
    if listing and adding.any():
        adds = ADD_ROWS[rng.integers(0, len(ADD_ROWS), n)]
        for name in COMMAND_FIELDS:
            if name not in ("ts", "seq"):
                out[name] = np.where(adding, adds[name], out[name])
    return out
