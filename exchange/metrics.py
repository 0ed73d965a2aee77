"""Prometheus metrics of the engine daemon (``chuanyu engine --metrics-port N``).

The daemon's loop calls :class:`Metrics` once per batch, never once per message. Counts go
into plain numpy arrays, indexed by command type, event kind, trade type and reject reason,
with one ``np.bincount`` per column (``observe_batch``): a batch of 10,000 orders costs the
same few microseconds as a batch of one; histograms are per-bucket counts (one bisect per
observation). All of it becomes Prometheus metric families only when scraped
(:class:`_CountCollector`, in the HTTP server's thread). With metrics off the gateway
holds ``metrics = None`` and each hook is one attribute test per batch.

State that only matters when someone looks (sessions logged in, journal bytes, the last
sequence number) is read at scrape time too (:class:`_GatewayCollector`). Every
:class:`Metrics` has its own ``CollectorRegistry``: several gateways in one process (tests)
keep separate figures.

Metric names (all prefixed ``chuanyu_``)

=================================  =========  ==============================================
name                               type       meaning
=================================  =========  ==============================================
orders_total{trade_type}           counter    order commands sequenced into the engine
commands_total{command}            counter    every sequenced command, by command type
trades_total{trade_type}           counter    trades
traded_tonnes_total{trade_type}    counter    tonnes traded
rejects_total{reason}              counter    rejects by ``matching.Reject`` name (gateway
                                              and engine)
batch_commands                     histogram  commands per engine batch
round_trip_seconds                 histogram  oldest frame of a batch received -> the
                                              batch's reports handed to ZeroMQ
journal_fsync_seconds              histogram  duration of each journal fsync
journal_bytes_total                counter    bytes appended to the journal
journal_records_total              counter    journal records (batches) appended
resting_orders                     gauge      orders resting in all books
sessions_logged_in                 gauge      sessions logged in
session_logged_in{session}         gauge      1 if that configured session is logged in
last_seq                           gauge      the last command sequence number
storage_available                  gauge      0 while the journal cannot write (a full disk:
                                              orders refused STORAGE_UNAVAILABLE), else 1
curve_refused_total{domain}        counter    CURVE handshakes refused by ZAP (key not allowed)
                                              on the ``orders``, ``admin``, ``drop_copy`` port
rate_limit_logouts_total{session}  counter    sessions logged out for sending far past their
                                              rate limit (``RATE_LIMITED``)
=================================  =========  ==============================================

>>> import numpy as np
>>> from matching import COMMAND_DTYPE, EVENT_DTYPE, CommandType, EventKind, TradeType
>>> m = Metrics()
>>> cmds = np.zeros(3, dtype=COMMAND_DTYPE)
>>> cmds["type"] = [CommandType.NEW_ORDER, CommandType.NEW_ORDER, CommandType.BLOCK_QUOTE]
>>> events = np.zeros(2, dtype=EVENT_DTYPE)
>>> events["kind"] = EventKind.TRADE
>>> events["trade_type"], events["qty"] = TradeType.CONTINUOUS, [10, 5]
>>> m.observe_batch(cmds, events, resting_orders=7)
>>> m.value("chuanyu_orders_total", trade_type="continuous")
2.0
>>> m.value("chuanyu_traded_tonnes_total", trade_type="continuous")
15.0
"""
from __future__ import annotations

import threading
from bisect import bisect_left
from collections import Counter

import numpy as np
from prometheus_client import CollectorRegistry, disable_created_metrics, start_http_server
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily
from prometheus_client.utils import floatToGoString

from matching import CommandType, EventKind, Reject, TradeType

__all__ = ["Metrics", "ORDER_TRADE_TYPE", "trade_type_label", "reject_label"]

# The per-series ``*_created`` timestamps double every scrape for no use here (a restart
# resets the counters, which Prometheus detects by itself). The switch is process-wide.
disable_created_metrics()

# Order-entry command type -> the trade type it is an order for (0: not an order).
ORDER_TRADE_TYPE = np.zeros(256, dtype=np.uint8)
for _ct, _tt in ((CommandType.NEW_ORDER, TradeType.CONTINUOUS),
                 (CommandType.LIST_FIXED, TradeType.FIXED), (CommandType.TAKE_FIXED, TradeType.FIXED),
                 (CommandType.BLOCK_QUOTE, TradeType.BLOCK), (CommandType.BLOCK_ACCEPT, TradeType.BLOCK),
                 (CommandType.AUCTION_OPEN, TradeType.AUCTION), (CommandType.AUCTION_BID, TradeType.AUCTION)):
    ORDER_TRADE_TYPE[int(_ct)] = int(_tt)
