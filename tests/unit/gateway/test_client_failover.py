"""Client and AsyncClient over several endpoints (high availability) against stand-in nodes on
loopback: CURVE ROUTER sockets that answer a LOGIN as the primary daemon would. A node that is
not the primary binds nothing; here, a port nobody listens on. tests/integration/
test_client_endpoints.py does the same with real daemons."""
import asyncio
import threading
import time

import numpy as np
import pytest
import zmq
import zmq.asyncio

from gateway.client import AsyncClient, Client, SessionError
from gateway.protocol import LOGIN_DTYPE, GatewayReject, LoginFlag, MsgType, encode
from helpers import free_endpoint

SERVER_PUBLIC, SERVER_SECRET = zmq.curve_keypair()
CLIENT_PUBLIC, CLIENT_SECRET = zmq.curve_keypair()
SESSION = 1


class Node:
    """A primary's order port on ``endpoint`` (default: a free one). The first ``refusals``
    LOGINs are refused with ``refuse``; the others get a LOGIN_ACK, then an ACK numbered
    ``report_seq`` when that is not 0. Every LOGIN received is kept in :attr:`logins`."""

    def __init__(self, ctx, endpoint=None, refuse=0, refusals=0, report_seq=0):
        self.sock = ctx.socket(zmq.ROUTER)
        self.sock.linger = 0
        self.sock.curve_server = True
        self.sock.curve_secretkey = SERVER_SECRET
        if endpoint is None:
            endpoint = f"tcp://127.0.0.1:{self.sock.bind_to_random_port('tcp://127.0.0.1')}"
        else:
            self.sock.bind(endpoint)
        self.endpoint = endpoint
        self.refuse, self.refusals, self.report_seq = refuse, refusals, report_seq
        self.logins = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self):
        while not self._stop.is_set():
            if not self.sock.poll(20):
                continue
            peer, frame = self.sock.recv_multipart()
            if frame[0] != MsgType.LOGIN:
                continue                                        # heartbeats
            self.logins.append(np.frombuffer(frame, LOGIN_DTYPE)[0].copy())
            if len(self.logins) <= self.refusals:
                self.sock.send_multipart([peer, encode(MsgType.REJECT, reason=self.refuse, ref_type=MsgType.LOGIN,
                                                       session=SESSION)])
                continue
            self.sock.send_multipart([peer, encode(MsgType.LOGIN_ACK, version=1, session=SESSION, heartbeat_ms=5000,
                                                   report_seq=self.report_seq)])
            if self.report_seq:
                self.sock.send_multipart([peer, encode(MsgType.ACK, session=SESSION, report_seq=self.report_seq)])

    def close(self):
        self._stop.set()
        self._thread.join()
        self.sock.close(linger=0)


@pytest.fixture
def nodes(zctx):
    """``nodes(**kwargs)``: a started :class:`Node`, closed at teardown."""
    made = []

    def make(**kwargs):
        made.append(Node(zctx, **kwargs))
        return made[-1]
    yield make
    for node in made:
        node.close()


def client(zctx, endpoints, cls=Client, ctx=None):
    return cls(endpoints, SERVER_PUBLIC, CLIENT_PUBLIC, CLIENT_SECRET, SESSION, context=ctx or zctx)


def test_one_endpoint_or_several_and_nothing_else():
    ctx = zmq.Context()
    try:
        one = client(ctx, "tcp://127.0.0.1:1")
        assert one.endpoints == ["tcp://127.0.0.1:1"]
        one.close()
        pair = ("tcp://127.0.0.1:1", "tcp://127.0.0.1:2")
        c = client(ctx, pair)
        assert c.endpoints == list(pair) and c.endpoint == pair[0]
        c.close()
        for bad in ([], (), None, ["tcp://127.0.0.1:1", 7]):
            with pytest.raises(ValueError):
                client(ctx, bad)
    finally:
        ctx.destroy(linger=0)


def test_login_passes_over_a_node_that_does_not_answer_and_forgets_what_it_sent_there(zctx, nodes):
    dead = free_endpoint()
    live = nodes()
    c = client(zctx, [dead, live.endpoint])
    started = time.monotonic()
    assert c.login(timeout_ms=5000).session == SESSION
    assert 0.9 < time.monotonic() - started < 3          # the dead node first, for its slice
    assert c.endpoint == live.endpoint and len(live.logins) == 1
    # the node comes up: the LOGIN queued for it went with its socket, and never arrives
    late = nodes(endpoint=dead)
    assert not c.sock.poll(600)                          # ZeroMQ would have reconnected well within this
    assert late.logins == [] and len(live.logins) == 1
    c.close()


