"""Type stub of the intake stage's C twin (gateway/_intake.pyx)."""
import numpy as np

def layout() -> dict[str, tuple[int, dict[str, int]]]: ...
def flood_limit(rate: object, burst: object) -> np.ndarray: ...

class Screen:
    coid_last: np.ndarray
    tokens: np.ndarray
    refilled: np.ndarray
    auth: np.ndarray
    over: np.ndarray
    window: np.ndarray
    flooded: np.ndarray
    flood_dropped: np.ndarray
    any_flooded: bool
    last_messages: int
    def __init__(self, session_ids: object, rate: object, burst: object, auth: object, max_accounts: int) -> None: ...
    def refill(self, idx: int, now: int) -> None: ...
    def screen(self, payloads: list[bytes], frame_sess: list[int], frame_ts: list[int], now: int,
               stopping: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray] | None: ...
