"""Instrument definitions and the price band arithmetic both engines share."""
from __future__ import annotations

from dataclasses import dataclass, field, fields

from .codes import InstrumentKind, InstrumentStatus, Region

__all__ = ["Instrument", "price_band", "engine_market", "MAX_PRICE", "MAX_QTY", "MAX_INSTRUMENTS", "MAX_CLOSE_VOLUME",
           "MAX_SELECT_DEPTH",
           "SYMBOL_BYTES", "MIN_YEAR", "MAX_YEAR", "encode_symbol", "decode_symbol"]

# Bounds that keep price x quantity x fee basis points inside int64.
MAX_PRICE = 10**8           # fen per tonne: 1 million CNY per tonne
MAX_QTY = 10**7             # tonnes in one order
MAX_INSTRUMENTS = 32767     # the engine stores an order's instrument in 16 bits
MAX_CLOSE_VOLUME = 10**15   # tonnes: far above any day's volume
MAX_SELECT_DEPTH = 100      # taker-select: the most levels a taker may reach into
SYMBOL_BYTES = 32           # a symbol is 1..32 bytes of UTF-8 (the engine keeps it NUL-padded in C)
MIN_YEAR, MAX_YEAR = 2000, 2100     # ADD_INSTRUMENT: the years a listed instrument may have


def encode_symbol(symbol: str) -> bytes:
    """``symbol`` as the engine stores it: UTF-8, NUL-padded to ``SYMBOL_BYTES``.

    >>> encode_symbol("SCEA2026")[:10]
    b'SCEA2026\\x00\\x00'
    """
    try:
        raw = symbol.encode("utf-8")
    except (AttributeError, UnicodeError):
        raise ValueError(f"symbol {symbol!r} is not a string of UTF-8 text") from None
    if not 0 < len(raw) <= SYMBOL_BYTES or b"\0" in raw:
        raise ValueError(f"symbol {symbol!r} must be 1..{SYMBOL_BYTES} bytes of UTF-8 without NUL")
    return raw.ljust(SYMBOL_BYTES, b"\0")


def decode_symbol(raw: bytes) -> str | None:
    """The symbol in ``SYMBOL_BYTES`` NUL-padded bytes, or None when they hold none: empty
    (the first byte NUL), anything but NUL after the first NUL, or not UTF-8.

    >>> decode_symbol(b"SCEA2026".ljust(32, b"\\0")), decode_symbol(bytes(32))
    ('SCEA2026', None)
    """
    head, _, tail = bytes(raw).partition(b"\0")
    if not head or tail.strip(b"\0"):
        return None
    try:
        return head.decode("utf-8")
    except UnicodeDecodeError:
        return None


