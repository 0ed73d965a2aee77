"""Generate the tables of ``docs/PROTOCOL.md`` and ``docs/protocol-schema.json`` from the
dtypes and enums they document.

``python -m tools.protocol_doc [docs/PROTOCOL.md]``, from the repository root, rewrites every
block between ``<!-- BEGIN GENERATED: name -->`` and ``<!-- END GENERATED: name -->`` in place,
leaving the prose around them alone, and writes the machine-readable schema (:func:`schema`) to
``protocol-schema.json`` next to the document; ``--check`` changes nothing and exits 1 if
either file is out of date. ``tests/unit/gateway/test_protocol_doc.py`` runs the check.

What each message type does with each field of its layout is one table, :data:`MESSAGES`;
the per-message tables of the document and the schema's ``messages`` are both rendered
from it, so they cannot disagree with each other or with the dtypes.

A build tool, not part of the installed packages: it sits above every layer and may import
any of them, and no runtime module imports it (``tests/unit/test_import_graph.py``).
"""
from __future__ import annotations

import json
import re
import sys
from enum import IntEnum
from pathlib import Path

import numpy as np

from feeds.dropcopy import DROP_COPY_DTYPE, DROP_COPY_FIELD_DOCS, DROP_COPY_TOPIC
from feeds.dropcopy import DROP_COPY_EVENT_DTYPE, DROP_COPY_EVENT_FIELD_DOCS, EVENTS_TOPIC
from feeds.dropcopy import HEARTBEAT as DROP_COPY_HEARTBEAT
from feeds.encoder import FeedEncoder
from feeds.messages import CHANNEL, FEED_DTYPE, FEED_FIELD_DOCS, FeedType
from feeds.service import HEARTBEAT
from gateway import protocol as p
from exchange.config import Durability
from gateway.gapfill import GAP_FILL_FRAME_REPORTS
from matching import (AuctionOutcome, CancelReason, CommandType, Engine, Instrument, InstrumentStatus, OrderType,
                      Side, StpMode, TimeInForce, TradeType, commands)
from matching.codes import RETIRED_REJECTS

__all__ = ["sections", "render", "main", "MESSAGES", "field_use", "schema", "render_schema", "SCHEMA_NAME"]

SCHEMA_NAME = "protocol-schema.json"      # written next to PROTOCOL.md

_BLOCK = re.compile(r"(<!-- BEGIN GENERATED: (?P<name>[\w-]+) -->\n)(?P<body>.*?)(<!-- END GENERATED: (?P=name) -->)",
                    re.DOTALL)
_TYPES = {"u1": "u8", "<u2": "u16", "<i4": "i32", "<u4": "u32", "<i8": "i64"}


def _type_name(dt: np.dtype) -> str:
    if dt.subdtype is not None:
        return f"{_TYPES[dt.subdtype[0].str.replace('|', '')]}[{dt.shape[0]}]"
    return _TYPES[dt.str.replace("|", "")]


def _layout_table(name: str, dtype: np.dtype, types, docs: dict) -> str:
    kinds = ", ".join(f"{t.name} ({int(t)})" for t in types)
    lines = [f"### {name}: {dtype.itemsize} bytes", "", f"Used by: {kinds}.", "",
             "| offset | size | type | field | meaning |", "| ---: | ---: | --- | --- | --- |"]
    for field in dtype.names:
        fdt, offset = dtype.fields[field][:2]
        lines.append(f"| {offset} | {fdt.itemsize} | {_type_name(fdt)} | `{field}` | {docs[field]} |")
    return "\n".join(lines) + "\n"


def _enum_table(enum: type[IntEnum], title: str) -> str:
    lines = [f"**{title}**", "", "| value | name |", "| ---: | --- |"]
    lines += [f"| {int(m)} | {m.name} |" for m in enum]
    return "\n".join(lines) + "\n"


def _rejects() -> str:
    bands = {1: "protocol, session, authorisation", 2: "risk and accounts", 3: "matching", 4: "admin"}
    lines = ["| code | name | band | raised by |", "| ---: | --- | --- | --- |"]
    for code, name in p.all_reject_codes().items():
        by = "gateway" if code in p.GATEWAY_REJECTS else "engine"
        if code in RETIRED_REJECTS:
            by = "retired: never raised (UNKNOWN_ORDER instead)"
        lines.append(f"| {code} | {name} | {code // 1000}xxx {bands.get(code // 1000, '')} | {by} |")
    return "\n".join(lines) + "\n"


