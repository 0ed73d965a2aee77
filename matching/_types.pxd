# The C-level contract of the matching core: integer types, enum values and the structs
# that mirror matching/dtypes.py. The values equal matching/codes.py; _engine checks both
# the enum values and the struct layouts against the Python definitions on import.
from libc.stdint cimport int16_t, int32_t, int64_t, uint8_t, uint16_t, uint32_t, uint64_t

ctypedef int64_t price_t     # fen per tonne
ctypedef int64_t qty_t       # tonnes
ctypedef int32_t slot_t      # index into a C pool; -1 = none

cdef enum:
    SIDE_BUY = 1
    SIDE_SELL = 2

    OT_LIMIT = 1
    OT_MARKET = 2
    OT_FIXED_LISTING = 3
    OT_FIXED_TAKE = 4
    OT_BLOCK_QUOTE = 5
    OT_BLOCK_ACCEPT = 6
    OT_AUCTION_BID = 7
    OT_AUCTION_LOT = 8

    CONTINUOUS_BOOK = 0
    FIXED_BOOK = 1
    BLOCK_BOOK = 2
    AUCTION_BOOK = 3
    N_BOOKS = 4

    TIF_GTC = 1
    TIF_DAY = 2
    TIF_IOC = 3
    TIF_FOK = 4

    STP_ACCOUNT_DEFAULT = 0
    STP_OFF = 1
    STP_CANCEL_NEWEST = 2
    STP_CANCEL_OLDEST = 3
    STP_CANCEL_BOTH = 4

    CMD_NEW_ORDER = 1
    CMD_CANCEL = 2
    CMD_REDUCE = 3
    CMD_REPLACE = 4
    CMD_SET_INSTRUMENT_STATUS = 10
    CMD_SET_ACCOUNT_STP = 11
    CMD_EXPIRE_DAY_ORDERS = 12
    CMD_CREATE_ACCOUNT = 20
    CMD_SET_ACCOUNT_STATUS = 21
    CMD_DEPOSIT = 22
    CMD_WITHDRAW = 23
    CMD_CREDIT_HOLDINGS = 24
    CMD_DEBIT_HOLDINGS = 25
    CMD_SET_RETENTION_FLOOR = 26
    CMD_SET_POSITION_LIMIT = 27
    CMD_RELEASE_T1 = 28
    CMD_SET_OBLIGATION = 29
    CMD_LIST_FIXED = 30
    CMD_TAKE_FIXED = 31
    CMD_BLOCK_QUOTE = 32
    CMD_BLOCK_ACCEPT = 33
    CMD_SET_BLOCK_WINDOW = 34
    CMD_END_OF_DAY = 35
    CMD_AUCTION_OPEN = 36
    CMD_AUCTION_BID = 37
    CMD_AUCTION_ELIGIBLE = 38
    CMD_AUCTION_CLOSE = 39
    CMD_SET_INSTRUMENT_PARAMETER = 40
    CMD_CANCEL_ALL = 41
    CMD_ADD_INSTRUMENT = 42
    CMD_SET_FEE_REBATE = 43
    CMD_SURRENDER = 44
    CMD_FINE = 45

    EV_ACCEPTED = 1
    EV_REJECTED = 2
    EV_TRADE = 3
    EV_CANCELLED = 4
    EV_REDUCED = 5
    EV_REPLACED = 6
    EV_DEPTH = 7
    EV_INSTRUMENT_STATUS = 8
    EV_ACCOUNT_UPDATED = 9
    EV_BALANCE = 10
    EV_DAILY_STATS = 11
    EV_DAILY_VOLUME = 12
    EV_BLOCK_WINDOW = 13
    EV_AUCTION_RESULT = 14
    EV_INSTRUMENT_PARAMETER = 15
    EV_INSTRUMENT_ADDED = 16
    EV_INDICATIVE = 17
    EV_SURRENDERED = 18
    EV_FINED = 19

    REJ_UNKNOWN_COMMAND = 1001
    # 1002-1018: raised by the gateway, listed in matching.codes.Reject, never by the engine
    REJ_UNKNOWN_ACCOUNT = 2001
    REJ_INSUFFICIENT_CASH = 2002
    REJ_INSUFFICIENT_HOLDINGS = 2003
    REJ_RETENTION_FLOOR = 2004
    REJ_ACCOUNT_SUSPENDED = 2005
    REJ_ACCOUNT_SELL_ONLY = 2006
    REJ_POSITION_LIMIT = 2007
    REJ_CER_CAP = 2008
    REJ_UNKNOWN_INSTRUMENT = 3001
    REJ_INSTRUMENT_HALTED = 3002
    REJ_BAD_SIDE = 3003
    REJ_BAD_ORDER_TYPE = 3004
    REJ_BAD_TIME_IN_FORCE = 3005
    REJ_BAD_STP_MODE = 3006
    REJ_BAD_QUANTITY = 3007
    REJ_OFF_LOT_QUANTITY = 3008
    REJ_BAD_PRICE = 3009
    REJ_OFF_TICK_PRICE = 3010
    REJ_PRICE_OUTSIDE_BAND = 3011
    REJ_ORDER_TOO_LARGE = 3012
    REJ_UNKNOWN_ORDER = 3013
    REJ_NOT_OWNER = 3014
    REJ_FOK_NOT_FILLABLE = 3015
    REJ_REDUCE_NOT_SMALLER = 3016
    REJ_MARKET_CLOSED = 3017
    REJ_WOULD_CROSS = 3018
    REJ_BLOCK_WINDOW_CLOSED = 3019
    REJ_SELF_TAKE = 3020
    REJ_BELOW_MINIMUM = 3021
    REJ_EXCEEDS_REMAINING = 3022
    REJ_NOT_BEST_LISTING = 3023
    REJ_WRONG_ORDER_KIND = 3024
    REJ_NOT_COUNTERPARTY = 3025
    REJ_PARTIAL_NOT_ALLOWED = 3026
    REJ_BELOW_RESERVE = 3027
    REJ_BIDDER_CAP = 3028
    REJ_NOT_ELIGIBLE = 3029
    REJ_AUCTION_IN_PROGRESS = 3030
    REJ_NO_AUCTION = 3031
    REJ_BEYOND_SELECT_DEPTH = 3032
    REJ_NOT_FIRST_AT_LEVEL = 3033
    REJ_BAD_STATUS = 4001
    REJ_ACCOUNT_EXISTS = 4002
    REJ_BAD_REGION = 4003
    REJ_BAD_SECTOR = 4004
    REJ_BAD_AMOUNT = 4005
    REJ_BAD_PARAMETER = 4006
    REJ_INSTRUMENT_EXISTS = 4007

    CXL_USER = 1
    CXL_IOC_REMAINDER = 2
    CXL_SELF_TRADE = 3
    CXL_EXPIRY = 4
    CXL_SANCTION = 5
    CXL_OUTSIDE_BAND = 6
    CXL_AUCTION = 7
    CXL_OPERATOR = 8

    OUT_CLEARED = 1
    OUT_UNDERSUBSCRIBED = 2
    OUT_FAILED = 3
    OUT_CANCELLED_VOLUME = 4
    OUT_CANCELLED_PRICE = 5

    TT_CONTINUOUS = 1
    TT_FIXED = 2
    TT_BLOCK = 3
    TT_AUCTION = 4

    STATUS_TRADING = 1
    STATUS_HALTED = 2
    STATUS_CLOSED = 3
    STATUS_PRE_OPEN = 4
    STATUS_CALL = 5

    PARAM_TICK = 1
    PARAM_LOT = 2
    PARAM_MAX_ORDER_QTY = 3
    PARAM_REFERENCE_PRICE = 4
    PARAM_BAND_BPS = 5
    PARAM_BLOCK_BAND_BPS = 6
    PARAM_BLOCK_MIN_QTY = 7
    PARAM_MIN_CLOSE_VOLUME = 8
    PARAM_DYNAMIC_BAND_BPS = 9
    PARAM_SELECT_DEPTH = 10
    PARAM_SELECT_FIFO = 11
    PARAM_CER_CAP_BPS = 12
    MAX_SELECT_DEPTH = 100

    CAUSE_VOLATILITY = 1

    ACCT_ACTIVE = 1
    ACCT_SELL_ONLY = 2
    ACCT_SUSPENDED = 3

    KIND_ALLOWANCE = 1
    KIND_CER = 2

    REGION_SC = 1
    REGION_CQ = 2
    SECTOR_FIRST = 1
    SECTOR_LAST = 10

    N_TRADE_TYPES = 5
    ALL_INSTRUMENTS = -1
    PUBLIC = -1
    FLAG_NON_TRADABLE = 1
    FLAG_PARTIAL = 2
    FLAG_PAY_AS_BID = 4
    FLAG_FAIL_UNDERSUBSCRIBED = 8
    FLAG_PRIMARY = 16
    FLAG_COMPLIANCE_ONLY = 32
    FLAG_RANDOM_TIES = 64
    FLAG_CAP_SHORTFALL = 128
    ROLLOVER_AUCTIONS = 4
    SYMBOL_BYTES = 32
    # ADD_INSTRUMENT flags
    FLAG_T_PLUS_ONE = 1
    FLAG_MUST_TAKE_BEST = 2
    FLAG_LISTINGS_EXPIRE = 4
    NOT_RESTING = -2            # Order.prev of an order in no level


