"""Snapshots of every trade type's state: listings, block quotes and the block window, an open
auction with its seed, eligibility list and sealed bids, a pending rollover of cancelled
primary volume, the day's statistics and a re-centred reference all survive snapshot and
restore, in either implementation, and the restored engine goes on exactly as one that never
stopped."""
import pytest

from helpers import CER, CQ, MAX_ACCOUNTS, SC, as_dicts, kinds, ladder, listing_ladder, market, state
from matching import EventKind, ReferenceEngine, Region, Sector, Side, TimeInForce, TradeType, commands
from matching.reference import splitmix64

BUY, SELL = Side.BUY, Side.SELL
SC_I, CQ_I, CER_I = 0, 1, 2
ISSUER = 900
FEES = {TradeType.CONTINUOUS: (30, 50), TradeType.FIXED: (0, 400), TradeType.BLOCK: (10, 10),
        TradeType.AUCTION: (5, 5)}
RICH = 10**12


def setup_commands():
    rows = []
    for account in (1, 2, 3, 4, 5, 6, ISSUER):
        rows.append(commands.create_account(account, 100 + account, Region.SC, Sector.POWER))
        if account != ISSUER:
            rows.append(commands.deposit(account, RICH))
            for n, qty in ((SC_I, 500_000), (CQ_I, 10_000), (CER_I, 1_000)):
                rows.append(commands.credit_holdings(account, n, qty))
    return rows


# Order ids: 1 SC ask (acct 1), 2 SC bid (acct 2, trades), 3 listing (acct 3), 4 take,
# 5 listing (acct 4, buy), 6 block quote (acct 1, public, partial), 7 accept (acct 2),
# 8 block quote (acct 5 -> 6), 9 CQ primary auction, 10 its bid, 11 CER ask, 12 CER bid,
# 13 SC auction (acct 6, random ties, seed 11), 14-16 bids at 4500, 17 bid at 4700,
# 18 SC DAY bid. AFTER: 19 bid, 20-21 takes, 22-23 accepts, 24 CQ primary auction, 25 its
# bid, 26 CER bid, 27 SC ask.
BEFORE = [
    commands.new_order(SC_I, 1, SELL, 40, 5010),
    commands.new_order(SC_I, 2, BUY, 25, 5020),                     # 25 @ 5010, CONTINUOUS
    commands.list_fixed(SC_I, 3, SELL, 100, 4990, 20),
    commands.take_fixed(3, 4, 30),                                  # 30 @ 4990, FIXED
    commands.list_fixed(SC_I, 4, BUY, 60, 4980, 10),
    commands.set_block_window(SC_I, True),
    commands.block_quote(SC_I, 1, SELL, 300_000, 6000, partial=True),
    commands.block_accept(6, 2, 100_000),                           # 100,000 @ 6000, BLOCK
    commands.block_quote(SC_I, 5, BUY, 100_000, 4000, contra_account=6),
    commands.auction_open(CQ_I, ISSUER, SELL, 1000, 2500, 100, flags=commands.FLAG_PRIMARY),
    commands.auction_bid(9, 1, 500, 2600),
    commands.auction_close(CQ_I),                                   # CANCELLED_VOLUME: 300, 300, 200, 200
    commands.new_order(CER_I, 1, SELL, 10, 6200),
    commands.new_order(CER_I, 2, BUY, 10, 6200),
    commands.end_of_day(CER_I),                                     # CER closes at 6200
    commands.auction_open(SC_I, 6, SELL, 250, 4000, 100, flags=commands.FLAG_RANDOM_TIES, seed=11),
    commands.auction_eligible(13, 1),
    commands.auction_eligible(13, 2),
    commands.auction_eligible(13, 3),
    commands.auction_eligible(13, 4),
    commands.auction_bid(13, 1, 100, 4500),
    commands.auction_bid(13, 2, 100, 4500),
    commands.auction_bid(13, 3, 100, 4500),
    commands.auction_bid(13, 4, 100, 4700),
    commands.new_order(SC_I, 2, BUY, 5, 4900, tif=TimeInForce.DAY),
]

AFTER = [
    commands.auction_bid(13, 5, 100, 4800),                         # not eligible
    commands.auction_bid(13, 4, 100, 4500),
    commands.take_fixed(3, 2, 70),
    commands.take_fixed(5, 1, 10),
    commands.block_accept(8, 4, 100_000),                           # not the counterparty
    commands.block_accept(8, 6, 100_000),
    commands.block_accept(6, 3, 200_000),
    commands.auction_close(SC_I),                                   # the random draw decides the ties
    commands.auction_open(CQ_I, ISSUER, SELL, 1000, 2500, 100, flags=commands.FLAG_PRIMARY),    # + 300
    commands.auction_bid(24, 2, 1300, 2500),
    commands.auction_close(CQ_I),
    commands.set_block_window(SC_I, False),
    commands.end_of_day(),
    commands.new_order(CER_I, 3, BUY, 5, 7440),                     # the top of CER's new band
    commands.new_order(SC_I, 3, SELL, 5, 4980),
    commands.cancel(26, 3),
]


def run(engine, stream, first_ts):
    out = []
    for n, cmd in enumerate(stream):
        cmd = cmd.copy()
        cmd["ts"], cmd["seq"] = first_ts + n, first_ts + n
        out.append(as_dicts(engine.process(cmd)))
    return out


def build(cls):
    engine = cls(market(), max_accounts=MAX_ACCOUNTS, risk=True, fees=FEES)
    for cmd in setup_commands():
        assert EventKind.REJECTED not in kinds(engine.process(cmd))
    for n, events in enumerate(run(engine, BEFORE, first_ts=1)):
        assert EventKind.REJECTED not in [e["kind"] for e in events], f"BEFORE step {n} was rejected"
    return engine


