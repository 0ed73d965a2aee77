"""The compiled engine, checked against the Python definitions it must agree with.

The C structs in ``_types.pxd`` mirror the dtypes in ``matching.dtypes`` and its enums
mirror ``matching.codes``; a mismatch (a stale build, an edit to one side only) fails
here, at import, instead of corrupting events at run time.
"""
from . import codes
from ._engine import Engine, _constants, _layout
from .dtypes import ACCOUNT_DTYPE, BOOK_ORDER_DTYPE, COMMAND_DTYPE, EVENT_DTYPE, HOLDING_DTYPE

__all__ = ["Engine"]


def _raised_by_gateway(enum, member) -> bool:
    """The 1xxx reject codes above 1001 belong to the gateway; the core never raises them."""
    return enum is codes.Reject and 1001 < member < 2000


def _check_build() -> None:
    layout = _layout()
    for name, dtype in (("Command", COMMAND_DTYPE), ("Event", EVENT_DTYPE), ("BookOrder", BOOK_ORDER_DTYPE),
                        ("AccountRecord", ACCOUNT_DTYPE), ("Holding", HOLDING_DTYPE)):
        size, offsets = layout[name]
        expected = {field: dtype.fields[field][1] for field in dtype.names}
        if size != dtype.itemsize or offsets != expected:
            raise ImportError(f"matching._engine: C struct {name} does not match its dtype; rebuild the extension")
    for enum_name, members in _constants().items():
        enum = getattr(codes, enum_name)
        python_side = {m.name: int(m) for m in enum if not _raised_by_gateway(enum, m)}
        if members != python_side:
            raise ImportError(f"matching._engine: enum {enum_name} differs from matching.codes; rebuild the extension")


_check_build()
