# The market-data hot path: one engine batch into numbered public messages grouped by topic,
# and the trade tape's CSV lines. One C pass over the events replaces some hundred numpy
# calls per batch (each a few microseconds on the small arrays of one batch). The rules are
# those documented in feeds/encoder.py; the Python layer there validates input and names topics.
cimport numpy as cnp
from libc.stdint cimport int32_t, int64_t, uint8_t, uint64_t
from libc.stdlib cimport free, malloc
from libc.string cimport memcpy, memset

import numpy as np

from matching._types cimport Event, EV_AUCTION_RESULT, EV_BLOCK_WINDOW, EV_DAILY_STATS, EV_DAILY_VOLUME, \
    EV_DEPTH, EV_INDICATIVE, EV_INSTRUMENT_STATUS, EV_TRADE, SIDE_BUY, SIDE_SELL, TT_CONTINUOUS, TT_FIXED
from matching.dtypes import EVENT_DTYPE

from .messages import FEED_DTYPE

cnp.import_array()

# Mirrors FEED_DTYPE (aligned); checked against it by layout() at import of feeds.encoder.
ctypedef struct FeedMsg:
    int64_t epoch
    int64_t seq
    int64_t instrument_seq
    int64_t ts
    int64_t engine_seq
    int64_t price
    int64_t qty
    int64_t trade_id
    int64_t bid_price
    int64_t bid_qty
    int64_t ask_price
    int64_t ask_qty
    int64_t open
    int64_t high
    int64_t low
    int64_t previous
    int64_t volume[4]
    int64_t amount[4]
    int32_t instrument
    int32_t count
    uint8_t msg_type
    uint8_t side
    uint8_t trade_type
    uint8_t status
    uint8_t block_window
    uint8_t cause

cdef enum:
    F_TRADE = 1
    F_DEPTH = 2
    F_BBO = 3
    F_STATUS = 4
    F_AUCTION_RESULT = 5
    F_DAILY_STATS = 6
    F_INDICATIVE = 7
    # F_ORDER = 8: taker-select orders, made in Python (feeds.encoder) after this pass
    N_FEED_TYPES = 9            # message types 1..8 plus the unused 0: keys are type * instruments + instrument
    N_TRADE_TYPES = 4
    MAX_KEY_INSTRUMENTS = 1 << 20

cdef int64_t MAX_KEY_PRICE = 1LL << 39


def layout():
    """``(itemsize, {field: offset})`` of the C message struct, to compare with FEED_DTYPE."""
    cdef FeedMsg m
    cdef char* base = <char*>&m
    return sizeof(FeedMsg), {
        "epoch": <char*>&m.epoch - base, "seq": <char*>&m.seq - base,
        "instrument_seq": <char*>&m.instrument_seq - base, "ts": <char*>&m.ts - base,
        "engine_seq": <char*>&m.engine_seq - base, "price": <char*>&m.price - base, "qty": <char*>&m.qty - base,
        "trade_id": <char*>&m.trade_id - base, "bid_price": <char*>&m.bid_price - base,
        "bid_qty": <char*>&m.bid_qty - base, "ask_price": <char*>&m.ask_price - base,
        "ask_qty": <char*>&m.ask_qty - base, "open": <char*>&m.open - base, "high": <char*>&m.high - base,
        "low": <char*>&m.low - base, "previous": <char*>&m.previous - base,
        "volume": <char*>&m.volume[0] - base, "amount": <char*>&m.amount[0] - base,
        "instrument": <char*>&m.instrument - base, "count": <char*>&m.count - base,
        "msg_type": <char*>&m.msg_type - base, "side": <char*>&m.side - base,
        "trade_type": <char*>&m.trade_type - base, "status": <char*>&m.status - base,
        "block_window": <char*>&m.block_window - base, "cause": <char*>&m.cause - base,
    }


cdef inline uint64_t level_key(const Event* e) noexcept nogil:
    """One integer per (instrument, book, side, price): prices are below 2**39 and
    instruments below 2**20 (both checked before use)."""
    return (<uint64_t>e.price << 24) | (<uint64_t>e.instrument << 4) | (<uint64_t>(e.trade_type & 3) << 2) \
        | <uint64_t>(e.side & 3)


