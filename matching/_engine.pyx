# The Cython matching core. One extension module on purpose: the book, pool and index
# helpers below are called from the match loop and must be inlinable, which cross-module
# cdef calls are not. The rules are those of matching/reference.py, event for event.
cimport cython
cimport numpy as cnp
from cpython.object cimport PyObject, PyTypeObject
from cpython.bytes cimport PyBytes_FromStringAndSize
from cpython.pycapsule cimport PyCapsule_GetContext, PyCapsule_GetPointer, PyCapsule_New, PyCapsule_SetContext
from cpython.ref cimport Py_INCREF
from cpython.tuple cimport PyTuple_New, PyTuple_SET_ITEM
from libc.stdint cimport INT32_MAX, INT64_MIN, int32_t, int64_t, uint8_t, uint32_t, uint64_t, uintptr_t
from libc.stdlib cimport calloc, free, malloc, qsort, realloc
from libc.string cimport memcmp, memcpy, memmove, memset
from posix.mman cimport MADV_HUGEPAGE, madvise

import dataclasses

import numpy as np

from ._types cimport *
from ._state import BookView, OrderView, digest, pack_state, unpack_state
from ._state import account_view, daily_view
from .dtypes import ACCOUNT_DTYPE, BOOK_ORDER_DTYPE, COMMAND_DTYPE, EVENT_DTYPE, HOLDING_DTYPE
from . import commands, instrument as instrument_limits, money
from .codes import FineReason
from .money import fee_table

cnp.import_array()

cdef extern from "numpy/arrayobject.h":
    PyTypeObject PyArray_Type
    object PyArray_NewFromDescr(PyTypeObject* subtype, cnp.PyArray_Descr* descr, int nd, cnp.npy_intp* dims,
                                cnp.npy_intp* strides, void* data, int flags, PyObject* obj)

cdef extern from *:
    """
    #if defined(__GNUC__) || defined(__clang__)
    #define chuanyu_prefetch(p) __builtin_prefetch(p)
    #else
    #define chuanyu_prefetch(p) ((void)0)
    #endif
    """
    void chuanyu_prefetch(const void* p) nogil

cdef extern from *:
    """
    /* The position of the first of the sorted keys[0..n) that is >= key.

       Halving steps (conditional moves) narrow the range to at most 16 keys, then one
       window of 16 is counted at once: four SSE2 compares, no branch, no dependency
       between them. A binary search to the end is a chain of dependent loads, each
       waiting for the last (about 7 cycles a step); on a side of 64 levels the last four
       steps cost more than the whole window does. */
    #if defined(__SSE2__)
    #include <emmintrin.h>
    static inline int32_t keys_below_16(const int32_t* w, int32_t key) {
        __m128i k = _mm_set1_epi32(key);
        __m128i lt = _mm_add_epi32(
            _mm_add_epi32(_mm_cmplt_epi32(_mm_loadu_si128((const __m128i*)(w + 0)), k),
                          _mm_cmplt_epi32(_mm_loadu_si128((const __m128i*)(w + 4)), k)),
            _mm_add_epi32(_mm_cmplt_epi32(_mm_loadu_si128((const __m128i*)(w + 8)), k),
                          _mm_cmplt_epi32(_mm_loadu_si128((const __m128i*)(w + 12)), k)));
        lt = _mm_add_epi32(lt, _mm_shuffle_epi32(lt, _MM_SHUFFLE(1, 0, 3, 2)));
        lt = _mm_add_epi32(lt, _mm_shuffle_epi32(lt, _MM_SHUFFLE(2, 3, 0, 1)));
        return -_mm_cvtsi128_si32(lt);          /* each key below counted as -1 */
    }
    #else
    static inline int32_t keys_below_16(const int32_t* w, int32_t key) {
        int32_t j, c = 0;
        for (j = 0; j < 16; j++) c += w[j] < key;
        return c;
    }
    #endif
    static inline int32_t keys_lower_bound(const int32_t* keys, int32_t n, int32_t key) {
        const int32_t* base = keys;
        const int32_t* w;
        int32_t m = n, half, j, c = 0;
        if (n < 16) {
            for (j = 0; j < n; j++) c += keys[j] < key;
            return c;
        }
        /* the bound stays within [base, base + m]: every key before base is below key */
        while (m > 16) {
            half = m >> 1;
            base = base[half] < key ? base + half : base;
            m -= half;
        }
        /* a window of 16 that ends inside the array: the keys it takes in before base are
           below key and those after the bound are not, so it counts the bound exactly */
        w = base + 16 <= keys + n ? base : keys + n - 16;
        return (int32_t)(w - keys) + keys_below_16(w, key);
    }
    """
    int32_t keys_lower_bound(const int32_t* keys, int32_t n, int32_t key) nogil

cdef cnp.dtype _EVENT_DESCR = EVENT_DTYPE
cdef cnp.dtype _BOOK_ORDER_DESCR = BOOK_ORDER_DTYPE
cdef cnp.dtype _COMMAND_DESCR = COMMAND_DTYPE
cdef int64_t MAX_CASH = money.MAX_CASH
cdef int64_t MAX_HOLDING = money.MAX_HOLDING
cdef int64_t MAX_FEE_BPS = money.MAX_FEE_BPS
cdef int64_t MAX_FINE_REASON = max(FineReason)
cdef int64_t MAX_QTY = instrument_limits.MAX_QTY
cdef int64_t MAX_PRICE = instrument_limits.MAX_PRICE
cdef int64_t MAX_CLOSE_VOLUME = instrument_limits.MAX_CLOSE_VOLUME
cdef int32_t MAX_INSTRUMENTS = instrument_limits.MAX_INSTRUMENTS
cdef int64_t MIN_YEAR = instrument_limits.MIN_YEAR
cdef int64_t MAX_YEAR = instrument_limits.MAX_YEAR
assert instrument_limits.SYMBOL_BYTES == SYMBOL_BYTES

# ADD_INSTRUMENT: the Instrument defaults an added instrument starts with
_DEFAULTS = {f.name: f.default for f in dataclasses.fields(instrument_limits.Instrument)}
cdef int64_t DEFAULT_TICK = _DEFAULTS["tick"]
cdef int64_t DEFAULT_LOT = _DEFAULTS["lot"]
cdef int64_t DEFAULT_MAX_QTY = _DEFAULTS["max_order_qty"]
cdef int64_t DEFAULT_REFERENCE = _DEFAULTS["reference_price"]
cdef int64_t DEFAULT_BAND_BPS = _DEFAULTS["band_bps"]
cdef int64_t DEFAULT_BLOCK_BAND_BPS = _DEFAULTS["block_band_bps"]
cdef int64_t DEFAULT_BLOCK_MIN = _DEFAULTS["block_min_qty"]
cdef int64_t DEFAULT_MIN_CLOSE_VOLUME = _DEFAULTS["min_close_volume"]
cdef int64_t DEFAULT_DYNAMIC_BAND_BPS = _DEFAULTS["dynamic_band_bps"]
cdef int64_t DEFAULT_SELECT_DEPTH = _DEFAULTS["select_depth"]
cdef uint8_t DEFAULT_SELECT_FIFO = _DEFAULTS["select_fifo"]
cdef int64_t DEFAULT_CER_CAP_BPS = _DEFAULTS["cer_cap_bps"]

cdef enum:
    INITIAL_ORDERS = 1024
    INITIAL_LEVELS = 64
    INITIAL_SIDE_LEVELS = 16
    SIDE_ENTRY_BYTES = 8            # a level's slot and its key (BookSide)
    PREFETCH_ORDERS = 16384         # _run prefetches from this many live orders (~800 KB of them)
    INITIAL_EVENTS = 1024
    INITIAL_TOUCHED = 64
    EVENT_BLOCK = 2048
    HAND_OVER_ROWS = 2048           # a batch with at least this many events gets the buffer itself:
                                    # from a 1,024-command batch (~2,600 events) on, where the copy cost
                                    # a tenth of the batch; smaller results are copied, so that one
                                    # kept does not hold a buffer of INITIAL_EVENTS rows
    EVENTS_PER_COMMAND = 3          # rows reserved per command of a batch (a command makes ~2.5)
    MAX_RESERVED_EVENTS = 1 << 21   # ... up to this many rows; beyond, the buffer grows as it fills
    HUGE_PAGE_BYTES = 2 * 1024 * 1024
    TERMS_SHIFT = 10                # terms pages: 1,024 order slots each
    TERMS_PAGE = 1 << TERMS_SHIFT
    MAX_SPARE_BYTES = 512 * 1024 * 1024
    INITIAL_ACCOUNTS = 1024

    # which resting orders _cancel_where takes
    DOOM_ALL = 0
    DOOM_DAY = 1
    DOOM_END_OF_DAY = 2         # DAY orders, listings and block quotes
    DOOM_OUTSIDE_BAND = 3
    DOOM_ACCOUNT = 4
    DOOM_ACCOUNT_BUYS = 5
    DOOM_OUTSIDE_BLOCK_BAND = 6
    DOOM_MASS = 7               # CANCEL_ALL: the command's account (-1: any) and member (-1: any)
    DOOM_IOC = 8                # leaving a call: the IOC and market orders that waited for it


cdef inline int64_t side_key(uint8_t side, int64_t price) noexcept nogil:
    """Sort key of a price on a side: larger is better, for bids and asks alike."""
    return price if side == SIDE_BUY else -price


cdef inline bint crosses(uint8_t side, int64_t limit, int64_t price) noexcept nogil:
    """True when an incoming order on ``side`` limited at ``limit`` may trade at ``price``."""
    return side_key(side, limit) >= side_key(side, price)


cdef inline uint8_t opposite(uint8_t side) noexcept nogil:
    return SIDE_SELL if side == SIDE_BUY else SIDE_BUY


cdef inline uint8_t book_of(uint8_t order_type) noexcept nogil:
    """The book an order type rests in (or, for takes and accepts, trades against)."""
    if order_type <= OT_MARKET:
        return CONTINUOUS_BOOK
    if order_type <= OT_FIXED_TAKE:
        return FIXED_BOOK
    return BLOCK_BOOK if order_type <= OT_BLOCK_ACCEPT else AUCTION_BOOK


cdef inline uint64_t splitmix64(uint64_t x) noexcept nogil:
    """matching.reference.splitmix64: the seeded tie-break draw."""
    cdef uint64_t z = x + <uint64_t>0x9E3779B97F4A7C15ULL
    z = (z ^ (z >> 30)) * <uint64_t>0xBF58476D1CE4E5B9ULL
    z = (z ^ (z >> 27)) * <uint64_t>0x94D049BB133111EBULL
    return z ^ (z >> 31)


ctypedef struct RankedBid:
    uint64_t key
    int64_t position
    slot_t slot


cdef int compare_ranked(const void* a, const void* b) noexcept nogil:
    cdef const RankedBid* x = <const RankedBid*>a
    cdef const RankedBid* y = <const RankedBid*>b
    if x.key != y.key:
        return -1 if x.key < y.key else 1
    return -1 if x.position < y.position else (1 if x.position > y.position else 0)


cdef inline void price_band(int64_t reference, int64_t bps, int64_t tick, int64_t* low,
                            int64_t* high) noexcept nogil:
    """matching.instrument.price_band in C: the band rounded inwards to the tick."""
    cdef int64_t delta = reference * bps // 10000
    high[0] = (reference + delta) // tick * tick
    low[0] = (reference - delta + tick - 1) // tick * tick
    if low[0] < tick:
        low[0] = tick


cdef inline uint64_t hash_id(int64_t order_id, int32_t bits) noexcept nogil:
    # Fibonacci hashing spreads the sequential ids over the table.
    return (<uint64_t>order_id * <uint64_t>0x9E3779B97F4A7C15ULL) >> (64 - bits)


cdef inline bint names_order(uint8_t command_type) noexcept nogil:
    return command_type == CMD_CANCEL or command_type == CMD_REPLACE or command_type == CMD_REDUCE


cdef inline int64_t fee(int64_t notional, int64_t bps) noexcept nogil:
    """Fee in fen, rounded down: see matching.money for why down."""
    return notional * bps // 10000


cdef inline int64_t buy_hold(int64_t limit, int64_t qty, int64_t bps) noexcept nogil:
    return limit * qty + fee(limit * qty, bps)


cdef inline void start_command(Command* c, uint8_t type, int64_t ts, int64_t seq) noexcept nogil:
    memset(c, 0, sizeof(Command))
    c.type = type
    c.ts = ts
    c.seq = seq


cdef inline void command_symbol(const Command* c, char* out) noexcept nogil:
    """The 32 symbol bytes of an ADD_INSTRUMENT command: little-endian over four int64 fields."""
    cdef uint64_t words[4]
    cdef int32_t k
    words[0] = <uint64_t>c.order_id
    words[1] = <uint64_t>c.client_order_id
    words[2] = <uint64_t>c.price
    words[3] = <uint64_t>c.qty
    for k in range(SYMBOL_BYTES):
        out[k] = <char>((words[k >> 3] >> (8 * (k & 7))) & 0xFF)


cdef bint symbol_valid(const char* symbol) noexcept nogil:
    """matching.instrument.decode_symbol in C: 1..32 bytes of UTF-8, then only NULs."""
    cdef const uint8_t* s = <const uint8_t*>symbol
    cdef int32_t n = 0, i = 0, k, more
    cdef uint8_t b, low, high
    while n < SYMBOL_BYTES and s[n] != 0:
        n += 1
    if n == 0:
        return False
    for k in range(n, SYMBOL_BYTES):
        if s[k] != 0:
            return False
    while i < n:                 # well-formed UTF-8 (Unicode table 3-7), as Python decodes it
        b = s[i]
        low = 0x80
        high = 0xBF
        if b < 0x80:
            i += 1
            continue
        elif 0xC2 <= b <= 0xDF:
            more = 1
        elif 0xE0 <= b <= 0xEF:
            more = 2
            if b == 0xE0:
                low = 0xA0
            elif b == 0xED:
                high = 0x9F
        elif 0xF0 <= b <= 0xF4:
            more = 3
            if b == 0xF0:
                low = 0x90
            elif b == 0xF4:
                high = 0x8F
        else:
            return False
        if i + more >= n:        # the sequence runs past the symbol
            return False
        if not low <= s[i + 1] <= high:
            return False
        for k in range(i + 2, i + more + 1):
            if not 0x80 <= s[k] <= 0xBF:
                return False
        i += more + 1
    return True


# One large event buffer, handed over to an array that has since been freed, kept for the
# next large batch of any engine: its pages are already mapped and faulted in, where a
# fresh buffer's must be zeroed by the kernel first (as much memory traffic as the events).
# Only touched with the GIL held: by array deallocation and before a batch releases it.
cdef void* _spare_events = NULL
cdef size_t _spare_bytes = 0


cdef void _offer_spare(void* buffer, size_t size) noexcept:
    """Keep ``buffer`` as the spare when it is larger than the one kept; free the other."""
    global _spare_events, _spare_bytes
    if size > _spare_bytes and size <= MAX_SPARE_BYTES:
        free(_spare_events)
        _spare_events, _spare_bytes = buffer, size
    else:
        free(buffer)


cdef void _recycle_events(object capsule) noexcept:
    _offer_spare(PyCapsule_GetPointer(capsule, NULL), <size_t>PyCapsule_GetContext(capsule))


cdef inline bint has_terms(uint8_t order_type) noexcept nogil:
    return order_type == OT_FIXED_LISTING or order_type == OT_BLOCK_QUOTE


cdef void* grow(void* ptr, int64_t count, size_t size) noexcept nogil:
    return realloc(ptr, <size_t>count * size)