def test_a_refused_login_raises_at_once_without_trying_the_next_node(zctx, nodes):
    refusing = nodes(refuse=GatewayReject.KEY_NOT_ALLOWED, refusals=1)
    live = nodes()
    c = client(zctx, [refusing.endpoint, live.endpoint])
    started = time.monotonic()
    with pytest.raises(SessionError) as err:
        c.login(timeout_ms=5000)
    assert err.value.reason == GatewayReject.KEY_NOT_ALLOWED and time.monotonic() - started < 0.9
    assert live.logins == [] and c.endpoint == refusing.endpoint
    c.close()


def test_a_node_shutting_down_is_passed_over_for_the_next(zctx, nodes):
    leaving = nodes(refuse=GatewayReject.SHUTTING_DOWN, refusals=100)
    live = nodes()
    c = client(zctx, [leaving.endpoint, live.endpoint])
    assert c.login(timeout_ms=5000).session == SESSION and c.endpoint == live.endpoint
    assert len(leaving.logins) == 1
    c.close()
    alone = client(zctx, [leaving.endpoint])            # with nowhere else to go it is final
    with pytest.raises(SessionError) as err:
        alone.login(timeout_ms=2000)
    assert err.value.reason == GatewayReject.SHUTTING_DOWN
    alone.close()


def test_no_node_answering_is_an_error_naming_them_all(zctx):
    dead = [free_endpoint(), free_endpoint()]
    c = client(zctx, dead)
    started = time.monotonic()
    with pytest.raises(SessionError, match="no answer to LOGIN within 1500 ms from any of") as err:
        c.login(timeout_ms=1500)
    assert 1.4 < time.monotonic() - started < 2.5 and err.value.reason == 0
    assert all(e in str(err.value) for e in dead)
    c.close()


def test_reconnect_goes_round_the_list_to_the_new_primary_and_asks_for_the_gap(zctx, nodes):
    dead = free_endpoint()
    old = nodes(report_seq=7)
    c = client(zctx, [old.endpoint, dead])
    c.login()
    assert c.wait_for(lambda r: r.msg_type == MsgType.ACK).report_seq == 7 and c.last_report_seq == 7
    old.close()                                          # failover: the old primary is gone, a new one binds
    new = nodes(endpoint=dead)
    ack = c.reconnect(timeout_ms=5000)
    assert ack.session == SESSION and c.endpoint == new.endpoint
    (login,) = new.logins
    assert login["flags"] == LoginFlag.GAP_FILL and login["last_report_seq"] == 7
    c.close()


def test_reconnect_tries_the_current_node_first(zctx, nodes):
    first = free_endpoint()
    current = nodes()
    c = client(zctx, [first, current.endpoint])
    c.login()                                            # after a second on the first one
    other = nodes(endpoint=first)                        # now both answer
    c.reconnect(timeout_ms=5000)
    assert c.endpoint == current.endpoint and len(current.logins) == 2 and other.logins == []
    c.close()


def test_reconnect_stays_with_a_node_that_still_holds_the_old_login(zctx, nodes):
    primary = nodes(refuse=GatewayReject.ALREADY_LOGGED_IN, refusals=2)
    c = client(zctx, [primary.endpoint, free_endpoint()])
    c.reconnect(timeout_ms=5000)
    assert c.endpoint == primary.endpoint and len(primary.logins) == 3
    c.close()


def test_reconnect_to_a_given_endpoint_tries_it_alone_and_puts_it_in_the_list(zctx, nodes):
    a, b = free_endpoint(), free_endpoint()
    moved = nodes()
    c = client(zctx, [a, b])
    started = time.monotonic()
    c.reconnect(timeout_ms=5000, endpoint=moved.endpoint)
    assert time.monotonic() - started < 0.9              # no slice spent on a or b
    assert c.endpoints == [moved.endpoint, b] and c.endpoint == moved.endpoint
    c.close()


def test_the_async_client_finds_the_primary_and_reconnects_round_the_list(zctx, nodes):
    dead = free_endpoint()
    old = nodes(report_seq=3)

    async def main():
        actx = zmq.asyncio.Context()
        c = client(zctx, [dead, old.endpoint], cls=AsyncClient, ctx=actx)
        try:
            await c.login(timeout_ms=5000)
            assert c.endpoint == old.endpoint
            assert (await c.wait_for(lambda r: r.msg_type == MsgType.ACK)).report_seq == 3
            old.close()
            new = nodes(endpoint=dead)
            await c.reconnect(timeout_ms=5000)
            assert c.endpoint == new.endpoint
            (login,) = new.logins
            assert login["flags"] == LoginFlag.GAP_FILL and login["last_report_seq"] == 3
        finally:
            c.close()
            actx.destroy(linger=0)
    asyncio.run(main())
