"""argparse ``type=`` checks for the command line's numbers: a bad value is a one-line usage
error naming it, never a traceback."""
from __future__ import annotations

import argparse
import datetime as dt
import math

__all__ = ["number", "iso_date"]


def iso_date(text: str) -> dt.date:
    """A date as YYYY-MM-DD (or YYYYMMDD, as the report files name them)."""
    for form in ("%Y-%m-%d", "%Y%m%d"):
        try:
            return dt.datetime.strptime(text.strip(), form).date()
        except ValueError:
            pass
    raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {text!r}")


def number(kind: type, low: float | None = None, high: float | None = None, *, above: bool = False,
           what: str = "a number"):
    """A parser for ``kind`` (int or float) values in ``low .. high`` (``above``: more than
    ``low``); finite floats only. ``what`` names the value in the messages."""
    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not {what}: {text!r}") from None
        if kind is float and not math.isfinite(value):
            raise argparse.ArgumentTypeError(f"not {what}: {text!r}")
        too_low = low is not None and (value <= low if above else value < low)
        if too_low or (high is not None and value > high):
            bounds = (f"more than {low}" if above else f"at least {low}") if low is not None else ""
            if high is not None:
                bounds += (" and " if bounds else "") + f"at most {high}"
            raise argparse.ArgumentTypeError(f"must be {bounds}: {text!r}")
        return value
    return parse
