"""The market configuration: a TOML file read with :mod:`tomllib`, checked key by key.

A mistake names its key as a dotted path (``instruments[1].tick``) in a :class:`ConfigError`,
which the command line prints as one line (exit status 2).

With no file the daemon runs :func:`default_config`: the embedded demo market (this
compliance year's SC and CQ allowances, a CCER vintage, demo member firms of both platforms
and funded accounts). ``chuanyu config example`` prints that market as a commented TOML
file (:func:`example_toml`) to start from.

>>> cfg = default_config()
>>> [i.symbol[:4] for i in cfg.instruments]
['SCEA', 'CQEA', 'CCER']
>>> sorted(s.name for s in cfg.sessions)
['broker', 'cq-platform', 'regulator', 'sc-platform']
>>> cfg.schedule.enabled, cfg.schedule.timezone
(True, 'Asia/Shanghai')
"""
from __future__ import annotations

import datetime
import logging
import os
import re
import tomllib
import zoneinfo
from dataclasses import dataclass, field, replace
from typing import Any

from feeds.market_makers import Obligation
from matching import Instrument, InstrumentKind, Region, Sector, StpMode, TradeType
from matching.instrument import MAX_PRICE
from matching.money import MAX_CASH, MAX_FEE_BPS, MAX_HOLDING

__all__ = [
    "ConfigError", "MarketConfig", "Member", "Account", "MarketMaker", "SurveillanceRules", "Session", "Security", "Network",
    "Durability", "Daemon", "Replication", "ReplicaNode", "Hours", "Schedule", "load_config", "parse_config", "default_config",
    "example_toml", "schema_keys",
]

log = logging.getLogger("chuanyu.config")

INT32_MAX = 2**31 - 1


class ConfigError(ValueError):
    """An invalid configuration; ``key`` is the dotted path of the offending key."""

    def __init__(self, key: str, message: str) -> None:
        super().__init__(f"{key}: {message}" if key else message)
        self.key = key


@dataclass(frozen=True)
class Member:
    id: int
    name: str
    region: Region


@dataclass(frozen=True)
class Account:
    id: int
    member: int
    region: Region
    sector: Sector
    cash: int                         # fen deposited at start
    holdings: dict                    # instrument symbol -> tonnes credited at start
    stp: int | None = None            # self-trade prevention; None: market.default_stp
    retention_floor: dict = field(default_factory=dict)   # symbol -> tonnes the account must keep
    position_limit: dict = field(default_factory=dict)    # symbol -> most tonnes it may hold (0: none)
    obligation: dict = field(default_factory=dict)        # symbol -> tonnes it must surrender


@dataclass(frozen=True)
class MarketMaker:
    """A designated market maker: its quoting obligation in each of its instruments and its
    fee rebates (basis points off the market's fees, by trade type, on all its trades)."""

    account: int
    instruments: tuple                # symbols
    max_spread_bps: int               # best offer - best bid, of their midpoint
    min_qty: int                      # tonnes at each of its best prices
    presence_pct: int                 # share of continuous trading time it must quote so
    rebate_bps: dict = field(default_factory=dict)        # TradeType -> bps

    def obligations(self, config: "MarketConfig") -> list:
        return [Obligation(self.account, config.instrument_index(symbol), self.max_spread_bps, self.min_qty,
                           self.presence_pct) for symbol in self.instruments]


@dataclass(frozen=True)
class SurveillanceRules:
    """The thresholds of market surveillance (``[surveillance]``; ``chuanyu surveil``)."""

    related_accounts: tuple = ()      # ((a, b), ...) declared related parties, beyond one member's accounts
    close_window_s: int = 600         # marking the close: the last seconds of continuous trading
    close_move_bps: int = 100         # ... an account's trades there moving the day's VWAP this much
    layering_min_qty: int = 10_000    # layering: an order at least this large (tonnes) ...
    layering_window_s: int = 60       # ... cancelled this soon after its account's fill on the other side
    otr_max: int = 50                 # order-to-trade ratio per account and instrument and day ...
    otr_min_orders: int = 100         # ... judged from this many orders on
    otr_exempt_market_makers: bool = True
    concentration_max_pct: int = 50   # an account's share of the day's volume (bought + sold, of twice it)
    concentration_min_volume: int = 100_000   # ... judged from this day volume (tonnes) on


@dataclass(frozen=True)
class WebConsole:
    """Who may use the web console's operator pages (``[web]``; ``chuanyu web``)."""

    console_user: str = "operator"
    console_password: str = ""        # "scrypt$..." from `chuanyu web password`; empty: the console stays closed


@dataclass(frozen=True)
class Session:
    """One order-entry session: who may log in with it and what it may do."""

    id: int
    name: str
    members: tuple                    # member ids it acts for
    key: str | None                   # key pair name in the keys folder ...
    public_key: str | None            # ... or the client's z85 public key itself
    cancel_on_disconnect: bool
    rate_limit: int                   # messages per second, 0 = unlimited
    burst: int                        # token bucket depth, messages
    drop_copy: bool                   # also receives a copy of every execution report


@dataclass(frozen=True)
class Security:
    keys_dir: str                     # relative paths are relative to the state dir
    server_key: str
    admin_keys: tuple
    generate_missing_keys: bool


@dataclass(frozen=True)
class Network:
    host: str
    order_port: int                   # 0: a free port, printed at start
    admin_port: int
    feed_port: int = 7003             # market data PUB (public, no CURVE)
    snapshot_port: int = 7004         # market data snapshots (ROUTER)
    feeds: bool = True                # publish market data and write the disclosure files
    drop_copy_port: int = 7005        # regulator drop copy PUB (CURVE: drop_copy sessions' keys only)
    feed_hwm: int = 10_000            # feed frames queued per subscriber before it loses them
    feed_sndbuf: int = 0              # kernel send buffer per feed subscriber, bytes (0: the system's)
    snapshot_min_interval_ms: int = 20    # the loop encodes at most one feed snapshot per interval
    snapshot_max_per_s: int = 500     # snapshot answers per second, all anonymous peers together
    snapshot_max_pending: int = 128   # snapshot requests read and waiting; the rest wait in ZeroMQ


@dataclass(frozen=True)
class Durability:
    mode: str = "fsync"               # "fsync" (group commit per batch), "interval" or "none"
    interval_ms: int = 10             # the "interval" policy's fsync period
    segment_bytes: int = 64 << 20     # journal segment size limit
    snapshot_every_commands: int = 1_000_000   # periodic snapshot after this many commands (0: off)
    snapshot_every_s: int = 600       # ... or this many seconds with new commands (0: off)
    keep_snapshots: int = 3           # newest snapshots kept (0: all)
    prune_journal: bool = True        # delete journal segments no kept snapshot needs
    retain_reports: int = 100_000     # reports kept per session for gap fill (0: no gap fill)


@dataclass(frozen=True)
class Daemon:
    heartbeat_ms: int
    heartbeat_misses: int             # a session silent for this many intervals is disconnected
    batch_max: int                    # messages per engine batch
    queue_frames: int                 # undelivered frames kept per session before SLOW_CONSUMER
    snapshot_on_shutdown: bool
    metrics_port: int = 0             # Prometheus /metrics on network.host (0: off)
    connection_in_bytes: int = 32 << 20   # frames one connection may have waiting unread, in bytes
    session_out_bytes: int = 32 << 20     # reports one session may have undelivered before SLOW_CONSUMER


