"""Operator requests on the daemon's admin socket, and the client that sends them.

The admin socket is a ROUTER with CURVE that admits only the configured admin keys. A
request is one JSON object ``{"op": NAME, "id": ANY, ...arguments}``; the reply is one JSON
object with ``"ok"`` and either the result or ``"error"``. Requests that change the
market become operator commands (session 0) in the daemon's next batch: sequenced and
journaled like orders. Their reply lists the events they caused (``"events"``, each with the
``seq`` of the journaled command that caused it); an engine reject is
``{"kind": "REJECTED", "reason": "UNKNOWN_ACCOUNT", ...}``. Every request but ``status`` and
``account`` is logged with the admin key that sent it.

========================  =============================================================
op                        arguments
========================  =============================================================
status                    -                  (the daemon's state: digest, journal, recovery, schedule, ...)
account                   account            (cash and holdings: floors, limits, obligations)
halt / resume             instrument (symbol or index; without it every instrument)
instrument                instrument, parameter (tick, lot, max_order_qty, reference_price, band_bps,
                          block_band_bps, block_min_qty, min_close_volume, dynamic_band_bps,
                          select_depth, select_fifo, cer_cap_bps), value
cancel_all                any of instrument, account, member (all must match), or session alone;
                          at least one: resting orders, listings and block quotes go (reason
                          OPERATOR; a session's orders by CANCEL each); auction bids stay
retention_floor           account, instrument, qty (units the account must keep)
position_limit            account, instrument, qty (most units it may hold; 0: none)
obligation                account, instrument, qty (units it must surrender)
stp                       account, mode (OFF, CANCEL_NEWEST, CANCEL_OLDEST, CANCEL_BOTH)
surrender                 account, instrument, qty, and for CERs against (the allowance whose obligation
                          they meet): compliance, the units retired
compliance                -                  (every account's obligations: left, surrendered, of it CERs)
fine                      account, amount (fen; 0 collects what is owed), reason (market_abuse,
                          late_surrender, reporting, other), case (the regulator's case number)
fines                     -                  (fines collected, and every account's fines owed)
fee_rebate                account, trade_type (CONTINUOUS, FIXED, BLOCK, AUCTION), bps (basis points
                          off the market's fee on that trade type, both sides; 0 ends it)
phase                     instrument, status (an InstrumentStatus name)
end_of_day                instrument (optional; default all)
suspend / restore         account            (restore: back to ACTIVE)
sell_only                 account
deposit / withdraw        account, amount (fen)
credit / debit            account, instrument, qty (tonnes), non_tradable (optional)
block_window              instrument, open (true / false; closing expires the block quotes)
auction_open              instrument, account (the initiator), side (SELL offers the lot, BUY asks
                          for it), volume, reserve (fen), min_bid (tonnes), and optionally
                          bidder_cap, cancel_below_bps, seed and rules: a list of pay_as_bid,
                          fail_undersubscribed, primary, compliance_only, random_ties,
                          cap_shortfall. The ACCEPTED event's order_id is the auction id.
auction_eligible          auction, account   (once any is admitted, only admitted accounts bid)
auction_close             instrument         (clears its open auction)
snapshot                  -                  (writes the state to the state dir in the background;
                                             the reply once it is on disk)
shutdown                  -                  (stop intake, drain, snapshot, exit 0)
========================  =============================================================
"""
from __future__ import annotations

import json
import logging
import time

import numpy as np
import zmq
from zmq.utils.monitor import recv_monitor_message

from matching import (
    AccountStatus, CancelReason, CommandType, EventKind, InstrumentParameter, InstrumentStatus, Side, StatusCause,
    FineReason, StpMode, TradeType, commands,
)

from gateway.protocol import OPERATOR, reject_name

__all__ = ["handle", "describe_events", "AdminPort", "AdminClient", "AdminError", "OPS"]

log = logging.getLogger("chuanyu.gateway")

OPS = ("status", "account", "halt", "resume", "phase", "end_of_day", "suspend", "restore", "sell_only", "deposit",
       "withdraw", "credit", "debit", "block_window", "auction_open", "auction_eligible", "auction_close",
       "instrument", "cancel_all", "retention_floor", "position_limit", "obligation", "stp",
       "fee_rebate", "surrender", "compliance", "fine", "fines", "book", "snapshot", "shutdown")
_READS = ("status", "account", "compliance", "fines", "book")          # answered from the state as it is: not commands, not logged
_BOUNDS = {"retention_floor": commands.set_retention_floor, "position_limit": commands.set_position_limit,
           "obligation": commands.set_obligation}
