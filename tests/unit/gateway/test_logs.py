"""exchange.logs: JSON lines, handler set-up, and the one-line-per-event log of operator batches."""
import io
import json
import logging
import sys

import numpy as np
import pytest

from exchange.logs import JsonFormatter, configure, log_operator_events
from matching import (
    EVENT_DTYPE, AccountStatus, AuctionOutcome, CommandType, EventKind, InstrumentStatus, Reject,
)


@pytest.fixture
def restore_logging():
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    zap = logging.getLogger("chuanyu.zap").level
    yield
    for h in list(root.handlers):
        root.removeHandler(h)
    for h in handlers:
        root.addHandler(h)
    root.setLevel(level)
    logging.getLogger("chuanyu.zap").setLevel(zap)


def _record(msg, *args, exc_info=None, **extra):
    return logging.getLogger("chuanyu.test").makeRecord("chuanyu.test", logging.INFO, __file__, 1, msg, args,
                                                        exc_info, extra=extra)


def test_a_record_becomes_one_json_object_with_its_extra_fields():
    line = JsonFormatter().format(_record("snapshot %s", "s.bin", event="snapshot", last_seq=12, path=None))
    assert "\n" not in line
    out = json.loads(line)
    assert out["event"] == "snapshot" and out["message"] == "snapshot s.bin"
    assert out["last_seq"] == 12 and out["path"] is None
    assert out["level"] == "INFO" and out["logger"] == "chuanyu.test"
    assert out["ts"].endswith("Z") and out["ts"][10] == "T"


def test_a_record_without_an_event_and_with_odd_values_still_parses():
    class Odd:
        def __str__(self):
            return "odd!"

    out = json.loads(JsonFormatter().format(_record("plain", thing=Odd(), when=b"\x00")))
    assert out["event"] is None and out["thing"] == "odd!"


def test_an_exception_goes_in_exc_on_the_same_line():
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        rec = _record("engine failed", exc_info=sys.exc_info(), event="error")
    line = JsonFormatter().format(rec)
    assert "\n" not in line
    out = json.loads(line)
    assert "RuntimeError: boom" in out["exc"] and out["event"] == "error"


def test_configure_replaces_handlers_and_keeps_the_zap_thread_quiet(restore_logging):
    stream = io.StringIO()
    configure("INFO", json_lines=True, stream=stream)
    configure("INFO", json_lines=True, stream=stream)          # twice: still one handler
    logging.getLogger("chuanyu.gateway").info("hello", extra={"event": "start"})
    logging.getLogger("chuanyu.zap").info("ALLOWED (CURVE) ...")
    lines = stream.getvalue().splitlines()
    assert [json.loads(x)["event"] for x in lines] == ["start"]
    text = io.StringIO()
    configure("WARNING", json_lines=False, stream=text)
    logging.getLogger("chuanyu.gateway").info("not shown")
    logging.getLogger("chuanyu.gateway").warning("shown")
    assert text.getvalue().rstrip().endswith("chuanyu.gateway WARNING shown")


def _events(rows):
    ev = np.zeros(len(rows), dtype=EVENT_DTYPE)
    for n, fields in enumerate(rows):
        for k, v in fields.items():
            ev[n][k] = v
    return ev


def test_operator_batches_log_one_line_per_event_of_note(caplog):
    events = _events([
        dict(kind=EventKind.INSTRUMENT_STATUS, instrument=0, value=InstrumentStatus.HALTED, cmd_seq=5),
        dict(kind=EventKind.BLOCK_WINDOW, instrument=1, value=1, cmd_seq=6),
        dict(kind=EventKind.DAILY_STATS, instrument=1, price=4500, value=4480, cmd_seq=7),
        dict(kind=EventKind.ACCOUNT_UPDATED, account=3, value=AccountStatus.SUSPENDED,
             command=CommandType.SET_ACCOUNT_STATUS, cmd_seq=8),
        dict(kind=EventKind.ACCOUNT_UPDATED, account=3, command=CommandType.DEPOSIT, cmd_seq=9),
        dict(kind=EventKind.AUCTION_RESULT, instrument=2, reason=AuctionOutcome.CLEARED, price=6100, qty=500,
             cmd_seq=10),
        dict(kind=EventKind.REJECTED, reason=Reject.UNKNOWN_ACCOUNT, command=CommandType.DEPOSIT, cmd_seq=11),
        dict(kind=EventKind.REJECTED, reason=Reject.INSUFFICIENT_CASH, command=CommandType.NEW_ORDER, cmd_seq=12),
        dict(kind=EventKind.TRADE, instrument=0, qty=5, cmd_seq=12),
    ])
    operator = np.array([True] * 7 + [False, False])             # the last two came from a session
    with caplog.at_level(logging.INFO, logger="chuanyu.test"):
        log_operator_events(logging.getLogger("chuanyu.test"), events, ["SCEA", "CQEA", "CCER"], operator)
    got = [(r.event, r.getMessage()) for r in caplog.records]
    assert got == [
        ("instrument_status", "instrument SCEA: HALTED"),
        ("block_window", "instrument CQEA: block window open"),
        ("end_of_day", "end of day CQEA: close 4500, previous close 4480"),
        ("account_status", "account 3: SUSPENDED"),
        ("auction_result", "auction CCER: CLEARED at 6100, 500 t"),
        ("operator_reject", "operator command DEPOSIT rejected: UNKNOWN_ACCOUNT"),
    ]
    assert caplog.records[-1].levelno == logging.WARNING
    assert caplog.records[0].seq == 5 and caplog.records[2].close == 4500
