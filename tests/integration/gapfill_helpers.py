"""What the gap-fill tests share: session 1's resting sells, the numbered reports among the
rows received, and session 2 filling session 1's sells while it is away."""
from __future__ import annotations

import numpy as np

from gateway.client import orders
from gateway.protocol import MsgType
from matching import OrderType, Side, TimeInForce

from conftest import drain

SCEA = 0
SC = 1                          # an account of session 1 (sc-platform)


def resting_sells(n: int, price: int = 5300) -> np.ndarray:
    """``n`` GTC sells of 1 t of SCEA for account 1 (session 1) at ``price``."""
    return orders(n, instrument=SCEA, account=SC, side=Side.SELL, qty=1, price=price,
                  order_type=OrderType.LIMIT, tif=TimeInForce.GTC)


def numbered(rows: np.ndarray) -> np.ndarray:
    """The execution reports among ``rows`` that carry a ``report_seq`` (gateway rejects do not)."""
    return rows[(rows["msg_type"] >= MsgType.ACK) & (rows["msg_type"] < MsgType.LOGIN_ACK) & (rows["report_seq"] != 0)]


def fill_while_away(cq, n: int) -> None:
    """``cq`` (a logged-out client of session 2) buys ``n`` of session 1's resting sells: FILLs
    for session 1 while it is away."""
    cq.login()
    cq.send_orders(orders(n, instrument=SCEA, account=3, side=Side.BUY, qty=1, price=5300,
                          order_type=OrderType.LIMIT, tif=TimeInForce.IOC))
    drain(cq, lambda got: sum(r.msg_type == MsgType.FILL for r in got) >= n)
    cq.logout()
