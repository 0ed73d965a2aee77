"""A session flooding past its rate limit, in-process: the C screen and the numpy path agree
on every report and on the flood state, a flooder draws at most ``rate_limit + burst``
RATE_LIMITED rejects a second and then one SERVER_LOGOUT RATE_LIMITED, and the other
session's orders in the same batches are answered."""
import time

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import exchange.server as server
from gateway._intake import flood_limit
from exchange.metrics import Metrics
from gateway.protocol import ORDER_DTYPE, SERVER_LOGOUT_DTYPE, GatewayReject, MsgType

from test_stage_twins import _gateway, monkeypatch_module  # noqa: F401  (a fixture)
from wire import logged_in

LIMIT = 200 + 12          # session 2 of test_stage_twins's market: 200 messages/s, burst 12


def _orders(n: int, accounts, first_coid: int, rng=None, bad_types: float = 0.0) -> bytes:
    m = np.zeros(n, dtype=ORDER_DTYPE)
    m["msg_type"] = MsgType.NEW_ORDER
    if rng is not None and bad_types:
        m["msg_type"][rng.random(n) < bad_types] = 99               # unknown type: refused before the rate limit
    m["side"], m["order_type"], m["tif"] = 1, 1, 1
    m["account"] = accounts[0]
    m["price"], m["qty"] = 5000, 1
    m["client_order_id"] = np.arange(first_coid, first_coid + n)
    return m.tobytes()


def _logouts(gw, identity: bytes) -> list:
    frames = [r.tobytes() for i, r in gw.sessions.router.sent if i == identity and r["msg_type"][0] == MsgType.SERVER_LOGOUT]
    return [int(np.frombuffer(f, dtype=SERVER_LOGOUT_DTYPE)["reason"][0]) for f in frames]


def _sent(gw) -> list:
    """Every frame sent, as bytes; a SERVER_LOGOUT's ``server_time`` (the wall clock) zeroed."""
    out = []
    for identity, rows in gw.sessions.router.sent:
        if rows["msg_type"][0] == MsgType.SERVER_LOGOUT:
            rows = np.frombuffer(rows.tobytes(), dtype=SERVER_LOGOUT_DTYPE).copy()
            rows["server_time"] = 0
        out.append((identity, rows.tobytes()))
    return out


def _reports(gw, identity: bytes) -> np.ndarray:
    rows = [r for i, r in gw.sessions.router.sent if i == identity and r["msg_type"][0] != MsgType.SERVER_LOGOUT]
    return np.concatenate(rows) if rows else np.zeros(0, dtype=gw.sessions.router.sent[0][1].dtype)


def test_the_flood_limit_is_rate_plus_burst():
    assert flood_limit([0, 200, 5], [0, 12, 5]).tolist() == [0.0, 212.0, 10.0]


@pytest.mark.parametrize("fast", [True, False])
def test_a_flooder_is_logged_out_after_rate_plus_burst_rejects(tmp_path, monkeypatch, fast):
    monkeypatch.setattr(server.time, "monotonic_ns", lambda: 10**9)
    gw = _gateway(tmp_path, fast)
    frames = [_orders(3, (1,), 1), _orders(400, (3,), 1), _orders(400, (3,), 401), _orders(2, (1,), 4)]
    gw.run_batch(frames, [1, 2, 2, 1], [time.time_ns() + 10**12] * 4)
    flooder, other = _reports(gw, b"id2"), _reports(gw, b"id1")
    assert (flooder["msg_type"] == MsgType.ACK).sum() == 12                    # its burst, accepted
    assert (flooder["reason"] == GatewayReject.RATE_LIMITED).sum() == LIMIT   # then rate_limit + burst rejects
    assert len(flooder) == 12 + LIMIT                                          # the rest: no report at all
    assert _logouts(gw, b"id2") == [GatewayReject.RATE_LIMITED]
    assert not gw.sessions[2].logged_in and gw.intake.rate_limit_logouts.tolist() == [0, 0, 1]
    assert int(gw.intake.state.flood_dropped[2]) == 800 - 12 - LIMIT
    assert (other["msg_type"] == MsgType.ACK).sum() == 5 and _logouts(gw, b"id1") == []
    assert not gw.intake.state.any_flooded and not gw.intake.state.flooded.any()
    assert gw.counters["messages"] == 805
    m = Metrics()
    m.watch(gw)
    assert m.value("chuanyu_rate_limit_logouts_total", session=gw.sessions[2].cfg.name) == 1
    assert m.value("chuanyu_rate_limit_logouts_total", session=gw.sessions[1].cfg.name) == 0
    gw.close()


@pytest.mark.parametrize("fast", [True, False])
def test_a_session_over_its_limit_but_not_flooding_stays(tmp_path, monkeypatch, fast):
    clock = [10**9]
    monkeypatch.setattr(server.time, "monotonic_ns", lambda: clock[0])
    gw = _gateway(tmp_path, fast)
    coid = 1
    for k in range(4):                       # 12 + 100 + 100 + 12: a window's refusals stay under 212
        clock[0] += 10**9 * k
        gw.run_batch([_orders(112, (3,), coid)], [2], [time.time_ns() + 10**12])
        coid += 112
    assert gw.sessions[2].logged_in and _logouts(gw, b"id2") == []
    gw.close()


@settings(max_examples=20, deadline=None)
@given(st.integers(0, 2**32 - 1))
def test_c_screen_and_numpy_path_agree_under_floods(tmp_path_factory, monkeypatch_module, seed):  # noqa: F811
    clock = [0]
    monkeypatch_module.setattr(server.time, "monotonic_ns", lambda: clock[0])
    rng = np.random.default_rng(seed)
    batches, coid, t = [], {1: 1, 2: 1}, 10**9
    for _ in range(12):
        t += int(rng.choice([0, 10**7, 3 * 10**8, 1_100_000_000]))     # windows end now and then
        frames, sess = [], []
        for _ in range(int(rng.integers(1, 5))):
            s = int(rng.integers(1, 3))
            n = int(rng.choice([1, 5, 60, 250])) if s == 2 else int(rng.integers(1, 4))
            frames.append(_orders(n, (2 * s - 1,), coid[s], rng, bad_types=0.05))
            sess.append(s)
            coid[s] += n
        batches.append((t, frames, sess))
    t0 = time.time_ns() + 10**12
    runs = []
    for fast in (True, False):
        gw = _gateway(tmp_path_factory.mktemp("fast" if fast else "np"), fast)
        for i, (t, frames, sess) in enumerate(batches):
            clock[0] = t
            if not gw.sessions[2].logged_in:                 # the flooder logs in again
                logged_in(gw, [gw.sessions[2]])
            gw.run_batch(frames, sess, [t0 + 1000 * i + j for j in range(len(frames))])
        gw.close()
        runs.append(gw)
    fast, slow = runs
    assert _sent(fast) == _sent(slow)
    for name in ("over", "window", "flood_dropped", "tokens", "coid_last"):
        assert getattr(fast.intake.state, name).tolist() == getattr(slow.intake.state, name).tolist(), name
    assert fast.intake.rate_limit_logouts.tolist() == slow.intake.rate_limit_logouts.tolist()
    assert fast.engine.state_digest() == slow.engine.state_digest()
