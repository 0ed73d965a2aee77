"""docs/PROTOCOL.md carries tables generated from the dtypes; they must be current."""
import re
import struct
from pathlib import Path

from gateway import protocol as p
from gateway import protocol_doc

DOC = Path(__file__).resolve().parents[3] / "docs" / "PROTOCOL.md"


def test_protocol_doc_matches_the_dtypes():
    text = DOC.read_text(encoding="utf-8")
    assert protocol_doc.render(text) == text, "docs/PROTOCOL.md is stale: run python -m gateway.protocol_doc"


def test_every_generated_block_is_present():
    text = DOC.read_text(encoding="utf-8")
    names = set(re.findall(r"<!-- BEGIN GENERATED: ([\w-]+) -->", text))
    assert names == set(protocol_doc.sections())


def test_the_plain_struct_example_in_the_doc_matches_the_layouts():
    text = DOC.read_text(encoding="utf-8")
    order_fmt = re.search(r'ORDER = struct.Struct\("([^"]+)"\)', text).group(1)
    report_fmt = re.search(r'REPORT = struct.Struct\("([^"]+)"\)', text).group(1)
    assert struct.calcsize(order_fmt) == p.INBOUND_SIZE
    assert struct.calcsize(report_fmt) == p.OUTBOUND_SIZE
    packed = struct.pack(order_fmt, 1, 2, 1, 1, 0, 0, 0, 0, 1, 42, 0, 5010, 100, 0, 0)
    assert packed == p.encode(p.MsgType.NEW_ORDER, side=2, order_type=1, tif=1, account=1, client_order_id=42,
                              price=5010, qty=100)
    report = p.message(p.MsgType.FILL, order_id=77, client_order_id=42, reason=3)
    r = struct.unpack(report_fmt, report.tobytes())
    assert (r[0], r[2], r[17], r[18]) == (p.MsgType.FILL, 3, 77, 42)
    assert struct.pack("<BBHiii", 16, 0, 1, 1, 1000, 0).ljust(64, b"\0") == p.encode(
        p.MsgType.LOGIN, version=1, session=1, heartbeat_ms=1000)
