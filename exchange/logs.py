"""The daemon's logs: one line per event of note, as text or as JSON lines.

Each event of note is logged with ``extra={"event": NAME, ...fields}``: the text format
shows the message, :class:`JsonFormatter` writes one JSON object per line with the event
name and its fields as keys, for a log shipper. Events (``event`` values):

``start``, ``bind``, ``recovery``, ``snapshot_skipped``, ``session_login``, ``session_gap_fill``,
``session_logout``, ``session_disconnect``, ``routing_id_refused``, ``instrument_status``, ``block_window``,
``end_of_day``, ``account_status``, ``auction_result``, ``operator_reject``, ``snapshot``,
``pruned``, ``shutdown_requested``, ``shutdown``, ``error`` (docs/OPERATIONS.md, section 9).

>>> import io, json, logging
>>> stream = io.StringIO()
>>> logger = logging.getLogger("chuanyu.doctest")
>>> handler = logging.StreamHandler(stream)
>>> handler.setFormatter(JsonFormatter())
>>> logger.addHandler(handler); logger.propagate = False
>>> logger.warning("session %s logged in", "sc-platform", extra={"event": "session_login", "session_id": 1})
>>> line = json.loads(stream.getvalue())
>>> line["event"], line["message"], line["session_id"], line["level"]
('session_login', 'session sc-platform logged in', 1, 'WARNING')
"""
from __future__ import annotations

import datetime
import json
import logging
import sys

import numpy as np

from matching import AccountStatus, AuctionOutcome, CommandType, EventKind, InstrumentStatus, Reject, StatusCause

__all__ = ["JsonFormatter", "TEXT_FORMAT", "configure", "log_operator_events", "phase_changed", "log_interruptions"]

TEXT_FORMAT = "%(asctime)s %(name)s %(levelname)s %(message)s"

# Attributes every LogRecord has: anything else on a record came from ``extra``.
_STANDARD = frozenset(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    """One JSON object per record: ts (UTC, ISO 8601), level, logger, event, message, fields.

    Fields passed with ``extra`` become keys; values JSON cannot hold are written as text.
    An exception's traceback goes in ``exc``.
    """

    def format(self, record: logging.LogRecord) -> str:
        ts = datetime.datetime.fromtimestamp(record.created, datetime.timezone.utc)
        out = {"ts": ts.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
               "level": record.levelname, "logger": record.name,
               "event": getattr(record, "event", None), "message": record.getMessage()}
        for key, value in vars(record).items():
            if key not in _STANDARD and key not in out:
                out[key] = value
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        return json.dumps(out, default=str, ensure_ascii=False)


def configure(level: str = "INFO", json_lines: bool = False, stream=None) -> None:
    """Log to ``stream`` (stderr) at ``level``, as text or JSON lines; replaces earlier handlers.

    The ZAP authenticator logs every handshake at DEBUG: it stays quiet unless DEBUG is asked.
    """
    handler = logging.StreamHandler(sys.stderr if stream is None else stream)
    handler.setFormatter(JsonFormatter() if json_lines else logging.Formatter(TEXT_FORMAT))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    logging.getLogger("chuanyu.zap").setLevel(logging.DEBUG if level == "DEBUG" else logging.WARNING)


_STATUS, _WINDOW, _STATS = int(EventKind.INSTRUMENT_STATUS), int(EventKind.BLOCK_WINDOW), int(EventKind.DAILY_STATS)
_ACCOUNT, _AUCTION, _REJECTED = int(EventKind.ACCOUNT_UPDATED), int(EventKind.AUCTION_RESULT), int(EventKind.REJECTED)
_NOTED = np.zeros(256, dtype=bool)
_NOTED[[_STATUS, _WINDOW, _STATS, _ACCOUNT, _AUCTION, _REJECTED]] = True


def _name(enum, value: int) -> str:
    try:
        return enum(value).name
    except ValueError:
        return str(value)


def log_operator_events(log: logging.Logger, events: np.ndarray, symbols: list, operator: np.ndarray) -> None:
    """One line per phase change, block window, end of day, account sanction, auction result
    and rejected operator command among ``events`` (a batch with operator commands).

    ``operator``: per event, whether an operator (or the schedule) sent its command. Only
    called for batches holding operator commands, so it never runs per order.
    """
    rows = np.flatnonzero(_NOTED[events["kind"]] & operator)
    for e in events[rows]:
        kind, n = int(e["kind"]), int(e["instrument"])
        symbol = symbols[n] if 0 <= n < len(symbols) else str(n)
        seq = int(e["cmd_seq"])
        if kind == _STATUS:
            status = _name(InstrumentStatus, int(e["value"]))
            log.info("instrument %s: %s", symbol, status,
                     extra={"event": "instrument_status", "instrument": symbol, "status": status, "seq": seq})
        elif kind == _WINDOW:
            state = "open" if int(e["value"]) else "closed"
            log.info("instrument %s: block window %s", symbol, state,
                     extra={"event": "block_window", "instrument": symbol, "state": state, "seq": seq})
        elif kind == _STATS:
            log.info("end of day %s: close %d, previous close %d", symbol, int(e["price"]), int(e["value"]),
                     extra={"event": "end_of_day", "instrument": symbol, "close": int(e["price"]),
                            "previous_close": int(e["value"]), "seq": seq})
        elif kind == _ACCOUNT and int(e["command"]) == CommandType.SET_ACCOUNT_STATUS:
            status = _name(AccountStatus, int(e["value"]))
            log.info("account %d: %s", int(e["account"]), status,
                     extra={"event": "account_status", "account": int(e["account"]), "status": status, "seq": seq})
        elif kind == _AUCTION:
            outcome = _name(AuctionOutcome, int(e["reason"]))
            log.info("auction %s: %s at %d, %d t", symbol, outcome, int(e["price"]), int(e["qty"]),
                     extra={"event": "auction_result", "instrument": symbol, "outcome": outcome,
                            "price": int(e["price"]), "qty": int(e["qty"]), "seq": seq})
        elif kind == _REJECTED:
            reason = _name(Reject, int(e["reason"]))
            command = _name(CommandType, int(e["command"]))
            log.warning("operator command %s rejected: %s", command, reason,
                        extra={"event": "operator_reject", "command": command, "reason": reason, "seq": seq})


def phase_changed(events: np.ndarray) -> bool:
    """Whether a batch changed a phase (an order's may: a volatility interruption)."""
    return bool(np.any(events["kind"] == _STATUS))


def log_interruptions(log: logging.Logger, events: np.ndarray, symbols: list) -> None:
    """One line per volatility interruption among ``events``."""
    for e in events[(events["kind"] == _STATUS) & (events["reason"] == StatusCause.VOLATILITY)]:
        n, seq = int(e["instrument"]), int(e["cmd_seq"])
        symbol = symbols[n] if 0 <= n < len(symbols) else str(n)
        log.warning("instrument %s: volatility interruption, a call auction instead of a trade outside the "
                    "dynamic band", symbol,
                    extra={"event": "volatility_interruption", "instrument": symbol, "seq": seq})