# Mirrors COMMAND_DTYPE (aligned).
ctypedef struct Command:
    int64_t seq
    int64_t ts
    int64_t order_id
    int64_t client_order_id
    int64_t price
    int64_t qty
    int64_t value
    int32_t account
    int32_t instrument
    int32_t session
    int32_t member
    int32_t contra_account
    int32_t min_qty
    uint8_t type
    uint8_t side
    uint8_t order_type
    uint8_t tif
    uint8_t stp
    uint8_t region
    uint8_t sector
    uint8_t status
    uint8_t flags

# Mirrors EVENT_DTYPE: fields no kind of event uses together share their bytes.
cdef extern from *:
    """
    typedef struct {
        int64_t seq;
        int64_t cmd_seq;
        int64_t ts;
        union { int64_t order_id; int64_t trade_id; };
        union { int64_t client_order_id; int64_t buy_order_id; };
        int64_t price;
        int64_t qty;
        union { int64_t leaves; int64_t sell_order_id; };
        union { int64_t value; int64_t buy_leaves; };
        union { int64_t sell_leaves; int64_t open; };
        union { int64_t buy_fee; int64_t high; };
        union { int64_t sell_fee; int64_t low; };
        union { int32_t account; int32_t buy_account; };
        union { int32_t sell_account; int32_t count; };
        int32_t instrument;
        uint16_t reason;
        uint8_t kind;
        uint8_t side;
        uint8_t trade_type;
        uint8_t order_type;
        uint8_t tif;
        uint8_t command;
    } Event;

    /* A zeroed event row. A memset of the 120 bytes compiles to rep stos, whose start-up
       cost is paid on every event (two or three per command); eight unaligned SSE2
       stores are a few cycles. The trailing padding is zeroed too: rows are compared
       and journalled as bytes. */
    #if defined(__SSE2__)
    #include <emmintrin.h>
    static inline void event_clear(Event* e) {
        char* p = (char*)e;
        __m128i z = _mm_setzero_si128();
        _mm_storeu_si128((__m128i*)(p + 0), z);
        _mm_storeu_si128((__m128i*)(p + 16), z);
        _mm_storeu_si128((__m128i*)(p + 32), z);
        _mm_storeu_si128((__m128i*)(p + 48), z);
        _mm_storeu_si128((__m128i*)(p + 64), z);
        _mm_storeu_si128((__m128i*)(p + 80), z);
        _mm_storeu_si128((__m128i*)(p + 96), z);
        _mm_storel_epi64((__m128i*)(p + 112), z);
    }
    #else
    static inline void event_clear(Event* e) { memset(e, 0, sizeof(Event)); }
    #endif
    """
    ctypedef struct Event:
        int64_t seq
        int64_t cmd_seq
        int64_t ts
        int64_t order_id
        int64_t client_order_id
        int64_t price
        int64_t qty
        int64_t leaves
        int64_t trade_id
        int64_t buy_order_id
        int64_t sell_order_id
        int64_t buy_leaves
        int64_t sell_leaves
        int64_t value
        int64_t buy_fee
        int64_t sell_fee
        int64_t open
        int64_t high
        int64_t low
        int32_t account
        int32_t buy_account
        int32_t sell_account
        int32_t instrument
        int32_t count
        uint16_t reason
        uint8_t kind
        uint8_t side
        uint8_t trade_type
        uint8_t order_type
        uint8_t tif
        uint8_t command

    void event_clear(Event* e) nogil

