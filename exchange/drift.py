"""The market configuration against the state a start recovered: what differs, and the
journaled commands that apply it.

History is judged by the rules in force when it happened. The first start journals the
configuration's start-of-day settings as commands (:func:`genesis`): every instrument
parameter, every account with its opening cash and holdings. Later starts never re-read
those settings into the engine: the recovered state (snapshot + journal, or the journal
alone) is the market, and a configuration that differs from it is refused, naming each
differing key (:class:`ConfigDrift`), unless the operator asks for the difference to be
applied (``chuanyu engine --apply-config``): then the commands :func:`drift` returns are
journaled, so replay and standbys see the change at the point it was made.

Compared: each instrument's symbol (in order; new ones may follow the recovered ones and are
listed by --apply-config) and trading parameters, the market-wide
engine settings, and each configured account's existence, member, region, sector, STP mode,
retention floors, position limits and obligations, and the market makers' fee rebates.
Not compared: ``reference_price`` and an account's ``cash`` and ``holdings`` are opening
values, applied when the instrument or account enters the market; afterwards the closes
move the reference and trading and operator commands move the balances.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

from matching import InstrumentParameter, StpMode, TradeType, commands
from matching.money import fee_table

__all__ = ["Difference", "ConfigDrift", "drift", "genesis"]

# Instrument fields no command changes: a difference cannot be applied
_FIXED_FIELDS = ("kind", "region", "year", "t_plus_one", "must_take_best", "listings_expire")
_ACCOUNT_FIELDS = ("member", "region", "sector")


class Difference(NamedTuple):
    key: str                         # as the configuration names it: instruments[SCEA2026].band_bps
    config: object
    state: object
    rows: np.ndarray | None          # the commands that apply it; None: no command can


class ConfigDrift(Exception):
    """The configuration differs from the recovered market."""

    def __init__(self, differences: list[Difference]) -> None:
        self.differences = differences
        lines = [f"  {d.key}: configuration {d.config!r}, market {d.state!r}"
                 + ("" if d.rows is not None else " (no command changes it)") for d in differences]
        fixable = all(d.rows is not None for d in differences)
        advice = ("start with --apply-config to apply the configuration as journaled commands, or change "
                  "the configuration back" if fixable else
                  "change the configuration back: not every difference can be applied to a running market")
        super().__init__("the configuration differs from the market recovered from the state dir:\n"
                         + "\n".join(lines) + f"\n{advice}")


def _instrument_rows(n: int, values: dict) -> np.ndarray | None:
    rows = [commands.set_instrument_parameter(n, p, values[p]) for p in commands.PARAMETER_ORDER if p in values]
    return np.concatenate(rows) if rows else None


# accounts[].NAME.<SYMBOL> -> (the command that sets it, the engine's holding field)
_BOUNDS = {"retention_floor": (commands.set_retention_floor, "floor"),
           "position_limit": (commands.set_position_limit, "limit"),
           "obligation": (commands.set_obligation, "obligation")}


def _account_rows(config, a) -> np.ndarray:
    rows = [commands.create_account(a.id, a.member, a.region, a.sector)]
    if a.cash:
        rows.append(commands.deposit(a.id, a.cash))
    for symbol, qty in a.holdings.items():
        if qty:
            rows.append(commands.credit_holdings(a.id, config.instrument_index(symbol), qty))
    if a.stp is not None:
        rows.append(commands.set_account_stp(a.id, a.stp))
    for name, (build, _) in _BOUNDS.items():
        for symbol, qty in getattr(a, name).items():
            if qty:
                rows.append(build(a.id, config.instrument_index(symbol), qty))
    return np.concatenate(rows)


def _account_drift(config, a, view: dict, stp: int, market_stp: int, surrendered: dict) -> list[Difference]:
    """A configured account that exists: its fixed fields, STP mode (``stp``; without one
    configured, the market's default ``market_stp``), floors, limits, obligations (those
    met by surrenders, ``surrendered``: ``{symbol: (units, cers)}``, count as they were)."""
    out = [Difference(f"accounts[{a.id}].{f}", int(getattr(a, f)), view[f], None)
           for f in _ACCOUNT_FIELDS if int(getattr(a, f)) != view[f]]
    want_stp = market_stp if a.stp is None else a.stp
    if int(want_stp) != stp:
        out.append(Difference(f"accounts[{a.id}].stp", StpMode(int(want_stp)).name, StpMode(stp).name,
                              commands.set_account_stp(a.id, int(want_stp))))
    for name, (build, field) in _BOUNDS.items():
        configured = getattr(a, name)
        for n, ins in enumerate(config.instruments):
            held = view["holdings"].get(ins.symbol)       # None: an instrument listed by this same change
            want, have = configured.get(ins.symbol, 0), 0 if held is None else held[field]
            # an obligation is met by surrenders: what is left of it plus what was surrendered
            done = surrendered.get(ins.symbol, (0, 0))[0] if name == "obligation" else 0
            if want != have + done:
                out.append(Difference(f"accounts[{a.id}].{name}.{ins.symbol}", want, have + done,
                                      build(a.id, n, max(0, want - done))))
    return out


def _rebates(config) -> dict:
    """{(account, trade type): bps} the configuration's market makers are given."""
    return {(m.account, t): bps for m in config.market_makers for t, bps in m.rebate_bps.items()}


