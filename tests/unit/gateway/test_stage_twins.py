"""The C twins of the intake and reports stages (``gateway._intake``, ``exchange._reports``)
against their numpy twins, through the stages' one interface.

Two gateways with the same market take the same random batches of frames: one screens
with the C loop and builds reports in C, the other takes the numpy path for both
(``ExchangeNode(fast=False, report_builder=reports_reference.build_reports)``). Every report sent, byte for byte,
and the engine state must agree. The batches mix every order-entry message type with bad
input the screen must refuse: unknown types, reserved bytes, bad and repeated client order
ids, other members' accounts, a rate-limited session.
"""
import time

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import gateway._intake as intake_c
import exchange._reports as reports_c
import exchange._sequence as sequence_c
import exchange.server as server
from bench.gateway_bench import market_config
from exchange.config import parse_config
from gateway.protocol import ORDER_DTYPE, ORDER_TYPES, REPORT_DTYPE, MsgType
from matching import COMMAND_DTYPE, commands

from exchange.reports import c_builder
from reports_reference import build_reports
from wire import logged_in

_TYPES = np.array([int(t) for t in ORDER_TYPES] + [0, 99], dtype=np.uint8)
_TYPE_P = np.array([0.45, 0.12, 0.06, 0.08, 0.06, 0.06, 0.06, 0.04, 0.04, 0.015, 0.015])
_TYPE_P /= _TYPE_P.sum()


def test_c_structs_match_the_wire_dtypes():
    for module, name, dtype in ((intake_c, "ORDER", ORDER_DTYPE), (reports_c, "REPORT", REPORT_DTYPE)):
        size, offsets = module.layout()[name]
        assert size == dtype.itemsize
        assert offsets == {f: dtype.fields[f][1] for f in dtype.names}


def _market() -> str:
    # session 2 is rate limited: 200 messages/s, bursts of 12
    return market_config(2).replace('key = "bench-1"', 'key = "bench-1"\nrate_limit = 200\nburst = 12')


def _gateway(tmp_path, fast: bool):
    gw = server.ExchangeNode(parse_config(_market()), tmp_path, journal=server.NullJournal(), fast=fast,
                        report_builder=c_builder if fast else build_reports)
    return logged_in(gw)


def _batches(seed: int, n_batches: int):
    """Random frames per batch: (payloads, session index per frame)."""
    rng = np.random.default_rng(seed)
    coid = {1: 0, 2: 0}
    out = []
    for _ in range(n_batches):
        payloads, sess = [], []
        for _ in range(int(rng.integers(1, 6))):
            s = int(rng.integers(1, 3))
            n = int(rng.choice([1, 1, 2, 5, 17]))
            m = np.zeros(n, dtype=ORDER_DTYPE)
            m["msg_type"] = rng.choice(_TYPES, n, p=_TYPE_P)
            m["side"] = rng.integers(1, 3, n)
            m["order_type"] = np.where(rng.random(n) < 0.9, 1, 2)
            m["tif"] = np.where(m["order_type"] == 2, 3, rng.choice([1, 2, 3, 4], n))
            m["instrument"] = rng.integers(0, 2, n)
            own = (2 * s - 1, 2 * s)                   # each session's two accounts; others are refused
            m["account"] = np.where(rng.random(n) < 0.9, rng.choice(own, n), rng.integers(-1, 6, n))
            m["price"] = 5000 + rng.integers(-15, 16, n)
            m["qty"] = rng.integers(1, 30, n)
            m["order_id"] = rng.integers(1, 60, n)
            m["min_qty"] = np.where(m["msg_type"] == MsgType.LIST_FIXED, rng.integers(1, 5, n), 0)
            m["contra_account"] = np.where(m["msg_type"] == MsgType.BLOCK_QUOTE, rng.integers(-1, 5, n), 0)
            m["flags"] = np.where(m["msg_type"] == MsgType.BLOCK_QUOTE, rng.choice([0, 2], n), 0)
            for k in range(n):
                r = rng.random()
                if r < 0.04:
                    m["client_order_id"][k] = coid[s]           # a repeat
                elif r < 0.06:
                    m["client_order_id"][k] = -int(rng.integers(0, 3))
                else:
                    coid[s] += int(rng.integers(1, 3))
                    m["client_order_id"][k] = coid[s]
            raw = m.view(np.uint8).reshape(n, 64).copy()
            dirty = rng.random(n) < 0.03
            raw[dirty, 58] = 1                                   # a reserved byte set
            payloads.append(raw.tobytes())
            sess.append(s)
        out.append((payloads, sess))
    return out