cdef inline bint published_depth(const Event* e) noexcept nogil:
    # block quotes are private and auction bids sealed: only these two books are public
    return e.kind == EV_DEPTH and (e.trade_type == TT_CONTINUOUS or e.trade_type == TT_FIXED)


ctypedef struct Plan:
    int32_t event               # index into the batch's events; -1 - n for instrument n's BBO
    int32_t key                 # topic key: msg_type * n_instruments + instrument
    uint8_t msg_type
    uint8_t status              # STATUS: the instrument's phase and block window after the event
    uint8_t block_window
    uint8_t cause               # STATUS: the phase change's StatusCause


cdef inline void write_row(FeedMsg* m, const Plan* p, const Event* ev, Py_ssize_t n_events,
                           const int64_t* bbo, int64_t bbo_ts) noexcept nogil:
    """Fill one message in place (each field once: the row is 208 bytes, most of them zero)."""
    cdef const Event* e
    cdef const Event* v
    cdef Py_ssize_t j
    memset(m, 0, sizeof(FeedMsg))
    m.msg_type = p.msg_type
    if p.event < 0:
        m.instrument = -1 - p.event
        m.ts = bbo_ts
        m.bid_price, m.bid_qty = bbo[4 * m.instrument], bbo[4 * m.instrument + 1]
        m.ask_price, m.ask_qty = bbo[4 * m.instrument + 2], bbo[4 * m.instrument + 3]
        return
    e = &ev[p.event]
    m.engine_seq, m.ts, m.instrument = e.seq, e.ts, e.instrument
    if p.msg_type == F_DEPTH:
        m.price, m.qty, m.count, m.side, m.trade_type = e.price, e.qty, e.count, e.side, e.trade_type
    elif p.msg_type == F_TRADE:
        m.price, m.qty, m.trade_id, m.side, m.trade_type = e.price, e.qty, e.trade_id, e.side, e.trade_type
    elif p.msg_type == F_STATUS:
        m.status, m.block_window, m.cause = p.status, p.block_window, p.cause
    elif p.msg_type == F_AUCTION_RESULT:
        m.price, m.qty, m.count = e.price, e.qty, e.count
        m.previous, m.status, m.trade_id = e.value, <uint8_t>e.reason, e.order_id
    elif p.msg_type == F_DAILY_STATS:
        m.price, m.open, m.high, m.low, m.qty, m.previous = e.price, e.open, e.high, e.low, e.qty, e.value
        # the volumes by trade type follow their DAILY_STATS: folded into this message
        for j in range(p.event + 1, min(p.event + 1 + N_TRADE_TYPES, n_events)):
            v = &ev[j]
            if v.kind == EV_DAILY_VOLUME and v.instrument == e.instrument and 1 <= v.trade_type <= N_TRADE_TYPES:
                m.volume[v.trade_type - 1] = v.qty
                m.amount[v.trade_type - 1] = v.value
    elif p.msg_type == F_INDICATIVE:
        m.price, m.qty, m.side = e.price, e.qty, e.side
        if e.side == SIDE_BUY:
            m.bid_qty = e.leaves
        elif e.side == SIDE_SELL:
            m.ask_qty = e.leaves


