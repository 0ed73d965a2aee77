"""Where a benchmark's figures come from: which code, when, how it was called, on what, and how
busy the machine was. Every ``chuanyu bench`` JSON carries it (``"run"``), so that two result
files can be told apart and a figure from a loaded machine is known as such.

>>> run = Run(argv=["chuanyu", "bench", "engine"])
>>> record = run.finish()
>>> sorted(record)
['argv', 'commit', 'cpu', 'date', 'load_end', 'load_start', 'loaded', 'seconds', 'usable_cores']
>>> record["argv"]
['chuanyu', 'bench', 'engine']
"""
from __future__ import annotations

import datetime as dt
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

__all__ = ["Run", "commit", "spread", "machine_info", "LOADED_PER_CORE"]

# a 1-minute load average above this many runnable processes per usable core, before the
# benchmark starts, means something else competes for the cores: its figures are suspect
LOADED_PER_CORE = 0.5
_REPO = Path(__file__).resolve().parents[1]


def commit() -> str:
    """The source's git commit (with ``-dirty`` for uncommitted changes), or the installed
    package's version outside a checkout."""
    if (_REPO / ".git").exists():
        try:
            head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=_REPO, capture_output=True, text=True,
                                  timeout=10, check=True).stdout.strip()
            dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=_REPO,
                                   capture_output=True, text=True, timeout=10, check=True).stdout.strip()
            return head + ("-dirty" if dirty else "")
        except (OSError, subprocess.SubprocessError):
            pass
    try:
        from importlib.metadata import version
        return f"chuanyu {version('chuanyu')}"
    except Exception:   # noqa: BLE001  (not installed either)
        return "unknown"


def _load() -> list[float] | None:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return None


def _usable_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


class Run:
    """One benchmark invocation: started at construction, :meth:`finish` gives the record."""

    def __init__(self, argv: list[str] | None = None) -> None:
        self.argv = list(sys.argv if argv is None else argv)
        self.date = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
        self.load_start = _load()
        self.started = time.perf_counter()
        self.cores = _usable_cores()

    @property
    def loaded(self) -> bool:
        """Was the machine busy with other work when the benchmark started?"""
        return self.load_start is not None and self.load_start[0] > LOADED_PER_CORE * self.cores

    def warning(self) -> str | None:
        """A line for the user when the machine was loaded at the start, else None."""
        if not self.loaded:
            return None
        return (f"warning: the machine is busy (load average {self.load_start[0]:.2f} over the last minute on "
                f"{self.cores} usable cores): figures measured now are low and spread wide; compare ratios, "
                "or run again on a quiet machine")

    def finish(self) -> dict:
        return {"commit": commit(), "date": self.date, "argv": self.argv, "cpu": machine_info()["cpu"],
                "usable_cores": self.cores, "load_start": self.load_start, "load_end": _load(),
                "loaded": self.loaded, "seconds": round(time.perf_counter() - self.started, 1)}


def spread(values) -> dict:
    """A figure over the rounds: ``min``, ``median`` and ``max`` (None each without a value),
    so that a reader sees how far one run's figure is from the next.

    >>> spread([3.0, 1.0, 2.0])
    {'min': 1.0, 'median': 2.0, 'max': 3.0}
    """
    ordered = sorted(v for v in values if v is not None)
    if not ordered:
        return {"min": None, "median": None, "max": None}
    mid = len(ordered) // 2
    median = ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2
    return {"min": ordered[0], "median": median, "max": ordered[-1]}


def machine_info() -> dict:
    """CPU model, core counts, memory and software versions of this machine."""
    cpu = None
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    memory = None
    try:
        with open("/proc/meminfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    memory = int(line.split()[1]) * 1024
                    break
    except OSError:
        pass
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:
        usable = os.cpu_count()
    return {
        "cpu": cpu or platform.processor() or platform.machine(),
        "cores": os.cpu_count(),
        "usable_cores": usable,
        "memory_bytes": memory,
        "python": platform.python_version(),
        "python_implementation": platform.python_implementation(),
        "numpy": _numpy_version(),
        "platform": platform.platform(),
    }


def _numpy_version() -> str:
    import numpy                                    # noqa: PLC0415 - provenance itself needs no numpy
    return numpy.__version__
