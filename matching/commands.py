"""Builders for one-row command arrays: the single place that knows which command field
carries which argument. Engines, the gateway, tests and tools build commands here.

>>> from matching import commands, CommandType
>>> row = commands.deposit(account=7, amount=1_000_000)
>>> int(row["type"][0]) == CommandType.DEPOSIT, int(row["value"][0])
(True, 1000000)
"""
from __future__ import annotations

import numpy as np

from .codes import CommandType, InstrumentParameter, OrderType, StpMode, TimeInForce
from .dtypes import COMMAND_DTYPE
from .instrument import decode_symbol, encode_symbol

__all__ = [
    "command", "new_order", "cancel", "reduce", "replace", "set_instrument_status",
    "set_account_stp", "set_fee_rebate", "surrender", "fine", "expire_day_orders", "create_account", "set_account_status", "deposit",
    "withdraw", "credit_holdings", "debit_holdings", "set_retention_floor", "set_position_limit",
    "release_t1", "list_fixed", "take_fixed", "block_quote", "block_accept", "set_block_window",
    "end_of_day", "auction_open", "auction_bid", "auction_eligible", "auction_close",
    "ALL_INSTRUMENTS", "PUBLIC", "FLAG_NON_TRADABLE", "FLAG_PARTIAL", "FLAG_PAY_AS_BID",
    "FLAG_FAIL_UNDERSUBSCRIBED", "FLAG_PRIMARY", "FLAG_COMPLIANCE_ONLY", "FLAG_RANDOM_TIES",
    "FLAG_CAP_SHORTFALL", "set_obligation",
    "add_instrument", "instrument_commands", "instrument_parameters", "command_symbol", "SYMBOL_FIELDS",
    "PARAMETER_FIELDS", "PARAMETER_ORDER", "FLAG_T_PLUS_ONE", "FLAG_MUST_TAKE_BEST", "FLAG_LISTINGS_EXPIRE",
]

ALL_INSTRUMENTS = -1      # release_t1, end_of_day: every instrument
PUBLIC = -1               # block_quote: open to every account
FLAG_NON_TRADABLE = 1     # credit / debit holdings
FLAG_PARTIAL = 2          # block quote: partial acceptance allowed
FLAG_PAY_AS_BID = 4       # auction: each winner pays its own price (default: uniform)
FLAG_FAIL_UNDERSUBSCRIBED = 8    # auction: fail when bids fall short (default: fill them)
FLAG_PRIMARY = 16         # auction: the issuer sells allowances it creates
FLAG_COMPLIANCE_ONLY = 32  # auction: units won are non-tradable (for compliance only)
FLAG_RANDOM_TIES = 64     # auction: equal prices ranked by a seeded draw, not by time
FLAG_CAP_SHORTFALL = 128  # auction: a bidder's bids add up to at most its compliance shortfall
FLAG_T_PLUS_ONE = 1       # add instrument: units bought today are sellable from the next day
FLAG_MUST_TAKE_BEST = 2   # add instrument: only the best-priced listing may be taken
FLAG_LISTINGS_EXPIRE = 4  # add instrument: fixed-price listings expire at the end of the day

# ADD_INSTRUMENT: the int64 fields that carry the symbol's 32 bytes, 8 each, little-endian
SYMBOL_FIELDS = ("order_id", "client_order_id", "price", "qty")
# InstrumentParameter -> the Instrument field it sets
PARAMETER_FIELDS = {
    InstrumentParameter.TICK: "tick",
    InstrumentParameter.LOT: "lot",
    InstrumentParameter.MAX_ORDER_QTY: "max_order_qty",
    InstrumentParameter.REFERENCE_PRICE: "reference_price",
    InstrumentParameter.BAND_BPS: "band_bps",
    InstrumentParameter.BLOCK_BAND_BPS: "block_band_bps",
    InstrumentParameter.BLOCK_MIN_QTY: "block_min_qty",
    InstrumentParameter.MIN_CLOSE_VOLUME: "min_close_volume",
    InstrumentParameter.DYNAMIC_BAND_BPS: "dynamic_band_bps",
    InstrumentParameter.SELECT_DEPTH: "select_depth",
    InstrumentParameter.SELECT_FIFO: "select_fifo",
    InstrumentParameter.CER_CAP_BPS: "cer_cap_bps",
}
# The order parameters are set in: the tick last, once the reference and the band it rounds
# are in place (every SET_INSTRUMENT_PARAMETER must leave a band that holds a price)
PARAMETER_ORDER = (InstrumentParameter.REFERENCE_PRICE, InstrumentParameter.BAND_BPS,
                   InstrumentParameter.BLOCK_BAND_BPS, InstrumentParameter.LOT, InstrumentParameter.MAX_ORDER_QTY,
                   InstrumentParameter.BLOCK_MIN_QTY, InstrumentParameter.MIN_CLOSE_VOLUME,
                   InstrumentParameter.DYNAMIC_BAND_BPS, InstrumentParameter.SELECT_DEPTH,
                   InstrumentParameter.SELECT_FIFO, InstrumentParameter.CER_CAP_BPS, InstrumentParameter.TICK)