_TRADE, _REJECTED = int(EventKind.TRADE), int(EventKind.REJECTED)
_COMMAND_CODES = frozenset(int(c) for c in CommandType)

# Reject code -> a dense index (0: a code the enum does not know), so that one bincount of a
# small array counts a batch's rejects by reason.
_REJECTS = sorted(int(r) for r in Reject)
_REJECT_INDEX = np.zeros(1 << 16, dtype=np.intp)
_REJECT_INDEX[_REJECTS] = np.arange(1, len(_REJECTS) + 1)
_N_REJECT = len(_REJECTS) + 1

# Buckets: batch sizes by powers of four up to past the largest batch_max; latencies and
# fsyncs span the microseconds of a batched loop to the tens of milliseconds of a slow disk.
BATCH_BUCKETS = tuple(float(4 ** k) for k in range(11))
LATENCY_BUCKETS = (25e-6, 50e-6, 100e-6, 250e-6, 500e-6, 1e-3, 2.5e-3, 5e-3, 10e-3, 25e-3, 50e-3,
                   100e-3, 250e-3, 1.0)
FSYNC_BUCKETS = (50e-6, 100e-6, 250e-6, 500e-6, 1e-3, 2.5e-3, 5e-3, 10e-3, 25e-3, 50e-3, 100e-3,
                 250e-3, 1.0)


def trade_type_label(code: int) -> str:
    """The label value of a trade type code: ``continuous``, ``fixed``, ``block``, ``auction``."""
    try:
        return TradeType(code).name.lower()
    except ValueError:
        return str(code)


def reject_label(code: int) -> str:
    """The label value of a reject code: its ``matching.Reject`` name (the number if unknown)."""
    try:
        return Reject(code).name
    except ValueError:
        return str(code)


