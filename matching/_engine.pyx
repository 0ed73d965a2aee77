# The Cython matching core. One extension module on purpose: the book, pool and index
# helpers below are called from the match loop and must be inlinable, which cross-module
# cdef calls are not. The rules are those of matching/reference.py, event for event.
cimport cython
cimport numpy as cnp
from cpython.object cimport PyObject, PyTypeObject
from cpython.ref cimport Py_INCREF
from libc.stdint cimport INT64_MIN, int32_t, int64_t, uint8_t, uint64_t
from libc.stdlib cimport free, malloc, realloc
from libc.string cimport memcpy, memmove, memset

import numpy as np

from ._types cimport *
from ._state import BookView, OrderView, digest, pack_state, unpack_state
from .dtypes import BOOK_ORDER_DTYPE, COMMAND_DTYPE, EVENT_DTYPE

cnp.import_array()

cdef extern from "numpy/arrayobject.h":
    PyTypeObject PyArray_Type
    object PyArray_NewFromDescr(PyTypeObject* subtype, PyObject* descr, int nd, cnp.npy_intp* dims,
                                cnp.npy_intp* strides, void* data, int flags, PyObject* obj)

cdef cnp.dtype _EVENT_DESCR = EVENT_DTYPE
cdef cnp.dtype _BOOK_ORDER_DESCR = BOOK_ORDER_DTYPE
cdef cnp.dtype _COMMAND_DESCR = COMMAND_DTYPE

cdef enum:
    INITIAL_ORDERS = 1024
    INITIAL_LEVELS = 256
    INITIAL_SIDE_LEVELS = 16
    INITIAL_EVENTS = 1024
    INITIAL_TOUCHED = 64
    EVENT_BLOCK = 2048


cdef inline int64_t side_key(uint8_t side, int64_t price) noexcept nogil:
    """Sort key of a price on a side: larger is better, for bids and asks alike."""
    return price if side == SIDE_BUY else -price


cdef inline bint crosses(uint8_t side, int64_t limit, int64_t price) noexcept nogil:
    """True when an incoming order on ``side`` limited at ``limit`` may trade at ``price``."""
    return side_key(side, limit) >= side_key(side, price)


cdef inline uint8_t opposite(uint8_t side) noexcept nogil:
    return SIDE_SELL if side == SIDE_BUY else SIDE_BUY


cdef inline uint64_t hash_id(int64_t order_id, int32_t bits) noexcept nogil:
    # Fibonacci hashing spreads the sequential ids over the table.
    return (<uint64_t>order_id * <uint64_t>0x9E3779B97F4A7C15ULL) >> (64 - bits)


cdef void* grow(void* ptr, int64_t count, size_t size) noexcept nogil:
    return realloc(ptr, <size_t>count * size)


