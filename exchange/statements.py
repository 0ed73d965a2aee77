"""Member statements: per member and trading date, each account's trades, fees, fines, cash
and holdings movements and its opening and closing balances, reconciled to the engine.

:func:`statements` replays a state dir's journal (:func:`exchange.recovery.replay_events`)
and files every event that moves an account's cash or units under its trading date (China
Standard Time):

- cash: ``deposits`` and ``withdrawals`` (BALANCE), ``bought`` and ``sold`` (trades' notional),
  ``fees`` (each side's fee on its trades), ``fines`` (paid);
- units, per instrument: ``bought`` and ``sold``, ``credited`` and ``debited`` (BALANCE of a
  CREDIT_HOLDINGS or DEBIT_HOLDINGS), ``surrendered`` (retired for compliance), ``created``
  (what an issuer's primary auction created and sold: the auctions opened with the primary
  flag, read from the journal's commands).

A date's closing balances are read from the engine once its last batch is applied (cash:
available + frozen; units: available + frozen + locked + non-tradable), and the next date
opens with them. ``unexplained`` is closing - opening - the movements: zero but where a
journal record spans midnight (its events fall on two dates, its balances on the later one). The reconciliation is not assumed:
every statement carries it, and the tests hold it to the fen and the tonne.
"""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import numpy as np

from matching import CommandType, EventKind, Side, TradeType, commands

from .recovery import replay_events

__all__ = ["statements", "CASH_ITEMS", "UNIT_ITEMS"]

CST = timezone(timedelta(hours=8))
CASH_ITEMS = ("deposits", "withdrawals", "bought", "sold", "fees", "fines")
UNIT_ITEMS = ("bought", "sold", "credited", "debited", "surrendered", "created")
_TRADE, _BALANCE = int(EventKind.TRADE), int(EventKind.BALANCE)
_SURRENDERED, _FINED = int(EventKind.SURRENDERED), int(EventKind.FINED)
_UNIT_COMMANDS = (int(CommandType.CREDIT_HOLDINGS), int(CommandType.DEBIT_HOLDINGS))
_AUCTION = int(EventKind.AUCTION_RESULT)
_MOVES = (_TRADE, _BALANCE, _SURRENDERED, _FINED, _AUCTION)


def _date(ts: int) -> str:
    return datetime.fromtimestamp(ts / 1e9, CST).strftime("%Y%m%d")


class _Book:
    """The movements of one trading date, by account."""

    def __init__(self) -> None:
        self.cash: dict[int, dict] = {}
        self.units: dict[int, dict] = {}
        self.trades: dict[int, list] = {}

    def cash_of(self, account: int) -> dict:
        return self.cash.setdefault(account, dict.fromkeys(CASH_ITEMS, 0))

    def units_of(self, account: int, symbol: str) -> dict:
        return self.units.setdefault(account, {}).setdefault(symbol, dict.fromkeys(UNIT_ITEMS, 0))


def _balances(engine, accounts) -> dict:
    out = {}
    for a in accounts:
        view = engine.account(a)
        if view is not None:
            out[a] = {"cash": view["cash_available"] + view["cash_frozen"],
                      "units": {s: h["available"] + h["frozen"] + h["locked"] + h["non_tradable"]
                                for s, h in view["holdings"].items()}}
    return out


def statements(state_dir, config) -> dict[str, list[dict]]:
    """Every trading date's member statements: ``{YYYYMMDD: [member statement, ...]}``."""
    symbols = [i.symbol for i in config.instruments]
    members = {m.id: m.name for m in config.members.values()}
    accounts = {a.id: a for a in config.accounts}
    empty = {"cash": 0, "units": dict.fromkeys(symbols, 0)}
    balances = {a: empty for a in accounts}          # as of the last batch applied
    days: dict[str, tuple[_Book, dict]] = {}         # date -> its movements and the balances at its close
    today: list = [None, None]                       # the date being filed, its movements
    primary: set = set()                             # the lots (auction ids) of primary auctions

    def one(engine, rows: np.ndarray, events: np.ndarray) -> None:
        opened = rows["seq"][(rows["type"] == CommandType.AUCTION_OPEN) & (rows["flags"] & commands.FLAG_PRIMARY != 0)]
        if len(opened):
            lots = (events["kind"] == EventKind.ACCEPTED) & np.isin(events["cmd_seq"], opened)
            primary.update(events["order_id"][lots].tolist())
        moves = events[np.isin(events["kind"], _MOVES)]
        if not len(moves):
            return
        date = _date(int(moves["ts"][-1]))
        if date != today[0]:
            if today[0] is not None:
                days[today[0]] = (today[1], dict(balances))
            today[0], today[1] = date, days[date][0] if date in days else _Book()
        _file(today[1], moves, symbols, primary)
        trade = moves["kind"] == _TRADE
        touched = np.concatenate([moves["buy_account"][trade], moves["sell_account"][trade],
                                  moves["account"][~trade]])
        balances.update(_balances(engine, [a for a in np.unique(touched).tolist() if a in accounts]))

    replay_events(state_dir, config, one)
    if today[0] is not None:
        days[today[0]] = (today[1], dict(balances))
    out = {}
    opening = {a: empty for a in accounts}
    for date in sorted(days):
        book, closing = days[date]
        out[date] = _member_statements(book, opening, closing, accounts, members, symbols)
        opening = closing
    return out


