"""The demo's market and its simulated trading day, generated from a seed before anything runs.

:func:`market_toml` is the embedded default market (``chuanyu config example``) with the
demo's cast of member firms added to the two platforms, the schedule switched off (the demo
drives phases itself, so wall-clock time cannot change what happens) and every port left to
the operating system. :func:`plan_day` turns a seed into the whole day as a list of
:class:`Step`: the same seed always gives the same steps, so the same commands reach the
engine in the same order and the end-of-day report is the same.

The day runs 240 simulated minutes, 09:30-11:30 and 13:00-15:00, one step a minute:

- 09:30 an opening call auction: the orders of the first three minutes collect, crossing
  ones too, and at 09:33 each book uncrosses at the one price that executes the most;
- continuous trading all day: compliance buyers short of allowances bid, firms with a
  surplus offer, investors do both, on their own platform's allowance and across regions;
- 09:45 fixed-price listings (power companies of both regions and a Sichuan forestry CER
  project sell, a Chongqing chemical company buys), taken by counterparties until 11:20;
- 10:30-11:15 a single-direction auction of CERs by their Sichuan project owner;
- all day a designated market maker (Tianfu Market Making) quotes Sichuan allowances on both
  sides around the book's midpoint, requoting every two minutes, except 14:10-14:25 when it
  steps away: the end-of-day report measures its presence, spread and size against its obligation,
  and its continuous trades pay the market's fee less its rebate;
- 11:22 a careless buy of Sichuan allowances sweeps the offers up to one far over the
  market: that trade would print outside the dynamic band, so a volatility interruption (a
  call) starts instead; the buyer cancels the rest at 11:23 and at 11:25 the operator ends
  the interruption with the uncrossing;
- 13:00 the block window opens: a directed cross-regional block (Chongqing steel to Sichuan
  petrochemical) and a public block of Sichuan allowances;
- 13:20-14:20 a primary auction of Chongqing reserve allowances by the issuer;
- 14:56 the block window closes; 15:00 the end of day.

Every account stays within what it was given: the plan counts every sell against the
account's holdings and every buy against its cash (whether or not the order fills), so the
engine never has a reason to refuse a step for lack of funds.

>>> a, b = plan_day(7), plan_day(7)
>>> a == b, a == plan_day(8)
(True, False)
"""
from __future__ import annotations

import datetime
import random
import tomllib
from dataclasses import dataclass, field
from typing import Any

from matching import InstrumentStatus, Region, Sector, Side, commands
from matching.money import buy_hold

__all__ = ["Firm", "Action", "Step", "CAST", "SHORT_NAMES", "STEPS", "market_toml", "plan_day", "clock_label",
           "firm"]

STEPS = 240                       # simulated minutes: 09:30-11:30 and 13:00-15:00
OPENING_CALL_STEPS = 3            # 09:30-09:33: the opening call auction
INTERRUPTION_STEP = 112           # 11:22: after the last fixed-price take, before the block window
INTERRUPTION_STEPS = 3            # a volatility interruption ends three minutes after it starts
SCEA, CQEA, CCER = 0, 1, 2        # instrument indices of the embedded default market
REFERENCE = {SCEA: 5000, CQEA: 4480, CCER: 6000}
TICK = {SCEA: 1, CQEA: 1, CCER: 5}
BAND_BPS = {SCEA: 1000, CQEA: 1000, CCER: 2000}
CONTINUOUS_FEE_BPS = 50           # the default market's continuous fee, per side
MAKER = 17                        # the designated market maker's account
MAKER_OBLIGATION = {"max_spread_bps": 150, "min_qty": 1_000, "presence_pct": 80,
                    "rebate_bps": {"continuous": 30}}
MAKER_QTY = 1_500                 # tonnes a side
MAKER_HALF_SPREAD_BPS = 50        # of the book's midpoint: quotes about 100 bps apart
MAKER_REQUOTE_STEPS = 2
MAKER_AWAY = range(190, 205)      # 14:10-14:25: the maker steps away