# auction_open "rules" names -> matching.commands flag bits
AUCTION_RULES = {"pay_as_bid": commands.FLAG_PAY_AS_BID, "fail_undersubscribed": commands.FLAG_FAIL_UNDERSUBSCRIBED,
                 "primary": commands.FLAG_PRIMARY, "compliance_only": commands.FLAG_COMPLIANCE_ONLY,
                 "random_ties": commands.FLAG_RANDOM_TIES, "cap_shortfall": commands.FLAG_CAP_SHORTFALL}


class AdminError(RuntimeError):
    """The daemon refused an admin request, or did not answer in time."""


def describe_events(events) -> list[dict]:
    """Events as JSON-ready dicts with names for their enums; ``seq`` is the journaled
    command's sequence number (the one ``chuanyu journal dump`` and ``replay --until`` use)."""
    out = []
    for e in events:
        kind = int(e["kind"])
        d = {"kind": EventKind(kind).name if kind in set(map(int, EventKind)) else kind,
             "seq": int(e["cmd_seq"]), "instrument": int(e["instrument"])}
        if kind == EventKind.TRADE:         # a trade's ids and accounts share bytes with other events' fields
            d.update(trade_id=int(e["trade_id"]), price=int(e["price"]), qty=int(e["qty"]),
                     buy_order_id=int(e["buy_order_id"]), sell_order_id=int(e["sell_order_id"]),
                     buy_account=int(e["buy_account"]), sell_account=int(e["sell_account"]))
            out.append(d)
            continue
        d["account"] = int(e["account"])
        if kind == EventKind.REJECTED:
            d["reason"] = reject_name(int(e["reason"]))
        elif kind == EventKind.CANCELLED:
            d["reason"] = CancelReason(int(e["reason"])).name
        elif kind == EventKind.INSTRUMENT_PARAMETER:
            d["parameter"] = InstrumentParameter(int(e["reason"])).name.lower()
        elif kind == EventKind.INSTRUMENT_STATUS and int(e["reason"]):
            d["cause"] = StatusCause(int(e["reason"])).name
        elif kind == EventKind.ACCOUNT_UPDATED and int(e["trade_type"]):       # a fee rebate
            d["trade_type"] = TradeType(int(e["trade_type"])).name
        elif kind == EventKind.FINED:
            d.update(reason=FineReason(int(e["reason"])).name, case=int(e["order_id"]), paid=int(e["qty"]),
                     owed=int(e["leaves"]))
        elif kind == EventKind.SURRENDERED:
            d.update(against=int(e["value"]), obligation_left=int(e["leaves"]))
        elif kind == EventKind.INDICATIVE:          # the call's uncrossing as it stands
            d.update(price=int(e["price"]), surplus=int(e["leaves"]),
                     surplus_side=Side(int(e["side"])).name if int(e["side"]) else None)
        for name in ("order_id", "qty", "value"):
            if int(e[name]):
                d[name] = int(e[name])
        out.append(d)
    return out


