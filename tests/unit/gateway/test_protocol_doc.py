"""docs/PROTOCOL.md carries tables generated from the dtypes; they must be current."""
import re
import struct
from pathlib import Path

from gateway import protocol as p
from tools import protocol_doc

DOC = Path(__file__).resolve().parents[3] / "docs" / "PROTOCOL.md"


def test_protocol_doc_matches_the_dtypes():
    text = DOC.read_text(encoding="utf-8")
    assert protocol_doc.render(text) == text, "docs/PROTOCOL.md is stale: run python -m tools.protocol_doc"


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


def _doc_struct(name: str) -> str:
    text = DOC.read_text(encoding="utf-8")
    return re.search(rf'^{name} = struct.Struct\("([^"]+)"\)', text, re.MULTILINE).group(1)


def test_the_example_structs_in_the_doc_match_login_logout_and_login_ack():
    login, logout, login_ack = _doc_struct("LOGIN"), _doc_struct("LOGOUT"), _doc_struct("LOGIN_ACK")
    assert struct.pack(login, 16, 0, 1, 1, 1000, 0, 0) == p.encode(p.MsgType.LOGIN, version=1, session=1,
                                                                   heartbeat_ms=1000)
    assert struct.pack(logout, 17) == p.encode(p.MsgType.LOGOUT)
    ack = p.message(p.MsgType.LOGIN_ACK, version=1, session=1, heartbeat_ms=1000, report_seq=5,
                    last_client_order_id=4242).tobytes()
    fields = struct.unpack(login_ack, ack)
    assert (fields[0], fields[3], fields[7], fields[10]) == (p.MsgType.LOGIN_ACK, 1, 5, 4242)


def test_the_runnable_examples_in_the_doc_are_python():
    import ast
    text = DOC.read_text(encoding="utf-8")
    blocks = re.findall(r"<!-- runnable example: ([\w-]+) -->\n```python\n(.*?)```", text, re.DOTALL)
    assert {name for name, _ in blocks} == {"minimal-client", "library-client"}
    for name, code in blocks:
        ast.parse(code, filename=name)


def test_every_message_type_has_a_field_table():
    """One entry per message type in MESSAGES, naming only fields of its own layout, and a
    table per type in the document."""
    text = DOC.read_text(encoding="utf-8")
    assert set(protocol_doc.MESSAGES) == set(p.MsgType)
    for t, (summary, meanings) in protocol_doc.MESSAGES.items():
        assert summary.endswith("."), t
        fields = {f["name"] for f in protocol_doc.field_use(t)}
        assert set(meanings) <= fields - {"msg_type"}, (t, set(meanings) - fields)
        assert not [f for f in meanings if f.startswith("reserved")], t
        assert f"#### {t.name} ({int(t)})" in text


def test_field_use_covers_every_byte_of_each_layout():
    for t in p.MsgType:
        rows = protocol_doc.field_use(t)
        size = p.INBOUND_SIZE if t < p.MsgType.ACK else p.OUTBOUND_SIZE
        at = 0
        for f in rows:
            assert f["offset"] == at, (t, f)
            at += f["size"]
        assert at == size
        assert {f["use"] for f in rows} <= {"used", "not used", "reserved"}
        assert all(f["use"] == "reserved" for f in rows if f["name"].startswith("reserved"))


def test_each_layouts_msg_type_description_names_every_type_using_it():
    """The layout tables' `msg_type` meaning once listed 1-4 only for ORDER."""
    for layouts in (p.INBOUND_LAYOUTS, p.OUTBOUND_LAYOUTS):
        for name, (_, types, docs) in layouts.items():
            for t in types:
                assert f"{t.name} {int(t)}" in docs["msg_type"], (name, t)


def test_the_reserved_fields_the_doc_calls_must_be_zero_are_the_ones_the_daemon_checks():
    for t in p.MsgType:
        if t >= p.MsgType.ACK:
            continue
        dtype = p.message(t).dtype
        mask = p.reserved_mask(dtype)
        for f in protocol_doc.field_use(t):
            checked = bool(mask[f["offset"]:f["offset"] + f["size"]].all())
            assert checked == (f["use"] == "reserved"), (t, f["name"])


def test_the_ref_type_numbers_in_the_prose_are_the_enums():
    """Section 5's `ref_type` paragraph quotes numbers by hand: the messages' are MsgType's,
    the operator's commands' CommandType's, and REF_TYPE_OF maps one to the other."""
    from matching import CommandType
    text = DOC.read_text(encoding="utf-8")
    para = text[text.index("- **`ref_type`** says"):text.index("Reports go to the session")]
    messages, operator = para.split("A report caused by the operator")
    quoted = re.findall(r"\b([A-Z][A-Z_]+) (\d+)\b", messages)
    assert len(quoted) == 9 and all(int(p.MsgType[name]) == int(n) for name, n in quoted), quoted
    assert all(int(p.REF_TYPE_OF[int(CommandType[name])]) == int(n) for name, n in quoted)
    commands = re.findall(r"\b([A-Z][A-Z_]+) (\d+)\b", operator)
    assert len(commands) >= 3 and all(int(CommandType[name]) == int(n) for name, n in commands), commands
    assert all(int(p.REF_TYPE_OF[int(CommandType[name])]) == int(n) for name, n in commands)