def _gap_fill() -> str:
    """The gap-fill rules' numbers, from the code that applies them."""
    r = p.GatewayReject
    return "\n".join([
        "| item | value |", "| --- | --- |",
        f"| LOGIN `flags` bit asking for gap fill | {int(p.LoginFlag.GAP_FILL)} (`GAP_FILL`) |",
        "| reports re-sent | `last_report_seq + 1` .. LOGIN_ACK `report_seq`, in order, before any new report |",
        f"| reports per gap-fill frame, at most | {GAP_FILL_FRAME_REPORTS} |",
        f"| reports kept per session (`[durability] retain_reports`, default) | {Durability.retain_reports:,} |",
        f"| refused: some no longer kept | {int(r.REPORTS_NOT_RETAINED)} `{r.REPORTS_NOT_RETAINED.name}`, "
        "REJECT `qty` = the oldest `report_seq` kept |",
        f"| refused: beyond the session's last report | {int(r.REPORT_SEQ_AHEAD)} `{r.REPORT_SEQ_AHEAD.name}`, "
        "REJECT `qty` = the session's last `report_seq` |",
        "| `report_seq` of a gateway reject (1xxx, never re-sent) | 0 |",
    ]) + "\n"


def _hexdump(data: bytes) -> str:
    rows = []
    for off in range(0, len(data), 16):
        chunk = data[off:off + 16]
        rows.append(f"{off:04x}  " + " ".join(f"{b:02x}" for b in chunk))
    return "\n".join(rows)


def _example() -> str:
    login = p.encode(p.MsgType.LOGIN, version=p.PROTOCOL_VERSION, session=1, heartbeat_ms=1000)
    order = p.encode(p.MsgType.NEW_ORDER, side=Side.SELL, order_type=OrderType.LIMIT, tif=TimeInForce.GTC,
                     instrument=0, account=1, client_order_id=42, price=5010, qty=100)
    return "\n".join([
        "LOGIN, session 1, protocol version 1, heartbeat 1000 ms:", "", "```", _hexdump(login), "```", "",
        "NEW_ORDER: sell 100 t of instrument 0 at 5010 fen (50.10 CNY/t), limit GTC, account 1, "
        "client order id 42:", "", "```", _hexdump(order), "```"]) + "\n"


def _feed_layout(name: str, dtype: np.dtype, docs: dict, used_by: str) -> str:
    lines = [f"### {name}: {dtype.itemsize} bytes", "", f"{used_by}", "",
             "| offset | size | type | field | meaning |", "| ---: | ---: | --- | --- | --- |"]
    covered = 0
    for field in dtype.names:
        fdt, offset = dtype.fields[field][:2]
        if offset > covered:
            lines.append(f"| {covered} | {offset - covered} | pad | | zero |")
        kind = (f"{_TYPES[fdt.subdtype[0].str]}[{fdt.shape[0]}]" if fdt.subdtype is not None
                else _TYPES[fdt.str.replace("|", "")])
        lines.append(f"| {offset} | {fdt.itemsize} | {kind} | `{field}` | {docs[field]} |")
        covered = offset + fdt.itemsize
    if dtype.itemsize > covered:
        lines.append(f"| {covered} | {dtype.itemsize - covered} | pad | | zero |")
    return "\n".join(lines) + "\n"