@cython.final
cdef class Engine:
    """The price-time-priority matching engine.

    Parameters
    ----------
    instruments : sequence of Instrument
        The instruments, indexed by position.
    max_accounts : int
        Account ids run from 0 to ``max_accounts - 1``.
    default_stp : StpMode
        Self-trade prevention for accounts that have not set their own.

    Commands go in as ``COMMAND_DTYPE`` arrays through :meth:`process` (the fast path) or
    one at a time through :meth:`submit`, :meth:`cancel`, :meth:`reduce` and
    :meth:`replace`; both return ``EVENT_DTYPE`` arrays. The rules are those of
    ``matching.reference``, which the differential tests hold it to, event for event.
    """

    cdef Order* orders
    cdef int32_t orders_cap, free_order, live_orders
    cdef Level* levels
    cdef int32_t levels_cap, free_level, live_levels
    cdef BookSide* sides
    cdef InstrumentParams* params
    cdef int32_t n_instruments
    cdef uint8_t* account_stp
    cdef readonly int32_t max_accounts
    cdef readonly uint8_t default_stp
    cdef slot_t* index
    cdef int64_t index_cap, index_used
    cdef int32_t index_bits
    cdef readonly int64_t next_order_id, next_trade_id, next_event_seq, clock
    cdef int64_t stamp
    cdef Event* events
    cdef int64_t n_events, events_cap
    cdef Touch* touched
    cdef int32_t n_touched, touched_cap
    cdef const Command* cmd
    cdef bint oom
    cdef list _defs
    cdef dict _symbols
    cdef cnp.ndarray _block
    cdef int64_t _block_used

    def __cinit__(self, instruments, *, int max_accounts=100_000, int default_stp=STP_CANCEL_NEWEST):
        from .instrument import Instrument
        if max_accounts <= 0:
            raise ValueError("max_accounts must be between 1 and 2**31 - 1")
        if default_stp < STP_OFF or default_stp > STP_CANCEL_BOTH:
            raise ValueError("default_stp must be a concrete StpMode, not ACCOUNT_DEFAULT")
        self._defs = [Instrument(**ins.to_dict()) for ins in instruments]
        self._symbols = {d.symbol: n for n, d in enumerate(self._defs)}
        if len(self._symbols) != len(self._defs):
            raise ValueError("instrument symbols must be unique")
        self.n_instruments = len(self._defs)
        self.max_accounts = max_accounts
        self.default_stp = default_stp
        self.next_order_id = 1
        self.next_trade_id = 1
        self.next_event_seq = 1
        self._block_used = EVENT_BLOCK
        self.orders_cap = INITIAL_ORDERS
        self.orders = <Order*>malloc(self.orders_cap * sizeof(Order))
        self.levels_cap = INITIAL_LEVELS
        self.levels = <Level*>malloc(self.levels_cap * sizeof(Level))
        self.sides = <BookSide*>malloc((2 * self.n_instruments + 1) * sizeof(BookSide))
        self.params = <InstrumentParams*>malloc((self.n_instruments + 1) * sizeof(InstrumentParams))
        self.account_stp = <uint8_t*>malloc(max_accounts)
        self.index_bits = 11
        self.index_cap = 1 << self.index_bits
        self.index = <slot_t*>malloc(self.index_cap * sizeof(slot_t))
        self.events_cap = INITIAL_EVENTS
        self.events = <Event*>malloc(self.events_cap * sizeof(Event))
        self.touched_cap = INITIAL_TOUCHED
        self.touched = <Touch*>malloc(self.touched_cap * sizeof(Touch))
        if (self.orders == NULL or self.levels == NULL or self.sides == NULL or self.params == NULL
                or self.account_stp == NULL or self.index == NULL or self.events == NULL
                or self.touched == NULL):
            raise MemoryError()
        memset(self.account_stp, 0, max_accounts)
        memset(self.index, 0xFF, self.index_cap * sizeof(slot_t))
        memset(self.sides, 0, (2 * self.n_instruments + 1) * sizeof(BookSide))
        self._link_free_orders(0)
        self._link_free_levels(0)
        cdef int32_t i
        for i in range(2 * self.n_instruments):
            self.sides[i].cap = INITIAL_SIDE_LEVELS
            self.sides[i].levels = <slot_t*>malloc(INITIAL_SIDE_LEVELS * sizeof(slot_t))
            if self.sides[i].levels == NULL:
                raise MemoryError()
        for i, d in enumerate(self._defs):
            self.params[i].tick = d.tick
            self.params[i].lot = d.lot
            self.params[i].max_qty = d.max_order_qty
            self.params[i].band_low = d.band[0]
            self.params[i].band_high = d.band[1]
            self.params[i].status = d.status

    def __dealloc__(self):
        cdef int32_t i
        if self.sides != NULL:
            for i in range(2 * self.n_instruments):
                free(self.sides[i].levels)
        free(self.sides)
        free(self.orders)
        free(self.levels)
        free(self.params)
        free(self.account_stp)
        free(self.index)
        free(self.events)
        free(self.touched)

    # ------------------------------------------------------------ pools
    cdef void _link_free_orders(self, int32_t start) noexcept nogil:
        cdef int32_t i
        for i in range(start, self.orders_cap):
            self.orders[i].next = i + 1
            self.orders[i].level = -1
        self.orders[self.orders_cap - 1].next = -1
        self.free_order = start

    cdef void _link_free_levels(self, int32_t start) noexcept nogil:
        cdef int32_t i
        for i in range(start, self.levels_cap):
            self.levels[i].head = i + 1
            self.levels[i].count = 0
        self.levels[self.levels_cap - 1].head = -1
        self.free_level = start

    cdef int _reserve(self) noexcept nogil:
        """Make room for one more order and level, so no pool moves inside a command."""
        cdef void* p
        cdef int32_t old
        if self.free_order == -1:
            old = self.orders_cap
            p = grow(self.orders, <int64_t>old * 2, sizeof(Order))
            if p == NULL:
                return -1
            self.orders = <Order*>p
            self.orders_cap = old * 2
            self._link_free_orders(old)
        if self.free_level == -1:
            old = self.levels_cap
            p = grow(self.levels, <int64_t>old * 2, sizeof(Level))
            if p == NULL:
                return -1
            self.levels = <Level*>p
            self.levels_cap = old * 2
            self._link_free_levels(old)
        if (self.index_used + 1) * 2 > self.index_cap:
            return self._grow_index()
        return 0

    cdef inline slot_t _alloc_order(self) noexcept nogil:
        cdef slot_t s = self.free_order
        self.free_order = self.orders[s].next
        self.live_orders += 1
        return s

    cdef inline void _free_order(self, slot_t s) noexcept nogil:
        self.orders[s].next = self.free_order
        self.orders[s].level = -1
        self.free_order = s
        self.live_orders -= 1

    # ------------------------------------------------------- order-id index
    cdef int _grow_index(self) noexcept nogil:
        cdef slot_t* old = self.index
        cdef int64_t old_cap = self.index_cap, i
        cdef slot_t* fresh = <slot_t*>malloc(old_cap * 2 * sizeof(slot_t))
        if fresh == NULL:
            return -1
        memset(fresh, 0xFF, old_cap * 2 * sizeof(slot_t))
        self.index = fresh
        self.index_cap = old_cap * 2
        self.index_bits += 1
        self.index_used = 0
        for i in range(old_cap):
            if old[i] != -1:
                self._index_insert(old[i])
        free(old)
        return 0

    cdef inline void _index_insert(self, slot_t s) noexcept nogil:
        cdef uint64_t mask = self.index_cap - 1
        cdef uint64_t i = hash_id(self.orders[s].order_id, self.index_bits)
        while self.index[i] != -1:
            i = (i + 1) & mask
        self.index[i] = s
        self.index_used += 1

    cdef inline int64_t _index_pos(self, int64_t order_id) noexcept nogil:
        cdef uint64_t mask = self.index_cap - 1
        cdef uint64_t i = hash_id(order_id, self.index_bits)
        while self.index[i] != -1:
            if self.orders[self.index[i]].order_id == order_id:
                return <int64_t>i
            i = (i + 1) & mask
        return -1

    cdef inline slot_t _find_order(self, int64_t order_id) noexcept nogil:
        cdef int64_t pos = self._index_pos(order_id)
        return -1 if pos < 0 else self.index[pos]

    cdef void _index_remove(self, int64_t order_id) noexcept nogil:
        # Linear probing with backward-shift deletion: no tombstones to accumulate.
        cdef uint64_t mask = self.index_cap - 1
        cdef uint64_t i = <uint64_t>self._index_pos(order_id), j = i, home
        while True:
            j = (j + 1) & mask
            if self.index[j] == -1:
                break
            home = hash_id(self.orders[self.index[j]].order_id, self.index_bits)
            if ((j - home) & mask) >= ((j - i) & mask):
                self.index[i] = self.index[j]
                i = j
        self.index[i] = -1
        self.index_used -= 1

    # ------------------------------------------------------------- books
    cdef inline BookSide* _side(self, int32_t instrument, uint8_t side) noexcept nogil:
        return &self.sides[2 * instrument + side - 1]

    cdef inline int32_t _level_pos(self, BookSide* bs, uint8_t side, int64_t price,
                                   bint* found) noexcept nogil:
        """Position of the first level whose key is >= the price's key (lower bound)."""
        cdef int64_t key = side_key(side, price)
        cdef int32_t lo = 0, hi = bs.n, mid
        while lo < hi:
            mid = (lo + hi) >> 1
            if side_key(side, self.levels[bs.levels[mid]].price) < key:
                lo = mid + 1
            else:
                hi = mid
        found[0] = lo < bs.n and self.levels[bs.levels[lo]].price == price
        return lo

    cdef int _rest(self, slot_t s) noexcept nogil:
        """Put an order at the back of its price level, creating the level if needed."""
        cdef Order* o = &self.orders[s]
        cdef BookSide* bs = self._side(o.instrument, o.side)
        cdef bint found
        cdef int32_t pos = self._level_pos(bs, o.side, o.price, &found)
        cdef slot_t lv
        cdef Level* L
        cdef void* p
        if found:
            lv = bs.levels[pos]
            self._touch_level(lv, o.instrument, o.side)
        else:
            if bs.n == bs.cap:
                p = grow(bs.levels, <int64_t>bs.cap * 2, sizeof(slot_t))
                if p == NULL:
                    return -1
                bs.levels = <slot_t*>p
                bs.cap *= 2
            lv = self.free_level
            self.free_level = self.levels[lv].head
            self.live_levels += 1
            L = &self.levels[lv]
            L.price = o.price
            L.qty = 0
            L.count = 0
            L.head = -1
            L.tail = -1
            memmove(&bs.levels[pos + 1], &bs.levels[pos], (bs.n - pos) * sizeof(slot_t))
            bs.levels[pos] = lv
            bs.n += 1
            self._touch_new_level(lv, o.instrument, o.side)
        L = &self.levels[lv]
        o.level = lv
        o.prev = L.tail
        o.next = -1
        if L.tail != -1:
            self.orders[L.tail].next = s
        else:
            L.head = s
        L.tail = s
        L.qty += o.qty
        L.count += 1
        self._index_insert(s)
        return 0

    cdef void _unlink(self, slot_t s) noexcept nogil:
        """Take a resting order out of its level and the index; the slot stays allocated."""
        cdef Order* o = &self.orders[s]
        cdef slot_t lv = o.level
        cdef Level* L = &self.levels[lv]
        cdef BookSide* bs
        cdef bint found
        cdef int32_t pos
        self._touch_level(lv, o.instrument, o.side)
        if o.prev != -1:
            self.orders[o.prev].next = o.next
        else:
            L.head = o.next
        if o.next != -1:
            self.orders[o.next].prev = o.prev
        else:
            L.tail = o.prev
        L.qty -= o.qty
        L.count -= 1
        if L.count == 0:
            bs = self._side(o.instrument, o.side)
            pos = self._level_pos(bs, o.side, L.price, &found)
            memmove(&bs.levels[pos], &bs.levels[pos + 1], (bs.n - pos - 1) * sizeof(slot_t))
            bs.n -= 1
            L.head = self.free_level
            self.free_level = lv
            self.live_levels -= 1
        o.level = -1
        self._index_remove(o.order_id)

    # ------------------------------------------------------ depth tracking
    cdef inline void _push_touch(self, int32_t instrument, uint8_t side, int64_t price) noexcept nogil:
        cdef void* p
        if self.n_touched == self.touched_cap:
            p = grow(self.touched, <int64_t>self.touched_cap * 2, sizeof(Touch))
            if p == NULL:
                self.oom = True
                return
            self.touched = <Touch*>p
            self.touched_cap *= 2
        self.touched[self.n_touched].instrument = instrument
        self.touched[self.n_touched].side = side
        self.touched[self.n_touched].price = price
        self.n_touched += 1

    cdef inline void _touch_level(self, slot_t lv, int32_t instrument, uint8_t side) noexcept nogil:
        if self.levels[lv].stamp != self.stamp:
            self.levels[lv].stamp = self.stamp
            self._push_touch(instrument, side, self.levels[lv].price)

    cdef void _touch_new_level(self, slot_t lv, int32_t instrument, uint8_t side) noexcept nogil:
        # A level created in this command may stand where one was removed earlier in it.
        cdef int32_t i
        cdef int64_t price = self.levels[lv].price
        self.levels[lv].stamp = self.stamp
        for i in range(self.n_touched):
            if (self.touched[i].price == price and self.touched[i].side == side
                    and self.touched[i].instrument == instrument):
                return
        self._push_touch(instrument, side, price)

    cdef void _flush_depth(self) noexcept nogil:
        cdef int32_t i, pos
        cdef bint found
        cdef Touch* t
        cdef Event* e
        cdef BookSide* bs
        cdef Level* L
        for i in range(self.n_touched):
            t = &self.touched[i]
            bs = self._side(t.instrument, t.side)
            pos = self._level_pos(bs, t.side, t.price, &found)
            e = self._emit(EV_DEPTH)
            if e == NULL:
                return
            e.instrument = t.instrument
            e.side = t.side
            e.price = t.price
            if found:
                L = &self.levels[bs.levels[pos]]
                e.qty = L.qty
                e.count = L.count

    # ------------------------------------------------------------ events
    cdef Event* _emit(self, uint8_t kind) noexcept nogil:
        cdef void* p
        cdef Event* e
        if self.n_events == self.events_cap:
            p = grow(self.events, self.events_cap * 2, sizeof(Event))
            if p == NULL:
                self.oom = True
                return NULL
            self.events = <Event*>p
            self.events_cap *= 2
        e = &self.events[self.n_events]
        self.n_events += 1
        memset(e, 0, sizeof(Event))
        e.seq = self.next_event_seq
        self.next_event_seq += 1
        e.cmd_seq = self.cmd.seq
        e.ts = self.clock
        e.kind = kind
        return e

    cdef void _emit_order(self, uint8_t kind, slot_t s, int64_t qty, int64_t leaves,
                          uint16_t reason, int64_t value) noexcept nogil:
        cdef Order* o = &self.orders[s]
        cdef Event* e = self._emit(kind)
        if e == NULL:
            return
        e.order_id = o.order_id
        e.client_order_id = o.client_order_id
        e.account = o.account
        e.instrument = o.instrument
        e.side = o.side
        e.order_type = o.order_type
        e.tif = o.tif
        e.price = o.price
        e.qty = qty
        e.leaves = leaves
        e.reason = reason
        e.value = value

    cdef void _reject(self, uint16_t reason) noexcept nogil:
        cdef const Command* c = self.cmd
        cdef Event* e = self._emit(EV_REJECTED)
        if e == NULL:
            return
        e.reason = reason
        e.order_id = c.order_id
        e.client_order_id = c.client_order_id
        e.account = c.account
        e.instrument = c.instrument
        e.side = c.side
        e.order_type = c.order_type
        e.tif = c.tif
        e.price = c.price
        e.qty = c.qty
        e.value = c.value

    # ------------------------------------------------------------ the rules
    cdef inline uint16_t _check_qty(self, InstrumentParams* p, int64_t qty) noexcept nogil:
        if qty <= 0:
            return REJ_BAD_QUANTITY
        if qty % p.lot:
            return REJ_OFF_LOT_QUANTITY
        if qty > p.max_qty:
            return REJ_ORDER_TOO_LARGE
        return 0

    cdef inline uint16_t _check_price(self, InstrumentParams* p, int64_t price) noexcept nogil:
        if price <= 0:
            return REJ_BAD_PRICE
        if price % p.tick:
            return REJ_OFF_TICK_PRICE
        if price < p.band_low or price > p.band_high:
            return REJ_PRICE_OUTSIDE_BAND
        return 0

    cdef void _cancel_resting(self, slot_t s, uint16_t reason) noexcept nogil:
        self._unlink(s)
        self._emit_order(EV_CANCELLED, s, self.orders[s].qty, 0, reason, 0)
        self._free_order(s)

    cdef void _trade(self, slot_t a, slot_t r) noexcept nogil:
        cdef Order* ag = &self.orders[a]
        cdef Order* ro = &self.orders[r]
        cdef int64_t q = ag.qty if ag.qty < ro.qty else ro.qty
        cdef Order* buy
        cdef Order* sell
        cdef Event* e
        ag.qty -= q
        ro.qty -= q
        self.levels[ro.level].qty -= q
        if ag.side == SIDE_BUY:
            buy = ag
            sell = ro
        else:
            buy = ro
            sell = ag
        e = self._emit(EV_TRADE)
        if e != NULL:
            e.trade_id = self.next_trade_id
            e.instrument = ag.instrument
            e.price = ro.price
            e.qty = q
            e.side = ag.side
            e.trade_type = TT_CONTINUOUS
            e.buy_order_id = buy.order_id
            e.sell_order_id = sell.order_id
            e.buy_account = buy.account
            e.sell_account = sell.account
            e.buy_leaves = buy.qty
            e.sell_leaves = sell.qty
        self.next_trade_id += 1
        if ro.qty == 0:
            self._unlink(r)
            self._free_order(r)

    cdef bint _fok_fillable(self, int32_t instrument, int32_t account, uint8_t side,
                            int64_t limit, int64_t qty, uint8_t stp) noexcept nogil:
        cdef BookSide* bs = self._side(instrument, opposite(side))
        cdef int32_t i
        cdef int64_t available = 0
        cdef slot_t r
        cdef Level* L
        for i in range(bs.n - 1, -1, -1):
            L = &self.levels[bs.levels[i]]
            if not crosses(side, limit, L.price):
                break
            r = L.head
            while r != -1:
                if stp != STP_OFF and self.orders[r].account == account:
                    if stp != STP_CANCEL_OLDEST:
                        return False
                else:
                    available += self.orders[r].qty
                    if available >= qty:
                        return True
                r = self.orders[r].next
        return False

    cdef void _match_and_rest(self, slot_t s, int64_t limit) noexcept nogil:
        """Trade an incoming order against the opposite side, then rest or cancel the rest."""
        cdef Order* o = &self.orders[s]
        cdef uint8_t contra = opposite(o.side)
        cdef BookSide* bs = self._side(o.instrument, contra)
        cdef slot_t lv, r
        while o.qty > 0 and bs.n > 0:
            lv = bs.levels[bs.n - 1]
            if not crosses(o.side, limit, self.levels[lv].price):
                break
            self._touch_level(lv, o.instrument, contra)
            r = self.levels[lv].head
            if o.stp != STP_OFF and self.orders[r].account == o.account:
                if o.stp == STP_CANCEL_OLDEST or o.stp == STP_CANCEL_BOTH:
                    self._cancel_resting(r, CXL_SELF_TRADE)
                if o.stp == STP_CANCEL_NEWEST or o.stp == STP_CANCEL_BOTH:
                    self._emit_order(EV_CANCELLED, s, o.qty, 0, CXL_SELF_TRADE, 0)
                    self._free_order(s)
                    return
                continue
            self._trade(s, r)
        if o.qty == 0:
            self._free_order(s)
        elif o.order_type == OT_LIMIT and (o.tif == TIF_GTC or o.tif == TIF_DAY):
            if self._rest(s) != 0:
                self.oom = True
        else:
            self._emit_order(EV_CANCELLED, s, o.qty, 0, CXL_IOC_REMAINDER, 0)
            self._free_order(s)

    cdef void _new_order(self) noexcept nogil:
        cdef const Command* c = self.cmd
        cdef InstrumentParams* p
        cdef uint16_t reason
        cdef int64_t limit
        cdef uint8_t stp
        cdef slot_t s
        cdef Order* o
        if c.instrument < 0 or c.instrument >= self.n_instruments:
            self._reject(REJ_UNKNOWN_INSTRUMENT)
            return
        p = &self.params[c.instrument]
        if c.account < 0 or c.account >= self.max_accounts:
            self._reject(REJ_UNKNOWN_ACCOUNT)
            return
        if p.status == STATUS_HALTED:
            self._reject(REJ_INSTRUMENT_HALTED)
            return
        if c.side != SIDE_BUY and c.side != SIDE_SELL:
            self._reject(REJ_BAD_SIDE)
            return
        if c.order_type != OT_LIMIT and c.order_type != OT_MARKET:
            self._reject(REJ_BAD_ORDER_TYPE)
            return
        if c.tif < TIF_GTC or c.tif > TIF_FOK or (c.order_type == OT_MARKET and c.tif < TIF_IOC):
            self._reject(REJ_BAD_TIME_IN_FORCE)
            return
        if c.stp > STP_CANCEL_BOTH:
            self._reject(REJ_BAD_STP_MODE)
            return
        reason = self._check_qty(p, c.qty)
        if c.order_type == OT_LIMIT:
            if reason == 0:
                reason = self._check_price(p, c.price)
            limit = c.price
        else:
            limit = p.band_high if c.side == SIDE_BUY else p.band_low
        if reason:
            self._reject(reason)
            return
        stp = c.stp
        if stp == STP_ACCOUNT_DEFAULT:
            stp = self.account_stp[c.account]
            if stp == STP_ACCOUNT_DEFAULT:
                stp = self.default_stp
        if c.tif == TIF_FOK and not self._fok_fillable(c.instrument, c.account, c.side, limit, c.qty, stp):
            self._reject(REJ_FOK_NOT_FILLABLE)
            return
        s = self._alloc_order()
        o = &self.orders[s]
        o.qty = c.qty
        o.order_id = self.next_order_id
        self.next_order_id += 1
        o.client_order_id = c.client_order_id
        o.ts = self.clock
        o.price = c.price if c.order_type == OT_LIMIT else 0
        o.account = c.account
        o.instrument = c.instrument
        o.prev = -1
        o.next = -1
        o.level = -1
        o.side = c.side
        o.tif = c.tif
        o.stp = stp
        o.order_type = c.order_type
        self._emit_order(EV_ACCEPTED, s, c.qty, c.qty, 0, 0)
        self._match_and_rest(s, limit)

    cdef slot_t _owned_order(self) noexcept nogil:
        cdef slot_t s = self._find_order(self.cmd.order_id)
        if s == -1:
            self._reject(REJ_UNKNOWN_ORDER)
        elif self.orders[s].account != self.cmd.account:
            self._reject(REJ_NOT_OWNER)
            s = -1
        return s

    cdef void _cancel(self) noexcept nogil:
        cdef slot_t s = self._owned_order()
        if s != -1:
            self._cancel_resting(s, CXL_USER)

    cdef void _reduce(self) noexcept nogil:
        cdef slot_t s = self._owned_order()
        cdef Order* o
        cdef int64_t qty = self.cmd.qty, reduced_by
        if s == -1:
            return
        o = &self.orders[s]
        if qty <= 0:
            self._reject(REJ_BAD_QUANTITY)
            return
        if qty % self.params[o.instrument].lot:
            self._reject(REJ_OFF_LOT_QUANTITY)
            return
        if qty >= o.qty:
            self._reject(REJ_REDUCE_NOT_SMALLER)
            return
        reduced_by = o.qty - qty
        o.qty = qty
        self.levels[o.level].qty -= reduced_by
        self._touch_level(o.level, o.instrument, o.side)
        self._emit_order(EV_REDUCED, s, reduced_by, qty, 0, 0)

    cdef void _replace(self) noexcept nogil:
        cdef slot_t s = self._owned_order()
        cdef Order* o
        cdef InstrumentParams* p
        cdef int64_t price = self.cmd.price, qty = self.cmd.qty
        cdef uint16_t reason
        if s == -1:
            return
        o = &self.orders[s]
        p = &self.params[o.instrument]
        if p.status == STATUS_HALTED:
            self._reject(REJ_INSTRUMENT_HALTED)
            return
        reason = self._check_qty(p, qty)
        if reason == 0:
            reason = self._check_price(p, price)
        if reason:
            self._reject(reason)
            return
        if price == o.price and qty <= o.qty:
            if qty != o.qty:
                self.levels[o.level].qty -= o.qty - qty
                o.qty = qty
                self._touch_level(o.level, o.instrument, o.side)
            self._emit_order(EV_REPLACED, s, qty, qty, 0, 1)
            return
        self._unlink(s)
        o.price = price
        o.qty = qty
        o.ts = self.clock
        self._emit_order(EV_REPLACED, s, qty, qty, 0, 0)
        self._match_and_rest(s, price)

    cdef void _set_instrument_status(self) noexcept nogil:
        cdef const Command* c = self.cmd
        cdef Event* e
        if c.instrument < 0 or c.instrument >= self.n_instruments:
            self._reject(REJ_UNKNOWN_INSTRUMENT)
            return
        if c.value != STATUS_TRADING and c.value != STATUS_HALTED:
            self._reject(REJ_BAD_STATUS)
            return
        self.params[c.instrument].status = <uint8_t>c.value
        e = self._emit(EV_INSTRUMENT_STATUS)
        if e != NULL:
            e.instrument = c.instrument
            e.value = c.value

    cdef void _set_account_stp(self) noexcept nogil:
        cdef const Command* c = self.cmd
        cdef Event* e
        if c.account < 0 or c.account >= self.max_accounts:
            self._reject(REJ_UNKNOWN_ACCOUNT)
            return
        if c.stp < STP_OFF or c.stp > STP_CANCEL_BOTH:
            self._reject(REJ_BAD_STP_MODE)
            return
        self.account_stp[c.account] = c.stp
        e = self._emit(EV_ACCOUNT_UPDATED)
        if e != NULL:
            e.account = c.account
            e.value = c.stp

    cdef void _expire_day_orders(self) noexcept nogil:
        cdef int32_t instrument = self.cmd.instrument, i, n = 0
        cdef uint8_t side
        cdef BookSide* bs
        cdef slot_t r
        cdef slot_t* expiring
        if instrument < 0 or instrument >= self.n_instruments:
            self._reject(REJ_UNKNOWN_INSTRUMENT)
            return
        expiring = <slot_t*>malloc((self.live_orders + 1) * sizeof(slot_t))
        if expiring == NULL:
            self.oom = True
            return
        for side in range(SIDE_BUY, SIDE_SELL + 1):
            bs = self._side(instrument, side)
            for i in range(bs.n - 1, -1, -1):
                r = self.levels[bs.levels[i]].head
                while r != -1:
                    if self.orders[r].tif == TIF_DAY:
                        expiring[n] = r
                        n += 1
                    r = self.orders[r].next
        for i in range(n):
            self._cancel_resting(expiring[i], CXL_EXPIRY)
        free(expiring)

    cdef int _run(self, const Command* cmds, int64_t n) noexcept nogil:
        cdef int64_t i
        for i in range(n):
            if self._reserve() != 0:
                return -1
            self.cmd = &cmds[i]
            if self.cmd.ts > self.clock:
                self.clock = self.cmd.ts
            self.stamp += 1
            self.n_touched = 0
            if self.cmd.type == CMD_NEW_ORDER:
                self._new_order()
            elif self.cmd.type == CMD_CANCEL:
                self._cancel()
            elif self.cmd.type == CMD_REPLACE:
                self._replace()
            elif self.cmd.type == CMD_REDUCE:
                self._reduce()
            elif self.cmd.type == CMD_SET_INSTRUMENT_STATUS:
                self._set_instrument_status()
            elif self.cmd.type == CMD_SET_ACCOUNT_STP:
                self._set_account_stp()
            elif self.cmd.type == CMD_EXPIRE_DAY_ORDERS:
                self._expire_day_orders()
            else:
                self._reject(REJ_UNKNOWN_COMMAND)
            self._flush_depth()
            if self.oom:
                return -1
        return 0

    # ------------------------------------------------------- the boundary
    cdef object _new_event_array(self, int64_t n):
        cdef cnp.npy_intp dims[1]
        dims[0] = n
        Py_INCREF(_EVENT_DESCR)     # PyArray_NewFromDescr steals a reference
        return PyArray_NewFromDescr(&PyArray_Type, <PyObject*>_EVENT_DESCR, 1, dims, NULL, NULL, 0, NULL)

    cdef object _take_events(self, bint small):
        """The events of the last run as an array, and the C buffer emptied.

        Creating a structured numpy array costs about a microsecond and a half, more than
        matching a command, so the per-call path (``small``) hands out consecutive slices of
        a shared block instead. A slice is never written again: a full block is replaced,
        not reused, and lives on while any slice of it does.
        """
        cdef int64_t n = self.n_events
        cdef char* dst
        self.n_events = 0
        if not small or n > EVENT_BLOCK // 8:
            out = self._new_event_array(n)
            if n:
                memcpy(cnp.PyArray_DATA(<cnp.ndarray>out), self.events, n * sizeof(Event))
            return out
        if self._block_used + n > EVENT_BLOCK:
            self._block = self._new_event_array(EVENT_BLOCK)
            self._block_used = 0
        dst = <char*>cnp.PyArray_DATA(self._block) + self._block_used * sizeof(Event)
        memcpy(dst, self.events, n * sizeof(Event))
        out = self._block[self._block_used:self._block_used + n]
        self._block_used += n
        return out

    cdef object _execute(self, const Command* cmds, int64_t n, bint batch):
        cdef int rc
        self.n_events = 0
        if batch:
            with nogil:
                rc = self._run(cmds, n)
        else:
            rc = self._run(cmds, n)
        if rc != 0:
            self.n_events = 0
            self.oom = False
            raise MemoryError("the matching engine could not grow its tables")
        return self._take_events(not batch)

    def process(self, cnp.ndarray commands not None):
        """Apply a batch of ``COMMAND_DTYPE`` commands and return their events in order.

        The batch is matched in one C loop with the GIL released.
        """
        if commands.dtype != _COMMAND_DESCR or commands.ndim != 1:
            raise TypeError("commands must be a 1-d numpy array of COMMAND_DTYPE")
        if not (cnp.PyArray_IS_C_CONTIGUOUS(commands) and cnp.PyArray_ISALIGNED(commands)):
            commands = np.ascontiguousarray(commands).copy()
        return self._execute(<const Command*>cnp.PyArray_DATA(commands), commands.shape[0], True)

    cdef inline int32_t _instrument_arg(self, object instrument) except -2:
        if isinstance(instrument, str):
            try:
                return self._symbols[instrument]
            except KeyError:
                raise KeyError(f"unknown instrument {instrument!r}") from None
        return instrument

    def submit(self, instrument, int32_t account, uint8_t side, int64_t qty, int64_t price=0,
               uint8_t order_type=OT_LIMIT, uint8_t tif=TIF_GTC, uint8_t stp=STP_ACCOUNT_DEFAULT,
               int64_t client_order_id=0, int64_t ts=0, int64_t seq=0):
        """Enter a new order; return the events it caused."""
        cdef Command c
        memset(&c, 0, sizeof(Command))
        c.type = CMD_NEW_ORDER
        c.instrument = self._instrument_arg(instrument)
        c.account = account
        c.side = side
        c.qty = qty
        c.price = price
        c.order_type = order_type
        c.tif = tif
        c.stp = stp
        c.client_order_id = client_order_id
        c.ts = ts
        c.seq = seq
        return self._execute(&c, 1, False)

    def cancel(self, int64_t order_id, int32_t account, int64_t ts=0, int64_t seq=0):
        """Cancel a resting order."""
        cdef Command c
        memset(&c, 0, sizeof(Command))
        c.type = CMD_CANCEL
        c.order_id = order_id
        c.account = account
        c.ts = ts
        c.seq = seq
        return self._execute(&c, 1, False)

    def reduce(self, int64_t order_id, int32_t account, int64_t qty, int64_t ts=0, int64_t seq=0):
        """Reduce a resting order's remaining quantity to ``qty``, keeping its priority."""
        cdef Command c
        memset(&c, 0, sizeof(Command))
        c.type = CMD_REDUCE
        c.order_id = order_id
        c.account = account
        c.qty = qty
        c.ts = ts
        c.seq = seq
        return self._execute(&c, 1, False)

    def replace(self, int64_t order_id, int32_t account, int64_t price, int64_t qty,
                int64_t ts=0, int64_t seq=0):
        """Change a resting order's price and remaining quantity.

        A new price or a larger quantity loses time priority; a smaller quantity at the
        same price keeps it.
        """
        cdef Command c
        memset(&c, 0, sizeof(Command))
        c.type = CMD_REPLACE
        c.order_id = order_id
        c.account = account
        c.price = price
        c.qty = qty
        c.ts = ts
        c.seq = seq
        return self._execute(&c, 1, False)

    def set_instrument_status(self, instrument, int64_t status, int64_t ts=0, int64_t seq=0):
        """Halt (``InstrumentStatus.HALTED``) or resume (``TRADING``) an instrument."""
        cdef Command c
        memset(&c, 0, sizeof(Command))
        c.type = CMD_SET_INSTRUMENT_STATUS
        c.instrument = self._instrument_arg(instrument)
        c.value = status
        c.ts = ts
        c.seq = seq
        return self._execute(&c, 1, False)

    def set_account_stp(self, int32_t account, uint8_t mode, int64_t ts=0, int64_t seq=0):
        """Set an account's default self-trade prevention mode."""
        cdef Command c
        memset(&c, 0, sizeof(Command))
        c.type = CMD_SET_ACCOUNT_STP
        c.account = account
        c.stp = mode
        c.ts = ts
        c.seq = seq
        return self._execute(&c, 1, False)

    def expire_day_orders(self, instrument, int64_t ts=0, int64_t seq=0):
        """Cancel every resting DAY order of an instrument with reason EXPIRY."""
        cdef Command c
        memset(&c, 0, sizeof(Command))
        c.type = CMD_EXPIRE_DAY_ORDERS
        c.instrument = self._instrument_arg(instrument)
        c.ts = ts
        c.seq = seq
        return self._execute(&c, 1, False)

    # ----------------------------------------------------------- queries
    def instrument_index(self, instrument):
        """The position of an instrument given its symbol (or its position)."""
        return self._instrument_arg(instrument)

    @property
    def resting_orders(self):
        return self.live_orders

    @property
    def instruments(self):
        """The instrument definitions, with their current trading status."""
        from .instrument import Instrument
        out = []
        for n, d in enumerate(self._defs):
            fields = d.to_dict()
            fields["status"] = self.params[n].status
            out.append(Instrument(**fields))
        return out

    def book(self, instrument, int depth=10):
        """The best ``depth`` levels of each side as (price, quantity, order count)."""
        cdef int32_t n = self._instrument_arg(instrument)
        if n < 0 or n >= self.n_instruments:
            raise KeyError(f"unknown instrument {instrument!r}")
        return BookView(self._levels(n, SIDE_BUY, depth), self._levels(n, SIDE_SELL, depth))

    cdef list _levels(self, int32_t instrument, uint8_t side, int depth):
        cdef BookSide* bs = self._side(instrument, side)
        cdef int32_t i
        cdef Level* L
        rows = []
        for i in range(bs.n - 1, max(bs.n - 1 - depth, -1), -1):
            L = &self.levels[bs.levels[i]]
            rows.append((L.price, L.qty, L.count))
        return rows

    def order(self, int64_t order_id):
        """The resting order with this id as an ``OrderView``, or None."""
        cdef slot_t s = self._find_order(order_id)
        cdef Order* o
        if s == -1:
            return None
        o = &self.orders[s]
        return OrderView(o.order_id, o.client_order_id, o.instrument, o.account, o.side, o.price,
                         o.qty, o.tif, o.stp, o.ts)

    def memory_bytes(self):
        """Bytes allocated for orders, levels, the order-id index and the book arrays."""
        cdef int64_t total = (<int64_t>self.orders_cap * sizeof(Order)
                              + <int64_t>self.levels_cap * sizeof(Level)
                              + self.index_cap * sizeof(slot_t))
        cdef int32_t i
        for i in range(2 * self.n_instruments):
            total += self.sides[i].cap * sizeof(slot_t) + sizeof(BookSide)
        return total

    # ------------------------------------------------------------- state
    def _export_orders(self):
        """Resting orders in canonical order as a BOOK_ORDER_DTYPE array."""
        cdef cnp.ndarray out = np.zeros(self.live_orders, dtype=BOOK_ORDER_DTYPE)
        cdef BookOrder* row = <BookOrder*>cnp.PyArray_DATA(out)
        cdef int32_t instrument, i
        cdef uint8_t side
        cdef BookSide* bs
        cdef slot_t r
        cdef Order* o
        cdef int64_t n = 0
        for instrument in range(self.n_instruments):
            for side in range(SIDE_BUY, SIDE_SELL + 1):
                bs = self._side(instrument, side)
                for i in range(bs.n - 1, -1, -1):
                    r = self.levels[bs.levels[i]].head
                    while r != -1:
                        o = &self.orders[r]
                        row[n].order_id = o.order_id
                        row[n].client_order_id = o.client_order_id
                        row[n].price = o.price
                        row[n].qty = o.qty
                        row[n].ts = o.ts
                        row[n].account = o.account
                        row[n].instrument = o.instrument
                        row[n].side = o.side
                        row[n].tif = o.tif
                        row[n].stp = o.stp
                        n += 1
                        r = o.next
        return out

    def _export_meta(self):
        cdef int32_t a
        account_stp = []
        for a in range(self.max_accounts):
            if self.account_stp[a] != 0 and self.account_stp[a] != self.default_stp:
                account_stp.append([a, self.account_stp[a]])
        return {
            "instruments": [d.to_dict() for d in self.instruments],
            "max_accounts": self.max_accounts,
            "default_stp": self.default_stp,
            "account_stp": account_stp,
            "next_order_id": self.next_order_id,
            "next_trade_id": self.next_trade_id,
            "next_event_seq": self.next_event_seq,
            "clock": self.clock,
        }

    def snapshot(self):
        """The full state as bytes; :meth:`restore` rebuilds an identical engine.

        The format is shared with the reference model (see ``matching._state``).
        """
        return pack_state(self._export_meta(), self._export_orders())

    def state_digest(self):
        """A hash of the full state, equal across implementations for equal states."""
        return digest(self.snapshot())

    @classmethod
    def restore(cls, blob):
        """Build an engine from :meth:`snapshot` bytes; damaged bytes raise ValueError."""
        from .instrument import Instrument
        meta, orders = unpack_state(blob)
        try:
            engine = cls([Instrument(**d) for d in meta["instruments"]],
                         max_accounts=meta["max_accounts"], default_stp=meta["default_stp"])
            engine._import_state(meta, orders)
        except (KeyError, TypeError) as exc:
            raise ValueError(f"snapshot metadata is incomplete: {exc!r}") from None
        return engine

    def _import_state(self, dict meta, cnp.ndarray orders):
        """Load counters, account modes and resting orders into a freshly built engine."""
        if orders.dtype != _BOOK_ORDER_DESCR or not cnp.PyArray_IS_C_CONTIGUOUS(orders):
            raise TypeError("orders must be a contiguous BOOK_ORDER_DTYPE array")
        cdef BookOrder* row = <BookOrder*>cnp.PyArray_DATA(orders)
        cdef int64_t i, n = orders.shape[0]
        cdef slot_t s
        cdef Order* o
        for a, mode in meta["account_stp"]:
            if not (0 <= a < self.max_accounts and STP_OFF <= mode <= STP_CANCEL_BOTH):
                raise ValueError("snapshot holds an invalid account mode")
            self.account_stp[a] = mode
        self.next_order_id = meta["next_order_id"]
        self.next_trade_id = meta["next_trade_id"]
        self.next_event_seq = meta["next_event_seq"]
        self.clock = meta["clock"]
        for i in range(n):
            if not (0 <= row[i].instrument < self.n_instruments
                    and (row[i].side == SIDE_BUY or row[i].side == SIDE_SELL)
                    and row[i].qty > 0 and row[i].price > 0
                    and 0 <= row[i].account < self.max_accounts
                    and 0 < row[i].order_id < self.next_order_id
                    and self._find_order(row[i].order_id) == -1):
                raise ValueError(f"snapshot order row {i} is invalid")
            if self._reserve() != 0:
                raise MemoryError()
            self.stamp += 1
            self.n_touched = 0
            s = self._alloc_order()
            o = &self.orders[s]
            o.order_id = row[i].order_id
            o.client_order_id = row[i].client_order_id
            o.price = row[i].price
            o.qty = row[i].qty
            o.ts = row[i].ts
            o.account = row[i].account
            o.instrument = row[i].instrument
            o.side = row[i].side
            o.tif = row[i].tif
            o.stp = row[i].stp
            o.order_type = OT_LIMIT
            if self._rest(s) != 0:
                raise MemoryError()
        self.n_touched = 0

    def check_invariants(self):
        """Raise AssertionError if any structural invariant is broken. O(n)."""
        cdef int32_t instrument, i, count, free_count
        cdef uint8_t side
        cdef BookSide* bs
        cdef Level* L
        cdef slot_t r, prev
        cdef Order* o
        cdef int64_t qty, seen = 0, last_ts
        cdef BookSide* bid
        cdef BookSide* ask
        for instrument in range(self.n_instruments):
            for side in range(SIDE_BUY, SIDE_SELL + 1):
                bs = self._side(instrument, side)
                for i in range(bs.n):
                    L = &self.levels[bs.levels[i]]
                    if i > 0:
                        assert side_key(side, self.levels[bs.levels[i - 1]].price) < side_key(side, L.price), \
                            "levels out of price order"
                    count = 0
                    qty = 0
                    prev = -1
                    r = L.head
                    last_ts = INT64_MIN
                    while r != -1:
                        o = &self.orders[r]
                        assert o.prev == prev, "broken FIFO links"
                        assert o.level == bs.levels[i] and o.price == L.price, "order on the wrong level"
                        assert o.instrument == instrument and o.side == side, "order on the wrong book"
                        assert o.qty > 0, "empty order resting"
                        assert o.ts >= last_ts, "time priority broken"
                        assert self._find_order(o.order_id) == r, "order-id index disagrees with the book"
                        last_ts = o.ts
                        count += 1
                        qty += o.qty
                        prev = r
                        r = o.next
                    assert L.tail == prev, "level tail wrong"
                    assert count == L.count and count > 0, "level order count wrong"
                    assert qty == L.qty, "level quantity is not the sum of its orders"
                    seen += count
            bid = self._side(instrument, SIDE_BUY)
            ask = self._side(instrument, SIDE_SELL)
            if bid.n and ask.n:
                assert (self.levels[bid.levels[bid.n - 1]].price
                        < self.levels[ask.levels[ask.n - 1]].price), "book crossed at rest"
        assert seen == self.live_orders == self.index_used, "order count, index and book disagree"
        free_count = 0
        r = self.free_order
        while r != -1:
            free_count += 1
            r = self.orders[r].next
        assert free_count + self.live_orders == self.orders_cap, "order pool leaks slots"
        free_count = 0
        r = self.free_level
        while r != -1:
            free_count += 1
            r = self.levels[r].head
        assert free_count + self.live_levels == self.levels_cap, "level pool leaks slots"