def _file(book: _Book, moves: np.ndarray, symbols, primary: set) -> None:
    for e in moves:
        kind = int(e["kind"])
        if kind == _TRADE:
            notional = int(e["price"]) * int(e["qty"])
            symbol = symbols[int(e["instrument"])]
            for account, side, fee in ((int(e["buy_account"]), Side.BUY, int(e["buy_fee"])),
                                       (int(e["sell_account"]), Side.SELL, int(e["sell_fee"]))):
                cash = book.cash_of(account)
                units = book.units_of(account, symbol)
                if side == Side.BUY:
                    cash["bought"] += notional
                    units["bought"] += int(e["qty"])
                else:
                    cash["sold"] += notional
                    units["sold"] += int(e["qty"])
                cash["fees"] += fee
                book.trades.setdefault(account, []).append({
                    "trade_id": int(e["trade_id"]), "ts": int(e["ts"]), "instrument": symbol, "side": side.name,
                    "price": int(e["price"]), "qty": int(e["qty"]), "fee": fee,
                    "trade_type": TradeType(int(e["trade_type"])).name})
        elif kind == _BALANCE:
            account, n = int(e["account"]), int(e["instrument"])
            if n < 0:
                value = int(e["value"])
                book.cash_of(account)["deposits" if value > 0 else "withdrawals"] += abs(value)
            elif int(e["command"]) in _UNIT_COMMANDS:
                qty = int(e["qty"])
                book.units_of(account, symbols[n])["credited" if qty > 0 else "debited"] += abs(qty)
        elif kind == _SURRENDERED:
            book.units_of(int(e["account"]), symbols[int(e["instrument"])])["surrendered"] += int(e["qty"])
        elif kind == _AUCTION:
            if int(e["order_id"]) in primary and int(e["qty"]):
                book.units_of(int(e["account"]), symbols[int(e["instrument"])])["created"] += int(e["qty"])
        else:
            book.cash_of(int(e["account"]))["fines"] += int(e["qty"])


def _member_statements(book: _Book, opening: dict, closing: dict, accounts: dict, members: dict,
                       symbols) -> list[dict]:
    by_member: dict[int, list] = {}
    for a in sorted(set(book.cash) | set(book.units) | set(book.trades)):
        if a not in accounts or a not in closing:
            continue
        cash = dict(book.cash.get(a, dict.fromkeys(CASH_ITEMS, 0)))
        cash["opening"], cash["closing"] = opening[a]["cash"], closing[a]["cash"]
        cash["unexplained"] = (cash["closing"] - cash["opening"] - cash["deposits"] + cash["withdrawals"]
                               + cash["bought"] - cash["sold"] + cash["fees"] + cash["fines"])
        units = {}
        for symbol in symbols:
            moved = book.units.get(a, {}).get(symbol)
            first, last = opening[a]["units"].get(symbol, 0), closing[a]["units"].get(symbol, 0)
            if moved is None and first == last == 0:
                continue
            u = dict(moved or dict.fromkeys(UNIT_ITEMS, 0))
            u["opening"], u["closing"] = first, last
            u["unexplained"] = (last - first - u["bought"] + u["sold"] - u["credited"] + u["debited"]
                                + u["surrendered"] - u["created"])
            units[symbol] = u
        by_member.setdefault(accounts[a].member, []).append({
            "account": a, "region": accounts[a].region.name, "cash": cash, "units": units,
            "trades": book.trades.get(a, []),
            "reconciled": cash["unexplained"] == 0 and all(u["unexplained"] == 0 for u in units.values())})
    return [{"member": m, "name": members.get(m, ""), "accounts": rows} for m, rows in sorted(by_member.items())]