def _feeds() -> dict[str, str]:
    """The market-data blocks: message layouts, types and channels, the drop copy, an example."""
    meaning = {FeedType.TRADE: "a trade: `trade_id`, `price`, `qty`, `side`, `trade_type`",
               FeedType.DEPTH: "one price level after the batch: `side`, `price`, `qty` (0 = gone), `count`, "
                               "`trade_type` = the book",
               FeedType.BBO: "best bid and offer of the continuous book, when the batch changed it",
               FeedType.STATUS: "the instrument's phase (`status`) and block window (`block_window`)",
               FeedType.AUCTION_RESULT: "an auction's outcome (`status`), clearing `price`, volume sold `qty`, "
                                        "volume bid `previous`, bids `count`, auction id `trade_id`",
               FeedType.DAILY_STATS: "the end of day: close `price`, `open`, `high`, `low`, `previous` close, "
                                     "day volume `qty`, `volume` and `amount` by trade type",
               FeedType.INDICATIVE: "a call auction's indicative uncrossing, the batch's last: `price` and `qty` "
                                    "(0 = it would not uncross), surplus `side` and quantity (`bid_qty` or "
                                    "`ask_qty`); in snapshots only while `status` is CALL",
               FeedType.ORDER: "taker-select instruments only: one resting order's id (`trade_id`, what a take "
                               "names), `side`, `price` (0 = unchanged) and quantity left `qty` (0 = gone), "
                               "numbered after the batch's other messages; snapshots list every resting order"}
    types = ["| msg_type | name | topic | carries |", "| ---: | --- | --- | --- |"]
    types += [f"| {int(t)} | {t.name} | `{CHANNEL[t].decode()}.<symbol>` | {meaning[t]} |" for t in FeedType]
    types.append(f"| - | heartbeat | `{HEARTBEAT.decode()}` | JSON `{{\"epoch\", \"seq\", \"topics\": {{topic: last "
                 "instrument_seq}}`, twice a second |")
    enums = "\n".join([_enum_table(TradeType, "TradeType"), _enum_table(InstrumentStatus, "InstrumentStatus"),
                       _enum_table(AuctionOutcome, "AuctionOutcome")])
    engine = Engine([Instrument("SCEA2026")])
    encoder = FeedEncoder(["SCEA2026"], engine, epoch=1)
    frames = encoder.encode(engine.process(np.concatenate([
        commands.new_order(0, 1, Side.SELL, 100, 5010, ts=1_764_300_000_000_000_000),
        commands.new_order(0, 2, Side.BUY, 30, 5010, ts=1_764_300_000_000_000_000)])))
    name, rows = frames[0]
    example = "\n".join([
        "Two orders in one batch (sell 100 t at 50.10, then buy 30 t at 50.10) publish, in this order, the frames "
        + ", ".join(f"`{n.decode()}` ({len(r)} message{'s' if len(r) > 1 else ''})" for n, r in frames)
        + f". The first, topic `{name.decode()}`, message part:", "", "```", _hexdump(rows.tobytes()), "```"])
    drop = "\n".join([
        f"One frame per engine batch with executions: `[{DROP_COPY_TOPIC.decode()!r}, messages]` "
        "(the layout below, back to back); "
        f"one frame per engine batch with order or market events: `[{EVENTS_TOPIC.decode()!r}, messages]`, "
        "numbered apart (subscribe to that topic to get them; the batch's events frame comes before its "
        "executions frame); "
        f"a heartbeat `[{DROP_COPY_HEARTBEAT.decode()!r}, JSON {{\"epoch\", \"seq\", \"events_seq\"}}]` twice a "
        "second.", "",
        _feed_layout("DROP_COPY", DROP_COPY_DTYPE, DROP_COPY_FIELD_DOCS, "Every execution, with both accounts."),
        "",
        _feed_layout("DROP_COPY_EVENT", DROP_COPY_EVENT_DTYPE, DROP_COPY_EVENT_FIELD_DOCS,
                     "Every order's acceptance, reduction, replacement and cancellation with its account; "
                     "each phase change and end of day.")])
    return {"feed-types": "\n".join(types) + "\n", "feed-layout": _feed_layout(
        "FEED", FEED_DTYPE, FEED_FIELD_DOCS, "Every public message; `msg_type` says which fields are used "
        "(unused ones are zero)."), "feed-enums": enums, "feed-example": example + "\n", "drop-copy": drop}


# ------------------------------------------------------------------ field use, message by message
# What each message type does with each field of its layout: (what the message is for,
# {field: meaning for this type}). A field a type leaves out is not used by it: inbound the
# daemon ignores it (a REJECT may echo it; send 0), outbound it is 0. ``msg_type`` and the
# ``reserved*`` fields are filled in by field_use(); reserved bytes are always 0, and the
# daemon refuses an inbound message with one set (RESERVED_NOT_ZERO).
_ORDER_CREATING = ("the new order's client order id: greater than every earlier one of the session "
                   "(<= 0: BAD_CLIENT_ORDER_ID; not greater: DUPLICATE_CLIENT_ORDER_ID)")
_TAG = "a free tag: not checked, echoed in a REJECT"
_ACCOUNT = "the account acted for: an account of one of the session's members (else NOT_AUTHORISED)"
_OWNER = "the order's account (another account's order is UNKNOWN_ORDER); one of the session's members'"
_INSTRUMENT = "instrument index: the position in endpoints.json `instruments` (the configuration's order)"
_SIDE = "Side: BUY 1, SELL 2 (else BAD_SIDE)"
_ORDER_ID = "the order's engine order id, from its ACK"
_PRICE = "fen per tonne: > 0, a multiple of the instrument's tick, inside its price band"
_QTY = "tonnes: > 0, a multiple of the instrument's lot"

_REF_ENGINE = ("the msg_type of the order-entry message that caused it: " + ", ".join(
    f"{t.name} {int(t)}" for t in p.ORDER_TYPES)
    + f"; an operator's or the schedule's command: its CommandType (e.g. END_OF_DAY "
      f"{int(CommandType.END_OF_DAY)}, AUCTION_CLOSE {int(CommandType.AUCTION_CLOSE)})")
