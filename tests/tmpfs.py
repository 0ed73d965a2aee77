"""A small tmpfs to fill up: the disk-full tests of the journal and the daemon."""
from __future__ import annotations

import errno
import os
import subprocess
from contextlib import contextmanager
from pathlib import Path

import pytest


@contextmanager
def mounted(where: Path, size: str):
    """A tmpfs of ``size`` (e.g. ``"2m"``) mounted at ``where`` (created), unmounted at the end;
    the test is skipped where mounting is not permitted."""
    where.mkdir(exist_ok=True)
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root: run as root to test the disk-full state")
    run = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where)],
                         capture_output=True, text=True)
    if run.returncode != 0:
        pytest.skip(f"mounting a tmpfs is not permitted here: {run.stderr.strip()}")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)


def fill(directory: Path) -> Path:
    """Fill the file system holding ``directory`` with one file, to its last byte."""
    path = Path(directory) / "filler"
    with open(path, "wb", buffering=0) as f:
        for chunk in (1 << 16, 4096, 1):
            block = bytes(chunk)
            while True:
                try:
                    if f.write(block) == 0:
                        break
                except OSError as exc:
                    if exc.errno != errno.ENOSPC:
                        raise
                    break
    return path