def command(type: int, **fields) -> np.ndarray:
    """One command of ``type`` with the given fields; the others are zero."""
    row = np.zeros(1, dtype=COMMAND_DTYPE)
    row["type"] = type
    for name, value in fields.items():
        row[name] = value
    return row


def new_order(instrument: int, account: int, side: int, qty: int, price: int = 0,
              order_type: int = OrderType.LIMIT, tif: int = TimeInForce.GTC,
              stp: int = StpMode.ACCOUNT_DEFAULT, client_order_id: int = 0, ts: int = 0,
              seq: int = 0) -> np.ndarray:
    return command(CommandType.NEW_ORDER, instrument=instrument, account=account, side=side, qty=qty,
                   price=price, order_type=order_type, tif=tif, stp=stp,
                   client_order_id=client_order_id, ts=ts, seq=seq)


def cancel(order_id: int, account: int, ts: int = 0, seq: int = 0) -> np.ndarray:
    return command(CommandType.CANCEL, order_id=order_id, account=account, ts=ts, seq=seq)


def reduce(order_id: int, account: int, qty: int, ts: int = 0, seq: int = 0) -> np.ndarray:
    return command(CommandType.REDUCE, order_id=order_id, account=account, qty=qty, ts=ts, seq=seq)


def replace(order_id: int, account: int, price: int, qty: int, ts: int = 0, seq: int = 0) -> np.ndarray:
    return command(CommandType.REPLACE, order_id=order_id, account=account, price=price, qty=qty,
                   ts=ts, seq=seq)


def set_instrument_status(instrument: int, status: int, ts: int = 0, seq: int = 0) -> np.ndarray:
    return command(CommandType.SET_INSTRUMENT_STATUS, instrument=instrument, status=status, ts=ts, seq=seq)


def set_instrument_parameter(instrument: int, parameter: int, value: int, ts: int = 0,
                             seq: int = 0) -> np.ndarray:
    """Change one of an instrument's trading parameters (``InstrumentParameter``)."""
    return command(CommandType.SET_INSTRUMENT_PARAMETER, instrument=instrument, status=parameter, value=value,
                   ts=ts, seq=seq)


def cancel_all(instrument: int = ALL_INSTRUMENTS, account: int = -1, member: int = -1, ts: int = 0,
               seq: int = 0) -> np.ndarray:
    """Cancel the resting orders, listings and block quotes (not auction bids) of one
    instrument or all, of one account or any, of one member's accounts or any."""
    return command(CommandType.CANCEL_ALL, instrument=instrument, account=account, member=member, ts=ts, seq=seq)


def set_account_stp(account: int, mode: int, ts: int = 0, seq: int = 0) -> np.ndarray:
    return command(CommandType.SET_ACCOUNT_STP, account=account, stp=mode, ts=ts, seq=seq)


def set_fee_rebate(account: int, trade_type: int, bps: int, ts: int = 0, seq: int = 0) -> np.ndarray:
    """``account`` pays ``bps`` less than the market's fee on trades of ``trade_type``."""
    return command(CommandType.SET_FEE_REBATE, account=account, status=trade_type, value=bps, ts=ts, seq=seq)