_REPORT = {       # the fields every engine report carries
    "ref_type": _REF_ENGINE,
    "flags": "ReportFlag bits: 4 DROP_COPY on a drop-copy session's copy; else 0",
    "instrument": "instrument index",
    "account": "the order's account",
    "session": "the session whose message caused the report (cancel on disconnect: the session that went); "
               "0: the operator or the schedule",
    "report_seq": "this session's report sequence number: 1, 2, 3, ... without gaps (section 6)",
    "seq": "engine event sequence number",
    "cmd_seq": "command sequence number of the causing command",
    "ts": "the causing command's time stamp (its receive time), ns since 1970",
    "order_id": "the order's engine order id",
    "client_order_id": "the order's client order id",
}
_ORDER_FIELDS = {   # an engine report about one order: what the order is
    "side": "the order's Side",
    "order_type": "the order's OrderType",
    "tif": "the order's TimeInForce",
}
_ECHO = "the refused message's, echoed (0 in a refusal of a frame or a connection)"

MESSAGES: dict[p.MsgType, tuple[str, dict[str, str]]] = {
    p.MsgType.NEW_ORDER: (
        "A limit or market order in the continuous book. Creates an order. Answered ACK (then FILLs, "
        "and a CANCELLED for an IOC remainder) or REJECT.", {
            "side": _SIDE,
            "order_type": "OrderType: LIMIT 1 or MARKET 2 (else BAD_ORDER_TYPE)",
            "tif": "TimeInForce: GTC 1, DAY 2, IOC 3, FOK 4; a MARKET order IOC or FOK (else BAD_TIME_IN_FORCE)",
            "stp": "StpMode: 0 the account's mode, 1-4 this mode for this order (else BAD_STP_MODE)",
            "instrument": _INSTRUMENT,
            "account": _ACCOUNT,
            "client_order_id": _ORDER_CREATING,
            "price": f"LIMIT: the limit price, {_PRICE}; MARKET: not used (send 0)",
            "qty": f"{_QTY}, at most its maximum order quantity",
        }),
    p.MsgType.CANCEL: (
        "Cancel a resting order, fixed-price listing or block quote (an auction bid: WRONG_ORDER_KIND). "
        "Answered CANCELLED (reason USER) or REJECT.", {
            "account": _OWNER,
            "client_order_id": _TAG,
            "order_id": _ORDER_ID,
        }),
    p.MsgType.REDUCE: (
        "Lower a resting order's remaining quantity; it keeps its time priority (an auction bid: "
        "WRONG_ORDER_KIND). Answered REDUCED or REJECT.", {
            "account": _OWNER,
            "client_order_id": _TAG,
            "order_id": _ORDER_ID,
            "qty": f"the new remaining quantity, {_QTY}, below the current one (else REDUCE_NOT_SMALLER); "
                   "a block quote's at least the block minimum",
        }),
    p.MsgType.REPLACE: (
        "Give a resting LIMIT order a new price and remaining quantity (other kinds: WRONG_ORDER_KIND). "
        "It keeps its time priority only when the price is the same and the quantity not larger. "
        "Answered REPLACED (then FILLs if it now crosses) or REJECT.", {
            "account": _OWNER,
            "client_order_id": _TAG,
            "order_id": _ORDER_ID,
            "price": f"the new limit price, {_PRICE}",
            "qty": f"the new remaining quantity, {_QTY}",
        }),
    p.MsgType.LIST_FIXED: (
        "Post a fixed-price listing. Creates an order (ACK `order_type` FIXED_LISTING, `tif` DAY) that "
        "rests in the fixed-price book until taken or cancelled, or the day ends (unless the instrument "
        "keeps listings).", {
            "side": "the listing's Side: SELL 2 offers the units, BUY 1 bids for them (else BAD_SIDE)",
            "instrument": _INSTRUMENT,
            "account": _ACCOUNT,
            "client_order_id": _ORDER_CREATING,
            "price": f"the fixed price, {_PRICE}",
            "qty": f"the quantity listed, {_QTY}",
            "min_qty": "the smallest take, tonnes: 0 < min_qty <= qty, a multiple of the lot (else BAD_QUANTITY); "
                       "a take of all that is left may be smaller",
        }),
    p.MsgType.TAKE_FIXED: (
        "Take part or all of one fixed-price listing at its price. Creates an order on the listing's "
        "instrument and opposite side (ACK `order_type` FIXED_TAKE, `tif` IOC) that trades at once: "
        "FILLs with `trade_type` FIXED 2.", {
            "account": _ACCOUNT,
            "client_order_id": _ORDER_CREATING,
            "order_id": "the listing's engine order id",
            "qty": "tonnes to take: at most what is left of the listing, at least its `min_qty` unless taking "
                   "all that is left; a multiple of the lot",
        }),
    p.MsgType.BLOCK_QUOTE: (
        "Quote a block trade to one account or to any. Creates an order (ACK `order_type` BLOCK_QUOTE, "
        "`tif` DAY) that rests, never in the public depth, while the instrument's block window is open "
        "(else BLOCK_WINDOW_CLOSED).", {
            "side": "the quote's Side: SELL 2 offers the units, BUY 1 bids for them (else BAD_SIDE)",
            "flags": "2: partial acceptance allowed; other bits ignored",
            "instrument": _INSTRUMENT,
            "account": _ACCOUNT,
            "client_order_id": _ORDER_CREATING,
            "price": "fen per tonne: > 0, a multiple of the tick, inside the instrument's block price band",
            "qty": "tonnes: a multiple of the lot, at least the instrument's block minimum (else BELOW_MINIMUM)",
            "contra_account": "the one account that may accept it; -1: any account",
        }),
    p.MsgType.BLOCK_ACCEPT: (
        "Accept one block quote at its price. Creates an order on the quote's instrument and opposite "
        "side (ACK `order_type` BLOCK_ACCEPT, `tif` IOC) that trades at once: FILLs with `trade_type` "
        "BLOCK 3.", {
            "account": _ACCOUNT,
            "client_order_id": _ORDER_CREATING,
            "order_id": "the quote's engine order id",
            "qty": "tonnes: all of the quote, or, if it allows partial acceptance, at least the block minimum "
                   "and leaving at least the block minimum",
        }),
    p.MsgType.AUCTION_BID: (
        "A sealed, irrevocable bid in an auction (an offer, in an auction that buys). Creates an order on "
        "the auction's instrument and the side opposite the lot's (ACK `order_type` AUCTION_BID, `tif` "
        "GTC), acknowledged to the bidder only; at the close FILLs with `trade_type` AUCTION 4 or a "
        "CANCELLED (reason AUCTION).", {
            "account": _ACCOUNT,
            "client_order_id": _ORDER_CREATING,
            "order_id": "the auction id (the operator announces it: the order id of the auction's lot)",
            "price": "fen per tonne: a multiple of the tick, at or better than the reserve (else BELOW_RESERVE)",
            "qty": "tonnes: a multiple of the lot, at least the auction's minimum bid (else BELOW_MINIMUM)",
        }),
    p.MsgType.LOGIN: (
        "Log the connection in as a session; alone in its frame (section 3). Answered LOGIN_ACK "
        "(then, with GAP_FILL, the missed reports) or REJECT with `ref_type` LOGIN.", {
            "flags": "LoginFlag bits: 1 GAP_FILL; any other bit set: RESERVED_NOT_ZERO",
            "version": f"the protocol version, {p.PROTOCOL_VERSION} (else UNSUPPORTED_VERSION)",
            "session": "the configured session id (else UNKNOWN_SESSION); the connection's CURVE key must be "
                       "the session's (else KEY_NOT_ALLOWED)",
            "heartbeat_ms": "the heartbeat interval asked for, ms; 0, negative or above ten times the daemon's "
                            "`heartbeat_ms`: the daemon's; at least 10",
            "last_report_seq": "with GAP_FILL: the last report_seq the client received (0: none); "
                               "without GAP_FILL ignored (send 0)",
        }),
    p.MsgType.LOGOUT: (
        "End the login. Answered SERVER_LOGOUT with `reason` 0 after every report before it; messages "
        "after it in the same frame are refused NOT_LOGGED_IN.", {}),
    p.MsgType.HEARTBEAT: (
        "A sign of life when the client has sent nothing for `heartbeat_ms`. Not answered.", {
            "ts": "the client's clock, ns since 1970: informational, not checked",
        }),
    p.MsgType.ACK: (
        "The order was accepted: it rests, or trades at once (FILLs follow in the same frame).", {
            **_ORDER_FIELDS,
            **_REPORT,
            "order_id": "the new order's engine order id: name it in a CANCEL, REDUCE, REPLACE, TAKE_FIXED or "
                        "BLOCK_ACCEPT; an operator's auction lot's is the auction id",
            "price": "the order's price, fen per tonne (MARKET: 0; TAKE_FIXED, BLOCK_ACCEPT: the listing's or "
                     "quote's)",
            "qty": "the order's quantity, tonnes",
            "leaves": "the order's remaining quantity: = qty",
        }),
    p.MsgType.REJECT: (
        "A message or command was refused and changed nothing. An engine reject (`report_seq` > 0) echoes "
        "the refused command. A gateway reject (1xxx, section 4) has `report_seq`, `seq` and `cmd_seq` 0 and "
        "echoes the refused message's bytes read in the ORDER layout; a refusal of a whole frame, or of a "
        "frame from a connection that is not logged in, sets only `reason`, `ref_type`, `session`, `ts` and "
        "`qty` (section 3).", {
            "side": _ECHO,
            "reason": "the reject code (section 8)",
            "ref_type": "the refused message's msg_type, whether the engine or the gateway refused it; an "
                        "operator's command: its CommandType; 0: a refused frame",
            "flags": _REPORT["flags"],
            "order_type": _ECHO,
            "tif": _ECHO,
            "instrument": _ECHO,
            "account": _ECHO,
            "session": "the session whose message was refused (a refused LOGIN: the LOGIN's `session`; "
                       "another message from a connection that is not logged in: 0)",
            "report_seq": "engine reject: this session's report sequence number; gateway reject: 0",
            "seq": "engine reject: the event's sequence number; gateway reject: 0",
            "cmd_seq": "engine reject: the refused command's sequence number; gateway reject: 0",
            "ts": "the refused message's receive time, ns since 1970",
            "order_id": _ECHO,
            "client_order_id": _ECHO,
            "price": _ECHO,
            "qty": "the refused message's, echoed; a refused frame: its length in bytes (0: a multipart "
                   "message); a LOGIN refused REPORTS_NOT_RETAINED: the oldest report_seq still kept; "
                   "REPORT_SEQ_AHEAD: the session's last report_seq",
        }),
    p.MsgType.FILL: (
        "One side of a trade, to the session that entered that side's order (a trade gives two FILLs, "
        "BUY first, with the same `seq` and `trade_id`).", {
            **_REPORT,
            "side": "this order's Side",
            "flags": "ReportFlag bits: 1 AGGRESSOR (this order took liquidity), 4 DROP_COPY",
            "trade_type": "TradeType: CONTINUOUS 1, FIXED 2, BLOCK 3, AUCTION 4",
            "account": "this order's account",
            "order_id": "this order's engine order id",
            "client_order_id": "this order's client order id",
            "price": "the trade price, fen per tonne",
            "qty": "tonnes traded",
            "leaves": "this order's remaining quantity after the trade (0: done)",
            "trade_id": "the engine trade id",
            "fee": "this side's fee, fen",
        }),
    p.MsgType.CANCELLED: (
        "An order left the book without trading the rest: a CANCEL, an IOC or FOK remainder, self-trade "
        "prevention, the end of day, a sanction, the operator, a lost auction bid, or cancel on "
        "disconnect.", {
            **_ORDER_FIELDS,
            **_REPORT,
            "reason": "CancelReason (section 9)",
            "price": "the order's price, fen per tonne (MARKET: 0)",
            "qty": "tonnes removed: what was left",
            "leaves": "0",
        }),
    p.MsgType.REDUCED: (
        "A REDUCE took effect.", {
            **_ORDER_FIELDS,
            **_REPORT,
            "price": "the order's price, fen per tonne",
            "qty": "tonnes removed",
            "leaves": "the new remaining quantity",
        }),
    p.MsgType.REPLACED: (
        "A REPLACE took effect; FILLs follow in the same frame if the order now crosses.", {
            **_ORDER_FIELDS,
            **_REPORT,
            "flags": "ReportFlag bits: 2 PRIORITY_KEPT (same price, quantity not larger), 4 DROP_COPY",
            "price": "the new price, fen per tonne",
            "qty": "the new remaining quantity",
            "leaves": "the new remaining quantity",
        }),
    p.MsgType.LOGIN_ACK: (
        "The login was accepted; alone in its frame, before any report of the login.", {
            "version": "the server's protocol version",
            "session": "the session logged in",
            "heartbeat_ms": "the heartbeat interval both sides use, ms",
            "flags": "bits: 1 cancel on disconnect is on, 2 a drop-copy session",
            "server_time": "the server's clock, ns since 1970",
            "report_seq": "the session's last report_seq before this login (a gap fill ends there)",
            "next_cmd_seq": "the command sequence number the next sequenced command will get",
            "rate_limit": "order messages per second allowed (0: unlimited)",
            "last_client_order_id": "the highest client order id the session has used in an order-creating "
                                    "message: the next must be greater (0: none yet)",
        }),
    p.MsgType.SERVER_LOGOUT: (
        "The session is logged out.", {
            "reason": "0: the answer to a LOGOUT; else why: SHUTTING_DOWN, HEARTBEAT_TIMEOUT, SLOW_CONSUMER, "
                      "RATE_LIMITED",
            "session": "the session logged out",
            "server_time": "the server's clock, ns since 1970",
            "report_seq": "the last report_seq sent to this session",
        }),
    p.MsgType.SERVER_HEARTBEAT: (
        "The daemon's sign of life when it has sent the session nothing for `heartbeat_ms`.", {
            "session": "the session",
            "server_time": "the server's clock, ns since 1970",
            "report_seq": "the last report_seq sent to this session",
        }),
}

