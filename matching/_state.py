"""Canonical engine state: the snapshot format and the state digest, shared by both engines.

A snapshot is implementation-independent: the Cython engine can restore one written by the
reference model and the other way round. The digest is a hash of the snapshot bytes, so
two engines have equal digests exactly when their snapshots are equal.

Layout: ``MAGIC``, then a little-endian u32 length and that many bytes of JSON metadata
(sorted keys), then the sections below as raw rows, each count recorded in the metadata,
and last a 16-byte BLAKE2b checksum of everything before it:
the resting orders (``BOOK_ORDER_DTYPE``) in canonical order, by instrument, bids best to
worst then asks best to worst, each level in time priority; the accounts
(``ACCOUNT_DTYPE``) by id; their holdings (``HOLDING_DTYPE``) by account then instrument.
"""
from __future__ import annotations

import hashlib
import json
import struct
from typing import NamedTuple

import numpy as np

from .dtypes import ACCOUNT_DTYPE, BOOK_ORDER_DTYPE, HOLDING_DTYPE

__all__ = ["pack_state", "unpack_state", "digest", "BookView", "OrderView", "SECTIONS", "account_view",
           "daily_view"]

MAGIC = b"CHUANYU-ENGINE-STATE\x00\x02"
CHECKSUM_BYTES = 16
SECTIONS = (("orders", BOOK_ORDER_DTYPE), ("accounts", ACCOUNT_DTYPE), ("holdings", HOLDING_DTYPE))


class BookView(NamedTuple):
    """A depth view: each side a list of (price, quantity, order count), best first."""

    bids: list
    asks: list


class OrderView(NamedTuple):
    order_id: int
    client_order_id: int
    instrument: int
    account: int
    side: int
    price: int
    qty: int
    tif: int
    stp: int
    ts: int


def daily_view(opening: int, high: int, low: int, volume, amount) -> dict:
    """An instrument's day so far, the same from both engines: volume and amount by trade type."""
    from .codes import TradeType
    return {"open": int(opening), "high": int(high), "low": int(low),
            "volume": {t.name: int(volume[t]) for t in TradeType},
            "amount": {t.name: int(amount[t]) for t in TradeType}}


def account_view(account_row: tuple, holding_rows: list, symbols, fines_owed: int = 0) -> dict:
    """An account's balances as a plain dict, the same from both engines.

    ``account_row`` and each of ``holding_rows`` are in ``ACCOUNT_DTYPE`` and
    ``HOLDING_DTYPE`` field order; holdings are keyed by instrument symbol (``symbols``:
    the instruments' symbols by index); ``fines_owed``: fines it could not pay yet, fen.
    """
    view = dict(zip(ACCOUNT_DTYPE.names, (int(x) for x in account_row)))
    view["fines_owed"] = int(fines_owed)
    names = HOLDING_DTYPE.names
    view["holdings"] = {}
    for row in holding_rows:
        h = dict(zip(names, (int(x) for x in row)))
        view["holdings"][symbols[h.pop("instrument")]] = h
        del h["account"]
    return view


def pack_state(meta: dict, sections: dict[str, np.ndarray]) -> bytes:
    meta = dict(meta)
    body = []
    for name, dtype in SECTIONS:
        rows = sections[name]
        if rows.dtype != dtype:
            raise TypeError(f"section {name} must be a {name.upper()} array")
        meta[f"n_{name}"] = int(len(rows))
        body.append(np.ascontiguousarray(rows).tobytes())
    header = json.dumps(meta, sort_keys=True, separators=(",", ":")).encode()
    content = b"".join([MAGIC, struct.pack("<I", len(header)), header, *body])
    return content + _checksum(content)


def _checksum(content: bytes) -> bytes:
    return hashlib.blake2b(content, digest_size=CHECKSUM_BYTES).digest()


def unpack_state(blob: bytes) -> tuple[dict, dict[str, np.ndarray]]:
    """Split snapshot bytes into metadata and sections; damaged bytes raise ValueError."""
    if not isinstance(blob, (bytes, bytearray, memoryview)):
        raise TypeError("a snapshot is bytes")
    blob = bytes(blob)
    if not blob.startswith(MAGIC) or len(blob) < len(MAGIC) + 4 + CHECKSUM_BYTES:
        raise ValueError("not a chuanyu engine snapshot (or one of another version)")
    blob, checksum = blob[:-CHECKSUM_BYTES], blob[-CHECKSUM_BYTES:]
    if _checksum(blob) != checksum:
        raise ValueError("snapshot is damaged: checksum mismatch")
    pos = len(MAGIC)
    (n,) = struct.unpack_from("<I", blob, pos)
    pos += 4
    try:
        meta = json.loads(blob[pos:pos + n])
    except ValueError as exc:
        raise ValueError(f"snapshot metadata is damaged: {exc}") from None
    if not isinstance(meta, dict):
        raise ValueError("snapshot metadata is damaged")
    pos += n
    sections = {}
    for name, dtype in SECTIONS:
        count = meta.get(f"n_{name}")
        if not isinstance(count, int) or count < 0 or pos + count * dtype.itemsize > len(blob):
            raise ValueError("snapshot is truncated or damaged")
        sections[name] = np.frombuffer(blob, dtype=dtype, count=count, offset=pos).copy()
        pos += count * dtype.itemsize
    if pos != len(blob):
        raise ValueError("snapshot has trailing bytes")
    return meta, sections


def digest(snapshot: bytes) -> str:
    return hashlib.blake2b(snapshot, digest_size=16).hexdigest()
