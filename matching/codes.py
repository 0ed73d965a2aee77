"""Every enumerated value the engine reads or writes, defined once.

The numbers here are the wire values: the Cython core declares the same numbers in
``_types.pxd`` and checks them against this module when it is imported, the gateway
puts them on the wire, and ``docs/PROTOCOL.md`` lists them.

Reject reasons form ONE enum banded by layer, as exchange-core's ``CommandResultCode``:
1xxx protocol and authentication, 2xxx risk and accounts, 3xxx matching, 4xxx admin.
"""
from enum import IntEnum

__all__ = [
    "Side", "OrderType", "TimeInForce", "StpMode", "CommandType", "EventKind",
    "Reject", "CancelReason", "TradeType", "FineReason", "FineReason", "InstrumentStatus", "InstrumentKind", "Region",
    "Sector", "AccountStatus", "AuctionOutcome", "InstrumentParameter", "StatusCause", "RETIRED_REJECTS",
]


class Side(IntEnum):
    BUY = 1
    SELL = 2


class OrderType(IntEnum):
    """What an order is; it also names the book it rests in."""

    LIMIT = 1               # continuous book
    MARKET = 2
    FIXED_LISTING = 3       # fixed-price book (point-select listing)
    FIXED_TAKE = 4          # takes one listing, never rests
    BLOCK_QUOTE = 5         # block book: public or directed to one account
    BLOCK_ACCEPT = 6        # accepts one block quote, never rests
    AUCTION_BID = 7         # auction book: a sealed, irrevocable bid (or offer) in an auction
    AUCTION_LOT = 8         # the initiator's side of an auction; the auction id is its id


class TimeInForce(IntEnum):
    GTC = 1
    DAY = 2
    IOC = 3
    FOK = 4


class StpMode(IntEnum):
    """Self-trade prevention; ACCOUNT_DEFAULT on an order takes the account's mode."""

    ACCOUNT_DEFAULT = 0
    OFF = 1
    CANCEL_NEWEST = 2
    CANCEL_OLDEST = 3
    CANCEL_BOTH = 4


class CommandType(IntEnum):
    NEW_ORDER = 1
    CANCEL = 2
    REDUCE = 3
    REPLACE = 4
    SET_INSTRUMENT_STATUS = 10
    SET_ACCOUNT_STP = 11
    EXPIRE_DAY_ORDERS = 12
    CREATE_ACCOUNT = 20
    SET_ACCOUNT_STATUS = 21
    DEPOSIT = 22
    WITHDRAW = 23
    CREDIT_HOLDINGS = 24         # flags & 1: the units are non-tradable
    DEBIT_HOLDINGS = 25          # flags & 1: debit non-tradable units
    SET_RETENTION_FLOOR = 26
    SET_POSITION_LIMIT = 27
    RELEASE_T1 = 28              # end of day: units bought today become sellable
    SET_OBLIGATION = 29          # units the account must surrender for compliance
    LIST_FIXED = 30              # post a fixed-price listing (min_qty: the minimum take)
    TAKE_FIXED = 31              # take a listing by order_id
    BLOCK_QUOTE = 32             # contra_account: the one account it is for, -1 = public;
                                 # flags & 2: partial acceptance allowed
    BLOCK_ACCEPT = 33            # accept a block quote by order_id
    SET_BLOCK_WINDOW = 34        # status 1 opens the window, 0 closes it (quotes expire)
    END_OF_DAY = 35              # instrument, or -1 for all
    AUCTION_OPEN = 36            # see matching.commands.auction_open for the fields
    AUCTION_BID = 37             # order_id: the auction id
    AUCTION_ELIGIBLE = 38        # order_id: the auction id; account may bid
    AUCTION_CLOSE = 39           # instrument: clear its open auction
    SET_INSTRUMENT_PARAMETER = 40  # instrument; status: an InstrumentParameter; value: its new value
    CANCEL_ALL = 41              # mass cancel: instrument (-1: all), account (-1: any), member (-1: any)
    ADD_INSTRUMENT = 42          # list a new instrument: see matching.commands.add_instrument for the fields
    SET_FEE_REBATE = 43          # account; status: the TradeType; value: basis points off the market's fee
    SURRENDER = 44               # account; instrument: the units; qty; value: the allowance instrument whose
                                 # obligation they meet (CERs up to its cer_cap_bps of the obligation)
    FINE = 45                    # account; value: fen (0: collect what is owed); status: FineReason;
                                 # order_id: the regulator's case number