cdef inline Py_ssize_t off(void* field, void* base):
    return <char*>field - <char*>base


def _layout():
    """Field offsets and sizes of the C structs, checked against matching.dtypes on import."""
    cdef Command c
    cdef Event e
    cdef BookOrder b
    return {
        "Command": (sizeof(Command), {
            "seq": off(&c.seq, &c), "ts": off(&c.ts, &c), "order_id": off(&c.order_id, &c),
            "client_order_id": off(&c.client_order_id, &c), "price": off(&c.price, &c),
            "qty": off(&c.qty, &c), "value": off(&c.value, &c), "account": off(&c.account, &c),
            "instrument": off(&c.instrument, &c), "session": off(&c.session, &c),
            "type": off(&c.type, &c), "side": off(&c.side, &c),
            "order_type": off(&c.order_type, &c), "tif": off(&c.tif, &c), "stp": off(&c.stp, &c)}),
        "Event": (sizeof(Event), {
            "seq": off(&e.seq, &e), "cmd_seq": off(&e.cmd_seq, &e), "ts": off(&e.ts, &e),
            "order_id": off(&e.order_id, &e), "client_order_id": off(&e.client_order_id, &e),
            "price": off(&e.price, &e), "qty": off(&e.qty, &e), "leaves": off(&e.leaves, &e),
            "trade_id": off(&e.trade_id, &e), "buy_order_id": off(&e.buy_order_id, &e),
            "sell_order_id": off(&e.sell_order_id, &e), "buy_leaves": off(&e.buy_leaves, &e),
            "sell_leaves": off(&e.sell_leaves, &e), "value": off(&e.value, &e),
            "account": off(&e.account, &e), "buy_account": off(&e.buy_account, &e),
            "sell_account": off(&e.sell_account, &e), "instrument": off(&e.instrument, &e),
            "count": off(&e.count, &e), "reason": off(&e.reason, &e), "kind": off(&e.kind, &e),
            "side": off(&e.side, &e), "trade_type": off(&e.trade_type, &e),
            "order_type": off(&e.order_type, &e), "tif": off(&e.tif, &e)}),
        "BookOrder": (sizeof(BookOrder), {
            "order_id": off(&b.order_id, &b), "client_order_id": off(&b.client_order_id, &b),
            "price": off(&b.price, &b), "qty": off(&b.qty, &b), "ts": off(&b.ts, &b),
            "account": off(&b.account, &b), "instrument": off(&b.instrument, &b),
            "side": off(&b.side, &b), "tif": off(&b.tif, &b), "stp": off(&b.stp, &b)}),
        "Order": (sizeof(Order), {}),
    }


