"""Generate the tables of ``docs/PROTOCOL.md`` from the dtypes and enums they document.

``python -m gateway.protocol_doc [docs/PROTOCOL.md]`` rewrites every block between
``<!-- BEGIN GENERATED: name -->`` and ``<!-- END GENERATED: name -->`` in place and leaves
the prose around them alone; ``--check`` exits 1 if the file is out of date.
``tests/unit/gateway/test_protocol_doc.py`` runs the check.
"""
from __future__ import annotations

import re
import sys
from enum import IntEnum
from pathlib import Path

import numpy as np

from matching import CancelReason, OrderType, Side, StpMode, TimeInForce
from matching.codes import RETIRED_REJECTS

from . import protocol as p

__all__ = ["sections", "render", "main"]

_BLOCK = re.compile(r"(<!-- BEGIN GENERATED: (?P<name>[\w-]+) -->\n)(?P<body>.*?)(<!-- END GENERATED: (?P=name) -->)",
                    re.DOTALL)
_TYPES = {"u1": "u8", "<u2": "u16", "<i4": "i32", "<u4": "u32", "<i8": "i64"}


def _type_name(dt: np.dtype) -> str:
    if dt.subdtype is not None:
        return f"u8[{dt.shape[0]}]"
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
    from .config import Durability
    from .gapfill import GAP_FILL_FRAME_REPORTS
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
    from feeds.dropcopy import DROP_COPY_DTYPE, DROP_COPY_FIELD_DOCS, DROP_COPY_TOPIC
    from feeds.dropcopy import HEARTBEAT as DROP_COPY_HEARTBEAT
    from feeds.encoder import FeedEncoder
    from feeds.messages import CHANNEL, FEED_DTYPE, FEED_FIELD_DOCS, FeedType
    from feeds.service import HEARTBEAT
    from matching import AuctionOutcome, Engine, Instrument, InstrumentStatus, TradeType, commands
    meaning = {FeedType.TRADE: "a trade: `trade_id`, `price`, `qty`, `side`, `trade_type`",
               FeedType.DEPTH: "one price level after the batch: `side`, `price`, `qty` (0 = gone), `count`, "
                               "`trade_type` = the book",
               FeedType.BBO: "best bid and offer of the continuous book, when the batch changed it",
               FeedType.STATUS: "the instrument's phase (`status`) and block window (`block_window`)",
               FeedType.AUCTION_RESULT: "an auction's outcome (`status`), clearing `price`, volume sold `qty`, "
                                        "volume bid `previous`, bids `count`, auction id `trade_id`",
               FeedType.DAILY_STATS: "the end of day: close `price`, `open`, `high`, `low`, `previous` close, "
                                     "day volume `qty`, `volume` and `amount` by trade type"}
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
        f"a heartbeat `[{DROP_COPY_HEARTBEAT.decode()!r}, JSON {{\"epoch\", \"seq\"}}]` twice a second.", "",
        _feed_layout("DROP_COPY", DROP_COPY_DTYPE, DROP_COPY_FIELD_DOCS, "Every execution, with both accounts.")])
    return {"feed-types": "\n".join(types) + "\n", "feed-layout": _feed_layout(
        "FEED", FEED_DTYPE, FEED_FIELD_DOCS, "Every public message; `msg_type` says which fields are used "
        "(unused ones are zero)."), "feed-enums": enums, "feed-example": example + "\n", "drop-copy": drop}


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
                       _enum_table(p.ReportFlag, "ReportFlag (report `flags` bits)"),
                       _enum_table(p.LoginFlag, "LoginFlag (LOGIN `flags` bits)")])
    return {**_feeds(), "example": _example(), "constants": constants, "msg-types": "\n".join(msg_types) + "\n", "inbound": inbound,
            "outbound": outbound, "enums": enums, "rejects": _rejects(), "gap-fill": _gap_fill()}


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
    text = path.read_text(encoding="utf-8")
    new = render(text)
    if check:
        if new != text:
            print(f"{path} is out of date: run python -m gateway.protocol_doc", file=sys.stderr)
            return 1
        return 0
    path.write_text(new, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
