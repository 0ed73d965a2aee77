"""The daemon's wire structs in C: each mirrors a dtype of gateway.protocol, field for field.

The modules that read or write them check the layout against the dtype at import (their
``layout()``), so a dtype edit without a rebuild fails loudly instead of misreading bytes.
"""
from libc.stdint cimport int32_t, int64_t, uint8_t, uint16_t


ctypedef struct OrderMsg:            # mirrors gateway.protocol.ORDER_DTYPE
    uint8_t msg_type
    uint8_t side
    uint8_t order_type
    uint8_t tif
    uint8_t stp
    uint8_t flags
    uint16_t reserved2
    int32_t instrument
    int32_t account
    int64_t client_order_id
    int64_t order_id
    int64_t price
    int64_t qty
    int32_t contra_account
    int32_t min_qty
    uint8_t reserved[8]


ctypedef struct Report:              # mirrors gateway.protocol.REPORT_DTYPE
    uint8_t msg_type
    uint8_t side
    uint16_t reason
    uint8_t ref_type
    uint8_t flags
    uint8_t order_type
    uint8_t tif
    int32_t instrument
    int32_t account
    int32_t session
    uint8_t trade_type
    uint8_t reserved1
    uint16_t reserved2
    int64_t report_seq
    int64_t seq
    int64_t cmd_seq
    int64_t ts
    int64_t order_id
    int64_t client_order_id
    int64_t price
    int64_t qty
    int64_t leaves
    int64_t trade_id
    int64_t fee


cdef inline Py_ssize_t field_offset(void* field, void* base) noexcept:
    """A struct field's byte offset, for the ``layout()`` checks against the dtypes."""
    return <char*>field - <char*>base