@dataclass(frozen=True)
class Firm:
    """One account of the demo and the role it plays."""

    account: int
    member: int
    name: str
    region: Region
    sector: Sector
    role: str                     # "buyer" (short of allowances), "seller" (surplus), "investor",
    cash: int                     # "cer" (CER project owner), "issuer" or "maker"; cash in fen
    holdings: dict = field(default_factory=dict)       # instrument index -> tonnes
    new: bool = True              # added by the demo (False: already in the embedded default)


_SC, _CQ = Region.SC, Region.CQ
# Accounts 1-4 are the embedded default's; the demo adds the others so that member firms of
# all eight sectors, investors, a CER project owner and an issuer take part.
CAST = (
    Firm(1, 101, "Chengdu Power Generation", _SC, Sector.POWER, "seller", 500_000_000,
         {SCEA: 200_000, CCER: 20_000}, new=False),
    Firm(2, 102, "Sichuan Cement Group", _SC, Sector.BUILDING_MATERIALS, "buyer", 300_000_000,
         {SCEA: 100_000}, new=False),
    Firm(3, 201, "Chongqing Steel Works", _CQ, Sector.STEEL, "seller", 500_000_000, {CQEA: 200_000}, new=False),
    Firm(4, 202, "Chongqing Green Investment", _CQ, Sector.INVESTOR, "investor", 800_000_000,
         {CQEA: 50_000, SCEA: 50_000, CCER: 50_000}, new=False),
    Firm(11, 103, "Sichuan Petrochemical", _SC, Sector.PETROCHEMICAL, "buyer", 2_000_000_000, {SCEA: 20_000}),
    Firm(12, 104, "Leshan Paper Mill", _SC, Sector.PAPER, "buyer", 300_000_000, {SCEA: 10_000}),
    Firm(13, 105, "Sichuan Airlines", _SC, Sector.AVIATION, "buyer", 600_000_000, {}),
    Firm(14, 106, "Panzhihua Titanium", _SC, Sector.NON_FERROUS, "seller", 100_000_000, {SCEA: 250_000}),
    Firm(15, 107, "Tianfu Carbon Fund", _SC, Sector.INVESTOR, "investor", 1_500_000_000,
         {SCEA: 60_000, CQEA: 30_000, CCER: 10_000}),
    Firm(16, 108, "Liangshan Forestry Carbon Sink", _SC, Sector.OTHER, "cer", 10_000_000, {CCER: 120_000}),
    Firm(MAKER, 109, "Tianfu Market Making", _SC, Sector.INVESTOR, "maker", 1_000_000_000, {SCEA: 180_000}),
    Firm(21, 203, "Chongqing Chemical Industry", _CQ, Sector.CHEMICAL, "buyer", 600_000_000, {CQEA: 10_000}),
    Firm(22, 204, "Chongqing Aluminium", _CQ, Sector.NON_FERROUS, "buyer", 500_000_000, {CQEA: 20_000}),
    Firm(23, 205, "Chongqing Energy Power", _CQ, Sector.POWER, "seller", 200_000_000, {CQEA: 180_000}),
    Firm(24, 206, "Chongqing Cement", _CQ, Sector.BUILDING_MATERIALS, "buyer", 400_000_000, {CQEA: 15_000}),
    Firm(29, 209, "Chongqing Allowance Reserve (issuer)", _CQ, Sector.OTHER, "issuer", 0, {}),
)
_BY_ACCOUNT = {f.account: f for f in CAST}
# The firms' names in at most 14 characters: the dashboard's trade columns at 80 columns hold them whole.
SHORT_NAMES = {1: "Chengdu Power", 2: "Sichuan Cement", 3: "Steel Works", 4: "Green Invest",
               11: "Petrochemical", 12: "Leshan Paper", 13: "Sichuan Air", 14: "Panzhihua Ti", 15: "Tianfu Fund",
               16: "Liangshan Sink", MAKER: "Market Maker", 21: "Chongqing Chem", 22: "Aluminium", 23: "Energy Power", 24: "Cement",
               29: "Reserve"}


def firm(account: int) -> Firm:
    return _BY_ACCOUNT[account]


def clock_label(step: int) -> str:
    """The simulated time of a step: 09:30 + step minutes in the morning, 13:00 on after 120."""
    minutes = 9 * 60 + 30 + step if step < 120 else 13 * 60 + step - 120
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