def compliance(engine) -> list[dict]:
    """Every account with an obligation, or a surrender, in an allowance: ``obligation_left``
    (the shortfall if the deadline is now), ``surrendered`` and of it ``cer_surrendered``,
    and the CERs it may still surrender there (``cer_room``)."""
    rows = []
    caps = {i.symbol: i.cer_cap_bps for i in engine.instruments}
    meta = engine.export_meta()
    accounts = sorted({a for a, *_ in meta.get("surrendered", [])} | _obliged(engine))
    for a in accounts:
        view, done = engine.account(a), engine.surrendered(a)
        for symbol, h in view["holdings"].items():
            units, cer = done.get(symbol, (0, 0))
            if h["obligation"] or units:
                base = h["obligation"] + units
                rows.append({"account": a, "member": view["member"], "instrument": symbol,
                             "obligation_left": h["obligation"], "surrendered": units, "cer_surrendered": cer,
                             "cer_room": max(0, caps[symbol] * base // 10_000 - cer)})
    return rows


def _obliged(engine) -> set:
    """Accounts with an obligation: read from the engine's snapshot sections."""
    from matching._state import unpack_state
    _, sections = unpack_state(engine.snapshot())
    held = sections["holdings"]
    return set(held["account"][held["obligation"] > 0].tolist())


def _instrument(gw, value) -> int:
    if isinstance(value, str) and not value.lstrip("-").isdigit():
        try:
            return gw.engine.instrument_index(value)
        except KeyError:
            raise ValueError(f"unknown instrument {value!r}") from None
    return int(value)


def _int(request, name):
    try:
        value = request[name]
    except KeyError:
        raise ValueError(f"missing {name!r}") from None
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise ValueError(f"{name} must be an integer")
    try:
        value = int(value)
    except ValueError:
        raise ValueError(f"{name} must be an integer, not {value!r}") from None
    if not -2**63 <= value < 2**63:
        raise ValueError(f"{name} out of range")
    return value


def _name(request, name: str, enum, allowed=None):
    value = str(request.get(name, "")).upper()
    allowed = allowed or list(enum.__members__)
    if value not in allowed:
        raise ValueError(f"{name} must be one of {', '.join(a.lower() for a in allowed)}")
    return enum[value]


def _cancel_all(gw, request: dict) -> np.ndarray:
    given = {k for k in ("instrument", "account", "member", "session") if request.get(k) is not None}
    if not given:
        raise ValueError("name what to cancel: instrument, account, member, or session")
    if "session" in given:
        if given != {"session"}:
            raise ValueError("session cannot be combined with instrument, account or member")
        return gw.session_cancels(_int(request, "session"))
    return commands.cancel_all(_instrument(gw, request["instrument"]) if "instrument" in given else -1,
                               _int(request, "account") if "account" in given else -1,
                               _int(request, "member") if "member" in given else -1)


def _commands(gw, op: str, request: dict) -> np.ndarray:
    if op in ("halt", "resume"):
        status = InstrumentStatus.HALTED if op == "halt" else InstrumentStatus.TRADING
        if request.get("instrument") is None:                # every instrument, in one batch
            return np.concatenate([commands.set_instrument_status(n, status)
                                   for n in range(len(gw.engine.instruments))])
        return commands.set_instrument_status(_instrument(gw, request.get("instrument")), status)
    if op == "instrument":
        return commands.set_instrument_parameter(_instrument(gw, request.get("instrument")),
                                                 _name(request, "parameter", InstrumentParameter),
                                                 _int(request, "value"))
    if op == "cancel_all":
        return _cancel_all(gw, request)
    if op in _BOUNDS:
        return _BOUNDS[op](_int(request, "account"), _instrument(gw, request.get("instrument")), _int(request, "qty"))
    if op == "stp":
        concrete = [m.name for m in StpMode if m != StpMode.ACCOUNT_DEFAULT]
        return commands.set_account_stp(_int(request, "account"), _name(request, "mode", StpMode, concrete))
    if op == "surrender":
        units = _instrument(gw, request.get("instrument"))
        against = request.get("against")
        return commands.surrender(_int(request, "account"), units, _int(request, "qty"),
                                  units if against is None else _instrument(gw, against))
    if op == "fine":
        return commands.fine(_int(request, "account"), _int(request, "amount"), _name(request, "reason", FineReason),
                             _int(request, "case") if request.get("case") is not None else 0)
    if op == "fee_rebate":
        return commands.set_fee_rebate(_int(request, "account"), _name(request, "trade_type", TradeType),
                                       _int(request, "bps"))
    if op == "phase":
        name = str(request.get("status", "")).upper()
        if name not in InstrumentStatus.__members__:
            raise ValueError(f"status must be one of {', '.join(InstrumentStatus.__members__)}")
        return commands.set_instrument_status(_instrument(gw, request.get("instrument")), InstrumentStatus[name])
    if op == "end_of_day":
        which = request.get("instrument")
        ins = -1 if which is None else _instrument(gw, which)
        if hasattr(CommandType, "END_OF_DAY"):
            return commands.command(CommandType.END_OF_DAY, instrument=ins)
        targets = range(len(gw.engine.instruments)) if ins == -1 else [ins]
        return np.concatenate([commands.expire_day_orders(n) for n in targets] + [commands.release_t1(ins)])
    if op in ("suspend", "restore", "sell_only"):
        status = {"suspend": AccountStatus.SUSPENDED, "restore": AccountStatus.ACTIVE,
                  "sell_only": AccountStatus.SELL_ONLY}[op]
        return commands.set_account_status(_int(request, "account"), status)
    if op in ("deposit", "withdraw"):
        build = commands.deposit if op == "deposit" else commands.withdraw
        return build(_int(request, "account"), _int(request, "amount"))
    if op in ("credit", "debit"):
        build = commands.credit_holdings if op == "credit" else commands.debit_holdings
        return build(_int(request, "account"), _instrument(gw, request.get("instrument")), _int(request, "qty"),
                     bool(request.get("non_tradable", False)))
    if op == "block_window":
        is_open = request.get("open")
        if isinstance(is_open, str) and is_open.lower() in ("open", "true", "1", "close", "closed", "false", "0"):
            is_open = is_open.lower() in ("open", "true", "1")
        if not isinstance(is_open, bool):
            raise ValueError("open must be true or false")
        return commands.set_block_window(_instrument(gw, request.get("instrument")), is_open)
    if op == "auction_open":
        side = str(request.get("side", "")).upper()
        if side not in ("BUY", "SELL"):
            raise ValueError("side must be BUY or SELL")
        rules = request.get("rules", [])
        if isinstance(rules, str):
            rules = [r for r in rules.split(",") if r]
        unknown = [r for r in rules if r not in AUCTION_RULES]
        if not isinstance(rules, list) or unknown:
            raise ValueError(f"rules must be a list of {', '.join(AUCTION_RULES)}")
        flags = 0
        for r in rules:
            flags |= AUCTION_RULES[r]
        optional = {k: _int(request, k) for k in ("bidder_cap", "cancel_below_bps", "seed") if k in request}
        return commands.auction_open(_instrument(gw, request.get("instrument")), _int(request, "account"),
                                     Side[side], _int(request, "volume"), _int(request, "reserve"),
                                     _int(request, "min_bid"), flags=flags, **optional)
    if op == "auction_eligible":
        return commands.auction_eligible(_int(request, "auction"), _int(request, "account"))
    if op == "auction_close":
        return commands.auction_close(_instrument(gw, request.get("instrument")))
    raise ValueError(f"unknown op {op!r}; one of {', '.join(OPS)}")


def handle(gw, identity: bytes, request: dict, key: str | None = None):
    """Serve one admin request; None when the reply comes later (after the engine ran).
    ``key``: the admin's CURVE public key (z85), for the log."""
    op, request_id = request.get("op"), request.get("id")
    if op not in _READS:
        given = {k: v for k, v in request.items() if k not in ("op", "id")}
        log.info("operator %s %s by admin key %s", op, json.dumps(given, sort_keys=True), key,
                 extra={"event": "operator_request", "op": op, "request": given, "key": key})
    try:
        if op == "status":
            return {"ok": True, "id": request_id, "status": gw.status()}
        if op == "account":
            account = _int(request, "account")
            view = gw.engine.account(account) if -2**31 <= account < 2**31 else None
            if view is None:
                raise ValueError(f"unknown account {request.get('account')}")
            return {"ok": True, "id": request_id, "account": view}
        if op == "compliance":
            return {"ok": True, "id": request_id, "compliance": compliance(gw.engine)}
        if op == "book":
            n, depth = _instrument(gw, request.get("instrument")), int(request.get("depth", 10))
            if not 1 <= depth <= 1000:
                raise ValueError("depth must be 1..1000")
            view, listed = gw.engine.book(n, depth), gw.engine.listings(n, depth)
            return {"ok": True, "id": request_id, "book": {
                "bids": [list(map(int, v)) for v in view.bids], "asks": [list(map(int, v)) for v in view.asks],
                "listings": {"bids": [list(map(int, v)) for v in listed.bids],
                             "asks": [list(map(int, v)) for v in listed.asks]}}}
        if op == "fines":
            meta = gw.engine.export_meta()
            owed = [{"account": a, "member": gw.engine.account(a)["member"], "owed": o} for a, o in meta["fines_owed"]]
            return {"ok": True, "id": request_id, "fines": {"collected": gw.engine.fines_collected, "owed": owed}}
        if op == "snapshot":              # written in the background; the reply once it is on disk
            gw.request_snapshot(identity, request_id)
            return None
        if op == "shutdown":
            gw.admin.shutdown_reply = (identity, request_id)
            gw.request_shutdown()
            return None
        rows = _commands(gw, str(op), request)
        rows = rows if rows.ndim else rows.reshape(1)
    except (ValueError, TypeError, OverflowError, KeyError) as exc:
        return {"ok": False, "id": request_id, "error": str(exc).strip("'\"")}
    if not len(rows):                     # e.g. a session's mass cancel with nothing open
        return {"ok": True, "id": request_id, "events": []}
    gw.submit_operator(identity, request_id, rows)
    return None


class AdminPort:
    """The daemon's admin socket and the operator commands waiting for the next batch.

    ``pending`` holds ``(command rows, (identity, request id) or None)``: the admin's requests
    and the daemon's own commands (cancels on disconnect, the schedule's). Each batch
    :meth:`join` puts them after the orders; :meth:`answer` replies to each request with the
    events its commands caused.
    """

    def __init__(self, node) -> None:
        self.node = node
        self.socket = None
        self.pending: list = []
        self.shutdown_reply = None            # (identity, request id) of the admin ``shutdown``

    def serve(self) -> None:
        """Answer every request waiting (reads at once; changes after the next batch)."""
        while True:
            try:
                parts = self.socket.recv_multipart(zmq.NOBLOCK, copy=False)
            except zmq.Again:
                return
            identity = parts[0].bytes
            try:
                request = json.loads(parts[-1].bytes.decode("utf-8"))
                if not isinstance(request, dict):
                    raise ValueError("a request is a JSON object")
            except (ValueError, UnicodeDecodeError) as exc:
                self.reply(identity, {"ok": False, "error": f"bad request: {exc}"})
                continue
            try:
                key = parts[-1].get("User-Id")        # the admin's CURVE key, set by the ZAP handler
            except zmq.ZMQError:
                key = None
            try:
                reply = handle(self.node, identity, request, key)
            except Exception as exc:               # a defect in one request must not stop the market
                log.exception("admin request %r failed", request.get("op"))
                reply = {"ok": False, "id": request.get("id"), "error": f"internal error: {exc!r}"}
            if reply is not None:
                self.reply(identity, reply)

    def reply(self, identity: bytes, reply: dict) -> None:
        try:
            self.socket.send_multipart([identity, json.dumps(reply).encode()], zmq.NOBLOCK)
        except zmq.ZMQError:
            pass

    def join(self, screened) -> tuple:
        """The batch's commands: the screened orders, then the operator's and the daemon's own
        commands, then the schedule's. ``(cmds, cmd_sess, cmd_pos, waiting, operator)``;
        ``waiting`` lists ``(request, first row, rows)`` to answer after the engine ran."""
        cmds, cmd_sess, cmd_pos = screened.cmds, screened.cmd_sess, screened.cmd_pos
        schedule = self.node.schedule
        if schedule is not None:                # the timetable's commands go after the operator's
            scheduled = schedule.tick()
            if scheduled is not None:
                scheduled["session"] = OPERATOR
                self.pending.append((scheduled, None))
        if not self.pending:
            return cmds, cmd_sess, cmd_pos, [], False
        waiting = []
        offset = len(cmds)
        for rows, request in self.pending:
            if request is not None:
                waiting.append((request, offset, len(rows)))
            offset += len(rows)
        ops = np.concatenate([rows for rows, _ in self.pending])
        self.pending = []
        ops["ts"] = time.time_ns()
        n_msgs = screened.n_msgs
        return (np.concatenate([cmds, ops]), np.concatenate([cmd_sess, np.zeros(len(ops), dtype=np.int32)]),
                np.concatenate([cmd_pos, np.arange(n_msgs, n_msgs + len(ops))]), waiting, True)

    def answer(self, waiting: list, events: np.ndarray, base: int) -> None:
        """Reply to each request of the batch with the events its commands caused."""
        for (identity, request_id), start, n in waiting:
            mine = events[(events["cmd_seq"] >= base + start) & (events["cmd_seq"] < base + start + n)]
            self.reply(identity, {"ok": True, "id": request_id, "events": describe_events(mine)})

    def refuse(self, cmds: np.ndarray, operator: np.ndarray, waiting: list, why: str) -> None:
        """A batch the journal could not take: each request gets ``why``; the daemon's own
        commands (``operator`` rows not of a request) wait for the next batch."""
        keep = operator.copy()
        for (identity, request_id), start, n in waiting:
            keep[start:start + n] = False
            self.reply(identity, {"ok": False, "id": request_id, "error": why})
        waiting.clear()
        if keep.any():
            self.pending.insert(0, (cmds[keep].copy(), None))

    def shutdown_done(self, snapshot: str | None) -> None:
        """Answer the admin ``shutdown``, if it came from there."""
        if self.shutdown_reply is not None:
            identity, request_id = self.shutdown_reply
            self.reply(identity, {"ok": True, "id": request_id, "snapshot": snapshot})


class AdminClient:
    """A connection to the daemon's admin socket.

    Every request waits at most ``timeout_ms`` (for the send and for the reply). A request
    that fails (the daemon refused the key in the CURVE handshake, nothing listens at the
    endpoint, or no reply came in time) raises :class:`AdminError` naming the likely cause,
    read from the socket's handshake events, and the socket is replaced by a fresh one: the
    client stays usable and a late reply to the abandoned request is never taken for the
    answer to the next one.

    Parameters
    ----------
    endpoint : str
        The admin endpoint, e.g. ``tcp://127.0.0.1:7002``.
    server_key : str or bytes
        The daemon's z85 public key.
    public_key, secret_key : bytes
        An admin key pair (``zmq.auth.load_certificate`` of a ``.key_secret`` file).
    timeout_ms : int
        How long one request may take.
    """

    _WATCHED = (zmq.EVENT_CONNECTED | zmq.EVENT_HANDSHAKE_SUCCEEDED | zmq.EVENT_HANDSHAKE_FAILED_AUTH
                | zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL | zmq.EVENT_HANDSHAKE_FAILED_NO_DETAIL)

    def __init__(self, endpoint: str, server_key, public_key: bytes, secret_key: bytes,
                 timeout_ms: int = 5000, context: zmq.Context | None = None) -> None:
        if timeout_ms <= 0:
            raise ValueError(f"timeout_ms must be > 0, not {timeout_ms}")
        self._own_ctx = context is None
        self.ctx = context or zmq.Context()
        self.endpoint = endpoint
        self._server_key = server_key.encode() if isinstance(server_key, str) else server_key
        self._keys = (public_key, secret_key)
        self.timeout_ms = timeout_ms
        self._next_id = 0
        self.sock = self._monitor = None
        self._open()

    def _open(self) -> None:
        sock = self.ctx.socket(zmq.DEALER)
        sock.linger = 0
        sock.sndtimeo = self.timeout_ms        # a pipe the refused handshake tore down must not block a send
        sock.curve_serverkey = self._server_key
        sock.curve_publickey, sock.curve_secretkey = self._keys
        self._monitor = sock.get_monitor_socket(self._WATCHED)
        self._events = 0                        # the watched events seen on this socket (bits)
        sock.connect(self.endpoint)
        self.sock = sock

    def _shut(self) -> None:
        if self.sock is not None and not self.sock.closed:
            try:
                self.sock.disable_monitor()
            except zmq.ZMQError:
                pass
            self.sock.close(linger=0)
        if self._monitor is not None:
            self._monitor.close(linger=0)

    def request(self, op: str, **args) -> dict:
        """Send one request and wait for its reply; AdminError if refused, unanswered or late."""
        self._next_id += 1
        deadline = time.monotonic() + self.timeout_ms / 1000
        try:
            self.sock.send(json.dumps({"op": op, "id": self._next_id, **args}).encode())
        except zmq.Again:
            raise self._failed(op) from None
        while True:
            left = int((deadline - time.monotonic()) * 1000)
            if left <= 0 or not self.sock.poll(left):
                raise self._failed(op)
            try:
                reply = json.loads(self.sock.recv())
            except ValueError as exc:
                raise AdminError(f"{op!r}: the daemon at {self.endpoint} sent a reply that is not JSON: {exc}") \
                    from None
            if isinstance(reply, dict) and reply.get("id") == self._next_id:
                break
        if not reply.get("ok"):
            raise AdminError(reply.get("error", "refused"))
        return reply

    def _failed(self, op: str) -> AdminError:
        """The error for a request that got no reply, naming the likely cause; a fresh socket."""
        while self._monitor.poll(0):
            self._events |= recv_monitor_message(self._monitor)["event"]
        seen, wait = self._events, f"{self.timeout_ms} ms"
        if seen & zmq.EVENT_HANDSHAKE_FAILED_AUTH:
            why = (f"the daemon at {self.endpoint} refused this key in the CURVE handshake: it is not one of "
                   "the daemon's admin keys (security.admin_keys)")
        elif seen & zmq.EVENT_HANDSHAKE_SUCCEEDED:
            why = f"the daemon at {self.endpoint} is not answering: no reply to {op!r} within {wait}"
        elif seen & (zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL | zmq.EVENT_HANDSHAKE_FAILED_NO_DETAIL | zmq.EVENT_CONNECTED):
            why = (f"no CURVE handshake with {self.endpoint} within {wait} (is the server key right, and is this "
                   "an admin key?)")
        else:
            why = (f"the daemon is not answering at {self.endpoint}: no connection within {wait} (is it running, "
                   "and is this its admin endpoint?)")
        self._shut()
        self._open()
        return AdminError(why)

    def close(self) -> None:
        self._shut()
        if self._own_ctx:
            self.ctx.term()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