_LAYOUT_OF = {int(t): (name, dtype, "client -> server") for name, (dtype, types, _) in p.INBOUND_LAYOUTS.items()
              for t in types}
_LAYOUT_OF.update({int(t): (name, dtype, "server -> client") for name, (dtype, types, _) in p.OUTBOUND_LAYOUTS.items()
                   for t in types})


def field_use(msg_type) -> list[dict]:
    """Every field of ``msg_type``'s layout: name, offset, size, type, numpy dtype, whether
    this message type uses it (``used``, ``not used`` or ``reserved``) and what it means."""
    t = p.MsgType(msg_type)
    layout, dtype, direction = _LAYOUT_OF[int(t)]
    meanings = MESSAGES[t][1]
    inbound = direction == "client -> server"
    rows = []
    for name in dtype.names:
        fdt, offset = dtype.fields[name][:2]
        if name == "msg_type":
            use, meaning = "used", f"{int(t)} ({t.name})"
        elif name.startswith("reserved"):
            use, meaning = "reserved", "must be 0 (else RESERVED_NOT_ZERO)" if inbound else "0"
        elif name in meanings:
            use, meaning = "used", meanings[name]
        else:
            use, meaning = "not used", "not used: send 0" if inbound else "0"
        base = fdt.base if fdt.subdtype is not None else fdt
        rows.append({"name": name, "offset": offset, "size": fdt.itemsize, "type": _type_name(fdt),
                     "numpy": base.str, "shape": list(fdt.shape), "use": use, "meaning": meaning})
    return rows


