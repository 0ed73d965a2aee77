# cython: language_level=3
"""The sequencer in C: sequence stamps and journal records of a batch of commands.

:func:`stamp_seq` numbers a batch; :func:`journal_record` lays it out as one journal record
(header, CRC, rows: :mod:`exchange.journal`) in one call instead of a dozen numpy and struct
calls.
"""
cimport numpy as cnp
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_FromStringAndSize
from libc.stdint cimport int64_t, uint32_t
from libc.string cimport memcpy

from matching._types cimport Command

import zlib

import numpy as np

from matching import COMMAND_DTYPE

cnp.import_array()

__all__ = ["stamp_seq", "journal_record"]


def stamp_seq(cnp.ndarray cmds, int64_t first):
    """Stamp ``seq`` first, first + 1, ... on a contiguous COMMAND_DTYPE array."""
    if cmds.ndim != 1 or not cnp.PyArray_IS_C_CONTIGUOUS(cmds) or not (
            <object>cnp.PyArray_DESCR(cmds) is COMMAND_DTYPE or cmds.dtype == COMMAND_DTYPE):
        raise TypeError("cmds must be a contiguous COMMAND_DTYPE array")
    cdef Command* c = <Command*>cnp.PyArray_DATA(cmds)
    cdef Py_ssize_t i
    for i in range(cmds.shape[0]):
        c[i].seq = first + i


cdef object _crc32 = zlib.crc32
cdef enum:
    _HEADER = 32                # exchange.journal.HEADER: magic, length, crc, first seq, count, receive time
    _CRC_FROM = 12              # the CRC covers header bytes 12.. and the rows


cdef inline void _put_u32(char* p, uint32_t v) noexcept:
    memcpy(p, &v, 4)            # the layout is little-endian, as every dtype here


cdef inline void _put_i64(char* p, int64_t v) noexcept:
    memcpy(p, &v, 8)


def journal_record(cnp.ndarray batch, int64_t last_seq, bytes magic):
    """One journal record of a sequenced batch: header and rows in one bytes object, laid out
    as :mod:`exchange.journal` documents (the CRC is ``zlib.crc32`` of bytes 12..). Returns
    ``(record, first seq, count)``.

    ``TypeError`` when ``batch`` is not a non-empty 1-d COMMAND_DTYPE array; ``ValueError``
    when its ``seq`` column does not run ``last_seq + 1``, ``last_seq + 2``, ... (from any
    seq >= 1 when ``last_seq`` is 0). One call for what took a dozen numpy and struct calls.
    """
    if batch.ndim != 1 or batch.shape[0] == 0 or not (
            <object>cnp.PyArray_DESCR(batch) is COMMAND_DTYPE or batch.dtype == COMMAND_DTYPE):
        raise TypeError("a journal batch is a non-empty 1-d COMMAND_DTYPE array")
    if len(magic) != 4:
        raise ValueError("the record magic is 4 bytes")
    if not cnp.PyArray_IS_C_CONTIGUOUS(batch):
        batch = np.ascontiguousarray(batch)
    cdef const Command* c = <const Command*>cnp.PyArray_DATA(batch)
    cdef Py_ssize_t n = batch.shape[0], i
    cdef int64_t first = c[0].seq
    cdef bint ok = first >= 1 and (last_seq == 0 or first == last_seq + 1)
    for i in range(1, n):
        if not ok:
            break
        ok = c[i].seq == first + i
    if not ok:
        raise ValueError(f"batch seq {first}..{c[n - 1].seq} does not continue the journal "
                         f"(last seq {last_seq}) one by one")
    cdef Py_ssize_t length = n * sizeof(Command)
    record = PyBytes_FromStringAndSize(NULL, _HEADER + length)
    cdef char* p = PyBytes_AS_STRING(record)
    memcpy(p, PyBytes_AS_STRING(magic), 4)
    _put_u32(p + 4, <uint32_t>length)
    _put_i64(p + 12, first)
    _put_u32(p + 20, <uint32_t>n)
    _put_i64(p + 24, c[0].ts)
    memcpy(p + _HEADER, c, length)
    crc = _crc32(memoryview(record)[_CRC_FROM:])     # header bytes 12.. and the rows: one run
    _put_u32(p + 8, <uint32_t>crc)
    return record, first, n
