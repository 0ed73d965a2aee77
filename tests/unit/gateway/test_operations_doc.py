"""docs/OPERATIONS.md's configuration reference matches the code's config reader.

The reader records every key it asks for (``exchange.config.schema_keys``) while it checks the
example configuration (``chuanyu config example``) plus the tables the example leaves out. A
key added to the reader without a row in the reference, a row for a key the reader never asks
for, or a row whose type or default differs from the code, fails here.
"""
import datetime
import enum
import re
import tomllib
from pathlib import Path

import pytest

from exchange.config import example_toml, schema_keys

DOC = Path(__file__).resolve().parents[3] / "docs" / "OPERATIONS.md"
YEAR = 2026

# The example leaves these tables out (or commented): add one of each so the reader asks for
# their keys too.
EXTRA = f"""
[schedule.instruments.CCER{YEAR - 1}]
block = []

[[accounts]]
id = 99
member = 101
sector = "OTHER"
stp = "OFF"
retention_floor = {{ SCEA{YEAR} = 1 }}
position_limit = {{ SCEA{YEAR} = 1 }}
obligation = {{ SCEA{YEAR} = 1 }}

[[market_makers]]
account = 99
instruments = ["SCEA{YEAR}"]
rebate_bps = {{ continuous = 1 }}

[[replication.nodes]]
name = "a"
"""

# Keys whose default the code computes from other values: the reference describes it in words.
COMPUTED = {
    "instruments[].year": "the current year",
    "accounts[].region": "the member's region",
    "sessions[].name": "from the session id",
    "sessions[].burst": "from rate_limit",
    **{f"replication.nodes[].{k}": f"network.{k}" for k in ("host", "order_port", "admin_port", "feed_port",
                                                              "snapshot_port", "drop_copy_port")},
}


def code_keys() -> dict:
    return schema_keys(example_toml(YEAR) + EXTRA)


def doc_rows() -> dict:
    """{key: (type, default cell, allowed, meaning)} of the reference tables of section 2."""
    text = DOC.read_text(encoding="utf-8")
    section = re.search(r"^## 2\. Configuration reference$(.*?)^## 3\.", text, re.S | re.M)
    assert section, "docs/OPERATIONS.md has no '## 2. Configuration reference' section"
    rows = {}
    for line in section.group(1).splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 5 and re.fullmatch(r"`[^`]+`", cells[0]):
            key = cells[0].strip("`")
            assert key not in rows, f"{key} is listed twice"
            rows[key] = tuple(cells[1:])
    return rows


def _type_word(kind) -> str:
    if isinstance(kind, type) and issubclass(kind, enum.Enum):
        return "enum"
    if kind is bool:
        return "boolean"
    if kind is int:
        return "integer"
    if kind is str:
        return "string"
    if kind is list:
        return "array"
    if isinstance(kind, tuple) and datetime.time in kind:
        return "time"
    raise AssertionError(f"no documented type word for the reader kind {kind!r}")


def test_every_key_the_reader_asks_for_is_documented_and_nothing_else():
    code, doc = set(code_keys()), set(doc_rows())
    missing, extra = sorted(code - doc), sorted(doc - code)
    assert not missing, f"config keys without a row in docs/OPERATIONS.md section 2: {missing}"
    assert not extra, f"docs/OPERATIONS.md documents keys the config reader never reads: {extra}"


def test_documented_types_match_the_reader():
    doc = doc_rows()
    wrong = {key: (doc[key][0], _type_word(kind)) for key, (kind, _) in code_keys().items()
             if key in doc and doc[key][0] != _type_word(kind)}
    assert not wrong, f"documented type != the reader's (doc, code): {wrong}"


def _literal(cell: str):
    """The TOML value of a default cell like `100000` or `"fsync"`, or None if it is prose."""
    m = re.fullmatch(r"`(.+)`", cell)
    if not m:
        return None
    try:
        return tomllib.loads(f"v = {m.group(1)}")["v"]
    except tomllib.TOMLDecodeError:
        return None


def _same(code_default, doc_value) -> bool:
    if isinstance(code_default, enum.Enum):
        return isinstance(doc_value, str) and doc_value.upper() == code_default.name
    if isinstance(code_default, datetime.time):
        return doc_value == code_default.strftime("%H:%M")
    return type(doc_value) is type(code_default) and doc_value == code_default


def test_documented_defaults_match_the_reader():
    doc = doc_rows()
    wrong = {}
    for key, (_, default) in code_keys().items():
        if key not in doc or key in COMPUTED or "<SYMBOL>" in key:
            continue                    # per-symbol keys default to [schedule] or are entries
        cell = doc[key][1]
        if default is ...:
            ok = cell == "required"
        elif default is None:
            ok = cell != "required"      # absent means off / none / a documented built-in
        else:
            ok = _literal(cell) is not None and _same(default, _literal(cell))
        if not ok:
            wrong[key] = (cell, default)
    assert not wrong, f"documented default != the reader's (doc, code): {wrong}"


def test_computed_defaults_are_still_computed():
    # the exemptions above must not hide a plain default: each key is still read with a default
    keys = code_keys()
    for key in COMPUTED:
        assert key in keys and keys[key][1] is not ..., key


@pytest.mark.parametrize("text", [example_toml(YEAR), example_toml(YEAR) + EXTRA])
def test_the_example_configuration_is_valid(text):
    assert "market.max_accounts" in schema_keys(text)


def test_the_reader_normalises_indices_and_symbol_keys():
    keys = code_keys()
    assert "instruments[].tick" in keys and "instruments[0].tick" not in keys
    assert keys["accounts[].holdings.<SYMBOL>"][0] is int
    assert "schedule.instruments.<SYMBOL>.block" in keys
    assert keys["daemon.metrics_port"] == (int, 0)