class EventKind(IntEnum):
    ACCEPTED = 1
    REJECTED = 2
    TRADE = 3
    CANCELLED = 4
    REDUCED = 5
    REPLACED = 6
    DEPTH = 7
    INSTRUMENT_STATUS = 8
    ACCOUNT_UPDATED = 9
    BALANCE = 10
    DAILY_STATS = 11             # close in price, previous close in value, open/high/low, volume in
                                 # qty, units in circulation in leaves, trading date (YYYYMMDD) in count
    DAILY_VOLUME = 12            # one per trade type: volume in qty, amount in value
    BLOCK_WINDOW = 13            # value 1 open, 0 closed
    AUCTION_RESULT = 14          # reason: AuctionOutcome; price: clearing price; qty: volume
                                 # sold; leaves: volume unsold; value: volume bid; count: bids
    INSTRUMENT_PARAMETER = 15    # reason: the InstrumentParameter; value: its new value
    INSTRUMENT_ADDED = 16        # instrument: the new instrument's index; value: its InstrumentStatus
    INDICATIVE = 17              # call auction: price and qty the book would uncross at now (0, 0:
                                 # it would not), leaves: the surplus, side: the surplus side (0: none)
    SURRENDERED = 18             # compliance: account, instrument (the units, retired), qty, value (the
                                 # obligation's instrument), leaves (its obligation left)
    FINED = 19                   # account, value (the fine), qty (paid now), leaves (owed after), order_id
                                 # (the case), reason (FineReason)


class Reject(IntEnum):
    # 1xxx protocol, session and authorisation (all but 1001 raised by the gateway: the
    # message never reached the engine and changed nothing)
    UNKNOWN_COMMAND = 1001
    MALFORMED_FRAME = 1002             # empty, not a multiple of the message size, or multipart
    TOO_MANY_MESSAGES = 1003           # more messages in one frame than the gateway takes
    UNKNOWN_MESSAGE_TYPE = 1004
    RESERVED_NOT_ZERO = 1005
    UNSUPPORTED_VERSION = 1006         # LOGIN with a protocol version this server does not speak
    NOT_LOGGED_IN = 1007
    UNKNOWN_SESSION = 1008
    KEY_NOT_ALLOWED = 1009             # LOGIN for a session not configured for this CURVE key
    ALREADY_LOGGED_IN = 1010
    NOT_AUTHORISED = 1011              # the session may not act for this account
    RATE_LIMITED = 1012                # over the session's message-rate limit; SERVER_LOGOUT reason: a flood
    DUPLICATE_CLIENT_ORDER_ID = 1013
    BAD_CLIENT_ORDER_ID = 1014
    SHUTTING_DOWN = 1015
    HEARTBEAT_TIMEOUT = 1016           # SERVER_LOGOUT reason
    SLOW_CONSUMER = 1017               # SERVER_LOGOUT reason: reports piled up undelivered
    READ_ONLY_SESSION = 1018           # order entry on a drop-copy-only session
    REPORTS_NOT_RETAINED = 1019        # LOGIN gap fill from a report_seq older than the retained window
    REPORT_SEQ_AHEAD = 1020            # LOGIN gap fill from a report_seq this server never sent
    CONNECTION_LOST = 1021             # the session's connection closed, or another took its routing id
    STORAGE_UNAVAILABLE = 1022         # the journal cannot write (disk full): nothing was journaled or done
    # 2xxx risk and accounts
    UNKNOWN_ACCOUNT = 2001
    INSUFFICIENT_CASH = 2002
    INSUFFICIENT_HOLDINGS = 2003
    RETENTION_FLOOR = 2004
    ACCOUNT_SUSPENDED = 2005
    ACCOUNT_SELL_ONLY = 2006
    POSITION_LIMIT = 2007
    CER_CAP = 2008                     # surrendering CERs past the instrument's cer_cap_bps of the obligation
    # 3xxx matching
    UNKNOWN_INSTRUMENT = 3001
    INSTRUMENT_HALTED = 3002
    BAD_SIDE = 3003
    BAD_ORDER_TYPE = 3004
    BAD_TIME_IN_FORCE = 3005
    BAD_STP_MODE = 3006
    BAD_QUANTITY = 3007
    OFF_LOT_QUANTITY = 3008
    BAD_PRICE = 3009
    OFF_TICK_PRICE = 3010
    PRICE_OUTSIDE_BAND = 3011
    ORDER_TOO_LARGE = 3012
    UNKNOWN_ORDER = 3013
    NOT_OWNER = 3014             # retired, never produced: another account's order is UNKNOWN_ORDER
    FOK_NOT_FILLABLE = 3015
    REDUCE_NOT_SMALLER = 3016
    MARKET_CLOSED = 3017
    WOULD_CROSS = 3018           # pre-open: orders rest, nothing trades
    BLOCK_WINDOW_CLOSED = 3019
    SELF_TAKE = 3020             # taking one's own listing or quote
    BELOW_MINIMUM = 3021         # under the minimum take or the block minimum
    EXCEEDS_REMAINING = 3022
    NOT_BEST_LISTING = 3023
    WRONG_ORDER_KIND = 3024      # e.g. replacing a listing, taking a limit order
    NOT_COUNTERPARTY = 3025      # retired, never produced: a quote directed to another is UNKNOWN_ORDER
    PARTIAL_NOT_ALLOWED = 3026
    BELOW_RESERVE = 3027
    BIDDER_CAP = 3028
    NOT_ELIGIBLE = 3029
    AUCTION_IN_PROGRESS = 3030
    NO_AUCTION = 3031
    BEYOND_SELECT_DEPTH = 3032   # taker-select: the order named is not within the best select_depth levels
    NOT_FIRST_AT_LEVEL = 3033    # taker-select with select_fifo: another order at its price came first
    # 4xxx admin
    BAD_STATUS = 4001
    ACCOUNT_EXISTS = 4002
    BAD_REGION = 4003
    BAD_SECTOR = 4004
    BAD_AMOUNT = 4005
    BAD_PARAMETER = 4006               # no such instrument parameter, or a value out of its range;
                                       # ADD_INSTRUMENT: a malformed symbol or definition, or no room
    INSTRUMENT_EXISTS = 4007           # ADD_INSTRUMENT: the symbol is already listed