cdef class BatchEncoder:
    """Numbering state of the public feed and the encoder of one batch at a time.

    Topic keys are ``msg_type * n_instruments + instrument``; ``topic_seq[key]`` is the last
    ``instrument_seq`` published on that topic and ``last[key]`` its latest message (kept
    for snapshots, except depth, which snapshots read from the engine).
    """
    cdef readonly int n_instruments
    cdef public int64_t seq
    cdef public int64_t epoch
    cdef readonly object topic_seq          # int64 [N_FEED_TYPES * n]
    cdef readonly object status             # uint8 [n]
    cdef readonly object block_window       # uint8 [n]
    cdef readonly object cause              # uint8 [n]: the StatusCause of the last phase change
    cdef readonly object bbo                # int64 [n, 4]: bid price, bid qty, ask price, ask qty
    cdef readonly object last               # FEED_DTYPE [N_FEED_TYPES * n]
    cdef readonly object has_last           # bool [N_FEED_TYPES * n]
    cdef object _buffer                     # FEED_DTYPE rows reused by encode(reuse=True)

    def __init__(self, int n_instruments, int64_t epoch=0):
        if not 0 < n_instruments <= MAX_KEY_INSTRUMENTS:
            raise ValueError(f"a feed has 1..{MAX_KEY_INSTRUMENTS} instruments, not {n_instruments}")
        self.n_instruments = n_instruments
        self.seq = 0
        self.epoch = epoch
        self.topic_seq = np.zeros(N_FEED_TYPES * n_instruments, dtype=np.int64)
        self.status = np.zeros(n_instruments, dtype=np.uint8)
        self.block_window = np.zeros(n_instruments, dtype=np.uint8)
        self.cause = np.zeros(n_instruments, dtype=np.uint8)
        self.bbo = np.zeros((n_instruments, 4), dtype=np.int64)
        self.last = np.zeros(N_FEED_TYPES * n_instruments, dtype=FEED_DTYPE)
        self.has_last = np.zeros(N_FEED_TYPES * n_instruments, dtype=bool)
        self._buffer = np.zeros(4096, dtype=FEED_DTYPE)

    def encode(self, cnp.ndarray events not None, engine, bint reuse=False):
        """One batch: ``(rows, groups)``, rows ``FEED_DTYPE`` grouped by topic key in key
        order (feed order within a topic), groups a list of ``(key, start, end)``.

        ``reuse``: write the rows into a buffer kept between calls (valid until the next
        call; a fresh array of a few hundred kilobytes per batch costs page faults)."""
        if events.dtype != EVENT_DTYPE:
            raise TypeError("events must be an EVENT_DTYPE array")
        events = np.ascontiguousarray(events)
        cdef Py_ssize_t n = events.shape[0]
        cdef const Event* ev = <const Event*>cnp.PyArray_DATA(events)
        cdef int n_ins = self.n_instruments
        cdef Py_ssize_t i, n_sel = 0, n_depth = 0, n_out = 0, cap
        cdef uint8_t kind
        # the one pass over every event: most (acceptances, cancels, balances) publish nothing
        cdef int32_t* sel = <int32_t*>malloc((n + 1) * sizeof(int32_t))
        if sel == NULL:
            raise MemoryError()
        for i in range(n):
            kind = ev[i].kind
            if kind == EV_TRADE or kind == EV_DEPTH or kind == EV_INSTRUMENT_STATUS or kind == EV_BLOCK_WINDOW \
                    or kind == EV_AUCTION_RESULT or kind == EV_DAILY_STATS or kind == EV_INDICATIVE:
                if not 0 <= ev[i].instrument < n_ins or not 0 <= ev[i].price < MAX_KEY_PRICE:
                    free(sel)
                    raise ValueError(f"event {ev[i].seq}: instrument {ev[i].instrument} outside the feed's {n_ins} "
                                     f"or price {ev[i].price} outside 0..2**39")
                if kind != EV_DEPTH or published_depth(&ev[i]):
                    sel[n_sel] = <int32_t>i
                    n_sel += 1
                    n_depth += kind == EV_DEPTH
        cdef int bits = 4
        while (1 << bits) < 2 * n_depth:
            bits += 1
        cap = 1 << bits
        cdef Plan* plan = <Plan*>malloc((n_sel + n_ins + 1) * sizeof(Plan))
        cdef int32_t* table = <int32_t*>malloc(cap * sizeof(int32_t))      # event index of a level's last change
        cdef uint64_t* keys = <uint64_t*>malloc(cap * sizeof(uint64_t))    # ... and that level's key
        cdef uint8_t* touched = <uint8_t*>malloc(n_ins)                     # continuous depth that may move the BBO
        cdef int32_t* indicative = <int32_t*>malloc(n_ins * sizeof(int32_t))  # each call's last INDICATIVE
        cdef int64_t ts = 0
        if plan == NULL or table == NULL or keys == NULL or touched == NULL or indicative == NULL:
            free(sel); free(plan); free(table); free(keys); free(touched); free(indicative)
            raise MemoryError()
        try:
            memset(table, 0xFF, cap * sizeof(int32_t))
            memset(touched, 0, n_ins)
            memset(indicative, 0xFF, n_ins * sizeof(int32_t))
            n_out = self._collect(ev, sel, n_sel, plan, table, keys, bits, touched, indicative)
            for i in range(n_sel):
                if ev[sel[i]].ts > ts:
                    ts = ev[sel[i]].ts
            n_out = self._bbos(engine, plan, n_out, touched)
            return self._number(ev, n, plan, n_out, ts, reuse)
        finally:
            free(sel); free(plan); free(table); free(keys); free(touched); free(indicative)

    cdef Py_ssize_t _collect(self, const Event* ev, const int32_t* sel, Py_ssize_t n_sel, Plan* plan,
                             int32_t* table, uint64_t* keys, int bits, uint8_t* touched,
                             int32_t* indicative) except -1:
        """What to publish for the selected events (``sel``: indices into ``ev``, in order):
        each level's last change and each call's last indicative uncrossing of the batch."""
        cdef Py_ssize_t i, j, n_out = 0
        cdef uint64_t h, key, mask = (1ULL << bits) - 1
        cdef int shift = 64 - bits
        cdef const Event* e
        cdef Plan* p
        cdef uint8_t[::1] status = self.status
        cdef uint8_t[::1] block_window = self.block_window
        cdef uint8_t[::1] cause = self.cause
        cdef int64_t[:, ::1] bbo = self.bbo
        cdef int n_ins = self.n_instruments
        # each level's last change in the batch: the one whose final state is published
        # (open addressing on the level key, Fibonacci hashing: the table's top bits)
        for j in range(n_sel):
            i = sel[j]
            e = &ev[i]
            if e.kind == EV_INDICATIVE:
                indicative[e.instrument] = <int32_t>i
            elif e.kind == EV_DEPTH:
                key = level_key(e)
                h = (key * 0x9E3779B97F4A7C15ULL) >> shift
                while table[h] >= 0 and keys[h] != key:
                    h = (h + 1) & mask
                table[h] = <int32_t>i
                keys[h] = key
        for j in range(n_sel):
            i = sel[j]
            e = &ev[i]
            p = &plan[n_out]
            if e.kind == EV_TRADE:
                p.msg_type = F_TRADE
            elif e.kind == EV_DEPTH:
                key = level_key(e)
                h = (key * 0x9E3779B97F4A7C15ULL) >> shift
                while keys[h] != key:
                    h = (h + 1) & mask
                if table[h] != i:
                    continue                      # changed again later in the batch
                p.msg_type = F_DEPTH
                if e.trade_type == TT_CONTINUOUS:
                    # only a level at or better than the published best can move the BBO
                    if e.side == SIDE_BUY and (bbo[e.instrument, 0] == 0 or e.price >= bbo[e.instrument, 0]):
                        touched[e.instrument] = 1
                    elif e.side == SIDE_SELL and (bbo[e.instrument, 2] == 0 or e.price <= bbo[e.instrument, 2]):
                        touched[e.instrument] = 1
            elif e.kind == EV_INSTRUMENT_STATUS or e.kind == EV_BLOCK_WINDOW:
                if e.kind == EV_INSTRUMENT_STATUS:
                    status[e.instrument] = <uint8_t>e.value
                    cause[e.instrument] = <uint8_t>e.reason
                else:
                    block_window[e.instrument] = <uint8_t>e.value
                p.msg_type = F_STATUS
                p.status, p.block_window = status[e.instrument], block_window[e.instrument]
                p.cause = cause[e.instrument]      # a block window's change keeps the phase's cause
            elif e.kind == EV_AUCTION_RESULT:
                p.msg_type = F_AUCTION_RESULT
            elif e.kind == EV_INDICATIVE:
                if indicative[e.instrument] != i:
                    continue                      # superseded later in the batch
                p.msg_type = F_INDICATIVE
            else:
                p.msg_type = F_DAILY_STATS
            p.event = <int32_t>i
            p.key = p.msg_type * n_ins + e.instrument
            n_out += 1
        return n_out

    cdef Py_ssize_t _bbos(self, engine, Plan* plan, Py_ssize_t n_out, uint8_t* touched) except -1:
        cdef int64_t[:, ::1] bbo = self.bbo
        cdef int64_t bid_p, bid_q, ask_p, ask_q
        cdef int n
        cdef Plan* p
        for n in range(self.n_instruments):
            if not touched[n]:
                continue
            view = engine.book(n, 1)            # the engine's books are the truth; one C call
            bid_p, bid_q = view.bids[0][:2] if view.bids else (0, 0)
            ask_p, ask_q = view.asks[0][:2] if view.asks else (0, 0)
            if bid_p == bbo[n, 0] and bid_q == bbo[n, 1] and ask_p == bbo[n, 2] and ask_q == bbo[n, 3]:
                continue
            bbo[n, 0], bbo[n, 1], bbo[n, 2], bbo[n, 3] = bid_p, bid_q, ask_p, ask_q
            p = &plan[n_out]
            p.event, p.msg_type, p.key = -1 - n, F_BBO, F_BBO * self.n_instruments + n
            n_out += 1
        return n_out

    cdef tuple _number(self, const Event* ev, Py_ssize_t n_events, const Plan* plan, Py_ssize_t n_out,
                       int64_t bbo_ts, bint reuse):
        """Feed sequence in batch order; each message written once, in place, grouped by topic
        (a stable counting sort by key)."""
        cdef int n_ins = self.n_instruments
        cdef Py_ssize_t n_keys = N_FEED_TYPES * n_ins, i, k, pos
        cdef int64_t[::1] topic_seq = self.topic_seq
        cdef cnp.ndarray rows
        if reuse:
            if len(self._buffer) < n_out:
                self._buffer = np.zeros(max(n_out, 2 * len(self._buffer)), dtype=FEED_DTYPE)
            rows = self._buffer[:n_out]
        else:
            rows = np.empty(n_out, dtype=FEED_DTYPE)
        cdef FeedMsg* dst = <FeedMsg*>cnp.PyArray_DATA(rows)
        cdef FeedMsg* last = <FeedMsg*>cnp.PyArray_DATA(self.last)
        cdef uint8_t[::1] has_last = self.has_last.view(np.uint8)
        cdef cnp.ndarray bbo_arr = self.bbo
        cdef const int64_t* bbo = <const int64_t*>cnp.PyArray_DATA(bbo_arr)
        cdef FeedMsg* m
        cdef int64_t* start = <int64_t*>malloc((n_keys + 1) * sizeof(int64_t))
        if start == NULL:
            raise MemoryError()
        groups = []
        try:
            memset(start, 0, (n_keys + 1) * sizeof(int64_t))
            for i in range(n_out):
                start[plan[i].key + 1] += 1
            for k in range(n_keys):
                if start[k + 1]:
                    groups.append((k, start[k], start[k] + start[k + 1]))
                start[k + 1] += start[k]
            for i in range(n_out):
                k = plan[i].key
                pos = start[k]
                start[k] += 1
                m = &dst[pos]
                write_row(m, &plan[i], ev, n_events, bbo, bbo_ts)
                self.seq += 1
                topic_seq[k] += 1
                m.epoch, m.seq, m.instrument_seq = self.epoch, self.seq, topic_seq[k]
                if plan[i].msg_type != F_DEPTH:
                    memcpy(&last[k], m, sizeof(FeedMsg))
                    has_last[k] = 1
        finally:
            free(start)
        return rows, groups