def _constants():
    """The enum values compiled into the core, checked against matching.codes on import."""
    return {
        "Side": {"BUY": SIDE_BUY, "SELL": SIDE_SELL},
        "OrderType": {"LIMIT": OT_LIMIT, "MARKET": OT_MARKET},
        "TimeInForce": {"GTC": TIF_GTC, "DAY": TIF_DAY, "IOC": TIF_IOC, "FOK": TIF_FOK},
        "StpMode": {"ACCOUNT_DEFAULT": STP_ACCOUNT_DEFAULT, "OFF": STP_OFF,
                    "CANCEL_NEWEST": STP_CANCEL_NEWEST, "CANCEL_OLDEST": STP_CANCEL_OLDEST,
                    "CANCEL_BOTH": STP_CANCEL_BOTH},
        "CommandType": {"NEW_ORDER": CMD_NEW_ORDER, "CANCEL": CMD_CANCEL, "REDUCE": CMD_REDUCE,
                        "REPLACE": CMD_REPLACE, "SET_INSTRUMENT_STATUS": CMD_SET_INSTRUMENT_STATUS,
                        "SET_ACCOUNT_STP": CMD_SET_ACCOUNT_STP,
                        "EXPIRE_DAY_ORDERS": CMD_EXPIRE_DAY_ORDERS},
        "EventKind": {"ACCEPTED": EV_ACCEPTED, "REJECTED": EV_REJECTED, "TRADE": EV_TRADE,
                      "CANCELLED": EV_CANCELLED, "REDUCED": EV_REDUCED, "REPLACED": EV_REPLACED,
                      "DEPTH": EV_DEPTH, "INSTRUMENT_STATUS": EV_INSTRUMENT_STATUS,
                      "ACCOUNT_UPDATED": EV_ACCOUNT_UPDATED},
        "Reject": {
            "UNKNOWN_COMMAND": REJ_UNKNOWN_COMMAND, "UNKNOWN_ACCOUNT": REJ_UNKNOWN_ACCOUNT,
            "UNKNOWN_INSTRUMENT": REJ_UNKNOWN_INSTRUMENT, "INSTRUMENT_HALTED": REJ_INSTRUMENT_HALTED,
            "BAD_SIDE": REJ_BAD_SIDE, "BAD_ORDER_TYPE": REJ_BAD_ORDER_TYPE,
            "BAD_TIME_IN_FORCE": REJ_BAD_TIME_IN_FORCE, "BAD_STP_MODE": REJ_BAD_STP_MODE,
            "BAD_QUANTITY": REJ_BAD_QUANTITY, "OFF_LOT_QUANTITY": REJ_OFF_LOT_QUANTITY,
            "BAD_PRICE": REJ_BAD_PRICE, "OFF_TICK_PRICE": REJ_OFF_TICK_PRICE,
            "PRICE_OUTSIDE_BAND": REJ_PRICE_OUTSIDE_BAND, "ORDER_TOO_LARGE": REJ_ORDER_TOO_LARGE,
            "UNKNOWN_ORDER": REJ_UNKNOWN_ORDER, "NOT_OWNER": REJ_NOT_OWNER,
            "FOK_NOT_FILLABLE": REJ_FOK_NOT_FILLABLE, "REDUCE_NOT_SMALLER": REJ_REDUCE_NOT_SMALLER,
            "BAD_STATUS": REJ_BAD_STATUS},
        "CancelReason": {"USER": CXL_USER, "IOC_REMAINDER": CXL_IOC_REMAINDER,
                         "SELF_TRADE": CXL_SELF_TRADE, "EXPIRY": CXL_EXPIRY},
        "TradeType": {"CONTINUOUS": TT_CONTINUOUS},
        "InstrumentStatus": {"TRADING": STATUS_TRADING, "HALTED": STATUS_HALTED},
    }
