"""Malformed input: every bad frame or message gets a REJECT, the daemon stays up, other
sessions go on trading, and its memory stays bounded."""
import itertools

import numpy as np
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from conftest import SOCKET_PATHS, daemon_on_socket_path, drain
from gateway.client import Client, SessionError, load_keys
from gateway.protocol import (
    INBOUND_SIZE, PROTOCOL_VERSION, GatewayReject, MsgType, encode, message, reserved_mask,
)
from matching import Side


@pytest.fixture(scope="module", params=SOCKET_PATHS)
def daemon(request, tmp_path_factory):
    """The module's daemon, once on each socket path."""
    yield from daemon_on_socket_path(request, tmp_path_factory)


SCEA = 0
ACCOUNT = 1                      # session 1's (Sichuan member 101)
_coids = itertools.count(1_000_000)
KNOWN_TYPES = {int(t) for t in MsgType}
I64 = st.sampled_from([-2**63, -1, 0, 2**62, 2**63 - 1, 10**9, 10**6 + 1])


def _valid_order(**fields) -> np.ndarray:
    base = dict(side=Side.BUY, order_type=1, tif=3, instrument=SCEA, account=ACCOUNT, qty=1, price=4600,
                client_order_id=next(_coids))
    base.update(fields)
    return message(MsgType.NEW_ORDER, **base)


# The sentinels' client order ids lie below every bad message's: the test finds a frame's end by
# the first report echoing the sentinel's id (a bad message drawing the same negative id made
# an example end early, then pass when replayed with the next sentinel).
SENTINEL_BASE = -2**62


@st.composite
def bad_messages(draw) -> tuple[bytes, str]:
    """One malformed 64-byte message and what is wrong with it."""
    kind = draw(st.sampled_from(["unknown_type", "bad_enum", "huge", "reserved", "negative_coid",
                                 "bad_instrument", "login_inside", "bad_cancel"]))
    if kind == "unknown_type":
        body = bytearray(draw(st.binary(min_size=INBOUND_SIZE, max_size=INBOUND_SIZE)))
        body[0] = draw(st.integers(0, 255).filter(lambda t: t not in KNOWN_TYPES))
        return bytes(body), kind
    if kind == "bad_enum":
        field = draw(st.sampled_from(["side", "order_type", "tif", "stp"]))
        valid = {"side": (1, 2), "order_type": (1, 2), "tif": (1, 2, 3, 4), "stp": (0, 1, 2, 3, 4)}[field]
        value = draw(st.integers(0, 255).filter(lambda v: v not in valid))
        return _valid_order(**{field: value}).tobytes(), kind
    if kind == "huge":
        field = draw(st.sampled_from(["qty", "price"]))
        return _valid_order(**{field: draw(I64)}).tobytes(), kind
    if kind == "reserved":
        raw = bytearray(_valid_order().tobytes())
        spots = np.flatnonzero(reserved_mask(message(MsgType.NEW_ORDER).dtype))
        raw[int(draw(st.sampled_from(spots.tolist())))] = draw(st.integers(1, 255))
        return bytes(raw), kind
    if kind == "negative_coid":
        # above SENTINEL_BASE: a REJECT echoing it can never be taken for the sentinel's answer
        return _valid_order(client_order_id=draw(st.integers(SENTINEL_BASE + 1, 0))).tobytes(), kind
    if kind == "bad_instrument":
        return _valid_order(instrument=draw(st.sampled_from([-2**31, -1, 3, 2**31 - 1]))).tobytes(), kind
    if kind == "login_inside":
        return encode(MsgType.LOGIN, version=draw(st.integers(0, 65535)), session=1), kind
    return encode(MsgType.CANCEL, account=ACCOUNT, order_id=draw(I64), client_order_id=next(_coids)), kind


@st.composite
def bad_frames(draw):
    """(frame parts, number of REJECTs expected, number of ACKs expected)."""
    shape = draw(st.sampled_from(["short", "long", "empty", "multipart", "messages", "mixed"]))
    if shape == "short":
        return [draw(st.binary(min_size=1, max_size=INBOUND_SIZE - 1))], 1, 0
    if shape == "long":
        n = draw(st.integers(INBOUND_SIZE + 1, 20 * INBOUND_SIZE).filter(lambda n: n % INBOUND_SIZE))
        return [draw(st.binary(min_size=n, max_size=n))], 1, 0
    if shape == "empty":
        return [b""], 1, 0
    if shape == "multipart":
        return [_valid_order().tobytes(), draw(st.binary(max_size=100))], 1, 0
    msgs = draw(st.lists(bad_messages(), min_size=1, max_size=6))
    body = [m for m, _ in msgs]
    acks = 0
    if shape == "mixed":
        body.insert(draw(st.integers(0, len(body))), _valid_order().tobytes())
        acks = 1
    return [b"".join(body)], len(msgs), acks


