"""Type stub of the compiled ROUTER socket I/O (zmqio/_router.pyx)."""
import numpy as np
import zmq

UNBOUND: int
MULTIPART: int
FOREIGN: int

class RouterIO:
    def __init__(self, functions: dict[str, int], socket: zmq.Socket, peer_fd: np.ndarray,
                 peer_key: list[bytes | None]) -> None: ...
    def drain(self, session_of: dict[bytes, int], size: int, budget: int, payloads: list[bytes],
              frame_sess: list[int], frame_ts: list[int]
              ) -> tuple[int, tuple[int, bytes, bytes | None, str | None, int] | None]: ...
    def send(self, identity: bytes, data: object) -> int: ...
