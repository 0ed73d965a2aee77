"""The gap-fill window (gateway.gapfill.ReportWindow) and the gateway's numbering of reports
in-process: what is kept, what a gap fill returns, what survives a snapshot and a replay."""
import numpy as np
import pytest

import exchange.server as server
from bench.gateway_bench import market_config, orders_pool
from exchange.config import parse_config
from gateway.gapfill import ReportWindow
from wire import logged_in
from gateway.protocol import REPORT_DTYPE, GatewayReject, MsgType


def _rows(first: int, n: int) -> np.ndarray:
    rows = np.zeros(n, dtype=REPORT_DTYPE)
    rows["report_seq"] = np.arange(first, first + n)
    rows["order_id"] = rows["report_seq"] * 10          # content to tell rows apart
    return rows


@pytest.mark.parametrize("capacity", [1, 7, 1000, 5000])
def test_the_window_keeps_the_newest_capacity_reports_in_order(capacity):
    rng = np.random.default_rng(capacity)
    w = ReportWindow(capacity)
    last = 0
    for _ in range(60):
        n = int(rng.integers(1, 300))
        w.add(_rows(last + 1, n))
        last += n
        assert w.last == last and w.count == min(last, capacity) and w.first == last - w.count + 1
        kept = w.after(w.first - 1)
        assert kept["report_seq"].tolist() == list(range(w.first, last + 1))
        assert (kept["order_id"] == kept["report_seq"] * 10).all()
        k = int(rng.integers(w.first - 1, last + 1))
        assert w.after(k)["report_seq"].tolist() == list(range(k + 1, last + 1))


def test_asking_for_more_than_is_kept_is_an_error_not_a_silent_gap():
    w = ReportWindow(5)
    w.add(_rows(1, 12))
    assert not w.can_fill(6) and w.can_fill(7) and w.can_fill(12) and not w.can_fill(13)
    with pytest.raises(ValueError, match="oldest kept: 8"):
        w.after(6)
    assert len(w.after(12)) == 0 and len(w.after(40)) == 0


def test_a_window_of_zero_keeps_nothing_but_counts():
    w = ReportWindow(0)
    w.add(_rows(1, 3))
    assert (w.last, w.count, w.can_fill(3), w.can_fill(2)) == (3, 0, True, False)
    with pytest.raises(ValueError):
        ReportWindow(-1)


def test_load_restores_a_window_and_checks_it_ends_at_the_counter():
    w = ReportWindow(4)
    w.load(_rows(3, 6), last=8)                  # more rows than fit: the newest 4
    assert (w.first, w.last) == (5, 8) and w.after(4)["order_id"].tolist() == [50, 60, 70, 80]
    w.add(_rows(9, 1))
    assert w.after(5)["report_seq"].tolist() == [6, 7, 8, 9]
    with pytest.raises(ValueError, match="not 9"):
        w.load(_rows(1, 3), last=9)


def _gateway(state_dir, text=None):
    return logged_in(server.ExchangeNode(parse_config(text or market_config(2)), state_dir))


def _batch(gw, seed, coid_from):
    frames, sess = [], []
    for k in range(2):
        pool = orders_pool(300, (2 * k + 1, 2 * k + 2), seed=seed + k)
        pool["client_order_id"] = np.arange(coid_from, coid_from + 300)
        if k == 1:
            pool["account"][:5] = 1                    # another session's account: gateway rejects
        frames.append(pool.tobytes())
        sess.append(k + 1)
    frames.append(b"\x00" * 7)                         # a malformed frame: a gateway reject
    sess.append(1)
    gw.run_batch(frames, sess, [1_000] * 3)


def test_gateway_rejects_are_outside_the_numbering_and_the_window_holds_what_was_sent(tmp_path):
    gw = _gateway(tmp_path)
    try:
        _batch(gw, 1, 1)
        for s in gw.sessions[1:]:
            sent = np.concatenate([r for i, r in gw.sessions.router.sent if i == s.identity])
            rejects = sent[sent["cmd_seq"] == 0]
            numbered = sent[sent["cmd_seq"] != 0]
            assert (rejects["report_seq"] == 0).all() and len(rejects) >= 1
            assert numbered["report_seq"].tolist() == list(range(1, gw.reports.report_seq[s.idx] + 1))
            assert gw.reports.windows[s.idx].after(0).tobytes() == numbered.tobytes()
        reasons = set(np.concatenate([r for _, r in gw.sessions.router.sent])["reason"].tolist())
        assert {GatewayReject.NOT_AUTHORISED, GatewayReject.MALFORMED_FRAME} <= reasons
    finally:
        gw.close()


def test_a_snapshot_and_a_replay_rebuild_the_numbering_and_the_kept_reports(tmp_path):
    gw = _gateway(tmp_path)
    try:
        _batch(gw, 1, 1)
        gw.write_snapshot()                            # windows in the snapshot...
        _batch(gw, 3, 1_000)                           # ...and more in the journal after it
        windows = gw.reports.windows
        live = {s.cfg.id: (gw.reports.report_seq[s.idx], windows[s.idx].after(windows[s.idx].first - 1))
                for s in gw.sessions[1:]}
        digest = gw.engine.state_digest()
    finally:
        gw.close()
    again = server.ExchangeNode(parse_config(market_config(2)), tmp_path)
    try:
        assert again.recovery["snapshot"] is not None and again.recovery["replayed_commands"] > 0
        assert again.engine.state_digest() == digest
        for s in again.sessions[1:]:
            report_seq, kept = live[s.cfg.id]
            window = again.reports.windows[s.idx]
            assert again.reports.report_seq[s.idx] == report_seq > 300
            assert window.after(window.first - 1).tobytes() == kept.tobytes()
            assert {int(m) for m in kept["msg_type"]} <= {int(MsgType.ACK), int(MsgType.REJECT), int(MsgType.FILL),
                                                         int(MsgType.CANCELLED)}
    finally:
        again.close()
