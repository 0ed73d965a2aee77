"""The engine daemon: one exchange node, run as a pipeline of stages around one :class:`matching.Engine`.

One thread runs the loop (:meth:`ExchangeNode.run`); each batch passes the stages in this order
(:meth:`ExchangeNode.run_batch`), each an object that owns its state, with its C twin beside it::

    sessions.drain      frames of logged-in sessions, bounded in bytes    gateway.sessions    (zmqio._router)
    intake.screen       checks + decoding into ONE command array           gateway.intake      (gateway._intake)
    + operator commands admin requests, the schedule, cancels on disconnect
    sequencer.commit    seq stamps, journal append + sync                  exchange.sequencer   (exchange._sequence)
    engine.process      matching                                           matching            (matching._engine)
    reports             build, order by session, number, keep for gap fill exchange.reports     (exchange._reports)
    sessions.deliver    each session's reports, one frame, non-blocking    gateway.sessions    (zmqio._router)
    market_data         public feed, drop copy, disclosure files           exchange.marketdata  (feeds._encode)

No report leaves before the journal's ``sync()`` returned for its batch; a batch's execution
reports leave before its public market data (docs/PROTOCOL.md, "Order of messages"). No
Python code runs per message on the usual path; per frame, only appending it to the
batch's lists; per session, the send of its reports.

Beside the batch, on the timer tick: heartbeats and send queues (sessions), the storage probe
(sequencer), snapshots (:mod:`exchange.snapshots`), the schedule (:mod:`exchange.schedule`,
whose commands join the batch after the operator's). The admin port (:mod:`exchange.admin`)
answers reads at once and queues operator commands for the next batch. Recovery at start
and offline is :mod:`exchange.recovery`; who may connect, :mod:`exchange.security`.
"""
from __future__ import annotations

import gc
import json
import logging
import os
import time
from pathlib import Path

import numpy as np
import zmq

from matching import InstrumentStatus

from .admin import AdminPort
from .config import MarketConfig
from gateway.errors import GatewayError
from gateway.intake import Intake
from .journal import Journal, JournalError, JournalTailLost
from .logs import log_interruptions, log_operator_events, phase_changed
from .marketdata import MarketData
from gateway.protocol import INBOUND_SIZE, MAX_FRAME_BYTES, OPERATOR, REPORT_DTYPE, GatewayReject
from gateway.gapfill import GAP_FILL_FRAME_REPORTS
from .recovery import node_tables, recover_node, snapshots, start_market
from .reports import Reports, c_builder
from .schedule import ScheduleDriver, real_clock
from .security import Authenticator, KeyAllowlist, Keys
from .sequencer import NullJournal, Sequencer
from gateway.sessions import Sessions
from .snapshots import Snapshots
from .statelock import StateLock, StateLocked
from .storage import Storage, storage_rejects

__all__ = ["ExchangeNode", "NullJournal", "GatewayError", "SNAPSHOT_GLOB"]

log = logging.getLogger("chuanyu.gateway")

SNAPSHOT_GLOB = "snapshot-*.bin"
_MAX_REPORT_FRAME_BYTES = GAP_FILL_FRAME_REPORTS * REPORT_DTYPE.itemsize    # a report frame, at most
_NO_REPORTS = (np.zeros(0, dtype=REPORT_DTYPE), np.zeros(0, dtype=np.int32), np.zeros(0, np.int64))



def _touch(book) -> dict:
    """The best bid and offer of a continuous book (fen; None for an empty side)."""
    return {"bid": book.bids[0][0] if book.bids else None, "ask": book.asks[0][0] if book.asks else None}