def price_band(reference: int, band_bps: int, tick: int) -> tuple[int, int]:
    """Return the inclusive (low, high) limit prices allowed around ``reference``.

    The band is ``reference ± reference * band_bps / 10000``, rounded inwards to the tick,
    and never below one tick.

    >>> price_band(5000, 1000, 1)
    (4500, 5500)
    >>> price_band(4999, 1000, 10)
    (4500, 5490)
    """
    delta = reference * band_bps // 10000
    high = (reference + delta) // tick * tick
    low = -(-(reference - delta) // tick) * tick
    return max(low, tick), high


@dataclass
class Instrument:
    """One tradable product: a region's allowance of a compliance year, or a CER vintage.

    Prices are in fen per tonne, quantities in tonnes.
    """

    symbol: str
    kind: InstrumentKind = InstrumentKind.ALLOWANCE
    region: Region = Region.SC
    year: int = 2026                      # compliance year (allowance) or vintage (CER)
    reference_price: int = 5000           # previous close, fen
    tick: int = 1
    lot: int = 1
    band_bps: int = 1000                  # ±10% of the reference
    max_order_qty: int = 99_999
    status: InstrumentStatus = InstrumentStatus.TRADING
    t_plus_one: bool = True               # units bought today are sellable from the next day
    block_band_bps: int = 3000            # block trades: ±30% of the reference
    block_min_qty: int = 100_000
    min_close_volume: int = 0             # a day of at most this volume keeps the previous close
    dynamic_band_bps: int = 0             # a trade this far from the last price interrupts (0: off)
    select_depth: int = 0                 # 0: orders match; N: taker-select within the best N levels
    select_fifo: int = 0                  # taker-select: 1, only a level's first order may be taken
    cer_cap_bps: int = 500                # compliance: CERs may meet this share of an obligation in it
    must_take_best: bool = True           # only the best-priced listing may be taken
    listings_expire: bool = True          # fixed-price listings expire at the end of the day
    band: tuple[int, int] = field(init=False, repr=False)
    block_band: tuple[int, int] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.kind = InstrumentKind(self.kind)
        self.region = Region(self.region)
        self.status = InstrumentStatus(self.status)
        checks = [
            ("symbol", _symbol_ok(self.symbol)),
            ("tick", 0 < self.tick <= MAX_PRICE),
            ("lot", 0 < self.lot <= MAX_QTY),
            ("reference_price", 0 < self.reference_price <= MAX_PRICE),
            ("band_bps", 0 <= self.band_bps <= 10000),
            ("max_order_qty", 0 < self.max_order_qty <= MAX_QTY),
            ("block_band_bps", 0 <= self.block_band_bps <= 10000),
            ("block_min_qty", 0 < self.block_min_qty <= MAX_QTY),
            ("min_close_volume", 0 <= self.min_close_volume <= MAX_CLOSE_VOLUME),
            ("dynamic_band_bps", 0 <= self.dynamic_band_bps <= 10000),
            ("select_depth", 0 <= self.select_depth <= MAX_SELECT_DEPTH),
            ("select_fifo", self.select_fifo in (0, 1)),
            ("cer_cap_bps", 0 <= self.cer_cap_bps <= 10000),
        ]
        for name, ok in checks:
            if not ok:
                raise ValueError(f"instrument {self.symbol!r}: invalid {name}={getattr(self, name)!r}")
        self.band = price_band(self.reference_price, self.band_bps, self.tick)
        self.block_band = price_band(self.reference_price, self.block_band_bps, self.tick)
        if self.band[0] > self.band[1]:
            raise ValueError(f"instrument {self.symbol!r}: the band around {self.reference_price} "
                             f"holds no price on the tick {self.tick}")

    def recentre(self, reference_price: int) -> None:
        """Make ``reference_price`` the reference (the previous close) and move both bands."""
        self.reference_price = reference_price
        self.band = price_band(reference_price, self.band_bps, self.tick)
        self.block_band = price_band(reference_price, self.block_band_bps, self.tick)

    def to_dict(self) -> dict:
        """The constructor's arguments as plain values (not the bands, which follow from them)."""
        d = {name: getattr(self, name) for name in _INIT_FIELDS}
        for key in ("kind", "region", "status"):
            d[key] = int(d[key])
        for key in ("t_plus_one", "must_take_best", "listings_expire"):
            d[key] = bool(d[key])
        return d


_INIT_FIELDS = tuple(f.name for f in fields(Instrument) if f.init)


def _symbol_ok(symbol) -> bool:
    try:
        encode_symbol(symbol)
    except ValueError:
        return False
    return True


def engine_market(instruments, max_accounts: int, default_stp: int) -> tuple[list, dict]:
    """Check an engine's construction arguments; return its own copies of the instruments
    and the symbol index. Both engines build themselves through this."""
    from .codes import StpMode
    if not 0 < max_accounts <= 2**31 - 1:
        raise ValueError("max_accounts must be between 1 and 2**31 - 1")
    if default_stp not in (StpMode.OFF, StpMode.CANCEL_NEWEST, StpMode.CANCEL_OLDEST, StpMode.CANCEL_BOTH):
        raise ValueError("default_stp must be a concrete StpMode, not ACCOUNT_DEFAULT")
    copies = [Instrument(**ins.to_dict()) for ins in instruments]
    index = {ins.symbol: n for n, ins in enumerate(copies)}
    if len(index) != len(copies):
        raise ValueError("instrument symbols must be unique")
    if len(copies) > MAX_INSTRUMENTS:
        raise ValueError(f"at most {MAX_INSTRUMENTS:,} instruments")
    return copies, index