@dataclass(frozen=True)
class ReplicaNode:
    """One daemon node of a replicated market: its name and where it listens once primary."""
    name: str
    network: Network


@dataclass(frozen=True)
class Replication:
    mode: str = "none"                # "none": one node, the local journal; "jetstream": see exchange.replication
    servers: tuple = ()               # NATS server URLs (nats://host:port), every one of the cluster
    stream: str = "CHUANYU"           # the JetStream stream of the command log (its KV bucket: <stream>_LEASE)
    replicas: int = 3                 # the stream's and the bucket's replicas (Raft: a majority must ack)
    lease_ttl_ms: int = 2000          # the leader lease: a primary silent this long is replaced
    publish_timeout_ms: int = 1000    # one publish attempt; retried (same message id) while the lease holds
    credentials: str = ""             # a NATS .creds file (JWT + nkey seed); relative: to the config file
    tls_ca: str = ""                  # CA bundle to verify the servers (tls:// URLs)
    tls_cert: str = ""                # client certificate and key, when the servers verify clients
    tls_key: str = ""
    nodes: tuple = ()                 # ReplicaNode: each node's own ports (default: [network]'s)

    def node(self, name: str, network: Network) -> Network:
        """The network settings of node ``name``: its own entry, else ``[network]``."""
        for n in self.nodes:
            if n.name == name:
                return n.network
        if self.nodes:
            raise KeyError(name)
        return network


@dataclass(frozen=True)
class Hours:
    """One trading day's timetable, in local wall-clock time of the schedule's zone."""

    pre_open: datetime.time           # PRE_OPEN from here until the first continuous session
    continuous: tuple                 # ((start, end), ...) TRADING, in time order, not overlapping
    block: tuple                      # ((start, end), ...) the block window is open
    end_of_day: datetime.time         # END_OF_DAY once per trading date, at or after this time
    opening_call: datetime.time | None = None   # CALL from here until continuous trading starts
    closing_call: datetime.time | None = None   # CALL from here until the last session ends
    call_random_end_s: int = 0        # each call ends up to this many seconds late (seeded draw)
    interruption_s: int = 120         # a volatility interruption's call lasts this long (and up
                                      # to call_random_end_s more)

    @property
    def last_end(self) -> datetime.time:
        """When the day's last session (continuous or block) ends, a closing call's latest
        end included."""
        ends = [end for _, end in self.continuous + self.block]
        if self.closing_call is not None and self.continuous:
            ends.append(_later(self.continuous[-1][1], self.call_random_end_s))
        return max(ends) if ends else self.pre_open


_T = datetime.time
MAX_CALL_RANDOM_END_S = 300       # a call's random end stays within five minutes
MAX_INTERRUPTION_S = 3600         # a volatility interruption lasts at most an hour
DEFAULT_HOURS = Hours(_T(9, 15), ((_T(9, 30), _T(11, 30)), (_T(13, 0), _T(15, 0))),
                      ((_T(13, 0), _T(15, 0)),), _T(15, 30))
CHINA = datetime.timezone(datetime.timedelta(hours=8), "UTC+08:00")
# Zones that are China Standard Time (UTC+8, no daylight saving since 1991): a machine without
# the IANA database (no system zoneinfo, no tzdata package) still runs them at a fixed +8.
_CHINA_ZONES = {"Asia/Shanghai", "Asia/Chongqing", "Asia/Chungking", "Asia/Harbin", "PRC"}
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


@dataclass(frozen=True)
class Schedule:
    """The trading calendar and timetable the daemon drives (``[schedule]``).

    ``enabled`` is False when the config has no ``[schedule]`` table: phases then change
    only by admin commands (instruments start TRADING).
    """

    enabled: bool = False
    timezone: str = "Asia/Shanghai"
    tz: datetime.tzinfo = field(default=CHINA, compare=False, repr=False)
    tz_fallback: bool = False         # the zone was not in the database: a fixed offset stands in
    hours: Hours = DEFAULT_HOURS
    weekdays: frozenset = frozenset(range(5))         # date.weekday(): Monday 0 .. Sunday 6
    extra_trading_days: frozenset = frozenset()       # dates traded although not a weekday above
    holidays: frozenset = frozenset()                 # dates not traded although a weekday above
    instruments: tuple = ()           # ((symbol, Hours), ...): instruments with their own hours
    call_seed: int = 0                # seeds the draw of each call's late end (Hours.call_random_end_s)

    def hours_for(self, symbol: str) -> Hours:
        for sym, hours in self.instruments:
            if sym == symbol:
                return hours
        return self.hours

    def is_trading_day(self, day: datetime.date) -> bool:
        if day in self.holidays:
            return False
        return day.weekday() in self.weekdays or day in self.extra_trading_days

    def describe(self) -> str:
        """One line for the daemon's start-up output."""
        def spans(pairs):
            return " ".join(f"{_hhmm(a)}-{_hhmm(b)}" for a, b in pairs) or "none"
        h = self.hours
        days = ",".join(WEEKDAYS[d].capitalize() for d in sorted(self.weekdays)) or "none"
        zone = self.timezone + (" (fixed UTC+08:00: no time zone database)" if self.tz_fallback else "")
        calls = [f"{what} call {_hhmm(t)}" for what, t in (("opening", h.opening_call), ("closing", h.closing_call))
                 if t is not None]
        if calls and h.call_random_end_s:
            calls[-1] += f" (ends up to {h.call_random_end_s} s late)"
        text = (f"{zone}: pre-open {_hhmm(h.pre_open)}, {''.join(c + ', ' for c in calls)}"
                f"continuous {spans(h.continuous)}, block {spans(h.block)}, end of day {_hhmm(h.end_of_day)}, {days}")
        if self.holidays or self.extra_trading_days:
            text += f", {len(self.holidays)} holidays, {len(self.extra_trading_days)} extra trading days"
        if self.instruments:
            text += f"; own hours: {', '.join(sym for sym, _ in self.instruments)}"
        return text


def _hhmm(t: datetime.time) -> str:
    return t.strftime("%H:%M:%S" if t.second else "%H:%M")