# ------------------------------------------------------------------ the market
def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, (datetime.date, datetime.time)):      # TOML local dates and times
        return value.isoformat()
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{k} = {_toml_value(v)}" for k, v in value.items()) + " }"
    raise TypeError(f"no TOML form for {value!r}")


def _dump_toml(data: dict) -> str:
    """TOML for the configuration's shapes: tables of scalars, lists and inline tables, and
    arrays of tables (no nesting beyond what ``exchange.config`` reads)."""
    lines: list[str] = []

    def table(name: str, body: dict, header: str) -> None:
        scalars = {k: v for k, v in body.items() if not (isinstance(v, dict) and k != "holdings")}
        lines.append(header.format(name))
        lines.extend(f"{k} = {_toml_value(v)}" for k, v in scalars.items())
        lines.append("")
        for k, v in body.items():
            if isinstance(v, dict) and k != "holdings":
                table(f"{name}.{k}", v, "[{}]")

    for name, value in data.items():
        if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
            for row in value:
                table(name, row, "[[{}]]")
        elif isinstance(value, dict):
            table(name, value, "[{}]")
    return "\n".join(lines)


def market_toml(year: int | None = None) -> str:
    """The embedded default market with the demo's cast, no schedule and free ports, as TOML."""
    from exchange.config import example_toml

    data = tomllib.loads(example_toml(year))
    symbols = [i["symbol"] for i in data["instruments"]]
    known_members = {m["id"] for m in data["members"]}
    known_accounts = {a["id"] for a in data["accounts"]}
    for f in CAST:
        if not f.new:
            if f.account not in known_accounts:
                raise ValueError(f"the embedded default market no longer has account {f.account} ({f.name})")
            continue
        if f.member not in known_members:
            data["members"].append({"id": f.member, "name": f.name, "region": f.region.name})
            known_members.add(f.member)
        row = {"id": f.account, "member": f.member, "sector": f.sector.name, "cash": f.cash}
        if f.holdings:
            row["holdings"] = {symbols[n]: qty for n, qty in sorted(f.holdings.items())}
        data["accounts"].append(row)
    platform = {"sc-platform": Region.SC, "cq-platform": Region.CQ}
    for s in data["sessions"]:
        region = platform.get(s["name"])
        if region is not None:
            s["members"] = sorted(set(s["members"]) | {f.member for f in CAST
                                                       if f.region == region and f.role != "issuer"})
    for section in ("network", "daemon"):       # every listening port: any free one, or off
        for key in data.get(section, {}):
            if key.endswith("_port"):
                data[section][key] = 0
    data["market_makers"] = [{"account": MAKER, "instruments": [symbols[SCEA]], **MAKER_OBLIGATION}]
    data.setdefault("schedule", {})["enabled"] = False
    data["schedule"].pop("instruments", None)
    return ("# chuanyu demo market: the embedded default (`chuanyu config example`) with the demo's\n"
            "# member firms added, the schedule off (the demo drives the day) and free ports.\n\n"
            + _dump_toml(data))


# ------------------------------------------------------------------ the day
@dataclass(frozen=True)
class Action:
    """One thing a platform or the operator does.

    ``kind``: ``order`` (a continuous DAY limit order), ``cancel`` (of ``target``; with a
    ``side``, the market maker's quote on that side, if any is left), ``requote``
    (the market maker's quote ``ref`` moved to ``qty`` at ``extra[0]`` bps from the book's
    midpoint as it is when the action runs, or placed anew when it is gone), ``list`` /
    ``take`` (fixed-price),
    ``quote`` / ``accept`` (block), ``bid`` (auction), and the operator's ``phase`` (``qty``:
    the InstrumentStatus), ``block_window``, ``auction_open``, ``auction_close`` and
    ``end_of_day``. ``ref`` names what the action
    creates (a listing, a quote, an auction) so later actions can point at it with
    ``target``; the engine's id for it is only known when the daemon acknowledges it.
    """

    kind: str
    account: int = 0
    instrument: int = 0
    side: int = 0
    qty: int = 0
    price: int = 0
    min_qty: int = 0
    contra: int = commands.PUBLIC
    ref: str = ""
    target: str = ""
    extra: tuple = ()             # auction_open: (min_bid, bidder_cap, flags, cancel_below_bps, seed)

    @property
    def platform(self) -> str:
        """``SC`` / ``CQ`` for a platform's action, ``operator`` for the operator's."""
        if self.kind in OPERATOR_ACTIONS:
            return "operator"
        return firm(self.account).region.name

    @property
    def trade_type(self) -> str:
        return _TYPE_OF.get(self.kind, "")