# ------------------------------------------------------------------ the trade tape
cdef int64_t CST_OFFSET_NS = 8 * 3600 * 1_000_000_000

cdef inline void civil(int64_t days, int* y, int* mo, int* d) noexcept nogil:
    """Proleptic Gregorian date of a day count from 1970-01-01 (H. Hinnant's days_from_civil, inverted)."""
    cdef int64_t z = days + 719468
    cdef int64_t era = (z if z >= 0 else z - 146096) // 146097
    cdef int64_t doe = z - era * 146097
    cdef int64_t yoe = (doe - doe // 1460 + doe // 36524 - doe // 146096) // 365
    cdef int64_t doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    cdef int64_t mp = (5 * doy + 2) // 153
    d[0] = <int>(doy - (153 * mp + 2) // 5 + 1)
    mo[0] = <int>(mp + 3 if mp < 10 else mp - 9)
    y[0] = <int>(yoe + era * 400 + (1 if mo[0] <= 2 else 0))


cdef inline char* put_int(char* p, int64_t v) noexcept nogil:
    cdef char tmp[24]
    cdef int k = 0
    cdef uint64_t u
    if v < 0:
        p[0] = b'-'
        p += 1
        u = <uint64_t>(-(v + 1)) + 1
    else:
        u = <uint64_t>v
    while True:
        tmp[k] = <char>(48 + u % 10)
        k += 1
        u //= 10
        if u == 0:
            break
    while k:
        k -= 1
        p[0] = tmp[k]
        p += 1
    return p


cdef inline char* put_digits(char* p, int v, int width) noexcept nogil:
    cdef int k
    for k in range(width - 1, -1, -1):
        p[k] = <char>(48 + v % 10)
        v //= 10
    return p + width


cdef inline char* put_bytes(char* p, bytes b):
    cdef Py_ssize_t n = len(b)
    memcpy(p, <char*>b, n)
    return p + n


def tape(cnp.ndarray events not None, list symbols, list type_names, list side_names, list region_names,
         cnp.ndarray region_of not None, cnp.ndarray allowance not None, cnp.ndarray cross not None,
         cnp.ndarray net not None):
    """The trade tape's CSV lines (``\\r\\n``-terminated, as ``csv.writer`` writes) of a batch's
    TRADE events, and the batch's regional flows added to ``cross`` and ``net``.

    ``region_of`` (int64, by account id) holds each account's region code (an index of
    ``region_names``), -1 for an account not asked yet. ``allowance`` (bool, by instrument)
    says which instruments count in the SC->CQ allowance flow; ``cross`` and ``net`` (int64,
    by instrument) accumulate the cross-regional volume and the net flow from Sichuan to
    Chongqing. Times are China Standard Time (UTC+8), to the second.

    Returns ``(blob, days, ends, unknown, closes)``: the lines as one bytes object, each
    line's CST day number (days since 1970-01-01), each line's end offset in blob, the
    accounts whose region is not known yet (when not empty, nothing was written or added:
    fill ``region_of`` for them and call again) and the positions of the DAILY_STATS events
    (the same pass finds them).
    """
    if events.dtype != EVENT_DTYPE:
        raise TypeError("events must be an EVENT_DTYPE array")
    events = np.ascontiguousarray(events)
    cdef Py_ssize_t n = events.shape[0], i, n_trades = 0, t = 0
    cdef const Event* ev = <const Event*>cnp.PyArray_DATA(events)
    cdef const Event* e
    cdef int64_t[::1] regions = region_of
    cdef uint8_t[::1] is_allowance = allowance.view(np.uint8)
    cdef int64_t[::1] cross_v = cross
    cdef int64_t[::1] net_v = net
    cdef Py_ssize_t n_acc = regions.shape[0], n_sym = len(symbols)
    cdef int64_t local, secs, day, sod, rb, rs
    cdef int y, mo, d
    cdef int k
    cdef int32_t a
    cdef Py_ssize_t n_regions = len(region_names)
    if is_allowance.shape[0] != n_sym or cross_v.shape[0] != n_sym or net_v.shape[0] != n_sym:
        raise ValueError("allowance, cross and net need one entry per instrument")
    unknown = set()
    cdef cnp.ndarray picked_arr = np.empty(n, dtype=np.int64)
    cdef int64_t[::1] picked = picked_arr
    closes = []
    for i in range(n):
        e = &ev[i]
        if e.kind != EV_TRADE:
            if e.kind == EV_DAILY_STATS:
                closes.append(i)
            continue
        picked[n_trades] = i
        n_trades += 1
        if not (0 <= e.instrument < n_sym and 0 < e.trade_type < len(type_names) and e.side < len(side_names)):
            raise ValueError(f"trade {e.trade_id}: instrument, type or side outside the tape's tables")
        for k in range(2):
            a = e.buy_account if k == 0 else e.sell_account
            if a < 0:
                raise ValueError(f"trade {e.trade_id}: account {a}")
            if a >= n_acc or regions[a] < 0:
                unknown.add(a)
            elif regions[a] >= n_regions:
                raise ValueError(f"account {a}: region code {regions[a]} outside the tape's tables")
    if unknown:
        return b"", np.zeros(0, np.int64), np.zeros(0, np.int64), sorted(unknown), closes
    enc_sym = [x.encode() for x in symbols]
    enc_tt = [x.encode() for x in type_names]
    enc_side = [x.encode() for x in side_names]
    enc_region = [x.encode() for x in region_names]
    cdef Py_ssize_t longest = max([len(x) for x in enc_sym] + [0]) + max(len(x) for x in enc_tt) \
        + max(len(x) for x in enc_side) + 2 * max(len(x) for x in enc_region)
    cdef Py_ssize_t room = n_trades * (longest + 128) + 1
    cdef cnp.ndarray days_arr = np.empty(n_trades, dtype=np.int64)
    cdef cnp.ndarray ends_arr = np.empty(n_trades, dtype=np.int64)
    cdef int64_t[::1] days = days_arr
    cdef int64_t[::1] ends = ends_arr
    cdef char* buf = <char*>malloc(room)
    cdef char* p = buf
    if buf == NULL:
        raise MemoryError()
    try:
        for i in range(n_trades):
            e = &ev[picked[i]]
            rb, rs = regions[e.buy_account], regions[e.sell_account]
            if rb != rs:
                cross_v[e.instrument] += e.qty
                if is_allowance[e.instrument]:
                    net_v[e.instrument] += e.qty if rs == 1 else -e.qty       # 1: Region.SC
            local = e.ts + CST_OFFSET_NS
            secs = local // 1_000_000_000 if local >= 0 else -((-local + 999_999_999) // 1_000_000_000)
            day = secs // 86400
            sod = secs - day * 86400
            civil(day, &y, &mo, &d)
            days[t] = day
            p = put_int(p, e.trade_id)
            p[0] = b','
            p = put_digits(p + 1, y, 4)
            p[0] = b'-'
            p = put_digits(p + 1, mo, 2)
            p[0] = b'-'
            p = put_digits(p + 1, d, 2)
            p[0] = b'T'
            p = put_digits(p + 1, <int>(sod // 3600), 2)
            p[0] = b':'
            p = put_digits(p + 1, <int>(sod // 60 % 60), 2)
            p[0] = b':'
            p = put_digits(p + 1, <int>(sod % 60), 2)
            memcpy(p, b"+08:00,", 7)
            p = put_bytes(p + 7, enc_sym[e.instrument])
            p[0] = b','
            p = put_bytes(p + 1, enc_tt[e.trade_type])
            p[0] = b','
            p = put_int(p + 1, e.price)
            p[0] = b','
            p = put_int(p + 1, e.qty)
            p[0] = b','
            p = put_bytes(p + 1, enc_side[e.side])
            p[0] = b','
            p = put_bytes(p + 1, enc_region[rb])
            p[0] = b','
            p = put_bytes(p + 1, enc_region[rs])
            p[0] = b'\r'
            p[1] = b'\n'
            p += 2
            ends[t] = p - buf
            t += 1
        return buf[:p - buf], days_arr, ends_arr, [], closes
    finally:
        free(buf)


# ------------------------------------------------------------------ the drop copy
# Mirrors feeds.dropcopy.DROP_COPY_DTYPE (aligned); checked by drop_copy_layout() at import.
ctypedef struct DropCopyMsg:
    int64_t epoch
    int64_t seq
    int64_t engine_seq
    int64_t cmd_seq
    int64_t ts
    int64_t trade_id
    int64_t price
    int64_t qty
    int64_t buy_order_id
    int64_t sell_order_id
    int64_t buy_fee
    int64_t sell_fee
    int32_t buy_account
    int32_t sell_account
    int32_t instrument
    uint8_t side
    uint8_t trade_type


def drop_copy_layout():
    """``(itemsize, {field: offset})`` of the C drop-copy struct."""
    cdef DropCopyMsg m
    cdef char* base = <char*>&m
    return sizeof(DropCopyMsg), {
        "epoch": <char*>&m.epoch - base, "seq": <char*>&m.seq - base, "engine_seq": <char*>&m.engine_seq - base,
        "cmd_seq": <char*>&m.cmd_seq - base, "ts": <char*>&m.ts - base, "trade_id": <char*>&m.trade_id - base,
        "price": <char*>&m.price - base, "qty": <char*>&m.qty - base,
        "buy_order_id": <char*>&m.buy_order_id - base, "sell_order_id": <char*>&m.sell_order_id - base,
        "buy_fee": <char*>&m.buy_fee - base, "sell_fee": <char*>&m.sell_fee - base,
        "buy_account": <char*>&m.buy_account - base, "sell_account": <char*>&m.sell_account - base,
        "instrument": <char*>&m.instrument - base, "side": <char*>&m.side - base,
        "trade_type": <char*>&m.trade_type - base,
    }


def drop_copy(cnp.ndarray events not None, dtype, int64_t epoch, int64_t first_seq):
    """The batch's executions as drop-copy messages (``dtype``: DROP_COPY_DTYPE), numbered
    from ``first_seq``: one pass over the events."""
    if events.dtype != EVENT_DTYPE:
        raise TypeError("events must be an EVENT_DTYPE array")
    events = np.ascontiguousarray(events)
    cdef Py_ssize_t n = events.shape[0], i, k = 0, n_trades = 0
    cdef const Event* ev = <const Event*>cnp.PyArray_DATA(events)
    cdef const Event* e
    for i in range(n):
        n_trades += ev[i].kind == EV_TRADE
    cdef cnp.ndarray rows = np.zeros(n_trades, dtype=dtype)
    if rows.dtype.itemsize != sizeof(DropCopyMsg):
        raise TypeError("dtype is not the drop-copy layout")
    cdef DropCopyMsg* m = <DropCopyMsg*>cnp.PyArray_DATA(rows)
    for i in range(n):
        e = &ev[i]
        if e.kind != EV_TRADE:
            continue
        m[k].epoch, m[k].seq, m[k].engine_seq, m[k].cmd_seq, m[k].ts = epoch, first_seq + k, e.seq, e.cmd_seq, e.ts
        m[k].trade_id, m[k].price, m[k].qty = e.trade_id, e.price, e.qty
        m[k].buy_order_id, m[k].sell_order_id, m[k].buy_fee, m[k].sell_fee = (
            e.buy_order_id, e.sell_order_id, e.buy_fee, e.sell_fee)
        m[k].buy_account, m[k].sell_account, m[k].instrument = e.buy_account, e.sell_account, e.instrument
        m[k].side, m[k].trade_type = e.side, e.trade_type
        k += 1
    return rows


# ------------------------------------------------------------------ the subscriber
def apply_depth(cnp.ndarray rows not None, list levels):
    """Apply the DEPTH messages of ``rows`` (FEED_DTYPE, in feed order) to a subscriber's
    books: ``levels[4 * instrument + 2 * (book - 1) + (side - 1)]`` is the ``{price: (qty,
    count)}`` dict of that instrument's book side (book 1 continuous, 2 fixed-price). A zero
    quantity removes the level. Returns how many messages were DEPTH."""
    if rows.dtype != FEED_DTYPE or not rows.flags.c_contiguous:
        raise TypeError("rows must be a contiguous FEED_DTYPE array")
    cdef Py_ssize_t n = rows.shape[0], i, applied = 0, slot, n_slots = len(levels)
    cdef const FeedMsg* m = <const FeedMsg*>cnp.PyArray_DATA(rows)
    cdef dict side_levels
    for i in range(n):
        if m[i].msg_type != F_DEPTH:
            continue
        if not (1 <= m[i].trade_type <= 2 and 1 <= m[i].side <= 2):
            raise ValueError(f"message {m[i].seq}: DEPTH of book {m[i].trade_type}, side {m[i].side}")
        slot = 4 * <Py_ssize_t>m[i].instrument + 2 * (m[i].trade_type - 1) + (m[i].side - 1)
        if not 0 <= slot < n_slots:
            raise ValueError(f"message {m[i].seq}: instrument {m[i].instrument} unknown to this subscriber")
        side_levels = <dict>levels[slot]
        if m[i].qty:
            side_levels[m[i].price] = (m[i].qty, m[i].count)
        else:
            side_levels.pop(m[i].price, None)
        applied += 1
    return applied