def _message_tables(direction: str) -> str:
    out = []
    for t, (summary, _) in MESSAGES.items():
        layout, dtype, d = _LAYOUT_OF[int(t)]
        if d != direction:
            continue
        lines = [f"#### {t.name} ({int(t)})", "", f"{summary} Layout {layout}, {dtype.itemsize} bytes.", "",
                 "| offset | size | type | field | use |", "| ---: | ---: | --- | --- | --- |"]
        for f in field_use(t):
            lines.append(f"| {f['offset']} | {f['size']} | {f['type']} | `{f['name']}` | {f['meaning']} |")
        out.append("\n".join(lines) + "\n")
    return "\n".join(out)


def _layout_fields(dtype: np.dtype, docs: dict) -> list[dict]:
    out = []
    for name in dtype.names:
        fdt, offset = dtype.fields[name][:2]
        base = fdt.base if fdt.subdtype is not None else fdt
        out.append({"name": name, "offset": offset, "size": fdt.itemsize, "type": _type_name(fdt),
                    "numpy": base.str, "shape": list(fdt.shape), "meaning": docs[name]})
    return out


def _enum(enum) -> dict[str, int]:
    return {m.name: int(m) for m in enum}


def schema() -> dict:
    """The protocol as data: every layout and message type field by field (byte offset,
    size, numpy type, meaning, and for a message type whether it uses the field), the
    enumerations, the reject codes and the limits; ``docs/protocol-schema.json``."""
    bands = {1: "protocol, session, authorisation", 2: "risk and accounts", 3: "matching", 4: "admin"}
    layouts = {}
    for layouts_of, direction in ((p.INBOUND_LAYOUTS, "client -> server"), (p.OUTBOUND_LAYOUTS, "server -> client")):
        for name, (dtype, types, docs) in layouts_of.items():
            layouts[name] = {"direction": direction, "size": dtype.itemsize, "msg_types": [t.name for t in types],
                             "fields": _layout_fields(dtype, docs)}
    messages = {}
    for t, (summary, _) in MESSAGES.items():
        layout, dtype, direction = _LAYOUT_OF[int(t)]
        messages[t.name] = {"msg_type": int(t), "direction": direction, "layout": layout, "size": dtype.itemsize,
                            "summary": summary, "fields": field_use(t)}
    rejects = []
    for code, name in p.all_reject_codes().items():
        by = "gateway" if code in p.GATEWAY_REJECTS else "engine"
        rejects.append({"code": code, "name": name, "band": f"{code // 1000}xxx {bands.get(code // 1000, '')}",
                        "raised_by": "retired" if code in RETIRED_REJECTS else by})
    return {
        "title": "chuanyu order-entry protocol (docs/PROTOCOL.md)",
        "generated_by": "python -m tools.protocol_doc, from the dtypes in gateway/protocol.py and the enums in "
                        "matching/codes.py; do not edit",
        "protocol_version": p.PROTOCOL_VERSION,
        "byte_order": "little",
        "inbound_size": p.INBOUND_SIZE,
        "outbound_size": p.OUTBOUND_SIZE,
        "max_messages_per_frame": p.MAX_MESSAGES_PER_FRAME,
        "max_frame_bytes": p.MAX_FRAME_BYTES,
        "layouts": layouts,
        "messages": messages,
        "enums": {
            "MsgType": _enum(p.MsgType), "Side": _enum(Side), "OrderType": _enum(OrderType),
            "TimeInForce": _enum(TimeInForce), "StpMode": _enum(StpMode), "CancelReason": _enum(CancelReason),
            "TradeType": _enum(TradeType), "CommandType": _enum(CommandType), "ReportFlag": _enum(p.ReportFlag),
            "LoginFlag": _enum(p.LoginFlag), "Reject": {name: code for code, name in p.all_reject_codes().items()},
            "InstrumentStatus": _enum(InstrumentStatus), "AuctionOutcome": _enum(AuctionOutcome),
            "FeedType": _enum(FeedType),
        },
        "rejects": rejects,
        "market_data": {
            "FEED": {"size": FEED_DTYPE.itemsize, "fields": _layout_fields(FEED_DTYPE, FEED_FIELD_DOCS)},
            "DROP_COPY": {"size": DROP_COPY_DTYPE.itemsize,
                          "fields": _layout_fields(DROP_COPY_DTYPE, DROP_COPY_FIELD_DOCS)},
            "DROP_COPY_EVENT": {"size": DROP_COPY_EVENT_DTYPE.itemsize,
                                "fields": _layout_fields(DROP_COPY_EVENT_DTYPE, DROP_COPY_EVENT_FIELD_DOCS)},
        },
    }


