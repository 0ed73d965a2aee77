"""Type stub of the compiled market-data hot path (feeds/_encode.pyx)."""
import numpy as np

def layout() -> tuple[int, dict[str, int]]: ...
def drop_copy_layout() -> tuple[int, dict[str, int]]: ...

class BatchEncoder:
    n_instruments: int
    seq: int
    epoch: int
    topic_seq: np.ndarray
    status: np.ndarray
    block_window: np.ndarray
    cause: np.ndarray
    bbo: np.ndarray
    last: np.ndarray
    has_last: np.ndarray
    def __init__(self, n_instruments: int, epoch: int = ...) -> None: ...
    def encode(self, events: np.ndarray, engine: object, reuse: bool = ...) -> tuple[np.ndarray, list[tuple[int, int, int]]]: ...

def tape(events: np.ndarray, symbols: list[str], type_names: list[str], side_names: list[str],
         region_names: list[str], region_of: np.ndarray, allowance: np.ndarray, cross: np.ndarray,
         net: np.ndarray) -> tuple[bytes, np.ndarray, np.ndarray, list[int], list[int]]: ...
def drop_copy(events: np.ndarray, dtype: np.dtype, epoch: int, first_seq: int) -> np.ndarray: ...
def apply_depth(rows: np.ndarray, levels: list[dict[int, tuple[int, int]]]) -> int: ...