class ExchangeNode:
    """The engine daemon. Build it, :meth:`bind`, then :meth:`run` until shut down.

    Parameters
    ----------
    config : MarketConfig
        The market, the sessions and the daemon settings.
    state_dir : path
        Keys (unless configured elsewhere), snapshots and ``endpoints.json``.
    journal : object, optional
        The journal hook (``append`` / ``sync`` / ``close``); by default a
        :class:`exchange.journal.Journal` in ``state_dir`` with the ``[durability]`` settings.
    clock : callable, optional
        The schedule's clock (returns a ``datetime``); the wall clock by default. Only used
        when the configuration's ``[schedule]`` is enabled.
    accept_journal_loss : bool
        Start even when the journal ends before its mark (a lost newest segment): the
        operator's override (``chuanyu engine --accept-journal-loss``), logged.
    apply_config : bool
        Where the configuration differs from the recovered market, journal the difference as
        operator commands instead of refusing to start (``chuanyu engine --apply-config``;
        see :mod:`exchange.drift`).
    fast : bool
        The C twins of the stages (the daemon); False runs intake's numpy twin (tests).
    node : str, optional
        This node's name under ``[replication] mode = "jetstream"`` (required there): it starts
        as a standby and serves as primary while it holds the lease (:mod:`exchange.replication`).
    """

    def __init__(self, config: MarketConfig, state_dir, journal=None, clock=None,
                 accept_journal_loss: bool = False, apply_config: bool = False, fast: bool = True,
                 report_builder=c_builder, node: str | None = None) -> None:
        self.replica = None
        if config.replication.mode == "jetstream":
            if not node:
                raise GatewayError('replication.mode = "jetstream": name this node (chuanyu engine --node NAME)')
            try:
                config.network = config.replication.node(node, config.network)
            except KeyError:
                raise GatewayError(f"node {node!r} is not one of replication.nodes "
                                   f"({', '.join(n.name for n in config.replication.nodes)})") from None
        if config.replication.mode == "jetstream" and apply_config:
            log.warning("--apply-config does nothing on a replicated node: the market in the stream stands "
                        "(a difference from the file is logged when the node takes over)")
        self.config = config
        self.node_name = node
        self.apply_config = apply_config
        self.on_primary = None                     # called once this node serves as primary
        self.state_dir = Path(state_dir)
        try:
            self._lock = StateLock(self.state_dir, f"chuanyu engine, started {time.strftime('%Y-%m-%d %H:%M:%S')}")
        except StateLocked as exc:
            raise GatewayError(str(exc)) from None
        except OSError as exc:
            raise GatewayError(f"cannot lock the state dir {self.state_dir}: {exc}") from None
        self.ctx = self.metrics = self.market_data = self.sequencer = None
        try:
            self._open(journal, clock, accept_journal_loss, apply_config, fast, report_builder)
        except BaseException:
            self._abandon()
            raise

    def _abandon(self) -> None:
        """Close what a refused start had opened; the state dir is free for the next try."""
        for part in (self.market_data, self.metrics, self.sequencer and self.sequencer.journal, self.replica):
            if part is not None:
                part.close()
        if self.ctx is not None:
            self.ctx.term()
        self._lock.release()

    def _open(self, journal, clock, accept_journal_loss: bool, apply_config: bool, fast: bool,
              report_builder) -> None:
        config = self.config
        if journal is None:
            journal = self._open_journal(accept_journal_loss)
            if config.replication.mode == "jetstream":
                from .replication import Replica, ReplicatedJournal   # noqa: PLC0415  (nats-py: the ha extra)
                self.replica = Replica(self, config.replication, self.node_name)
                journal = ReplicatedJournal(journal, self.replica.link, self.replica)
        self.sequencer = Sequencer(journal, Storage())
        journal = self.sequencer.journal
        self.recovery = {"snapshot": None, "skipped_snapshots": [], "replayed_records": 0,
                         "replayed_commands": 0, "torn_tail": str(getattr(journal, "torn", None) or "") or None,
                         "journal_loss": str(getattr(journal, "lost", None) or "") or None}
        self.ctx = zmq.Context()
        self.started = time.time()
        self.stopping = False
        self.endpoints: dict = {}
        self.counters = dict(frames=0, messages=0, batches=0, commands=0, events=0, gateway_rejects=0,
                             reports=0, reports_dropped=0, bad_frames=0, feed_messages=0)
        if config.daemon.metrics_port:
            from .metrics import Metrics       # noqa: PLC0415  (prometheus_client only when asked for)
            self.metrics = Metrics()
            self.metrics.watch(self)
            if hasattr(journal, "on_fsync"):
                journal.on_fsync = self.metrics.observe_fsync
        self.keys = Keys(config, self.state_dir, has_market=bool(getattr(journal, "last_seq", 0)))
        self.auth = Authenticator(self.ctx, log=logging.getLogger("chuanyu.zap"))
        self.intake = Intake(config, self.sequencer.storage, fast, self.counters)
        self.reports = Reports(config, self.intake.auth, report_builder)
        self.sessions = Sessions(config, self.keys.sessions, self.reports, self.intake, self.sequencer, self.counters)
        self.sessions.metrics = self.metrics
        self.admin = AdminPort(self)
        self.market_data = MarketData(config, self.state_dir)   # before recovery: replay rebuilds the tape
        self.snapshots = Snapshots(self.state_dir, config.durability, lambda: self.sequencer.next_seq - 1,
                                   lambda: node_tables(self), self._before_snapshot, self.admin.reply,
                                   self.sequencer.storage)
        self.snapshots.sweep()                      # a kill may have come mid-snapshot or mid-prune
        self.schedule: ScheduleDriver | None = None
        self.replayed_closes: list = []             # END_OF_DAY rows replayed before the schedule exists
        self.engine, schedule_state = recover_node(self, apply_config)
        self._schedule_state = schedule_state
        rec, next_seq = self.recovery, self.sequencer.next_seq
        log.info("recovery: snapshot %s (%d damaged skipped), %d journal records replayed (%d commands)%s; "
                 "next seq %d", rec["snapshot"] or "none", len(rec["skipped_snapshots"]), rec["replayed_records"],
                 rec["replayed_commands"], f", torn tail truncated: {rec['torn_tail']}" if rec["torn_tail"] else "",
                 next_seq, extra={"event": "recovery", **rec, "next_seq": next_seq})
        self._clock = clock
        self._start_schedule()
        if self.replica is not None:
            self.replica.start()

    def _start_schedule(self) -> None:
        config = self.config
        if config.schedule.enabled and len(self.engine.instruments):
            self.schedule = ScheduleDriver(config.schedule, [i.symbol for i in config.instruments],
                                           self._clock or real_clock(config.schedule),
                                           statuses=[int(i.status) for i in self.engine.instruments],
                                           state=self._schedule_state)
            for rows in self.replayed_closes:
                self.schedule.closed(rows)
        self.replayed_closes = []

    def _open_journal(self, accept_journal_loss: bool) -> Journal:
        dur = self.config.durability
        # replicated, the stream is the durable copy (on a majority of its servers): the local
        # journal is written to the OS only, and refilled from the stream after a power cut
        replicated = self.config.replication.mode == "jetstream"
        mode = "none" if replicated else dur.mode
        try:
            # replicated, a lost tail is refilled from the stream: no operator override needed
            return Journal(self.state_dir, mode, dur.interval_ms, dur.segment_bytes,
                           accept_loss=accept_journal_loss or replicated)
        except JournalTailLost as exc:
            raise GatewayError(f"cannot recover the journal: {exc}. Restore the segment (see OPERATIONS.md, "
                               "Recovery), or start with --accept-journal-loss to run without those "
                               "commands") from None
        except JournalError as exc:
            raise GatewayError(f"cannot recover the journal: {exc}") from None
        except OSError as exc:
            raise GatewayError(f"cannot open the journal in {self.state_dir}: {exc}") from None

    def _before_snapshot(self) -> None:
        if self.market_data.disclosure is not None:   # the tape so far on disk: replay starts after this snapshot
            self.market_data.disclosure.sync()

    @property
    def journal(self):
        return self.sequencer.journal

    @property
    def next_seq(self) -> int:
        return self.sequencer.next_seq

    @property
    def storage(self) -> Storage:
        return self.sequencer.storage

    def count_batch(self, cmds: np.ndarray, events: np.ndarray) -> None:
        """A batch the engine ran, live or replayed."""
        self.counters["batches"] += 1
        self.counters["commands"] += len(cmds)
        self.counters["events"] += len(events)

    # ------------------------------------------------------------------ sockets
    def bind(self) -> dict:
        """Start authentication, bind every socket (a standby: its admin port alone, the rest
        once it is primary); write ``endpoints.json``; return the endpoints."""
        net, keys = self.config.network, self.keys
        self.auth.start()
        peer = lambda: self.auth.peer             # noqa: E731  (read on the auth thread, which sets it)
        self.auth.allowlists = {
            "orders": KeyAllowlist(keys.sessions.values(), "orders", peer),
            "admin": KeyAllowlist(keys.admin_public, "admin", peer),
            "drop_copy": KeyAllowlist((keys.sessions[s.id] for s in self.config.sessions if s.drop_copy),
                                      "drop copy", peer)}
        self.auth.configure_curve_callback("orders", self.auth.allowlists["orders"])
        self.auth.configure_curve_callback("admin", self.auth.allowlists["admin"])
        self.admin.socket = self._server_socket(b"admin", net.admin_port)
        self.endpoints = {
            "role": "standby" if self.replica is not None else "primary",
            "node": self.node_name,
            "orders": None, "admin": self.admin.socket.last_endpoint.decode(),
            "feed": None, "feed_snapshots": None, "drop_copy": None,
            "server_public_key": keys.server_public.decode(),
            "keys_dir": str(keys.dir.resolve()),
            "pid": os.getpid(),
            "instruments": [i.symbol for i in self.config.instruments],
            "metrics": None,
        }
        if self.metrics is not None:
            try:
                self.endpoints["metrics"] = self.metrics.serve(net.host, self.config.daemon.metrics_port)
            except OSError as exc:
                raise GatewayError(f"cannot serve metrics on {net.host}:{self.config.daemon.metrics_port} "
                                   f"(daemon.metrics_port / --metrics-port): {exc.strerror or exc}") from None
        if self.replica is None:
            self._bind_market()
        else:
            log.info("standby %s: admin %s, metrics %s", self.node_name, self.endpoints["admin"],
                     self.endpoints["metrics"], extra={"event": "bind", "role": "standby",
                                                       "admin": self.endpoints["admin"]})
            self._write_endpoints()
        return self.endpoints

    def _bind_market(self) -> None:
        """The order and market-data sockets: a primary's."""
        keys = self.keys
        orders = self._server_socket(b"orders", self.config.network.order_port)
        self.sessions.attach(orders)
        data = self.market_data.bind(self.ctx, self.engine, self.auth, self.auth.allowlists["drop_copy"],
                                     (keys.server_public, keys.server_secret))
        self.endpoints.update(role="primary", orders=orders.last_endpoint.decode(), **data)
        log.info("listening: orders %s, admin %s, feed %s, metrics %s", self.endpoints["orders"],
                 self.endpoints["admin"], self.endpoints["feed"], self.endpoints["metrics"],
                 extra={"event": "bind", **{k: self.endpoints.get(k) for k in (
                     "role", "orders", "admin", "feed", "feed_snapshots", "drop_copy", "metrics")}})
        self._write_endpoints()

    def _write_endpoints(self) -> None:
        tmp = self.state_dir / "endpoints.json.tmp"
        tmp.write_text(json.dumps(self.endpoints, indent=2) + "\n")
        tmp.replace(self.state_dir / "endpoints.json")

    def _server_socket(self, domain: bytes, port: int):
        sock = self.ctx.socket(zmq.ROUTER)
        sock.linger = 0
        sock.curve_server = True
        sock.curve_secretkey = self.keys.server_secret
        sock.curve_publickey = self.keys.server_public
        sock.zap_domain = domain
        sock.router_mandatory = True
        daemon = self.config.daemon
        if domain == b"orders":
            # ZeroMQ bounds a connection's queues in frames: frames of a bounded size make them
            # bounds in bytes. A frame over maxmsgsize ends its connection; one between
            # MAX_FRAME_BYTES and it is answered TOO_MANY_MESSAGES.
            sock.maxmsgsize = 2 * MAX_FRAME_BYTES
            sock.rcvhwm = max(2, daemon.connection_in_bytes // (2 * MAX_FRAME_BYTES))
            sock.sndhwm = max(2, daemon.session_out_bytes // 2 // _MAX_REPORT_FRAME_BYTES)
        else:
            sock.maxmsgsize = 1 << 20
            sock.sndhwm, sock.rcvhwm = 1_000, 1_000
        host = self.config.network.host
        try:
            if port:
                sock.bind(f"tcp://{host}:{port}")
            else:
                sock.bind_to_random_port(f"tcp://{host}")
        except zmq.ZMQError as exc:
            sock.close()
            raise GatewayError(f"cannot bind tcp://{host}:{port or '*'}: {exc}") from None
        return sock

    def close(self) -> None:
        orders = self.sessions.socket
        if orders is not None:
            self.sessions.detach()
            orders.close(linger=200)
        if self.admin.socket is not None:
            self.admin.socket.close(linger=200)
        self.market_data.close()
        if self.auth.allowlists:
            self.auth.stop()
            for allowlist in self.auth.allowlists.values():
                allowlist.summary(final=True)         # the refusals not logged one by one
        if self.metrics is not None:
            self.metrics.close()
        if self.replica is not None:
            self.replica.close()             # the lease released: a standby need not wait out its TTL
        self.journal.close()
        self.ctx.term()
        self._lock.release()

    # ------------------------------------------------------------------ the loop
    def request_shutdown(self, *_) -> None:
        """Ask the loop to shut down gracefully (also the SIGTERM handler)."""
        self.stopping = True

    def run(self) -> Path | None:
        """Serve until shut down: then stop intake, drain, snapshot, log everyone out; the
        shutdown snapshot's path (None without one)."""
        if self.replica is not None and self.replica.role != "primary":
            if not self._stand_by():
                return self._shutdown_standby()
            self._take_over()
        # Everything built so far (config, engine tables, sessions) lives as long as the
        # daemon: freezing it keeps the collector's full passes from walking it mid-batch.
        gc.collect()
        gc.freeze()
        orders, monitor = self.sessions.socket, self.sessions.monitor
        poller = zmq.Poller()
        for sock in (orders, self.admin.socket, monitor):
            poller.register(sock, zmq.POLLIN)
        self.market_data.start(poller)             # snapshots answered by a thread (feeds.snapshot_server)
        tick = min(self.config.daemon.heartbeat_ms, 100)
        next_timer = 0
        sequencer, schedule, market_data = self.sequencer, self.schedule, self.market_data
        while not self.stopping:
            due = sequencer.idle_sync_due_ms()
            ready = dict(poller.poll(tick if due is None else min(tick, due)))
            if monitor in ready:
                self.sessions.connection_events()
            if self.admin.socket in ready:
                self.admin.serve()
            if market_data.active:
                market_data.serve_snapshots(ready)     # one encoding for every request waiting
                market_data.heartbeat(time.monotonic_ns())
            if orders in ready or self.admin.pending or (schedule is not None and schedule.due()):
                self.cycle()
            if sequencer.mode == "interval":   # idle or not: fsync the last batch once the interval passed
                sequencer.journal.sync()
            now = time.monotonic_ns()
            if now >= next_timer:
                # a loop that stood still (a publish waiting out a stream's leader election, a
                # paused process) judges no session silent for that time: their frames wait unread
                self._timers(now, stalled=now - next_timer > self.config.daemon.heartbeat_ms * 1_000_000)
                self.snapshots.tick()              # reap a background snapshot; fork one when due
                next_timer = now + tick * 1_000_000
        return self._shutdown()

    def _stand_by(self) -> bool:
        """A standby's loop: apply the stream, answer the admin, snapshot; True once this node
        holds the lease (False: shut down first)."""
        replica, link = self.replica, self.replica.link
        poller = zmq.Poller()
        poller.register(self.admin.socket, zmq.POLLIN)
        poller.register(link.wake_fd, zmq.POLLIN)
        tick = min(self.config.daemon.heartbeat_ms, 100)
        while not self.stopping:
            ready = dict(poller.poll(tick))
            if self.admin.socket in ready:
                self.admin.serve()
                self._refuse_operator()
            replica.apply_waiting()
            if link.lease_valid():
                return True
            self.snapshots.tick()
        return False

    def _refuse_operator(self) -> None:
        """A standby changes nothing: the operator's commands go to the primary."""
        for _, request in self.admin.pending:
            if request is not None:
                identity, request_id = request
                self.admin.reply(identity, {"ok": False, "id": request_id, "error":
                                            f"node {self.node_name} is a standby; the primary is "
                                            f"{self.replica.link.holder or 'being elected'}"})
        self.admin.pending.clear()

    def _take_over(self) -> None:
        """The lease is ours: the stream to its end, the market started or checked, then the
        order and market-data ports."""
        self.replica.promote()
        start_market(self, self.apply_config, replicated=True)
        if self.schedule is None:
            self._start_schedule()
        self._bind_market()
        if self.on_primary is not None:
            self.on_primary(self)

    def _shutdown_standby(self) -> Path | None:
        self.snapshots.wait()
        path = self.snapshots.write() if self.config.daemon.snapshot_on_shutdown and self.next_seq > 1 else None
        self.admin.shutdown_done(str(path) if path else None)
        return path

    def cycle(self) -> int:
        """Drain waiting frames (bounded in bytes), run them as one batch; the number of messages."""
        payloads, frame_sess, frame_ts = self.sessions.drain(self.config.daemon.batch_max * INBOUND_SIZE)
        self.counters["frames"] += len(payloads)
        return self.run_batch(payloads, frame_sess, frame_ts)

    def run_batch(self, payloads: list, frame_sess: list, frame_ts: list) -> int:
        """One batch through the stages, in order (see the module)."""
        sessions = self.sessions.all
        screened = self.intake.screen(payloads, frame_sess, frame_ts, self.stopping)
        for idx in screened.logouts:             # a LOGOUT inside a frame: later messages were refused
            self.sessions.logout(sessions[idx], 0, reply=True)
        rejects = screened.rejects
        cmds, cmd_sess, cmd_pos, waiting, operator = self.admin.join(screened)
        base = self.sequencer.next_seq           # the batch's first seq, if it is committed
        events = self._commit(cmds, cmd_sess, cmd_pos, waiting, rejects) if len(cmds) else None
        reports, dest, rpos = _NO_REPORTS
        if events is not None:
            if operator or phase_changed(events):      # an operator's, or a volatility interruption
                if self.schedule is not None:
                    self.schedule.observe(events)
                log_interruptions(log, events, [i.symbol for i in self.config.instruments])
            if operator:
                log_operator_events(log, events, [i.symbol for i in self.config.instruments],
                                    cmds["session"][events["cmd_seq"] - base] == OPERATOR)
            reports, dest, rpos = self.reports.build(events, cmd_sess, cmds["session"], cmd_pos, base,
                                                     self.engine.next_order_id)
        if rejects:
            self.counters["gateway_rejects"] += sum(len(r[0]) for r in rejects)
            reports = np.concatenate([r[0] for r in rejects] + [reports])
            dest = np.concatenate([r[1] for r in rejects] + [dest])
            rpos = np.concatenate([r[2] for r in rejects] + [rpos])
        if len(reports):
            self.counters["reports"] += len(reports)
            deliver = self.sessions.deliver
            for idx, rows in self.reports.route(reports, dest, rpos, merged=bool(rejects)):
                deliver(sessions[idx], rows)
        if events is not None and self.market_data.active:     # after the parties' reports: public data
            self.market_data.publish(events)
            self.counters["feed_messages"] = self.market_data.published
        if self.metrics is not None:
            if rejects:
                self.metrics.observe_rejects(np.concatenate([r[0]["reason"] for r in rejects]))
            if frame_ts:
                self.metrics.observe_round_trip(frame_ts[0], time.time_ns())
        if waiting:                              # (a refused batch answered its requests already)
            self.admin.answer(waiting, events, base)
        if self.intake.state.any_flooded:        # after their reports: SERVER_LOGOUT RATE_LIMITED
            for idx in self.intake.flooders():
                if sessions[idx].logged_in:
                    self.sessions.logout(sessions[idx], int(GatewayReject.RATE_LIMITED), reply=True)
        if self.sessions.gone:
            self._queue_cancels()
        self.counters["messages"] += screened.n_msgs
        return screened.n_msgs

    def _commit(self, cmds, cmd_sess, cmd_pos, waiting: list, rejects: list) -> np.ndarray | None:
        """Sequence, journal and match ``cmds``: the engine's events, or None when the journal's
        storage refused them (see :mod:`exchange.storage`)."""
        sequencer = self.sequencer
        if sequencer.storage.available and sequencer.commit(cmds):
            events = self.engine.process(cmds)
            self.count_batch(cmds, events)
            if self.metrics is not None:
                self.metrics.observe_batch(cmds, events, self.engine.resting_orders)
            return events
        if sequencer.storage.state == "failed":
            self.stopping = True
        # nothing of the batch was done: its orders are refused, the operator's requests
        # answered with an error, the daemon's own commands kept for later
        orders = cmd_sess != OPERATOR
        if orders.any():
            self.intake.free_client_order_ids(cmds[orders], cmd_sess[orders])
            rejects.append((storage_rejects(cmds[orders]), cmd_sess[orders], cmd_pos[orders]))
            sequencer.storage.refused += int(orders.sum())
        self.admin.refuse(cmds, ~orders, waiting,
                          f"storage unavailable: {sequencer.storage.error}; nothing was done, try again later")
        return None

    def session_cancels(self, session_id: int) -> np.ndarray:
        """A CANCEL for every open order a session entered (its mass cancel)."""
        idx = int(self.reports.session_index(np.array([session_id]))[0])
        if idx == OPERATOR:
            raise ValueError(f"unknown session {session_id}")
        return self.reports.session_cancels(idx)

    def _queue_cancels(self) -> None:
        """CANCEL every open order of the sessions gone since the last batch (next batch)."""
        gone = self.sessions.gone
        while gone:
            s = gone.pop()
            rows = self.reports.session_cancels(s.idx)
            if len(rows):
                rows["session"] = s.cfg.id
                self.admin.pending.append((rows, None))

    def _timers(self, now: int, stalled: bool = False) -> None:
        if self.replica is not None:
            self.replica.check()                 # StepDown once the lease is lost or lapsed
        self.sessions.timers(now, backlog=stalled or bool(self.sessions.socket.poll(0)))
        self._queue_cancels()
        if not self.storage.available:
            self.sequencer.probe()
        for allowlist in self.auth.allowlists.values():       # refused CURVE handshakes, summed up per interval
            allowlist.summary()

    # ------------------------------------------------------------------ admin
    def submit_operator(self, identity: bytes, request_id, rows: np.ndarray) -> None:
        """Queue operator commands for the next batch; the admin reply follows their events."""
        rows = rows.copy()
        rows["session"] = OPERATOR
        if self.schedule is not None:
            self.schedule.note_operator(rows)
        self.admin.pending.append((rows, (identity, request_id)))

    def request_snapshot(self, identity: bytes, request_id) -> None:
        self.snapshots.request(identity, request_id)

    def write_snapshot(self) -> Path:
        return self.snapshots.write()

    def status(self) -> dict:
        eng, sessions, reports = self.engine, self.sessions, self.reports
        return {
            "uptime_s": round(time.time() - self.started, 3),
            "pid": os.getpid(),
            "next_seq": self.next_seq,
            "resting_orders": int(eng.resting_orders),
            "durability": self.sequencer.mode,
            "journal": self.sequencer.status(),
            "state_digest": eng.state_digest(),
            "last_seq": self.next_seq - 1,
            "recovery": dict(self.recovery),
            "storage": self.storage.describe(),
            "snapshots": {"last_seq": self.snapshots.last_seq, "kept": [p.name for _, p in snapshots(self.state_dir)],
                          "writing": self.snapshots.child.last if self.snapshots.child is not None else None},
            "counters": dict(self.counters),
            "curve_refused": {name: a.refused for name, a in self.auth.allowlists.items()},
            "feed_snapshots": self.market_data.snapshot_counts(),
            "instruments": [{"index": n, "symbol": i.symbol, "status": InstrumentStatus(int(i.status)).name,
                             **_touch(eng.book(n, 1))} for n, i in enumerate(eng.instruments)],
            "sessions": [{"id": s.cfg.id, "name": s.cfg.name, "logged_in": s.logged_in,
                          "report_seq": int(reports.report_seq[s.idx]), "queued_frames": len(s.queue),
                          "queued_bytes": s.queued_bytes, "delivered": s.delivered, "dropped": s.dropped,
                          "logins": s.logins, "rate_limit_logouts": int(self.intake.rate_limit_logouts[s.idx])}
                         for s in sessions],
            "endpoints": self.endpoints,
            "schedule": self.schedule.describe() if self.schedule is not None else {"enabled": False},
            "replication": self.replica.status() if self.replica is not None else {"mode": "none", "role": "primary"},
        }

    # ------------------------------------------------------------------ shutdown
    def _shutdown(self) -> Path | None:
        """Stop intake, drain what is waiting, snapshot, log every session out."""
        daemon = self.config.daemon
        log.info("shutting down: draining, then %s", "a snapshot" if daemon.snapshot_on_shutdown else
                 "no snapshot (daemon.snapshot_on_shutdown = false)", extra={"event": "shutdown_requested"})
        self.sessions.stopping = True
        for _ in range(1000):                 # drain: frames already waiting get SHUTTING_DOWN
            if not self.sessions.socket.poll(0) and not self.admin.pending:
                break
            self.cycle()
        self.snapshots.wait()                 # a background snapshot still being written
        # no snapshot onto storage that failed or is full: the journal has every acknowledged command
        path = self.snapshots.write() if daemon.snapshot_on_shutdown and self.storage.available else None
        self.sessions.close_all(int(GatewayReject.SHUTTING_DOWN))
        self.admin.shutdown_done(str(path) if path else None)
        return path