def surrender(account: int, instrument: int, qty: int, obligation: int | None = None, ts: int = 0,
              seq: int = 0) -> np.ndarray:
    """Retire ``qty`` units of ``instrument`` against the account's obligation in the allowance
    ``obligation`` (default: ``instrument`` itself; CERs name the allowance they offset)."""
    return command(CommandType.SURRENDER, account=account, instrument=instrument, qty=qty,
                   value=instrument if obligation is None else obligation, ts=ts, seq=seq)


def fine(account: int, amount: int, reason: int, case: int = 0, ts: int = 0, seq: int = 0) -> np.ndarray:
    """Fine ``account`` ``amount`` fen for ``reason`` (a FineReason) in the regulator's case
    ``case``; an amount of 0 collects what the account owes, as far as its cash allows."""
    return command(CommandType.FINE, account=account, value=amount, status=reason, order_id=case, ts=ts, seq=seq)


def expire_day_orders(instrument: int, ts: int = 0, seq: int = 0) -> np.ndarray:
    return command(CommandType.EXPIRE_DAY_ORDERS, instrument=instrument, ts=ts, seq=seq)


def create_account(account: int, member: int, region: int, sector: int, ts: int = 0,
                   seq: int = 0) -> np.ndarray:
    return command(CommandType.CREATE_ACCOUNT, account=account, member=member, region=region,
                   sector=sector, ts=ts, seq=seq)


def set_account_status(account: int, status: int, ts: int = 0, seq: int = 0) -> np.ndarray:
    return command(CommandType.SET_ACCOUNT_STATUS, account=account, status=status, ts=ts, seq=seq)


def deposit(account: int, amount: int, ts: int = 0, seq: int = 0) -> np.ndarray:
    return command(CommandType.DEPOSIT, account=account, value=amount, ts=ts, seq=seq)


def withdraw(account: int, amount: int, ts: int = 0, seq: int = 0) -> np.ndarray:
    return command(CommandType.WITHDRAW, account=account, value=amount, ts=ts, seq=seq)


def credit_holdings(account: int, instrument: int, qty: int, non_tradable: bool = False,
                    ts: int = 0, seq: int = 0) -> np.ndarray:
    return command(CommandType.CREDIT_HOLDINGS, account=account, instrument=instrument, qty=qty,
                   flags=FLAG_NON_TRADABLE if non_tradable else 0, ts=ts, seq=seq)


def debit_holdings(account: int, instrument: int, qty: int, non_tradable: bool = False,
                   ts: int = 0, seq: int = 0) -> np.ndarray:
    return command(CommandType.DEBIT_HOLDINGS, account=account, instrument=instrument, qty=qty,
                   flags=FLAG_NON_TRADABLE if non_tradable else 0, ts=ts, seq=seq)


def set_retention_floor(account: int, instrument: int, qty: int, ts: int = 0, seq: int = 0) -> np.ndarray:
    return command(CommandType.SET_RETENTION_FLOOR, account=account, instrument=instrument, qty=qty,
                   ts=ts, seq=seq)


def set_position_limit(account: int, instrument: int, qty: int, ts: int = 0, seq: int = 0) -> np.ndarray:
    """Cap what ``account`` may hold plus buy of ``instrument``; 0 removes the cap."""
    return command(CommandType.SET_POSITION_LIMIT, account=account, instrument=instrument, qty=qty,
                   ts=ts, seq=seq)


def set_obligation(account: int, instrument: int, qty: int, ts: int = 0, seq: int = 0) -> np.ndarray:
    """Record the units ``account`` must surrender; what it lacks is its shortfall."""
    return command(CommandType.SET_OBLIGATION, account=account, instrument=instrument, qty=qty,
                   ts=ts, seq=seq)


def release_t1(instrument: int = ALL_INSTRUMENTS, ts: int = 0, seq: int = 0) -> np.ndarray:
    return command(CommandType.RELEASE_T1, instrument=instrument, ts=ts, seq=seq)


