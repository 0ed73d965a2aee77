"""Who may connect: the CURVE key pairs in the state dir, and ZAP's allowlists of client keys.

Every port of the daemon but the public feed runs CURVE. The server's key pair and the
admins' and sessions' public keys come from the keys dir (``[security] keys_dir``); each
ZAP domain (orders, admin, drop copy) has its own allowlist, and a refused handshake is
counted and logged without letting a flood of them flood the log.
"""
from __future__ import annotations

import logging
import threading
import time
from pathlib import Path

import zmq
import zmq.auth
from zmq.auth.thread import ThreadAuthenticator

from gateway.errors import GatewayError

__all__ = ["Authenticator", "KeyAllowlist", "load_or_create_keys", "Keys"]

log = logging.getLogger("chuanyu.gateway")


class Authenticator(ThreadAuthenticator):
    """pyzmq's ZAP thread, remembering the peer address of the request it is handling (for
    the refusal log: the credentials callback is given the key alone)."""

    peer = None
    allowlists: dict = {}       # ZAP domain -> its KeyAllowlist, set when the daemon binds

    async def handle_zap_message(self, msg) -> None:
        self.peer = msg[3].decode("utf-8", "replace") if len(msg) > 3 else None
        await super().handle_zap_message(msg)


class KeyAllowlist:
    """The ZAP credentials provider of one domain: a set of z85 public keys; refusals are
    counted and logged.

    ``callback`` runs on the authenticator's thread, once per CURVE handshake: a set lookup,
    and for a refused key a count and a set insert under a lock. A flood of handshakes cannot
    flood the log: a refused key is logged at its first refusal in an interval of
    ``summary_s`` (at most ``log_keys`` keys an interval); the rest only count, and
    :meth:`summary` (the loop's timer, and at close) logs one line per interval with them.
    ``refused`` is the total, for the status and the metrics.
    """

    def __init__(self, keys, domain: str, peer=lambda: None, summary_s: float = 60.0, log_keys: int = 20) -> None:
        self.keys = {k.encode() if isinstance(k, str) else k for k in keys}
        self.domain, self._peer, self.summary_s, self.log_keys = domain, peer, summary_s, log_keys
        self.refused = 0
        self._lock = threading.Lock()
        self._logged: set = set()         # keys logged one by one in this interval
        self._quiet = 0                   # refusals in this interval not logged one by one
        self._since = time.monotonic()

    def callback(self, domain, key) -> bool:
        if key in self.keys:
            return True
        with self._lock:
            self.refused += 1
            first = key not in self._logged and len(self._logged) < self.log_keys
            if first:
                self._logged.add(key)
            else:
                self._quiet += 1
        if first:
            who = key.decode("ascii", "replace") if isinstance(key, bytes) else str(key)
            log.warning("CURVE handshake refused on the %s port: key %s from %s is not allowed (further refusals "
                        "are counted and summed up every %d s)", self.domain, who, self._peer() or "?",
                        self.summary_s, extra={"event": "curve_refused", "domain": self.domain, "key": who,
                                               "peer": self._peer()})
        return False

    def summary(self, final: bool = False) -> None:
        """Log the refusals of the interval not logged one by one; start a new interval when it is over."""
        now = time.monotonic()
        with self._lock:
            if not final and now - self._since < self.summary_s:
                return
            quiet, keys, span = self._quiet, len(self._logged), now - self._since
            self._quiet, self._since = 0, now
            self._logged.clear()
        if quiet:
            log.warning("%d refused CURVE handshakes on the %s port in the last %.0f s not logged one by one "
                        "(%d keys logged; %d refused since start)", quiet, self.domain, span, keys, self.refused,
                        extra={"event": "curve_refused_summary", "domain": self.domain, "refused": quiet,
                               "seconds": round(span, 1), "total": self.refused})


def load_or_create_keys(keys_dir: Path, name: str, create: bool, what: str) -> tuple[bytes, bytes | None]:
    """The (public, secret) key pair ``name`` in ``keys_dir``; secret is None if absent.

    ``create``: make the pair when neither file exists.
    """
    public = keys_dir / f"{name}.key"
    secret = keys_dir / f"{name}.key_secret"
    if not public.exists() and not secret.exists() and create:
        keys_dir.mkdir(parents=True, exist_ok=True)
        zmq.auth.create_certificates(str(keys_dir), name)
    if secret.exists():
        return zmq.auth.load_certificate(str(secret))
    if public.exists():
        return zmq.auth.load_certificate(str(public))
    raise GatewayError(f"{what}: no key pair {name!r} in {keys_dir} (make one with `chuanyu keys {keys_dir} {name}`)")


class Keys:
    """The daemon's CURVE keys: its own pair, the admins' and the sessions' public keys.

    ``has_market``: the state dir already holds a journal. Every client pins the server's
    public key, so a market with a journal never gets a new server key by itself (a restore
    that forgot keys/ would lock everyone out).
    """

    def __init__(self, config, state_dir: Path, has_market: bool) -> None:
        sec = config.security
        keys = Path(sec.keys_dir)
        self.dir = keys if keys.is_absolute() else Path(state_dir) / keys
        create = sec.generate_missing_keys
        restore = (f"; this state dir already holds a market: restore its {self.dir.name}/ from the backup (a new "
                   "server key would lock out every client, which pins its public key)") if has_market else ""
        try:
            self.server_public, self.server_secret = load_or_create_keys(self.dir, sec.server_key,
                                                                         create and not has_market,
                                                                         "security.server_key")
        except GatewayError as exc:
            raise GatewayError(f"{exc}{restore}") from None
        if self.server_secret is None:
            raise GatewayError(f"security.server_key: {self.dir / sec.server_key}.key_secret is missing{restore}")
        self.admin_public = [load_or_create_keys(self.dir, name, create, f"security.admin_keys[{n}]")[0].decode()
                             for n, name in enumerate(sec.admin_keys)]
        self.sessions: dict[int, str] = {}         # session id -> z85 public key
        for n, s in enumerate(config.sessions):
            if s.public_key is not None:
                self.sessions[s.id] = s.public_key
            else:
                self.sessions[s.id] = load_or_create_keys(self.dir, s.key, create, f"sessions[{n}].key")[0].decode()
