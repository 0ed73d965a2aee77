"""The ZAP credentials callback of the daemon: refused keys are counted, and logged without
letting a flood of handshakes flood the log (``exchange.server.KeyAllowlist``)."""
import logging
import threading

from exchange.security import KeyAllowlist

GOOD, BAD = b"A" * 40, b"B" * 40


def _refusals(caplog):
    return [r for r in caplog.records if getattr(r, "event", None) == "curve_refused"]


def _summaries(caplog):
    return [r for r in caplog.records if getattr(r, "event", None) == "curve_refused_summary"]


def test_an_allowed_key_passes_and_a_refused_one_is_counted_and_logged_once(caplog):
    caplog.set_level(logging.WARNING, "chuanyu.gateway")
    a = KeyAllowlist([GOOD.decode()], "orders", peer=lambda: "10.1.2.3")
    assert a.callback("orders", GOOD) is True
    assert [a.callback("orders", BAD) for _ in range(5)] == [False] * 5
    assert a.refused == 5
    first, = _refusals(caplog)
    assert (first.domain, first.key, first.peer) == ("orders", BAD.decode(), "10.1.2.3")
    a.summary()                                   # the interval (60 s) is not over: nothing yet
    assert not _summaries(caplog)
    a.summary(final=True)
    summary, = _summaries(caplog)
    assert (summary.refused, summary.total) == (4, 5)


def test_each_interval_logs_a_key_again_and_sums_up_the_rest(caplog):
    caplog.set_level(logging.WARNING, "chuanyu.gateway")
    a = KeyAllowlist([], "admin", summary_s=0.0)
    a.callback("admin", BAD)
    a.callback("admin", BAD)
    a.summary()                                   # an interval of 0 s is always over
    a.summary()                                   # nothing left to sum up: no line
    a.callback("admin", BAD)
    assert len(_refusals(caplog)) == 2 and [s.refused for s in _summaries(caplog)] == [1]


def test_distinct_keys_logged_one_by_one_are_bounded(caplog):
    caplog.set_level(logging.WARNING, "chuanyu.gateway")
    a = KeyAllowlist([], "orders", log_keys=3)
    for n in range(50):
        a.callback("orders", b"%040d" % n)        # a new key for every handshake
    assert len(_refusals(caplog)) == 3
    a.summary(final=True)
    assert [s.refused for s in _summaries(caplog)] == [47]


def test_the_count_is_exact_under_concurrent_callbacks():
    a = KeyAllowlist([], "orders")
    logging.getLogger("chuanyu.gateway").disabled = True
    try:
        threads = [threading.Thread(target=lambda: [a.callback("orders", BAD) for _ in range(2000)])
                   for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        logging.getLogger("chuanyu.gateway").disabled = False
    assert a.refused == 8000
