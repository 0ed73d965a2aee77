"""One process at a time in a state directory: an OS lock held for the holder's life.

Two daemons on one state dir would both append to the journal and issue the same order ids
(issue 14): the journal would end with a sequence gap that neither recovery nor replay
accepts. :class:`StateLock` takes ``flock(LOCK_EX | LOCK_NB)`` on ``STATE_DIR/LOCK`` before
anything is read or written there, and writes the holder's pid and role into the file, so a
second process is refused with a message that names the holder. The kernel drops the lock
when the holder's process ends, however it ends (kill -9 included): a stale file never
blocks a restart.
"""
from __future__ import annotations

import fcntl
import os
from pathlib import Path

__all__ = ["StateLock", "StateLocked", "LOCK_NAME"]

LOCK_NAME = "LOCK"


class StateLocked(RuntimeError):
    """Another process holds the state directory."""


class StateLock:
    """Hold ``state_dir``'s lock until :meth:`release` (or the process ends).

    Parameters
    ----------
    state_dir : path
        Created if missing.
    role : str
        What the holder is (``"chuanyu engine"``, ``"chuanyu replay"``): written into the lock
        file and named to whoever is refused.

    Raises
    ------
    StateLocked
        Another process holds it; the message names its pid and role.
    """

    def __init__(self, state_dir, role: str) -> None:
        self.path = Path(state_dir) / LOCK_NAME
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(self._fd, 4096, 0).decode(errors="replace").strip() or "a process"
            os.close(self._fd)
            self._fd = None
            raise StateLocked(f"{self.path.parent}: in use by {holder} (lock file {self.path}); "
                              f"one process at a time may use a state directory") from None
        os.ftruncate(self._fd, 0)
        os.pwrite(self._fd, f"pid {os.getpid()} ({role})\n".encode(), 0)

    @property
    def held(self) -> bool:
        return self._fd is not None

    def release(self) -> None:
        """Let the next process in (the file stays: its contents are only a hint)."""
        if self._fd is not None:
            fd, self._fd = self._fd, None
            os.close(fd)                            # closing the descriptor drops the flock

    def __enter__(self) -> "StateLock":
        return self

    def __exit__(self, *exc) -> None:
        self.release()
