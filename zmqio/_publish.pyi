"""Type stub of the compiled PUB socket publisher (zmqio/_publish.pyx)."""
import numpy as np
import zmq

class Publisher:
    def __init__(self, functions: dict[str, int], socket: zmq.Socket) -> None: ...
    def send_groups(self, topics: list[bytes], rows: np.ndarray, groups: list[tuple[int, int, int]]) -> int: ...