OPERATOR_ACTIONS = ("phase", "block_window", "auction_open", "auction_close", "end_of_day")
_TYPE_OF = {"order": "CONTINUOUS", "requote": "CONTINUOUS", "list": "FIXED", "take": "FIXED", "quote": "BLOCK", "accept": "BLOCK",
            "bid": "AUCTION", "auction_open": "AUCTION"}


@dataclass(frozen=True)
class Step:
    step: int
    actions: tuple
    note: str = ""                # a line of the story, for the log

    @property
    def clock(self) -> str:
        return clock_label(self.step)


class _Books:
    """What each account may still commit: holdings it has not offered, cash it has not bid."""

    def __init__(self) -> None:
        self.units = {(f.account, n): q for f in CAST for n, q in f.holdings.items()}
        self.cash = {f.account: f.cash for f in CAST}

    def can_sell(self, account: int, n: int, qty: int) -> bool:
        return self.units.get((account, n), 0) >= qty

    def sell(self, account: int, n: int, qty: int) -> None:
        self.units[(account, n)] = self.units.get((account, n), 0) - qty
        assert self.units[(account, n)] >= 0, "the plan offered units an account does not have"

    def can_buy(self, account: int, price: int, qty: int, fee_bps: int = 0) -> bool:
        return self.cash[account] >= buy_hold(price, qty, fee_bps)

    def buy(self, account: int, price: int, qty: int, fee_bps: int = 0) -> None:
        self.cash[account] -= buy_hold(price, qty, fee_bps)
        assert self.cash[account] >= 0, "the plan bid cash an account does not have"


