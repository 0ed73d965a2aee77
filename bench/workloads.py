"""Seeded command streams for the engine benchmarks, generated before anything is timed.

Every workload is a :class:`Workload`: the instruments, ``setup`` commands that build the
starting book (processed untimed) and ``timed`` commands (the measured stream), both
``COMMAND_DTYPE`` arrays. The same seed always gives the same arrays.

Order ids are assigned by the engine, so a generator cannot know which orders are alive
from its own random draws. It runs a *shadow engine* while it writes the timed stream,
stepping one command at a time and following the ACCEPTED, TRADE, CANCELLED, REPLACED
and REDUCED events, and draws cancel and replace targets only from orders resting at that
point. Both engine implementations give the same events for the same commands, so the
stream does not depend on which one shadows (pass the fastest available). Replayed from
the state ``setup`` leaves, every cancel and replace of the stream hits a live order;
``Workload.stats`` records what the shadow saw (rejects, trades, the book size over
time), so a reader can check that the workload is meaningful.

Workloads
---------
``broker_mix``
    One book of about 1,900 resting orders; 62% limit adds (an eighth of them marketable),
    28% cancels, 10% IOC sweeps: a broker's flow, the shallow book the per-call targets use.
``broker_deep``
    The same stream over a 100,000-order book spread across the whole band.
``exchange_core_mix``
    One book of about 1,000 resting orders; 9% GTC orders, 3% IOC orders, 6% cancels and
    82% moves (a replace to a new price), after exchange-core's single-pair benchmark.
``carbon_mix``
    20 instruments; 60% passive adds, 30% cancels, 10% IOC sweeps (limit and market
    orders) across several price levels.
``deep_book``
    1,000,000 resting orders over 20 instruments, then the ``carbon_mix`` stream.
``<name>_risk`` (``exchange_core_mix_risk``, ``carbon_mix_risk``, ``deep_book_risk``)
    The same workload with risk on (``risk=True``, fees of :data:`RISK_FEES`), as the
    daemon runs: the setup first creates :data:`RISK_ACCOUNTS` accounts and funds each
    with :data:`RISK_CASH` fen and :data:`RISK_UNITS` t of every instrument, far more than
    any order needs, so no order is refused for money; then the same book and the same
    kind of stream, from those accounts only. The random draws are the risk-off
    workload's (accounts are taken modulo the number of accounts), so with the same seed
    the two streams differ only in their accounts and in what the risk-on shadow saw.
``fixed_price_takes`` (not in :data:`WORKLOADS`: it has no per-call path)
    Fixed-price sell listings on one instrument, then takes of them: every command of the
    timed stream is a ``TAKE_FIXED`` of a different listing.
``auction_clearing`` (not in :data:`WORKLOADS` either)
    A sealed-bid auction on one instrument: the setup opens it and places 10,000 bids from
    distinct accounts; the timed stream is the single ``AUCTION_CLOSE`` that clears it,
    about half the bids winning.
``call_uncrossing`` (nor this one)
    A call auction on one instrument: the setup starts the call and enters 100,000 orders,
    half of them crossing; the timed stream is the single move to TRADING that uncrosses the
    book at one price.

Prices stay inside the ±10% band of the reference price (5,000 fen, tick 1, lot 1) and
orders come from 100,000 accounts (risk off) or 10,000 (risk on), so self-trade
prevention rarely fires.

>>> w = exchange_core_mix(n_commands=300, n_resting=100, seed=7)
>>> len(w.setup), len(w.timed), w.stats["rejected"]
(100, 300, 0)
>>> bool((w.timed == exchange_core_mix(n_commands=300, n_resting=100, seed=7).timed).all())
True
>>> r = generate("exchange_core_mix_risk", n_commands=300, n_resting=100, seed=7, n_accounts=50)
>>> r.name, r.risk, len(r.setup), r.stats["rejected"]
('exchange_core_mix_risk', True, 250, 0)
"""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import partial

import numpy as np

from matching.codes import (
    AuctionOutcome, CommandType, EventKind, InstrumentKind, InstrumentStatus, OrderType, Region, Reject, Sector, Side,
    TimeInForce, TradeType,
)
from matching.dtypes import COMMAND_DTYPE, EVENT_DTYPE
from matching.instrument import MAX_QTY, Instrument
from matching.reference import ReferenceEngine

__all__ = [
    "Workload", "WORKLOADS", "BASE_WORKLOADS", "generate", "broker_mix", "broker_deep", "exchange_core_mix", "carbon_mix", "deep_book",
    "fixed_price_takes", "risk_name", "instruments", "REFERENCE_PRICE", "MAX_ACCOUNTS", "N_INSTRUMENTS",
    "RISK_SUFFIX", "RISK_ACCOUNTS", "RISK_FEES", "RISK_CASH", "RISK_UNITS", "FIXED_PRICE_TAKES",
    "auction_clearing", "auction_summary", "AUCTION_CLEARING", "call_uncrossing", "uncross_summary",
    "CALL_UNCROSSING",
]

REFERENCE_PRICE = 5000          # fen per tonne; with the default ±10% band, [4500, 5500]
BAND = (4500, 5500)
MAX_ACCOUNTS = 100_000
MAX_ORDER_QTY = 99_999
TS_STEP = 1_000                 # ns between consecutive commands' time stamps
SETUP_CHUNK = 65_536            # setup commands per process() call while building a book
N_INSTRUMENTS = 20              # carbon_mix and deep_book

# Risk-on variants: funded accounts, fees on continuous and fixed-price trades.
RISK_SUFFIX = "_risk"
RISK_ACCOUNTS = 10_000          # accounts created and funded by a risk-on setup
RISK_FEES = {TradeType.CONTINUOUS: (5, 5), TradeType.FIXED: (5, 5)}    # bps, buyer and seller
# Cash and units per account: far more than a million-command stream moves through one
# account (a buy holds at most 5,500 x 99,999 fen), and 10,000 deposits stay well inside int64.
RISK_CASH = 10**13              # fen (100 billion CNY)
RISK_UNITS = 10**8              # tonnes of every instrument


@dataclass
class Workload:
    """One benchmark workload: a starting book and the command stream to time.

    Attributes
    ----------
    name : str
        The workload's name, a key of :data:`WORKLOADS`.
    instruments : list of Instrument
        The engine's instruments, in index order.
    setup : ndarray of COMMAND_DTYPE
        Commands that build the starting book; processed untimed.
    timed : ndarray of COMMAND_DTYPE
        The measured stream, valid from the state ``setup`` leaves.
    seed : int
        The seed the arrays were drawn from.
    max_accounts : int
        The ``max_accounts`` engines must be built with.
    risk : bool
        Whether engines are built with risk on (the setup then creates and funds accounts).
    fees : dict or None
        The engines' ``fees`` (``{TradeType: (buyer bps, seller bps)}``).
    accounts : int or None
        Accounts the setup creates (risk on); None with risk off.
    stats : dict
        What the shadow engine saw over ``timed``: ``commands``, ``mix`` (share of each
        kind of command), ``rejected``, ``reject_fraction``, ``rejected_by_kind``,
        ``rejected_by_reason`` (names of :class:`matching.Reject`), ``events``, ``trades``, ``resting_start``, ``resting_end``, ``resting_trace`` (the
        book size at every tenth of the stream) and, with sweeps, ``levels_per_sweep``.
    """

    name: str
    instruments: list
    setup: np.ndarray
    timed: np.ndarray
    seed: int
    max_accounts: int = MAX_ACCOUNTS
    risk: bool = False
    fees: dict | None = None
    accounts: int | None = None
    stats: dict = field(default_factory=dict)

    def make_engine(self, engine_cls):
        """A new, empty ``engine_cls`` engine over this workload's instruments and accounts."""
        return _new_engine(engine_cls, self.instruments, self.risk, self.fees, self.max_accounts)