# Codes kept in the table (never renumbered) but no longer raised. NOT_OWNER and
# NOT_COUNTERPARTY told a broker that an order id was another member's live order or a
# private quote to someone else; such an id is now answered UNKNOWN_ORDER, exactly like an id
# that does not exist.
RETIRED_REJECTS = frozenset({Reject.NOT_OWNER, Reject.NOT_COUNTERPARTY})


class InstrumentParameter(IntEnum):
    """What SET_INSTRUMENT_PARAMETER changes. Each applies from the next command on: a
    change that moves a band (TICK, REFERENCE_PRICE, BAND_BPS, BLOCK_BAND_BPS) cancels the
    resting orders and listings then outside the band, and the block quotes outside the
    block band (OUTSIDE_BAND); resting orders keep their price and quantity otherwise, so
    an order entered on the old tick or lot stays in the book."""

    TICK = 1
    LOT = 2
    MAX_ORDER_QTY = 3
    REFERENCE_PRICE = 4
    BAND_BPS = 5
    BLOCK_BAND_BPS = 6
    BLOCK_MIN_QTY = 7
    MIN_CLOSE_VOLUME = 8
    DYNAMIC_BAND_BPS = 9    # a continuous trade further than this from the last price starts a
                            # volatility interruption (a call auction) instead; 0: none
    SELECT_DEPTH = 10       # 0: continuous orders match (AUTO_MATCH); 1..100: TAKER_SELECT, orders
                            # rest unmatched and a taker takes one within this many best levels
    SELECT_FIFO = 11        # taker-select: 1, only the first order at a level may be taken; 0, any
    CER_CAP_BPS = 12        # compliance: the share of an obligation in this allowance CERs may meet, bps


class CancelReason(IntEnum):
    USER = 1
    IOC_REMAINDER = 2
    SELF_TRADE = 3
    EXPIRY = 4
    SANCTION = 5
    OUTSIDE_BAND = 6             # end of day: a GTC order outside the re-centred band
    AUCTION = 7                  # an auction bid not filled, or its auction failed
    OPERATOR = 8                 # the operator's mass cancel (CANCEL_ALL)


class FineReason(IntEnum):
    """Why a fine was imposed (the case itself is the regulator's, by its number)."""
    MARKET_ABUSE = 1
    LATE_SURRENDER = 2           # an obligation not met by the deadline
    REPORTING = 3
    OTHER = 4


class TradeType(IntEnum):
    CONTINUOUS = 1
    FIXED = 2
    BLOCK = 3
    AUCTION = 4


class AuctionOutcome(IntEnum):
    CLEARED = 1                  # the volume was sold
    UNDERSUBSCRIBED = 2          # bids fell short of the volume; what was bid was filled
    FAILED = 3                   # bids fell short and the auction's policy is to fail
    CANCELLED_VOLUME = 4         # primary auction: bids below the volume (EU 1031/2010 7(5))
    CANCELLED_PRICE = 5          # primary auction: clearing price too far below the reference (7(6))


class InstrumentStatus(IntEnum):
    """The trading phase of an instrument's continuous and fixed-price trading."""

    TRADING = 1             # continuous trading open
    HALTED = 2
    CLOSED = 3
    PRE_OPEN = 4            # orders and listings rest; nothing trades
    CALL = 5                # call auction: orders rest, crossing ones too; the move to TRADING
                            # (or, closing, to CLOSED) uncrosses the book at one price


class StatusCause(IntEnum):
    """Why an instrument's phase changed: the ``reason`` of an INSTRUMENT_STATUS event."""

    COMMAND = 0             # SET_INSTRUMENT_STATUS (the schedule or the operator)
    VOLATILITY = 1          # a trade would have printed outside the dynamic band: a call instead


class InstrumentKind(IntEnum):
    ALLOWANCE = 1
    CER = 2


class Region(IntEnum):
    SC = 1
    CQ = 2


class Sector(IntEnum):
    POWER = 1
    PETROCHEMICAL = 2
    CHEMICAL = 3
    BUILDING_MATERIALS = 4
    STEEL = 5
    NON_FERROUS = 6
    PAPER = 7
    AVIATION = 8
    INVESTOR = 9
    OTHER = 10


class AccountStatus(IntEnum):
    """The operator's sanctions: sell-only blocks buying, suspended blocks all trading."""

    ACTIVE = 1
    SELL_ONLY = 2
    SUSPENDED = 3