def _band(n: int) -> tuple[int, int]:
    ref, bps, tick = REFERENCE[n], BAND_BPS[n], TICK[n]
    delta = ref * bps // 10000
    return -(-(ref - delta) // tick) * tick, (ref + delta) // tick * tick


def _on_tick(n: int, price: float) -> int:
    low, high = _band(n)
    return min(high, max(low, int(round(price / TICK[n])) * TICK[n]))


def _lots(rng: random.Random, low: int, high: int, lot: int = 100) -> int:
    return rng.randrange(low // lot, high // lot + 1) * lot


def plan_day(seed: int) -> list[Step]:
    """The whole simulated day for ``seed``: ``STEPS + 1`` steps (the last one is the end of day)."""
    rng = random.Random(seed)
    books = _Books()
    # Each instrument's fair value wanders from where the day opens; the day's mood (a
    # shortage in Sichuan, a surplus in Chongqing, ...) is part of the seed.
    fair = {n: REFERENCE[n] * (1 + rng.uniform(-0.03, 0.04)) for n in REFERENCE}
    drift = {n: rng.uniform(-0.0002, 0.0003) for n in REFERENCE}
    steps: list[list[Action]] = [[] for _ in range(STEPS + 1)]
    notes = [""] * (STEPS + 1)

    # ---- 09:30-09:33 the opening call auction, before any order of its minutes
    steps[0] += [Action("phase", instrument=n, qty=InstrumentStatus.CALL) for n in REFERENCE]
    steps[OPENING_CALL_STEPS] += [Action("phase", instrument=n, qty=InstrumentStatus.TRADING) for n in REFERENCE]
    notes[OPENING_CALL_STEPS] = "the open: each book uncrosses at one price"
    # opening interest on both allowances: bids over the fair value and offers under it cross
    opening = []
    for n, buyer, seller in ((SCEA, 11, 14), (CQEA, 21, 23)):
        for k in range(3):
            qty = _lots(rng, 1_000, 5_000)
            bid = _on_tick(n, fair[n] * (1 + rng.uniform(0.001, 0.008)))
            ask = _on_tick(n, fair[n] * (1 - rng.uniform(0.001, 0.008)))
            if books.can_buy(buyer, bid, qty, CONTINUOUS_FEE_BPS) and books.can_sell(seller, n, qty):
                books.buy(buyer, bid, qty, CONTINUOUS_FEE_BPS)
                books.sell(seller, n, qty)
                opening += [Action("order", account=buyer, instrument=n, side=Side.BUY, qty=qty, price=bid),
                            Action("order", account=seller, instrument=n, side=Side.SELL, qty=qty, price=ask)]
    steps[1] += opening

    # Units the story's set pieces need are put aside first, so continuous trading cannot use them.
    block_cq = Action("quote", account=3, instrument=CQEA, side=Side.SELL, qty=120_000,
                      price=_on_tick(CQEA, fair[CQEA] * rng.uniform(0.97, 1.0)), contra=11, ref="block-cq")
    block_sc = Action("quote", account=14, instrument=SCEA, side=Side.SELL, qty=100_000,
                      price=_on_tick(SCEA, fair[SCEA] * rng.uniform(0.96, 0.99)), ref="block-sc")
    cer_lot = 40_000
    for a in (block_cq, block_sc):
        books.sell(a.account, a.instrument, a.qty)
    books.sell(16, CCER, cer_lot)
    books.buy(11, block_cq.price, block_cq.qty)
    books.buy(15, block_sc.price, block_sc.qty)

    # ---- 09:45 fixed-price listings
    listings = []            # [action, remaining]
    for account, n, side, qty, min_take, premium in ((23, CQEA, Side.SELL, 30_000, 2_000, 0.005),
                                                      (16, CCER, Side.SELL, 20_000, 1_000, -0.01),
                                                      (1, SCEA, Side.SELL, 20_000, 2_000, 0.01),
                                                      (21, CQEA, Side.BUY, 10_000, 1_000, -0.01)):
        price = _on_tick(n, fair[n] * (1 + premium + rng.uniform(-0.005, 0.005)))
        ref = f"listing-{account}-{n}"
        if side == Side.SELL:
            books.sell(account, n, qty)
        else:
            books.buy(account, price, qty)
        listings.append([Action("list", account=account, instrument=n, side=side, qty=qty, price=price,
                                min_qty=min_take, ref=ref), qty])
    steps[15] += [a for a, _ in listings]
    notes[15] = "fixed-price listings posted"
    takers = {SCEA: [2, 12, 15, 4], CQEA: [21, 22, 24, 4, 15], CCER: [13, 11, 4]}
    sellers_for_buy_listing = [3, 23]
    for step in range(20, 111, 3):
        open_ = [item for item in listings if item[1] > 0]
        if not open_:
            break
        item = open_[rng.randrange(len(open_))]
        listing, left = item
        # must_take_best: only the best-priced open listing of that side may be taken
        same = [x for x in open_ if x[0].instrument == listing.instrument and x[0].side == listing.side]
        best = min(same, key=lambda x: x[0].price if listing.side == Side.SELL else -x[0].price)
        listing, left = best
        qty = left if left <= listing.min_qty * 2 else _lots(rng, listing.min_qty, min(left, 8_000))
        if listing.side == Side.SELL:
            candidates = [a for a in takers[listing.instrument] if books.can_buy(a, listing.price, qty)]
        else:
            candidates = [a for a in sellers_for_buy_listing if books.can_sell(a, listing.instrument, qty)]
        if not candidates:
            continue
        taker = candidates[rng.randrange(len(candidates))]
        if listing.side == Side.SELL:
            books.buy(taker, listing.price, qty)
        else:
            books.sell(taker, listing.instrument, qty)
        best[1] -= qty
        steps[step].append(Action("take", account=taker, qty=qty, target=listing.ref,
                                  instrument=listing.instrument, price=listing.price,
                                  side=Side.BUY if listing.side == Side.SELL else Side.SELL))

    # ---- 10:30-11:15 single-direction CER auction, uniform price
    reserve = _on_tick(CCER, REFERENCE[CCER] * rng.uniform(0.9, 0.95))
    cap = 15_000
    steps[60].append(Action("auction_open", account=16, instrument=CCER, side=Side.SELL, qty=cer_lot,
                            price=reserve, ref="cer-auction", extra=(1_000, cap, 0, 0, rng.randrange(1, 2**31))))
    notes[60] = f"CER auction opens: {cer_lot:,} t, reserve {reserve / 100:.2f}"
    bid_total = 0
    cer_bidders = [13, 11, 21, 24, 15, 4, 12, 22]
    rng.shuffle(cer_bidders)
    for i, account in enumerate(cer_bidders):
        qty = _lots(rng, 2_000, 12_000, 1_000)
        price = _on_tick(CCER, reserve * rng.uniform(1.0, 1.12))
        if books.can_buy(account, price, qty):
            books.buy(account, price, qty)
            bid_total += qty
            steps[62 + 5 * i].append(Action("bid", account=account, instrument=CCER, side=Side.BUY, qty=qty,
                                            price=price, target="cer-auction"))
    steps[105].append(Action("auction_close", instrument=CCER))
    notes[105] = "CER auction closes"

    # ---- 13:00 block window; a directed cross-regional block and a public one
    steps[120] += [Action("block_window", instrument=SCEA, qty=1), Action("block_window", instrument=CQEA, qty=1)]
    notes[120] = "block window opens"
    steps[126].append(block_cq)
    steps[132].append(Action("accept", account=11, instrument=CQEA, side=Side.BUY, qty=block_cq.qty,
                             price=block_cq.price, target="block-cq"))
    steps[150].append(block_sc)
    steps[158].append(Action("accept", account=15, instrument=SCEA, side=Side.BUY, qty=block_sc.qty,
                             price=block_sc.price, target="block-sc"))
    steps[236] += [Action("block_window", instrument=SCEA, qty=0), Action("block_window", instrument=CQEA, qty=0)]
    notes[236] = "block window closes"

    # ---- 13:20-14:20 primary auction of Chongqing reserve allowances
    volume = 60_000
    p_reserve = _on_tick(CQEA, REFERENCE[CQEA] * rng.uniform(0.92, 0.95))
    steps[140].append(Action("auction_open", account=29, instrument=CQEA, side=Side.SELL, qty=volume,
                             price=p_reserve, ref="primary",
                             extra=(1_000, 25_000, commands.FLAG_PRIMARY, 1_000, rng.randrange(1, 2**31))))
    notes[140] = f"primary auction of Chongqing reserve allowances opens: {volume:,} t, reserve {p_reserve / 100:.2f}"
    bidders = [21, 22, 24, 4, 11, 2, 12, 13]
    rng.shuffle(bidders)
    bid_total, step = 0, 142
    while bid_total < volume * 13 // 10 and step < 198:
        account = bidders[(step - 142) // 4 % len(bidders)]
        qty = _lots(rng, 3_000, 12_000, 1_000)
        price = _on_tick(CQEA, max(p_reserve, fair[CQEA] * rng.uniform(0.95, 1.01)))
        mine = sum(a.qty for s in steps for a in s if a.kind == "bid" and a.target == "primary"
                   and a.account == account)
        if mine + qty <= 25_000 and books.can_buy(account, price, qty):
            books.buy(account, price, qty)
            bid_total += qty
            steps[step].append(Action("bid", account=account, instrument=CQEA, side=Side.BUY, qty=qty,
                                      price=price, target="primary"))
        step += 4
    steps[200].append(Action("auction_close", instrument=CQEA))
    notes[200] = "primary auction closes"

    # ---- continuous trading all day
    buyers = [f.account for f in CAST if f.role in ("buyer", "investor")]
    sellers = {n: [f.account for f in CAST if f.role in ("seller", "investor", "cer") and n in f.holdings]
               for n in REFERENCE}
    for step in range(STEPS):
        for n in REFERENCE:
            fair[n] = min(REFERENCE[n] * 1.07, max(REFERENCE[n] * 0.93,
                                                    fair[n] * (1 + drift[n] + rng.gauss(0, 0.0015))))
        for _ in range(rng.choice((1, 1, 2, 2, 3))):
            n = rng.choices((SCEA, CQEA, CCER), (45, 40, 15))[0]
            side = Side.BUY if rng.random() < 0.5 else Side.SELL
            aggressive = rng.random() < 0.4
            offset = fair[n] * rng.uniform(0.0005, 0.006)
            price = _on_tick(n, fair[n] + offset if (side == Side.BUY) == aggressive else fair[n] - offset)
            qty = _lots(rng, 100, 4_000)
            if side == Side.BUY:
                # compliance buyers mostly buy their own region's allowance, sometimes the other's
                home = [a for a in buyers if n == CCER or firm(a).region == (Region.SC if n == SCEA else Region.CQ)]
                pool = home if rng.random() < 0.7 else buyers
                pool = [a for a in pool if books.can_buy(a, price, qty, CONTINUOUS_FEE_BPS)]
                if not pool:
                    continue
                account = pool[rng.randrange(len(pool))]
                books.buy(account, price, qty, CONTINUOUS_FEE_BPS)
            else:
                pool = [a for a in sellers[n] if books.can_sell(a, n, qty)]
                if not pool:
                    continue
                account = pool[rng.randrange(len(pool))]
                books.sell(account, n, qty)
            steps[step].append(Action("order", account=account, instrument=n, side=side, qty=qty, price=price))
    # ---- the market maker: both sides of SCEA around the fair value, first in its steps
    for step in range(OPENING_CALL_STEPS, STEPS, MAKER_REQUOTE_STEPS):
        at = len(REFERENCE) if step == OPENING_CALL_STEPS else 0        # after the opening's phase changes
        if step in MAKER_AWAY:
            if step - MAKER_REQUOTE_STEPS not in MAKER_AWAY:
                steps[step][at:at] = [Action("cancel", account=MAKER, instrument=SCEA, side=side, target=ref)
                                      for side, ref in ((Side.BUY, "maker-bid"), (Side.SELL, "maker-offer"))]
                notes[step] = "the market maker steps away for a quarter of an hour"
            continue
        top = _band(SCEA)[1]                    # the prices come from the book when it runs: hold at the band's top
        if not (books.can_buy(MAKER, top, MAKER_QTY, CONTINUOUS_FEE_BPS) and books.can_sell(MAKER, SCEA, MAKER_QTY)):
            break
        books.buy(MAKER, top, MAKER_QTY, CONTINUOUS_FEE_BPS)
        books.sell(MAKER, SCEA, MAKER_QTY)
        steps[step][at:at] = [Action("requote", account=MAKER, instrument=SCEA, side=side, qty=MAKER_QTY, ref=ref,
                                     extra=(MAKER_HALF_SPREAD_BPS,))
                              for side, ref in ((Side.BUY, "maker-bid"), (Side.SELL, "maker-offer"))]

    # ---- 11:22 a careless buy sweeps the offers up to a high one: a volatility interruption;
    # 11:23 the buyer cancels what is left of it; 11:25 the call ends (demo._end_interruptions)
    # the offer 9% over the reference: further than the 3% band from wherever the day trades
    offer_qty, buy_qty = 2_000, 99_000          # under the order size limit (99,999 t)
    high, limit = _on_tick(SCEA, REFERENCE[SCEA] * 1.09), _on_tick(SCEA, REFERENCE[SCEA] * 1.095)
    # (a compliance buyer: it has no offers of its own that self-trade prevention would meet)
    if books.can_sell(14, SCEA, offer_qty) and books.can_buy(11, limit, buy_qty, CONTINUOUS_FEE_BPS):
        books.sell(14, SCEA, offer_qty)
        books.buy(11, limit, buy_qty, CONTINUOUS_FEE_BPS)
        steps[INTERRUPTION_STEP][:0] = [
            Action("order", account=14, instrument=SCEA, side=Side.SELL, qty=offer_qty, price=high),
            Action("order", account=11, instrument=SCEA, side=Side.BUY, qty=buy_qty, price=limit, ref="careless")]
        steps[INTERRUPTION_STEP + 1].insert(0, Action("cancel", account=11, instrument=SCEA, target="careless"))
        notes[INTERRUPTION_STEP] = "a careless buy of 99,000 t at up to 9.5% over the reference"
        notes[INTERRUPTION_STEP + 1] = "the buyer cancels what is left of its careless order"
    notes[0] = "the opening call auction starts: orders collect, nothing trades yet"
    steps[STEPS].append(Action("end_of_day"))
    notes[STEPS] = "end of day"
    return [Step(i, tuple(actions), notes[i]) for i, actions in enumerate(steps)]