class Metrics:
    """The daemon's metrics in a registry of their own; optionally served over HTTP.

    Parameters
    ----------
    registry : CollectorRegistry, optional
        Where the metrics live; a new registry by default (never the process-global one).
    """

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = CollectorRegistry() if registry is None else registry
        r = self.registry
        # counts by code, added to by the loop, read by the scrape (int64/float64 element
        # stores are whole: a scrape sees each count from just before or just after a batch)
        self.commands = np.zeros(256, dtype=np.int64)          # by command type
        self.trades = np.zeros(256, dtype=np.int64)            # by trade type
        self.tonnes = np.zeros(256, dtype=np.float64)          # by trade type
        self.rejects = np.zeros(_N_REJECT, dtype=np.int64)     # by _REJECT_INDEX
        self.rejects_other: Counter = Counter()                # codes the enum does not know
        self.resting_orders = 0
        self.batch = _Histogram("chuanyu_batch_commands", "Commands per engine batch", BATCH_BUCKETS)
        self.round_trip = _Histogram("chuanyu_round_trip_seconds",
                                     "Per batch: oldest frame received -> reports handed to ZeroMQ",
                                     LATENCY_BUCKETS)
        self.fsync = _Histogram("chuanyu_journal_fsync_seconds", "Duration of each journal fsync", FSYNC_BUCKETS)
        r.register(_CountCollector(self))
        self._server = self._thread = None
        self.url: str | None = None

    # ------------------------------------------------------------------ hooks (main thread)
    def observe_batch(self, cmds: np.ndarray, events: np.ndarray, resting_orders: int) -> None:
        """One engine batch: commands by type, trades and tonnes by trade type, engine
        rejects by reason, the batch size and the resting orders.

        Cost: one bincount per column (plus two for trades, one for rejects, when the batch
        has any), whatever the batch size; about 5 µs for a batch of one.
        """
        self.batch.observe(len(cmds))
        self.commands += np.bincount(cmds["type"], minlength=256)
        self.resting_orders = resting_orders
        if not len(events):
            return
        kind = events["kind"]
        kinds = np.bincount(kind, minlength=256)
        if kinds[_TRADE]:
            trades = kind == _TRADE
            tt = events["trade_type"][trades]
            self.trades += np.bincount(tt, minlength=256)
            self.tonnes += np.bincount(tt, weights=events["qty"][trades], minlength=256)
        if kinds[_REJECTED]:
            self.observe_rejects(events["reason"][kind == _REJECTED])

    def observe_rejects(self, reasons: np.ndarray) -> None:
        """Rejects by reason code (an array of ``matching.Reject`` values)."""
        idx = _REJECT_INDEX[reasons]
        counts = np.bincount(idx, minlength=_N_REJECT)
        self.rejects += counts
        if counts[0]:                   # not in the enum: rare enough to count one by one
            self.rejects_other.update(reasons[idx == 0].tolist())

    def observe_round_trip(self, received_ns: int, sent_ns: int) -> None:
        """A batch's round trip: its oldest frame's receive time to its reports' send time (ns)."""
        self.round_trip.observe(max(0, sent_ns - received_ns) / 1e9)

    def observe_fsync(self, ns: int) -> None:
        """One journal fsync's duration (the :class:`exchange.journal.Journal` ``on_fsync`` hook)."""
        self.fsync.observe(ns / 1e9)

    # ------------------------------------------------------------------ scrape-time state
    def watch(self, gateway) -> None:
        """Report ``gateway``'s sessions, journal and sequence, read when scraped."""
        self.registry.register(_GatewayCollector(gateway))

    # ------------------------------------------------------------------ serving
    def serve(self, host: str, port: int) -> str:
        """Serve ``/metrics`` on ``host:port`` from a daemon thread; return the URL.

        Raises OSError when the port cannot be bound.
        """
        if not 0 < port <= 65535:
            raise ValueError(f"metrics port must be 1..65535, not {port}")
        self._server, self._thread = start_http_server(port, addr=host, registry=self.registry)
        shown = f"[{host}]" if ":" in host else host
        self.url = f"http://{shown}:{self._server.server_port}/metrics"
        return self.url

    def close(self) -> None:
        """Stop serving (a no-op if not serving)."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            if isinstance(self._thread, threading.Thread):
                self._thread.join(5)
            self._server = self._thread = None

    # ------------------------------------------------------------------ reading back
    def value(self, name: str, **labels) -> float | None:
        """The current value of one sample (e.g. ``chuanyu_orders_total``), None if absent."""
        return self.registry.get_sample_value(name, labels)


class _CountCollector:
    """The loop's count arrays as Prometheus counters, built at scrape time."""

    def __init__(self, metrics: Metrics) -> None:
        self.m = metrics

    def describe(self):
        return []

    def collect(self):
        m = self.m
        commands, trades, tonnes, rejects = m.commands.copy(), m.trades.copy(), m.tonnes.copy(), m.rejects.copy()
        orders = np.bincount(ORDER_TRADE_TYPE, weights=commands, minlength=256)
        fam = CounterMetricFamily("chuanyu_orders", "Order commands sequenced into the engine, by trade type",
                                  labels=["trade_type"])
        for tt in TradeType:
            fam.add_metric([trade_type_label(tt)], float(orders[tt]))
        yield fam
        fam = CounterMetricFamily("chuanyu_commands", "Commands sequenced into the engine, by command type",
                                  labels=["command"])
        for code in np.flatnonzero(commands).tolist():
            fam.add_metric([CommandType(code).name if code in _COMMAND_CODES else str(code)], float(commands[code]))
        yield fam
        for name, text, counts in (("chuanyu_trades", "Trades, by trade type", trades),
                                   ("chuanyu_traded_tonnes", "Tonnes traded, by trade type", tonnes)):
            fam = CounterMetricFamily(name, text, labels=["trade_type"])
            for tt in sorted(set(int(t) for t in TradeType) | set(np.flatnonzero(counts).tolist())):
                fam.add_metric([trade_type_label(tt)], float(counts[tt]))
            yield fam
        fam = CounterMetricFamily("chuanyu_rejects", "Rejects (gateway and engine), by reason", labels=["reason"])
        for i in np.flatnonzero(rejects[1:]).tolist():
            fam.add_metric([reject_label(_REJECTS[i])], float(rejects[i + 1]))
        for code, n in sorted(m.rejects_other.copy().items()):
            fam.add_metric([reject_label(code)], float(n))
        yield fam
        fam = GaugeMetricFamily("chuanyu_resting_orders", "Orders resting in all books")
        fam.add_metric([], m.resting_orders)
        yield fam
        for hist in (m.batch, m.round_trip, m.fsync):
            yield hist.family()