# Mirrors BOOK_ORDER_DTYPE (aligned).
ctypedef struct BookOrder:
    int64_t order_id
    int64_t client_order_id
    int64_t price
    int64_t qty
    int64_t ts
    int32_t account
    int32_t instrument
    int32_t terms
    uint8_t side
    uint8_t tif
    uint8_t stp
    uint8_t order_type
    uint8_t flags

# A live order: 48 bytes, the most of the memory a resting order costs. It is always in
# exactly one of: the free list (next = next free), a price level's FIFO (prev/next; prev is
# -1 at the head), or in flight as the incoming order of a command (prev = NOT_RESTING, as
# on the free list). Its level is found from its price (one per price and side of a book).
# Prices fit 32 bits (at most 2 x MAX_PRICE, an auction's reserve) and quantities too (at
# most MAX_QTY); the small fields are C bit-fields, so no code may take their address.
# The minimum take of a listing and the contra account of a block quote live beside the
# pool (Engine._terms): only those orders have them.
cdef extern from *:
    """
    typedef struct {
        int64_t order_id;
        int64_t client_order_id;
        int64_t ts;             /* time priority stamp (engine clock) */
        int32_t price;          /* 0 for market orders */
        int32_t qty;            /* remaining */
        int32_t account;
        int32_t prev;
        int32_t next;
        int16_t instrument;
        uint16_t side : 2;
        uint16_t tif : 3;
        uint16_t stp : 3;       /* resolved mode, never ACCOUNT_DEFAULT */
        uint16_t order_type : 4;    /* names the book the order rests in */
        uint16_t flags : 2;     /* block quote: FLAG_PARTIAL (an auction bid's flags are its auction's) */
    } Order;
    """
    ctypedef struct Order:
        int64_t order_id
        int64_t client_order_id
        int64_t ts
        int32_t price
        int32_t qty
        int32_t account
        slot_t prev
        slot_t next
        int16_t instrument
        uint8_t side
        uint8_t tif
        uint8_t stp
        uint8_t order_type
        uint8_t flags