def views(engine):
    return ({s: ladder(engine, s) for s in (SC, CQ, CER)},
            {s: listing_ladder(engine, s) for s in (SC, CQ, CER)},
            {s: engine.daily(s) for s in (SC, CQ, CER)},
            [engine.account(a) for a in (1, 2, 3, 4, 5, 6, ISSUER)],
            [engine.order(n) for n in range(1, 20)],
            [(ins.reference_price, ins.band, ins.block_band) for ins in engine.instruments])


def test_the_state_before_the_snapshot_is_what_it_should_be(impl):
    engine = build(impl)
    assert listing_ladder(engine, SC) == [(60, 4980, 4990, 70)]
    assert engine.daily(SC)["volume"] == {"CONTINUOUS": 25, "FIXED": 30, "BLOCK": 100_000, "AUCTION": 0}
    assert engine.daily(SC)["open"] == 5010
    assert engine.instruments[CER_I].reference_price == 6200
    meta = state(engine)[0]
    assert meta["rollover"][CQ_I] == [300, 300, 200, 200]
    assert meta["block_window"] == [1, 0, 0]
    assert meta["auctions"][SC_I]["seed"] == 11 and meta["auctions"][SC_I]["eligible"] == [1, 2, 3, 4]
    assert engine.resting_orders == 1 + 2 + 2 + 4 + 1   # SC ask, listings, block quotes, bids, DAY bid


def test_restore_rebuilds_every_trade_types_state(impl):
    engine = build(impl)
    blob = engine.snapshot()
    restored = impl.restore(blob)
    assert restored.snapshot() == blob
    assert restored.state_digest() == engine.state_digest()
    assert views(restored) == views(engine)
    restored.check_invariants()


def test_the_restored_engine_goes_on_like_one_that_never_stopped(impl):
    engine = build(impl)
    restored = impl.restore(engine.snapshot())
    expected = run(engine, AFTER, first_ts=100)
    assert run(restored, AFTER, first_ts=100) == expected
    assert restored.state_digest() == engine.state_digest()
    assert views(restored) == views(engine)
    # the stream did what it says: the rollover reached the next primary auction, the ties were
    # drawn, the day closed
    (accepted,) = [e for e in expected[8] if e["kind"] == EventKind.ACCEPTED]
    assert accepted["qty"] == 1300
    assert [e["kind"] for e in expected[0]] == [EventKind.REJECTED]
    assert [e["kind"] for e in expected[4]] == [EventKind.REJECTED]
    assert all(e["kind"] != EventKind.REJECTED for batch in expected[5:] for e in batch)
    drawn = sorted([14, 15, 16, 19], key=lambda order_id: splitmix64(11 ^ order_id))
    assert [e["buy_order_id"] for e in expected[7] if e["kind"] == EventKind.TRADE] == [17, *drawn[:2]]
    assert engine.daily(SC)["volume"]["AUCTION"] == 0               # reset by the end of day
    # SC closed at (25 x 5010 + 100 x 4990 + 10 x 4980) / 135 = 674,050 / 135 = 4993.0: band
    # (4494, 5492) keeps the ask of order 1; the CER bid 26 was cancelled in the last step
    assert engine.instruments[SC_I].band == (4494, 5492)
    assert [o.order_id for o in (engine.order(1), engine.order(27))] == [1, 27]
    assert engine.resting_orders == 2


@pytest.mark.parametrize("direction", ["ref_to_cy", "cy_to_ref"])
@pytest.mark.parametrize("impl", ["cython"], indirect=True)
def test_the_snapshot_restores_into_the_other_implementation(impl, direction):
    source_cls, target_cls = (ReferenceEngine, impl) if direction == "ref_to_cy" else (impl, ReferenceEngine)
    source = build(source_cls)
    target = target_cls.restore(source.snapshot())
    assert isinstance(target, target_cls)
    assert target.snapshot() == source.snapshot()
    assert target.state_digest() == source.state_digest()
    assert views(target) == views(source)
    assert run(target, AFTER, first_ts=100) == run(source, AFTER, first_ts=100)
    assert target.state_digest() == source.state_digest()


@pytest.mark.parametrize("impl", ["cython"], indirect=True)
def test_both_implementations_agree_on_every_event_and_digest(impl):
    reference, cython = build(ReferenceEngine), build(impl)
    assert cython.state_digest() == reference.state_digest()
    for n, cmd in enumerate(AFTER):
        assert run(cython, [cmd], 100 + n) == run(reference, [cmd], 100 + n), f"AFTER step {n}"
        assert cython.state_digest() == reference.state_digest(), f"AFTER step {n}"


def test_an_open_auction_with_a_sealed_bid_round_trips(impl):
    engine = impl(market(), max_accounts=MAX_ACCOUNTS)
    engine.process(commands.auction_open(SC_I, 1, SELL, 100, 4000, 100))
    engine.process(commands.auction_bid(1, 2, 100, 4100))
    restored = impl.restore(engine.snapshot())
    assert restored.state_digest() == engine.state_digest()
    close = commands.auction_close(SC_I)
    assert as_dicts(restored.process(close)) == as_dicts(engine.process(close))


def test_block_quotes_and_listings_alone_round_trip(impl):
    engine = build(impl)
    engine.process(commands.auction_close(SC_I))                    # no auction bids left
    restored = impl.restore(engine.snapshot())
    assert restored.state_digest() == engine.state_digest()
    assert views(restored) == views(engine)
    assert run(restored, AFTER[2:7], 100) == run(engine, AFTER[2:7], 100)