def _new_engine(engine_cls, workload_instruments, risk: bool, fees, max_accounts: int = MAX_ACCOUNTS):
    if not risk:
        return engine_cls(workload_instruments, max_accounts=max_accounts)
    return engine_cls(workload_instruments, max_accounts=max_accounts, risk=True, fees=fees)


def risk_name(name: str) -> str:
    """The name of the risk-on variant of workload ``name``.

    >>> risk_name("carbon_mix")
    'carbon_mix_risk'
    """
    return name + RISK_SUFFIX


def instruments(n: int) -> list:
    """``n`` distinct instruments, all priced as the benchmark expects.

    Allowances of both regions over several compliance years, the last four of twenty
    CERs; each with reference price 5,000 fen, tick 1, lot 1, maximum order 99,999 t.

    >>> [i.symbol for i in instruments(3)]
    ['SCEA2024', 'CQEA2024', 'SCEA2025']
    >>> instruments(20)[-1].symbol
    'CQCER2033'
    """
    out = []
    for k in range(n):
        region = Region.SC if k % 2 == 0 else Region.CQ
        kind = InstrumentKind.CER if k >= 16 else InstrumentKind.ALLOWANCE
        year = 2024 + k // 2
        prefix = "CER" if kind == InstrumentKind.CER else "EA"
        out.append(Instrument(f"{region.name}{prefix}{year}", kind=kind, region=region, year=year,
                              reference_price=REFERENCE_PRICE, tick=1, lot=1,
                              max_order_qty=MAX_ORDER_QTY))
    return out


# --------------------------------------------------------------------------- writing commands
class _Writer:
    """Fills a preallocated command array row by row, numbering seq, ts and client ids."""

    _AT = {name: k for k, name in enumerate(COMMAND_DTYPE.names)}

    def __init__(self, n: int, first_seq: int) -> None:
        self.out = np.zeros(n, dtype=COMMAND_DTYPE)
        self.n = 0
        self.seq = first_seq
        self._zero = [0] * len(COMMAND_DTYPE.names)

    def _put(self, ctype: int, **fields) -> None:
        at, s = self._AT, self.seq
        row = self._zero.copy()
        row[at["seq"]], row[at["ts"]], row[at["type"]] = s, s * TS_STEP, ctype
        for name, value in fields.items():
            row[at[name]] = value
        self.out[self.n] = tuple(row)
        self.n += 1
        self.seq = s + 1

    def new(self, ins, account, side, qty, price, order_type=OrderType.LIMIT, tif=TimeInForce.GTC) -> None:
        self._put(CommandType.NEW_ORDER, client_order_id=self.seq, instrument=ins, account=account,
                  side=side, qty=qty, price=price, order_type=order_type, tif=tif)

    def cancel(self, order_id, account) -> None:
        self._put(CommandType.CANCEL, order_id=order_id, account=account)

    def replace(self, order_id, account, price, qty) -> None:
        self._put(CommandType.REPLACE, order_id=order_id, account=account, price=price, qty=qty)


