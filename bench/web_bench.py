"""Does the web console cost the daemon anything? ``chuanyu bench web``.

One daemon (the gateway benchmark's market, with its public feed on), driven flat out by the
gateway benchmark's clients (batched frames) in rounds of ``duration`` seconds. The rounds
cycle through three set-ups: no feed subscriber at all; a bare subscriber (a process that only
receives every feed frame); and the web console (a ``chuanyu web`` process following the feed,
with one browser-like reader on its event stream and pages fetched five times a second, the
live parts of the overview and of an instrument page in turn). The orders acknowledged per
second of each round are the daemon's throughput; the CPU the attached process used while the
clients ran is reported beside it.

With no subscriber the daemon's PUB socket sends nothing (ZeroMQ filters at the publisher), so
any subscriber costs the daemon the sending of its feed; a market always has some. The target
is what the web console adds to that: its median at least 90% of the bare subscriber's, or
inside the bare subscriber's rounds' spread. Cycling the set-ups keeps the machine's drift out
of the ratios; a ratio's spread is over the cycles. ``chuanyu web`` lowers its own priority
(``--nice``, default 10), as it would beside a production daemon.
"""
from __future__ import annotations

import json
import multiprocessing as mp
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

from bench.daemon import BenchDaemon
from bench.gateway_bench import _drive, market_config
from bench.provenance import spread

__all__ = ["run", "table", "TARGET_RATIO", "SETUPS"]

TARGET_RATIO = 0.90
BATCH = 64
SETUPS = ("no subscriber", "bare subscriber", "web console")
_DRAIN = """
import sys, zmq
s = zmq.Context().socket(zmq.SUB)
s.setsockopt(zmq.SUBSCRIBE, b"")
s.setsockopt(zmq.RCVHWM, 100_000)
s.connect(sys.argv[1])
print("ready", flush=True)
while True:
    s.recv_multipart()
"""


