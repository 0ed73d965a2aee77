"""How often a repeated event is worth a log line (a hostile peer repeats; the log must not)."""
from __future__ import annotations

import time

__all__ = ["Throttle"]


class Throttle:
    """Says when a repeated event of one kind is worth a log line: its first time, then at
    most once per ``interval_s``, with how many went unlogged in between. A hostile peer can
    repeat an event thousands of times a second; the log must not repeat it with them.

    >>> t = Throttle(interval_s=60, clock=iter([0, 1, 2, 61]).__next__)
    >>> [t.due("key A") for _ in range(4)]
    [(True, 0), (False, 0), (False, 0), (True, 2)]
    """

    def __init__(self, interval_s: float = 10.0, clock=None) -> None:
        self.interval_s = interval_s
        self.clock = clock or time.monotonic
        self._last: dict = {}                       # key -> (time logged, repeats not logged since)

    def due(self, key) -> tuple[bool, int]:
        """``(log now?, repeats not logged since the last line)`` for one more ``key`` event."""
        now = self.clock()
        last = self._last.get(key)
        if last is not None and now - last[0] < self.interval_s:
            self._last[key] = (last[0], last[1] + 1)
            return False, 0
        if len(self._last) > 10_000:                # keys are peers' input: keep the table bounded
            self._last.clear()
        self._last[key] = (now, 0)
        return True, last[1] if last is not None else 0
