"""Canonical engine state: the snapshot format and the state digest, shared by both engines.

A snapshot is implementation-independent: the Cython engine can restore one written by the
reference model and the other way round. The digest is a hash of the snapshot bytes, so
two engines have equal digests exactly when their snapshots are equal.

Layout: ``MAGIC``, then a little-endian u32 length and that many bytes of JSON metadata
(sorted keys), then the resting orders as raw ``BOOK_ORDER_DTYPE`` rows in canonical order:
by instrument, bids best to worst then asks best to worst, each level in time priority.
"""
from __future__ import annotations

import hashlib
import json
import struct
from typing import NamedTuple

import numpy as np

from .dtypes import BOOK_ORDER_DTYPE

__all__ = ["pack_state", "unpack_state", "digest", "BookView", "OrderView"]

MAGIC = b"CHUANYU-ENGINE-STATE\x00\x01"


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


def pack_state(meta: dict, orders: np.ndarray) -> bytes:
    if orders.dtype != BOOK_ORDER_DTYPE:
        raise TypeError("orders must be a BOOK_ORDER_DTYPE array")
    meta = dict(meta, n_orders=int(len(orders)))
    header = json.dumps(meta, sort_keys=True, separators=(",", ":")).encode()
    return b"".join([MAGIC, struct.pack("<I", len(header)), header, np.ascontiguousarray(orders).tobytes()])


def unpack_state(blob: bytes) -> tuple[dict, np.ndarray]:
    if not isinstance(blob, (bytes, bytearray, memoryview)):
        raise TypeError("a snapshot is bytes")
    blob = bytes(blob)
    if not blob.startswith(MAGIC) or len(blob) < len(MAGIC) + 4:
        raise ValueError("not a chuanyu engine snapshot")
    pos = len(MAGIC)
    (n,) = struct.unpack_from("<I", blob, pos)
    pos += 4
    try:
        meta = json.loads(blob[pos:pos + n])
    except ValueError as exc:
        raise ValueError(f"snapshot metadata is damaged: {exc}") from None
    pos += n
    body = blob[pos:]
    if not isinstance(meta, dict) or len(body) != meta.get("n_orders", -1) * BOOK_ORDER_DTYPE.itemsize:
        raise ValueError("snapshot is truncated or damaged")
    orders = np.frombuffer(body, dtype=BOOK_ORDER_DTYPE).copy()
    return meta, orders


def digest(snapshot: bytes) -> str:
    return hashlib.blake2b(snapshot, digest_size=16).hexdigest()
