"""The daemon process: ``chuanyu engine`` builds an :class:`~exchange.server.ExchangeNode`, binds it,
says where it listens, runs it until SIGTERM, SIGINT or the admin ``shutdown``, and exits with
a status an operator's supervisor can act on."""
from __future__ import annotations

import logging
import os
import signal
import sys

from gateway.errors import GatewayError

from .config import MarketConfig
from .schedule import clock_from_env
from .replication import StepDown
from .server import ExchangeNode

__all__ = ["serve", "GatewayError"]

log = logging.getLogger("chuanyu.gateway")


def serve(config: MarketConfig, state_dir, out=sys.stdout, accept_journal_loss: bool = False,
          apply_config: bool = False, node: str | None = None) -> int:
    """Run the daemon until shut down (SIGTERM, SIGINT or the admin ``shutdown``); exit status.

    1 when it stopped because the journal's storage failed beyond a full disk (see
    ``ExchangeNode.storage``). ``accept_journal_loss``, ``apply_config``, ``node``: see
    :class:`~exchange.server.ExchangeNode`.

    A replicated primary that must step down (:class:`exchange.replication.StepDown`: its lease
    lost, or its publish refused) acknowledges nothing more and restarts itself in place as a
    standby (the same command line, the same pid): its state comes back from its snapshots,
    its local journal and the stream, exactly as after a crash.

    With the schedule enabled, ``CHUANYU_FAKE_CLOCK_START`` (an ISO local date and time) and
    ``CHUANYU_FAKE_CLOCK_SPEED`` (default 1) run it on a fake clock: a test and demo aid.
    """
    clock, clock_note = None, None
    if config.schedule.enabled:
        try:
            clock, clock_note = clock_from_env(config.schedule)
        except ValueError as exc:
            raise GatewayError(str(exc)) from None
    log.info("engine starting: pid %d, config %s, state dir %s", os.getpid(), config.source, state_dir,
             extra={"event": "start", "pid": os.getpid(), "config": config.source, "state_dir": str(state_dir)})
    gw = ExchangeNode(config, state_dir, clock=clock, accept_journal_loss=accept_journal_loss, apply_config=apply_config,
                      node=node)
    gw.on_primary = lambda node: _print_ready(node, config, clock_note, out)
    # before bind() writes endpoints.json: from the moment a supervisor can see the daemon, a
    # SIGTERM is a graceful shutdown (the loop sees the flag at once), never the default death
    signal.signal(signal.SIGTERM, gw.request_shutdown)
    signal.signal(signal.SIGINT, gw.request_shutdown)
    try:
        gw.bind()
    except BaseException:
        # a half-bound daemon must not keep the auth thread, the metrics server or the journal
        # open; destroy() also closes any socket a failed bind left unreferenced
        gw.auth.stop()
        if gw.metrics is not None:
            gw.metrics.close()
        gw.journal.close()
        gw.ctx.destroy(linger=0)
        raise
    if gw.replica is None:
        _print_ready(gw, config, clock_note, out)
    else:
        print(f"chuanyu engine: node {node} standby, following stream {config.replication.stream} on "
              f"{', '.join(config.replication.servers)}; admin {gw.endpoints['admin']}", file=out, flush=True)
    try:
        snap = gw.run()
    except StepDown as exc:
        gw.snapshots.wait()                 # its writer holds the state dir's lock: done before the restart
        gw.close()
        if gw.stopping:                     # a shutdown was asked for: it stands
            log.warning("stepped down while shutting down: %s", exc, extra={"event": "step_down", "reason": str(exc)})
            print(f"chuanyu engine: stepped down ({exc}); shut down", file=out, flush=True)
            return 0
        log.warning("stepping down: %s; restarting as a standby", exc, extra={"event": "step_down", "reason": str(exc)})
        print(f"chuanyu engine: stepping down ({exc}); restarting as a standby", file=out, flush=True)
        _restart()
    except Exception:
        log.exception("engine failed", extra={"event": "error"})
        gw.close()
        raise
    else:
        gw.close()
    log.info("shut down at seq %d%s", gw.next_seq - 1, f"; snapshot {snap}" if snap else "",
             extra={"event": "shutdown", "last_seq": gw.next_seq - 1, "snapshot": str(snap) if snap else None})
    print(f"chuanyu engine: shut down{'; snapshot ' + str(snap) if snap else ''}", file=out, flush=True)
    return 1 if gw.storage.state == "failed" else 0


def _restart() -> None:
    """Run this same command line again in this process (the pid a supervisor knows stays)."""
    for stream in (sys.stdout, sys.stderr):
        stream.flush()
    os.execv(sys.executable, sys.orig_argv)


def _print_ready(gw: ExchangeNode, config: MarketConfig, clock_note: str | None, out) -> None:
    e = gw.endpoints
    print(f"chuanyu engine: orders {e['orders']} (CURVE; server public key {e['server_public_key']})", file=out)
    print(f"chuanyu engine: admin  {e['admin']}", file=out)
    if e["feed"]:
        print(f"chuanyu engine: feed   {e['feed']} (snapshots {e['feed_snapshots']})", file=out)
    if e.get("drop_copy"):
        print(f"chuanyu engine: drop copy {e['drop_copy']} (CURVE, drop_copy sessions only)", file=out)
    if e.get("metrics"):
        print(f"chuanyu engine: metrics {e['metrics']}", file=out)
    print(f"chuanyu engine: state  {gw.state_dir.resolve()}  keys {e['keys_dir']}", file=out)
    if config.schedule.enabled:
        print(f"chuanyu engine: schedule {config.schedule.describe()}", file=out)
        if clock_note:
            print(f"chuanyu engine: schedule on a {clock_note}: a test/demo aid, not for production", file=out)
    else:
        print("chuanyu engine: schedule off (no [schedule] table or enabled = false): phases change "
              "only by admin commands", file=out)
    print(f"chuanyu engine: {len(config.instruments)} instruments, {len(config.accounts)} accounts, "
          f"{len(config.sessions)} sessions, durability {gw.journal.mode}; ready", file=out, flush=True)