def render_schema() -> str:
    """:func:`schema` as the text of ``docs/protocol-schema.json``."""
    return json.dumps(schema(), indent=2, ensure_ascii=False) + "\n"


def sections() -> dict[str, str]:
    """Every generated block by name."""
    msg_types = ["| value | name | direction | layout |", "| ---: | --- | --- | --- |"]
    for layouts, direction in ((p.INBOUND_LAYOUTS, "client -> server"), (p.OUTBOUND_LAYOUTS, "server -> client")):
        for lname, (_, types, _) in layouts.items():
            for t in types:
                msg_types.append(f"| {int(t)} | {t.name} | {direction} | {lname} |")
    constants = "\n".join([
        "| constant | value |", "| --- | ---: |",
        f"| protocol version | {p.PROTOCOL_VERSION} |",
        f"| inbound message size (client -> server) | {p.INBOUND_SIZE} bytes |",
        f"| outbound message size (server -> client) | {p.OUTBOUND_SIZE} bytes |",
        f"| messages per inbound frame, at most | {p.MAX_MESSAGES_PER_FRAME} |",
        f"| inbound frame, at most | {p.MAX_FRAME_BYTES} bytes |",
    ]) + "\n"
    inbound = "\n".join(_layout_table(n, *v) for n, v in p.INBOUND_LAYOUTS.items())
    outbound = "\n".join(_layout_table(n, *v) for n, v in p.OUTBOUND_LAYOUTS.items())
    enums = "\n".join([_enum_table(Side, "Side"), _enum_table(OrderType, "OrderType"),
                       _enum_table(TimeInForce, "TimeInForce"), _enum_table(StpMode, "StpMode"),
                       _enum_table(CancelReason, "CancelReason (CANCELLED `reason`)"),
                       _enum_table(CommandType, "CommandType (`ref_type` of a report an operator's or the schedule's "
                                                            "command caused)"),
                       _enum_table(p.ReportFlag, "ReportFlag (report `flags` bits)"),
                       _enum_table(p.LoginFlag, "LoginFlag (LOGIN `flags` bits)")])
    return {**_feeds(), "example": _example(), "constants": constants, "msg-types": "\n".join(msg_types) + "\n",
            "inbound": inbound, "outbound": outbound, "enums": enums, "rejects": _rejects(), "gap-fill": _gap_fill(),
            "fields-inbound": _message_tables("client -> server"),
            "fields-outbound": _message_tables("server -> client")}


def render(text: str) -> str:
    """``text`` with every generated block replaced by its current content."""
    blocks = sections()

    def fill(m: re.Match) -> str:
        name = m.group("name")
        if name not in blocks:
            raise KeyError(f"unknown generated block {name!r}")
        return m.group(1) + blocks[name] + m.group(4)

    return _BLOCK.sub(fill, text)


def main(argv=None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    check = "--check" in args
    args = [a for a in args if a != "--check"]
    path = Path(args[0] if args else Path(__file__).resolve().parents[1] / "docs" / "PROTOCOL.md")
    schema_path = path.parent / SCHEMA_NAME
    text = path.read_text(encoding="utf-8")
    new = render(text)
    new_schema = render_schema()
    if check:
        old_schema = schema_path.read_text(encoding="utf-8") if schema_path.exists() else None
        stale = [str(f) for f, same in ((path, new == text), (schema_path, new_schema == old_schema)) if not same]
        if stale:
            print(f"{', '.join(stale)} out of date: run python -m tools.protocol_doc", file=sys.stderr)
            return 1
        return 0
    path.write_text(new, encoding="utf-8")
    schema_path.write_text(new_schema, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
