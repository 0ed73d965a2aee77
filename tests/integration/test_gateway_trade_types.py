"""Fixed-price listings, block trades and auctions through the real daemon: the wire messages
of every trade type, the admin operations that open block windows and auctions, and the
reports each side gets."""
import pytest

from conftest import MARKET, Daemon, drain
from exchange.admin import AdminClient, AdminError
from gateway.client import load_keys
from gateway.protocol import GatewayReject, MsgType
from matching import CancelReason, OrderType, Side, TradeType

SCEA = 0
# blocks of 1,000 t are enough here; the default minimum is 100,000 t
_MARKET = MARKET.replace('reference_price = 5000\n', 'reference_price = 5000\nblock_min_qty = 1000\n', 1)


@pytest.fixture
def market(tmp_path, zctx):
    d = Daemon(tmp_path / "state", _MARKET)
    public, secret = load_keys(d.keys, "admin")
    admin = AdminClient(d.info["admin"], d.info["server_public_key"], public, secret, timeout_ms=3000, context=zctx)
    yield d, admin
    admin.close()
    d.stop()


def _of(reports, msg_type):
    return [r for r in reports if r.msg_type == msg_type]


def test_fixed_price_listing_is_taken_across_regions(market, connect):
    d, _ = market
    sc, cq = connect(d, 1), connect(d, 2)
    sc.login(), cq.login()
    coid = sc.list_fixed(SCEA, account=1, side=Side.SELL, qty=500, price=5000, min_qty=100)
    ack = sc.wait_for(lambda r: r.client_order_id == coid)
    assert (ack.type_name, ack.order_type, ack.qty, ack.price) == ("ACK", OrderType.FIXED_LISTING, 500, 5000)

    small = cq.take_fixed(ack.order_id, account=4, qty=50)            # below the listing's minimum take
    assert cq.wait_for(lambda r: r.client_order_id == small).reason_name == "BELOW_MINIMUM"
    take = cq.take_fixed(ack.order_id, account=4, qty=200)
    got = drain(cq, lambda g: _of(g, MsgType.FILL))
    fill, = _of(got, MsgType.FILL)
    assert (fill.trade_type, fill.side, fill.account, fill.qty, fill.price) == \
        (TradeType.FIXED, Side.BUY, 4, 200, 5000)
    assert fill.client_order_id == take
    seller, = _of(drain(sc, lambda g: _of(g, MsgType.FILL)), MsgType.FILL)
    assert (seller.trade_type, seller.account, seller.leaves, seller.trade_id) == \
        (TradeType.FIXED, 1, 300, fill.trade_id)


def test_block_quote_needs_the_window_and_reaches_only_its_counterparty(market, connect):
    d, admin = market
    sc, cq = connect(d, 1), connect(d, 2)
    sc.login(), cq.login()
    early = sc.block_quote(SCEA, account=1, side=Side.SELL, qty=1000, price=5100, contra_account=4)
    assert sc.wait_for(lambda r: r.client_order_id == early).reason_name == "BLOCK_WINDOW_CLOSED"
    events = admin.request("block_window", instrument="SCEA2026", open=True)["events"]
    assert events and events[0]["kind"] == "BLOCK_WINDOW"

    quote = sc.block_quote(SCEA, account=1, side=Side.SELL, qty=1000, price=5100, contra_account=4)
    ack = sc.wait_for(lambda r: r.client_order_id == quote)
    assert (ack.type_name, ack.order_type) == ("ACK", OrderType.BLOCK_QUOTE)
    other = cq.block_accept(ack.order_id, account=3, qty=1000)         # quoted to account 4, not 3
    # a private quote to another account is answered as if it did not exist
    assert cq.wait_for(lambda r: r.client_order_id == other).reason_name == "UNKNOWN_ORDER"
    part = cq.block_accept(ack.order_id, account=4, qty=500)           # partial acceptance was not allowed
    assert cq.wait_for(lambda r: r.client_order_id == part).reason_name == "PARTIAL_NOT_ALLOWED"
    cq.block_accept(ack.order_id, account=4, qty=1000)
    fill, = _of(drain(cq, lambda g: _of(g, MsgType.FILL)), MsgType.FILL)
    assert (fill.trade_type, fill.account, fill.qty, fill.price) == (TradeType.BLOCK, 4, 1000, 5100)