class _Histogram:
    """A Prometheus histogram kept as per-bucket counts in a list: ``observe`` is one bisect
    and two additions (prometheus_client's takes a lock and scans the buckets, ~1 µs).

    Only the loop's thread observes; a scrape may see one observation in the counts and not
    yet in the sum, never a count going down.
    """

    __slots__ = ("name", "text", "bounds", "counts", "sum")

    def __init__(self, name: str, text: str, bounds: tuple) -> None:
        self.name, self.text, self.bounds = name, text, tuple(float(b) for b in bounds)
        self.counts = [0] * (len(self.bounds) + 1)      # the last: above every bound (+Inf)
        self.sum = 0.0

    def observe(self, value: float) -> None:
        self.counts[bisect_left(self.bounds, value)] += 1     # buckets are "less or equal"
        self.sum += value

    def family(self) -> HistogramMetricFamily:
        counts, total = list(self.counts), self.sum
        cumulative, running = [], 0
        for bound, n in zip((*(floatToGoString(b) for b in self.bounds), "+Inf"), counts):
            running += n
            cumulative.append((bound, running))
        return HistogramMetricFamily(self.name, self.text, buckets=cumulative, sum_value=total)


class _GatewayCollector:
    """Sessions, journal and sequence of one gateway, read at scrape time (no loop cost).

    Runs in the HTTP server's thread: it only reads Python ints and bools that the loop
    replaces whole, so a scrape sees a value from just before or just after a batch.
    """

    def __init__(self, gateway) -> None:
        self.gw = gateway

    def describe(self):
        return []              # do not collect at registration: the gateway may be half built

    def collect(self):
        gw = self.gw
        sessions = list(getattr(gw, "sessions", None) or [])
        up = GaugeMetricFamily("chuanyu_sessions_logged_in", "Sessions logged in")
        up.add_metric([], sum(1 for s in sessions if s.logged_in))
        yield up
        each = GaugeMetricFamily("chuanyu_session_logged_in", "1 if the session is logged in",
                                 labels=["session"])
        for s in sessions:
            each.add_metric([s.cfg.name], 1 if s.logged_in else 0)
        yield each
        counters = dict(getattr(gw.journal, "counters", None) or {})
        journal_bytes = CounterMetricFamily("chuanyu_journal_bytes", "Bytes appended to the journal")
        journal_bytes.add_metric([], counters.get("bytes_written", 0))
        yield journal_bytes
        records = CounterMetricFamily("chuanyu_journal_records", "Journal records (batches) appended")
        records.add_metric([], counters.get("records", 0))
        yield records
        seq = GaugeMetricFamily("chuanyu_last_seq", "The last command sequence number")
        seq.add_metric([], gw.next_seq - 1)
        yield seq
        storage = getattr(gw, "storage", None)
        ok = GaugeMetricFamily("chuanyu_storage_available",
                               "0 while the journal cannot write (orders refused STORAGE_UNAVAILABLE)")
        ok.add_metric([], 1 if storage is None or storage.available else 0)
        yield ok
        refused = CounterMetricFamily("chuanyu_curve_refused", "CURVE handshakes refused (key not allowed), by port",
                                      labels=["domain"])
        for domain, allowlist in dict(getattr(getattr(gw, "auth", None), "allowlists", None) or {}).items():
            refused.add_metric([domain], allowlist.refused)
        yield refused
        logouts = CounterMetricFamily("chuanyu_rate_limit_logouts",
                                      "Sessions logged out for sending far past their rate limit", labels=["session"])
        counts = getattr(getattr(gw, "intake", None), "rate_limit_logouts", None)
        if counts is not None:
            for s in sessions:
                logouts.add_metric([s.cfg.name], int(counts[s.idx]))
        yield logouts
        replica = getattr(gw, "replica", None)
        if replica is not None:
            yield from _replication_families(replica.status())


def _replication_families(rep: dict):
    """The node's role, its stream position and, on the primary, each standby's lag."""
    role = GaugeMetricFamily("chuanyu_replication_primary", "1 on the primary, 0 on a standby", labels=["node"])
    role.add_metric([rep["node"]], 1 if rep["role"] == "primary" else 0)
    yield role
    connected = GaugeMetricFamily("chuanyu_replication_connected", "1 while connected to a NATS server",
                                  labels=["node"])
    connected.add_metric([rep["node"]], 1 if rep["connected"] else 0)
    yield connected
    position = GaugeMetricFamily("chuanyu_replication_stream_seq", "The last stream message this node applied",
                                 labels=["node"])
    position.add_metric([rep["node"]], rep["stream_seq"])
    for name, n in rep["nodes"].items():
        position.add_metric([name], n["stream_seq"] or 0)
    yield position
    lag = GaugeMetricFamily("chuanyu_replication_lag_commands",
                            "Commands a node is behind this one (as it last wrote its position)", labels=["node"])
    for name, n in rep["nodes"].items():
        lag.add_metric([name], n["lag_commands"])
    yield lag
