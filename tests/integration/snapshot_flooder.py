"""An anonymous snapshot-request flood, run as its own process by the integration tests
(``python snapshot_flooder.py ENDPOINT DEALERS IN_FLIGHT NON_READERS SECONDS``).

``DEALERS`` DEALER sockets keep ``IN_FLIGHT`` requests in flight between them (each answer,
snapshot or error, is followed by a new request); ``NON_READERS`` more send ``IN_FLIGHT``
requests each and never read an answer. It prints ``ready`` once the first answer came, and
a JSON line of counts when it stops: after ``SECONDS`` or when a line (or EOF) arrives on
stdin. Its own process, so its work does not share the measuring test's interpreter lock.
"""
from __future__ import annotations

import json
import sys
import time

import zmq

REQUEST = [b"SNAPSHOT", b""]


def flood(endpoint: str, dealers: int, in_flight: int, non_readers: int, seconds: float) -> dict:
    """Flood ``endpoint``; return the counts of what was sent and answered."""
    ctx = zmq.Context()
    socks = []
    for _ in range(dealers + non_readers):
        s = ctx.socket(zmq.DEALER)
        s.linger = 0
        s.sndhwm = s.rcvhwm = 0           # no limit: every request leaves, every answer is kept
        s.connect(endpoint)
        socks.append(s)
    readers, silent = socks[:dealers], socks[dealers:]
    counts = {"sent": 0, "snapshots": 0, "errors": {}, "answer_bytes": 0}
    for k, s in enumerate(readers):
        for _ in range(in_flight // dealers + (k < in_flight % dealers)):
            s.send_multipart(REQUEST)
            counts["sent"] += 1
    for s in silent:
        for _ in range(in_flight):
            s.send_multipart(REQUEST)
            counts["sent"] += 1
    poller = zmq.Poller()
    for s in readers:
        poller.register(s, zmq.POLLIN)
    poller.register(sys.stdin.fileno(), zmq.POLLIN)
    ready = False
    deadline = time.monotonic() + seconds
    try:
        while time.monotonic() < deadline:
            events = dict(poller.poll(100))
            if sys.stdin.fileno() in events:
                break
            for s in readers:
                if s not in events:
                    continue
                while s.poll(0):
                    reply = s.recv_multipart(copy=False)
                    if reply[0].bytes == b"SNAPSHOT":
                        counts["snapshots"] += 1
                        counts["answer_bytes"] += sum(len(f) for f in reply)
                    else:
                        reason = reply[-1].bytes.decode(errors="replace")
                        counts["errors"][reason] = counts["errors"].get(reason, 0) + 1
                    s.send_multipart(REQUEST)
                    counts["sent"] += 1
                    if not ready:
                        print("ready", flush=True)
                        ready = True
    finally:
        for s in socks:
            s.close(0)
        ctx.term()
    return counts


if __name__ == "__main__":
    endpoint, dealers, in_flight, non_readers, seconds = sys.argv[1:6]
    result = flood(endpoint, int(dealers), int(in_flight), int(non_readers), float(seconds))
    print(json.dumps(result), flush=True)