def test_sealed_auction_bids_clear_at_close(market, connect):
    d, admin = market
    sc, cq = connect(d, 1), connect(d, 2)
    sc.login(), cq.login()
    opened = admin.request("auction_open", instrument="SCEA2026", account=2, side="SELL", volume=500,
                           reserve=4900, min_bid=10)["events"]
    auction = next(e["order_id"] for e in opened if e["kind"] == "ACCEPTED")
    with pytest.raises(AdminError, match="side must be BUY or SELL"):
        admin.request("auction_open", instrument="SCEA2026", account=2, side="SIDEWAYS", volume=1, reserve=1,
                      min_bid=1)

    b4 = cq.auction_bid(auction, account=4, qty=300, price=5000)
    b3 = cq.auction_bid(auction, account=3, qty=300, price=4950)
    low = cq.auction_bid(auction, account=3, qty=300, price=4800)       # under the reserve
    got = drain(cq, lambda g: {b4, b3, low} <= {r.client_order_id for r in g})
    assert {r.client_order_id: r.type_name for r in got} == {b4: "ACK", b3: "ACK", low: "REJECT"}
    assert not sc.reports(100)                                          # bids are sealed: the seller sees none

    closed = admin.request("auction_close", instrument="SCEA2026")["events"]
    result, = [e for e in closed if e["kind"] == "AUCTION_RESULT"]
    assert (result["order_id"], result["qty"]) == (auction, 500)
    got = drain(cq, lambda g: len(_of(g, MsgType.FILL)) >= 2 and _of(g, MsgType.CANCELLED))
    fills = {r.account: r for r in _of(got, MsgType.FILL)}
    assert {a: (f.qty, f.trade_type) for a, f in fills.items()} == {4: (300, TradeType.AUCTION),
                                                                     3: (200, TradeType.AUCTION)}
    rest, = _of(got, MsgType.CANCELLED)                                 # the unfilled part of the lower bid
    assert (rest.account, rest.client_order_id, rest.qty, rest.reason) == (3, b3, 100, CancelReason.AUCTION)
    # the lot was entered by the operator: its fills go to the seller's own platform
    seller = _of(drain(sc, lambda g: len(_of(g, MsgType.FILL)) >= 2), MsgType.FILL)
    assert sum(f.qty for f in seller) == 500 and {f.account for f in seller} == {2}


def test_trade_type_messages_pass_the_gateway_checks(market, connect):
    d, _ = market
    sc = connect(d, 1)
    sc.login()
    coid = sc.list_fixed(SCEA, account=1, side=Side.SELL, qty=100, price=5000, min_qty=100)
    assert sc.wait_for(lambda r: r.client_order_id == coid).type_name == "ACK"
    again = sc.list_fixed(SCEA, account=1, side=Side.SELL, qty=100, price=5000, min_qty=100, client_order_id=coid)
    assert sc.wait_for(lambda r: r.client_order_id == again and r.type_name == "REJECT").reason == \
        GatewayReject.DUPLICATE_CLIENT_ORDER_ID
    foreign = sc.block_quote(SCEA, account=4, side=Side.SELL, qty=1000, price=5000)   # a Chongqing account
    assert sc.wait_for(lambda r: r.client_order_id == foreign).reason == GatewayReject.NOT_AUTHORISED


def _order_cli(d, session, key, *args, status=0):
    import subprocess
    import sys

    from conftest import REPO, _env
    run = subprocess.run([sys.executable, "-m", "chuanyu.cli", "order", "--state-dir", str(d.state_dir),
                          "--session", str(session), "--key", key, *args], capture_output=True, text=True,
                         cwd=REPO, env=_env(), timeout=60)
    assert run.returncode == status, run.stdout + run.stderr          # 1: rejected
    return run.stdout


def test_a_person_at_a_terminal_lists_and_takes_with_chuanyu_order(market):
    import re
    d, _ = market
    out = _order_cli(d, 1, "sc-platform", "list", "sell", "SCEA2026", "300", "5000", "--account", "1",
                     "--min-qty", "100")
    listing = int(re.search(r"^ACK\s+order (\d+)", out, re.M).group(1))
    out = _order_cli(d, 2, "cq-platform", "take", str(listing), "100", "--account", "4")
    fill = re.search(r"^FILL\s+order \d+\s+coid \d+\s+account 4\s+instrument 0\s+price 5000\s+qty 100\b", out, re.M)
    assert fill, out
    out = _order_cli(d, 2, "cq-platform", "take", str(listing), "50", "--account", "4", status=1)
    assert "reason BELOW_MINIMUM" in out


def test_a_cap_shortfall_auction_admits_bids_up_to_the_configured_obligation(tmp_path, zctx, connect):
    """Obligations come from the configuration (or `chuanyu admin obligation`): account 3 must
    surrender 200 t of SCEA2026 and holds none, so it may bid for 200 t; account 4, which has
    no obligation, is refused BIDDER_CAP (before, every bid was: no obligation could be set)."""
    text = _MARKET.replace("id = 3\nmember = 201\n", "id = 3\nmember = 201\nobligation = { SCEA2026 = 200 }\n", 1)
    assert text != _MARKET
    d = Daemon(tmp_path / "state", text)
    public, secret = load_keys(d.keys, "admin")
    admin = AdminClient(d.info["admin"], d.info["server_public_key"], public, secret, timeout_ms=3000, context=zctx)
    try:
        cq = connect(d, 2)
        cq.login()
        opened = admin.request("auction_open", instrument="SCEA2026", account=2, side="SELL", volume=500,
                               reserve=4900, min_bid=10, rules=["cap_shortfall"])["events"]
        auction = next(e["order_id"] for e in opened if e["kind"] == "ACCEPTED")
        within = cq.auction_bid(auction, account=3, qty=200, price=5000)
        beyond = cq.auction_bid(auction, account=3, qty=10, price=5000)        # 210 > 200
        none = cq.auction_bid(auction, account=4, qty=10, price=5000)
        got = drain(cq, lambda g: {within, beyond, none} <= {r.client_order_id for r in g})
        assert {r.client_order_id: (r.type_name, r.reason_name) for r in got} == {
            within: ("ACK", ""), beyond: ("REJECT", "BIDDER_CAP"), none: ("REJECT", "BIDDER_CAP")}
    finally:
        admin.close()
        d.stop()