def _rss_kb(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def test_malformed_frames_get_rejects_and_harm_no_one(daemon, connect):
    bystander = connect(daemon, 2)
    bystander.login()
    coid = bystander.submit(1, 3, Side.SELL, qty=9, price=4700)
    resting = bystander.wait_for(lambda r: r.client_order_id == coid)
    attacker = connect(daemon, 1, heartbeat_ms=2000)    # hypothesis may pause between examples
    attacker.login()
    sentinel_coids = itertools.count(1)
    rss_before = _rss_kb(daemon.proc.pid)

    # no shrinking: a failing example would be re-sent many times against 3-second waits
    @settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck),
              phases=[Phase.explicit, Phase.reuse, Phase.generate])
    @given(bad_frames())
    def one(frame):
        parts, n_rejects, n_acks = frame
        bystander.poll(0)                      # keeps its heartbeats going
        attacker.sock.send_multipart(parts)
        tag = SENTINEL_BASE - next(sentinel_coids)   # a CANCEL of order 0: the engine answers UNKNOWN_ORDER
        attacker.cancel(0, ACCOUNT, client_order_id=tag)
        got = drain(attacker, lambda got: any(r.client_order_id == tag for r in got), timeout=3)
        before = got[:[r.client_order_id for r in got].index(tag)]
        reports = [r for r in before if r.msg_type != MsgType.SERVER_HEARTBEAT]
        assert len([r for r in reports if r.msg_type == MsgType.REJECT]) == n_rejects, reports
        assert len([r for r in reports if r.msg_type == MsgType.ACK]) == n_acks, reports
        assert attacker.logged_out is None

    one()
    assert daemon.proc.poll() is None
    # the bystander's order is still there and it still trades
    coid = bystander.submit(1, 4, Side.BUY, qty=9, price=4700)
    fills = drain(bystander, lambda got: len([r for r in got if r.msg_type == MsgType.FILL]) == 2)
    assert {r.order_id for r in fills if r.msg_type == MsgType.FILL} >= {resting.order_id}
    assert _rss_kb(daemon.proc.pid) - rss_before < 50_000


def test_frame_rejects_carry_precise_reasons(daemon, connect):
    c = connect(daemon, 1)
    c.login()
    cases = [
        (b"\x01" * 10, GatewayReject.MALFORMED_FRAME),
        (b"", GatewayReject.MALFORMED_FRAME),
        (bytes([200]) + bytes(INBOUND_SIZE - 1), GatewayReject.UNKNOWN_MESSAGE_TYPE),
        (encode(MsgType.LOGIN, version=PROTOCOL_VERSION, session=1), GatewayReject.ALREADY_LOGGED_IN),
        (_valid_order(client_order_id=-5).tobytes(), GatewayReject.BAD_CLIENT_ORDER_ID),
        (_valid_order(account=3).tobytes(), GatewayReject.NOT_AUTHORISED),
    ]
    for frame, reason in cases:
        c.send_raw(frame)
        r = c.wait_for(lambda r: r.msg_type == MsgType.REJECT)
        assert r.reason == reason, (frame[:8], r.reason_name)
    big = _valid_order().repeat(4097)                 # one message over MAX_MESSAGES_PER_FRAME
    c.send_raw(big.tobytes())
    r = c.wait_for(lambda r: r.msg_type == MsgType.REJECT)
    assert (r.reason, r.qty) == (GatewayReject.TOO_MANY_MESSAGES, 4097 * INBOUND_SIZE)


@pytest.mark.parametrize("login, reason", [
    (dict(version=PROTOCOL_VERSION + 1, session=2), GatewayReject.UNSUPPORTED_VERSION),
    (dict(version=0, session=2), GatewayReject.UNSUPPORTED_VERSION),
    (dict(version=PROTOCOL_VERSION, session=77), GatewayReject.UNKNOWN_SESSION),
    (dict(version=PROTOCOL_VERSION, session=2, reserved2=1), GatewayReject.RESERVED_NOT_ZERO),
])
def test_bad_logins_are_refused_with_the_reason(daemon, zctx, login, reason):
    public, secret = load_keys(daemon.keys, "cq-platform")
    c = Client(daemon.info["orders"], daemon.info["server_public_key"], public, secret, 2, context=zctx)
    try:
        c.send_raw(message(MsgType.LOGIN, **login).tobytes())
        r = c.wait_for(lambda r: r.msg_type == MsgType.REJECT)
        assert r.reason == reason and r.ref_type == MsgType.LOGIN
        c.send_raw(_valid_order().tobytes())            # still not logged in
        assert c.wait_for(lambda r: r.msg_type == MsgType.REJECT).reason == GatewayReject.NOT_LOGGED_IN
        with pytest.raises(SessionError):
            c.session = 77
            c.login(timeout_ms=2000)
    finally:
        c.sock.close(linger=0)


def test_a_login_sharing_its_frame_with_orders_is_refused_whole(daemon, zctx):
    """A LOGIN travels alone: with an order behind it in one frame, the frame is refused
    MALFORMED_FRAME naming the LOGIN, the order is not entered, and a LOGIN alone then works."""
    public, secret = load_keys(daemon.keys, "cq-platform")
    c = Client(daemon.info["orders"], daemon.info["server_public_key"], public, secret, 2, context=zctx)
    try:
        login = message(MsgType.LOGIN, version=PROTOCOL_VERSION, session=2, heartbeat_ms=1000)
        c.send_raw(login.tobytes() + _valid_order(account=3).tobytes())
        r = c.wait_for(lambda r: r.msg_type == MsgType.REJECT)
        assert (r.reason, r.ref_type, r.session) == (GatewayReject.MALFORMED_FRAME, MsgType.LOGIN, 2)
        assert not c.reports(300)                          # nothing else: no ACK for the order
        c.login()
        c.logout()
    finally:
        c.sock.close(linger=0)
