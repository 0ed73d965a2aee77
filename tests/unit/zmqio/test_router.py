"""zmqio.router on real loopback sockets: both twins (C and pyzmq, through ``open_router``)
drain and send alike (the daemon-level comparison of the two paths is in
tests/integration/test_gateway_malformed.py and test_gateway_trading.py)."""
import errno
import time

import numpy as np
import pytest
import zmq
import zmq.auth
from zmq.auth.thread import ThreadAuthenticator

from gateway.protocol import REPORT_DTYPE
from zmqio import libzmq
from zmqio.router import FOREIGN, MULTIPART, UNBOUND, PyzmqRouterIO, RouterIO, open_router
from zmqio_twins import FUNCTIONS, NO_LIBZMQ, ctx, use_c  # noqa: F401  (fixtures)


@pytest.fixture
def open_io(use_c):
    """``open_router`` with the twin under test."""
    return lambda socket, peer_fd, peer_key: open_router(socket, peer_fd, peer_key, use_c=use_c)


def _router(ctx):
    r = ctx.socket(zmq.ROUTER)
    r.router_mandatory = True
    port = r.bind_to_random_port("tcp://127.0.0.1")
    return r, f"tcp://127.0.0.1:{port}"


def _dealer(ctx, endpoint, identity: bytes):
    d = ctx.socket(zmq.DEALER)
    d.routing_id = identity
    d.connect(endpoint)
    return d


class _Curve:
    """A CURVE ROUTER (any client key let in) and its clients' key pairs: frames carry a User-Id."""

    def __init__(self, ctx, keys_dir):
        self.ctx, self.keys_dir = ctx, keys_dir
        self.server_public, server_secret = self._pair("server")
        self.router = ctx.socket(zmq.ROUTER)
        self.router.router_mandatory = True
        self.router.curve_server = True
        self.router.curve_publickey, self.router.curve_secretkey = self.server_public, server_secret
        self.endpoint = f"tcp://127.0.0.1:{self.router.bind_to_random_port('tcp://127.0.0.1')}"

    def _pair(self, name):
        return zmq.auth.load_certificate(zmq.auth.create_certificates(self.keys_dir, name)[1])

    def dealer(self, identity: bytes, key: str):
        public, secret = self._pair(key)
        d = self.ctx.socket(zmq.DEALER)
        d.routing_id = identity
        d.curve_serverkey = self.server_public
        d.curve_publickey, d.curve_secretkey = public, secret
        d.connect(self.endpoint)
        return d, public


@pytest.fixture
def curve(ctx, tmp_path):
    auth = ThreadAuthenticator(ctx.context)
    auth.start()
    auth.configure_curve(domain="*", location=zmq.auth.CURVE_ALLOW_ANY)
    yield _Curve(ctx, tmp_path)
    auth.stop()


def _unbound(n: int = 3):
    """Per session index: no connection yet (fd -1), no key."""
    return np.full(n, -1, dtype=np.int32), [None] * n


def _bind(io_peers, strays: list, sessions: dict) -> None:
    """Bind each session to the connection its UNBOUND stray came on (what a LOGIN does)."""
    peer_fd, peer_key = io_peers
    for kind, identity, _, user_id, fd in strays:
        assert kind == UNBOUND
        idx = sessions[identity]
        peer_fd[idx], peer_key[idx] = fd, user_id.encode()


def _drain_until(io, router, session_of, frames=0, strays=0, size=0, budget=1 << 30, timeout=5.0):
    """Drain as the daemon does, going on past each stray, until ``frames`` payloads and
    ``strays`` strays came (more may come with the last drain); fail after ``timeout`` s."""
    payloads, sess, ts, got = [], [], [], []
    deadline = time.monotonic() + timeout
    while len(payloads) < frames or len(got) < strays:
        assert time.monotonic() < deadline, f"{len(payloads)}/{frames} frames, {len(got)}/{strays} strays"
        size, stray = io.drain(session_of, size, budget, payloads, sess, ts)
        if stray is not None:
            got.append(stray)
        elif size < budget:
            router.poll(100)
    return size, payloads, sess, ts, got


def _logged_in(curve, open_io):
    """A dealer ``A`` whose first frame bound it to session 1: (dealer, its key, peers, io)."""
    a, key = curve.dealer(b"A", "a")
    peers = _unbound()
    io = open_io(curve.router, *peers)
    a.send(b"login")
    _bind(peers, _drain_until(io, curve.router, {}, strays=1)[4], {b"A": 1})
    return a, key, peers, io