cdef int32_t grow_pool(void** pool, int32_t* cap, size_t size, int32_t divisor) noexcept nogil:
    """Grow a pool by 1/divisor of its capacity (at least 64 slots); the old capacity, or -1."""
    cdef int32_t old = cap[0]
    cdef int64_t new_cap = old + max(old // divisor, 64)
    cdef void* p = grow(pool[0], new_cap, size)
    if p == NULL:
        return -1
    pool[0] = p
    cap[0] = <int32_t>new_cap
    return old


@cython.final
# ------------------------------------------------------------------ per-call results
@cython.freelist(64)
@cython.final
cdef class Fill:
    """One trade of the order a per-call method placed, amended or withdrew.

    A plain read-only record: reading a field costs what reading a tuple item does, where
    a field of a numpy event row costs a numpy scalar.
    """
    cdef readonly int64_t trade_id, price, qty, fee, contra_order_id
    cdef readonly int32_t contra_account

    def __repr__(self):
        return (f"Fill(trade_id={self.trade_id}, price={self.price}, qty={self.qty}, fee={self.fee}, "
                f"contra_order_id={self.contra_order_id}, contra_account={self.contra_account})")

    def astuple(self):
        """``(trade_id, price, qty, fee, contra_order_id, contra_account)``."""
        return (self.trade_id, self.price, self.qty, self.fee, self.contra_order_id, self.contra_account)


@cython.freelist(16)
@cython.final
cdef class OrderResult:
    """What one per-call command did to its order (see :meth:`Engine.place`).

    ``status`` is the ``EventKind`` of the order's last word in the command: ACCEPTED,
    REPLACED, CANCELLED (an IOC remainder, a self-trade, or a withdrawal) or REJECTED;
    ``reason`` its ``Reject`` or ``CancelReason`` code (0 otherwise). ``order_id`` is 0 when a
    new order is rejected. ``leaves`` is what rests on the book afterwards, ``filled`` the
    quantity traded and ``fills`` the trades, oldest first. ``events`` gives the command's
    full ``EVENT_DTYPE`` rows, depth included, built only when read.
    """
    cdef readonly int64_t order_id, filled, leaves
    cdef readonly int status
    cdef readonly int reason
    cdef readonly tuple fills
    cdef bytes _raw

    @property
    def n_fills(self):
        return len(self.fills)

    @property
    def ok(self):
        """True unless the command was rejected."""
        return self.status != EV_REJECTED

    @property
    def events(self):
        return np.frombuffer(self._raw, dtype=EVENT_DTYPE)

    def astuple(self):
        """``(order_id, status, reason, filled, leaves, fills as tuples)``: comparable across engines."""
        return (self.order_id, self.status, self.reason, self.filled, self.leaves,
                tuple(f.astuple() for f in self.fills))

    def __repr__(self):
        return (f"OrderResult(order_id={self.order_id}, status={self.status}, reason={self.reason}, "
                f"filled={self.filled}, leaves={self.leaves}, fills={len(self.fills)})")


cdef tuple _NO_FILLS = ()


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

    # Every cdef method is @cython.final: Cython then calls it directly rather than through
    # the vtable, so the C compiler can inline the hot path (a command made some twenty
    # indirect calls). Python code may still subclass the engine; it cannot override these.
    cdef Order* orders
    cdef int32_t orders_cap, free_order, live_orders
    cdef Level* levels
    cdef int32_t levels_cap, free_level, live_levels
    cdef slot_t freed_levels        # emptied in this command: freed when it ends (_flush_depth)
    cdef BookSide* sides
    cdef InstrumentParams* params
    cdef Day* days
    cdef Auction* auctions
    cdef int32_t n_instruments
    cdef Account* accounts          # grown on demand up to max_accounts
    cdef int32_t accounts_cap
    cdef Holding* holdings
    cdef int32_t holdings_rows, holdings_cap
    cdef readonly bint risk
    cdef int64_t fee_bps[N_TRADE_TYPES][2]
    cdef readonly int64_t fees_collected, fines_collected, net_deposits
    cdef int64_t* net_credits
    cdef int64_t* retired           # by instrument: units surrendered for compliance
    cdef Surrender* surrenders      # by (account, allowance), in the order first surrendered
    cdef int32_t n_surrenders, surrenders_cap
    cdef readonly int32_t max_accounts
    cdef readonly uint8_t default_stp
    cdef slot_t* index
    cdef int64_t index_cap, index_used
    cdef int32_t** terms_pages      # terms by slot, TERMS_PAGE slots a page, NULL until needed
    cdef int32_t n_terms_pages
    cdef int32_t index_bits
    cdef readonly int64_t next_order_id, next_trade_id, next_event_seq, clock
    cdef uint32_t stamp
    cdef Event* events
    cdef int64_t n_events, events_cap
    cdef Touch* touched
    cdef int32_t n_touched, touched_cap
    cdef const Command* cmd
    cdef bint oom
    cdef dict _symbols              # symbol -> index, of the first _symbols_n instruments
    cdef list _symbol_list
    cdef int32_t _symbols_n
    cdef cnp.ndarray _block
    cdef int64_t _block_used

    def __cinit__(self, instruments, *, max_accounts=100_000, default_stp=STP_CANCEL_NEWEST,
                  bint risk=False, fees=None):
        defs, self._symbols = instrument_limits.engine_market(instruments, max_accounts, default_stp)
        self._symbol_list = [d.symbol for d in defs]
        self.n_instruments = self._symbols_n = len(defs)
        self.max_accounts = max_accounts
        self.risk = risk
        for trade_type, (buy_bps, sell_bps) in enumerate(fee_table(fees)):
            self.fee_bps[trade_type][0] = buy_bps
            self.fee_bps[trade_type][1] = sell_bps
        self.default_stp = default_stp
        self.next_order_id = 1
        self.next_trade_id = 1
        self.next_event_seq = 1
        self._block_used = EVENT_BLOCK
        self.orders_cap = INITIAL_ORDERS
        self.orders = <Order*>malloc(self.orders_cap * sizeof(Order))
        self.levels_cap = INITIAL_LEVELS
        self.levels = <Level*>malloc(self.levels_cap * sizeof(Level))
        self.sides = <BookSide*>calloc(2 * N_BOOKS * self.n_instruments + 1, sizeof(BookSide))
        self.params = <InstrumentParams*>calloc(self.n_instruments + 1, sizeof(InstrumentParams))
        self.days = <Day*>calloc(self.n_instruments + 1, sizeof(Day))
        self.auctions = <Auction*>calloc(self.n_instruments + 1, sizeof(Auction))
        self.accounts_cap = min(max_accounts, INITIAL_ACCOUNTS)
        self.accounts = <Account*>calloc(self.accounts_cap, sizeof(Account))
        self.holdings_cap = 16
        self.holdings = <Holding*>malloc(self.holdings_cap * (self.n_instruments + 1) * sizeof(Holding))
        self.net_credits = <int64_t*>malloc((self.n_instruments + 1) * sizeof(int64_t))
        self.retired = <int64_t*>calloc(self.n_instruments + 1, sizeof(int64_t))
        self.index_bits = 11
        self.index_cap = 1 << self.index_bits
        self.index = <slot_t*>malloc(self.index_cap * sizeof(slot_t))
        self.events_cap = INITIAL_EVENTS
        self.events = <Event*>malloc(self.events_cap * sizeof(Event))
        self.touched_cap = INITIAL_TOUCHED
        self.touched = <Touch*>malloc(self.touched_cap * sizeof(Touch))
        if (self.orders == NULL or self.levels == NULL or self.sides == NULL or self.params == NULL
                or self.days == NULL or self.auctions == NULL
                or self.accounts == NULL or self.index == NULL or self.events == NULL
                or self.touched == NULL or self.holdings == NULL or self.net_credits == NULL
                or self.retired == NULL):
            raise MemoryError()
        memset(self.net_credits, 0, (self.n_instruments + 1) * sizeof(int64_t))
        memset(self.index, 0xFF, self.index_cap * sizeof(slot_t))
        self._link_free_orders(0)
        self._link_free_levels(0)
        self.freed_levels = -1
        cdef int32_t i
        for i in range(2 * N_BOOKS * self.n_instruments):
            self.sides[i].cap = INITIAL_SIDE_LEVELS
            self.sides[i].levels = <slot_t*>malloc(INITIAL_SIDE_LEVELS * SIDE_ENTRY_BYTES)
            if self.sides[i].levels == NULL:
                raise MemoryError()
            self.sides[i].keys = <int32_t*>(self.sides[i].levels + INITIAL_SIDE_LEVELS)
        for i, d in enumerate(defs):
            symbol = instrument_limits.encode_symbol(d.symbol)
            memcpy(self.params[i].symbol, <const char*>symbol, SYMBOL_BYTES)
            self.params[i].kind = d.kind
            self.params[i].region = d.region
            self.params[i].year = d.year
            self.params[i].tick = d.tick
            self.params[i].lot = d.lot
            self.params[i].max_qty = d.max_order_qty
            self.params[i].band_bps = d.band_bps
            self.params[i].block_band_bps = d.block_band_bps
            self.params[i].block_min = d.block_min_qty
            self.params[i].min_close_volume = d.min_close_volume
            self.params[i].dynamic_band_bps = d.dynamic_band_bps
            self.params[i].select_depth = d.select_depth
            self.params[i].select_fifo = d.select_fifo
            self.params[i].cer_cap_bps = d.cer_cap_bps
            self.params[i].status = d.status
            self.params[i].t_plus_one = d.t_plus_one
            self.params[i].must_take_best = d.must_take_best
            self.params[i].listings_expire = d.listings_expire
            self._recentre(i, d.reference_price)

    def __dealloc__(self):
        cdef int32_t i
        if self.sides != NULL:
            for i in range(2 * N_BOOKS * self.n_instruments):
                free(self.sides[i].levels)
        free(self.sides)
        free(self.days)
        if self.auctions != NULL:
            for i in range(self.n_instruments):
                free(self.auctions[i].eligible)
        free(self.auctions)
        free(self.orders)
        free(self.levels)
        free(self.params)
        free(self.accounts)
        free(self.holdings)
        free(self.net_credits)
        free(self.retired)
        free(self.surrenders)
        free(self.index)
        if self.terms_pages != NULL:
            for i in range(self.n_terms_pages):
                free(self.terms_pages[i])
        free(self.terms_pages)
        # A batch whose events stayed in the buffer (fewer than HAND_OVER_ROWS) left the
        # spare here: freeing it would make the next large batch fault in fresh pages.
        _offer_spare(self.events, <size_t>self.events_cap * sizeof(Event))
        free(self.touched)

    # ------------------------------------------------------------ pools
    @cython.final
    cdef void _recentre(self, int32_t n, int64_t reference) noexcept nogil:
        """Make ``reference`` the instrument's reference price and move both bands."""
        cdef InstrumentParams* p = &self.params[n]
        p.reference = reference
        price_band(reference, p.band_bps, p.tick, &p.band_low, &p.band_high)
        price_band(reference, p.block_band_bps, p.tick, &p.block_low, &p.block_high)

    @cython.final
    cdef void _link_free_orders(self, int32_t start) noexcept nogil:
        cdef int32_t i
        for i in range(start, self.orders_cap):
            self.orders[i].next = i + 1
            self.orders[i].prev = NOT_RESTING
        self.orders[self.orders_cap - 1].next = -1
        self.free_order = start

    @cython.final
    cdef void _link_free_levels(self, int32_t start) noexcept nogil:
        cdef int32_t i
        for i in range(start, self.levels_cap):
            self.levels[i].head = i + 1
            self.levels[i].count = 0
            self.levels[i].stamp = 0
        self.levels[self.levels_cap - 1].head = -1
        self.free_level = start

    @cython.final
    cdef int _reserve(self) noexcept nogil:
        """Make room for one more order and level, so no pool moves inside a command."""
        cdef int32_t old
        # The order pool grows by a sixteenth: it is most of the engine's memory and never
        # shrinks, so a small factor keeps the slack per resting order low; realloc of large
        # blocks remaps pages rather than copying them.
        if self.free_order == -1:
            old = grow_pool(<void**>&self.orders, &self.orders_cap, sizeof(Order), 16)
            if old < 0:
                return -1
            self._link_free_orders(old)
        if self.free_level == -1:
            old = grow_pool(<void**>&self.levels, &self.levels_cap, sizeof(Level), 4)
            if old < 0:
                return -1
            self._link_free_levels(old)
        if (self.index_used + 1) * 4 > self.index_cap * 3:          # load factor at most 3/4
            return self._grow_index()
        return 0

    cdef inline void _next_stamp(self) noexcept nogil:
        """Start a command's depth list. A level's 32-bit stamp is compared for equality
        only, so when the counter wraps every level is cleared once and no stale stamp can
        ever equal a new one."""
        cdef int32_t i
        self.stamp += 1
        if self.stamp == 0:
            for i in range(self.levels_cap):
                self.levels[i].stamp = 0
            for i in range(self.n_instruments):
                self.params[i].indicated = 0
            self.stamp = 1

    cdef inline slot_t _alloc_order(self) noexcept nogil:
        cdef slot_t s = self.free_order
        self.free_order = self.orders[s].next
        self.live_orders += 1
        return s

    cdef inline void _free_order(self, slot_t s) noexcept nogil:
        self.orders[s].next = self.free_order
        self.orders[s].prev = NOT_RESTING
        self.free_order = s
        self.live_orders -= 1

    # ------------------------------------------------- terms and flags of orders
    @cython.final
    cdef int _set_terms(self, slot_t s, int32_t terms) noexcept nogil:
        """Record the terms of the listing or block quote in slot ``s``; -1 when out of memory."""
        cdef int32_t page = s >> TERMS_SHIFT, n
        cdef void* p
        if page >= self.n_terms_pages:
            n = max(page + 1, 2 * self.n_terms_pages)
            p = realloc(self.terms_pages, n * sizeof(int32_t*))
            if p == NULL:
                return -1
            self.terms_pages = <int32_t**>p
            memset(&self.terms_pages[self.n_terms_pages], 0, (n - self.n_terms_pages) * sizeof(int32_t*))
            self.n_terms_pages = n
        if self.terms_pages[page] == NULL:
            self.terms_pages[page] = <int32_t*>calloc(TERMS_PAGE, sizeof(int32_t))
            if self.terms_pages[page] == NULL:
                return -1
        self.terms_pages[page][s & (TERMS_PAGE - 1)] = terms
        return 0

    cdef inline int32_t _terms(self, slot_t s) noexcept nogil:
        """A listing's minimum take or a block quote's contra account (PUBLIC: anyone)."""
        return self.terms_pages[s >> TERMS_SHIFT][s & (TERMS_PAGE - 1)]

    cdef inline uint8_t _order_flags(self, const Order* o) noexcept nogil:
        """An order's flags: its own (a block quote's FLAG_PARTIAL) and an auction bid's
        auction's FLAG_COMPLIANCE_ONLY, which every bid of the auction shares."""
        if o.order_type == OT_AUCTION_BID:
            return o.flags | (self.auctions[o.instrument].flags & FLAG_COMPLIANCE_ONLY)
        return o.flags

    @cython.final
    cdef uint8_t _snapshot_flags(self, uint8_t order_type, int32_t instrument, uint8_t flags) noexcept nogil:
        """The flags a snapshot's order of ``order_type`` may carry, given it carries ``flags``:
        a row whose flags differ is invalid."""
        if order_type == OT_BLOCK_QUOTE:
            return flags & FLAG_PARTIAL
        if order_type == OT_AUCTION_BID and 0 <= instrument < self.n_instruments:
            return self.auctions[instrument].flags & FLAG_COMPLIANCE_ONLY
        return 0

    # ------------------------------------------------------- order-id index
    @cython.final
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

    @cython.final
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
    cdef inline BookSide* _side(self, int32_t instrument, uint8_t book, uint8_t side) noexcept nogil:
        return &self.sides[2 * (N_BOOKS * instrument + book) + side - 1]

    cdef inline int32_t _level_pos(self, BookSide* bs, uint8_t side, int64_t price,
                                   bint* found) noexcept nogil:
        """Position of the first level whose key is >= the price's key (lower bound).

        A search without branches (keys_lower_bound): which way each probe goes is data
        the branch predictor cannot learn, and a mispredicted probe cost more than the
        whole search now does. A price at the top is no cheaper than a deep one, but
        neither is slow.
        """
        cdef int32_t key = <int32_t>side_key(side, price)     # prices fit 32 bits (Order.price)
        cdef int32_t pos = keys_lower_bound(bs.keys, bs.n, key)
        found[0] = pos < bs.n and bs.keys[pos] == key
        return pos

    @cython.final
    cdef int _rest(self, slot_t s) noexcept nogil:
        """Put an order at the back of its price level, creating the level if needed."""
        cdef Order* o = &self.orders[s]
        cdef uint8_t book = book_of(o.order_type)
        cdef BookSide* bs = self._side(o.instrument, book, o.side)
        cdef bint found
        cdef int32_t pos = self._level_pos(bs, o.side, o.price, &found)
        cdef slot_t lv
        cdef Level* L
        cdef void* p
        if found:
            lv = bs.levels[pos]
            self._touch_level(lv, o.instrument, book, o.side)
        else:
            if bs.n == bs.cap:
                p = grow(bs.levels, <int64_t>bs.cap * 2, SIDE_ENTRY_BYTES)
                if p == NULL:
                    return -1
                bs.levels = <slot_t*>p
                bs.keys = <int32_t*>(bs.levels + 2 * bs.cap)
                memmove(bs.keys, bs.levels + bs.cap, bs.n * sizeof(int32_t))      # from the old keys' place
                bs.cap *= 2
            lv = self.free_level
            self.free_level = self.levels[lv].head
            self.live_levels += 1
            L = &self.levels[lv]
            L.price = o.price
            L.markets = 0
            L.qty = 0
            L.count = 0
            L.head = -1
            L.tail = -1
            memmove(&bs.levels[pos + 1], &bs.levels[pos], (bs.n - pos) * sizeof(slot_t))
            memmove(&bs.keys[pos + 1], &bs.keys[pos], (bs.n - pos) * sizeof(int32_t))
            bs.levels[pos] = lv
            bs.keys[pos] = <int32_t>side_key(o.side, o.price)
            bs.n += 1
            self._touch_new_level(lv, o.instrument, book, o.side)
        L = &self.levels[lv]
        o.prev = L.tail
        o.next = -1
        if L.tail != -1:
            self.orders[L.tail].next = s
        else:
            L.head = s
        L.tail = s
        L.qty += o.qty
        L.count += 1
        if o.order_type == OT_MARKET:
            L.markets += 1
        self._index_insert(s)
        return 0

    cdef inline slot_t _level_of(self, const Order* o, int32_t* pos) noexcept nogil:
        """The level a resting order is on; its position in its book side into ``pos``."""
        cdef bint found
        cdef BookSide* bs = self._side(o.instrument, book_of(o.order_type), o.side)
        pos[0] = self._level_pos(bs, o.side, o.price, &found)
        return bs.levels[pos[0]]

    @cython.final
    cdef void _unlink(self, slot_t s) noexcept nogil:
        """Take a resting order out of its level and the index; the slot stays allocated."""
        cdef int32_t pos
        self._level_of(&self.orders[s], &pos)
        self._unlink_at(s, pos)

    @cython.final
    cdef void _unlink_at(self, slot_t s, int32_t pos) noexcept nogil:
        """:meth:`_unlink` of an order whose level is at ``pos`` in its book side."""
        cdef Order* o = &self.orders[s]
        cdef uint8_t book = book_of(o.order_type)
        cdef BookSide* bs = self._side(o.instrument, book, o.side)
        cdef slot_t lv = bs.levels[pos]
        cdef Level* L = &self.levels[lv]
        self._touch_level(lv, o.instrument, book, o.side)
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
        if o.order_type == OT_MARKET:
            L.markets -= 1
        if L.count == 0:
            memmove(&bs.levels[pos], &bs.levels[pos + 1], (bs.n - pos - 1) * sizeof(slot_t))
            memmove(&bs.keys[pos], &bs.keys[pos + 1], (bs.n - pos - 1) * sizeof(int32_t))
            bs.n -= 1
            # not reused before the command ends, so its depth change can read count 0 there
            L.head = self.freed_levels
            self.freed_levels = lv
            self.live_levels -= 1
        o.prev = NOT_RESTING
        self._index_remove(o.order_id)

    # ------------------------------------------------------ depth tracking
    cdef inline void _push_touch(self, slot_t lv, int32_t instrument, uint8_t book, uint8_t side,
                                 int64_t price) noexcept nogil:
        cdef void* p
        if self.n_touched == self.touched_cap:
            p = grow(self.touched, <int64_t>self.touched_cap * 2, sizeof(Touch))
            if p == NULL:
                self.oom = True
                return
            self.touched = <Touch*>p
            self.touched_cap *= 2
        self.touched[self.n_touched].instrument = instrument
        self.touched[self.n_touched].book = book
        self.touched[self.n_touched].side = side
        self.touched[self.n_touched].price = price
        self.touched[self.n_touched].level = lv
        self.n_touched += 1

    cdef inline void _touch_level(self, slot_t lv, int32_t instrument, uint8_t book,
                                  uint8_t side) noexcept nogil:
        # Block quotes are private to their parties and auction bids are sealed: neither
        # book is in the depth feed.
        if self.levels[lv].stamp != self.stamp and book < BLOCK_BOOK:
            self.levels[lv].stamp = self.stamp
            self._push_touch(lv, instrument, book, side, self.levels[lv].price)

    @cython.final
    cdef void _touch_new_level(self, slot_t lv, int32_t instrument, uint8_t book,
                               uint8_t side) noexcept nogil:
        # A level created in this command may stand where one was removed earlier in it.
        cdef int32_t i
        cdef int64_t price = self.levels[lv].price
        self.levels[lv].stamp = self.stamp
        if book >= BLOCK_BOOK:
            return
        for i in range(self.n_touched):
            if (self.touched[i].price == price and self.touched[i].side == side
                    and self.touched[i].book == book and self.touched[i].instrument == instrument):
                self.touched[i].level = lv
                return
        self._push_touch(lv, instrument, book, side, price)

    @cython.final
    cdef void _flush_depth(self) noexcept nogil:
        """One DEPTH event per level the command changed, and its emptied levels freed.

        Each touch holds its level's slot: an emptied level is not reused within the command
        (it reads count 0: gone), and a level created where one was emptied replaces it in
        the touch, so no level is looked up again.
        """
        cdef int32_t i
        cdef Touch* t
        cdef Event* e
        cdef Level* L
        cdef slot_t lv = self.freed_levels
        cdef bint in_call = False
        if lv != -1:
            while self.levels[lv].head != -1:
                lv = self.levels[lv].head
            self.levels[lv].head = self.free_level
            self.free_level = self.freed_levels
            self.freed_levels = -1
        for i in range(self.n_touched):
            t = &self.touched[i]
            e = self._emit(EV_DEPTH)
            if e == NULL:
                return
            e.instrument = t.instrument
            e.trade_type = t.book + 1
            e.side = t.side
            e.price = t.price
            L = &self.levels[t.level]
            if L.count > 0:
                e.qty = L.qty
                e.count = L.count
            in_call |= self.params[t.instrument].status == STATUS_CALL
        if not in_call:         # the usual case: no second pass over the touches
            return
        for i in range(self.n_touched):
            t = &self.touched[i]
            if (t.book == CONTINUOUS_BOOK and self.params[t.instrument].status == STATUS_CALL
                    and self.params[t.instrument].indicated != self.stamp):
                self._emit_indicative(t.instrument)

    # ------------------------------------------------------------ events
    @cython.final
    cdef Event* _emit(self, uint8_t kind) noexcept nogil:
        cdef void* p
        cdef Event* e
        if self.n_events == self.events_cap:
            p = grow(self.events, max(self.events_cap * 2, INITIAL_EVENTS), sizeof(Event))
            if p == NULL:
                self.oom = True
                return NULL
            self.events = <Event*>p
            self.events_cap = max(self.events_cap * 2, INITIAL_EVENTS)
        e = &self.events[self.n_events]
        self.n_events += 1
        event_clear(e)
        e.seq = self.next_event_seq
        self.next_event_seq += 1
        e.cmd_seq = self.cmd.seq
        e.ts = self.clock
        e.kind = kind
        e.command = self.cmd.type
        return e

    @cython.final
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

    @cython.final
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
    cdef inline uint16_t _check_qty(self, InstrumentParams* p, int64_t qty, int64_t max_qty) noexcept nogil:
        if qty <= 0:
            return REJ_BAD_QUANTITY
        if qty % p.lot:
            return REJ_OFF_LOT_QUANTITY
        if qty > max_qty:
            return REJ_ORDER_TOO_LARGE
        return 0

    cdef inline uint16_t _check_price(self, InstrumentParams* p, int64_t price, int64_t low,
                                      int64_t high) noexcept nogil:
        if price <= 0:
            return REJ_BAD_PRICE
        if price % p.tick:
            return REJ_OFF_TICK_PRICE
        if price < low or price > high:
            return REJ_PRICE_OUTSIDE_BAND
        return 0

    cdef inline uint16_t _phase_reason(self, InstrumentParams* p, bint pre_open_ok) noexcept nogil:
        """Why the instrument's phase refuses an order entry, or 0."""
        if p.status == STATUS_HALTED:
            return REJ_INSTRUMENT_HALTED
        if p.status == STATUS_CLOSED or ((p.status == STATUS_PRE_OPEN or p.status == STATUS_CALL)
                                         and not pre_open_ok):
            return REJ_MARKET_CLOSED
        return 0

    cdef inline bint _would_cross(self, int32_t instrument, uint8_t side, int64_t price) noexcept nogil:
        cdef BookSide* bs = self._side(instrument, CONTINUOUS_BOOK, opposite(side))
        return bs.n > 0 and crosses(side, price, self.levels[bs.levels[bs.n - 1]].price)

    cdef inline bint _account_known(self, int32_t account) noexcept nogil:
        return 0 <= account < self.max_accounts and (not self.risk or self._exists(account))

    # ............................................. accounts
    cdef inline bint _exists(self, int32_t account) noexcept nogil:
        return 0 <= account < self.accounts_cap and self.accounts[account].exists

    cdef inline int64_t _fee_rate(self, int32_t account, uint8_t trade_type, int side) noexcept nogil:
        """The account's fee in bps on one side of a trade: the market's less its rebate."""
        cdef int64_t bps = self.fee_bps[trade_type][side] - self.accounts[account].rebate_bps[trade_type]
        return bps if bps > 0 else 0

    cdef inline uint8_t _account_stp(self, int32_t account) noexcept nogil:
        return self.accounts[account].stp if account < self.accounts_cap else STP_ACCOUNT_DEFAULT

    @cython.final
    cdef int _ensure_account(self, int32_t account) noexcept nogil:
        """Grow the account table to hold ``account`` (< max_accounts)."""
        cdef int64_t cap = self.accounts_cap
        cdef void* p
        if account < cap:
            return 0
        while cap <= account:
            cap *= 2
        if cap > self.max_accounts:
            cap = self.max_accounts
        p = grow(self.accounts, cap, sizeof(Account))
        if p == NULL:
            self.oom = True
            return -1
        self.accounts = <Account*>p
        memset(&self.accounts[self.accounts_cap], 0, (cap - self.accounts_cap) * sizeof(Account))
        self.accounts_cap = <int32_t>cap
        return 0

    # ............................................. risk: holds and settlement
    cdef inline Holding* _holding(self, int32_t account, int32_t instrument) noexcept nogil:
        return &self.holdings[<int64_t>self.accounts[account].holdings * self.n_instruments + instrument]

    cdef inline int64_t _hold_price(self, Order* o) noexcept nogil:
        """The price a buy holds cash at: its limit, or the band's top for a market buy."""
        if o.order_type == OT_MARKET and o.price == 0:
            return self.params[o.instrument].band_high
        return o.price          # a market buy resting in a call holds at the edge it rests at

    cdef inline int64_t _buy_need(self, Order* o, int64_t leaves) noexcept nogil:
        return buy_hold(self._hold_price(o), leaves, self.fee_bps[book_of(o.order_type) + 1][0])

    cdef inline uint16_t _buy_room(self, Account* a, Holding* h, int64_t extra_qty,
                                   int64_t extra_cash) noexcept nogil:
        if (extra_qty > 0 and h.limit
                and h.available + h.frozen + h.locked + h.non_tradable + h.buying + extra_qty > h.limit):
            return REJ_POSITION_LIMIT
        if extra_cash > a.cash_available:
            return REJ_INSUFFICIENT_CASH
        return 0

    cdef inline uint16_t _sell_room(self, Holding* h, int64_t extra_qty) noexcept nogil:
        if extra_qty > h.available:
            return REJ_INSUFFICIENT_HOLDINGS
        if h.available + h.locked + h.non_tradable - extra_qty < h.floor:
            return REJ_RETENTION_FLOOR
        return 0

    @cython.final
    cdef uint16_t _risk_reason(self, Order* o) noexcept nogil:
        """Why account checks refuse the new order ``o`` (not yet allocated or held), or 0."""
        cdef Account* a
        cdef Holding* h
        if not self._exists(o.account):      # risk off: an account that was never created
            return 0
        a = &self.accounts[o.account]
        if a.status == ACCT_SUSPENDED:
            return REJ_ACCOUNT_SUSPENDED
        if o.side == SIDE_BUY and a.status == ACCT_SELL_ONLY:
            return REJ_ACCOUNT_SELL_ONLY
        if not self.risk:
            return 0
        h = self._holding(o.account, o.instrument)
        if o.side == SIDE_BUY:
            return self._buy_room(a, h, o.qty, self._buy_need(o, o.qty))
        return self._sell_room(h, o.qty)

    @cython.final
    cdef void _hold(self, Order* o, int64_t old_need, int64_t old_leaves) noexcept nogil:
        """Move the order's hold from what ``old_leaves`` needed to what ``o.qty`` needs."""
        cdef Account* a
        cdef Holding* h
        cdef int64_t delta
        if not self.risk:
            return
        a = &self.accounts[o.account]
        h = self._holding(o.account, o.instrument)
        if o.side == SIDE_BUY:
            delta = self._buy_need(o, o.qty) - old_need
            a.cash_available -= delta
            a.cash_frozen += delta
            h.buying += o.qty - old_leaves
        else:
            delta = o.qty - old_leaves
            h.available -= delta
            h.frozen += delta

    @cython.final
    cdef void _set_leaves(self, Order* o, int64_t leaves) noexcept nogil:
        cdef int64_t old = o.qty, need = 0
        if self.risk and o.side == SIDE_BUY:        # its fee costs a division; only holds read it
            need = self._buy_need(o, old)
        o.qty = <int32_t>leaves
        self._hold(o, need, old)

    @cython.final
    cdef void _settle(self, Order* buy, Order* sell, int64_t price, int64_t qty, int64_t buy_fee,
                      int64_t sell_fee) noexcept nogil:
        """Move cash and units for one trade; the orders' leaves have not been lowered yet."""
        cdef Account* b
        cdef Account* s
        cdef Holding* hb
        cdef int64_t release
        if not self.risk:
            return
        b = &self.accounts[buy.account]
        s = &self.accounts[sell.account]
        hb = self._holding(buy.account, buy.instrument)
        release = self._buy_need(buy, buy.qty) - self._buy_need(buy, buy.qty - qty)
        b.cash_frozen -= release
        b.cash_available += release - (price * qty + buy_fee)
        hb.buying -= qty
        if self._order_flags(buy) & FLAG_COMPLIANCE_ONLY:
            hb.non_tradable += qty
        elif self.params[buy.instrument].t_plus_one:
            hb.locked += qty
        else:
            hb.available += qty
        self._holding(sell.account, sell.instrument).frozen -= qty
        s.cash_available += price * qty - sell_fee
        self.fees_collected += buy_fee + sell_fee

    # ............................................................ orders
    @cython.final
    cdef void _drop_incoming(self, slot_t s, uint16_t reason) noexcept nogil:
        """Cancel the rest of an order that is not in the book and free its slot."""
        cdef Order* o = &self.orders[s]
        self._emit_order(EV_CANCELLED, s, o.qty, 0, reason, 0)
        self._set_leaves(o, 0)
        self._free_order(s)

    @cython.final
    cdef void _cancel_resting(self, slot_t s, uint16_t reason) noexcept nogil:
        self._unlink(s)
        self._drop_incoming(s, reason)

    @cython.final
    cdef void _trade(self, slot_t a, slot_t r, int64_t q, int64_t price, int32_t pos) noexcept nogil:
        """Trade ``q`` at ``price``; the trade type is the resting order's book's. ``pos``: the
        position of the resting order's level in its book side, -1 when the caller does not know."""
        cdef Order* ag = &self.orders[a]
        cdef Order* ro = &self.orders[r]
        cdef int64_t buy_fee = 0, sell_fee = 0
        cdef uint8_t book = book_of(ro.order_type)
        cdef uint8_t trade_type = book + 1
        cdef Order* buy
        cdef Order* sell
        cdef Event* e
        cdef Day* day
        cdef slot_t lv
        if pos < 0:
            lv = self._level_of(ro, &pos)
        else:
            lv = self._side(ro.instrument, book, ro.side).levels[pos]
        if ag.side == SIDE_BUY:
            buy = ag
            sell = ro
        else:
            buy = ro
            sell = ag
        if self.risk:
            buy_fee = fee(price * q, self._fee_rate(buy.account, trade_type, 0))
            sell_fee = fee(price * q, self._fee_rate(sell.account, trade_type, 1))
        self._settle(buy, sell, price, q, buy_fee, sell_fee)
        self._touch_level(lv, ro.instrument, book, ro.side)
        ag.qty -= <int32_t>q
        ro.qty -= <int32_t>q
        self.levels[lv].qty -= q
        e = self._emit(EV_TRADE)
        if e != NULL:
            e.trade_id = self.next_trade_id
            e.instrument = ag.instrument
            e.price = price
            e.qty = q
            e.side = ag.side
            e.trade_type = trade_type
            e.buy_order_id = buy.order_id
            e.sell_order_id = sell.order_id
            e.buy_account = buy.account
            e.sell_account = sell.account
            e.buy_leaves = buy.qty
            e.sell_leaves = sell.qty
            e.buy_fee = buy_fee
            e.sell_fee = sell_fee
        self.next_trade_id += 1
        day = &self.days[ag.instrument]
        day.volume[trade_type] += q
        day.amount[trade_type] += price * q
        if trade_type == TT_CONTINUOUS:
            day.last = price
        if trade_type == TT_CONTINUOUS or trade_type == TT_FIXED:
            if day.open == 0:
                day.open = price
                day.high = price
                day.low = price
            if price > day.high:
                day.high = price
            if price < day.low:
                day.low = price
        if ro.qty == 0:
            self._unlink_at(r, pos)
            self._free_order(r)

    @cython.final
    cdef bint _fok_fillable(self, int32_t instrument, int32_t account, uint8_t side,
                            int64_t limit, int64_t qty, uint8_t stp) noexcept nogil:
        cdef BookSide* bs = self._side(instrument, CONTINUOUS_BOOK, opposite(side))
        cdef int32_t i
        cdef int64_t available = 0, centre = self._band_centre(instrument)
        cdef slot_t r
        cdef Level* L
        for i in range(bs.n - 1, -1, -1):
            L = &self.levels[bs.levels[i]]
            if not crosses(side, limit, L.price) or self._interrupts(instrument, L.price, centre):
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

    cdef inline int64_t _band_centre(self, int32_t instrument) noexcept nogil:
        """reference._band_centre: the last continuous trade before the incoming order."""
        return self.days[instrument].last if self.days[instrument].last else self.params[instrument].reference

    cdef inline bint _interrupts(self, int32_t instrument, int64_t price, int64_t centre) noexcept nogil:
        """reference._interrupts: a continuous trade at ``price`` would leave the dynamic band."""
        cdef InstrumentParams* p = &self.params[instrument]
        if p.dynamic_band_bps == 0 or p.status != STATUS_TRADING:
            return False
        return (price - centre if price >= centre else centre - price) * 10000 > centre * p.dynamic_band_bps

    @cython.final
    cdef void _interrupt(self, int32_t instrument) noexcept nogil:
        """A volatility interruption: the instrument goes into a call auction at once."""
        cdef Event* e
        self.params[instrument].status = STATUS_CALL
        e = self._emit(EV_INSTRUMENT_STATUS)
        if e != NULL:
            e.instrument = instrument
            e.value = STATUS_CALL
            e.reason = CAUSE_VOLATILITY

    @cython.final
    cdef void _match_or_call(self, slot_t s, int64_t limit) noexcept nogil:
        """Match and rest an incoming order; in a call, or in taker-select, it only rests,
        whatever it crosses."""
        cdef InstrumentParams* p = &self.params[self.orders[s].instrument]
        if p.status == STATUS_CALL or p.select_depth:
            if self._rest(s) != 0:
                self.oom = True
        else:
            self._match_and_rest(s, limit)

    @cython.final
    cdef void _match_and_rest(self, slot_t s, int64_t limit) noexcept nogil:
        """Trade an incoming order against the opposite side, then rest or cancel the rest."""
        cdef Order* o = &self.orders[s]
        cdef uint8_t contra = opposite(o.side)
        cdef BookSide* bs = self._side(o.instrument, CONTINUOUS_BOOK, contra)
        cdef slot_t lv, r
        cdef int64_t centre = self._band_centre(o.instrument)
        while o.qty > 0 and bs.n > 0:
            lv = bs.levels[bs.n - 1]
            if not crosses(o.side, limit, self.levels[lv].price):
                break
            r = self.levels[lv].head
            if o.stp != STP_OFF and self.orders[r].account == o.account:
                if o.stp == STP_CANCEL_OLDEST or o.stp == STP_CANCEL_BOTH:
                    self._cancel_resting(r, CXL_SELF_TRADE)
                if o.stp == STP_CANCEL_NEWEST or o.stp == STP_CANCEL_BOTH:
                    self._drop_incoming(s, CXL_SELF_TRADE)
                    return
                continue
            if self._interrupts(o.instrument, self.levels[lv].price, centre):     # only a trade is judged
                self._interrupt(o.instrument)
                break
            self._trade(s, r, o.qty if o.qty < self.orders[r].qty else self.orders[r].qty,
                        self.orders[r].price, bs.n - 1)
        if o.qty == 0:
            self._free_order(s)
        elif self.params[o.instrument].status == STATUS_CALL:         # interrupted
            o.price = <int32_t>limit        # a market order waits at the band edge, as in any call
            if self._rest(s) != 0:
                self.oom = True
        elif o.order_type == OT_LIMIT and (o.tif == TIF_GTC or o.tif == TIF_DAY):
            if self._rest(s) != 0:
                self.oom = True
        else:
            self._drop_incoming(s, CXL_IOC_REMAINDER)

    @cython.final
    cdef slot_t _new_slot(self, const Command* c, uint8_t order_type, uint8_t side, int64_t price,
                          int64_t qty, uint8_t tif, uint8_t stp, int32_t terms, uint8_t flags) noexcept nogil:
        """Fill a fresh (not yet allocated) order in the free slot; _accept_slot takes it."""
        cdef slot_t s = self.free_order
        cdef Order* o = &self.orders[s]
        o.qty = <int32_t>qty
        o.order_id = self.next_order_id
        o.client_order_id = c.client_order_id
        o.ts = self.clock
        o.price = price
        o.account = c.account
        o.instrument = <int16_t>c.instrument
        o.prev = NOT_RESTING
        o.side = side
        o.tif = tif
        o.stp = stp
        o.order_type = order_type
        o.flags = flags
        if order_type == OT_FIXED_LISTING or order_type == OT_BLOCK_QUOTE:
            if self._set_terms(s, terms) != 0:
                self.oom = True
        return s

    @cython.final
    cdef void _accept_slot(self, slot_t s) noexcept nogil:
        """Allocate the order _new_slot filled, hold what it needs and report it accepted."""
        cdef Order* o
        self._alloc_order()
        o = &self.orders[s]
        o.next = -1
        self.next_order_id += 1
        self._hold(o, 0, 0)
        self._emit_order(EV_ACCEPTED, s, o.qty, o.qty, 0, 0)

    @cython.final
    cdef void _admit_and_rest(self, slot_t s) noexcept nogil:
        """Risk-check a new listing, block quote or auction bid; accept it and rest it."""
        cdef uint16_t reason = self._risk_reason(&self.orders[s])
        if reason:
            self._reject(reason)
            return
        self._accept_slot(s)
        if self._rest(s) != 0:
            self.oom = True

    @cython.final
    cdef void _new_order(self) noexcept nogil:
        cdef const Command* c = self.cmd
        cdef InstrumentParams* p
        cdef uint16_t reason
        cdef int64_t limit
        cdef uint8_t stp
        cdef slot_t s
        if c.instrument < 0 or c.instrument >= self.n_instruments:
            self._reject(REJ_UNKNOWN_INSTRUMENT)
            return
        p = &self.params[c.instrument]
        if not self._account_known(c.account):
            self._reject(REJ_UNKNOWN_ACCOUNT)
            return
        reason = self._phase_reason(p, True)
        if reason:
            self._reject(reason)
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
        reason = self._check_qty(p, c.qty, p.max_qty)
        if c.order_type == OT_LIMIT:
            if reason == 0:
                reason = self._check_price(p, c.price, p.band_low, p.band_high)
            limit = c.price
        else:
            limit = p.band_high if c.side == SIDE_BUY else p.band_low
        if reason:
            self._reject(reason)
            return
        if p.status == STATUS_PRE_OPEN:
            if c.order_type == OT_MARKET or c.tif >= TIF_IOC:
                self._reject(REJ_MARKET_CLOSED)
                return
            if self._would_cross(c.instrument, c.side, c.price):
                self._reject(REJ_WOULD_CROSS)
                return
        if p.status == STATUS_CALL and c.tif == TIF_FOK:
            self._reject(REJ_MARKET_CLOSED)
            return
        if p.select_depth and (c.order_type == OT_MARKET or c.tif >= TIF_IOC):
            self._reject(REJ_WRONG_ORDER_KIND)          # taker-select: orders rest, takers take
            return
        stp = c.stp
        if stp == STP_ACCOUNT_DEFAULT:
            stp = self._account_stp(c.account)
            if stp == STP_ACCOUNT_DEFAULT:
                stp = self.default_stp
        s = self._new_slot(c, c.order_type, c.side,
                           c.price if c.order_type == OT_LIMIT else (limit if p.status == STATUS_CALL else 0),
                           c.qty, c.tif, stp, 0, 0)
        reason = self._risk_reason(&self.orders[s])
        if reason:
            self._reject(reason)
            return
        if c.tif == TIF_FOK and not self._fok_fillable(c.instrument, c.account, c.side, limit, c.qty, stp):
            self._reject(REJ_FOK_NOT_FILLABLE)
            return
        self._accept_slot(s)
        self._match_or_call(s, limit)

    @cython.final
    cdef slot_t _owned_order(self) noexcept nogil:
        """The order a CANCEL, REDUCE or REPLACE names; another account's is UNKNOWN_ORDER.

        Answering another account's live order like an id that does not exist keeps order
        ids from telling a broker which ids are other members' live orders.
        """
        cdef slot_t s = self._find_order(self.cmd.order_id)
        if s == -1 or self.orders[s].account != self.cmd.account:
            self._reject(REJ_UNKNOWN_ORDER)
            return -1
        return s

    @cython.final
    cdef bint _visible(self, slot_t s, int32_t account) noexcept nogil:
        """May ``account`` learn that order ``s`` exists? (TAKE_FIXED, BLOCK_ACCEPT)

        Its own orders, fixed-price listings and block quotes offered to all or to it.
        """
        cdef const Order* o = &self.orders[s]
        return (o.account == account or o.order_type == OT_FIXED_LISTING
                or (o.order_type == OT_BLOCK_QUOTE and (self._terms(s) == PUBLIC or self._terms(s) == account)))

    @cython.final
    cdef slot_t _owned_revocable_order(self) noexcept nogil:
        """The resting order a CANCEL or REDUCE names; auction bids are irrevocable."""
        cdef slot_t s = self._owned_order()
        if s != -1 and self.orders[s].order_type == OT_AUCTION_BID:
            self._reject(REJ_WRONG_ORDER_KIND)
            return -1
        return s

    @cython.final
    cdef void _cancel(self) noexcept nogil:
        cdef slot_t s = self._owned_revocable_order()
        if s != -1:
            self._cancel_resting(s, CXL_USER)

    @cython.final
    cdef void _lower_resting(self, slot_t s, int64_t qty) noexcept nogil:
        """Lower a resting order's remaining quantity in place, keeping its priority."""
        cdef Order* o = &self.orders[s]
        cdef int32_t pos
        cdef slot_t lv = self._level_of(o, &pos)
        self._touch_level(lv, o.instrument, book_of(o.order_type), o.side)
        self.levels[lv].qty -= o.qty - qty
        self._set_leaves(o, qty)

    @cython.final
    cdef void _reduce(self) noexcept nogil:
        cdef slot_t s = self._owned_revocable_order()
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
        if o.order_type == OT_BLOCK_QUOTE and qty < self.params[o.instrument].block_min:
            self._reject(REJ_BELOW_MINIMUM)
            return
        reduced_by = o.qty - qty
        self._lower_resting(s, qty)
        self._emit_order(EV_REDUCED, s, reduced_by, qty, 0, 0)

    @cython.final
    cdef void _replace(self) noexcept nogil:
        cdef slot_t s = self._owned_order()
        cdef Order* o
        cdef InstrumentParams* p
        cdef int64_t price = self.cmd.price, qty = self.cmd.qty, old_qty, old_need = 0
        cdef uint16_t reason = 0
        if s == -1:
            return
        o = &self.orders[s]
        if o.order_type != OT_LIMIT:
            self._reject(REJ_WRONG_ORDER_KIND)
            return
        p = &self.params[o.instrument]
        reason = self._phase_reason(p, True)
        if reason == 0:
            reason = self._check_qty(p, qty, p.max_qty)
        if reason == 0:
            reason = self._check_price(p, price, p.band_low, p.band_high)
        if reason:
            self._reject(reason)
            return
        if price == o.price and qty <= o.qty:
            if qty != o.qty:
                self._lower_resting(s, qty)
            self._emit_order(EV_REPLACED, s, qty, qty, 0, 1)
            return
        if p.status == STATUS_PRE_OPEN and self._would_cross(o.instrument, o.side, price):
            self._reject(REJ_WOULD_CROSS)
            return
        old_qty = o.qty
        if o.side == SIDE_BUY:
            old_need = self._buy_need(o, old_qty)
        if self.risk:
            if o.side == SIDE_BUY:
                reason = self._buy_room(&self.accounts[o.account], self._holding(o.account, o.instrument),
                                        qty - old_qty,
                                        buy_hold(price, qty, self.fee_bps[TT_CONTINUOUS][0]) - old_need)
            elif qty > old_qty:
                reason = self._sell_room(self._holding(o.account, o.instrument), qty - old_qty)
            if reason:
                self._reject(reason)
                return
        self._unlink(s)
        o.price = price
        o.qty = <int32_t>qty
        o.ts = self.clock
        self._hold(o, old_need, old_qty)
        self._emit_order(EV_REPLACED, s, qty, qty, 0, 0)
        self._match_or_call(s, price)

    # ............................... fixed-price listings and block quotes
    cdef inline uint16_t _block_phase_reason(self, int32_t instrument) noexcept nogil:
        if self.params[instrument].status == STATUS_HALTED:
            return REJ_INSTRUMENT_HALTED
        if not self.params[instrument].block_window:
            return REJ_BLOCK_WINDOW_CLOSED
        return 0

    @cython.final
    cdef void _post(self, uint8_t order_type) noexcept nogil:
        """LIST_FIXED and BLOCK_QUOTE: a listing or quote that rests until taken or gone."""
        cdef const Command* c = self.cmd
        cdef InstrumentParams* p
        cdef uint16_t reason
        cdef int32_t terms = 0
        cdef uint8_t flags = 0
        if c.instrument < 0 or c.instrument >= self.n_instruments:
            self._reject(REJ_UNKNOWN_INSTRUMENT)
            return
        p = &self.params[c.instrument]
        if not self._account_known(c.account):
            self._reject(REJ_UNKNOWN_ACCOUNT)
            return
        if order_type == OT_FIXED_LISTING:
            reason = self._phase_reason(p, True)
        else:
            reason = self._block_phase_reason(c.instrument)
        if reason:
            self._reject(reason)
            return
        if c.side != SIDE_BUY and c.side != SIDE_SELL:
            self._reject(REJ_BAD_SIDE)
            return
        if order_type == OT_FIXED_LISTING:
            terms = c.min_qty
            reason = self._check_qty(p, c.qty, p.max_qty)
            if reason == 0:
                reason = self._check_price(p, c.price, p.band_low, p.band_high)
            if reason == 0 and not (0 < terms <= c.qty and terms % p.lot == 0):
                reason = REJ_BAD_QUANTITY
        else:
            terms = c.contra_account
            flags = c.flags & FLAG_PARTIAL
            reason = self._check_qty(p, c.qty, MAX_QTY)
            if reason == 0:
                reason = self._check_price(p, c.price, p.block_low, p.block_high)
            if reason == 0 and c.qty < p.block_min:
                reason = REJ_BELOW_MINIMUM
            if reason == 0 and terms == c.account:
                reason = REJ_SELF_TAKE
            if reason == 0 and not (terms == PUBLIC or 0 <= terms < self.max_accounts):
                reason = REJ_UNKNOWN_ACCOUNT
        if reason:
            self._reject(reason)
            return
        self._admit_and_rest(self._new_slot(c, order_type, c.side, c.price, c.qty, TIF_DAY, STP_OFF,
                                            terms, flags))

    @cython.final
    cdef void _take(self) noexcept nogil:
        """TAKE_FIXED and BLOCK_ACCEPT: trade part or all of one resting listing or quote."""
        cdef const Command* c = self.cmd
        cdef bint take_fixed = c.type == CMD_TAKE_FIXED, selected
        cdef slot_t posted = self._find_order(c.order_id), s
        cdef Order* po
        cdef InstrumentParams* p
        cdef BookSide* bs
        cdef uint16_t reason
        cdef int32_t pos = -1
        # a resting limit order of a taker-select instrument is public, for takers to name
        selected = (take_fixed and posted != -1 and self.orders[posted].order_type == OT_LIMIT
                    and self.params[self.orders[posted].instrument].select_depth > 0)
        if posted == -1 or not (self._visible(posted, c.account) or selected):
            self._reject(REJ_UNKNOWN_ORDER)
            return
        po = &self.orders[posted]
        if po.order_type != (OT_FIXED_LISTING if take_fixed else OT_BLOCK_QUOTE) and not selected:
            self._reject(REJ_WRONG_ORDER_KIND)
            return
        p = &self.params[po.instrument]
        if not self._account_known(c.account):
            self._reject(REJ_UNKNOWN_ACCOUNT)
            return
        reason = self._phase_reason(p, False) if take_fixed else self._block_phase_reason(po.instrument)
        if reason:
            self._reject(reason)
            return
        if c.account == po.account:
            self._reject(REJ_SELF_TAKE)
            return
        reason = self._check_qty(p, c.qty, p.max_qty if selected else MAX_QTY)
        if reason:
            self._reject(reason)
            return
        if c.qty > po.qty:
            self._reject(REJ_EXCEEDS_REMAINING)
            return
        if selected:
            bs = self._side(po.instrument, CONTINUOUS_BOOK, po.side)
            self._level_of(po, &pos)
            if bs.n - pos > p.select_depth:                # the best level is the last, rank 1
                self._reject(REJ_BEYOND_SELECT_DEPTH)
                return
            if p.select_fifo and self.levels[bs.levels[pos]].head != posted:
                self._reject(REJ_NOT_FIRST_AT_LEVEL)
                return
        elif take_fixed:
            if c.qty < po.qty and c.qty < self._terms(posted):
                self._reject(REJ_BELOW_MINIMUM)
                return
            bs = self._side(po.instrument, FIXED_BOOK, po.side)
            if p.must_take_best and self.levels[bs.levels[bs.n - 1]].price != po.price:
                self._reject(REJ_NOT_BEST_LISTING)
                return
        elif c.qty < po.qty:
            if not po.flags & FLAG_PARTIAL:
                self._reject(REJ_PARTIAL_NOT_ALLOWED)
                return
            if c.qty < p.block_min or po.qty - c.qty < p.block_min:
                self._reject(REJ_BELOW_MINIMUM)
                return
        s = self._new_slot(c, OT_LIMIT if selected else (OT_FIXED_TAKE if take_fixed else OT_BLOCK_ACCEPT),
                           opposite(po.side), po.price, c.qty, TIF_IOC, STP_OFF, 0, 0)
        self.orders[s].instrument = po.instrument
        reason = self._risk_reason(&self.orders[s])
        if reason:
            self._reject(reason)
            return
        self._accept_slot(s)
        self._trade(s, posted, c.qty, self.orders[posted].price, pos)
        self._free_order(s)

    # ................................................. operator commands
    @cython.final
    cdef bint _instrument_ok(self, bint allow_all) noexcept nogil:
        cdef int32_t n = self.cmd.instrument
        if (0 <= n < self.n_instruments) or (allow_all and n == ALL_INSTRUMENTS):
            return True
        self._reject(REJ_UNKNOWN_INSTRUMENT)
        return False

    @cython.final
    cdef Account* _created_account(self) noexcept nogil:
        cdef int32_t a = self.cmd.account
        if self._exists(a):
            return &self.accounts[a]
        self._reject(REJ_UNKNOWN_ACCOUNT)
        return NULL

    @cython.final
    cdef void _account_event(self, uint8_t kind, int32_t instrument, int64_t value, int64_t qty) noexcept nogil:
        cdef Event* e = self._emit(kind)
        if e != NULL:
            e.account = self.cmd.account
            e.instrument = instrument
            e.value = value
            e.qty = qty

    @cython.final
    cdef void _instrument_event(self, uint8_t kind, int32_t instrument, int64_t value) noexcept nogil:
        cdef Event* e = self._emit(kind)
        if e != NULL:
            e.instrument = instrument
            e.value = value

    @cython.final
    cdef void _set_instrument_status(self) noexcept nogil:
        cdef const Command* c = self.cmd
        if not self._instrument_ok(False):
            return
        cdef uint8_t was
        if c.status < STATUS_TRADING or c.status > STATUS_CALL:
            self._reject(REJ_BAD_STATUS)
            return
        was = self.params[c.instrument].status
        self.params[c.instrument].status = c.status
        # a taker-select book may rest crossed: only the end of a call uncrosses it
        if (c.status == STATUS_TRADING and (self.params[c.instrument].select_depth == 0 or was == STATUS_CALL)) or (
                was == STATUS_CALL and c.status == STATUS_CLOSED):
            self._uncross(c.instrument)
        if was == STATUS_CALL and c.status != STATUS_CALL:
            self._cancel_where(c.instrument, CONTINUOUS_BOOK, CONTINUOUS_BOOK, DOOM_IOC, -1, CXL_IOC_REMAINDER)
        self._instrument_event(EV_INSTRUMENT_STATUS, c.instrument, c.status)
        if c.status == STATUS_CALL:
            self._emit_indicative(c.instrument)

    # ............................................................ call auctions
    @cython.final
    cdef bint _uncross_price(self, int32_t instrument, int64_t* price, int64_t* volume,
                             int64_t* surplus) noexcept nogil:
        """The price, volume and surplus the continuous book would uncross at; False when it
        would not. The rules are reference._uncross_price's; this walks the crossed levels
        once, in ascending price, keeping only the running best and its ties."""
        cdef BookSide* bids = self._side(instrument, CONTINUOUS_BOOK, SIDE_BUY)
        cdef BookSide* asks = self._side(instrument, CONTINUOUS_BOOK, SIDE_SELL)
        cdef int64_t low, high, p, buy_total = 0, buy_below = 0, sell_upto = 0, bid_here, vol, sur
        cdef int64_t best_vol = 0, best_abs = 0, lowest = 0, highest = 0, nearest = 0, reference
        cdef int32_t bi, ai, n_pos = 0, n_neg = 0, n_ties = 0
        cdef bint candidate
        cdef Level* L
        if bids.n == 0 or asks.n == 0:
            return False
        low = self.levels[asks.levels[asks.n - 1]].price
        high = self.levels[bids.levels[bids.n - 1]].price
        if high < low:
            return False
        reference = self.params[instrument].reference
        bi = bids.n
        while bi > 0 and self.levels[bids.levels[bi - 1]].price >= low:
            bi -= 1
            buy_total += self.levels[bids.levels[bi]].qty
        ai = asks.n - 1
        while bi < bids.n or (ai >= 0 and self.levels[asks.levels[ai]].price <= high):
            p = high + 1
            if bi < bids.n:
                p = self.levels[bids.levels[bi]].price
            if ai >= 0 and self.levels[asks.levels[ai]].price < p:
                p = self.levels[asks.levels[ai]].price
            candidate = False
            bid_here = 0
            if bi < bids.n and self.levels[bids.levels[bi]].price == p:
                L = &self.levels[bids.levels[bi]]
                bid_here = L.qty
                candidate = L.count > L.markets
                bi += 1
            if ai >= 0 and self.levels[asks.levels[ai]].price == p:
                L = &self.levels[asks.levels[ai]]
                sell_upto += L.qty
                candidate = candidate or L.count > L.markets
                ai -= 1
            if candidate:
                vol = min(buy_total - buy_below, sell_upto)
                sur = buy_total - buy_below - sell_upto
                if vol > best_vol or (vol == best_vol and (sur if sur >= 0 else -sur) < best_abs):
                    best_vol = vol
                    best_abs = sur if sur >= 0 else -sur
                    n_ties = n_pos = n_neg = 0
                    lowest = p
                    nearest = p
                if vol == best_vol and (sur if sur >= 0 else -sur) == best_abs:
                    n_ties += 1
                    n_pos += sur > 0
                    n_neg += sur < 0
                    highest = p
                    if (p - reference if p >= reference else reference - p) <= (
                            nearest - reference if nearest >= reference else reference - nearest):
                        nearest = p
            buy_below += bid_here
        if n_ties == 0:
            # only market orders cross: they meet at the reference price
            buy_total = 0
            sell_upto = 0
            for bi in range(bids.n):
                if self.levels[bids.levels[bi]].price >= reference:
                    buy_total += self.levels[bids.levels[bi]].qty
            for ai in range(asks.n):
                if self.levels[asks.levels[ai]].price <= reference:
                    sell_upto += self.levels[asks.levels[ai]].qty
            if buy_total == 0 or sell_upto == 0:
                return False
            price[0] = reference
            volume[0] = min(buy_total, sell_upto)
            surplus[0] = buy_total - sell_upto
            return True
        if n_pos == n_ties:
            price[0] = highest
        elif n_neg == n_ties:
            price[0] = lowest
        else:
            price[0] = nearest
        volume[0] = best_vol
        surplus[0] = best_abs if n_pos == n_ties else (-best_abs if n_neg == n_ties else 0)
        if n_pos != n_ties and n_neg != n_ties and best_abs != 0:
            # mixed signs at one absolute surplus: the chosen price's own surplus
            surplus[0] = self._surplus_at(instrument, nearest)
        return True

    @cython.final
    cdef int64_t _surplus_at(self, int32_t instrument, int64_t price) noexcept nogil:
        """Bids at or above ``price`` less asks at or below it."""
        cdef BookSide* bids = self._side(instrument, CONTINUOUS_BOOK, SIDE_BUY)
        cdef BookSide* asks = self._side(instrument, CONTINUOUS_BOOK, SIDE_SELL)
        cdef int64_t total = 0
        cdef int32_t i
        for i in range(bids.n - 1, -1, -1):
            if self.levels[bids.levels[i]].price < price:
                break
            total += self.levels[bids.levels[i]].qty
        for i in range(asks.n - 1, -1, -1):
            if self.levels[asks.levels[i]].price > price:
                break
            total -= self.levels[asks.levels[i]].qty
        return total

    @cython.final
    cdef void _uncross(self, int32_t instrument) noexcept nogil:
        """Execute the call at one price (reference._uncross): best bid against best ask,
        the later of the two orders the aggressor, until the volume is done."""
        cdef int64_t price, volume, surplus, q
        cdef BookSide* bids = self._side(instrument, CONTINUOUS_BOOK, SIDE_BUY)
        cdef BookSide* asks = self._side(instrument, CONTINUOUS_BOOK, SIDE_SELL)
        cdef slot_t b, a, ag, r, ag_level
        cdef int32_t r_pos, ag_pos
        cdef Order* ob
        cdef Order* oa
        if not self._uncross_price(instrument, &price, &volume, &surplus):
            return
        while volume > 0 and not self.oom:
            b = self.levels[bids.levels[bids.n - 1]].head
            a = self.levels[asks.levels[asks.n - 1]].head
            ob = &self.orders[b]
            oa = &self.orders[a]
            q = min(min(<int64_t>ob.qty, <int64_t>oa.qty), volume)
            if ob.ts > oa.ts or (ob.ts == oa.ts and ob.order_id > oa.order_id):
                ag, ag_pos, r, r_pos = b, bids.n - 1, a, asks.n - 1
                ag_level = bids.levels[ag_pos]
            else:
                ag, ag_pos, r, r_pos = a, asks.n - 1, b, bids.n - 1
                ag_level = asks.levels[ag_pos]
            self._trade(ag, r, q, price, r_pos)
            self._touch_level(ag_level, instrument, CONTINUOUS_BOOK, self.orders[ag].side)
            self.levels[ag_level].qty -= q
            if self.orders[ag].qty == 0:
                self._unlink_at(ag, ag_pos)
                self._free_order(ag)
            volume -= q

    @cython.final
    cdef void _emit_indicative(self, int32_t instrument) noexcept nogil:
        cdef int64_t price = 0, volume = 0, surplus = 0
        cdef Event* e
        self.params[instrument].indicated = self.stamp
        if not self._uncross_price(instrument, &price, &volume, &surplus):
            price = volume = surplus = 0
        e = self._emit(EV_INDICATIVE)
        if e != NULL:
            e.instrument = instrument
            e.price = price
            e.qty = volume
            e.leaves = surplus if surplus >= 0 else -surplus
            e.side = SIDE_BUY if surplus > 0 else (SIDE_SELL if surplus < 0 else 0)

    @cython.final
    cdef void _set_instrument_parameter(self) noexcept nogil:
        """Change one trading parameter from the next command on; a band it moves cancels
        what then rests outside it (matching.codes.InstrumentParameter)."""
        cdef const Command* c = self.cmd
        cdef InstrumentParams* p
        cdef InstrumentParams before
        cdef int64_t v = c.value
        cdef Event* e
        if not self._instrument_ok(False):
            return
        p = &self.params[c.instrument]
        before = p[0]
        if c.status == PARAM_TICK and 0 < v <= MAX_PRICE:
            p.tick = v
        elif c.status == PARAM_LOT and 0 < v <= MAX_QTY:
            p.lot = v
        elif c.status == PARAM_MAX_ORDER_QTY and 0 < v <= MAX_QTY:
            p.max_qty = v
        elif c.status == PARAM_REFERENCE_PRICE and 0 < v <= MAX_PRICE:
            p.reference = v
        elif c.status == PARAM_BAND_BPS and 0 <= v <= 10000:
            p.band_bps = v
        elif c.status == PARAM_BLOCK_BAND_BPS and 0 <= v <= 10000:
            p.block_band_bps = v
        elif c.status == PARAM_BLOCK_MIN_QTY and 0 < v <= MAX_QTY:
            p.block_min = v
        elif c.status == PARAM_MIN_CLOSE_VOLUME and 0 <= v <= MAX_CLOSE_VOLUME:
            p.min_close_volume = v
        elif c.status == PARAM_DYNAMIC_BAND_BPS and 0 <= v <= 10000:
            p.dynamic_band_bps = v
        elif c.status == PARAM_SELECT_DEPTH and 0 <= v <= MAX_SELECT_DEPTH:
            p.select_depth = v
        elif c.status == PARAM_SELECT_FIFO and 0 <= v <= 1:
            p.select_fifo = <uint8_t>v
        elif c.status == PARAM_CER_CAP_BPS and 0 <= v <= 10000:
            p.cer_cap_bps = v
        else:
            self._reject(REJ_BAD_PARAMETER)
            return
        self._recentre(c.instrument, p.reference)
        if p.band_low > p.band_high:               # as at construction: a band must hold a price
            p[0] = before
            self._reject(REJ_BAD_PARAMETER)
            return
        e = self._emit(EV_INSTRUMENT_PARAMETER)
        if e != NULL:
            e.instrument = c.instrument
            e.reason = c.status
            e.value = v
        if c.status == PARAM_SELECT_DEPTH and v == 0 and p.status == STATUS_TRADING:
            self._uncross(c.instrument)             # back to matching: a crossed book trades at once
        if p.band_low != before.band_low or p.band_high != before.band_high:
            self._cancel_where(c.instrument, CONTINUOUS_BOOK, FIXED_BOOK, DOOM_OUTSIDE_BAND, -1, CXL_OUTSIDE_BAND)
        if p.block_low != before.block_low or p.block_high != before.block_high:
            self._cancel_where(c.instrument, BLOCK_BOOK, BLOCK_BOOK, DOOM_OUTSIDE_BLOCK_BAND, -1, CXL_OUTSIDE_BAND)

    @cython.final
    cdef void _add_instrument(self) noexcept nogil:
        """ADD_INSTRUMENT: list a new instrument at the next index, as reference._add_instrument."""
        cdef const Command* c = self.cmd
        cdef char symbol[SYMBOL_BYTES]
        cdef int32_t n = self.n_instruments, i
        cdef InstrumentParams* p
        command_symbol(c, symbol)
        if not symbol_valid(symbol):
            self._reject(REJ_BAD_PARAMETER)
            return
        for i in range(n):
            if memcmp(self.params[i].symbol, symbol, SYMBOL_BYTES) == 0:
                self._reject(REJ_INSTRUMENT_EXISTS)
                return
        if (c.order_type < KIND_ALLOWANCE or c.order_type > KIND_CER
                or c.region < REGION_SC or c.region > REGION_CQ
                or c.status < STATUS_TRADING or c.status > STATUS_CALL
                or c.min_qty < MIN_YEAR or c.min_qty > MAX_YEAR or n >= MAX_INSTRUMENTS):
            self._reject(REJ_BAD_PARAMETER)
            return
        if self._grow_instruments() != 0:
            self.oom = True
            return
        p = &self.params[n]                     # zeroed by _grow_instruments
        memcpy(p.symbol, symbol, SYMBOL_BYTES)
        p.kind = c.order_type
        p.region = c.region
        p.year = c.min_qty
        p.status = c.status
        p.t_plus_one = (c.flags & FLAG_T_PLUS_ONE) != 0
        p.must_take_best = (c.flags & FLAG_MUST_TAKE_BEST) != 0
        p.listings_expire = (c.flags & FLAG_LISTINGS_EXPIRE) != 0
        p.tick = DEFAULT_TICK
        p.lot = DEFAULT_LOT
        p.max_qty = DEFAULT_MAX_QTY
        p.band_bps = DEFAULT_BAND_BPS
        p.block_band_bps = DEFAULT_BLOCK_BAND_BPS
        p.block_min = DEFAULT_BLOCK_MIN
        p.min_close_volume = DEFAULT_MIN_CLOSE_VOLUME
        p.dynamic_band_bps = DEFAULT_DYNAMIC_BAND_BPS
        p.select_depth = DEFAULT_SELECT_DEPTH
        p.select_fifo = DEFAULT_SELECT_FIFO
        p.cer_cap_bps = DEFAULT_CER_CAP_BPS
        self._recentre(n, DEFAULT_REFERENCE)
        self._instrument_event(EV_INSTRUMENT_ADDED, n, c.status)

    @cython.final
    cdef int _grow_instruments(self) noexcept nogil:
        """Make room for one more instrument: every per-instrument array one longer, the new
        entries zeroed, the holdings re-laid out at the new stride. On failure (-1) nothing
        has changed but the size of some allocations."""
        cdef int32_t n = self.n_instruments, m = n + 1, i
        cdef int64_t r
        cdef slot_t* fresh[2 * N_BOOKS]
        cdef BookSide* bs
        cdef void* p
        for i in range(2 * N_BOOKS):
            fresh[i] = <slot_t*>malloc(INITIAL_SIDE_LEVELS * SIDE_ENTRY_BYTES)
            if fresh[i] == NULL:
                while i > 0:
                    i -= 1
                    free(fresh[i])
                return -1
        # Each array keeps one spare entry, as the constructor allocates them.
        p = grow(self.sides, 2 * N_BOOKS * m + 1, sizeof(BookSide))
        if p != NULL:
            self.sides = <BookSide*>p
            p = grow(self.params, m + 1, sizeof(InstrumentParams))
        if p != NULL:
            self.params = <InstrumentParams*>p
            p = grow(self.days, m + 1, sizeof(Day))
        if p != NULL:
            self.days = <Day*>p
            p = grow(self.auctions, m + 1, sizeof(Auction))
        if p != NULL:
            self.auctions = <Auction*>p
            p = grow(self.net_credits, m + 1, sizeof(int64_t))
        if p != NULL:
            self.net_credits = <int64_t*>p
            p = grow(self.retired, m + 1, sizeof(int64_t))
        if p != NULL:
            self.retired = <int64_t*>p
            p = grow(self.holdings, <int64_t>self.holdings_cap * (m + 1), sizeof(Holding))
        if p == NULL:
            for i in range(2 * N_BOOKS):
                free(fresh[i])
            return -1
        self.holdings = <Holding*>p
        for i in range(2 * N_BOOKS):
            bs = &self.sides[2 * N_BOOKS * n + i]
            bs.levels = fresh[i]
            bs.keys = <int32_t*>(fresh[i] + INITIAL_SIDE_LEVELS)
            bs.n = 0
            bs.cap = INITIAL_SIDE_LEVELS
        # account-major: row r, instrument i at r * n_instruments + i. Row r moves up by r
        # entries; from the last row down, no row is overwritten before it has moved.
        r = self.holdings_rows - 1
        while r >= 0:
            memmove(&self.holdings[r * m], &self.holdings[r * n], n * sizeof(Holding))
            memset(&self.holdings[r * m + n], 0, sizeof(Holding))
            r -= 1
        memset(&self.params[n], 0, sizeof(InstrumentParams))
        memset(&self.days[n], 0, sizeof(Day))
        memset(&self.auctions[n], 0, sizeof(Auction))
        self.net_credits[n] = 0
        self.retired[n] = 0
        self.n_instruments = m
        return 0

    @cython.final
    cdef void _cancel_all(self) noexcept nogil:
        """The operator's mass cancel; auction bids are irrevocable and stay."""
        cdef const Command* c = self.cmd
        if not self._instrument_ok(True):
            return
        if c.account != -1 and (c.account < 0 or c.account >= self.max_accounts):
            self._reject(REJ_UNKNOWN_ACCOUNT)
            return
        self._cancel_where(c.instrument, CONTINUOUS_BOOK, BLOCK_BOOK, DOOM_MASS, c.account, CXL_OPERATOR)

    @cython.final
    cdef void _set_block_window(self) noexcept nogil:
        cdef const Command* c = self.cmd
        if not self._instrument_ok(False):
            return
        if c.status > 1:
            self._reject(REJ_BAD_STATUS)
            return
        self.params[c.instrument].block_window = c.status
        self._instrument_event(EV_BLOCK_WINDOW, c.instrument, c.status)
        if not c.status:
            self._cancel_where(c.instrument, BLOCK_BOOK, BLOCK_BOOK, DOOM_ALL, -1, CXL_EXPIRY)

    @cython.final
    cdef void _set_account_stp(self) noexcept nogil:
        cdef const Command* c = self.cmd
        if c.account < 0 or c.account >= self.max_accounts:
            self._reject(REJ_UNKNOWN_ACCOUNT)
            return
        if c.stp < STP_OFF or c.stp > STP_CANCEL_BOTH:
            self._reject(REJ_BAD_STP_MODE)
            return
        if self._ensure_account(c.account) != 0:
            return
        self.accounts[c.account].stp = c.stp
        self._account_event(EV_ACCOUNT_UPDATED, 0, c.stp, 0)

    @cython.final
    cdef void _set_fee_rebate(self) noexcept nogil:
        """SET_FEE_REBATE (see ``reference._set_fee_rebate``): buys keep holding at the market's fee."""
        cdef const Command* c = self.cmd
        if c.account < 0 or c.account >= self.max_accounts:
            self._reject(REJ_UNKNOWN_ACCOUNT)
            return
        if c.status < 1 or c.status >= N_TRADE_TYPES or c.value < 0 or c.value > MAX_FEE_BPS:
            self._reject(REJ_BAD_PARAMETER)
            return
        if self._ensure_account(c.account) != 0:
            return
        self.accounts[c.account].rebate_bps[c.status] = <uint16_t>c.value
        cdef Event* e = self._emit(EV_ACCOUNT_UPDATED)
        if e != NULL:
            e.account = c.account
            e.trade_type = c.status
            e.value = c.value

    @cython.final
    cdef void _fine(self) noexcept nogil:
        """FINE (see ``reference._fine``)."""
        cdef const Command* c = self.cmd
        cdef Account* a = self._created_account()
        cdef int64_t due, paid
        cdef Event* e
        if a == NULL:
            return
        if c.status < 1 or c.status > MAX_FINE_REASON:
            self._reject(REJ_BAD_PARAMETER)
            return
        if c.value < 0 or c.value > MAX_CASH - a.fines_owed or (c.value == 0 and a.fines_owed == 0):
            self._reject(REJ_BAD_AMOUNT)
            return
        due = a.fines_owed + c.value
        paid = due if due < a.cash_available else a.cash_available
        a.cash_available -= paid
        a.fines_owed = due - paid
        self.fines_collected += paid
        e = self._emit(EV_FINED)
        if e != NULL:
            e.account = c.account
            e.instrument = -1
            e.value = c.value
            e.qty = paid
            e.leaves = a.fines_owed
            e.order_id = c.order_id
            e.reason = c.status

    cdef inline bint _doomed(self, Order* o, uint8_t mode, int32_t account) noexcept nogil:
        if mode == DOOM_ALL:
            return True
        if mode == DOOM_DAY:
            return o.tif == TIF_DAY
        if mode == DOOM_END_OF_DAY:
            return ((o.order_type == OT_FIXED_LISTING and self.params[o.instrument].listings_expire)
                    or o.order_type == OT_BLOCK_QUOTE or (o.order_type == OT_LIMIT and o.tif == TIF_DAY))
        if mode == DOOM_OUTSIDE_BAND:
            return o.price < self.params[o.instrument].band_low or o.price > self.params[o.instrument].band_high
        if mode == DOOM_OUTSIDE_BLOCK_BAND:
            return o.price < self.params[o.instrument].block_low or o.price > self.params[o.instrument].block_high
        if mode == DOOM_ACCOUNT:
            return o.account == account
        if mode == DOOM_IOC:
            return o.tif == TIF_IOC
        if mode == DOOM_MASS:
            return ((account == -1 or o.account == account)
                    and (self.cmd.member == -1 or (self._exists(o.account)
                                                   and self.accounts[o.account].member == self.cmd.member)))
        return o.account == account and o.side == SIDE_BUY          # DOOM_ACCOUNT_BUYS

    @cython.final
    cdef void _cancel_where(self, int32_t instrument, uint8_t first_book, uint8_t last_book, uint8_t mode,
                            int32_t account, uint16_t reason) noexcept nogil:
        """Cancel, in canonical book order, the resting orders of one instrument (all for
        ALL_INSTRUMENTS) in books first..last that ``mode`` dooms."""
        cdef int32_t first = instrument, last = instrument, i, n = 0
        cdef uint8_t side, book
        cdef BookSide* bs
        cdef slot_t r
        cdef slot_t* doomed
        if instrument == ALL_INSTRUMENTS:
            first = 0
            last = self.n_instruments - 1
        doomed = <slot_t*>malloc((self.live_orders + 1) * sizeof(slot_t))
        if doomed == NULL:
            self.oom = True
            return
        for instrument in range(first, last + 1):
            for book in range(first_book, last_book + 1):
                for side in range(SIDE_BUY, SIDE_SELL + 1):
                    bs = self._side(instrument, book, side)
                    for i in range(bs.n - 1, -1, -1):
                        r = self.levels[bs.levels[i]].head
                        while r != -1:
                            if self._doomed(&self.orders[r], mode, account):
                                doomed[n] = r
                                n += 1
                            r = self.orders[r].next
        for i in range(n):
            self._cancel_resting(doomed[i], reason)
        free(doomed)

    @cython.final
    cdef void _expire_day_orders(self) noexcept nogil:
        if self._instrument_ok(False):
            self._cancel_where(self.cmd.instrument, CONTINUOUS_BOOK, CONTINUOUS_BOOK, DOOM_DAY, -1,
                               CXL_EXPIRY)

    @cython.final
    cdef void _end_of_day(self) noexcept nogil:
        """Close the day of one or all instruments, in the order reference._end_of_day states."""
        cdef int32_t first = self.cmd.instrument, last = self.cmd.instrument, n, t
        cdef InstrumentParams* p
        cdef Day* day
        cdef Event* e
        cdef int64_t previous, volume, amount, close, opening, reference
        if not self._instrument_ok(True):
            return
        if first == ALL_INSTRUMENTS:
            first = 0
            last = self.n_instruments - 1
        for n in range(first, last + 1):
            p = &self.params[n]
            day = &self.days[n]
            self._cancel_where(n, CONTINUOUS_BOOK, BLOCK_BOOK, DOOM_END_OF_DAY, -1, CXL_EXPIRY)
            previous = p.reference
            volume = day.volume[TT_CONTINUOUS] + day.volume[TT_FIXED]
            amount = day.amount[TT_CONTINUOUS] + day.amount[TT_FIXED]
            close = reference = previous
            if volume > p.min_close_volume:              # at most the threshold: the previous close stands
                close = (2 * amount + volume) // (2 * volume)
                # the next reference is the close on the tick (half up): a band always holds it
                reference = (2 * close + p.tick) // (2 * p.tick) * p.tick
            opening = day.open if day.open else previous
            e = self._emit(EV_DAILY_STATS)
            if e != NULL:
                e.instrument = n
                e.price = close
                e.value = previous
                e.open = opening
                e.high = day.high if day.high else opening
                e.low = day.low if day.low else opening
                e.qty = volume
                e.leaves = self.net_credits[n]
                e.count = <int32_t>self.cmd.value if 0 < self.cmd.value <= INT32_MAX else 0
            for t in range(TT_CONTINUOUS, N_TRADE_TYPES):
                e = self._emit(EV_DAILY_VOLUME)
                if e != NULL:
                    e.instrument = n
                    e.trade_type = t
                    e.qty = day.volume[t]
                    e.value = day.amount[t]
            self._recentre(n, reference)
            # listings that do not expire stay only inside the new band: none trades outside it
            self._cancel_where(n, CONTINUOUS_BOOK, FIXED_BOOK, DOOM_OUTSIDE_BAND, -1, CXL_OUTSIDE_BAND)
            self._release_units(n, n)
            memset(day, 0, sizeof(Day))

    @cython.final
    cdef void _create_account(self) noexcept nogil:
        cdef const Command* c = self.cmd
        cdef Account* a
        cdef void* p
        cdef int32_t cap
        if c.account < 0 or c.account >= self.max_accounts:
            self._reject(REJ_UNKNOWN_ACCOUNT)
            return
        if self._exists(c.account):
            self._reject(REJ_ACCOUNT_EXISTS)
            return
        if c.region != REGION_SC and c.region != REGION_CQ:
            self._reject(REJ_BAD_REGION)
            return
        if c.sector < SECTOR_FIRST or c.sector > SECTOR_LAST:
            self._reject(REJ_BAD_SECTOR)
            return
        if self._ensure_account(c.account) != 0:
            return
        a = &self.accounts[c.account]
        if self.holdings_rows == self.holdings_cap:
            cap = self.holdings_cap * 2
            p = grow(self.holdings, <int64_t>cap * (self.n_instruments + 1), sizeof(Holding))
            if p == NULL:
                self.oom = True
                return
            self.holdings = <Holding*>p
            self.holdings_cap = cap
        a.holdings = self.holdings_rows
        self.holdings_rows += 1
        memset(self._holding(c.account, 0), 0, self.n_instruments * sizeof(Holding))
        a.exists = True
        a.member = c.member
        a.region = c.region
        a.sector = c.sector
        a.status = ACCT_ACTIVE
        a.cash_available = 0
        a.cash_frozen = 0
        self._account_event(EV_ACCOUNT_UPDATED, 0, ACCT_ACTIVE, 0)

    @cython.final
    cdef void _set_account_status(self) noexcept nogil:
        cdef Account* a = self._created_account()
        cdef uint8_t status = self.cmd.status
        if a == NULL:
            return
        if status < ACCT_ACTIVE or status > ACCT_SUSPENDED:
            self._reject(REJ_BAD_STATUS)
            return
        a.status = status
        self._account_event(EV_ACCOUNT_UPDATED, 0, status, 0)
        if status != ACCT_ACTIVE:
            self._cancel_where(ALL_INSTRUMENTS, CONTINUOUS_BOOK, AUCTION_BOOK,
                               DOOM_ACCOUNT_BUYS if status == ACCT_SELL_ONLY else DOOM_ACCOUNT,
                               self.cmd.account, CXL_SANCTION)

    @cython.final
    cdef void _move_cash(self) noexcept nogil:
        """DEPOSIT or WITHDRAW ``value`` fen."""
        cdef Account* a = self._created_account()
        cdef int64_t amount = self.cmd.value
        if a == NULL:
            return
        if self.cmd.type == CMD_DEPOSIT:
            if amount <= 0 or amount > MAX_CASH - a.cash_available - a.cash_frozen:
                self._reject(REJ_BAD_AMOUNT)
                return
        else:
            if amount <= 0 or amount > MAX_CASH:
                self._reject(REJ_BAD_AMOUNT)
                return
            if amount > a.cash_available:
                self._reject(REJ_INSUFFICIENT_CASH)
                return
            amount = -amount
        a.cash_available += amount
        self.net_deposits += amount
        self._account_event(EV_BALANCE, -1, amount, 0)

    @cython.final
    cdef void _move_units(self) noexcept nogil:
        """CREDIT_HOLDINGS or DEBIT_HOLDINGS ``qty`` units, non-tradable ones with flag 1."""
        cdef Account* a = self._created_account()
        cdef Holding* h
        cdef int64_t qty = self.cmd.qty
        cdef int64_t* bucket
        if a == NULL or not self._instrument_ok(False):
            return
        h = self._holding(self.cmd.account, self.cmd.instrument)
        bucket = &h.non_tradable if self.cmd.flags & FLAG_NON_TRADABLE else &h.available
        if self.cmd.type == CMD_CREDIT_HOLDINGS:
            if qty <= 0 or qty > MAX_HOLDING - (h.available + h.frozen + h.locked + h.non_tradable):
                self._reject(REJ_BAD_AMOUNT)
                return
        else:
            if qty <= 0 or qty > MAX_HOLDING:
                self._reject(REJ_BAD_AMOUNT)
                return
            if qty > bucket[0]:
                self._reject(REJ_INSUFFICIENT_HOLDINGS)
                return
            qty = -qty
        bucket[0] += qty
        self.net_credits[self.cmd.instrument] += qty
        self._account_event(EV_BALANCE, self.cmd.instrument, 0, qty)

    @cython.final
    cdef void _set_position_bound(self) noexcept nogil:
        """SET_RETENTION_FLOOR, SET_POSITION_LIMIT or SET_OBLIGATION to ``qty``."""
        cdef Account* a = self._created_account()
        cdef Holding* h
        cdef int64_t qty = self.cmd.qty
        if a == NULL or not self._instrument_ok(False):
            return
        if qty < 0 or qty > MAX_HOLDING:
            self._reject(REJ_BAD_AMOUNT)
            return
        h = self._holding(self.cmd.account, self.cmd.instrument)
        if self.cmd.type == CMD_SET_RETENTION_FLOOR:
            h.floor = qty
        elif self.cmd.type == CMD_SET_POSITION_LIMIT:
            h.limit = qty
        else:
            h.obligation = qty
        self._account_event(EV_ACCOUNT_UPDATED, self.cmd.instrument, 0, qty)

    @cython.final
    cdef Surrender* _surrender_record(self, int32_t account, int32_t instrument) noexcept nogil:
        """The account's surrender record for the allowance, made (zero) if it has none; NULL
        when out of memory. Surrenders are rare (an account's, once a compliance period): a
        linear search."""
        cdef int32_t i
        cdef void* p
        for i in range(self.n_surrenders):
            if self.surrenders[i].account == account and self.surrenders[i].instrument == instrument:
                return &self.surrenders[i]
        if self.n_surrenders == self.surrenders_cap:
            p = grow(self.surrenders, 2 * self.surrenders_cap + 8, sizeof(Surrender))
            if p == NULL:
                self.oom = True
                return NULL
            self.surrenders = <Surrender*>p
            self.surrenders_cap = 2 * self.surrenders_cap + 8
        i = self.n_surrenders
        self.n_surrenders += 1
        memset(&self.surrenders[i], 0, sizeof(Surrender))
        self.surrenders[i].account = account
        self.surrenders[i].instrument = instrument
        return &self.surrenders[i]

    @cython.final
    cdef void _surrender(self) noexcept nogil:
        """SURRENDER (see ``reference._surrender``)."""
        cdef const Command* c = self.cmd
        cdef Account* a = self._created_account()
        cdef int64_t target = c.value, qty = c.qty, from_nt, done_units = 0, done_cer = 0
        cdef Holding* h
        cdef Holding* obliged
        cdef Surrender* record
        cdef bint cer
        cdef int32_t i
        cdef Event* e
        if a == NULL or not self._instrument_ok(False):
            return
        if target < 0 or target >= self.n_instruments:
            self._reject(REJ_UNKNOWN_INSTRUMENT)
            return
        cer = self.params[c.instrument].kind == KIND_CER
        if self.params[target].kind != KIND_ALLOWANCE or (not cer and target != c.instrument):
            self._reject(REJ_BAD_PARAMETER)
            return
        if qty <= 0 or qty > MAX_HOLDING:
            self._reject(REJ_BAD_AMOUNT)
            return
        h = self._holding(c.account, c.instrument)
        obliged = self._holding(c.account, <int32_t>target)
        if qty > obliged.obligation:
            self._reject(REJ_EXCEEDS_REMAINING)
            return
        for i in range(self.n_surrenders):
            if self.surrenders[i].account == c.account and self.surrenders[i].instrument == target:
                done_units = self.surrenders[i].units
                done_cer = self.surrenders[i].cer
        if cer and (done_cer + qty) * 10000 > self.params[target].cer_cap_bps * (obliged.obligation + done_units):
            self._reject(REJ_CER_CAP)
            return
        if qty > h.non_tradable + h.available:
            self._reject(REJ_INSUFFICIENT_HOLDINGS)
            return
        record = self._surrender_record(c.account, <int32_t>target)
        if record == NULL:
            return
        from_nt = qty if qty < h.non_tradable else h.non_tradable
        h.non_tradable -= from_nt
        h.available -= qty - from_nt
        obliged.obligation -= qty
        record.units += qty
        if cer:
            record.cer += qty
        self.net_credits[c.instrument] -= qty
        self.retired[c.instrument] += qty
        e = self._emit(EV_SURRENDERED)
        if e != NULL:
            e.account = c.account
            e.instrument = c.instrument
            e.qty = qty
            e.value = target
            e.leaves = obliged.obligation

    @cython.final
    cdef void _release_t1(self) noexcept nogil:
        cdef int32_t first = self.cmd.instrument, last = self.cmd.instrument
        if not self._instrument_ok(True):
            return
        if first == ALL_INSTRUMENTS:
            first = 0
            last = self.n_instruments - 1
        self._release_units(first, last)

    @cython.final
    cdef void _release_units(self, int32_t first, int32_t last) noexcept nogil:
        """Make units bought today sellable, account by account."""
        cdef int32_t account, n
        cdef Holding* h
        cdef Event* e
        for account in range(self.accounts_cap):
            if not self.accounts[account].exists:
                continue
            for n in range(first, last + 1):
                h = self._holding(account, n)
                if h.locked:
                    e = self._emit(EV_BALANCE)
                    if e != NULL:
                        e.account = account
                        e.instrument = n
                        e.qty = h.locked
                    h.available += h.locked
                    h.locked = 0

    # ........................................................... auctions
    @cython.final
    cdef void _auction_open(self) noexcept nogil:
        """AUCTION_OPEN: one open auction per instrument; the initiator's lot is held."""
        cdef const Command* c = self.cmd
        cdef InstrumentParams* p
        cdef Auction* auc
        cdef uint16_t reason
        cdef bint primary = c.flags & FLAG_PRIMARY
        cdef slot_t s
        cdef int32_t i
        if c.instrument < 0 or c.instrument >= self.n_instruments:
            self._reject(REJ_UNKNOWN_INSTRUMENT)
            return
        p = &self.params[c.instrument]
        auc = &self.auctions[c.instrument]
        if not self._account_known(c.account):
            self._reject(REJ_UNKNOWN_ACCOUNT)
            return
        if p.status == STATUS_HALTED:
            self._reject(REJ_INSTRUMENT_HALTED)
            return
        if auc.active:
            self._reject(REJ_AUCTION_IN_PROGRESS)
            return
        if (c.side != SIDE_BUY and c.side != SIDE_SELL) or (primary and c.side != SIDE_SELL):
            self._reject(REJ_BAD_SIDE)
            return
        reason = self._check_qty(p, c.qty, MAX_QTY)
        if reason == 0 and not (0 < c.min_qty <= c.qty and c.min_qty % p.lot == 0
                                and (c.value == 0 or c.min_qty <= c.value <= MAX_QTY)):
            reason = REJ_BAD_QUANTITY
        if reason == 0:
            reason = self._check_price(p, c.price, p.tick, 2 * MAX_PRICE)
        if reason == 0 and not 0 <= c.contra_account <= 10000:
            reason = REJ_BAD_PRICE
        if reason:
            self._reject(reason)
            return
        s = self._new_slot(c, OT_AUCTION_LOT, c.side, c.price, c.qty, TIF_GTC, STP_OFF, 0, 0)
        self.orders[s].client_order_id = 0
        if not primary:
            reason = self._risk_reason(&self.orders[s])
            if reason:
                self._reject(reason)
                return
        self._alloc_order()
        self.orders[s].next = -1
        self.next_order_id += 1
        if primary:
            self.orders[s].qty += <int32_t>auc.rollover[0]
            for i in range(ROLLOVER_AUCTIONS - 1):
                auc.rollover[i] = auc.rollover[i + 1]
            auc.rollover[ROLLOVER_AUCTIONS - 1] = 0
        else:
            self._hold(&self.orders[s], 0, 0)
        auc.active = True
        auc.lot = s
        auc.volume = self.orders[s].qty
        auc.min_bid = c.min_qty
        auc.cap = c.value
        auc.cancel_bps = c.contra_account
        auc.seed = c.client_order_id
        auc.flags = c.flags
        auc.n_eligible = 0
        self._emit_order(EV_ACCEPTED, s, auc.volume, auc.volume, 0, auc.seed)

    @cython.final
    cdef Auction* _find_auction(self) noexcept nogil:
        cdef int32_t n
        for n in range(self.n_instruments):
            if self.auctions[n].active and self.orders[self.auctions[n].lot].order_id == self.cmd.order_id:
                return &self.auctions[n]
        self._reject(REJ_NO_AUCTION)
        return NULL

    @cython.final
    cdef bint _eligible(self, Auction* auc, int32_t account) noexcept nogil:
        cdef int32_t i
        for i in range(auc.n_eligible):
            if auc.eligible[i] == account:
                return True
        return False

    @cython.final
    cdef int _add_eligible(self, Auction* auc, int32_t account) noexcept nogil:
        cdef void* p
        if auc.n_eligible == auc.eligible_cap:
            p = grow(auc.eligible, 2 * auc.eligible_cap + 8, sizeof(int32_t))
            if p == NULL:
                return -1
            auc.eligible = <int32_t*>p
            auc.eligible_cap = 2 * auc.eligible_cap + 8
        auc.eligible[auc.n_eligible] = account
        auc.n_eligible += 1
        return 0

    @cython.final
    cdef void _auction_eligible(self) noexcept nogil:
        cdef Auction* auc = self._find_auction()
        cdef Event* e
        if auc == NULL:
            return
        if self.cmd.account < 0 or self.cmd.account >= self.max_accounts:
            self._reject(REJ_UNKNOWN_ACCOUNT)
            return
        if not self._eligible(auc, self.cmd.account) and self._add_eligible(auc, self.cmd.account) != 0:
            self.oom = True
            return
        e = self._emit(EV_ACCOUNT_UPDATED)
        if e != NULL:
            e.account = self.cmd.account
            e.order_id = self.orders[auc.lot].order_id
            e.value = 1

    @cython.final
    cdef int64_t _shortfall(self, int32_t account, int32_t instrument) noexcept nogil:
        """What the account lacks of its compliance obligation (0 for an uncreated one)."""
        cdef Holding* h
        cdef int64_t lack
        if not self._exists(account):
            return 0
        h = self._holding(account, instrument)
        lack = h.obligation - (h.available + h.frozen + h.locked + h.non_tradable)
        return lack if lack > 0 else 0

    @cython.final
    cdef int64_t _bids_of(self, int32_t instrument, int32_t account) noexcept nogil:
        """The quantity ``account`` has bid in the instrument's open auction."""
        cdef int64_t total = 0
        cdef uint8_t side
        cdef int32_t i
        cdef BookSide* bs
        cdef slot_t r
        for side in range(SIDE_BUY, SIDE_SELL + 1):
            bs = self._side(instrument, AUCTION_BOOK, side)
            for i in range(bs.n):
                r = self.levels[bs.levels[i]].head
                while r != -1:
                    if self.orders[r].account == account:
                        total += self.orders[r].qty
                    r = self.orders[r].next
        return total

    @cython.final
    cdef void _auction_bid(self) noexcept nogil:
        """AUCTION_BID: sealed (no depth), irrevocable, at the reserve or better."""
        cdef const Command* c = self.cmd
        cdef Auction* auc = self._find_auction()
        cdef Order* lot
        cdef InstrumentParams* p
        cdef uint16_t reason
        cdef slot_t s
        cdef int64_t total
        if auc == NULL:
            return
        lot = &self.orders[auc.lot]
        p = &self.params[lot.instrument]
        if not self._account_known(c.account):
            self._reject(REJ_UNKNOWN_ACCOUNT)
            return
        if p.status == STATUS_HALTED:
            self._reject(REJ_INSTRUMENT_HALTED)
            return
        if c.account == lot.account:
            self._reject(REJ_SELF_TAKE)
            return
        if auc.n_eligible and not self._eligible(auc, c.account):
            self._reject(REJ_NOT_ELIGIBLE)
            return
        reason = self._check_qty(p, c.qty, MAX_QTY)
        if reason == 0 and c.qty < auc.min_bid:
            reason = REJ_BELOW_MINIMUM
        if reason == 0:
            reason = self._check_price(p, c.price, p.tick, 2 * MAX_PRICE)
        if reason:
            self._reject(reason)
            return
        if not crosses(opposite(lot.side), c.price, lot.price):
            self._reject(REJ_BELOW_RESERVE)
            return
        if auc.cap or auc.flags & FLAG_CAP_SHORTFALL:
            total = c.qty + self._bids_of(lot.instrument, c.account)
            if (auc.cap and total > auc.cap) or (auc.flags & FLAG_CAP_SHORTFALL
                                                 and total > self._shortfall(c.account, lot.instrument)):
                self._reject(REJ_BIDDER_CAP)
                return
        s = self._new_slot(c, OT_AUCTION_BID, opposite(lot.side), c.price, c.qty, TIF_GTC, STP_OFF, 0, 0)
        self.orders[s].instrument = lot.instrument
        self._admit_and_rest(s)

    @cython.final
    cdef void _auction_close(self) noexcept nogil:
        """AUCTION_CLOSE: clear the open auction as reference._auction_close states."""
        cdef int32_t n = self.cmd.instrument, i, j, first
        cdef Auction* auc
        cdef Order* lot
        cdef InstrumentParams* p
        cdef BookSide* bs
        cdef RankedBid* ranked
        cdef slot_t r
        cdef int64_t count = 0, bid_volume = 0, remaining, q, clearing = 0, sold = 0, lots, extra, n_fills = 0
        cdef uint8_t outcome
        cdef bint primary
        cdef Event* e
        if not self._instrument_ok(False):
            return
        auc = &self.auctions[n]
        if not auc.active:
            self._reject(REJ_NO_AUCTION)
            return
        lot = &self.orders[auc.lot]
        p = &self.params[n]
        primary = auc.flags & FLAG_PRIMARY
        bs = self._side(n, AUCTION_BOOK, opposite(lot.side))
        ranked = <RankedBid*>malloc((self.live_orders + 1) * sizeof(RankedBid))
        if ranked == NULL:
            self.oom = True
            return
        for i in range(bs.n - 1, -1, -1):
            first = count
            r = self.levels[bs.levels[i]].head
            while r != -1:
                ranked[count].slot = r
                ranked[count].position = count
                ranked[count].key = splitmix64(<uint64_t>(auc.seed ^ self.orders[r].order_id))
                bid_volume += self.orders[r].qty
                count += 1
                r = self.orders[r].next
            if auc.flags & FLAG_RANDOM_TIES:
                qsort(&ranked[first], count - first, sizeof(RankedBid), compare_ranked)
        remaining = auc.volume
        for i in range(count):
            if remaining == 0:
                break
            q = self.orders[ranked[i].slot].qty
            remaining -= q if q < remaining else remaining
            clearing = self.orders[ranked[i].slot].price
            n_fills += 1
        if bid_volume >= auc.volume:
            outcome = OUT_CLEARED
            if primary and auc.cancel_bps and clearing * 10000 < p.reference * (10000 - auc.cancel_bps):
                outcome = OUT_CANCELLED_PRICE
        elif primary:
            outcome = OUT_CANCELLED_VOLUME
        elif auc.flags & FLAG_FAIL_UNDERSUBSCRIBED:
            outcome = OUT_FAILED
        else:
            outcome = OUT_UNDERSUBSCRIBED
        if outcome == OUT_CLEARED or outcome == OUT_UNDERSUBSCRIBED:
            sold = auc.volume - remaining
        if sold and primary:
            lot.qty = <int32_t>sold            # the issuer creates what it sells
            if self.risk:
                self._holding(lot.account, n).frozen += sold
                self.net_credits[n] += sold
        if sold:
            remaining = sold
            for i in range(n_fills):
                r = ranked[i].slot
                q = self.orders[r].qty if self.orders[r].qty < remaining else remaining
                remaining -= q
                self._trade(auc.lot, r, q, self.orders[r].price if auc.flags & FLAG_PAY_AS_BID else clearing, -1)
        for i in range(count):
            r = ranked[i].slot
            # a filled bid's slot is free (not resting) and may not be reused within this loop
            if self.orders[r].prev != NOT_RESTING and self.orders[r].order_type == OT_AUCTION_BID:
                self._cancel_resting(r, CXL_AUCTION)
        free(ranked)
        if outcome == OUT_CANCELLED_PRICE or outcome == OUT_CANCELLED_VOLUME:
            lots = auc.volume // p.lot // ROLLOVER_AUCTIONS
            extra = auc.volume // p.lot % ROLLOVER_AUCTIONS
            for j in range(ROLLOVER_AUCTIONS):
                auc.rollover[j] += (lots + (1 if j < extra else 0)) * p.lot
        e = self._emit(EV_AUCTION_RESULT)
        if e != NULL:
            e.instrument = n
            e.order_id = lot.order_id
            e.account = lot.account
            e.side = lot.side
            e.reason = outcome
            e.price = clearing
            e.qty = sold
            e.leaves = auc.volume - sold
            e.value = bid_volume
            e.count = <int32_t>count
        if primary:
            lot.qty = 0                        # nothing was held for it
        else:
            self._set_leaves(lot, 0)
        self._free_order(auc.lot)
        auc.active = False
        auc.n_eligible = 0

    @cython.final
    cdef int _run(self, const Command* cmds, int64_t n) noexcept nogil:
        cdef int64_t i
        cdef slot_t s
        for i in range(n):
            if self._reserve() != 0:
                return -1
            # In a book larger than the caches the order a cancel, reduce or replace names is
            # a cache miss, behind another for its index entry, and its queue neighbours are
            # more: start loading them for the coming commands, each line a command before
            # the one that needs it. Hints only: no command reads what is read here.
            if self.live_orders >= PREFETCH_ORDERS:
                if i + 3 < n and names_order(cmds[i + 3].type):
                    chuanyu_prefetch(&self.index[hash_id(cmds[i + 3].order_id, self.index_bits)])
                if i + 2 < n and names_order(cmds[i + 2].type):
                    s = self.index[hash_id(cmds[i + 2].order_id, self.index_bits)]
                    if s != -1:
                        chuanyu_prefetch(&self.orders[s])
                if i + 1 < n and names_order(cmds[i + 1].type):
                    s = self.index[hash_id(cmds[i + 1].order_id, self.index_bits)]
                    if s != -1 and self.orders[s].prev >= 0:
                        chuanyu_prefetch(&self.orders[self.orders[s].prev])
                    if s != -1 and self.orders[s].next >= 0:
                        chuanyu_prefetch(&self.orders[self.orders[s].next])
            self.cmd = &cmds[i]
            if self.cmd.ts > self.clock:
                self.clock = self.cmd.ts
            self._next_stamp()
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
            elif self.cmd.type == CMD_SET_FEE_REBATE:
                self._set_fee_rebate()
            elif self.cmd.type == CMD_SURRENDER:
                self._surrender()
            elif self.cmd.type == CMD_FINE:
                self._fine()
            elif self.cmd.type == CMD_SET_INSTRUMENT_PARAMETER:
                self._set_instrument_parameter()
            elif self.cmd.type == CMD_CANCEL_ALL:
                self._cancel_all()
            elif self.cmd.type == CMD_EXPIRE_DAY_ORDERS:
                self._expire_day_orders()
            elif self.cmd.type == CMD_CREATE_ACCOUNT:
                self._create_account()
            elif self.cmd.type == CMD_SET_ACCOUNT_STATUS:
                self._set_account_status()
            elif self.cmd.type == CMD_DEPOSIT or self.cmd.type == CMD_WITHDRAW:
                self._move_cash()
            elif self.cmd.type == CMD_CREDIT_HOLDINGS or self.cmd.type == CMD_DEBIT_HOLDINGS:
                self._move_units()
            elif (self.cmd.type == CMD_SET_RETENTION_FLOOR or self.cmd.type == CMD_SET_POSITION_LIMIT
                    or self.cmd.type == CMD_SET_OBLIGATION):
                self._set_position_bound()
            elif self.cmd.type == CMD_RELEASE_T1:
                self._release_t1()
            elif self.cmd.type == CMD_LIST_FIXED:
                self._post(OT_FIXED_LISTING)
            elif self.cmd.type == CMD_BLOCK_QUOTE:
                self._post(OT_BLOCK_QUOTE)
            elif self.cmd.type == CMD_TAKE_FIXED or self.cmd.type == CMD_BLOCK_ACCEPT:
                self._take()
            elif self.cmd.type == CMD_SET_BLOCK_WINDOW:
                self._set_block_window()
            elif self.cmd.type == CMD_END_OF_DAY:
                self._end_of_day()
            elif self.cmd.type == CMD_AUCTION_OPEN:
                self._auction_open()
            elif self.cmd.type == CMD_AUCTION_BID:
                self._auction_bid()
            elif self.cmd.type == CMD_AUCTION_ELIGIBLE:
                self._auction_eligible()
            elif self.cmd.type == CMD_AUCTION_CLOSE:
                self._auction_close()
            elif self.cmd.type == CMD_ADD_INSTRUMENT:
                self._add_instrument()
            else:
                self._reject(REJ_UNKNOWN_COMMAND)
            self._flush_depth()
            if self.oom:
                return -1
        return 0

    # ------------------------------------------------------- the boundary
    @cython.final
    cdef object _new_event_array(self, int64_t n):
        cdef cnp.npy_intp dims[1]
        dims[0] = n
        Py_INCREF(_EVENT_DESCR)     # PyArray_NewFromDescr steals a reference
        return PyArray_NewFromDescr(&PyArray_Type, <cnp.PyArray_Descr*>_EVENT_DESCR, 1, dims, NULL, NULL, 0, NULL)

    @cython.final
    cdef object _hand_over_events(self):
        """The C buffer itself as the result array, without a copy: the array frees it.

        Copying a large run's events into a fresh array costs as much as matching them
        (every row written twice, and the copy's pages faulted in), so the buffer changes
        hands and the next run starts another (the spare, if there is one). The rows past
        the events were never written, so on Linux they take no memory.
        """
        cdef int64_t n = self.n_events
        cdef cnp.npy_intp dims[1]
        dims[0] = n
        Py_INCREF(_EVENT_DESCR)     # PyArray_NewFromDescr steals a reference
        out = PyArray_NewFromDescr(&PyArray_Type, <cnp.PyArray_Descr*>_EVENT_DESCR, 1, dims, NULL,
                                   self.events, cnp.NPY_ARRAY_CARRAY, NULL)
        owner = PyCapsule_New(self.events, NULL, _recycle_events)
        PyCapsule_SetContext(owner, <void*><size_t>(self.events_cap * sizeof(Event)))
        Py_INCREF(owner)            # PyArray_SetBaseObject steals a reference
        cnp.PyArray_SetBaseObject(<cnp.ndarray>out, owner)
        self.events = NULL
        self.events_cap = 0
        self.n_events = 0
        return out

    @cython.final
    cdef int _reserve_events(self, int64_t rows) except -1:
        """Room for ``rows`` events before a run, so a large batch does not grow the buffer
        by doubling (each step a copy); large buffers ask for transparent huge pages."""
        global _spare_events, _spare_bytes
        cdef void* fresh
        if self.events_cap >= rows:
            return 0
        # Only a large batch takes the spare: a small one mallocs from the warm heap, and
        # would otherwise carry the spare off in an engine that may never give it back.
        if _spare_bytes >= rows * sizeof(Event) and rows * sizeof(Event) >= HUGE_PAGE_BYTES:
            free(self.events)
            self.events = <Event*>_spare_events
            self.events_cap = <int64_t>(_spare_bytes // sizeof(Event))
            _spare_events, _spare_bytes = NULL, 0
            return 0
        fresh = malloc(rows * sizeof(Event))
        if fresh == NULL:
            raise MemoryError("the matching engine could not grow its event buffer")
        if rows * sizeof(Event) >= HUGE_PAGE_BYTES:
            madvise(<void*>((<uintptr_t>fresh + HUGE_PAGE_BYTES - 1) & ~(<uintptr_t>HUGE_PAGE_BYTES - 1)),
                    rows * sizeof(Event) - HUGE_PAGE_BYTES, MADV_HUGEPAGE)
        free(self.events)
        self.events = <Event*>fresh
        self.events_cap = rows
        return 0

    @cython.final
    cdef object _take_events(self, bint small):
        """The events of the last run as an array, and the C buffer emptied.

        Creating a structured numpy array costs about a microsecond and a half, more than
        matching a command, so the per-call path (``small``) hands out consecutive slices of
        a shared block instead. A slice is never written again: a full block is replaced,
        not reused, and lives on while any slice of it does.
        """
        cdef int64_t n = self.n_events
        cdef char* dst
        if not small and n >= HAND_OVER_ROWS:
            return self._hand_over_events()
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

    @cython.final
    cdef object _execute(self, const Command* cmds, int64_t n, bint batch):
        cdef int rc
        self.n_events = 0
        if batch:
            self._reserve_events(max(INITIAL_EVENTS, min(n * EVENTS_PER_COMMAND, MAX_RESERVED_EVENTS)))
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
            if self._symbols_n != self.n_instruments:
                self._sync_symbols()
            try:
                return self._symbols[instrument]
            except KeyError:
                raise KeyError(f"unknown instrument {instrument!r}") from None
        return instrument

    @cython.final
    cdef object _symbol(self, int32_t n):
        cdef const char* raw = self.params[n].symbol
        cdef Py_ssize_t length = 0
        while length < SYMBOL_BYTES and raw[length] != 0:
            length += 1
        return raw[:length].decode("utf-8")

    @cython.final
    cdef list _sync_symbols(self):
        """The symbols by index; the symbol index catches up with instruments added since."""
        cdef int32_t n
        for n in range(self._symbols_n, self.n_instruments):
            symbol = self._symbol(n)
            self._symbol_list.append(symbol)
            self._symbols[symbol] = n
        self._symbols_n = self.n_instruments
        return self._symbol_list

    @cython.final
    cdef int _order_command(self, Command* c, object instrument, int32_t account, uint8_t side, int64_t qty,
                            int64_t price, uint8_t order_type, uint8_t tif, uint8_t stp, int64_t client_order_id,
                            int64_t ts, int64_t seq) except -1:
        start_command(c, CMD_NEW_ORDER, ts, seq)
        c.instrument = self._instrument_arg(instrument)
        c.account = account
        c.side = side
        c.qty = qty
        c.price = price
        c.order_type = order_type
        c.tif = tif
        c.stp = stp
        c.client_order_id = client_order_id
        return 0

    def submit(self, instrument, int32_t account, uint8_t side, int64_t qty, int64_t price=0,
               uint8_t order_type=OT_LIMIT, uint8_t tif=TIF_GTC, uint8_t stp=STP_ACCOUNT_DEFAULT,
               int64_t client_order_id=0, int64_t ts=0, int64_t seq=0):
        """Enter a new order; return the events it caused."""
        cdef Command c
        self._order_command(&c, instrument, account, side, qty, price, order_type, tif, stp, client_order_id, ts, seq)
        return self._execute(&c, 1, False)

    def cancel(self, int64_t order_id, int32_t account, int64_t ts=0, int64_t seq=0):
        """Cancel a resting order."""
        cdef Command c
        start_command(&c, CMD_CANCEL, ts, seq)
        c.order_id = order_id
        c.account = account
        return self._execute(&c, 1, False)

    def reduce(self, int64_t order_id, int32_t account, int64_t qty, int64_t ts=0, int64_t seq=0):
        """Reduce a resting order's remaining quantity to ``qty``, keeping its priority."""
        cdef Command c
        start_command(&c, CMD_REDUCE, ts, seq)
        c.order_id = order_id
        c.account = account
        c.qty = qty
        return self._execute(&c, 1, False)

    cdef inline void _replace_command(self, Command* c, int64_t order_id, int32_t account, int64_t price,
                                      int64_t qty, int64_t ts, int64_t seq) noexcept:
        start_command(c, CMD_REPLACE, ts, seq)
        c.order_id = order_id
        c.account = account
        c.price = price
        c.qty = qty

    def replace(self, int64_t order_id, int32_t account, int64_t price, int64_t qty,
                int64_t ts=0, int64_t seq=0):
        """Change a resting order's price and remaining quantity.

        A new price or a larger quantity loses time priority; a smaller quantity at the
        same price keeps it.
        """
        cdef Command c
        self._replace_command(&c, order_id, account, price, qty, ts, seq)
        return self._execute(&c, 1, False)

    # ------------------------------------------------- per-call, typed results
    def place(self, instrument, int32_t account, uint8_t side, int64_t qty, int64_t price=0,
              uint8_t order_type=OT_LIMIT, uint8_t tif=TIF_GTC, uint8_t stp=STP_ACCOUNT_DEFAULT,
              int64_t client_order_id=0, int64_t ts=0, int64_t seq=0):
        """Enter a new order, as :meth:`submit` does; return an :class:`OrderResult`.

        The per-call path for Python callers: the new order's id, status and fills are
        plain attributes, where :meth:`submit` returns numpy rows (still at hand as the
        result's ``events``).
        """
        cdef Command c
        self._order_command(&c, instrument, account, side, qty, price, order_type, tif, stp, client_order_id, ts, seq)
        return self._execute_result(&c)

    def withdraw(self, int64_t order_id, int32_t account, int64_t ts=0, int64_t seq=0):
        """Cancel a resting order, as :meth:`cancel` does; return an :class:`OrderResult`
        (status CANCELLED, or REJECTED with the reason)."""
        cdef Command c
        start_command(&c, CMD_CANCEL, ts, seq)
        c.order_id = order_id
        c.account = account
        return self._execute_result(&c)

    def amend(self, int64_t order_id, int32_t account, int64_t price, int64_t qty, int64_t ts=0, int64_t seq=0):
        """Change a resting order's price and quantity, as :meth:`replace` does; return an
        :class:`OrderResult` (status REPLACED, with the fills of a price that crossed)."""
        cdef Command c
        self._replace_command(&c, order_id, account, price, qty, ts, seq)
        return self._execute_result(&c)

    @cython.final
    cdef OrderResult _execute_result(self, const Command* c):
        self.n_events = 0
        if self._run(c, 1) != 0:
            self.n_events = 0
            self.oom = False
            raise MemoryError("the matching engine could not grow its tables")
        return self._result()

    @cython.final
    cdef OrderResult _result(self):
        """The last command's events folded into an OrderResult; the C buffer emptied.

        The command's first event names its order (ACCEPTED, REPLACED, CANCELLED or
        REJECTED); trades with that order on either side are its fills, and a later
        CANCELLED of it (IOC remainder, self-trade) its final status.
        """
        cdef int64_t n = self.n_events, i, oid, count = 0, k = 0
        cdef Event* e
        cdef OrderResult r = OrderResult.__new__(OrderResult)
        cdef Fill f
        cdef tuple fills
        self.n_events = 0
        if n == 0:
            raise RuntimeError("a per-call command made no event")
        r._raw = PyBytes_FromStringAndSize(<char*>self.events, n * sizeof(Event))
        e = &self.events[0]
        oid = e.order_id
        r.order_id = oid
        r.status = e.kind
        r.reason = e.reason
        r.leaves = e.leaves if e.kind == EV_ACCEPTED or e.kind == EV_REPLACED else 0
        for i in range(1, n):
            e = &self.events[i]
            if e.kind == EV_TRADE and (e.buy_order_id == oid or e.sell_order_id == oid):
                count += 1
        if count == 0:
            r.fills = _NO_FILLS
        else:
            fills = PyTuple_New(count)
            r.fills = fills
        for i in range(1, n):
            e = &self.events[i]
            if e.kind == EV_TRADE:
                if e.buy_order_id == oid:
                    f = Fill.__new__(Fill)
                    f.contra_order_id = e.sell_order_id
                    f.contra_account = e.sell_account
                    f.fee = e.buy_fee
                    r.leaves = e.buy_leaves
                elif e.sell_order_id == oid:
                    f = Fill.__new__(Fill)
                    f.contra_order_id = e.buy_order_id
                    f.contra_account = e.buy_account
                    f.fee = e.sell_fee
                    r.leaves = e.sell_leaves
                else:
                    continue
                f.trade_id = e.trade_id
                f.price = e.price
                f.qty = e.qty
                r.filled += e.qty
                Py_INCREF(f)            # PyTuple_SET_ITEM steals a reference
                PyTuple_SET_ITEM(fills, k, f)
                k += 1
            elif e.kind == EV_CANCELLED and e.order_id == oid:
                r.status = EV_CANCELLED
                r.reason = e.reason
                r.leaves = 0
        return r

    # Operator commands are rare: they go through the command builders and process().
    def set_instrument_status(self, instrument, int status, int64_t ts=0, int64_t seq=0):
        """Change an instrument's phase (``InstrumentStatus``): halt, resume, close, pre-open."""
        return self.process(commands.set_instrument_status(self._instrument_arg(instrument), status, ts, seq))

    def set_instrument_parameter(self, instrument, int parameter, int64_t value, int64_t ts=0, int64_t seq=0):
        """Change one of an instrument's trading parameters (``InstrumentParameter``)."""
        return self.process(commands.set_instrument_parameter(self._instrument_arg(instrument), parameter, value,
                                                              ts, seq))

    def set_account_stp(self, int32_t account, int mode, int64_t ts=0, int64_t seq=0):
        """Set an account's default self-trade prevention mode."""
        return self.process(commands.set_account_stp(account, mode, ts, seq))

    def expire_day_orders(self, instrument, int64_t ts=0, int64_t seq=0):
        """Cancel every resting DAY order of an instrument with reason EXPIRY."""
        return self.process(commands.expire_day_orders(self._instrument_arg(instrument), ts, seq))

    # ----------------------------------------------------------- queries
    def instrument_index(self, instrument):
        """The position of an instrument given its symbol (or its position)."""
        return self._instrument_arg(instrument)

    @property
    def resting_orders(self):
        """Orders resting in the books (an open auction's own side is not one)."""
        return self.index_used

    @property
    def instruments(self):
        """The instrument definitions as they stand: status, reference price and parameters."""
        from .instrument import Instrument
        cdef InstrumentParams* p
        cdef int32_t n
        symbols = self._sync_symbols()
        out = []
        for n in range(self.n_instruments):
            p = &self.params[n]
            out.append(Instrument(symbols[n], kind=p.kind, region=p.region, year=p.year, status=p.status,
                                  reference_price=p.reference, tick=p.tick, lot=p.lot, max_order_qty=p.max_qty,
                                  band_bps=p.band_bps, block_band_bps=p.block_band_bps,
                                  block_min_qty=p.block_min, min_close_volume=p.min_close_volume,
                                  dynamic_band_bps=p.dynamic_band_bps, select_depth=p.select_depth,
                                  select_fifo=p.select_fifo, cer_cap_bps=p.cer_cap_bps,
                                  t_plus_one=bool(p.t_plus_one), must_take_best=bool(p.must_take_best),
                                  listings_expire=bool(p.listings_expire)))
        return out

    def book(self, instrument, int depth=10):
        """The best ``depth`` levels of each side as (price, quantity, order count)."""
        cdef int32_t n = self._instrument_arg(instrument)
        if n < 0 or n >= self.n_instruments:
            raise KeyError(f"unknown instrument {instrument!r}")
        return BookView(self._levels(n, CONTINUOUS_BOOK, SIDE_BUY, depth),
                        self._levels(n, CONTINUOUS_BOOK, SIDE_SELL, depth))

    def listings(self, instrument, int depth=10):
        """The fixed-price listings' best ``depth`` levels, as :meth:`book` shows orders."""
        cdef int32_t n = self._instrument_arg(instrument)
        if n < 0 or n >= self.n_instruments:
            raise KeyError(f"unknown instrument {instrument!r}")
        return BookView(self._levels(n, FIXED_BOOK, SIDE_BUY, depth), self._levels(n, FIXED_BOOK, SIDE_SELL, depth))

    def queue(self, instrument, int depth=10):
        """The orders of the continuous book's best ``depth`` levels of each side, in
        priority order, as (order id, price, quantity): what a taker-select taker names."""
        cdef int32_t n = self._instrument_arg(instrument), i
        cdef BookSide* bs
        cdef slot_t r
        cdef uint8_t side
        if n < 0 or n >= self.n_instruments:
            raise KeyError(f"unknown instrument {instrument!r}")
        sides = []
        for side in range(SIDE_BUY, SIDE_SELL + 1):
            bs = self._side(n, CONTINUOUS_BOOK, side)
            rows = []
            for i in range(bs.n - 1, max(bs.n - 1 - depth, -1), -1):
                r = self.levels[bs.levels[i]].head
                while r != -1:
                    rows.append((self.orders[r].order_id, self.orders[r].price, self.orders[r].qty))
                    r = self.orders[r].next
            sides.append(rows)
        return BookView(*sides)

    def daily(self, instrument):
        """The instrument's day so far: open, high, low, and volume and amount by trade type."""
        cdef int32_t n = self._instrument_arg(instrument)
        cdef Day* d
        if n < 0 or n >= self.n_instruments:
            raise KeyError(f"unknown instrument {instrument!r}")
        d = &self.days[n]
        return daily_view(d.open, d.high, d.low, [d.volume[t] for t in range(N_TRADE_TYPES)],
                          [d.amount[t] for t in range(N_TRADE_TYPES)])

    @cython.final
    cdef list _levels(self, int32_t instrument, uint8_t book, uint8_t side, int depth):
        cdef BookSide* bs = self._side(instrument, book, side)
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
                              + self.index_cap * sizeof(slot_t)
                              + self.n_terms_pages * sizeof(int32_t*))
        cdef int32_t i
        for i in range(self.n_terms_pages):
            if self.terms_pages[i] != NULL:
                total += TERMS_PAGE * sizeof(int32_t)
        for i in range(2 * N_BOOKS * self.n_instruments):
            total += self.sides[i].cap * SIDE_ENTRY_BYTES + sizeof(BookSide)
        return total

    # ------------------------------------------------------------- state
    def _export_orders(self):
        """Resting orders in canonical order as a BOOK_ORDER_DTYPE array."""
        cdef cnp.ndarray out = np.zeros(self.index_used, dtype=BOOK_ORDER_DTYPE)
        cdef BookOrder* row = <BookOrder*>cnp.PyArray_DATA(out)
        cdef int32_t instrument, i
        cdef uint8_t side, book
        cdef BookSide* bs
        cdef slot_t r
        cdef Order* o
        cdef int64_t n = 0
        for instrument in range(self.n_instruments):
            for book in range(N_BOOKS):
                for side in range(SIDE_BUY, SIDE_SELL + 1):
                    bs = self._side(instrument, book, side)
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
                            row[n].terms = self._terms(r) if has_terms(o.order_type) else 0
                            row[n].side = o.side
                            row[n].tif = o.tif
                            row[n].stp = o.stp
                            row[n].order_type = o.order_type
                            row[n].flags = self._order_flags(o)
                            n += 1
                            r = o.next
        return out

    def _export_accounts(self):
        """Created accounts by id, and their holdings by account then instrument."""
        cdef cnp.ndarray accounts = np.zeros(self.holdings_rows, dtype=ACCOUNT_DTYPE)
        cdef cnp.ndarray holdings = np.zeros(self.holdings_rows * self.n_instruments, dtype=HOLDING_DTYPE)
        cdef AccountRecord* row = <AccountRecord*>cnp.PyArray_DATA(accounts)
        cdef HoldingRecord* hrow = <HoldingRecord*>cnp.PyArray_DATA(holdings)
        cdef int32_t a, n = 0, i
        cdef int64_t k = 0
        cdef Account* acct
        for a in range(self.accounts_cap):
            acct = &self.accounts[a]
            if not acct.exists:
                continue
            row[n].cash_available = acct.cash_available
            row[n].cash_frozen = acct.cash_frozen
            row[n].account = a
            row[n].member = acct.member
            row[n].region = acct.region
            row[n].sector = acct.sector
            row[n].status = acct.status
            for i in range(self.n_instruments):
                hrow[k].holding = self._holding(a, i)[0]
                hrow[k].account = a
                hrow[k].instrument = i
                k += 1
            n += 1
        return accounts, holdings

    def account(self, int32_t account):
        """Balances of a created account as a dict, or None (see ``matching._state.account_view``)."""
        cdef Account* a
        cdef Holding* h
        cdef int32_t n
        if not self._exists(account):
            return None
        a = &self.accounts[account]
        rows = []
        for n in range(self.n_instruments):
            h = self._holding(account, n)
            rows.append((h.available, h.frozen, h.locked, h.non_tradable, h.floor, h.limit, h.buying,
                         h.obligation, account, n))
        return account_view((a.cash_available, a.cash_frozen, account, a.member, a.region, a.sector,
                             a.status), rows, self._sync_symbols(), a.fines_owed)

    def surrendered(self, int32_t account):
        """What the account surrendered against each allowance's obligation: ``{symbol: (units,
        of them CERs)}`` (see ``reference.ReferenceEngine.surrendered``)."""
        cdef int32_t i
        symbols = self._sync_symbols()
        rows = sorted((self.surrenders[i].instrument, self.surrenders[i].units, self.surrenders[i].cer)
                      for i in range(self.n_surrenders) if self.surrenders[i].account == account)
        return {symbols[n]: (units, cer) for n, units, cer in rows}

    def export_meta(self):
        """The market-wide settings, instrument parameters and counters, as a snapshot's header
        carries them (a plain dict: JSON-ready)."""
        cdef int32_t a, t
        account_stp = []
        fee_rebates = []
        for a in range(self.accounts_cap):
            if self.accounts[a].stp != 0 and self.accounts[a].stp != self.default_stp:
                account_stp.append([a, self.accounts[a].stp])
            for t in range(1, N_TRADE_TYPES):
                if self.accounts[a].rebate_bps[t]:
                    fee_rebates.append([a, t, self.accounts[a].rebate_bps[t]])
        return {
            "instruments": [d.to_dict() for d in self.instruments],
            "max_accounts": self.max_accounts,
            "default_stp": self.default_stp,
            "risk": bool(self.risk),
            "fees": [[self.fee_bps[n][0], self.fee_bps[n][1]] for n in range(N_TRADE_TYPES)],
            "fees_collected": self.fees_collected,
            "fines_collected": self.fines_collected,
            "fines_owed": [[a, self.accounts[a].fines_owed] for a in range(self.accounts_cap)
                           if self.accounts[a].exists and self.accounts[a].fines_owed],
            "net_deposits": self.net_deposits,
            "net_credits": [self.net_credits[n] for n in range(self.n_instruments)],
            "retired": [self.retired[n] for n in range(self.n_instruments)],
            "surrendered": sorted([self.surrenders[i].account, self.surrenders[i].instrument,
                                   self.surrenders[i].units, self.surrenders[i].cer]
                                  for i in range(self.n_surrenders)),
            "days": [[self.days[n].open, self.days[n].high, self.days[n].low,
                      [self.days[n].volume[t] for t in range(N_TRADE_TYPES)],
                      [self.days[n].amount[t] for t in range(N_TRADE_TYPES)], self.days[n].last]
                     for n in range(self.n_instruments)],
            "block_window": [self.params[n].block_window for n in range(self.n_instruments)],
            "rollover": [[self.auctions[n].rollover[i] for i in range(ROLLOVER_AUCTIONS)]
                         for n in range(self.n_instruments)],
            "auctions": [self._auction_meta(n) for n in range(self.n_instruments)],
            "account_stp": account_stp,
            "fee_rebates": fee_rebates,
            "next_order_id": self.next_order_id,
            "next_trade_id": self.next_trade_id,
            "next_event_seq": self.next_event_seq,
            "clock": self.clock,
        }

    def _auction_meta(self, int32_t n):
        cdef Auction* auc = &self.auctions[n]
        cdef Order* lot
        if not auc.active:
            return None
        lot = &self.orders[auc.lot]
        return {"id": lot.order_id, "account": lot.account, "side": lot.side, "reserve": lot.price,
                "unsold": lot.qty, "ts": lot.ts, "volume": auc.volume, "min_bid": auc.min_bid, "cap": auc.cap,
                "flags": auc.flags, "cancel_bps": auc.cancel_bps, "seed": auc.seed,
                "eligible": [auc.eligible[i] for i in range(auc.n_eligible)]}

    def _import_auctions(self, list rollover, list auctions):
        cdef int32_t n, i
        cdef Auction* auc
        cdef slot_t s
        cdef Order* o
        if len(rollover) != self.n_instruments or len(auctions) != self.n_instruments:
            raise ValueError("snapshot holds the wrong number of instrument auctions")
        for n in range(self.n_instruments):
            auc = &self.auctions[n]
            for i in range(ROLLOVER_AUCTIONS):
                auc.rollover[i] = rollover[n][i]
            a = auctions[n]
            if a is None:
                continue
            if not (0 < a["unsold"] <= MAX_QTY and a["side"] in (SIDE_BUY, SIDE_SELL)
                    and 0 <= a["account"] < self.max_accounts):
                raise ValueError(f"snapshot auction of instrument {n} is invalid")
            if self._reserve() != 0:
                raise MemoryError()
            s = self._alloc_order()
            o = &self.orders[s]
            memset(o, 0, sizeof(Order))
            o.order_id = a["id"]
            o.account = a["account"]
            o.side = a["side"]
            o.price = a["reserve"]
            o.qty = a["unsold"]
            o.ts = a["ts"]
            o.instrument = n
            o.order_type = OT_AUCTION_LOT
            o.tif = TIF_GTC
            o.stp = STP_OFF
            o.prev = NOT_RESTING
            o.next = -1
            auc.active = True
            auc.lot = s
            auc.volume = a["volume"]
            auc.min_bid = a["min_bid"]
            auc.cap = a["cap"]
            auc.flags = a["flags"]
            auc.cancel_bps = a["cancel_bps"]
            auc.seed = a["seed"]
            for account in a["eligible"]:
                if self._add_eligible(auc, account) != 0:
                    raise MemoryError()

    def snapshot(self):
        """The full state as bytes; :meth:`restore` rebuilds an identical engine.

        The format is shared with the reference model (see ``matching._state``).
        """
        accounts, holdings = self._export_accounts()
        return pack_state(self.export_meta(), {"orders": self._export_orders(), "accounts": accounts,
                                                "holdings": holdings})

    def state_digest(self):
        """A hash of the full state, equal across implementations for equal states."""
        return digest(self.snapshot())

    @classmethod
    def restore(cls, blob):
        """Build an engine from :meth:`snapshot` bytes; damaged bytes raise ValueError."""
        from .instrument import Instrument
        meta, sections = unpack_state(blob)
        try:
            engine = cls([Instrument(**d) for d in meta["instruments"]],
                         max_accounts=meta["max_accounts"], default_stp=meta["default_stp"],
                         risk=meta["risk"], fees=meta["fees"])
            engine._import_state(meta, sections["orders"], sections["accounts"], sections["holdings"])
            engine.check_invariants()
        except (KeyError, IndexError, TypeError, OverflowError, AssertionError) as exc:
            raise ValueError(f"snapshot is inconsistent: {exc!r}") from None
        return engine

    def _import_state(self, dict meta, cnp.ndarray orders, cnp.ndarray accounts, cnp.ndarray holdings):
        """Load counters, accounts and resting orders into a freshly built engine."""
        cdef BookOrder* row = <BookOrder*>cnp.PyArray_DATA(orders)
        cdef AccountRecord* arow = <AccountRecord*>cnp.PyArray_DATA(accounts)
        cdef int64_t i, n = orders.shape[0]
        cdef int32_t a, j
        cdef slot_t s
        cdef Order* o
        cdef Account* acct
        cdef HoldingRecord* hrow
        cdef Surrender* record
        if holdings.shape[0] != accounts.shape[0] * self.n_instruments:
            raise ValueError("snapshot holdings do not match its accounts")
        for i in range(accounts.shape[0]):
            a = arow[i].account
            if not 0 <= a < self.max_accounts or self._exists(a):
                raise ValueError(f"snapshot account row {i} is invalid")
            self._execute_one_admin(CMD_CREATE_ACCOUNT, a, arow[i].member, arow[i].region, arow[i].sector)
            acct = &self.accounts[a]
            acct.status = arow[i].status
            acct.cash_available = arow[i].cash_available
            acct.cash_frozen = arow[i].cash_frozen
            hrow = <HoldingRecord*>cnp.PyArray_DATA(holdings) + i * self.n_instruments
            for j in range(self.n_instruments):
                if hrow[j].account != a or hrow[j].instrument != j:
                    raise ValueError(f"snapshot holding rows of account {a} are out of order")
                self._holding(a, j)[0] = hrow[j].holding
        for a, mode in meta["account_stp"]:
            if not (0 <= a < self.max_accounts and STP_OFF <= mode <= STP_CANCEL_BOTH):
                raise ValueError("snapshot holds an invalid account mode")
            if self._ensure_account(a) != 0:
                raise MemoryError()
            self.accounts[a].stp = mode
        for a, t, bps in meta.get("fee_rebates", []):         # snapshots from before fee rebates have none
            if not (0 <= a < self.max_accounts and 0 < t < N_TRADE_TYPES and 0 <= bps <= MAX_FEE_BPS):
                raise ValueError("snapshot holds an invalid fee rebate")
            if self._ensure_account(a) != 0:
                raise MemoryError()
            self.accounts[a].rebate_bps[t] = bps
        if len(meta["net_credits"]) != self.n_instruments:
            raise ValueError("snapshot holds the wrong number of instrument totals")
        for i, total in enumerate(meta["net_credits"]):
            self.net_credits[i] = total
        retired = meta.get("retired", [0] * self.n_instruments)   # snapshots from before compliance: none
        if len(retired) != self.n_instruments or min(retired, default=0) < 0:
            raise ValueError("snapshot holds invalid retired units")
        for i, total in enumerate(retired):
            self.retired[i] = total
        for a, n, units, cer in meta.get("surrendered", []):
            if not (0 <= a < self.max_accounts and 0 <= n < self.n_instruments and 0 <= cer <= units):
                raise ValueError("snapshot holds an invalid surrender")
            record = self._surrender_record(a, n)
            if record == NULL:
                raise MemoryError()
            record.units, record.cer = units, cer
        if len(meta["days"]) != self.n_instruments or len(meta["block_window"]) != self.n_instruments:
            raise ValueError("snapshot holds the wrong number of instrument days")
        for i, (opening, high, low, volume, amount, *last) in enumerate(meta["days"]):
            self.days[i].last = last[0] if last else 0          # snapshots before dynamic bands had none
            self.days[i].open = opening
            self.days[i].high = high
            self.days[i].low = low
            for t in range(N_TRADE_TYPES):
                self.days[i].volume[t] = volume[t]
                self.days[i].amount[t] = amount[t]
            self.params[i].block_window = bool(meta["block_window"][i])
        self.fees_collected = meta["fees_collected"]
        self.fines_collected = meta.get("fines_collected", 0)      # snapshots from before fines have none
        for a, owed in meta.get("fines_owed", []):
            if not (self._exists(a) and 0 < owed <= MAX_CASH):
                raise ValueError("snapshot holds an invalid fine owed")
            self.accounts[a].fines_owed = owed
        self.net_deposits = meta["net_deposits"]
        self._import_auctions(meta["rollover"], meta["auctions"])
        self.next_order_id = meta["next_order_id"]
        self.next_trade_id = meta["next_trade_id"]
        self.next_event_seq = meta["next_event_seq"]
        self.clock = meta["clock"]
        for i in range(n):
            if not (0 <= row[i].instrument < self.n_instruments
                    and (row[i].side == SIDE_BUY or row[i].side == SIDE_SELL)
                    and 0 < row[i].qty <= MAX_QTY and 0 < row[i].price <= 2 * MAX_PRICE
                    and TIF_GTC <= row[i].tif <= TIF_FOK and STP_OFF <= row[i].stp <= STP_CANCEL_BOTH
                    and row[i].flags == self._snapshot_flags(row[i].order_type, row[i].instrument, row[i].flags)
                    and (row[i].order_type == OT_LIMIT or row[i].order_type == OT_FIXED_LISTING
                         or (row[i].order_type == OT_MARKET and row[i].tif == TIF_IOC)
                         or row[i].order_type == OT_BLOCK_QUOTE or row[i].order_type == OT_AUCTION_BID)
                    and 0 <= row[i].account < self.max_accounts
                    and 0 < row[i].order_id < self.next_order_id
                    and self._find_order(row[i].order_id) == -1):
                raise ValueError(f"snapshot order row {i} is invalid")
            if self._reserve() != 0:
                raise MemoryError()
            self._next_stamp()
            self.n_touched = 0
            s = self._alloc_order()
            o = &self.orders[s]
            o.order_id = row[i].order_id
            o.client_order_id = row[i].client_order_id
            o.price = row[i].price
            o.qty = <int32_t>row[i].qty
            o.ts = row[i].ts
            o.account = row[i].account
            o.instrument = <int16_t>row[i].instrument
            o.side = row[i].side
            o.tif = row[i].tif
            o.stp = row[i].stp
            o.order_type = row[i].order_type
            o.flags = row[i].flags & FLAG_PARTIAL
            if has_terms(o.order_type) and self._set_terms(s, row[i].terms) != 0:
                raise MemoryError()
            if self._rest(s) != 0:
                raise MemoryError()
        self.n_touched = 0
        self.n_events = 0

    @cython.final
    cdef _execute_one_admin(self, uint8_t type, int32_t account, int32_t member, uint8_t region,
                            uint8_t sector):
        cdef Command c
        memset(&c, 0, sizeof(Command))
        c.type = type
        c.account = account
        c.member = member
        c.region = region
        c.sector = sector
        c.ts = self.clock
        self.cmd = &c
        self.n_events = 0
        self._create_account()
        if self.n_events != 1 or self.events[0].kind != EV_ACCOUNT_UPDATED:
            raise ValueError("snapshot account is invalid")
        self.n_events = 0

    def check_invariants(self):
        """Raise AssertionError if any structural invariant is broken. O(n)."""
        cdef int32_t instrument, i, count, markets, free_count
        cdef uint8_t side
        cdef BookSide* bs
        cdef Level* L
        cdef slot_t r, prev
        cdef Order* o
        cdef int64_t qty, seen = 0, last_ts
        cdef BookSide* bid
        cdef BookSide* ask
        cdef uint8_t book
        for instrument in range(self.n_instruments):
            for book in range(N_BOOKS):
                for side in range(SIDE_BUY, SIDE_SELL + 1):
                    bs = self._side(instrument, book, side)
                    for i in range(bs.n):
                        L = &self.levels[bs.levels[i]]
                        if i > 0:
                            assert side_key(side, self.levels[bs.levels[i - 1]].price) < side_key(side, L.price), \
                                "levels out of price order"
                        count = 0
                        markets = 0
                        qty = 0
                        prev = -1
                        r = L.head
                        last_ts = INT64_MIN
                        while r != -1:
                            o = &self.orders[r]
                            assert o.prev == prev, "broken FIFO links"
                            assert o.price == L.price, "order on the wrong level"
                            assert (o.instrument == instrument and o.side == side
                                    and book_of(o.order_type) == book), "order on the wrong book"
                            assert o.qty > 0, "empty order resting"
                            assert o.ts >= last_ts, "time priority broken"
                            assert self._find_order(o.order_id) == r, "order-id index disagrees with the book"
                            assert o.tif != TIF_IOC or self.params[instrument].status == STATUS_CALL, \
                                "an IOC order rests outside a call"
                            last_ts = o.ts
                            count += 1
                            markets += o.order_type == OT_MARKET
                            qty += o.qty
                            prev = r
                            r = o.next
                        assert L.tail == prev, "level tail wrong"
                        assert count == L.count and count > 0, "level order count wrong"
                        assert markets == L.markets, "level market order count wrong"
                        assert qty == L.qty, "level quantity is not the sum of its orders"
                        seen += count
            bid = self._side(instrument, CONTINUOUS_BOOK, SIDE_BUY)
            ask = self._side(instrument, CONTINUOUS_BOOK, SIDE_SELL)
            if (bid.n and ask.n and self.params[instrument].status == STATUS_TRADING
                    and not self.params[instrument].select_depth):
                assert (self.levels[bid.levels[bid.n - 1]].price
                        < self.levels[ask.levels[ask.n - 1]].price), "book crossed at rest"
        lots = sum(1 for n in range(self.n_instruments) if self.auctions[n].active)
        assert seen + lots == self.live_orders and seen == self.index_used, \
            "order count, index and book disagree"
        self._check_accounts()
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

    def _check_accounts(self):
        cdef int32_t a, n, instrument, i
        cdef uint8_t side
        cdef Account* acct
        cdef Holding* h
        cdef BookSide* bs
        cdef slot_t r
        cdef Order* o
        cdef object cash = 0
        held = [0] * self.n_instruments
        for a in range(self.accounts_cap):
            acct = &self.accounts[a]
            if not acct.exists:
                continue
            assert acct.cash_available >= 0 and acct.cash_frozen >= 0, "negative cash"
            cash += acct.cash_available + acct.cash_frozen
            for n in range(self.n_instruments):
                h = self._holding(a, n)
                assert min(h.available, h.frozen, h.locked, h.non_tradable, h.buying) >= 0, "negative holding"
                held[n] += h.available + h.frozen + h.locked + h.non_tradable
        assert cash + self.fees_collected + self.fines_collected == self.net_deposits, "cash created or lost"
        assert held == [self.net_credits[n] for n in range(self.n_instruments)], "units created or lost"
        if not self.risk:
            return
        cdef cnp.int64_t[::1] need_cash = np.zeros(self.accounts_cap, dtype=np.int64)
        cdef cnp.int64_t[:, ::1] need_units = np.zeros((self.accounts_cap, self.n_instruments), dtype=np.int64)
        cdef cnp.int64_t[:, ::1] need_buying = np.zeros((self.accounts_cap, self.n_instruments), dtype=np.int64)
        cdef uint8_t book
        for instrument in range(self.n_instruments):
            for book in range(N_BOOKS):
                for side in range(SIDE_BUY, SIDE_SELL + 1):
                    bs = self._side(instrument, book, side)
                    for i in range(bs.n):
                        r = self.levels[bs.levels[i]].head
                        while r != -1:
                            o = &self.orders[r]
                            if side == SIDE_BUY:
                                need_cash[o.account] += self._buy_need(o, o.qty)
                                need_buying[o.account, instrument] += o.qty
                            else:
                                need_units[o.account, instrument] += o.qty
                            r = o.next
        for instrument in range(self.n_instruments):
            if self.auctions[instrument].active and not self.auctions[instrument].flags & FLAG_PRIMARY:
                o = &self.orders[self.auctions[instrument].lot]
                if o.side == SIDE_BUY:
                    need_cash[o.account] += self._buy_need(o, o.qty)
                    need_buying[o.account, instrument] += o.qty
                else:
                    need_units[o.account, instrument] += o.qty
        for a in range(self.accounts_cap):
            if not self.accounts[a].exists:
                continue
            assert self.accounts[a].cash_frozen == need_cash[a], "frozen cash is not what the open buys need"
            for n in range(self.n_instruments):
                h = self._holding(a, n)
                assert h.frozen == need_units[a, n], "frozen units are not the open sells"
                assert h.buying == need_buying[a, n], "open buy quantity is wrong"


cdef inline Py_ssize_t off(void* field, void* base):
    return <char*>field - <char*>base


def _layout():
    """Field offsets and sizes of the C structs, checked against matching.dtypes on import."""
    cdef Command c
    cdef Event e
    cdef BookOrder b
    cdef AccountRecord a
    cdef HoldingRecord h
    return {
        "Command": (sizeof(Command), {
            "seq": off(&c.seq, &c), "ts": off(&c.ts, &c), "order_id": off(&c.order_id, &c),
            "client_order_id": off(&c.client_order_id, &c), "price": off(&c.price, &c),
            "qty": off(&c.qty, &c), "value": off(&c.value, &c), "account": off(&c.account, &c),
            "instrument": off(&c.instrument, &c), "session": off(&c.session, &c),
            "member": off(&c.member, &c), "type": off(&c.type, &c), "side": off(&c.side, &c),
            "order_type": off(&c.order_type, &c), "tif": off(&c.tif, &c), "stp": off(&c.stp, &c),
            "region": off(&c.region, &c), "sector": off(&c.sector, &c), "status": off(&c.status, &c),
            "flags": off(&c.flags, &c), "contra_account": off(&c.contra_account, &c),
            "min_qty": off(&c.min_qty, &c)}),
        "Event": (sizeof(Event), {
            "seq": off(&e.seq, &e), "cmd_seq": off(&e.cmd_seq, &e), "ts": off(&e.ts, &e),
            "order_id": off(&e.order_id, &e), "client_order_id": off(&e.client_order_id, &e),
            "price": off(&e.price, &e), "qty": off(&e.qty, &e), "leaves": off(&e.leaves, &e),
            "trade_id": off(&e.trade_id, &e), "buy_order_id": off(&e.buy_order_id, &e),
            "sell_order_id": off(&e.sell_order_id, &e), "buy_leaves": off(&e.buy_leaves, &e),
            "sell_leaves": off(&e.sell_leaves, &e), "value": off(&e.value, &e),
            "buy_fee": off(&e.buy_fee, &e), "sell_fee": off(&e.sell_fee, &e),
            "open": off(&e.open, &e), "high": off(&e.high, &e), "low": off(&e.low, &e),
            "account": off(&e.account, &e), "buy_account": off(&e.buy_account, &e),
            "sell_account": off(&e.sell_account, &e), "instrument": off(&e.instrument, &e),
            "count": off(&e.count, &e), "reason": off(&e.reason, &e), "kind": off(&e.kind, &e),
            "side": off(&e.side, &e), "trade_type": off(&e.trade_type, &e),
            "order_type": off(&e.order_type, &e), "tif": off(&e.tif, &e),
            "command": off(&e.command, &e)}),
        "BookOrder": (sizeof(BookOrder), {
            "order_id": off(&b.order_id, &b), "client_order_id": off(&b.client_order_id, &b),
            "price": off(&b.price, &b), "qty": off(&b.qty, &b), "ts": off(&b.ts, &b),
            "account": off(&b.account, &b), "instrument": off(&b.instrument, &b),
            "side": off(&b.side, &b), "tif": off(&b.tif, &b), "stp": off(&b.stp, &b),
            "terms": off(&b.terms, &b), "order_type": off(&b.order_type, &b), "flags": off(&b.flags, &b)}),
        "AccountRecord": (sizeof(AccountRecord), {
            "cash_available": off(&a.cash_available, &a), "cash_frozen": off(&a.cash_frozen, &a),
            "account": off(&a.account, &a), "member": off(&a.member, &a), "region": off(&a.region, &a),
            "sector": off(&a.sector, &a), "status": off(&a.status, &a)}),
        "Holding": (sizeof(HoldingRecord), {
            "available": off(&h.holding.available, &h), "frozen": off(&h.holding.frozen, &h),
            "locked": off(&h.holding.locked, &h), "non_tradable": off(&h.holding.non_tradable, &h),
            "floor": off(&h.holding.floor, &h), "limit": off(&h.holding.limit, &h),
            "buying": off(&h.holding.buying, &h), "obligation": off(&h.holding.obligation, &h),
            "account": off(&h.account, &h),
            "instrument": off(&h.instrument, &h)}),
        "Order": (sizeof(Order), {}),
    }


def _constants():
    """The enum values compiled into the core, checked against matching.codes on import."""
    return {
        "Side": {"BUY": SIDE_BUY, "SELL": SIDE_SELL},
        "OrderType": {"LIMIT": OT_LIMIT, "MARKET": OT_MARKET, "FIXED_LISTING": OT_FIXED_LISTING,
                      "FIXED_TAKE": OT_FIXED_TAKE, "BLOCK_QUOTE": OT_BLOCK_QUOTE,
                      "BLOCK_ACCEPT": OT_BLOCK_ACCEPT, "AUCTION_BID": OT_AUCTION_BID,
                      "AUCTION_LOT": OT_AUCTION_LOT},
        "TimeInForce": {"GTC": TIF_GTC, "DAY": TIF_DAY, "IOC": TIF_IOC, "FOK": TIF_FOK},
        "StpMode": {"ACCOUNT_DEFAULT": STP_ACCOUNT_DEFAULT, "OFF": STP_OFF,
                    "CANCEL_NEWEST": STP_CANCEL_NEWEST, "CANCEL_OLDEST": STP_CANCEL_OLDEST,
                    "CANCEL_BOTH": STP_CANCEL_BOTH},
        "CommandType": {
            "NEW_ORDER": CMD_NEW_ORDER, "CANCEL": CMD_CANCEL, "REDUCE": CMD_REDUCE,
            "REPLACE": CMD_REPLACE, "SET_INSTRUMENT_STATUS": CMD_SET_INSTRUMENT_STATUS,
            "SET_ACCOUNT_STP": CMD_SET_ACCOUNT_STP, "EXPIRE_DAY_ORDERS": CMD_EXPIRE_DAY_ORDERS,
            "CREATE_ACCOUNT": CMD_CREATE_ACCOUNT, "SET_ACCOUNT_STATUS": CMD_SET_ACCOUNT_STATUS,
            "DEPOSIT": CMD_DEPOSIT, "WITHDRAW": CMD_WITHDRAW, "CREDIT_HOLDINGS": CMD_CREDIT_HOLDINGS,
            "DEBIT_HOLDINGS": CMD_DEBIT_HOLDINGS, "SET_RETENTION_FLOOR": CMD_SET_RETENTION_FLOOR,
            "SET_POSITION_LIMIT": CMD_SET_POSITION_LIMIT, "RELEASE_T1": CMD_RELEASE_T1,
            "SET_OBLIGATION": CMD_SET_OBLIGATION,
            "LIST_FIXED": CMD_LIST_FIXED, "TAKE_FIXED": CMD_TAKE_FIXED, "BLOCK_QUOTE": CMD_BLOCK_QUOTE,
            "BLOCK_ACCEPT": CMD_BLOCK_ACCEPT, "SET_BLOCK_WINDOW": CMD_SET_BLOCK_WINDOW,
            "END_OF_DAY": CMD_END_OF_DAY, "AUCTION_OPEN": CMD_AUCTION_OPEN, "AUCTION_BID": CMD_AUCTION_BID,
            "AUCTION_ELIGIBLE": CMD_AUCTION_ELIGIBLE, "AUCTION_CLOSE": CMD_AUCTION_CLOSE,
            "SET_INSTRUMENT_PARAMETER": CMD_SET_INSTRUMENT_PARAMETER, "CANCEL_ALL": CMD_CANCEL_ALL,
            "ADD_INSTRUMENT": CMD_ADD_INSTRUMENT, "SET_FEE_REBATE": CMD_SET_FEE_REBATE,
            "SURRENDER": CMD_SURRENDER, "FINE": CMD_FINE},
        "EventKind": {"ACCEPTED": EV_ACCEPTED, "REJECTED": EV_REJECTED, "TRADE": EV_TRADE,
                      "CANCELLED": EV_CANCELLED, "REDUCED": EV_REDUCED, "REPLACED": EV_REPLACED,
                      "DEPTH": EV_DEPTH, "INSTRUMENT_STATUS": EV_INSTRUMENT_STATUS,
                      "ACCOUNT_UPDATED": EV_ACCOUNT_UPDATED, "BALANCE": EV_BALANCE,
                      "DAILY_STATS": EV_DAILY_STATS, "DAILY_VOLUME": EV_DAILY_VOLUME,
                      "BLOCK_WINDOW": EV_BLOCK_WINDOW, "AUCTION_RESULT": EV_AUCTION_RESULT,
                      "INSTRUMENT_PARAMETER": EV_INSTRUMENT_PARAMETER, "INSTRUMENT_ADDED": EV_INSTRUMENT_ADDED,
                      "INDICATIVE": EV_INDICATIVE, "SURRENDERED": EV_SURRENDERED,
                      "FINED": EV_FINED},
        "Reject": {
            "UNKNOWN_COMMAND": REJ_UNKNOWN_COMMAND, "UNKNOWN_ACCOUNT": REJ_UNKNOWN_ACCOUNT,
            "INSUFFICIENT_CASH": REJ_INSUFFICIENT_CASH, "INSUFFICIENT_HOLDINGS": REJ_INSUFFICIENT_HOLDINGS,
            "RETENTION_FLOOR": REJ_RETENTION_FLOOR, "ACCOUNT_SUSPENDED": REJ_ACCOUNT_SUSPENDED,
            "ACCOUNT_SELL_ONLY": REJ_ACCOUNT_SELL_ONLY, "POSITION_LIMIT": REJ_POSITION_LIMIT, "CER_CAP": REJ_CER_CAP,
            "UNKNOWN_INSTRUMENT": REJ_UNKNOWN_INSTRUMENT, "INSTRUMENT_HALTED": REJ_INSTRUMENT_HALTED,
            "BAD_SIDE": REJ_BAD_SIDE, "BAD_ORDER_TYPE": REJ_BAD_ORDER_TYPE,
            "BAD_TIME_IN_FORCE": REJ_BAD_TIME_IN_FORCE, "BAD_STP_MODE": REJ_BAD_STP_MODE,
            "BAD_QUANTITY": REJ_BAD_QUANTITY, "OFF_LOT_QUANTITY": REJ_OFF_LOT_QUANTITY,
            "BAD_PRICE": REJ_BAD_PRICE, "OFF_TICK_PRICE": REJ_OFF_TICK_PRICE,
            "PRICE_OUTSIDE_BAND": REJ_PRICE_OUTSIDE_BAND, "ORDER_TOO_LARGE": REJ_ORDER_TOO_LARGE,
            "UNKNOWN_ORDER": REJ_UNKNOWN_ORDER, "NOT_OWNER": REJ_NOT_OWNER,
            "FOK_NOT_FILLABLE": REJ_FOK_NOT_FILLABLE, "REDUCE_NOT_SMALLER": REJ_REDUCE_NOT_SMALLER,
            "BAD_STATUS": REJ_BAD_STATUS, "ACCOUNT_EXISTS": REJ_ACCOUNT_EXISTS,
            "BAD_REGION": REJ_BAD_REGION, "BAD_SECTOR": REJ_BAD_SECTOR, "BAD_AMOUNT": REJ_BAD_AMOUNT,
            "BAD_PARAMETER": REJ_BAD_PARAMETER, "INSTRUMENT_EXISTS": REJ_INSTRUMENT_EXISTS,
            "MARKET_CLOSED": REJ_MARKET_CLOSED, "WOULD_CROSS": REJ_WOULD_CROSS,
            "BLOCK_WINDOW_CLOSED": REJ_BLOCK_WINDOW_CLOSED, "SELF_TAKE": REJ_SELF_TAKE,
            "BELOW_MINIMUM": REJ_BELOW_MINIMUM, "EXCEEDS_REMAINING": REJ_EXCEEDS_REMAINING,
            "NOT_BEST_LISTING": REJ_NOT_BEST_LISTING, "WRONG_ORDER_KIND": REJ_WRONG_ORDER_KIND,
            "NOT_COUNTERPARTY": REJ_NOT_COUNTERPARTY, "PARTIAL_NOT_ALLOWED": REJ_PARTIAL_NOT_ALLOWED,
            "BELOW_RESERVE": REJ_BELOW_RESERVE, "BIDDER_CAP": REJ_BIDDER_CAP, "NOT_ELIGIBLE": REJ_NOT_ELIGIBLE,
            "AUCTION_IN_PROGRESS": REJ_AUCTION_IN_PROGRESS, "NO_AUCTION": REJ_NO_AUCTION,
            "BEYOND_SELECT_DEPTH": REJ_BEYOND_SELECT_DEPTH, "NOT_FIRST_AT_LEVEL": REJ_NOT_FIRST_AT_LEVEL},
        "CancelReason": {"USER": CXL_USER, "IOC_REMAINDER": CXL_IOC_REMAINDER,
                         "SELF_TRADE": CXL_SELF_TRADE, "EXPIRY": CXL_EXPIRY, "SANCTION": CXL_SANCTION,
                         "OUTSIDE_BAND": CXL_OUTSIDE_BAND, "AUCTION": CXL_AUCTION,
                         "OPERATOR": CXL_OPERATOR},
        "TradeType": {"CONTINUOUS": TT_CONTINUOUS, "FIXED": TT_FIXED, "BLOCK": TT_BLOCK,
                      "AUCTION": TT_AUCTION},
        "InstrumentStatus": {"TRADING": STATUS_TRADING, "HALTED": STATUS_HALTED,
                             "CLOSED": STATUS_CLOSED, "PRE_OPEN": STATUS_PRE_OPEN,
                             "CALL": STATUS_CALL},
        "InstrumentParameter": {"TICK": PARAM_TICK, "LOT": PARAM_LOT, "MAX_ORDER_QTY": PARAM_MAX_ORDER_QTY,
                                "REFERENCE_PRICE": PARAM_REFERENCE_PRICE, "BAND_BPS": PARAM_BAND_BPS,
                                "BLOCK_BAND_BPS": PARAM_BLOCK_BAND_BPS, "BLOCK_MIN_QTY": PARAM_BLOCK_MIN_QTY,
                                "MIN_CLOSE_VOLUME": PARAM_MIN_CLOSE_VOLUME,
                                "DYNAMIC_BAND_BPS": PARAM_DYNAMIC_BAND_BPS, "SELECT_DEPTH": PARAM_SELECT_DEPTH,
                                "SELECT_FIFO": PARAM_SELECT_FIFO, "CER_CAP_BPS": PARAM_CER_CAP_BPS},
        "AccountStatus": {"ACTIVE": ACCT_ACTIVE, "SELL_ONLY": ACCT_SELL_ONLY, "SUSPENDED": ACCT_SUSPENDED},
        "Region": {"SC": REGION_SC, "CQ": REGION_CQ},
        "InstrumentKind": {"ALLOWANCE": KIND_ALLOWANCE, "CER": KIND_CER},
        "AuctionOutcome": {"CLEARED": OUT_CLEARED, "UNDERSUBSCRIBED": OUT_UNDERSUBSCRIBED,
                           "FAILED": OUT_FAILED, "CANCELLED_VOLUME": OUT_CANCELLED_VOLUME,
                           "CANCELLED_PRICE": OUT_CANCELLED_PRICE},
    }