def _passive_setup(rng, n_instruments: int, distances: np.ndarray, n_accounts: int = MAX_ACCOUNTS) -> np.ndarray:
    """Non-crossing GTC limit orders, one per entry of ``distances``, from ``n_accounts`` accounts.

    Orders alternate bid and ask and cycle over the instruments; each rests
    ``distances[k]`` ticks (>= 1) below (bids) or above (asks) the reference price, so
    none trades and the engine gives them order ids 1..n in array order.
    """
    n = len(distances)
    k = np.arange(n)
    seq = k.astype(np.int64) + 1
    side = np.where(k % 2 == 0, Side.BUY, Side.SELL).astype(np.uint8)
    cmds = np.zeros(n, dtype=COMMAND_DTYPE)
    cmds["seq"] = seq
    cmds["ts"] = seq * TS_STEP
    cmds["client_order_id"] = seq
    cmds["instrument"] = (k // 2) % n_instruments
    cmds["side"] = side
    cmds["price"] = np.where(side == Side.BUY, REFERENCE_PRICE - distances, REFERENCE_PRICE + distances)
    cmds["qty"] = rng.integers(1, 1001, n)
    cmds["account"] = rng.integers(0, MAX_ACCOUNTS, n) % n_accounts
    cmds["type"] = CommandType.NEW_ORDER
    cmds["order_type"] = OrderType.LIMIT
    cmds["tif"] = TimeInForce.GTC
    return cmds


def _funding(n_accounts: int, n_instruments: int) -> np.ndarray:
    """Create accounts ``0..n_accounts-1``; deposit :data:`RISK_CASH` and credit
    :data:`RISK_UNITS` of every instrument to each (``2 + n_instruments`` commands per
    account, account by account). Regions alternate; sectors cycle over the ten.

    >>> f = _funding(3, 2)
    >>> [CommandType(t).name for t in f["type"][:4]]
    ['CREATE_ACCOUNT', 'DEPOSIT', 'CREDIT_HOLDINGS', 'CREDIT_HOLDINGS']
    >>> f["account"].tolist()[-4:], f["region"].tolist()[-4:]
    ([2, 2, 2, 2], [1, 0, 0, 0])
    """
    per = 2 + n_instruments
    cmds = np.zeros((n_accounts, per), dtype=COMMAND_DTYPE)
    account = np.arange(n_accounts)
    cmds["account"] = account[:, None]
    create, cash, units = cmds[:, 0], cmds[:, 1], cmds[:, 2:]
    create["type"] = CommandType.CREATE_ACCOUNT
    create["member"] = account // 10 + 1
    create["region"] = np.where(account % 2 == 0, Region.SC, Region.CQ)
    create["sector"] = Sector.POWER + account % len(Sector)
    cash["type"] = CommandType.DEPOSIT
    cash["value"] = RISK_CASH
    units["type"] = CommandType.CREDIT_HOLDINGS
    units["instrument"] = np.arange(n_instruments)[None, :]
    units["qty"] = RISK_UNITS
    return cmds.reshape(-1)


def _risk_setup(orders: np.ndarray, n_accounts: int, n_instruments: int) -> np.ndarray:
    """The funding of ``n_accounts`` accounts, then ``orders``; seq and ts renumbered from 1.

    Account commands take no order ids, so the orders still get ids 1..n in array order.
    """
    setup = np.concatenate([_funding(n_accounts, n_instruments), orders])
    seq = np.arange(1, len(setup) + 1, dtype=np.int64)
    setup["seq"] = seq
    setup["ts"] = seq * TS_STEP
    is_order = setup["type"] == CommandType.NEW_ORDER
    setup["client_order_id"][is_order] = seq[is_order]
    return setup


def _accounts_for(risk: bool, n_accounts: int | None) -> int:
    """How many accounts a workload's orders come from."""
    if not risk:
        return MAX_ACCOUNTS
    n = RISK_ACCOUNTS if n_accounts is None else int(n_accounts)
    if not 1 <= n <= MAX_ACCOUNTS:
        raise ValueError(f"n_accounts must be between 1 and {MAX_ACCOUNTS}")
    return n


# --------------------------------------------------------------------------- the shadow engine
_EV = {name: k for k, name in enumerate(EVENT_DTYPE.names)}
_K, _OID, _PRICE, _LEAVES = _EV["kind"], _EV["order_id"], _EV["price"], _EV["leaves"]
_BUY, _SELL, _BL, _SL = _EV["buy_order_id"], _EV["sell_order_id"], _EV["buy_leaves"], _EV["sell_leaves"]
_INS, _SIDE, _ACC, _REASON = _EV["instrument"], _EV["side"], _EV["account"], _EV["reason"]


def _reason_name(code: int) -> str:
    try:
        return Reject(code).name
    except ValueError:
        return str(code)


class _Shadow:
    """An engine stepped one command at a time, with the set of live orders kept beside it.

    Order ids are dense, so the facts about each order live in lists indexed by order
    id; ``live`` holds the resting ids (swap-remove through ``pos``), so that drawing a
    live order uniformly is O(1).
    """

    def __init__(self, engine_cls, workload_instruments, setup: np.ndarray, n_timed: int, *,
                 risk: bool = False, fees=None) -> None:
        self.engine = _new_engine(engine_cls, workload_instruments, risk, fees)
        accepted = []
        for start in range(0, len(setup), SETUP_CHUNK):
            events = self.engine.process(setup[start:start + SETUP_CHUNK])
            kinds = events["kind"]
            # Orders are accepted and rest without trading; account commands just report.
            if not np.all((kinds == EventKind.ACCEPTED) | (kinds == EventKind.DEPTH)
                          | (kinds == EventKind.ACCOUNT_UPDATED) | (kinds == EventKind.BALANCE)):
                raise RuntimeError("setup commands must all be accepted and rest without trading")
            accepted.append(events[kinds == EventKind.ACCEPTED])
        rested = np.concatenate(accepted) if accepted else np.zeros(0, dtype=EVENT_DTYPE)
        ids = rested["order_id"]
        cap = len(setup) + n_timed + 1          # at most one new order id per command

        def column(values, fill=0):
            col = np.full(cap, fill, dtype=np.int64)
            col[ids] = values
            return col.tolist()

        self.price, self.qty, self.side = column(rested["price"]), column(rested["leaves"]), column(rested["side"])
        self.ins, self.account = column(rested["instrument"]), column(rested["account"])
        self.pos = column(np.arange(len(ids)), fill=-1)
        self.live: list[int] = ids.tolist()
        self.samples: list[int] = []            # book size every tenth of the timed stream
        self._every = max(n_timed // 10, 1)
        self.rejected: dict[str, int] = {}
        self.reasons: dict[str, int] = {}
        self.resting_start = len(self.live)
        self.trades = 0
        self.events = 0
        self.mix: dict[str, int] = {}
        self.sweep_levels = 0

    def _add(self, oid, ins, side, price, qty, acc) -> None:
        self.price[oid], self.qty[oid], self.side[oid] = price, qty, side
        self.ins[oid], self.account[oid] = ins, acc
        self.pos[oid] = len(self.live)
        self.live.append(oid)

    def _remove(self, oid) -> None:
        p = self.pos[oid]
        if p < 0:
            return
        last = self.live.pop()
        if last != oid:
            self.live[p] = last
            self.pos[last] = p
        self.pos[oid] = -1

    def _apply(self, events: list, label: str) -> set:
        """Follow ``events`` (rows as tuples); return the prices that traded."""
        prices = set()
        for e in events:
            kind = e[_K]
            if kind == EventKind.TRADE:
                self.trades += 1
                prices.add(e[_PRICE])
                for oid, leaves in ((e[_BUY], e[_BL]), (e[_SELL], e[_SL])):
                    if leaves == 0:
                        self._remove(oid)
                    else:
                        self.qty[oid] = leaves
            elif kind == EventKind.ACCEPTED:
                self._add(e[_OID], e[_INS], e[_SIDE], e[_PRICE], e[_LEAVES], e[_ACC])
            elif kind == EventKind.CANCELLED:
                self._remove(e[_OID])
            elif kind == EventKind.REPLACED or kind == EventKind.REDUCED:
                self.price[e[_OID]] = e[_PRICE]
                self.qty[e[_OID]] = e[_LEAVES]
            elif kind == EventKind.REJECTED:
                self.rejected[label] = self.rejected.get(label, 0) + 1
                reason = _reason_name(e[_REASON])
                self.reasons[reason] = self.reasons.get(reason, 0) + 1
        return prices

    def step(self, commands: np.ndarray, i: int, label: str) -> None:
        """Process command ``i`` of ``commands``; ``label`` names its kind for the stats."""
        events = self.engine.process(commands[i:i + 1]).tolist()
        self.events += len(events)
        self.mix[label] = self.mix.get(label, 0) + 1
        prices = self._apply(events, label)
        if label == "sweep":
            self.sweep_levels += len(prices)
        if i % self._every == 0:
            self.samples.append(len(self.live))

    def random_live(self, u: float) -> int:
        """The live order at fraction ``u`` (0 <= u < 1) of the live list."""
        live = self.live
        return live[int(u * len(live))]

    def book(self, ins: int, depth: int):
        """``(bids, asks, best bid, best ask)`` of ``ins``; a missing best is None."""
        view = self.engine.book(ins, depth)
        return (view.bids, view.asks, view.bids[0][0] if view.bids else None,
                view.asks[0][0] if view.asks else None)

    def stats(self) -> dict:
        n = sum(self.mix.values())
        rejected = sum(self.rejected.values())
        out = {
            "commands": n,
            "mix": {label: round(count / n, 4) for label, count in sorted(self.mix.items())} if n else {},
            "rejected": rejected,
            "reject_fraction": rejected / n if n else 0.0,
            "rejected_by_kind": dict(self.rejected),
            "rejected_by_reason": dict(self.reasons),
            "events": self.events,
            "trades": self.trades,
            "resting_start": self.resting_start,
            "resting_end": len(self.live),
            "resting_trace": self.samples + [len(self.live)],
        }
        if self.mix.get("sweep"):
            out["levels_per_sweep"] = round(self.sweep_levels / self.mix["sweep"], 3)
        return out


def _clamp(price: int) -> int:
    low, high = BAND
    return low if price < low else high if price > high else price


def _passive_price(side: int, bid, ask, behind: int) -> int:
    """A limit price ``behind`` ticks behind the best of ``side`` that does not cross.

    ``behind`` 0 improves the best by a tick and 1 joins it. An empty side counts from
    the reference price or from the other side's best.

    >>> _passive_price(Side.BUY, 4990, 5000, 0), _passive_price(Side.BUY, 4999, 5000, 0)
    (4991, 4999)
    >>> _passive_price(Side.SELL, None, None, 3)
    5003
    """
    if side == Side.BUY:
        top = bid if bid is not None else (ask - 1 if ask is not None else REFERENCE_PRICE - 1)
        price = top + 1 - behind
        if ask is not None and price >= ask:
            price = ask - 1
    else:
        top = ask if ask is not None else (bid + 1 if bid is not None else REFERENCE_PRICE + 1)
        price = top - 1 + behind
        if bid is not None and price <= bid:
            price = bid + 1
    return _clamp(price)


def _clip(x: float, low: float, high: float) -> float:
    return low if x < low else high if x > high else x


# --------------------------------------------------------------------------- (a) exchange_core_mix
def exchange_core_mix(n_commands: int = 1_000_000, n_resting: int = 1_000, *, seed: int = 1,
                      shadow=ReferenceEngine, risk: bool = False, n_accounts: int | None = None) -> Workload:
    """One book with exchange-core's command mix: 9% GTC, 3% IOC, 6% cancel, 82% move.

    The setup rests ``n_resting`` orders, bids below and asks above the reference price,
    thinning out geometrically (mean 12 ticks) away from it. In the timed stream a *move*
    replaces a live order, keeping its remaining quantity, to a price 1-3 ticks away:
    towards the other side or away with equal odds, towards it when the order is more
    than 30 ticks behind its best. A GTC order rests behind or improves its side's best,
    or crosses the spread, trading and then resting what is left; an IOC order crosses
    the spread. How often GTC orders and moves cross, and how far IOC orders reach,
    grows with the book size, so the book stays near ``n_resting`` orders.

    Parameters
    ----------
    n_commands : int
        Length of the timed stream.
    n_resting : int
        Orders resting after setup; also the book size the stream steers towards.
    seed : int
        Seed of the random draws.
    shadow : type
        Engine class that simulates the stream while it is written (see module docstring).
    risk : bool
        Build the risk-on variant, ``exchange_core_mix_risk`` (see module docstring).
    n_accounts : int, optional
        Risk on: accounts to create and fund (default :data:`RISK_ACCOUNTS`).

    Returns
    -------
    Workload
    """
    n = n_commands
    rng = np.random.default_rng([seed, 0xA])
    ins_list = instruments(1)
    accounts = _accounts_for(risk, n_accounts)
    setup = _passive_setup(rng, 1, np.minimum(rng.geometric(1 / 12, n_resting), 400), accounts)
    if risk:
        setup = _risk_setup(setup, accounts, len(ins_list))
    fees = RISK_FEES if risk else None
    sim = _Shadow(shadow, ins_list, setup, n, risk=risk, fees=fees)
    w = _Writer(n, len(setup) + 1)
    kind = rng.choice(4, size=n, p=[0.09, 0.03, 0.06, 0.82]).tolist()
    side = rng.integers(1, 3, n).tolist()
    qty = rng.integers(1, 1001, n).tolist()
    acct = (rng.integers(0, MAX_ACCOUNTS, n) % accounts).tolist()
    behind = (rng.geometric(1 / 8, n) - 1).tolist()
    step = rng.integers(1, 4, n).tolist()
    u1, u2, u3 = rng.random((3, n)).tolist()
    target = max(n_resting, 1)
    for i in range(n):
        k = kind[i]
        if k >= 2 and not sim.live:
            k = 0
        over = len(sim.live) / target - 1.0                      # > 0: the book is too big
        _, _, bid, ask = sim.book(0, 1)
        if k <= 1:                                               # GTC or IOC new order
            s = side[i]
            other = ask if s == Side.BUY else bid
            if other is not None and (k == 1 or u1[i] < _clip(0.05 + 2.0 * over, 0.0, 0.6)):
                beyond = step[i] - 1 if over > 0 else 0
                price = _clamp(other + beyond if s == Side.BUY else other - beyond)
            else:
                price = _passive_price(s, bid, ask, behind[i])
            q = qty[i] if k == 0 or over > 0 else qty[i] // 2 + 1
            w.new(0, acct[i], s, q, price, tif=TimeInForce.GTC if k == 0 else TimeInForce.IOC)
            label = "gtc" if k == 0 else "ioc"
        elif k == 2:                                             # cancel a live order
            oid = sim.random_live(u1[i])
            w.cancel(oid, sim.account[oid])
            label = "cancel"
        else:                                                    # move a live order
            oid = sim.random_live(u1[i])
            s, old = sim.side[oid], sim.price[oid]
            toward = 1 if s == Side.BUY else -1                  # price direction to the other side
            own_best = bid if s == Side.BUY else ask
            far = own_best is not None and abs(own_best - old) > 30
            sign = toward if u2[i] < (0.9 if far else 0.5) else -toward
            new = _clamp(old + sign * step[i])
            crosses = (ask is not None and new >= ask) if s == Side.BUY else (bid is not None and new <= bid)
            if (crosses and u3[i] >= _clip(0.005 + 0.2 * over, 0.0, 0.05)) or new == old:
                new = _clamp(old - toward * step[i])             # most moves stay passive
            w.replace(oid, sim.account[oid], new, sim.qty[oid])
            label = "move"
        sim.step(w.out, i, label)
    name = risk_name("exchange_core_mix") if risk else "exchange_core_mix"
    return Workload(name, ins_list, setup, w.out, seed, risk=risk, fees=fees,
                    accounts=accounts if risk else None, stats=sim.stats())


# --------------------------------------------------------------------------- (b) carbon_mix, (c) deep_book
CARBON_FAR = (30, 200)          # ticks from the reference price of carbon_mix's far adds
DEEP_FAR = (60, 500)            # ... and of deep_book's (the whole rest of the band)
NEAR_LEVELS = 10                # setup: one order on each of the first 10 levels of a side
GAP_SEARCH = 20                 # a near add looks this many levels deep for a free price


def _carbon_setup(rng, n_resting: int, far: tuple[int, int], n_accounts: int = MAX_ACCOUNTS,
                  n_instruments: int = N_INSTRUMENTS) -> np.ndarray:
    """One order on each of the ``NEAR_LEVELS`` levels next to the reference price on
    every side of every instrument, the rest uniformly ``far`` ticks away."""
    n_near = min(n_resting, 2 * n_instruments * NEAR_LEVELS)
    near = 1 + (np.arange(n_near) // (2 * n_instruments)) % NEAR_LEVELS
    rest = rng.integers(far[0], far[1] + 1, n_resting - n_near)
    return _passive_setup(rng, n_instruments, np.concatenate([near, rest]), n_accounts)


def _carbon_stream(name: str, rng, seed: int, setup: np.ndarray, n_commands: int,
                   far: tuple[int, int], shadow, accounts: int = MAX_ACCOUNTS,
                   risk: bool = False, *, n_instruments: int = N_INSTRUMENTS,
                   mix: tuple[float, float, float] = (0.6, 0.3, 0.1), marketable: float = 0.0) -> Workload:
    """The carbon_mix stream over ``setup``'s book: 60% adds, 30% cancels, 10% sweeps
    (``mix``) on ``n_instruments`` instruments.

    The mix fixes the long-run balance: adds bring 0.6 orders per command and cancels
    take 0.3 whatever the book holds, so a steady book needs sweeps that fill about
    three orders each. A sweep therefore takes the other side's best 2-5 levels but at
    most a drawn number of orders (2-5, scaled by the book size against its start), and
    the top of the book is kept thin: a *near* add rests on the first free price level
    at or behind its side's best, without crossing. A *far* add rests ``far`` ticks from
    the reference price, beyond the sweeps. The share of far adds rises when the book is
    below its starting size and falls above it; far orders mostly leave by cancels. A
    ``marketable`` share of the adds is instead priced at the other side's best: it trades
    there and rests what is left.

    With ``risk`` the setup's orders come from ``accounts`` accounts, and the workload
    (named ``name`` plus :data:`RISK_SUFFIX`) first creates and funds them.
    """
    n = n_commands
    ins_list = instruments(n_instruments)
    target = max(len(setup), 1)                                  # orders resting after setup
    if risk:
        setup = _risk_setup(setup, accounts, len(ins_list))
        name = risk_name(name)
    fees = RISK_FEES if risk else None
    sim = _Shadow(shadow, ins_list, setup, n, risk=risk, fees=fees)
    w = _Writer(n, len(setup) + 1)
    kind = rng.choice(3, size=n, p=list(mix)).tolist()
    ins = rng.integers(0, n_instruments, n).tolist()
    side = rng.integers(1, 3, n).tolist()
    qty = rng.integers(1, 1001, n).tolist()
    acct = (rng.integers(0, MAX_ACCOUNTS, n) % accounts).tolist()
    behind = rng.integers(0, 2, n).tolist()
    distance = rng.integers(far[0], far[1] + 1, n).tolist()
    levels = rng.integers(2, 6, n).tolist()
    room = rng.integers(2, 6, n).tolist()
    u1, u2, u3 = rng.random((3, n)).tolist()
    for i in range(n):
        k = kind[i]
        if k == 1 and not sim.live:
            k = 0
        fill = len(sim.live) / target                            # book size against its start
        n_ins = ins[i]
        if k == 0:                                               # passive add
            s = side[i]
            bids, asks, bid, ask = sim.book(n_ins, GAP_SEARCH)
            price = None
            other = ask if s == Side.BUY else bid
            if u2[i] < marketable and other is not None:
                price = other                                    # crosses: trades, then rests the rest
            elif u1[i] < _clip(0.5 + 4.0 * (1.0 - fill), 0.05, 0.95):
                d = distance[i]
                price = REFERENCE_PRICE - d if s == Side.BUY else REFERENCE_PRICE + d
                if (s == Side.BUY and ask is not None and price >= ask) or (
                        s == Side.SELL and bid is not None and price <= bid):
                    price = None                                 # the market has moved there
            if price is None:                                    # the first free level near the top
                taken = {level[0] for level in (bids if s == Side.BUY else asks)}
                price = _passive_price(s, bid, ask, behind[i])
                away = -1 if s == Side.BUY else 1
                for _ in range(GAP_SEARCH):
                    if price not in taken:
                        break
                    price = _clamp(price + away)
            w.new(n_ins, acct[i], s, qty[i], price)
            label = "marketable_add" if price == other else "add"
        elif k == 1:                                             # cancel a live order
            oid = sim.random_live(u1[i])
            w.cancel(oid, sim.account[oid])
            label = "cancel"
        else:                                                    # sweep several levels
            bids, asks, bid, ask = sim.book(n_ins, levels[i])
            if bid is not None and ask is not None:              # lean back to the reference
                p_buy = _clip(0.5 - ((bid + ask) / 2 - REFERENCE_PRICE) / 40, 0.1, 0.9)
            else:
                p_buy = 1.0 if ask is not None else 0.0 if bid is not None else 0.5
            s = Side.BUY if u2[i] < p_buy else Side.SELL
            contra = asks if s == Side.BUY else bids
            total, price = qty[i], (BAND[1] if s == Side.BUY else BAND[0])
            if contra:
                total, left = 0, max(1, round(room[i] * _clip(1.0 + 10.0 * (fill - 1.0), 0.2, 2.0)))
                for level_price, level_qty, level_count in contra:
                    price = level_price
                    if level_count >= left:                      # the front of this level, then stop
                        total += -(-level_qty * left // level_count)
                        break
                    total += level_qty
                    left -= level_count
                total = min(total, MAX_ORDER_QTY)
            if u3[i] < 0.2:
                w.new(n_ins, acct[i], s, total, 0, order_type=OrderType.MARKET, tif=TimeInForce.IOC)
            else:
                w.new(n_ins, acct[i], s, total, price, tif=TimeInForce.IOC)
            label = "sweep"
        sim.step(w.out, i, label)
    return Workload(name, ins_list, setup, w.out, seed, risk=risk, fees=fees,
                    accounts=accounts if risk else None, stats=sim.stats())


def carbon_mix(n_commands: int = 1_000_000, n_resting: int = 20_000, *, seed: int = 2,
               shadow=ReferenceEngine, risk: bool = False, n_accounts: int | None = None) -> Workload:
    """Twenty instruments: 60% passive adds, 30% cancels, 10% IOC sweeps across levels.

    The setup rests one order on each of the ten levels next to the reference price on
    both sides of every instrument and the rest of ``n_resting`` 30-200 ticks away. A
    cancel takes a live order uniformly at random; a sweep is an IOC order (a fifth of
    them market orders) for the other side's best 2-5 levels, capped at a few orders,
    priced at the last level it reaches, on the side that pulls the mid back towards the
    reference price. How adds are placed to keep the book steady is described in
    ``_carbon_stream``; ``stats["levels_per_sweep"]`` reports how many levels the sweeps
    actually traded at.

    Parameters
    ----------
    n_commands : int
        Length of the timed stream.
    n_resting : int
        Orders resting after setup.
    seed : int
        Seed of the random draws.
    shadow : type
        Engine class that simulates the stream while it is written.
    risk : bool
        Build the risk-on variant, ``carbon_mix_risk`` (see module docstring).
    n_accounts : int, optional
        Risk on: accounts to create and fund (default :data:`RISK_ACCOUNTS`).

    Returns
    -------
    Workload
    """
    rng = np.random.default_rng([seed, 0xB])
    accounts = _accounts_for(risk, n_accounts)
    setup = _carbon_setup(rng, n_resting, CARBON_FAR, accounts)
    return _carbon_stream("carbon_mix", rng, seed, setup, n_commands, CARBON_FAR, shadow, accounts, risk)


def deep_book(n_commands: int = 1_000_000, n_resting: int = 1_000_000, *, seed: int = 3,
              shadow=ReferenceEngine, risk: bool = False, n_accounts: int | None = None) -> Workload:
    """A 1,000,000-order book over twenty instruments, then the :func:`carbon_mix` stream.

    The setup is ``carbon_mix``'s, with the far orders 60-500 ticks from the reference
    price: about 57 orders on every level there. The sweeps work the thin top of the
    book; the cancels, uniform over live orders, mostly land inside those long queues,
    and the far adds (to the same region) keep the book near ``n_resting`` orders.

    Parameters
    ----------
    n_commands : int
        Length of the timed stream.
    n_resting : int
        Orders resting after setup.
    seed : int
        Seed of the random draws.
    shadow : type
        Engine class that simulates the stream while it is written; building a
        million-order book, the Cython engine is far faster than the reference model.
    risk : bool
        Build the risk-on variant, ``deep_book_risk``.
    n_accounts : int, optional
        Risk on: accounts to create and fund (default :data:`RISK_ACCOUNTS`).

    Returns
    -------
    Workload
    """
    rng = np.random.default_rng([seed, 0xC])
    accounts = _accounts_for(risk, n_accounts)
    setup = _carbon_setup(rng, n_resting, DEEP_FAR, accounts)
    return _carbon_stream("deep_book", rng, seed, setup, n_commands, DEEP_FAR, shadow, accounts, risk)


# --------------------------------------------------------------------------- broker_mix, broker_deep
BROKER_MIX = (0.62, 0.28, 0.10)     # adds, cancels, sweeps
BROKER_MARKETABLE = 0.125           # of the adds
BROKER_FAR = (20, 80)               # ticks: broker_mix's far adds, ~1,900 orders over ~120 levels
BROKER_DEEP_FAR = (1, 499)          # ... and broker_deep's: every tick of the band


def broker_mix(n_commands: int = 200_000, n_resting: int = 1_900, *, seed: int = 6,
               shadow=ReferenceEngine, risk: bool = False, n_accounts: int | None = None) -> Workload:
    """One instrument, the mix a broker's flow makes: 62% limit adds (an eighth of them
    marketable), 28% cancels anywhere in the book, 10% IOC sweeps; about 1,900 resting orders.

    The stream is :func:`carbon_mix`'s on one instrument, with the far adds 20-80 ticks out
    and an eighth of the adds priced at the other side's best.

    Parameters as :func:`carbon_mix`'s; ``risk`` builds ``broker_mix_risk``.
    """
    return _broker("broker_mix", BROKER_FAR, n_commands, n_resting, seed, shadow, risk, n_accounts)


def broker_deep(n_commands: int = 200_000, n_resting: int = 100_000, *, seed: int = 7,
                shadow=ReferenceEngine, risk: bool = False, n_accounts: int | None = None) -> Workload:
    """:func:`broker_mix`'s stream over a 100,000-order book: the far orders spread over every
    tick of the band (about 1,000 levels, some 100 orders deep), so cancels land anywhere
    in long queues. Parameters as :func:`broker_mix`'s."""
    return _broker("broker_deep", BROKER_DEEP_FAR, n_commands, n_resting, seed, shadow, risk, n_accounts)


def _broker(name: str, far: tuple[int, int], n_commands: int, n_resting: int, seed: int, shadow, risk: bool,
            n_accounts: int | None) -> Workload:
    rng = np.random.default_rng([seed, 0xD])
    accounts = _accounts_for(risk, n_accounts)
    setup = _carbon_setup(rng, n_resting, far, accounts, n_instruments=1)
    return _carbon_stream(name, rng, seed, setup, n_commands, far, shadow, accounts, risk, n_instruments=1,
                          mix=BROKER_MIX, marketable=BROKER_MARKETABLE)


# --------------------------------------------------------------------------- (d) fixed_price_takes
FIXED_PRICE_TAKES = "fixed_price_takes"
LISTING_QTY = (200, 1000)       # t per listing, drawn uniformly
LISTING_MIN_QTY = 100           # a take is at least this, or all that is left
LISTING_PRICES = BAND           # listings are priced uniformly over the whole band


def fixed_price_takes(n_commands: int = 100_000, n_resting: int = 100_000, *, seed: int = 4,
                      shadow=ReferenceEngine) -> Workload:
    """``n_resting`` fixed-price sell listings, then ``n_commands`` takes of them.

    The setup lists 200-1,000 t (minimum take 100 t) on one instrument at prices drawn
    uniformly from the band (1,001 levels, about 100 listings a level at full size), from
    accounts drawn as in the other workloads; the engine gives the listings order ids
    1..``n_resting``. Each take is a ``TAKE_FIXED`` of a different listing, drawn without
    replacement, by another account: half of them take the whole listing, the others 100 t
    up to all but one tonne. The instrument has ``must_take_best`` off, so any listing may
    be taken. Risk is off. The stream does not depend on the engine; the shadow only
    records ``stats``.

    Why not one price level, where the default ``must_take_best`` keeps every take legal:
    the reference model sums a level's orders for every depth event and removes an order
    from its level by a linear search, so on one 100,000-listing level each of its takes
    costs milliseconds (quadratic in the book), which would measure only that.

    >>> w = fixed_price_takes(n_commands=50, n_resting=80)
    >>> len(w.setup), len(w.timed), w.stats["rejected"], w.stats["trades"]
    (80, 50, 0, 50)
    """
    if not 0 <= n_commands <= n_resting:
        raise ValueError("fixed_price_takes takes each listing at most once: n_commands <= n_resting")
    rng = np.random.default_rng([seed, 0xD])
    ins_list = [Instrument(**{**ins.to_dict(), "must_take_best": False}) for ins in instruments(1)]
    seq = np.arange(1, n_resting + 1, dtype=np.int64)
    setup = np.zeros(n_resting, dtype=COMMAND_DTYPE)
    setup["seq"] = seq
    setup["ts"] = seq * TS_STEP
    setup["client_order_id"] = seq
    setup["type"] = CommandType.LIST_FIXED
    setup["instrument"] = 0
    setup["side"] = Side.SELL
    setup["price"] = rng.integers(LISTING_PRICES[0], LISTING_PRICES[1] + 1, n_resting)
    setup["qty"] = listed = rng.integers(LISTING_QTY[0], LISTING_QTY[1] + 1, n_resting)
    setup["min_qty"] = LISTING_MIN_QTY
    setup["account"] = lister = rng.integers(0, MAX_ACCOUNTS, n_resting)

    target = rng.permutation(n_resting)[:n_commands]                     # listing index = order id - 1
    partial = rng.integers(LISTING_MIN_QTY, listed[target])               # [100, listed - 1]
    whole = rng.random(n_commands) < 0.5
    taker = rng.integers(0, MAX_ACCOUNTS - 1, n_commands)
    taker += taker >= lister[target]                                      # never the lister
    seq = np.arange(n_resting + 1, n_resting + n_commands + 1, dtype=np.int64)
    timed = np.zeros(n_commands, dtype=COMMAND_DTYPE)
    timed["seq"] = seq
    timed["ts"] = seq * TS_STEP
    timed["client_order_id"] = seq
    timed["type"] = CommandType.TAKE_FIXED
    timed["order_id"] = target + 1
    timed["account"] = taker
    timed["qty"] = np.where(whole, listed[target], partial)

    sim = _Shadow(shadow, ins_list, setup, n_commands)
    for i in range(n_commands):
        sim.step(timed, i, "take")
    return Workload(FIXED_PRICE_TAKES, ins_list, setup, timed, seed, stats=sim.stats())


# --------------------------------------------------------------------------- (e) auction_clearing
AUCTION_CLEARING = "auction_clearing"
AUCTION_ACCOUNT = 0             # the initiator, selling the lot; bidders are other accounts
AUCTION_RESERVE = 4_900         # fen per tonne, 2% below the reference price
AUCTION_PRICES = (4_900, 5_100)  # bids uniformly over these 201 ticks, the reserve up
AUCTION_MIN_BID = 100           # t
AUCTION_BID_QTY = (100, 1_000)  # t per bid, drawn uniformly (the lot is 1 t)


def auction_clearing(n_bids: int = 10_000, *, seed: int = 5, shadow=ReferenceEngine) -> Workload:
    """A sealed-bid auction of ``n_bids`` bids; the timed stream is the ``AUCTION_CLOSE``.

    ``setup[0]`` is an ``AUCTION_OPEN`` by account 0 selling, on one instrument (risk off),
    half the total quantity of the bids (at least the minimum bid, at most the largest
    order) at reserve :data:`AUCTION_RESERVE`, minimum bid :data:`AUCTION_MIN_BID` t,
    uniform price, no bidder cap; in a fresh engine it gets order id 1, the auction id.
    ``setup[1:]`` are the ``n_bids`` ``AUCTION_BID`` commands, from distinct accounts
    (1..99,999, drawn without replacement), for 100-1,000 t at prices drawn uniformly from
    :data:`AUCTION_PRICES` (on the tick, the reserve up, about 50 bids a price at full size).
    ``timed`` is the single ``AUCTION_CLOSE``: about half the bids fill (one of them
    partly, at the uniform clearing price near 5,000 fen), the rest are cancelled.

    The commands do not depend on the engine; the ``shadow`` engine processes them to record
    ``stats``: ``bids``, ``rejected`` (all commands), ``trades``, ``cancelled``, ``outcome``
    (an :class:`matching.AuctionOutcome` name), ``clearing_price``, ``volume``, ``bid_volume``,
    ``sold``, ``events`` (of the close), ``resting_start`` and ``resting_end`` (orders resting
    before and after the close) and ``reject_fraction``.

    >>> w = auction_clearing(n_bids=200)
    >>> len(w.setup), len(w.timed), w.stats["rejected"], w.stats["outcome"]
    (201, 1, 0, 'CLEARED')
    >>> 0 < w.stats["trades"] < 200 and w.stats["trades"] + w.stats["cancelled"] in (200, 201)
    True
    """
    if not 1 <= n_bids < MAX_ACCOUNTS:
        raise ValueError(f"auction_clearing takes one bid per account: 1 <= n_bids < {MAX_ACCOUNTS}")
    rng = np.random.default_rng([seed, 0xE])
    ins_list = instruments(1)
    account = rng.choice(MAX_ACCOUNTS - 1, n_bids, replace=False) + 1      # never the initiator
    qty = rng.integers(AUCTION_BID_QTY[0], AUCTION_BID_QTY[1] + 1, n_bids)
    price = rng.integers(AUCTION_PRICES[0], AUCTION_PRICES[1] + 1, n_bids)
    volume = int(min(max(int(qty.sum()) // 2, AUCTION_MIN_BID), MAX_QTY))

    cmds = _numbered(n_bids + 2)                                          # open, bids, close
    opening, bids, close = cmds[:1], cmds[1:-1], cmds[-1:]
    opening["type"] = CommandType.AUCTION_OPEN
    opening["instrument"] = 0
    opening["account"] = AUCTION_ACCOUNT
    opening["side"] = Side.SELL
    opening["qty"] = volume
    opening["price"] = AUCTION_RESERVE
    opening["min_qty"] = AUCTION_MIN_BID
    opening["client_order_id"] = 0                                        # the tie-break seed: unused
    bids["type"] = CommandType.AUCTION_BID
    bids["order_id"] = 1                                                  # the auction id
    bids["account"] = account
    bids["qty"] = qty
    bids["price"] = price
    close["type"] = CommandType.AUCTION_CLOSE
    close["instrument"] = 0
    close["client_order_id"] = 0
    setup, timed = cmds[:-1].copy(), cmds[-1:].copy()
    setup_events, resting_start, events, resting_end = _shadow_closing(shadow, ins_list, setup, timed)
    return Workload(AUCTION_CLEARING, ins_list, setup, timed, seed, stats=_auction_stats(
        setup_events, events, n_bids, resting_start, resting_end))


def _numbered(n: int) -> np.ndarray:
    """``n`` zeroed commands whose seq and client order id count from 1, ``TS_STEP`` apart."""
    cmds = np.zeros(n, dtype=COMMAND_DTYPE)
    cmds["seq"] = cmds["client_order_id"] = np.arange(1, n + 1, dtype=np.int64)
    cmds["ts"] = cmds["seq"] * TS_STEP
    return cmds


def _shadow_closing(shadow, ins_list, setup: np.ndarray, timed: np.ndarray) -> tuple:
    """A one-command workload through ``shadow``: ``(setup events, orders resting before the
    timed command, its events, orders resting after)``."""
    engine = _new_engine(shadow, ins_list, False, None)
    setup_events = np.concatenate([engine.process(setup[i:i + SETUP_CHUNK])
                                   for i in range(0, len(setup), SETUP_CHUNK)])
    resting_start = engine.resting_orders
    events = engine.process(timed)
    return setup_events, resting_start, events, engine.resting_orders


# --------------------------------------------------------------------------- (f) call_uncrossing
CALL_UNCROSSING = "call_uncrossing"
CALL_MARKET_SHARE = 0.01         # of the orders, market orders (IOC: cancelled if left over)


def call_uncrossing(n_orders: int = 100_000, *, seed: int = 8, shadow=ReferenceEngine) -> Workload:
    """A call auction of ``n_orders`` orders; the timed stream is the move to TRADING.

    ``setup[0]`` puts the one instrument (risk off) into CALL; ``setup[1:]`` are the orders,
    half buys and half sells from accounts 0..99,999, 1-100 t, one in a hundred a market
    order (IOC), the rest GTC limits whose prices spread 100 ticks each side of the
    reference (5,000 fen, tick 1): buys from 4,900 to 5,030, sells from 4,970 to 5,100, so
    about a third of each side crosses the other. ``timed`` is the one
    ``SET_INSTRUMENT_STATUS`` to TRADING: thousands of trades at one price, the market
    orders left over cancelled.

    The shadow engine records ``stats`` as :func:`uncross_summary` gives them, with
    ``resting_start`` and ``resting_end``.

    >>> w = call_uncrossing(n_orders=2_000)
    >>> len(w.setup), len(w.timed), w.stats["rejected"], 4_970 <= w.stats["clearing_price"] <= 5_030
    (2001, 1, 0, True)
    >>> w.stats["trades"] > 100 and w.stats["resting_end"] < w.stats["resting_start"]
    True
    """
    rng = np.random.default_rng([seed, 0xC])
    ins_list = instruments(1)
    cmds = _numbered(n_orders + 2)                                        # call, orders, uncrossing
    start, orders, end = cmds[:1], cmds[1:-1], cmds[-1:]
    start["type"] = end["type"] = CommandType.SET_INSTRUMENT_STATUS
    start["status"], end["status"] = InstrumentStatus.CALL, InstrumentStatus.TRADING
    side = rng.integers(1, 3, n_orders)
    market = rng.random(n_orders) < CALL_MARKET_SHARE
    orders["type"] = CommandType.NEW_ORDER
    orders["account"] = rng.integers(0, MAX_ACCOUNTS, n_orders)
    orders["side"] = side
    orders["qty"] = rng.integers(1, 101, n_orders)
    orders["order_type"] = np.where(market, OrderType.MARKET, OrderType.LIMIT)
    orders["tif"] = np.where(market, TimeInForce.IOC, TimeInForce.GTC)
    reference = ins_list[0].reference_price
    low = np.where(side == Side.BUY, reference - 100, reference - 30)
    orders["price"] = np.where(market, 0, low + rng.integers(0, 131, n_orders))
    setup, timed = cmds[:-1].copy(), cmds[-1:].copy()
    setup_events, resting_start, events, resting_end = _shadow_closing(shadow, ins_list, setup, timed)
    rejected = int(np.count_nonzero(setup_events["kind"] == EventKind.REJECTED)
                   + np.count_nonzero(events["kind"] == EventKind.REJECTED))
    return Workload(CALL_UNCROSSING, ins_list, setup, timed, seed, stats={
        "commands": 1, "orders": n_orders, "rejected": rejected, "reject_fraction": rejected / (n_orders + 2),
        **uncross_summary(events), "resting_start": resting_start, "resting_end": resting_end})


def uncross_summary(events: np.ndarray) -> dict:
    """What the end of a call says: ``trades``, ``cancelled`` (market orders left over),
    ``events``, ``outcome`` (UNCROSSED, or NOTHING_CROSSED), ``clearing_price`` (the one price of its trades; None without trades) and
    ``volume`` (tonnes traded)."""
    kinds = events["kind"]
    trades = events[kinds == EventKind.TRADE]
    prices = set(trades["price"].tolist())
    return {
        "trades": len(trades),
        "cancelled": int(np.count_nonzero(kinds == EventKind.CANCELLED)),
        "events": len(events),
        "outcome": "UNCROSSED" if len(trades) else "NOTHING_CROSSED",
        "clearing_price": prices.pop() if len(prices) == 1 else None,
        "volume": int(trades["qty"].sum()),
    }


def auction_summary(events: np.ndarray) -> dict:
    """What an ``AUCTION_CLOSE``'s ``events`` say: ``trades``, ``cancelled`` (bids or their
    unfilled rest), ``events``, and from its AUCTION_RESULT ``outcome`` (an
    :class:`matching.AuctionOutcome` name), ``clearing_price``, ``volume``, ``bid_volume``
    and ``sold`` (None without one, e.g. when the close was rejected).
    """
    kinds = events["kind"]
    out = {
        "trades": int(np.count_nonzero(kinds == EventKind.TRADE)),
        "cancelled": int(np.count_nonzero(kinds == EventKind.CANCELLED)),
        "events": len(events),
        "outcome": None, "clearing_price": None, "volume": None, "bid_volume": None, "sold": None,
    }
    result = events[kinds == EventKind.AUCTION_RESULT]
    if len(result):
        r = result[-1]
        out.update(outcome=AuctionOutcome(int(r["reason"])).name, clearing_price=int(r["price"]),
                   volume=int(r["qty"]) + int(r["leaves"]), bid_volume=int(r["value"]), sold=int(r["qty"]))
    return out


def _auction_stats(setup_events: np.ndarray, events: np.ndarray, n_bids: int, resting_start: int,
                   resting_end: int) -> dict:
    """What the shadow engine did with an auction_clearing workload (see :func:`auction_clearing`)."""
    reasons: dict[str, int] = {}
    for e in (setup_events, events):
        for code in e["reason"][e["kind"] == EventKind.REJECTED].tolist():
            name = _reason_name(code)
            reasons[name] = reasons.get(name, 0) + 1
    rejected = sum(reasons.values())
    return {
        "commands": 1,
        "bids": n_bids,
        "rejected": rejected,
        "reject_fraction": rejected / (n_bids + 2),
        "rejected_by_reason": reasons,
        **auction_summary(events),
        "resting_start": resting_start,
        "resting_end": resting_end,
    }


# --------------------------------------------------------------------------- the registry
BASE_WORKLOADS = {
    "broker_mix": broker_mix,
    "broker_deep": broker_deep,
    "exchange_core_mix": exchange_core_mix,
    "carbon_mix": carbon_mix,
    "deep_book": deep_book,
}
# Every workload, each followed by its risk-on variant (run next to each other, so that
# their ratio compares runs made close in time).
WORKLOADS = {}
for _name, _generator in BASE_WORKLOADS.items():
    WORKLOADS[_name] = _generator
    WORKLOADS[risk_name(_name)] = partial(_generator, risk=True)
del _name, _generator


def generate(name: str, **kwargs) -> Workload:
    """Generate the workload called ``name`` (a key of :data:`WORKLOADS`,
    ``"fixed_price_takes"``, ``"auction_clearing"`` or ``"call_uncrossing"``), passing the
    generator's keyword arguments.

    >>> generate("carbon_mix", n_commands=100, n_resting=400).name
    'carbon_mix'
    >>> generate("carbon_mix_risk", n_commands=100, n_resting=400, n_accounts=20).accounts
    20
    """
    if name == FIXED_PRICE_TAKES:
        return fixed_price_takes(**kwargs)
    if name == AUCTION_CLEARING:
        return auction_clearing(**kwargs)
    if name == CALL_UNCROSSING:
        return call_uncrossing(**kwargs)
    try:
        generator = WORKLOADS[name]
    except KeyError:
        raise ValueError(f"unknown workload {name!r}; choose from "
                         f"{', '.join([*WORKLOADS, FIXED_PRICE_TAKES, AUCTION_CLEARING, CALL_UNCROSSING])}") from None
    return generator(**kwargs)
