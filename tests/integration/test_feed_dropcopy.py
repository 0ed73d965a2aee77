"""The regulator's drop copy through the real daemon: refused without CURVE or with a key that
is not a drop-copy session's, every execution with both accounts for the regulator; and the
public feed never shows an account or a sealed auction bid."""
import numpy as np
import pytest
import zmq

from conftest import MARKET, Daemon, drain, eventually
from feed_helpers import journal_events
from feeds.dropcopy import DROP_COPY_DTYPE, DropCopyClient
from feeds.messages import FEED_DTYPE, FeedType
from exchange.admin import AdminClient
from gateway.client import load_keys
from gateway.protocol import MsgType
from matching import EventKind, Side, TradeType

SCEA = 0
BID_PRICE, BID_QTY = 4937, 77          # a sealed bid's figures, distinctive enough to look for
# blocks of 1,000 t are enough here; the default minimum is 100,000 t
_MARKET = MARKET.replace("reference_price = 5000\n", "reference_price = 5000\nblock_min_qty = 1000\n", 1)


def _sub(zctx, endpoint, server_key=None, keypair=None):
    sock = zctx.socket(zmq.SUB)
    sock.linger = 0
    if server_key is not None:
        sock.curve_serverkey = server_key.encode()
        sock.curve_publickey, sock.curve_secretkey = keypair
    sock.setsockopt(zmq.SUBSCRIBE, b"")
    sock.connect(endpoint)
    return sock


def _frames(sock, timeout_ms=0):
    got = []
    while sock.poll(timeout_ms):
        got.append(sock.recv_multipart())
        timeout_ms = 0
    return got


@pytest.fixture
def market(tmp_path):
    d = Daemon(tmp_path / "state", _MARKET)
    yield d
    d.stop()


def test_drop_copy_is_refused_without_an_allowed_key_and_complete_with_one(market, connect, zctx):
    d = market
    endpoint, server_key = d.info["drop_copy"], d.info["server_public_key"]
    assert endpoint and endpoint != d.info["feed"]
    plain = _sub(zctx, endpoint)                                             # no CURVE at all
    stranger = _sub(zctx, endpoint, server_key, zmq.curve_keypair())         # CURVE, unknown key
    platform = _sub(zctx, endpoint, server_key, load_keys(d.keys, "sc-platform"))  # a session, not drop copy
    regulator = DropCopyClient(endpoint, server_key, *load_keys(d.keys, "regulator"), ctx=zctx)
    public = _sub(zctx, d.info["feed"])
    eventually(lambda: regulator.poll(50) is not None and regulator.heartbeats, 10, what="a drop-copy heartbeat")

    admin_pub, admin_sec = load_keys(d.keys, "admin")
    admin = AdminClient(d.info["admin"], server_key, admin_pub, admin_sec, timeout_ms=3000, context=zctx)
    sc, cq = connect(d, 1), connect(d, 2)
    sc.login(), cq.login()
    # continuous trades across regions, a block trade, and an auction with sealed bids
    for price in (5000, 5001, 5002):
        sc.submit(SCEA, 1, Side.SELL, qty=10, price=price)
        cq.submit(SCEA, 4, Side.BUY, qty=10, price=price)
    admin.request("block_window", instrument="SCEA2026", open=True)
    quote = sc.block_quote(SCEA, account=2, side=Side.SELL, qty=1000, price=5050, contra_account=3)
    quote_id = sc.wait_for(lambda r: r.client_order_id == quote).order_id
    accept = cq.block_accept(quote_id, account=3, qty=1000)
    assert cq.wait_for(lambda r: r.client_order_id == accept and r.msg_type == MsgType.FILL).qty == 1000
    opened = admin.request("auction_open", instrument="SCEA2026", account=2, side="SELL", volume=100,
                           reserve=4900, min_bid=10)["events"]
    auction = next(e["order_id"] for e in opened if e["kind"] == "ACCEPTED")
    bid = cq.auction_bid(auction, account=4, qty=BID_QTY, price=BID_PRICE)
    drain(cq, lambda g: any(r.client_order_id == bid for r in g))
    sealed_window = _frames(public, 300)                     # everything published while the bid is sealed
    admin.request("auction_close", instrument="SCEA2026")

    beats = regulator.heartbeats          # two heartbeats later, everything before them has arrived
    eventually(lambda: regulator.poll(50) is not None and regulator.heartbeats >= beats + 2, 10,
               what="drop-copy heartbeats after the auction")
    got = regulator.executions
    sc.logout(timeout_ms=1000), cq.logout(timeout_ms=1000)
    public_frames = sealed_window + _frames(public, 300)
    admin.close()
    assert d.stop() == 0
    _, events = journal_events(d)
    trades = events[events["kind"] == EventKind.TRADE]

    rows = np.array(got, dtype=DROP_COPY_DTYPE)
    assert regulator.gaps == 0 and rows["seq"].tolist() == list(range(1, len(rows) + 1))
    assert rows[["trade_id", "buy_account", "sell_account", "qty", "price", "trade_type"]].tolist() == \
        trades[["trade_id", "buy_account", "sell_account", "qty", "price", "trade_type"]].tolist()
    assert {(int(r["buy_account"]), int(r["sell_account"])) for r in rows} >= {(4, 1), (3, 2)}
    assert set(rows["trade_type"].tolist()) == {TradeType.CONTINUOUS, TradeType.BLOCK, TradeType.AUCTION}
    for refused in (plain, stranger, platform):
        assert _frames(refused, 100) == []

    # the public channels: FEED_DTYPE has no account field, and the sealed bid left no trace
    assert not {"account", "buy_account", "sell_account"} & set(FEED_DTYPE.names)
    sealed = [np.frombuffer(p, FEED_DTYPE) for t, p in sealed_window if not t.startswith(b"H")]
    assert sealed, "the public feed published nothing while the bid was sealed"
    for msgs in sealed:
        assert not ((msgs["price"] == BID_PRICE) | (msgs["qty"] == BID_QTY)).any()
        assert not ((msgs["msg_type"] == FeedType.DEPTH) & (msgs["trade_type"] != TradeType.CONTINUOUS)
                    & (msgs["trade_type"] != TradeType.FIXED)).any()
    published = np.concatenate([np.frombuffer(p, FEED_DTYPE) for t, p in public_frames if not t.startswith(b"H")])
    assert (published["msg_type"] == FeedType.AUCTION_RESULT).sum() == 1     # only the outcome, at the close
    for sock in (plain, stranger, platform, public):
        sock.close(0)
    regulator.close()


def test_no_drop_copy_socket_without_a_drop_copy_session(tmp_path):
    d = Daemon(tmp_path / "state", MARKET.replace("drop_copy = true", "drop_copy = false"))
    try:
        assert d.info["drop_copy"] is None
    finally:
        assert d.stop() == 0