def _run(tmp_path, fast: bool, batches, clock, t0):
    gw = _gateway(tmp_path, fast)
    for b in (0, 1):                 # open the block windows: quotes and accepts get past the phase check
        gw.admin.pending.append((commands.set_block_window(b, True), None))
    for i, (payloads, sess) in enumerate(batches):
        clock[0] = 10**9 + i * 50_000_000                    # 50 ms a batch: the rate limit refills
        gw.run_batch(payloads, sess, [t0 + 1000 * i + j for j in range(len(payloads))])
    gw.close()
    return gw


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 2**32 - 1))
def test_c_screen_and_reports_match_the_numpy_path(tmp_path_factory, monkeypatch_module, seed):
    clock = [0]
    monkeypatch_module.setattr(server.time, "monotonic_ns", lambda: clock[0])
    batches = _batches(seed, 30)
    t0 = time.time_ns() + 10**12     # later than either gateway's start-up: the frames drive the engine clock
    fast = _run(tmp_path_factory.mktemp("c"), True, batches, clock, t0)
    slow = _run(tmp_path_factory.mktemp("np"), False, batches, clock, t0)
    assert len(fast.sessions.router.sent) == len(slow.sessions.router.sent)
    for (id_a, a), (id_b, b) in zip(fast.sessions.router.sent, slow.sessions.router.sent):
        assert id_a == id_b
        assert a.tobytes() == b.tobytes()
    assert fast.engine.state_digest() == slow.engine.state_digest()
    for name in ("order_session", "order_account", "order_coid", "order_open"):
        assert (getattr(fast.reports, name) == getattr(slow.reports, name)).all(), name
    assert fast.intake.state.coid_last.tolist() == slow.intake.state.coid_last.tolist()
    sent = np.concatenate([r for _, r in fast.sessions.router.sent])
    kinds = set(sent["msg_type"].tolist())
    assert {MsgType.ACK, MsgType.REJECT} <= kinds               # the stream is not trivially all-refused


def test_a_batch_with_a_session_message_or_a_bad_frame_takes_the_general_path(tmp_path):
    gw = _gateway(tmp_path, True)
    good = np.zeros(1, dtype=ORDER_DTYPE)
    good["msg_type"], good["client_order_id"], good["account"] = MsgType.NEW_ORDER, 1, 1
    assert gw.intake.state.screen([good.tobytes()], [1], [1], 0, False) is not None
    heartbeat = np.zeros(1, dtype=ORDER_DTYPE)
    heartbeat["msg_type"] = MsgType.HEARTBEAT
    assert gw.intake.state.screen([good.tobytes(), heartbeat.tobytes()], [1, 1], [1, 1], 0, False) is None
    assert gw.intake.state.screen([b"x" * 63], [1], [1], 0, False) is None
    assert gw.intake.state.coid_last[1] == 1   # a batch handed back changed nothing
    gw.close()


@pytest.fixture(scope="module")
def monkeypatch_module():
    mp = pytest.MonkeyPatch()
    yield mp
    mp.undo()


@given(st.lists(st.integers(0, 5), max_size=60))
def test_group_by_session_is_a_stable_sort_with_the_bounds_of_each_session(dest):
    dest = np.array(dest, dtype=np.int32)
    reports = np.zeros(len(dest), dtype=REPORT_DTYPE)
    reports["seq"] = np.arange(len(dest)) + 100
    reports["session"] = dest
    grouped, bounds = reports_c.group_by_session(reports, dest, 6)
    order = np.argsort(dest, kind="stable")
    assert grouped.tobytes() == reports[order].tobytes()
    assert [(s, b - a) for s, a, b in bounds] == [(s, int((dest == s).sum())) for s in range(6) if (dest == s).any()]
    assert all(set(grouped["session"][a:b].tolist()) == {s} for s, a, b in bounds)
    if len(bounds) <= 1:
        assert grouped is reports                  # one destination: nothing to copy