def test_drain_takes_session_frames_in_order_and_stops_at_each_stray(curve, open_io):
    a, a_key = curve.dealer(b"A", "a")
    b, b_key = curve.dealer(b"B", "b")
    peers = _unbound()
    io = open_io(curve.router, *peers)
    a.send(b"login a")
    b.send(b"login b")
    size, payloads, sess, ts, strays = _drain_until(io, curve.router, {}, strays=2)
    assert payloads == [] and sorted(s[:4] for s in strays) == [(UNBOUND, b"A", b"login a", a_key.decode()),
                                                                (UNBOUND, b"B", b"login b", b_key.decode())]
    assert all(fd > 2 for *_, fd in strays) and strays[0][4] != strays[1][4]
    _bind(peers, strays, {b"A": 1, b"B": 2})
    before = time.time_ns()
    a.send(b"a1")
    a.send_multipart([b"x", b"y", b"z"])
    a.send(b"a22")
    b.send(b"b1")
    size, payloads, sess, ts, strays = _drain_until(io, curve.router, {b"A": 1, b"B": 2}, frames=3, strays=1)
    assert strays == [(MULTIPART, b"A", None, a_key.decode(), int(peers[0][1]))]
    assert sorted(zip(sess, payloads)) == [(1, b"a1"), (1, b"a22"), (2, b"b1")]
    assert [p for s, p in zip(sess, payloads) if s == 1] == [b"a1", b"a22"]     # one peer's order kept
    assert size == 2 + 3 + 2
    assert all(before <= t <= time.time_ns() for t in ts)
    assert io.drain({}, 0, 100, [], [], []) == (0, None)                        # nothing left waiting


def test_frames_on_a_sessions_routing_id_from_another_connection_or_key_are_foreign(curve, open_io):
    a, a_key, peers, io = _logged_in(curve, open_io)
    fd = int(peers[0][1])
    a.send(b"mine")
    _, payloads, sess, _, strays = _drain_until(io, curve.router, {b"A": 1}, frames=1)
    assert (payloads, sess, strays) == ([b"mine"], [1], [])
    peers[1][1] = b"X" * 40                       # the session's key is another one
    a.send(b"key")
    assert curve.router.poll(5000)
    assert io.drain({b"A": 1}, 0, 1000, [], [], []) == (0, (FOREIGN, b"A", b"key", a_key.decode(), fd))
    peers[1][1] = a_key
    peers[0][1] = fd + 1                          # the session logged in on another connection
    a.send(b"conn")
    assert curve.router.poll(5000)
    assert io.drain({b"A": 1}, 0, 1000, [], [], []) == (0, (FOREIGN, b"A", b"conn", a_key.decode(), fd))


def test_a_router_checks_its_peer_tables(ctx, open_io):
    router, _ = _router(ctx)
    with pytest.raises(ValueError, match="one entry per session"):
        open_io(router, np.full(2, -1, np.int32), [None])
    with pytest.raises(TypeError, match="bytes"):
        open_io(router, np.full(1, -1, np.int32), ["a str key"])


def test_drain_stops_once_the_budget_is_used(curve, open_io):
    a, _, peers, io = _logged_in(curve, open_io)
    for k in range(10):
        a.send(bytes(64))
    size, payloads, *_ = _drain_until(io, curve.router, {b"A": 1}, frames=4, budget=200)
    assert (size, len(payloads)) == (256, 4)                 # the frame that passed the budget is the last
    size, more, *_ = _drain_until(io, curve.router, {b"A": 1}, frames=6, budget=10_000)
    assert (size, len(more)) == (6 * 64, 6)
    assert io.drain({b"A": 1}, 0, 10_000, [], [], []) == (0, None)