# A price level: a FIFO of order slots with its aggregates.
ctypedef struct Level:      # 32 bytes
    int32_t price           # prices fit 32 bits, as an Order's
    int32_t markets         # market orders resting here: a call's band edge, no price of its own
    int64_t qty
    uint32_t stamp          # the command that last reported it in the depth list (wraps)
    int32_t count
    slot_t head             # free list link when the level is free
    slot_t tail

# One side of one book: level slots sorted by ascending key, best level last, where the
# key is the price for bids and minus the price for asks (see side_key). The keys are kept
# beside the slots, in the same allocation (keys == levels + cap), so that finding a price
# reads one small array instead of a Level per probe, and can search without branching.
ctypedef struct BookSide:
    slot_t* levels
    int32_t* keys
    int32_t n
    int32_t cap

ctypedef struct InstrumentParams:
    int64_t tick
    int64_t lot
    int64_t max_qty
    int64_t reference
    int64_t band_bps
    int64_t band_low
    int64_t band_high
    int64_t block_band_bps
    int64_t block_low
    int64_t block_high
    int64_t block_min
    int64_t min_close_volume
    int64_t dynamic_band_bps
    int64_t select_depth    # 0: continuous orders match; N: taker-select within the best N levels
    uint8_t select_fifo
    uint8_t status
    uint8_t t_plus_one
    uint8_t must_take_best
    uint8_t listings_expire
    uint8_t block_window
    uint32_t indicated      # the command stamp of the instrument's last INDICATIVE event
    # the definition, read only by queries and snapshots (after the fields matching reads)
    char symbol[SYMBOL_BYTES]   # UTF-8, NUL-padded
    uint8_t kind                # InstrumentKind
    uint8_t region              # Region
    int64_t cer_cap_bps         # compliance: the share of an obligation in it CERs may meet
    int64_t year

