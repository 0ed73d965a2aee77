"""A real ``chuanyu engine`` subprocess for the benchmarks that measure through sockets."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

__all__ = ["BenchDaemon"]

_REPO = Path(__file__).resolve().parents[1]


class BenchDaemon:
    """``chuanyu engine`` on ``config_text`` in a fresh folder under ``workdir``.

    Waits for ``endpoints.json`` (``info``); :meth:`stop` shuts it down with SIGTERM.
    """

    def __init__(self, config_text: str, workdir: Path, node: str | None = None) -> None:
        self.dir = workdir / f"daemon-{time.monotonic_ns()}"
        self.dir.mkdir()
        cfg = self.dir / "market.toml"
        cfg.write_text(config_text)
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (env.get("PYTHONPATH"), str(_REPO)) if p)
        self.log = open(self.dir / "daemon.out", "w")
        self.proc = subprocess.Popen([sys.executable, "-m", "chuanyu.cli", "engine", "--config", str(cfg),
                                      "--state-dir", str(self.dir / "state"),
                                      *(("--node", node) if node else ())], stdout=self.log,
                                     stderr=subprocess.STDOUT, env=env, cwd=self.dir)
        self._admin = None
        endpoints = self.dir / "state" / "endpoints.json"
        deadline = time.monotonic() + 60
        while not (endpoints.exists() and json.loads(endpoints.read_text() or "{}").get("orders")):   # a primary
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"the daemon did not start: {(self.dir / 'daemon.out').read_text()}")
            time.sleep(0.05)
        self.info = json.loads(endpoints.read_text())

    def status(self) -> dict:
        """The daemon's ``status`` over the admin socket."""
        if self._admin is None:
            from exchange.admin import AdminClient
            from gateway.client import load_keys
            public, secret = load_keys(self.info["keys_dir"], "admin")
            self._admin = AdminClient(self.info["admin"], self.info["server_public_key"], public, secret,
                                      timeout_ms=10_000)
        return self._admin.request("status")["status"]

    def counters(self) -> tuple[float, dict]:
        """(perf_counter now, the daemon's counters)."""
        return time.perf_counter(), self.status()["counters"]

    def stop(self) -> None:
        if self._admin is not None:
            self._admin.close()
            self._admin = None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
