"""Instrument definitions and the price band arithmetic both engines share."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field

from .codes import InstrumentKind, InstrumentStatus, Region

__all__ = ["Instrument", "price_band", "engine_market", "MAX_PRICE", "MAX_QTY", "MAX_INSTRUMENTS", "MAX_CLOSE_VOLUME"]

# Bounds that keep price x quantity x fee basis points inside int64.
MAX_PRICE = 10**8           # fen per tonne: 1 million CNY per tonne
MAX_QTY = 10**7             # tonnes in one order
MAX_INSTRUMENTS = 32767     # the engine stores an order's instrument in 16 bits
MAX_CLOSE_VOLUME = 10**15   # tonnes: far above any day's volume


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
    must_take_best: bool = True           # only the best-priced listing may be taken
    listings_expire: bool = True          # fixed-price listings expire at the end of the day
    band: tuple[int, int] = field(init=False, repr=False)
    block_band: tuple[int, int] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.kind = InstrumentKind(self.kind)
        self.region = Region(self.region)
        self.status = InstrumentStatus(self.status)
        checks = [
            ("symbol", isinstance(self.symbol, str) and 0 < len(self.symbol) <= 32),
            ("tick", 0 < self.tick <= MAX_PRICE),
            ("lot", 0 < self.lot <= MAX_QTY),
            ("reference_price", 0 < self.reference_price <= MAX_PRICE),
            ("band_bps", 0 <= self.band_bps <= 10000),
            ("max_order_qty", 0 < self.max_order_qty <= MAX_QTY),
            ("block_band_bps", 0 <= self.block_band_bps <= 10000),
            ("block_min_qty", 0 < self.block_min_qty <= MAX_QTY),
            ("min_close_volume", 0 <= self.min_close_volume <= MAX_CLOSE_VOLUME),
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
        d = asdict(self)
        d.pop("band")
        d.pop("block_band")
        for key in ("kind", "region", "status"):
            d[key] = int(d[key])
        for key in ("t_plus_one", "must_take_best", "listings_expire"):
            d[key] = bool(d[key])
        return d


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
