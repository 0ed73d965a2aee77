"""Money arithmetic shared by both engines: fees and the cash a buy order holds.

Everything is integer fen. A fee is rounded down, which makes fees superadditive
(``fee(a) + fee(b) <= fee(a + b)``): a buy order that holds ``buy_hold(limit, qty)`` can
always pay for every fill it makes at or below its limit, fees included, however the fills
are split.
"""

__all__ = ["fee", "buy_hold", "fee_table", "MAX_CASH", "MAX_HOLDING", "MAX_FEE_BPS", "N_TRADE_TYPES"]

MAX_CASH = 10**17        # fen in one account: 1,000 trillion CNY
MAX_HOLDING = 10**12     # tonnes of one instrument in one account
MAX_FEE_BPS = 1000       # 10%
N_TRADE_TYPES = 5        # TradeType values run from 1; row 0 is unused


def fee(notional: int, bps: int) -> int:
    """The fee on ``notional`` fen at ``bps`` basis points, rounded down.

    >>> fee(1_234_567, 50)
    6172
    """
    return notional * bps // 10000


def buy_hold(limit: int, qty: int, bps: int) -> int:
    """The cash a buy of ``qty`` at ``limit`` must hold: the notional plus its maximum fee.

    >>> buy_hold(5000, 100, 50)
    502500
    """
    notional = limit * qty
    return notional + fee(notional, bps)


def fee_table(fees=None) -> list[list[int]]:
    """Normalise ``{TradeType: (buyer_bps, seller_bps)}`` to rows indexed by trade type.

    >>> fee_table({1: (5, 7)})[1]
    [5, 7]
    """
    if isinstance(fees, list):          # a table already, e.g. from a snapshot
        fees = {trade_type: pair for trade_type, pair in enumerate(fees) if trade_type}
    table = [[0, 0] for _ in range(N_TRADE_TYPES)]
    for trade_type, pair in (fees or {}).items():
        trade_type = int(trade_type)
        buy_bps, sell_bps = (int(x) for x in pair)
        if not 0 < trade_type < N_TRADE_TYPES:
            raise ValueError(f"fees: unknown trade type {trade_type}")
        if not (0 <= buy_bps <= MAX_FEE_BPS and 0 <= sell_bps <= MAX_FEE_BPS):
            raise ValueError(f"fees: basis points must be between 0 and {MAX_FEE_BPS}")
        table[trade_type] = [buy_bps, sell_bps]
    return table