def test_group_by_session_refuses_a_destination_that_is_no_session_and_bad_reports():
    reports = np.zeros(2, dtype=REPORT_DTYPE)
    with pytest.raises(IndexError, match="not a session index"):
        reports_c.group_by_session(reports, np.array([0, 7], dtype=np.int32), 3)
    with pytest.raises(ValueError, match="2 reports but 3 destinations"):
        reports_c.group_by_session(reports, np.array([0, 1, 2], dtype=np.int32), 3)
    with pytest.raises(TypeError, match="contiguous REPORT_DTYPE"):
        reports_c.group_by_session(np.zeros(2, dtype=np.int64), np.array([0, 1], dtype=np.int32), 3)


def test_number_reports_and_stamp_seq():
    reports = np.zeros(4, dtype=REPORT_DTYPE)
    reports_c.number_reports(reports, 41)
    assert reports["report_seq"].tolist() == [41, 42, 43, 44]
    with pytest.raises(TypeError):
        reports_c.number_reports(reports[::2], 1)
    cmds = np.zeros(3, dtype=COMMAND_DTYPE)
    cmds["ts"] = 7
    sequence_c.stamp_seq(cmds, 100)
    assert cmds["seq"].tolist() == [100, 101, 102] and cmds["ts"].tolist() == [7, 7, 7]
    with pytest.raises(TypeError):
        sequence_c.stamp_seq(cmds[::2], 1)


@given(st.integers(0, 5), st.integers(1, 40), st.integers(-3, 3), st.integers(0, 2**62))
def test_journal_record_is_the_documented_layout(last_seq, n, skew, ts):
    """The C record against the layout of exchange.journal built with struct and zlib."""
    import struct
    import zlib

    from exchange.journal import HEADER, MAGIC
    cmds = np.zeros(n, dtype=COMMAND_DTYPE)
    first = (last_seq + 1 if last_seq else 1) + skew
    cmds["seq"] = np.arange(first, first + n)
    cmds["ts"] = ts
    cmds["price"] = np.arange(n) * 13
    if first < 1 or (last_seq and skew):        # an empty journal (last_seq 0) takes any first seq >= 1
        with pytest.raises(ValueError, match="does not continue the journal"):
            sequence_c.journal_record(cmds, last_seq, MAGIC)
        return
    record, got_first, got_n = sequence_c.journal_record(cmds, last_seq, MAGIC)
    header = bytearray(HEADER.pack(MAGIC, n * COMMAND_DTYPE.itemsize, 0, first, n, ts))
    crc = zlib.crc32(cmds.tobytes(), zlib.crc32(header[12:]))
    struct.pack_into("<I", header, 8, crc)
    assert (record, got_first, got_n) == (bytes(header) + cmds.tobytes(), first, n)
    if n > 1:                                  # a gap inside the batch
        cmds["seq"][-1] += 1
        with pytest.raises(ValueError, match="does not continue"):
            sequence_c.journal_record(cmds, last_seq, MAGIC)


def test_journal_record_refuses_what_is_no_batch():
    from exchange.journal import MAGIC
    with pytest.raises(TypeError, match="non-empty 1-d COMMAND_DTYPE"):
        sequence_c.journal_record(np.zeros(0, dtype=COMMAND_DTYPE), 0, MAGIC)
    with pytest.raises(TypeError, match="non-empty 1-d COMMAND_DTYPE"):
        sequence_c.journal_record(np.zeros(2, dtype=REPORT_DTYPE), 0, MAGIC)
    strided = np.zeros(4, dtype=COMMAND_DTYPE)
    strided["seq"] = [1, 9, 2, 9]
    record, first, n = sequence_c.journal_record(strided[::2], 0, MAGIC)     # copied to contiguous rows
    assert (first, n, len(record)) == (1, 2, 32 + 2 * COMMAND_DTYPE.itemsize)