def _later(t: datetime.time, seconds: int) -> datetime.time:
    """``t`` plus ``seconds``, at most 23:59:59 (a day's timetable never crosses midnight)."""
    total = min(t.hour * 3600 + t.minute * 60 + t.second + seconds, 86_399)
    return datetime.time(total // 3600, total // 60 % 60, total % 60)


@dataclass
class MarketConfig:
    instruments: list
    members: dict
    accounts: list
    sessions: list
    security: Security
    network: Network
    durability: Durability
    daemon: Daemon
    max_accounts: int = 100_000
    default_stp: int = StpMode.CANCEL_NEWEST
    risk: bool = True
    fees: dict = field(default_factory=dict)
    source: str = "<default>"
    schedule: Schedule = field(default_factory=Schedule)
    replication: Replication = field(default_factory=Replication)
    market_makers: list = field(default_factory=list)
    surveillance: SurveillanceRules = field(default_factory=SurveillanceRules)
    web: WebConsole = field(default_factory=WebConsole)

    def obligations(self) -> list:
        """Every designated market maker's obligations (``feeds.market_makers.Obligation``)."""
        return [ob for m in self.market_makers for ob in m.obligations(self)]

    def instrument_index(self, symbol: str) -> int:
        for n, ins in enumerate(self.instruments):
            if ins.symbol == symbol:
                return n
        raise KeyError(symbol)

    def session(self, session_id: int) -> Session:
        for s in self.sessions:
            if s.id == session_id:
                return s
        raise KeyError(session_id)


# ------------------------------------------------------------------ reading
class _Reader:
    """Typed access to one table with the dotted path of every key for errors.

    With ``keys`` (a dict shared by the whole tree of readers) it also records every key it
    is asked for, found or not, as a schema path: array-of-tables indices become ``[]``
    (``instruments[].tick``) and the keys of a table keyed by name become ``<NAME>``
    (``accounts[].holdings.<SYMBOL>``), mapped to ``(kind, default)``; ``...`` is "required".
    docs/OPERATIONS.md is checked against it (:func:`schema_keys`).
    """

    def __init__(self, table: Any, path: str, schema: str | None = None, keys: dict | None = None,
                 keyed_by: str | None = None) -> None:
        if not isinstance(table, dict):
            raise ConfigError(path, f"must be a table, not {type(table).__name__}")
        self.table, self.path, self.used = table, path, set()
        self.schema = path if schema is None else schema
        self.keys, self.keyed_by = keys, keyed_by

    def key(self, name: str) -> str:
        return f"{self.path}.{name}" if self.path else name

    def _schema_key(self, name: str) -> str:
        leaf = f"<{self.keyed_by}>" if self.keyed_by else name
        return f"{self.schema}.{leaf}" if self.schema else leaf

    def _record(self, name: str, kind, default: Any) -> None:
        if self.keys is not None:
            self.keys.setdefault(self._schema_key(name), (kind, default))

    def get(self, name: str, kind, default: Any = ..., check=None, why: str = "") -> Any:
        self.used.add(name)
        self._record(name, kind, default)
        if name not in self.table:
            if default is ...:
                raise ConfigError(self.key(name), "missing")
            return default
        value = self.table[name]
        if kind is int and (isinstance(value, bool) or not isinstance(value, int)):
            raise ConfigError(self.key(name), f"must be an integer, not {value!r}")
        if kind is not int and not isinstance(value, kind):
            names = kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__ for k in kind)
            raise ConfigError(self.key(name), f"must be {_article(names)}, not {value!r}")
        if check is not None and not check(value):
            raise ConfigError(self.key(name), f"{why or 'invalid value'} (got {value!r})")
        return value

    def enum(self, name: str, enum, default: Any = ...) -> Any:
        self._record(name, enum, default)
        value = self.get(name, (str, int), default)
        if value is default and default is not ...:
            return default
        try:
            return enum[value.upper()] if isinstance(value, str) else enum(value)
        except (KeyError, ValueError):
            raise ConfigError(self.key(name), f"must be one of {', '.join(m.name for m in enum)} "
                                              f"(got {value!r})") from None

    def sub(self, name: str, required: bool = False, keyed_by: str | None = None) -> "_Reader":
        """The table ``name``; ``keyed_by``: its keys are names (e.g. "SYMBOL"), not fixed keys."""
        self.used.add(name)
        if name not in self.table and not required:
            return _Reader({}, self.key(name), self._schema_key(name), self.keys, keyed_by)
        if name not in self.table:
            raise ConfigError(self.key(name), "missing")
        return _Reader(self.table[name], self.key(name), self._schema_key(name), self.keys, keyed_by)

    def items(self, name: str) -> list["_Reader"]:
        self.used.add(name)
        rows = self.table.get(name, [])
        if not isinstance(rows, list):
            raise ConfigError(self.key(name), "must be an array of tables ([[...]])")
        schema = self._schema_key(name) + "[]"
        return [_Reader(row, f"{self.key(name)}[{n}]", schema, self.keys) for n, row in enumerate(rows)]

    def done(self) -> None:
        extra = sorted(set(self.table) - self.used)
        if extra:
            raise ConfigError(self.key(extra[0]), "unknown key")


def _article(noun: str) -> str:
    return ("an " if noun[0] in "aeiou" else "a ") + noun


