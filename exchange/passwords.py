"""Passwords of the web console's operator: stored as scrypt hashes (``hashlib.scrypt``), never
in clear, compared in constant time.

>>> stored = hash_password("correct horse", salt=bytes(16))
>>> stored.startswith("scrypt$16384$8$1$") and is_password_hash(stored)
True
>>> check_password("correct horse", stored), check_password("wrong", stored)
(True, False)
"""
from __future__ import annotations

import hashlib
import hmac
import os

__all__ = ["hash_password", "check_password", "is_password_hash"]

_N, _R, _P = 16384, 8, 1          # scrypt's cost: ~16 MiB and ~50 ms a check
_LENGTH = 32


def hash_password(password: str, salt: bytes | None = None) -> str:
    """``scrypt$N$r$p$<salt hex>$<hash hex>`` of ``password`` with a new random salt."""
    if not password:
        raise ValueError("the password must not be empty")
    salt = os.urandom(16) if salt is None else salt
    digest = hashlib.scrypt(password.encode(), salt=salt, n=_N, r=_R, p=_P, dklen=_LENGTH)
    return f"scrypt${_N}${_R}${_P}${salt.hex()}${digest.hex()}"


def _parts(stored: str):
    kind, n, r, p, salt, digest = stored.split("$")
    if kind != "scrypt":
        raise ValueError(kind)
    n, r, p = int(n), int(r), int(p)
    if not (2 <= n <= 1 << 20 and n & (n - 1) == 0 and 1 <= r <= 32 and 1 <= p <= 16):
        raise ValueError("cost out of range")
    return n, r, p, bytes.fromhex(salt), bytes.fromhex(digest)


def is_password_hash(stored: str) -> bool:
    """Whether ``stored`` is what :func:`hash_password` writes."""
    try:
        _, _, _, salt, digest = _parts(stored)
    except (ValueError, TypeError, AttributeError):
        return False
    return len(salt) >= 8 and len(digest) >= 16


def check_password(password: str, stored: str) -> bool:
    """Whether ``password`` is the one ``stored`` was made from (False for a malformed ``stored``)."""
    if not is_password_hash(stored):
        return False
    n, r, p, salt, digest = _parts(stored)
    got = hashlib.scrypt(password.encode(), salt=salt, n=n, r=r, p=p, dklen=len(digest), maxmem=256 << 20)
    return hmac.compare_digest(got, digest)