def list_fixed(instrument: int, account: int, side: int, qty: int, price: int, min_qty: int,
               client_order_id: int = 0, ts: int = 0, seq: int = 0) -> np.ndarray:
    """Post a fixed-price listing; counterparties take at least ``min_qty`` (or all that is left)."""
    return command(CommandType.LIST_FIXED, instrument=instrument, account=account, side=side, qty=qty,
                   price=price, min_qty=min_qty, client_order_id=client_order_id, ts=ts, seq=seq)


def take_fixed(order_id: int, account: int, qty: int, client_order_id: int = 0, ts: int = 0,
               seq: int = 0) -> np.ndarray:
    """Take ``qty`` of the listing ``order_id`` at its price."""
    return command(CommandType.TAKE_FIXED, order_id=order_id, account=account, qty=qty,
                   client_order_id=client_order_id, ts=ts, seq=seq)


def block_quote(instrument: int, account: int, side: int, qty: int, price: int,
                contra_account: int = PUBLIC, partial: bool = False, client_order_id: int = 0,
                ts: int = 0, seq: int = 0) -> np.ndarray:
    """Quote a block trade to one account (``contra_account``) or to all (``PUBLIC``)."""
    return command(CommandType.BLOCK_QUOTE, instrument=instrument, account=account, side=side, qty=qty,
                   price=price, contra_account=contra_account, flags=FLAG_PARTIAL if partial else 0,
                   client_order_id=client_order_id, ts=ts, seq=seq)


def block_accept(order_id: int, account: int, qty: int, client_order_id: int = 0, ts: int = 0,
                 seq: int = 0) -> np.ndarray:
    """Accept ``qty`` of the block quote ``order_id`` at its price."""
    return command(CommandType.BLOCK_ACCEPT, order_id=order_id, account=account, qty=qty,
                   client_order_id=client_order_id, ts=ts, seq=seq)


def set_block_window(instrument: int, open: bool, ts: int = 0, seq: int = 0) -> np.ndarray:
    """Open or close an instrument's block window; closing it expires its block quotes."""
    return command(CommandType.SET_BLOCK_WINDOW, instrument=instrument, status=int(open), ts=ts, seq=seq)


def end_of_day(instrument: int = ALL_INSTRUMENTS, ts: int = 0, seq: int = 0, trading_date: int = 0) -> np.ndarray:
    """Close the day: statistics, the new reference price, expiries and the T+1 release.
    ``trading_date`` (YYYYMMDD, 0: none) names the day closed; DAILY_STATS carries it."""
    return command(CommandType.END_OF_DAY, instrument=instrument, ts=ts, seq=seq, value=trading_date)


def auction_open(instrument: int, account: int, side: int, volume: int, reserve: int, min_bid: int,
                 bidder_cap: int = 0, flags: int = 0, cancel_below_bps: int = 0, seed: int = 0,
                 ts: int = 0, seq: int = 0) -> np.ndarray:
    """Open a sealed-bid auction of ``volume`` on ``instrument`` by ``account``.

    ``side`` is the initiator's: SELL offers the lot to bidders (bids at or above
    ``reserve``), BUY asks for it (offers at or below ``reserve``). Each bid is at least
    ``min_bid``; one account's bids add up to at most ``bidder_cap`` (0: no cap) and, with
    FLAG_CAP_SHORTFALL, to at most its compliance shortfall. ``flags`` combine
    FLAG_PAY_AS_BID, FLAG_FAIL_UNDERSUBSCRIBED, FLAG_PRIMARY, FLAG_COMPLIANCE_ONLY,
    FLAG_RANDOM_TIES (ranked by ``seed``) and FLAG_CAP_SHORTFALL. A primary auction is cancelled when its
    clearing price is more than ``cancel_below_bps`` below the reference (0: never).
    Fields: qty = volume, price = reserve, min_qty = min_bid, value = bidder_cap,
    contra_account = cancel_below_bps, client_order_id = seed.
    """
    return command(CommandType.AUCTION_OPEN, instrument=instrument, account=account, side=side,
                   qty=volume, price=reserve, min_qty=min_bid, value=bidder_cap, flags=flags,
                   contra_account=cancel_below_bps, client_order_id=seed, ts=ts, seq=seq)