def load_config(path: str | os.PathLike) -> MarketConfig:
    """Read and check a TOML market configuration file."""
    try:
        with open(path, "rb") as f:
            text = f.read().decode("utf-8")
    except OSError as exc:
        raise ConfigError("", f"cannot read {path}: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise ConfigError("", f"{path} is not UTF-8 text") from None
    return parse_config(text, source=str(path))


def parse_config(text: str, source: str = "<string>", keys: dict | None = None) -> MarketConfig:
    """Check a TOML market configuration given as text.

    ``keys``: a dict that receives every key the reader asked for (see :func:`schema_keys`).
    """
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError("", f"{source}: not valid TOML: {exc}") from None
    root = _Reader(data, "", keys=keys)
    market = root.sub("market")
    max_accounts = market.get("max_accounts", int, 100_000, lambda v: 0 < v <= INT32_MAX,
                              "must be between 1 and 2**31 - 1")
    default_stp = market.enum("default_stp", StpMode, StpMode.CANCEL_NEWEST)
    if default_stp == StpMode.ACCOUNT_DEFAULT:
        raise ConfigError(market.key("default_stp"), "must be a concrete mode, not ACCOUNT_DEFAULT")
    risk = market.get("risk", bool, True)
    fees_table = market.sub("fees")
    fees = {}
    for tt in TradeType:
        pair = fees_table.get(tt.name.lower(), list, None,
                              lambda v: len(v) == 2 and all(isinstance(x, int) and not isinstance(x, bool)
                                                            and 0 <= x <= MAX_FEE_BPS for x in v),
                              f"must be [buyer_bps, seller_bps], each 0..{MAX_FEE_BPS}")
        if pair is not None:
            fees[int(tt)] = tuple(pair)
    fees_table.done()
    market.done()

    instruments = [_instrument(r) for r in root.items("instruments")]
    if not instruments:
        raise ConfigError("instruments", "at least one [[instruments]] is needed")
    symbols = {}
    for n, ins in enumerate(instruments):
        if ins.symbol in symbols:
            raise ConfigError(f"instruments[{n}].symbol", f"duplicate symbol {ins.symbol!r}")
        symbols[ins.symbol] = n

    members = {}
    for r in root.items("members"):
        m = Member(r.get("id", int, check=lambda v: 0 <= v <= INT32_MAX, why="must be 0..2**31-1"),
                   r.get("name", str), r.enum("region", Region))
        r.done()
        if m.id in members:
            raise ConfigError(r.key("id"), f"duplicate member id {m.id}")
        members[m.id] = m

    accounts, account_ids = [], set()
    for r in root.items("accounts"):
        a_id = r.get("id", int, check=lambda v: 0 <= v < max_accounts,
                     why=f"must be 0..market.max_accounts-1 ({max_accounts - 1})")
        if a_id in account_ids:
            raise ConfigError(r.key("id"), f"duplicate account id {a_id}")
        account_ids.add(a_id)
        member = r.get("member", int, check=lambda v: v in members, why="no such [[members]] id")
        region = r.enum("region", Region, members[member].region)
        sector = r.enum("sector", Sector)
        cash = r.get("cash", int, 0, lambda v: 0 <= v <= MAX_CASH, f"must be 0..{MAX_CASH} fen")
        stp = r.enum("stp", StpMode, None)
        if stp == StpMode.ACCOUNT_DEFAULT:
            raise ConfigError(r.key("stp"), "must be a concrete mode, not ACCOUNT_DEFAULT (leave it out for "
                                            "market.default_stp)")
        per_symbol = {name: _tonnes_by_symbol(r, name, symbols)
                      for name in ("holdings", "retention_floor", "position_limit", "obligation")}
        r.done()
        accounts.append(Account(a_id, member, region, sector, cash, per_symbol["holdings"],
                                None if stp is None else int(stp), per_symbol["retention_floor"],
                                per_symbol["position_limit"], per_symbol["obligation"]))

    market_makers = _market_makers(root, account_ids, symbols)
    surveillance = _surveillance(root, account_ids)
    web = _web(root)

    sessions, session_ids, session_names = [], set(), set()
    for r in root.items("sessions"):
        s_id = r.get("id", int, check=lambda v: 0 < v <= INT32_MAX,
                     why="must be 1..2**31-1 (0 is the operator)")
        if s_id in session_ids:
            raise ConfigError(r.key("id"), f"duplicate session id {s_id}")
        name = r.get("name", str, f"session-{s_id}", lambda v: bool(v), "must not be empty")
        if name in session_names:
            raise ConfigError(r.key("name"), f"duplicate session name {name!r}")
        mlist = r.get("members", list, [])
        for n, m in enumerate(mlist):
            if not isinstance(m, int) or m not in members:
                raise ConfigError(f"{r.key('members')}[{n}]", f"no such [[members]] id {m!r}")
        key = r.get("key", str, None, lambda v: bool(v) and os.sep not in v, "must be a key pair name")
        public_key = r.get("public_key", str, None, lambda v: len(v) == 40,
                           "must be a 40-character z85 CURVE public key")
        if (key is None) == (public_key is None):
            raise ConfigError(r.key("key"), "give exactly one of key (a key pair name) or public_key")
        rate = r.get("rate_limit", int, 0, lambda v: 0 <= v <= 10**9, "must be 0..10**9 messages/s")
        burst = r.get("burst", int, max(rate // 10, 1) if rate else 0, lambda v: 0 <= v <= 10**9,
                      "must be 0..10**9 messages")
        if rate and not burst:
            raise ConfigError(r.key("burst"), "must be > 0 when rate_limit is set")
        s = Session(s_id, name, tuple(mlist), key, public_key,
                    r.get("cancel_on_disconnect", bool, False), rate, burst, r.get("drop_copy", bool, False))
        r.done()
        session_ids.add(s_id)
        session_names.add(name)
        sessions.append(s)

    sec = root.sub("security")
    security = Security(sec.get("keys_dir", str, "keys"), sec.get("server_key", str, "server"),
                        tuple(sec.get("admin_keys", list, ["admin"],
                                      lambda v: all(isinstance(x, str) and x for x in v),
                                      "must be a list of key pair names")),
                        sec.get("generate_missing_keys", bool, False))
    sec.done()
    net = root.sub("network")
    port_ok = (lambda v: 0 <= v <= 65535, "must be 0..65535 (0: any free port)")
    feed_port = net.get("feed_port", int, 7003, *port_ok)
    network = Network(net.get("host", str, "127.0.0.1"), net.get("order_port", int, 7001, *port_ok),
                      net.get("admin_port", int, 7002, *port_ok), feed_port,
                      net.get("snapshot_port", int, 7004, *port_ok), net.get("feeds", bool, True),
                      # a market on free ports gets a free drop-copy port too unless it names one
                      net.get("drop_copy_port", int, 7005 if feed_port else 0, *port_ok),
                      net.get("feed_hwm", int, 10_000, lambda v: 1 <= v <= 10_000_000, "must be 1..10,000,000 frames"),
                      net.get("feed_sndbuf", int, 0, lambda v: 0 <= v <= 1 << 30, "must be 0..2**30 bytes"),
                      snapshot_min_interval_ms=net.get("snapshot_min_interval_ms", int, 20,
                                                       lambda v: 0 <= v <= 10_000, "must be 0..10,000 ms"),
                      snapshot_max_per_s=net.get("snapshot_max_per_s", int, 500, lambda v: 1 <= v <= 1_000_000,
                                                 "must be 1..1,000,000 answers per second"),
                      snapshot_max_pending=net.get("snapshot_max_pending", int, 128,
                                                   lambda v: 1 <= v <= 100_000, "must be 1..100,000 requests"))
    net.done()
    dur = root.sub("durability")
    durability = Durability(dur.get("mode", str, "fsync", lambda v: v in ("fsync", "interval", "none"),
                                    'must be "fsync", "interval" or "none"'),
                            dur.get("interval_ms", int, 10, lambda v: 1 <= v <= 60_000, "must be 1..60000 ms"),
                            dur.get("segment_bytes", int, 64 << 20, lambda v: 4096 <= v <= 1 << 40,
                                    "must be 4096..2**40 bytes"),
                            dur.get("snapshot_every_commands", int, 1_000_000, lambda v: 0 <= v <= 1 << 40,
                                    "must be 0 (off) .. 2**40 commands"),
                            dur.get("snapshot_every_s", int, 600, lambda v: 0 <= v <= 7 * 86_400,
                                    "must be 0 (off) .. 604800 s"),
                            dur.get("keep_snapshots", int, 3, lambda v: 0 <= v <= 10_000, "must be 0 (all) .. 10000"),
                            dur.get("prune_journal", bool, True),
                            dur.get("retain_reports", int, 100_000, lambda v: 0 <= v <= 100_000_000,
                                    "must be 0 (no gap fill) .. 100000000 reports"))
    dur.done()
    dm = root.sub("daemon")
    daemon = Daemon(dm.get("heartbeat_ms", int, 1000, lambda v: 10 <= v <= 600_000, "must be 10..600000 ms"),
                    dm.get("heartbeat_misses", int, 3, lambda v: 1 <= v <= 100, "must be 1..100"),
                    dm.get("batch_max", int, 16_384, lambda v: 1 <= v <= 1_000_000, "must be 1..1000000"),
                    dm.get("queue_frames", int, 4096, lambda v: 1 <= v <= 1_000_000, "must be 1..1000000"),
                    dm.get("snapshot_on_shutdown", bool, True),
                    dm.get("metrics_port", int, 0, lambda v: 0 <= v <= 65535, "must be 0..65535 (0: off)"),
                    dm.get("connection_in_bytes", int, 32 << 20, lambda v: 1 << 20 <= v <= 1 << 34,
                           "must be 1 MiB .. 16 GiB (1048576..17179869184)"),
                    dm.get("session_out_bytes", int, 32 << 20, lambda v: 1 << 20 <= v <= 1 << 34,
                           "must be 1 MiB .. 16 GiB (1048576..17179869184)"))
    dm.done()
    schedule = _schedule(root, [i.symbol for i in instruments])
    replication = _replication(root, network, source)
    root.done()
    return MarketConfig(instruments, members, accounts, sessions, security, network, durability, daemon,
                        max_accounts, int(default_stp), risk, fees, source, schedule, replication, market_makers,
                        surveillance, web)


def _web(root: _Reader) -> WebConsole:
    from .passwords import is_password_hash
    r = root.sub("web")
    web = WebConsole(r.get("console_user", str, "operator", lambda v: bool(v) and ":" not in v,
                           "must be a name without ':'"),
                     r.get("console_password", str, "", lambda v: v == "" or is_password_hash(v),
                           "must be what `chuanyu web password` prints (scrypt$...), or empty for no console"))
    r.done()
    return web


def _surveillance(root: _Reader, account_ids: set) -> SurveillanceRules:
    r = root.sub("surveillance")
    pairs = r.get("related_accounts", list, [])
    for n, pair in enumerate(pairs):
        if not (isinstance(pair, list) and len(pair) == 2 and all(a in account_ids for a in pair)
                and pair[0] != pair[1]):
            raise ConfigError(f"{r.key('related_accounts')}[{n}]", "must be a pair of two [[accounts]] ids")
    count = lambda name, default, low, high, what: r.get(name, int, default, lambda v: low <= v <= high,  # noqa: E731
                                                          f"must be {low}..{high} {what}")
    rules = SurveillanceRules(
        tuple(tuple(p) for p in pairs),
        count("close_window_s", 600, 1, 86_400, "s"), count("close_move_bps", 100, 1, 10_000, "bps"),
        count("layering_min_qty", 10_000, 1, MAX_HOLDING, "tonnes"), count("layering_window_s", 60, 1, 86_400, "s"),
        count("otr_max", 50, 1, 10**9, "orders per trade"), count("otr_min_orders", 100, 1, 10**9, "orders"),
        r.get("otr_exempt_market_makers", bool, True),
        count("concentration_max_pct", 50, 1, 100, "%"),
        count("concentration_min_volume", 100_000, 1, MAX_HOLDING, "tonnes"))
    r.done()
    return rules


def _market_makers(root: _Reader, account_ids: set, symbols: dict) -> list:
    makers, seen = [], set()
    for r in root.items("market_makers"):
        account = r.get("account", int, check=lambda v: v in account_ids, why="no such [[accounts]] id")
        if account in seen:
            raise ConfigError(r.key("account"), f"account {account} is designated twice: list all its "
                                                "instruments in one [[market_makers]]")
        seen.add(account)
        names = r.get("instruments", list, check=lambda v: bool(v), why="must list at least one instrument symbol")
        for n, name in enumerate(names):
            if name not in symbols:
                raise ConfigError(f"{r.key('instruments')}[{n}]", f"no such instrument symbol {name!r}")
        if len(set(names)) != len(names):
            raise ConfigError(r.key("instruments"), "lists an instrument twice")
        max_spread = r.get("max_spread_bps", int, 200, lambda v: 1 <= v <= 10_000, "must be 1..10000 bps")
        min_qty = r.get("min_qty", int, 1_000, lambda v: 1 <= v <= MAX_HOLDING, f"must be 1..{MAX_HOLDING} tonnes")
        presence = r.get("presence_pct", int, 80, lambda v: 1 <= v <= 100, "must be 1..100 (%)")
        table = r.sub("rebate_bps")
        rebates = {}
        for tt in TradeType:
            bps = table.get(tt.name.lower(), int, 0, lambda v: 0 <= v <= MAX_FEE_BPS, f"must be 0..{MAX_FEE_BPS} bps")
            if bps:
                rebates[int(tt)] = bps
        table.done()
        r.done()
        makers.append(MarketMaker(account, tuple(names), max_spread, min_qty, presence, rebates))
    return makers


_NATS_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")


def _replication(root: _Reader, network: Network, source: str) -> Replication:
    r = root.sub("replication")
    mode = r.get("mode", str, "none", lambda v: v in ("none", "jetstream"), 'must be "none" or "jetstream"')
    servers = tuple(r.get("servers", list, ["nats://127.0.0.1:4222"],
                          lambda v: bool(v) and all(isinstance(x, str) and re.fullmatch(r"(nats|tls)://[^\s,]+", x)
                                                    for x in v),
                          "must be a non-empty list of nats://HOST:PORT (or tls://) URLs"))
    here = os.path.dirname(os.path.abspath(source)) if os.path.exists(source) else "."

    def path(name: str) -> str:
        value = r.get(name, str, "")
        return os.path.join(here, value) if value else ""

    port_ok = (lambda v: 0 <= v <= 65535, "must be 0..65535 (0: any free port)")
    nodes = []
    for n in r.items("nodes"):
        name = n.get("name", str, ..., _NATS_NAME.fullmatch, "must be 1..64 letters, digits, _ or -")
        if any(x.name == name for x in nodes):
            raise ConfigError(n.key("name"), f"node {name!r} is named twice")
        ports = {k: n.get(k, int, getattr(network, k), *port_ok)
                 for k in ("order_port", "admin_port", "feed_port", "snapshot_port", "drop_copy_port")}
        nodes.append(ReplicaNode(name, replace(network, host=n.get("host", str, network.host), **ports)))
        n.done()
    replication = Replication(
        mode, servers,
        r.get("stream", str, "CHUANYU", _NATS_NAME.fullmatch, "must be 1..64 letters, digits, _ or -"),
        r.get("replicas", int, 3, lambda v: v in (1, 3, 5), "must be 1, 3 or 5 (a Raft group: odd)"),
        r.get("lease_ttl_ms", int, 2000, lambda v: 500 <= v <= 60_000, "must be 500..60000 ms"),
        r.get("publish_timeout_ms", int, 1000, lambda v: 50 <= v <= 60_000, "must be 50..60000 ms"),
        path("credentials"), path("tls_ca"), path("tls_cert"), path("tls_key"), tuple(nodes))
    r.done()
    if bool(replication.tls_cert) != bool(replication.tls_key):
        raise ConfigError("replication.tls_cert", "tls_cert and tls_key go together")
    return replication


def _instrument(r: _Reader) -> Instrument:
    kwargs = dict(
        symbol=r.get("symbol", str),
        kind=r.enum("kind", InstrumentKind, InstrumentKind.ALLOWANCE),
        region=r.enum("region", Region, Region.SC),
        year=r.get("year", int, datetime.date.today().year, lambda v: 2000 <= v <= 2100, "must be 2000..2100"),
        reference_price=r.get("reference_price", int, check=lambda v: 0 < v <= MAX_PRICE,
                              why=f"must be 1..{MAX_PRICE} fen"),
        tick=r.get("tick", int, 1),
        lot=r.get("lot", int, 1),
        band_bps=r.get("band_bps", int, 1000),
        max_order_qty=r.get("max_order_qty", int, 99_999),
        t_plus_one=r.get("t_plus_one", bool, True),
        block_band_bps=r.get("block_band_bps", int, 3000),
        block_min_qty=r.get("block_min_qty", int, 100_000),
        min_close_volume=r.get("min_close_volume", int, 0),
        dynamic_band_bps=r.get("dynamic_band_bps", int, 0),
        select_depth=r.get("select_depth", int, 0),
        select_fifo=int(r.get("select_fifo", bool, False)),
        cer_cap_bps=r.get("cer_cap_bps", int, 500),
        must_take_best=r.get("must_take_best", bool, True),
        listings_expire=r.get("listings_expire", bool, True),
    )
    r.done()
    try:
        return Instrument(**kwargs)
    except ValueError as exc:
        text = str(exc)
        for name in ("symbol", "tick", "lot", "reference_price", "band_bps", "max_order_qty", "block_band_bps",
                     "block_min_qty", "min_close_volume", "dynamic_band_bps", "select_depth", "select_fifo",
                     "cer_cap_bps"):
            if f"invalid {name}=" in text:
                raise ConfigError(r.key(name), text) from None
        raise ConfigError(r.key("reference_price"), text) from None


# ------------------------------------------------------------------ the schedule
_HHMM = re.compile(r"^(\d{2}):(\d{2})(?::(\d{2}))?$")


def _time(value: Any, key: str, what: str = "") -> datetime.time:
    """A wall-clock time: "HH:MM" (or "HH:MM:SS"), or a TOML local time."""
    if isinstance(value, datetime.time) and value.tzinfo is None and not value.microsecond:
        return value
    m = _HHMM.match(value) if isinstance(value, str) else None
    if m:
        h, mi, sec = int(m[1]), int(m[2]), int(m[3] or 0)
        if h <= 23 and mi <= 59 and sec <= 59:
            return datetime.time(h, mi, sec)
    raise ConfigError(key, f'{what}must be a time "HH:MM", 00:00 to 23:59 (got {value!r})')


def _optional_time(r: _Reader, name: str, default: datetime.time | None) -> datetime.time | None:
    """A time, or none: "" (or the key left out of a table whose default is none)."""
    value = r.get(name, (str, datetime.time), default)
    return None if value is None or value == "" else _time(value, r.key(name))


def _sessions(r: _Reader, name: str, default: tuple) -> tuple:
    """A list of [start, end] pairs: each ends after it starts; in time order, no overlaps."""
    rows = r.get(name, list, None)
    if rows is None:
        return default
    out = []
    for n, pair in enumerate(rows):
        key = f"{r.key(name)}[{n}]"
        if not isinstance(pair, list) or len(pair) != 2:
            raise ConfigError(key, f'must be a pair ["HH:MM", "HH:MM"] (got {pair!r})')
        start, end = _time(pair[0], key, "start "), _time(pair[1], key, "end ")
        if end <= start:
            raise ConfigError(key, f"ends at {_hhmm(end)}, not after its start {_hhmm(start)}")
        if out and start < out[-1][1]:
            raise ConfigError(key, f"starts at {_hhmm(start)}, before {r.key(name)}[{n - 1}] ends "
                                   f"({_hhmm(out[-1][1])}): sessions must not overlap and must be "
                                   "listed in time order")
        out.append((start, end))
    return tuple(out)


def _hours(r: _Reader, base: Hours) -> Hours:
    given = set(r.table)
    pre_open = _time(r.get("pre_open", (str, datetime.time), base.pre_open), r.key("pre_open"))
    continuous = _sessions(r, "continuous", base.continuous)
    block = _sessions(r, "block", base.block)
    end_of_day = _time(r.get("end_of_day", (str, datetime.time), base.end_of_day), r.key("end_of_day"))
    opening_call = _optional_time(r, "opening_call", base.opening_call)
    closing_call = _optional_time(r, "closing_call", base.closing_call)
    random_end = r.get("call_random_end_s", int, base.call_random_end_s, lambda v: 0 <= v <= MAX_CALL_RANDOM_END_S,
                       f"must be 0..{MAX_CALL_RANDOM_END_S} seconds")
    interruption = r.get("interruption_s", int, base.interruption_s,
                         lambda v: 1 <= v <= MAX_INTERRUPTION_S, f"must be 1..{MAX_INTERRUPTION_S} seconds")
    hours = Hours(pre_open, continuous, block, end_of_day, opening_call, closing_call, random_end, interruption)
    if (opening_call or closing_call) and not continuous:
        raise ConfigError(r.key("opening_call" if opening_call else "closing_call"),
                          "a call auction needs a continuous session to open or close")
    if opening_call and not pre_open <= opening_call < continuous[0][0]:
        raise ConfigError(r.key("opening_call"), f"opening call {_hhmm(opening_call)} must be from the pre-open "
                                                 f"({_hhmm(pre_open)}) to before the first continuous session "
                                                 f"({_hhmm(continuous[0][0])})")
    if closing_call and not continuous[-1][0] < closing_call < continuous[-1][1]:
        raise ConfigError(r.key("closing_call"), f"closing call {_hhmm(closing_call)} must fall within the last "
                                                 f"continuous session ({_hhmm(continuous[-1][0])}-"
                                                 f"{_hhmm(continuous[-1][1])})")
    if continuous and pre_open > continuous[0][0]:
        key = "pre_open" if "pre_open" in given or "continuous" not in given else "continuous"
        raise ConfigError(r.key(key), f"pre-open {_hhmm(pre_open)} is after the first continuous session "
                                      f"starts ({_hhmm(continuous[0][0])})")
    if end_of_day < hours.last_end:
        key = "end_of_day" if "end_of_day" in given or not given & {"continuous", "block"} \
            else next(k for k in ("continuous", "block") if k in given)
        raise ConfigError(r.key(key), f"end of day {_hhmm(end_of_day)} is before the last session ends "
                                      f"({_hhmm(hours.last_end)})")
    return hours


def _timezone(name: str, key: str) -> tuple[datetime.tzinfo, bool]:
    """The zone and whether a fixed offset stands in for it (no time zone database)."""
    m = re.match(r"^UTC([+-])(\d{2}):(\d{2})$", name)
    if m:
        minutes = (int(m[2]) * 60 + int(m[3])) * (1 if m[1] == "+" else -1)
        if abs(minutes) >= 24 * 60:
            raise ConfigError(key, f"offset out of range (got {name!r})")
        return datetime.timezone(datetime.timedelta(minutes=minutes), name), False
    try:
        return zoneinfo.ZoneInfo(name), False
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        pass
    if name in _CHINA_ZONES:
        log.warning("schedule.timezone: %r is not in the time zone database (install tzdata); "
                    "using a fixed UTC+08:00 offset (China has no daylight saving time)", name)
        return CHINA, True
    if name == "UTC":
        return datetime.timezone.utc, False
    raise ConfigError(key, f"unknown time zone {name!r} (an IANA name such as \"Asia/Shanghai\", "
                           "or \"UTC+08:00\")")


def _dates(r: _Reader, name: str) -> frozenset:
    """A list of ISO dates ("YYYY-MM-DD" strings or TOML local dates)."""
    out = set()
    for n, value in enumerate(r.get(name, list, [])):
        day = None
        if isinstance(value, datetime.date) and not isinstance(value, datetime.datetime):
            day = value
        elif isinstance(value, str) and re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
            try:
                day = datetime.date.fromisoformat(value)
            except ValueError:
                pass
        if day is None:
            raise ConfigError(f"{r.key(name)}[{n}]", f'must be a date "YYYY-MM-DD" (got {value!r})')
        out.add(day)
    return frozenset(out)


_DAY_NAMES = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


def _weekday(value: Any) -> int | None:
    """0 (Monday) .. 6 for a day name of at least three letters ("Mon", "monday"), else None."""
    if isinstance(value, str) and len(value) >= 3:
        for n, full in enumerate(_DAY_NAMES):
            if full.startswith(value.lower()):
                return n
    return None


def _schedule(root: _Reader, symbols: list) -> Schedule:
    if "schedule" not in root.table:
        root.used.add("schedule")
        return Schedule()
    r = root.sub("schedule")
    enabled = r.get("enabled", bool, True)
    zone = r.get("timezone", str, "Asia/Shanghai", lambda v: bool(v), "must not be empty")
    tz, fallback = _timezone(zone, r.key("timezone"))
    weekdays = set()
    for n, value in enumerate(r.get("weekdays", list, list(WEEKDAYS[:5]))):
        day = _weekday(value)
        if day is None:
            raise ConfigError(f"{r.key('weekdays')}[{n}]", f"must be a day name, Mon to Sun (got {value!r})")
        weekdays.add(day)
    extra = _dates(r, "extra_trading_days")
    holidays = _dates(r, "holidays")
    both = sorted(extra & holidays)
    if both:
        raise ConfigError(r.key("holidays"), f"{both[0].isoformat()} is also in {r.key('extra_trading_days')}")
    call_seed = r.get("call_seed", int, 0, lambda v: 0 <= v < 2**63, "must be 0 .. 2**63-1")
    hours = _hours(r, DEFAULT_HOURS)
    own = r.sub("instruments", keyed_by="SYMBOL")
    overrides = []
    for symbol in list(own.table):
        if symbol not in symbols:
            raise ConfigError(own.key(symbol), "no such instrument symbol")
        sub = own.sub(symbol)
        overrides.append((symbol, _hours(sub, hours)))
        sub.done()
    own.done()
    r.done()
    return Schedule(enabled, zone, tz, fallback, hours, frozenset(weekdays), extra, holidays, tuple(overrides),
                    call_seed)


# ------------------------------------------------------------------ the embedded market
_EXAMPLE = '''\
# chuanyu market configuration (TOML). `chuanyu config example` prints this file: the demo
# market `chuanyu engine` runs when it is given no --config. Prices and cash are integers in
# fen (0.01 CNY), quantities integers in tonnes. Enum values are names (case-insensitive).

[market]
max_accounts = 100000            # account ids run 0 .. max_accounts-1
default_stp = "CANCEL_NEWEST"    # self-trade prevention: OFF, CANCEL_NEWEST, CANCEL_OLDEST, CANCEL_BOTH
risk = true                      # full pre-funding and settlement

[market.fees]
continuous = [50, 50]            # buyer and seller fee in basis points (0.5% each)

# Instruments in index order: the wire protocol names an instrument by its position here.
[[instruments]]
symbol = "SCEA{year}"            # Sichuan allowance, compliance year {year}
kind = "ALLOWANCE"               # ALLOWANCE or CER
region = "SC"                    # issuing region (CER: project origin)
year = {year}
reference_price = 5000           # previous close: 50.00 CNY/t
tick = 1                         # fen
lot = 1                          # tonnes
band_bps = 1000                  # +-10% around the reference price
max_order_qty = 99999
t_plus_one = true                # units bought today are sellable tomorrow
block_band_bps = 3000            # block trades: +-30% around the reference price
block_min_qty = 100000           # a block trade is at least 100,000 t
min_close_volume = 0             # a day of at most this volume keeps the previous close (Guangdong: 100)
dynamic_band_bps = 300           # a continuous trade more than 3% from the last price starts a
                                 # volatility interruption (a call auction) instead (0: none)
must_take_best = true            # fixed-price takes: only the best-priced listing
listings_expire = true           # fixed-price listings end with the day

[[instruments]]
symbol = "CQEA{year}"            # Chongqing allowance
kind = "ALLOWANCE"
region = "CQ"
year = {year}
reference_price = 4480
tick = 1
lot = 1
band_bps = 1000
max_order_qty = 99999

[[instruments]]
symbol = "CCER{vintage}"            # China certified emission reductions, vintage {vintage}
kind = "CER"
region = "SC"
year = {vintage}
reference_price = 6000
tick = 5
lot = 1
band_bps = 2000

# Member firms of the two regional platforms.
[[members]]
id = 101
name = "Chengdu Power Generation"
region = "SC"

[[members]]
id = 102
name = "Sichuan Cement Group"
region = "SC"

[[members]]
id = 201
name = "Chongqing Steel Works"
region = "CQ"

[[members]]
id = 202
name = "Chongqing Green Investment"
region = "CQ"

# Accounts: region defaults to the member's; cash in fen, holdings in tonnes per symbol.
[[accounts]]
id = 1
member = 101
sector = "POWER"
cash = 500_000_000               # 5,000,000.00 CNY
holdings = {{ SCEA{year} = 200_000, CCER{vintage} = 20_000 }}

[[accounts]]
id = 2
member = 102
sector = "BUILDING_MATERIALS"
cash = 300_000_000
holdings = {{ SCEA{year} = 100_000 }}

[[accounts]]
id = 3
member = 201
sector = "STEEL"
cash = 500_000_000
holdings = {{ CQEA{year} = 200_000 }}

[[accounts]]
id = 4
member = 202
sector = "INVESTOR"
cash = 800_000_000
holdings = {{ CQEA{year} = 50_000, SCEA{year} = 50_000, CCER{vintage} = 50_000 }}

# Designated market makers: each quotes its instruments on both sides, best bid and offer
# with at least min_qty tonnes each and at most max_spread_bps apart (of their midpoint), for
# presence_pct of continuous trading; the end-of-day report measures it. rebate_bps: basis
# points off the market's fees on all the account's trades, by trade type.
# [[market_makers]]
# account = 4
# instruments = ["CQEA{year}", "SCEA{year}"]
# max_spread_bps = 200
# min_qty = 1_000
# presence_pct = 80
# rebate_bps = {{ continuous = 30 }}

# Order-entry sessions. A session logs in with its id from a connection authenticated by
# its CURVE key and acts only for the accounts of its members. `key` names a key pair in
# security.keys_dir (NAME.key / NAME.key_secret, see `chuanyu keys`); or give the client's
# z85 public key as `public_key = "..."`.
[[sessions]]
id = 1
name = "sc-platform"             # the Sichuan exchange's front end
members = [101, 102]
key = "sc-platform"
cancel_on_disconnect = true      # cancel the session's open orders when it goes away
rate_limit = 0                   # messages per second, 0 = unlimited
# burst = 1000                   # token-bucket depth (default: a tenth of a second's worth)

[[sessions]]
id = 2
name = "cq-platform"             # the Chongqing exchange's front end
members = [201, 202]
key = "cq-platform"
cancel_on_disconnect = true
rate_limit = 0

[[sessions]]
id = 3
name = "broker"                  # a broker connecting directly, for one member
members = [202]
key = "broker"
rate_limit = 10000

[[sessions]]
id = 9
name = "regulator"               # acts for no account; receives a copy of every report
members = []
key = "regulator"
drop_copy = true

[security]
keys_dir = "keys"                # relative to the state dir
server_key = "server"            # the daemon's key pair
admin_keys = ["admin"]           # key pairs allowed on the admin socket
generate_missing_keys = true     # demo only: create missing key pairs in keys_dir at start

[network]
host = "127.0.0.1"
order_port = 7001                # ROUTER for order entry (CURVE); 0 = any free port
admin_port = 7002                # admin requests (CURVE, admin keys only)
feed_port = 7003                 # market data PUB: trades, depth, BBO, status, auctions, daily stats
snapshot_port = 7004             # market data snapshots for late joiners and gap recovery
feeds = true                     # false: no market data and no disclosure files (order path only)
drop_copy_port = 7005            # regulator drop copy: every execution with both accounts (CURVE,
                                 # the keys of sessions with drop_copy = true; bound only if one
                                 # exists). Default 7005, or a free port when feed_port = 0
feed_hwm = 10000                 # feed frames queued per subscriber; a slower one loses messages and
                                 # resynchronises from a snapshot (memory stays bounded)
feed_sndbuf = 0                  # kernel send buffer per feed subscriber in bytes; 0: the system's
snapshot_min_interval_ms = 20    # the snapshot port is anonymous: the loop encodes at most one
                                 # snapshot per interval, however many requests wait
snapshot_max_per_s = 500         # snapshot answers per second, all peers together
snapshot_max_pending = 128       # requests waiting for a snapshot; more wait in ZeroMQ's queues

# Every sequenced command batch is journaled (journal-*.seg in the state dir) before the
# engine sees it; a restart restores the newest valid snapshot and replays the later records.
[durability]
mode = "fsync"                   # "fsync": one fsync per loop batch (group commit) before any
                                 #   report of it leaves; "interval": fsync at most every
                                 #   interval_ms (a power cut may lose the last interval_ms of
                                 #   acknowledged work; a killed process loses nothing);
                                 #   "none": never fsync (survives a killed process only)
interval_ms = 10                 # the "interval" policy's fsync period
segment_bytes = 67108864         # roll to a new journal segment file past this size (64 MiB)
# Snapshots (snapshot-<seq>.bin + gateway-<seq>.npz) are also written on graceful shutdown
# and by `chuanyu admin snapshot`; a restart replays only the journal after the newest one.
snapshot_every_commands = 1000000    # snapshot after this many commands (0: off)
snapshot_every_s = 600           # snapshot after this many seconds if commands arrived (0: off)
keep_snapshots = 3               # keep the newest 3 snapshots (0: keep all)
prune_journal = true             # delete journal segments older than the oldest kept snapshot
                                 #   (false: keep the whole journal, e.g. for an audit archive)
retain_reports = 100000          # reports kept per session for gap fill after a reconnect
                                 #   (LOGIN with GAP_FILL), 112 bytes each in memory and in
                                 #   every snapshot; 0: no gap fill

[daemon]
heartbeat_ms = 1000              # both sides send a heartbeat after this long idle
heartbeat_misses = 3             # silent for 3 intervals = disconnected
batch_max = 16384                # messages per engine batch
queue_frames = 4096              # undelivered report frames per session before SLOW_CONSUMER
snapshot_on_shutdown = true
metrics_port = 0                 # Prometheus metrics at http://HOST:PORT/metrics (network.host); 0 = off
connection_in_bytes = 33554432   # 32 MiB: a connection's frames waiting unread (its receive queue)
session_out_bytes = 33554432     # 32 MiB: a session's undelivered reports; past it SLOW_CONSUMER

# High availability (docs/OPERATIONS.md, "High availability"): with mode = "jetstream" every
# sequenced batch goes to a replicated NATS JetStream stream before any report of it leaves;
# each node runs `chuanyu engine --config THIS --node NAME`; the holder of the leader lease
# is the primary, the others follow the stream as hot standbys and take over when it lapses.
[replication]
mode = "none"                    # "none": one node, the local journal; "jetstream": replicated
servers = ["nats://127.0.0.1:4222"]   # every server of the NATS cluster (nats:// or tls://)
stream = "CHUANYU"               # the command log's stream; the lease bucket is <stream>_LEASE
replicas = 3                     # stream and lease replicas: 3 survive one lost server, 5 two
lease_ttl_ms = 2000              # a primary not heard from for this long is replaced; a primary
                                 #   that could not renew stops acknowledging before it lapses
publish_timeout_ms = 1000        # one publish attempt (retried under the same message id)
credentials = ""                 # NATS .creds file (relative paths: to this file); "" for none
tls_ca = ""                      # CA bundle for tls:// servers
tls_cert = ""                    # client certificate and key, when the servers ask for one
tls_key = ""
# Each node's ports, when nodes share a host (default: the [network] ports):
# [[replication.nodes]]
# name = "a"
# host = "127.0.0.1"
# order_port = 7001
# admin_port = 7002
# feed_port = 7003
# snapshot_port = 7004
# drop_copy_port = 7005

# The trading schedule the daemon drives: at each boundary it sends the engine the phase
# commands (set_instrument_status, set_block_window) and, once per trading date, END_OF_DAY,
# sequenced like every other command. Without a [schedule] table phases change only by
# `chuanyu admin phase / halt / resume / end-of-day`. An operator's halt always stands
# until the operator resumes the instrument; other manual phase changes last until the next
# boundary. Times are local wall-clock times "HH:MM" in `timezone`.
[schedule]
enabled = true                   # false: no automatic phases (instruments start TRADING)
timezone = "Asia/Shanghai"       # IANA name, or a fixed offset such as "UTC+08:00"
pre_open = "09:15"               # PRE_OPEN (orders rest, nothing trades) until continuous trading
opening_call = "09:25"           # CALL: orders collect, crossing ones too, and the open uncrosses
                                 # them all at one price ("": no opening call, PRE_OPEN to the open)
closing_call = ""                # e.g. "14:57": the close uncrosses a call at one price
call_random_end_s = 30           # each call ends up to this many seconds late, drawn per trading
                                 # date and instrument from call_seed (0: on time)
call_seed = 2026                 # the draw's seed: keep it to yourself
interruption_s = 120             # a volatility interruption (instruments' dynamic_band_bps) is a
                                 # call of this many seconds, ending up to call_random_end_s late
continuous = [["09:30", "11:30"], ["13:00", "15:00"]]   # TRADING; CLOSED in between and after
block = [["13:00", "15:00"]]     # block window open (closing it expires the block quotes)
end_of_day = "15:30"             # statistics, close, new reference price, T+1 release
weekdays = ["Mon", "Tue", "Wed", "Thu", "Fri"]   # the days that trade (holidays aside)
holidays = []                    # dates not traded, e.g. ["{year}-10-01", "{year}-10-02"]
extra_trading_days = []          # dates traded although not a weekday above
# An instrument may have its own hours; keys it leaves out come from [schedule]:
# [schedule.instruments.CCER{vintage}]
# block = []                     # no block window for this instrument
'''


def _tonnes_by_symbol(r, name: str, symbols) -> dict:
    """``accounts[].NAME.<SYMBOL>``: tonnes per instrument symbol."""
    table = r.sub(name, keyed_by="SYMBOL")
    out = {}
    for symbol in list(table.table):
        if symbol not in symbols:
            raise ConfigError(table.key(symbol), "no such instrument symbol")
        out[symbol] = table.get(symbol, int, check=lambda v: 0 <= v <= MAX_HOLDING,
                                why=f"must be 0..{MAX_HOLDING} tonnes")
    return out


def example_toml(year: int | None = None) -> str:
    """The embedded demo market as a commented TOML file."""
    year = datetime.date.today().year if year is None else year
    return _EXAMPLE.format(year=year, vintage=year - 1)


def schema_keys(text: str) -> dict:
    """Every key the reader asks for while checking the config ``text``, as schema paths.

    ``{"instruments[].tick": (int, 1), "accounts[].holdings.<SYMBOL>": (int, ...), ...}``:
    the kind (a type, a tuple of types, or an enum class) and the default (``...``: required).
    A table the text leaves out is asked for only if the reader reads it regardless (e.g.
    ``[[members]]`` rows, ``[schedule.instruments.<SYMBOL>]``): give them in ``text``.

    >>> keys = schema_keys(example_toml())
    >>> keys["durability.mode"], keys["instruments[].symbol"]
    ((<class 'str'>, 'fsync'), (<class 'str'>, Ellipsis))
    """
    keys: dict = {}
    parse_config(text, "<schema>", keys=keys)
    return keys


def default_config() -> MarketConfig:
    """The embedded demo market, for the current compliance year."""
    return parse_config(example_toml(), source="<embedded default>")
