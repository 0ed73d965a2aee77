"""Which node to ask next, and for how long: the clients' side of high availability.

Of several daemon nodes only the primary binds its order, admin and feed ports. A ZeroMQ
connect to another node is not refused: it waits in the background, and a request sent on
it is never answered. So a client that knows several nodes gives each a slice of its time,
round and round until its deadline, and takes the first that answers.
:class:`gateway.client.Client` logs in this way, :class:`feeds.client.FeedClient` asks for
snapshots this way.
"""
from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence

__all__ = ["Rotation", "SLICE_MS", "as_list"]

SLICE_MS = 1000        # a live primary answers a LOGIN or a snapshot request well within this


def as_list(endpoints, what: str = "endpoint") -> list[str]:
    """``endpoints`` (one endpoint string, or a list or tuple of them) as a new list.

    >>> as_list("tcp://127.0.0.1:7001")
    ['tcp://127.0.0.1:7001']
    >>> as_list(("tcp://10.0.0.1:7001", "tcp://10.0.0.2:7001"))
    ['tcp://10.0.0.1:7001', 'tcp://10.0.0.2:7001']
    """
    found = [endpoints] if isinstance(endpoints, str) else list(endpoints) \
        if isinstance(endpoints, (list, tuple)) else None
    if not found or not all(isinstance(e, str) and e for e in found):
        raise ValueError(f"{what}: an endpoint string or a non-empty list of them, not {endpoints!r}")
    return found


class Rotation:
    """Turns over ``items`` (endpoints, or pairs of them) from ``start`` until a deadline.

    Each turn may wait :meth:`wait_ms`: the time left, at most ``slice_ms`` when there are
    several items (a single one gets all the time, as a client of one node always had);
    :meth:`next` moves to the following item, after the last the first again, and is False
    once the time is spent.

    >>> now = [0.0]
    >>> r = Rotation(["a", "b"], 1, timeout_ms=2500, clock=lambda: now[0])
    >>> r.current, r.wait_ms()
    ('b', 1000)
    >>> now[0] = 1.0; r.next(), r.current, r.wait_ms()
    (True, 'a', 1000)
    >>> now[0] = 2.0; r.next(), r.current, r.wait_ms()
    (True, 'b', 500)
    >>> now[0] = 2.5; r.next(), r.current
    (False, 'b')
    """

    def __init__(self, items: Sequence, start: int, timeout_ms: int, slice_ms: int = SLICE_MS,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if not items:
            raise ValueError("nothing to rotate over")
        self.items = list(items)
        self.at = start % len(self.items)
        self.slice_ms = slice_ms
        self.clock = clock
        self.deadline = clock() + timeout_ms / 1000

    @property
    def current(self):
        """The item of this turn."""
        return self.items[self.at]

    def left_ms(self) -> int:
        """Milliseconds until the deadline (0 once it passed), rounded up so a wait of this
        long never ends before it."""
        return max(0, math.ceil((self.deadline - self.clock()) * 1000))

    def wait_ms(self) -> int:
        """How long this turn may wait for an answer."""
        left = self.left_ms()
        return left if len(self.items) == 1 else min(left, self.slice_ms)

    def next(self) -> bool:
        """Move to the next item; False (staying put) when the time is spent or there is no
        other item to try."""
        if len(self.items) == 1 or self.left_ms() <= 0:
            return False
        self.at = (self.at + 1) % len(self.items)
        return True