# An instrument's trading day so far; volume and amount are indexed by trade type.
ctypedef struct Day:
    int64_t volume[N_TRADE_TYPES]
    int64_t amount[N_TRADE_TYPES]
    int64_t open
    int64_t high
    int64_t low
    int64_t last            # the latest continuous trade's price: the dynamic band's centre

# A level a command changed, reported in one DEPTH event when the command ends.
ctypedef struct Touch:
    int64_t price
    int32_t instrument
    slot_t level
    uint8_t book
    uint8_t side

# Mirrors ACCOUNT_DTYPE (aligned).
ctypedef struct AccountRecord:
    int64_t cash_available
    int64_t cash_frozen
    int32_t account
    int32_t member
    uint8_t region
    uint8_t sector
    uint8_t status

# An account's position in one instrument: 64 bytes, one cache line.
ctypedef struct Holding:
    int64_t available       # sellable now
    int64_t frozen          # held by open sell orders
    int64_t locked          # bought today, sellable after the T+1 release
    int64_t non_tradable
    int64_t floor           # retention floor
    int64_t limit           # position limit, 0 = none
    int64_t buying          # open buy quantity
    int64_t obligation      # units to surrender for compliance

# Mirrors HOLDING_DTYPE (aligned): a Holding with its place, in snapshots.
ctypedef struct HoldingRecord:
    Holding holding
    int32_t account
    int32_t instrument

# An account id's slot; ids are dense, from 0 to max_accounts - 1.
ctypedef struct Account:
    int64_t cash_available
    int64_t cash_frozen
    int32_t member
    int32_t holdings        # first of its n_instruments Holding rows, -1 until created
    uint8_t exists
    uint8_t region
    uint8_t sector
    uint8_t status
    uint8_t stp             # its default STP mode, 0 = the engine default
    uint16_t rebate_bps[N_TRADE_TYPES]   # basis points off the market's fee, by trade type
    int64_t fines_owed      # fines it could not pay yet, fen

# What one account surrendered against its obligation in one allowance (compliance).
ctypedef struct Surrender:
    int64_t units
    int64_t cer                 # of them CERs (held to the allowance's cer_cap_bps)
    int32_t account
    int32_t instrument          # the allowance

# An instrument's auction: the open one (when active) and the primary volume still to roll over.
ctypedef struct Auction:
    int64_t volume
    int64_t min_bid
    int64_t cap             # per bidder, 0 = none
    int64_t cancel_bps
    int64_t seed
    int64_t rollover[ROLLOVER_AUCTIONS]
    int32_t* eligible       # accounts admitted; none = everyone
    int32_t n_eligible
    int32_t eligible_cap
    slot_t lot              # the initiator's side, allocated but in no book
    uint8_t flags
    uint8_t active