def test_send_delivers_bytes_and_report_arrays_and_reports_errors_as_errno(ctx, open_io):
    router, endpoint = _router(ctx)
    a = _dealer(ctx, endpoint, b"A")
    a.send(b"hello")
    assert router.poll(5000)
    router.recv_multipart()
    io = open_io(router, *_unbound())
    reports = np.zeros(3, dtype=REPORT_DTYPE)
    reports["seq"] = [7, 8, 9]
    assert io.send(b"A", b"plain") == 0
    assert io.send(b"A", reports) == 0
    assert io.send(b"A", reports[1:]) == 0
    assert a.poll(5000)
    assert a.recv() == b"plain"
    assert a.poll(5000)
    assert np.frombuffer(a.recv(), dtype=REPORT_DTYPE)["seq"].tolist() == [7, 8, 9]
    assert a.poll(5000)
    assert np.frombuffer(a.recv(), dtype=REPORT_DTYPE)["seq"].tolist() == [8, 9]
    assert io.send(b"nobody", b"x") == errno.EHOSTUNREACH
    with pytest.raises(ValueError, match="contiguous"):
        io.send(b"A", reports["seq"][::2])        # refused before anything is sent: no half message
    with pytest.raises(TypeError):
        io.send(None, b"x")
    assert io.send(b"A", b"after") == 0
    assert a.poll(5000)
    assert a.recv_multipart() == [b"after"]


def test_send_says_eagain_when_the_peer_pipe_is_full(ctx, open_io):
    router, endpoint = _router(ctx)
    router.sndhwm = 1
    a = _dealer(ctx, endpoint, b"A")
    a.rcvhwm = 1
    a.send(b"hello")
    assert router.poll(5000)
    router.recv_multipart()
    io = open_io(router, *_unbound())
    results = [io.send(b"A", bytes(1 << 16)) for _ in range(2000)]
    assert results[0] == 0
    assert set(results) == {0, errno.EAGAIN}


def test_unbound_frames_carry_the_zap_user_id(ctx, tmp_path, open_io):
    server_public, server_secret = zmq.auth.load_certificate(zmq.auth.create_certificates(tmp_path, "server")[1])
    client_public, client_secret = zmq.auth.load_certificate(zmq.auth.create_certificates(tmp_path, "client")[1])
    auth = ThreadAuthenticator(ctx.context)
    auth.start()
    try:
        auth.configure_curve(domain="*", location=zmq.auth.CURVE_ALLOW_ANY)
        router = ctx.socket(zmq.ROUTER)
        router.curve_server = True
        router.curve_publickey, router.curve_secretkey = server_public, server_secret
        port = router.bind_to_random_port("tcp://127.0.0.1")
        d = ctx.socket(zmq.DEALER)
        d.curve_serverkey = server_public
        d.curve_publickey, d.curve_secretkey = client_public, client_secret
        d.connect(f"tcp://127.0.0.1:{port}")
        d.send(b"login")
        io = open_io(router, *_unbound())
        assert router.poll(5000)
        size, stray = io.drain({}, 0, 1000, [], [], [])
        kind, identity, payload, user_id, fd = stray
        assert (kind, payload, user_id) == (UNBOUND, b"login", client_public.decode())
    finally:
        auth.stop()


def test_frames_without_curve_have_no_user_id_and_are_foreign_to_a_session(ctx, open_io):
    router, endpoint = _router(ctx)
    a = _dealer(ctx, endpoint, b"A")
    peers = _unbound()
    io = open_io(router, *peers)
    a.send(b"login")
    (kind, identity, payload, user_id, fd), = _drain_until(io, router, {}, strays=1)[4]
    assert (kind, identity, payload, user_id) == (UNBOUND, b"A", b"login", None)
    peers[0][1] = fd                              # bound by connection, but no key to match
    a.send(b"order")
    assert router.poll(5000)
    assert io.drain({b"A": 1}, 0, 1000, [], [], []) == (0, (FOREIGN, b"A", b"order", None, fd))


def test_a_router_refuses_a_closed_socket(ctx, open_io):
    router, _ = _router(ctx)
    router.close()
    with pytest.raises(ValueError, match="closed"):
        open_io(router, *_unbound())


def test_open_router_takes_libzmq_where_found_and_pyzmq_when_told(ctx, monkeypatch):
    router, _ = _router(ctx)
    assert type(open_router(router, *_unbound(), use_c=False)) is PyzmqRouterIO
    monkeypatch.setenv(libzmq.FORCE_PYZMQ, "1")
    assert type(open_router(router, *_unbound())) is PyzmqRouterIO
    with pytest.raises(RuntimeError, match="not found"):
        open_router(router, *_unbound(), use_c=True)
    monkeypatch.delenv(libzmq.FORCE_PYZMQ)
    if FUNCTIONS is None:
        pytest.skip(NO_LIBZMQ)
    assert type(open_router(router, *_unbound())) is RouterIO
