"""A client whose CURVE key the server refuses: its login ends in SessionError within its
timeout, never in a send that blocks for ever.

A refused handshake ends the connection, and libzmq reconnects a moment later; a DEALER
that sends while it has no connection at all blocks (it has no pipe to queue on). Logins
at varied moments after the refusal land in that gap about one time in three."""
import threading
import time

import pytest
import zmq
from zmq.auth.thread import ThreadAuthenticator

from gateway.client import Client, SessionError


@pytest.fixture
def refusing_server(tmp_path):
    """A CURVE ROUTER on loopback whose authenticator knows no client key."""
    ctx = zmq.Context()
    auth = ThreadAuthenticator(ctx)
    auth.start()
    auth.configure_curve(domain="*", location=str(tmp_path))        # no certificates: nobody
    public, secret = zmq.curve_keypair()
    server = ctx.socket(zmq.ROUTER)
    server.curve_server, server.curve_secretkey, server.curve_publickey = True, secret, public
    port = server.bind_to_random_port("tcp://127.0.0.1")
    yield ctx, f"tcp://127.0.0.1:{port}", public
    auth.stop()
    ctx.destroy(linger=0)


def test_a_refused_login_returns_within_its_timeout(refusing_server):
    ctx, endpoint, server_key = refusing_server
    for delay_ms in (0, 40, 80, 120, 160, 200, 240, 280, 320, 360, 400, 440):
        public, secret = zmq.curve_keypair()
        client = Client(endpoint, server_key, public, secret, 1, context=ctx)
        time.sleep(delay_ms / 1000)             # the refusal, and the reconnection, come and go
        outcome = []

        def log_in():
            try:
                client.login(timeout_ms=200)
            except SessionError as exc:
                outcome.append(exc)
        attempt = threading.Thread(target=log_in, daemon=True)
        started = time.monotonic()
        attempt.start()
        attempt.join(5)
        assert not attempt.is_alive(), f"login blocked (first send {delay_ms} ms after the connect)"
        assert time.monotonic() - started < 2
        assert outcome and "no answer to LOGIN within 200 ms" in str(outcome[0])
        client.sock.close(linger=0)


def test_the_async_client_too(refusing_server):
    import asyncio

    import zmq.asyncio

    from gateway.client import AsyncClient
    _, endpoint, server_key = refusing_server

    async def attempts():
        ctx = zmq.asyncio.Context()
        try:
            for delay_ms in (0, 60, 120, 180, 240, 300, 360, 420):
                public, secret = zmq.curve_keypair()
                client = AsyncClient(endpoint, server_key, public, secret, 1, context=ctx)
                await asyncio.sleep(delay_ms / 1000)
                with pytest.raises(SessionError, match="no answer to LOGIN within 200 ms"):
                    await asyncio.wait_for(client.login(timeout_ms=200), 5)
                client.sock.close(linger=0)
        finally:
            ctx.destroy(linger=0)
    asyncio.run(attempts())