def genesis(config) -> np.ndarray:
    """The first start's commands: every instrument listed with its parameters, then the
    accounts, then the market makers' fee rebates. The daemon's engine starts with no
    instrument, so a replay of the journal rebuilds the market whatever today's
    configuration says."""
    rows = [commands.instrument_commands(n, ins) for n, ins in enumerate(config.instruments)]
    rows.extend(_account_rows(config, a) for a in config.accounts)
    rows.extend(commands.set_fee_rebate(a, t, bps) for (a, t), bps in sorted(_rebates(config).items()))
    return np.concatenate(rows)


def _rebate_drift(config, meta: dict) -> list[Difference]:
    """Fee rebates the market gives that the configuration's market makers do not, or the other way."""
    want = _rebates(config)
    have = {(a, t): bps for a, t, bps in meta.get("fee_rebates", [])}
    return [Difference(f"market_makers[{a}].rebate_bps.{TradeType(t).name.lower()}", want.get((a, t), 0),
                       have.get((a, t), 0), commands.set_fee_rebate(a, t, want.get((a, t), 0)))
            for a, t in sorted(set(want) | set(have)) if want.get((a, t), 0) != have.get((a, t), 0)]


def drift(config, engine) -> list[Difference]:
    """Every way ``config`` differs from the market ``engine`` holds, in configuration order."""
    out: list[Difference] = []
    meta = engine.export_meta()
    for key, want, have in (("market.max_accounts", config.max_accounts, meta["max_accounts"]),
                            ("market.default_stp", int(config.default_stp), meta["default_stp"]),
                            ("market.risk", bool(config.risk), meta["risk"]),
                            ("market.fees", [list(f) for f in fee_table(config.fees)], meta["fees"])):
        if want != have:
            out.append(Difference(key, want, have, None))
    have_instruments = engine.instruments
    want_symbols = [i.symbol for i in config.instruments]
    have_symbols = [i.symbol for i in have_instruments]
    if want_symbols[:len(have_symbols)] != have_symbols:
        # an instrument is named by its index on the wire: only new ones at the end can be added
        out.append(Difference("instruments", want_symbols, have_symbols, None))
        return out
    for n, (want, have) in enumerate(zip(config.instruments, have_instruments)):
        name = f"instruments[{want.symbol}]"
        for field in _FIXED_FIELDS:
            if getattr(want, field) != getattr(have, field):
                out.append(Difference(f"{name}.{field}", getattr(want, field), getattr(have, field), None))
        for p in commands.PARAMETER_ORDER:
            field = commands.PARAMETER_FIELDS[p]
            if p != InstrumentParameter.REFERENCE_PRICE and getattr(want, field) != getattr(have, field):
                out.append(Difference(f"{name}.{field}", getattr(want, field), getattr(have, field),
                                      _instrument_rows(n, {p: getattr(want, field)})))
    for n in range(len(have_symbols), len(want_symbols)):          # a new vintage, listed at the end
        ins = config.instruments[n]
        out.append(Difference(f"instruments[{ins.symbol}]", "configured", "absent",
                              commands.instrument_commands(n, ins)))
    account_stp = dict(map(tuple, meta["account_stp"]))       # only the accounts off the market default
    for a in config.accounts:
        view = engine.account(a.id)
        if view is None:
            out.append(Difference(f"accounts[{a.id}]", "configured", "absent", _account_rows(config, a)))
        else:
            out.extend(_account_drift(config, a, view, account_stp.get(a.id, meta["default_stp"]),
                                      meta["default_stp"], engine.surrendered(a.id)))
    out.extend(_rebate_drift(config, meta))
    return out
