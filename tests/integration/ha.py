"""Helpers for the high-availability tests: a replicated market of ``chuanyu engine --node``
processes over a real NATS JetStream cluster (``exchange.nats_cluster``), all on loopback.

Every node has its own state dir and fixed ports (``[[replication.nodes]]``), so a client
knows every node's endpoints before any is primary; the key pairs are shared (one keys dir).
"""
from __future__ import annotations

import json
import os
import signal
import time
import uuid
from pathlib import Path

import numpy as np

from chuanyu.ha_demo import replicated_config
from exchange.nats_cluster import free_port
from gateway.client import Client, load_keys

from conftest import MARKET, Daemon, admin_request, eventually

SESSION_KEYS = {1: "sc-platform", 2: "cq-platform", 4: "cod", 9: "regulator"}


class Node(Daemon):
    """One node: ``chuanyu engine --node NAME``; :meth:`endpoints` as it writes them now."""

    def __init__(self, name: str, state_dir: Path, config_text: str, ports: dict, args: tuple = ()) -> None:
        self.name = name
        self.ports = ports
        self.args = args                     # on every start
        super().__init__(state_dir, config_text)

    def start(self, *args: str) -> None:
        super().start("--node", self.name, *self.args, *args)

    def endpoints(self) -> dict:
        try:
            return json.loads((self.state_dir / "endpoints.json").read_text())
        except (OSError, ValueError):
            return {}

    @property
    def orders(self) -> str:
        return f"tcp://127.0.0.1:{self.ports['order_port']}"

    @property
    def role(self) -> str | None:
        return self.endpoints().get("role") if self.proc.poll() is None else None

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)
        self.out.close()

    def signal(self, sig: int) -> None:
        os.kill(self.proc.pid, sig)


class HaMarket:
    """Nodes ``names`` of one market (one stream of its own) on ``cluster``."""

    def __init__(self, directory: Path, cluster, names=("a", "b"), ttl_ms: int = 2000, market: str = MARKET,
                 metrics: bool = False, replicas: int = 3, extra: str = "") -> None:
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)
        self.cluster = cluster
        self.stream = f"T{uuid.uuid4().hex[:12]}"
        self.config_text, ports = replicated_config(cluster.urls, directory / "keys", names, self.stream, ttl_ms,
                                                    base=market, extra=f"replicas = {replicas}\n{extra}")
        self.nodes = {}
        self.clients: list = []
        for n in names:                     # one after the other: the first generates the shared keys
            args = ("--metrics-port", str(free_port())) if metrics else ()
            self.nodes[n] = Node(n, directory / n, self.config_text, ports[n], args)

    @property
    def keys(self) -> Path:
        return self.directory / "keys"

    def primary(self, timeout: float = 10.0, besides: str | None = None) -> Node:
        """The node serving as primary (waits for one)."""
        return eventually(lambda: next((n for n in self.nodes.values() if n.name != besides and n.role == "primary"),
                                       None), timeout, what="a primary")

    def standbys(self) -> list[Node]:
        return [n for n in self.nodes.values() if n.role == "standby"]

    def client(self, zctx, session: int, **kw) -> Client:
        """A client of ``session`` given every node's order endpoint."""
        public, secret = load_keys(self.keys, SESSION_KEYS[session])
        c = Client([n.orders for n in self.nodes.values()], self.server_key(), public, secret, session,
                   context=zctx, **kw)
        self.clients.append(c)
        return c

    def server_key(self) -> str:
        for n in self.nodes.values():
            key = n.endpoints().get("server_public_key")
            if key:
                return key
        raise AssertionError("no node wrote its endpoints")

    def status(self, zctx, node: Node, timeout_ms: int = 5000) -> dict:
        return admin_request(zctx, node, "status", timeout_ms)["status"]

    def stop(self) -> None:
        for c in self.clients:
            c.sock.close(linger=0)
        for n in self.nodes.values():
            if n.proc.poll() is None:
                try:
                    n.signal(signal.SIGCONT)
                except ProcessLookupError:
                    pass
                n.stop()


def stream_records(urls: list[str], stream: str) -> list[np.ndarray]:
    """Every record of the stream, in order (the command log as the cluster holds it)."""
    import asyncio

    import nats
    from nats.js.errors import NotFoundError

    from exchange.journal import decode_record

    async def read() -> list:
        async def quiet(exc):            # a killed server in the list is expected
            pass
        nc = await nats.connect(urls, error_cb=quiet)
        try:
            js = nc.jetstream()
            state = (await js.stream_info(stream)).state
            out = []
            for seq in range(state.first_seq, state.last_seq + 1):
                try:
                    msg = await js.get_msg(stream, seq)
                except NotFoundError:
                    continue
                out.append(decode_record(msg.data, f"{stream}#{seq}").rows.copy())
            return out
        finally:
            await nc.close()
    return asyncio.run(read())


def stream_state(urls: list[str], stream: str):
    """The stream's state as the cluster reports it (first and last message, count)."""
    import asyncio

    import nats

    async def read():
        nc = await nats.connect(urls)
        try:
            return (await nc.jetstream().stream_info(stream)).state
        finally:
            await nc.close()
    return asyncio.run(read())


def stream_leaders(urls: list[str], streams: list[str]) -> list[str]:
    """The server leading each stream's Raft group (its server_name)."""
    import asyncio

    import nats

    async def read() -> list:
        nc = await nats.connect(urls)
        try:
            js = nc.jetstream()
            return [(await js.stream_info(name)).cluster.leader for name in streams]
        finally:
            await nc.close()
    return asyncio.run(read())


def wait_caught_up(market: HaMarket, zctx, timeout: float = 10.0) -> dict:
    """Until every live node reports the same last seq; their statuses by node."""
    def same():
        st = {}
        for n in market.nodes.values():
            if n.proc.poll() is None:
                try:
                    st[n.name] = market.status(zctx, n, 2000)
                except Exception:     # noqa: BLE001  (restarting)
                    return None
        seqs = {s["last_seq"] for s in st.values()}
        return st if len(seqs) == 1 else None
    return eventually(same, timeout, interval=0.05, what="every node at the same seq")


def now_ms() -> float:
    return time.monotonic() * 1000