def _cpu_seconds(pid: int) -> float:
    """CPU time (user and system, all threads) that process ``pid`` has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class _BareSubscriber:
    """A process that receives every frame of the feed and does nothing with it."""

    def __init__(self, endpoint: str) -> None:
        self.proc = subprocess.Popen([sys.executable, "-c", _DRAIN, endpoint], stdout=subprocess.PIPE, text=True)
        self.proc.stdout.readline()

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(10)
        self.proc.stdout.close()


class _WebConsole:
    """``chuanyu web`` on the daemon's state dir, and its two readers."""

    def __init__(self, state_dir: Path, config: Path) -> None:
        self.proc = subprocess.Popen([sys.executable, "-m", "chuanyu.cli", "web", "--state-dir", str(state_dir),
                                      "--config", str(config), "--port", "0"],
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        said = []                                   # warnings may come first (e.g. asyncio's, in development mode)
        while not (line := self.proc.stdout.readline()).startswith("chuanyu web: http://"):
            said.append(line)
            if not line:
                self.proc.kill()
                raise RuntimeError(f"chuanyu web did not start: {''.join(said)}")
        self.url = line.split()[2].rstrip("/")
        self.stopping = threading.Event()
        deadline = time.monotonic() + 120          # attached means caught up: its snapshot and the day's tape read
        while True:
            with urllib.request.urlopen(self.url + "/api/overview", timeout=30) as r:
                if json.loads(r.read())["error"] is None:
                    break
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("chuanyu web did not catch up with the feed within 120 s")
            time.sleep(0.1)
        self.events = self.pages = self.page_errors = 0
        self._threads = [threading.Thread(target=self._read_events, daemon=True),
                         threading.Thread(target=self._fetch_pages, daemon=True)]
        for t in self._threads:
            t.start()

    def _read_events(self) -> None:
        with urllib.request.urlopen(self.url + "/events", timeout=30) as stream:
            while not self.stopping.is_set():
                if stream.readline().startswith(b"data:"):
                    self.events += 1

    def _fetch_pages(self) -> None:
        pages = ("/fragment/overview", "/fragment/instrument/SCEA")        # a visitor of each, in turn
        while not self.stopping.wait(0.2):
            try:
                with urllib.request.urlopen(self.url + pages[self.pages % 2], timeout=30) as page:
                    page.read()
                self.pages += 1
            except OSError:                     # counted: a console that fails its pages fails the smoke test
                self.page_errors += 1

    def stop(self) -> None:
        self.stopping.set()
        self.proc.terminate()
        self.proc.wait(10)
        self.proc.stdout.close()


def run(rounds: int = 3, duration: float = 3.0, clients: int = 2, log=print) -> dict:
    """``rounds`` cycles through :data:`SETUPS`; JSON-ready results."""
    if rounds < 1 or duration <= 0:
        raise ValueError("rounds must be >= 1 and duration > 0")
    mp_ctx = mp.get_context("spawn")
    workdir = Path(tempfile.mkdtemp(prefix="chuanyu-webbench-"))
    rates: dict[str, list] = {name: [] for name in SETUPS}
    cpu: dict[str, list] = {name: [] for name in SETUPS[1:]}     # the attached process's CPU, % of a core
    readers = []
    try:
        d = BenchDaemon(market_config(clients).replace("feeds = false", "feeds = true"), workdir)
        try:
            for n in range(rounds):
                for setup in SETUPS:
                    attached = (None if setup == SETUPS[0] else _BareSubscriber(d.info["feed"]) if setup == SETUPS[1]
                                else _WebConsole(d.dir / "state", d.dir / "market.toml"))
                    asked = d.status()["feed_snapshots"]["requests"]
                    try:
                        used = _cpu_seconds(attached.proc.pid) if attached is not None else None
                        t0 = time.monotonic()
                        out = _drive(mp_ctx, d.info["orders"], d.info["server_public_key"], Path(d.info["keys_dir"]),
                                     clients, BATCH, None, duration, "gateway")
                        if attached is not None:
                            cpu[setup].append(100 * (_cpu_seconds(attached.proc.pid) - used) / (time.monotonic() - t0))
                    finally:
                        if attached is not None:
                            attached.stop()
                    rate = sum(o["acked_in_window"] for o in out) / (duration * 0.9)
                    rates[setup].append(rate)
                    snapshots = d.status()["feed_snapshots"]["requests"] - asked
                    note = ""
                    if isinstance(attached, _WebConsole):
                        readers.append({"events": attached.events, "pages": attached.pages,
                                        "page_errors": attached.page_errors, "snapshot_requests": snapshots})
                        note = (f" ({attached.events:,} event notices, {attached.pages} page fetches, {snapshots} "
                                "feed snapshots asked)")
                    if attached is not None:
                        note += f"; it used {cpu[setup][-1]:.0f}% of a core"
                    log(f"round {n + 1}, {setup}: {rate:,.0f} orders/s{note}")
        finally:
            d.stop()
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    none, bare, web = (rates[s] for s in SETUPS)

    def ratio(a, b):
        return statistics.median(a) / statistics.median(b) if statistics.median(b) else None
    web_vs_bare = ratio(web, bare)
    within = min(bare) <= statistics.median(web) <= max(bare)
    met = web_vs_bare is not None and (web_vs_bare >= TARGET_RATIO or within)
    return {
        "orders_per_s": {s: spread(rates[s]) for s in SETUPS},
        "web_vs_bare": web_vs_bare, "web_vs_bare_spread": spread([w / b for w, b in zip(web, bare) if b]),
        "bare_vs_none": ratio(bare, none), "web_vs_none": ratio(web, none),
        "within_spread": within, "web_readers": readers,
        "attached_cpu_percent": {s: spread(v) for s, v in cpu.items()},
        "rounds": rounds, "duration_s": duration, "clients": clients, "batch": BATCH,
        "targets": [{"workload": "gateway, batched, feeds on",
                     "label": "throughput with the web console ÷ with a bare feed subscriber",
                     "value": web_vs_bare, "goal": TARGET_RATIO, "kind": "min", "unit": "x", "met": met}],
    }


def table(results: dict) -> str:
    """The results as text."""
    lines = []
    for setup, s in results["orders_per_s"].items():
        lines.append(f"{setup + ':':<17} {s['median']:>12,.0f} orders/s (min {s['min']:,.0f}, max {s['max']:,.0f})")
    r = results["web_vs_bare_spread"]
    lines.append(f"web console ÷ bare subscriber: {results['web_vs_bare']:.3f} (cycles: min {r['min']:.3f}, max "
                 f"{r['max']:.3f}); inside the bare subscriber's spread: {'yes' if results['within_spread'] else 'no'}")
    lines.append(f"bare subscriber ÷ none: {results['bare_vs_none']:.3f}; web console ÷ none: "
                 f"{results['web_vs_none']:.3f} (any subscriber makes the daemon send its feed)")
    used = results.get("attached_cpu_percent")
    if used:
        lines.append("CPU of the attached process while the clients ran, % of a core (median): " + ", ".join(
            f"{setup} {s['median']:.0f}%" for setup, s in used.items()))
    t = results["targets"][0]
    lines.append(f"target: {t['label']} >= {t['goal']} or inside its spread: {'met' if t['met'] else 'MISSED'}")
    return "\n".join(lines)
