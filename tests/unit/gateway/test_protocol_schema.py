"""docs/protocol-schema.json: generated from the dtypes and enums, committed, and current."""
import json
from pathlib import Path

import numpy as np

from feeds.dropcopy import DROP_COPY_DTYPE, DROP_COPY_EVENT_DTYPE
from feeds.messages import FEED_DTYPE, FeedType
from gateway import protocol as p
from matching import (
    AuctionOutcome, CancelReason, CommandType, InstrumentStatus, OrderType, Side, StpMode, TimeInForce, TradeType,
)
from tools import protocol_doc

DOCS = Path(__file__).resolve().parents[3] / "docs"
SCHEMA = DOCS / protocol_doc.SCHEMA_NAME


def _load() -> dict:
    return json.loads(SCHEMA.read_text(encoding="utf-8"))


def _dtype(size: int, fields: list[dict]) -> np.dtype:
    """The numpy dtype a schema entry describes, built from the schema alone."""
    return np.dtype({"names": [f["name"] for f in fields],
                     "formats": [np.dtype((f["numpy"], tuple(f["shape"]))) if f["shape"] else np.dtype(f["numpy"])
                                 for f in fields],
                     "offsets": [f["offset"] for f in fields], "itemsize": size})


def test_the_committed_schema_is_the_generated_one():
    assert SCHEMA.read_text(encoding="utf-8") == protocol_doc.render_schema(), \
        f"{SCHEMA} is stale: run python -m tools.protocol_doc"


def test_the_schema_rebuilds_every_dtype():
    s = _load()
    assert s["protocol_version"] == p.PROTOCOL_VERSION
    assert (s["inbound_size"], s["outbound_size"]) == (p.INBOUND_SIZE, p.OUTBOUND_SIZE)
    assert (s["max_messages_per_frame"], s["max_frame_bytes"]) == (p.MAX_MESSAGES_PER_FRAME, p.MAX_FRAME_BYTES)
    layouts = {**p.INBOUND_LAYOUTS, **p.OUTBOUND_LAYOUTS}
    assert set(s["layouts"]) == set(layouts)
    for name, (dtype, types, _) in layouts.items():
        entry = s["layouts"][name]
        assert _dtype(entry["size"], entry["fields"]) == dtype, name
        assert entry["msg_types"] == [t.name for t in types]
    assert _dtype(s["market_data"]["FEED"]["size"], s["market_data"]["FEED"]["fields"]) == FEED_DTYPE
    assert _dtype(s["market_data"]["DROP_COPY"]["size"], s["market_data"]["DROP_COPY"]["fields"]) == DROP_COPY_DTYPE
    event = s["market_data"]["DROP_COPY_EVENT"]
    assert _dtype(event["size"], event["fields"]) == DROP_COPY_EVENT_DTYPE


def test_every_message_type_is_in_the_schema_in_its_layout():
    s = _load()
    assert set(s["messages"]) == {t.name for t in p.MsgType}
    for t in p.MsgType:
        m = s["messages"][t.name]
        dtype = p.message(t).dtype
        assert m["msg_type"] == int(t) and m["size"] == dtype.itemsize
        assert _dtype(m["size"], m["fields"]) == dtype, t
        assert all(f["meaning"] for f in m["fields"])
        assert m["fields"][0] == {**m["fields"][0], "name": "msg_type", "offset": 0, "use": "used"}


def test_the_schema_enums_are_the_code_enums():
    enums = _load()["enums"]
    for enum in (Side, OrderType, TimeInForce, StpMode, CancelReason, TradeType, CommandType, InstrumentStatus,
                 AuctionOutcome, FeedType, p.MsgType, p.ReportFlag, p.LoginFlag):
        assert enums[enum.__name__] == {m.name: int(m) for m in enum}, enum.__name__
    assert enums["Reject"] == {name: code for code, name in p.all_reject_codes().items()}
    rejects = _load()["rejects"]
    assert [r["code"] for r in rejects] == list(p.all_reject_codes())
    assert {r["raised_by"] for r in rejects if r["code"] in p.GATEWAY_REJECTS} == {"gateway"}


def test_check_reports_a_stale_schema(tmp_path, capsys):
    doc = tmp_path / "PROTOCOL.md"
    doc.write_text((DOCS / "PROTOCOL.md").read_text(encoding="utf-8"), encoding="utf-8")
    assert protocol_doc.main([str(doc), "--check"]) == 1          # no schema next to it yet
    assert "protocol-schema.json" in capsys.readouterr().err
    assert protocol_doc.main([str(doc)]) == 0
    assert (tmp_path / protocol_doc.SCHEMA_NAME).read_text(encoding="utf-8") == protocol_doc.render_schema()
    assert protocol_doc.main([str(doc), "--check"]) == 0