def auction_bid(auction_id: int, account: int, qty: int, price: int, client_order_id: int = 0,
                ts: int = 0, seq: int = 0) -> np.ndarray:
    """A sealed, irrevocable bid (or offer, in a buying auction) in auction ``auction_id``."""
    return command(CommandType.AUCTION_BID, order_id=auction_id, account=account, qty=qty, price=price,
                   client_order_id=client_order_id, ts=ts, seq=seq)


def auction_eligible(auction_id: int, account: int, ts: int = 0, seq: int = 0) -> np.ndarray:
    """Admit ``account`` to bid; once any account is admitted, only admitted ones may bid."""
    return command(CommandType.AUCTION_ELIGIBLE, order_id=auction_id, account=account, ts=ts, seq=seq)


def auction_close(instrument: int, ts: int = 0, seq: int = 0) -> np.ndarray:
    """Clear the instrument's open auction."""
    return command(CommandType.AUCTION_CLOSE, instrument=instrument, ts=ts, seq=seq)


def add_instrument(instrument, ts: int = 0, seq: int = 0) -> np.ndarray:
    """List ``instrument`` (an ``Instrument``) at the next index, with the default trading
    parameters (give it its own with :func:`instrument_parameters`, or build both with
    :func:`instrument_commands`).

    Fields: the symbol's UTF-8 bytes, NUL-padded to 32, little-endian over order_id
    (bytes 0-7), client_order_id (8-15), price (16-23) and qty (24-31); order_type = kind;
    region; min_qty = year; status = the initial InstrumentStatus; flags = FLAG_T_PLUS_ONE |
    FLAG_MUST_TAKE_BEST | FLAG_LISTINGS_EXPIRE as they apply.

    >>> from matching import Instrument
    >>> row = add_instrument(Instrument("SCEA2027", year=2027))
    >>> int(row["order_id"][0]).to_bytes(8, "little"), int(row["min_qty"][0]), int(row["flags"][0])
    (b'SCEA2027', 2027, 7)
    """
    raw = encode_symbol(instrument.symbol)
    words = {name: int.from_bytes(raw[8 * k:8 * k + 8], "little", signed=True)
             for k, name in enumerate(SYMBOL_FIELDS)}
    flags = ((FLAG_T_PLUS_ONE if instrument.t_plus_one else 0) | (FLAG_MUST_TAKE_BEST if instrument.must_take_best else 0)
             | (FLAG_LISTINGS_EXPIRE if instrument.listings_expire else 0))
    return command(CommandType.ADD_INSTRUMENT, order_type=int(instrument.kind), region=int(instrument.region),
                   min_qty=instrument.year, status=int(instrument.status), flags=flags, ts=ts, seq=seq, **words)


def command_symbol(row) -> str | None:
    """The symbol an ADD_INSTRUMENT command carries (a one-row array, a record or a dict of
    its fields), or None when its 32 bytes hold no valid symbol."""
    if isinstance(row, np.ndarray):
        row = row[0]
    raw = b"".join((int(row[name]) & (2**64 - 1)).to_bytes(8, "little") for name in SYMBOL_FIELDS)
    return decode_symbol(raw)


def instrument_parameters(n: int, instrument) -> np.ndarray:
    """SET_INSTRUMENT_PARAMETER rows that give instrument index ``n`` every trading
    parameter of ``instrument``, whatever parameters it has now.

    The tick goes to 1 first (unless ``instrument``'s tick is 1: with a tick of 1 any
    reference and band hold a price) and to its own value last (``PARAMETER_ORDER``), so
    every step leaves a band that holds a price.
    """
    rows = []
    if instrument.tick != 1:
        rows.append(set_instrument_parameter(n, InstrumentParameter.TICK, 1))
    rows += [set_instrument_parameter(n, p, getattr(instrument, PARAMETER_FIELDS[p])) for p in PARAMETER_ORDER]
    return np.concatenate(rows)


def instrument_commands(n: int, instrument) -> np.ndarray:
    """The commands that list ``instrument`` as instrument ``n`` (the engine's instrument
    count before them): its ADD_INSTRUMENT row, then :func:`instrument_parameters`."""
    return np.concatenate([add_instrument(instrument), instrument_parameters(n, instrument)])
