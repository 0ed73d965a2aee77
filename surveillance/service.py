"""``chuanyu surveil``: the surveillance process, live from the drop copy or back-testing a journal.

Live, it subscribes to the daemon's drop copy with a drop-copy session's key pair (executions
and the order and market events) and hands every batch to :class:`Surveillance`. A back-test
replays a state dir's journal through an engine of its own (from the journal's first command,
or the snapshot just before it when older segments were pruned) and hands the same rows, made
from the replayed events by the drop copy's own functions, to the same code.

Every alert goes to:

- ``alerts-<YYYYMMDD>.jsonl`` in the output folder (one JSON object a line, by the alert's
  trading date in China Standard Time), flushed at once;
- the log, as a WARNING (``event`` ``surveillance_alert``);
- Prometheus (``--metrics-port``): ``chuanyu_surveillance_alerts_total{kind}``, and the rows read
  and drop-copy losses seen;
- a feed (``--alerts-port``): a PUB socket, CURVE, that only the configured drop-copy sessions'
  keys may subscribe to; each alert is one frame ``[b"A", JSON]``.

It never sits in the engine's path: the daemon publishes the drop copy whether or not anyone
listens, and a slow surveillance process loses drop-copy frames (counted as gaps, and found
again by a back-test of the journal), never slows the market.
"""
from __future__ import annotations

import json
import logging
import time
from datetime import datetime
from pathlib import Path

import numpy as np
import zmq

from exchange.recovery import replay_events
from exchange.security import Authenticator, KeyAllowlist, load_or_create_keys
from feeds.dropcopy import DropCopyClient, drop_copy_event_rows, drop_copy_rows

from .detectors import ALERT_KINDS, CST, Surveillance

__all__ = ["AlertSinks", "ALERTS_TOPIC", "for_config", "backtest", "run_live"]

log = logging.getLogger("chuanyu.surveillance")
ALERTS_TOPIC = b"A"
ALERTS_DOMAIN = "surveillance"


def for_config(config) -> Surveillance:
    """The market's surveillance: its rules, symbols, members and market makers."""
    return Surveillance(config.surveillance, [i.symbol for i in config.instruments],
                        {a.id: a.member for a in config.accounts}, [m.account for m in config.market_makers])


class AlertSinks:
    """Where alerts go: the files, the log, and optionally Prometheus and the alerts feed."""

    def __init__(self, out_dir, metrics_port: int | None = None, publisher=None) -> None:
        self.dir = Path(out_dir)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.publisher = publisher
        self._files: dict[str, object] = {}
        self.metrics = None
        if metrics_port is not None:
            from prometheus_client import CollectorRegistry, Counter, Gauge, start_http_server
            registry = CollectorRegistry()
            self.metrics = {
                "alerts": Counter("chuanyu_surveillance_alerts", "alerts raised, by kind", ["kind"], registry=registry),
                "rows": Counter("chuanyu_surveillance_rows", "drop-copy executions and events read", registry=registry),
                "gaps": Gauge("chuanyu_surveillance_dropcopy_gaps", "drop-copy losses seen", registry=registry),
            }
            for kind in ALERT_KINDS:
                self.metrics["alerts"].labels(kind=kind)
            self.server, _ = start_http_server(metrics_port, addr="127.0.0.1", registry=registry)
            self.metrics_port = self.server.server_port

    def emit(self, alerts: list[dict]) -> None:
        for a in alerts:
            date = datetime.fromtimestamp(a["ts"] / 1e9, CST).strftime("%Y%m%d")
            f = self._files.get(date)
            if f is None:
                f = self._files[date] = (self.dir / f"alerts-{date}.jsonl").open("a", encoding="utf-8")
            line = json.dumps(a, sort_keys=True)
            f.write(line + "\n")
            f.flush()
            log.warning("surveillance alert %d %s on %s: %s", a["id"], a["kind"], a["instrument"], a["summary"],
                        extra={"event": "surveillance_alert", "kind": a["kind"], "alert": a["id"],
                               "accounts": a["accounts"]})
            if self.metrics is not None:
                self.metrics["alerts"].labels(kind=a["kind"]).inc()
            if self.publisher is not None:
                self.publisher.send_multipart([ALERTS_TOPIC, line.encode()])

    def count(self, rows: int, gaps: int) -> None:
        if self.metrics is not None:
            self.metrics["rows"].inc(rows)
            self.metrics["gaps"].set(gaps)

    def close(self) -> None:
        for f in self._files.values():
            f.close()
        self._files.clear()
        if self.metrics is not None:
            self.server.shutdown()


def bind_alerts(ctx: zmq.Context, config, keys_dir: Path, port: int, host: str = "127.0.0.1"):
    """The alerts feed: a CURVE PUB socket with the key pair ``surveillance`` (made in
    ``keys_dir`` when missing) that only the drop-copy sessions' keys may subscribe to.
    Returns (socket, endpoint, authenticator)."""
    public, secret = load_or_create_keys(keys_dir, "surveillance", True, "the surveillance feed")
    allowed = []
    for s in config.sessions:
        if s.drop_copy:
            allowed.append(s.public_key if s.public_key is not None
                           else load_or_create_keys(keys_dir, s.key, False, f"session {s.name}")[0].decode())
    auth = Authenticator(ctx)
    auth.start()
    allowlist = KeyAllowlist(allowed, "surveillance", lambda: auth.peer)
    auth.configure_curve_callback(ALERTS_DOMAIN, allowlist)
    sock = ctx.socket(zmq.PUB)
    sock.linger = 0
    sock.curve_server = True
    sock.curve_publickey, sock.curve_secretkey = public, secret
    sock.zap_domain = ALERTS_DOMAIN.encode()
    if port:
        sock.bind(f"tcp://{host}:{port}")
    else:
        sock.bind_to_random_port(f"tcp://{host}")
    return sock, sock.last_endpoint.decode(), auth


def run_live(surveillance: Surveillance, client: DropCopyClient, sinks: AlertSinks, stop, poll_ms: int = 100) -> None:
    """Read the drop copy until ``stop()`` is true; every batch through the rules."""
    while not stop():
        executions, events = client.receive(poll_ms)
        if len(executions) or len(events):
            sinks.emit(surveillance.process(executions, events))
        sinks.count(len(executions) + len(events), client.gaps)


def backtest(state_dir, config, surveillance: Surveillance, sinks: AlertSinks | None = None) -> dict:
    """Replay ``state_dir``'s journal through a fresh engine and the rules: what it read
    (see :func:`exchange.recovery.replay_events` for where the replay starts)."""
    totals = {"commands": 0, "executions": 0, "events": 0, "alerts": 0, "seconds": 0.0}
    spent = 0.0

    def one(_engine, rows: np.ndarray, events: np.ndarray) -> None:
        nonlocal spent
        executions, order_events = drop_copy_rows(events), drop_copy_event_rows(events)
        start = time.perf_counter()
        alerts = surveillance.process(executions, order_events)
        spent += time.perf_counter() - start
        if sinks is not None:
            sinks.emit(alerts)
        totals["commands"] += len(rows)
        totals["executions"] += len(executions)
        totals["events"] += len(order_events)
        totals["alerts"] += len(alerts)

    _, path = replay_events(state_dir, config, one)
    if path is not None:
        log.warning("the back-test started from %s: days in progress then were judged on what followed", path.name)
    totals["seconds"] = round(spent, 6)
    totals["by_kind"] = dict(surveillance.counts)
    return totals
