"""Feed fan-out: what publishing market data costs the daemon, and what subscribers receive.

Every measurement starts a fresh ``chuanyu engine`` subprocess (risk on, durability none) on
twenty instruments and drives it from one load process that sends 1,024-order frames flat
out (at most :data:`WINDOW` new orders unacknowledged) of a carbon-mix-like stream generated
before timing: 60% passive GTC adds 1-30 ticks from the reference price, 30% cancels of one
of the last 2,000 orders (its engine id predicted: the daemon numbers the accepted orders
densely and every order here is accepted; the few already filled are rejected as unknown),
10% IOC orders crossing up to 5 ticks. Scenarios, all in the same run:

- feeds off (``[network] feeds = false``): the order path alone;
- feeds on with 1, 4 and 16 subscriber processes, each a :class:`feeds.client.FeedClient`
  subscribed to everything (snapshot, gap detection and resynchronisation included).

and, in process, the feed path alone per 1,024-command batch of ``carbon_mix_risk`` against
the engine's own time (:func:`in_process`).

Measured over the window after a warm-up, from the daemon's own counters (admin ``status``):

- ``commands_per_s``: commands the daemon ran through the engine per second;
- ``published_per_s``: feed messages it published per second;
- ``delivered_per_s``: feed messages the subscribers applied per second, all together
  (a subscriber that falls behind loses messages at the high-water mark and resynchronises:
  ``resyncs``).

Target (issue 7): publishing costs the daemon at most 25% of its throughput versus feeds
off. The check compares the run with feeds on and one subscriber against feeds off, the best
of two alternating runs of each (a shared machine makes single runs noisy). The
load process and the subscribers run at niceness :data:`NICE`, as in the gateway benchmark,
so that on a small machine they yield to the daemon they measure.
"""
from __future__ import annotations

import multiprocessing as mp
import os
import select
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

from bench.daemon import BenchDaemon

__all__ = ["run", "table", "RESULT_KEYS", "SUBSCRIBERS", "TARGET_COST"]

RESULT_KEYS = ("published_per_s", "delivered_per_s", "subscribers")
SUBSCRIBERS = (1, 4, 16)
TARGET_COST = 0.25                  # publishing may cost at most this share of the daemon's throughput
WINDOW = 8192                       # new orders in flight, flat out
BATCH = 1024
N_INSTRUMENTS = 20
N_ACCOUNTS = 16                     # half Sichuan, half Chongqing, all funded without limit
NICE = int(os.environ.get("CHUANYU_BENCH_CLIENT_NICE", "5"))
_REFERENCE = 5000


def _symbols() -> list[str]:
    return [f"{'SC' if k % 2 == 0 else 'CQ'}EA{2024 + k // 2}" for k in range(N_INSTRUMENTS)]


def _config(feeds: bool) -> str:
    symbols = _symbols()
    lines = ["[market]", "max_accounts = 1000", "[market.fees]", "continuous = [5, 5]"]
    for k, s in enumerate(symbols):
        lines += ["[[instruments]]", f'symbol = "{s}"', f'region = "{"SC" if k % 2 == 0 else "CQ"}"',
                  f"reference_price = {_REFERENCE}", "max_order_qty = 1000000"]
    holdings = ", ".join(f"{s} = 1_000_000_000" for s in symbols)
    for k, region in enumerate(("SC", "CQ")):
        lines += ["[[members]]", f"id = {100 + k}", f'name = "bench {region}"', f'region = "{region}"']
    for a in range(1, N_ACCOUNTS + 1):
        lines += ["[[accounts]]", f"id = {a}", f"member = {100 + a % 2}", 'sector = "INVESTOR"',
                  "cash = 10_000_000_000_000_000", f"holdings = {{ {holdings} }}"]
    lines += ["[[sessions]]", "id = 1", 'name = "load"', "members = [100, 101]", 'key = "load"',
              "[security]", "generate_missing_keys = true", 'admin_keys = ["admin"]',
              "[network]", "order_port = 0", "admin_port = 0", "feed_port = 0", "snapshot_port = 0",
              f"feeds = {'true' if feeds else 'false'}",
              "[daemon]", "heartbeat_ms = 5000", "batch_max = 16384", "queue_frames = 100000",
              "snapshot_on_shutdown = false", "[durability]", 'mode = "none"']
    return "\n".join(lines) + "\n"


# ------------------------------------------------------------------ the stream
def stream(n: int, seed: int = 7) -> tuple[np.ndarray, np.ndarray, int]:
    """A carbon-mix-like order stream as ``ORDER_DTYPE`` messages, generated with numpy.

    Returns ``(msgs, back, news)``: ``back`` is, for a cancel, how many orders before the
    current one its target was entered (-1 elsewhere), ``news`` the new orders in the
    stream. A cancel's order id is known only when sent (``first id + orders entered
    so far - back``), so the stream can be replayed any number of times.

    >>> msgs, back, news = stream(1000)
    >>> int(news) == int((msgs["msg_type"] == 1).sum()) and bool((back[msgs["msg_type"] == 2] > 0).all())
    True
    """
    from gateway.protocol import ORDER_DTYPE, MsgType
    rng = np.random.default_rng(seed)
    draw = rng.random(n)
    kind = np.where(draw < 0.6, 0, np.where(draw < 0.9, 1, 2))         # add, cancel, sweep
    kind[:2000] = 0                                                   # a book to cancel from first
    msgs = np.zeros(n, dtype=ORDER_DTYPE)
    new = kind != 1
    msgs["msg_type"] = np.where(new, MsgType.NEW_ORDER, MsgType.CANCEL)
    side = rng.integers(1, 3, n)
    away = rng.integers(1, 31, n)
    cross = rng.integers(0, 6, n)
    sign = np.where(side == 1, -1, 1)                                 # buys below, sells above the reference
    msgs["price"] = np.where(kind == 2, _REFERENCE - sign * cross, _REFERENCE + sign * away)
    msgs["price"][kind == 1] = 0
    msgs["side"] = np.where(new, side, 0)
    msgs["order_type"] = np.where(new, 1, 0)
    msgs["tif"] = np.where(kind == 2, 3, np.where(new, 1, 0))         # sweeps IOC, adds GTC
    msgs["qty"] = np.where(kind == 2, rng.integers(5, 41, n), np.where(new, rng.integers(1, 11, n), 0))
    msgs["instrument"] = rng.integers(0, N_INSTRUMENTS, n)
    msgs["account"] = rng.integers(1, N_ACCOUNTS + 1, n)
    entered = np.cumsum(new) - new                                    # new orders before each message
    back = np.where(kind == 1, np.minimum(rng.integers(1, 2001, n), entered), -1)
    cancels = np.flatnonzero(kind == 1)
    target = np.flatnonzero(new)[entered[cancels] - back[cancels]]
    msgs["account"][cancels] = msgs["account"][target]                # a cancel acts for the order's owner
    return msgs, back, int(new.sum())


# ------------------------------------------------------------------ the processes
def _load(conf: dict, results, stop) -> None:
    """The load generator: flat out, batched frames, a window of unacknowledged new orders,
    until ``stop`` is set; reports ``ready`` once logged in and about to send."""
    import zmq
    if conf.get("nice"):
        os.nice(conf["nice"])
    from gateway.protocol import LOGIN_ACK_DTYPE, PROTOCOL_VERSION, REPORT_DTYPE, MsgType, encode
    msgs, back, news = stream(conf["stream"], conf["seed"])
    is_new = msgs["msg_type"] == MsgType.NEW_ORDER
    entered_before = np.cumsum(is_new) - is_new
    cancel = ~is_new
    ctx = zmq.Context()
    sock = ctx.socket(zmq.DEALER)
    sock.linger = 0
    sock.sndhwm = sock.rcvhwm = 0
    sock.curve_serverkey = conf["server_key"].encode()
    sock.curve_publickey, sock.curve_secretkey = conf["public"], conf["secret"]
    sock.connect(conf["endpoint"])
    sock.send(encode(MsgType.LOGIN, version=PROTOCOL_VERSION, session=1, heartbeat_ms=60_000))
    if not sock.poll(10_000):
        results.put({"error": "no LOGIN_ACK"})
        return
    ack = np.frombuffer(sock.recv(), dtype=LOGIN_ACK_DTYPE)[0]
    coid = int(ack["last_client_order_id"]) + 1
    first_id = conf["first_order_id"]
    fd = sock.getsockopt(zmq.FD)
    sent_new = answered = 0
    pos = rounds = 0
    results.put({"ready": "load"})
    while not stop.is_set():
        if sent_new - answered < WINDOW:
            end = min(pos + BATCH, len(msgs))
            frame = msgs[pos:end].copy()
            new = is_new[pos:end]
            k = int(new.sum())
            frame["client_order_id"][new] = np.arange(coid, coid + k)
            c = cancel[pos:end]
            frame["order_id"][c] = first_id + rounds * news + entered_before[pos:end][c] - back[pos:end][c]
            coid += k
            sent_new += k
            sock.send(frame.tobytes(), copy=True)
            pos = end
            if pos == len(msgs):
                pos, rounds = 0, rounds + 1
        while sock.getsockopt(zmq.EVENTS) & zmq.POLLIN:
            rows = np.frombuffer(sock.recv(), dtype=REPORT_DTYPE)
            mt = rows["msg_type"]
            answered += int((((mt == MsgType.ACK) | (mt == MsgType.REJECT)) & (rows["client_order_id"] > 0)).sum())
        if sent_new - answered >= WINDOW:
            select.select([fd], [], [], 0.001)
    sock.close(linger=0)
    ctx.term()
    results.put({"sent_new": sent_new, "answered": answered})


def _subscriber(conf: dict, results, stop) -> None:
    """One FeedClient process: records (time, messages applied so far) until ``stop``."""
    import zmq
    if conf.get("nice"):
        os.nice(conf["nice"])
    from feeds.client import FeedClient
    ctx = zmq.Context()
    client = FeedClient(conf["feed"], conf["snapshots"], ctx=ctx, timeout_ms=10_000)
    client.start()
    results.put({"ready": "subscriber"})
    applied = 0
    trace = [(time.time(), 0)]
    while not stop.is_set():
        applied += len(client.poll(20))
        trace.append((time.time(), applied))
    results.put({"trace": trace, "resyncs": client.resyncs - 1})
    client.close()
    ctx.term()


def _applied_between(trace: list, start: float, end: float) -> int:
    """Messages a subscriber applied between two wall-clock times, from its trace.

    >>> _applied_between([(0.0, 0), (1.0, 10), (2.0, 25), (3.0, 40)], 1.0, 3.0)
    30
    """
    times = np.array([t for t, _ in trace])
    counts = np.array([n for _, n in trace])
    at = lambda t: counts[max(np.searchsorted(times, t, side="right") - 1, 0)]    # noqa: E731
    return int(at(end) - at(start))


def _measure(mp_ctx, workdir: Path, feeds: bool, subscribers: int, seconds: float, warm: float, log) -> dict:
    import zmq.auth
    d = BenchDaemon(_config(feeds), workdir)
    stop = mp_ctx.Event()
    procs = []
    try:
        results = mp_ctx.Queue()
        keys = Path(d.info["keys_dir"])
        for _ in range(subscribers):
            conf = dict(feed=d.info["feed"], snapshots=d.info["feed_snapshots"], nice=NICE)
            procs.append(mp_ctx.Process(target=_subscriber, args=(conf, results, stop), daemon=True))
        public, secret = zmq.auth.load_certificate(str(keys / "load.key_secret"))
        load_conf = dict(endpoint=d.info["orders"], server_key=d.info["server_public_key"], public=public,
                         secret=secret, stream=200_000, seed=7, first_order_id=1, nice=NICE)
        procs.append(mp_ctx.Process(target=_load, args=(load_conf, results, stop), daemon=True))
        for p in procs[:-1]:
            p.start()
        for _ in range(subscribers):                        # subscribed and caught up before any load
            _ready(results)
        procs[-1].start()
        _ready(results)
        time.sleep(warm)                                    # the load runs; measure from here
        w0, a = d.counters()
        t_start = time.time()
        time.sleep(seconds)
        w1, b = d.counters()
        t_end = time.time()
        stop.set()
        outs = [results.get(timeout=120) for _ in procs]
        for p in procs:
            p.join(30)
    finally:
        stop.set()
        d.stop()
    errors = [o["error"] for o in outs if "error" in o]
    if errors:
        raise RuntimeError(f"load failed: {errors[0]}")
    subs_out = [o for o in outs if "trace" in o]
    delivered = sum(_applied_between(o["trace"], t_start, t_end) for o in subs_out)
    dt = w1 - w0
    res = {
        "feeds": feeds,
        "subscribers": subscribers,
        "commands_per_s": (b["commands"] - a["commands"]) / dt,
        "published_per_s": (b.get("feed_messages", 0) - a.get("feed_messages", 0)) / dt,
        "delivered_per_s": delivered / (t_end - t_start),
        "delivered_per_subscriber_per_s": delivered / (t_end - t_start) / subscribers if subscribers else None,
        "resyncs": sum(o["resyncs"] for o in subs_out),
        "seconds": dt,
    }
    log(f"  {res['commands_per_s']:,.0f} commands/s, published {res['published_per_s']:,.0f} msgs/s, "
        f"delivered {res['delivered_per_s']:,.0f} msgs/s, resyncs {res['resyncs']}")
    return res


def _ready(results) -> None:
    got = results.get(timeout=120)
    if "ready" not in got:
        raise RuntimeError(f"a benchmark process failed: {got.get('error', got)}")


def in_process(n_commands: int = 40_000, batch: int = BATCH) -> dict:
    """The feed path's own cost, without sockets to other processes or a shared core in the
    way: the ``carbon_mix_risk`` workload through ``Engine.process`` in batches, each batch's
    events then encoded and published (a PUB socket with no subscriber) and recorded
    (trade tape). Returns microseconds per batch of each, and their ratio."""
    if n_commands < 5 * batch:
        raise ValueError(f"n_commands must be at least 5 batches ({5 * batch})")
    from bench.workloads import carbon_mix
    from feeds.disclosure import Disclosure
    from feeds.encoder import FeedEncoder
    from feeds.service import FeedService, bind_feed
    from matching import Engine, Region
    import zmq
    w = carbon_mix(n_commands=n_commands, n_resting=20_000, risk=True, n_accounts=200)
    engine = w.make_engine(Engine)
    engine.process(w.setup)
    encoder = FeedEncoder([i.symbol for i in w.instruments], engine, epoch=1)
    encoder.load()
    ctx = zmq.Context()
    pub, snap, _ = bind_feed(ctx, "127.0.0.1")
    service = FeedService(encoder, pub, snap)
    tmp = Path(tempfile.mkdtemp(prefix="chuanyu-feedpath-"))
    disclosure = Disclosure(tmp, w.instruments, lambda a: Region.SC if a % 2 else Region.CQ)
    t_engine = t_feed = 0.0
    batches = messages = 0
    try:
        for k, start in enumerate(range(0, len(w.timed), batch)):
            t0 = time.perf_counter()
            events = engine.process(w.timed[start:start + batch])
            t1 = time.perf_counter()
            n = service.publish(events)
            disclosure.record(events)
            t2 = time.perf_counter()
            if k >= 3:                            # the first batches pay one-time imports and allocations
                t_engine += t1 - t0
                t_feed += t2 - t1
                batches += 1
                messages += n
    finally:
        disclosure.close()
        pub.close(0)
        snap.close(0)
        ctx.term()
        shutil.rmtree(tmp, ignore_errors=True)
    return {"batch": batch, "batches": batches, "engine_us_per_batch": t_engine / batches * 1e6,
            "feed_us_per_batch": t_feed / batches * 1e6, "messages_per_batch": messages / batches,
            "feed_over_engine": t_feed / t_engine}


def run(subscribers=SUBSCRIBERS, seconds: float = 3.0, quick: bool = False, log=print, pairs: int | None = None,
        path_commands: int | None = None) -> dict:
    """Run the feed benchmark; return the results as a JSON-ready dict.

    ``subscribers``: the subscriber counts with feeds on; ``quick``: 0.75-second windows.
    The target's two scenarios (feeds off, feeds on with one subscriber) run ``pairs``
    times alternately (default 2; shared cores make single runs noisy)
    and the best of each is compared. ``path_commands``: the in-process measurement's
    workload length (default 60,000; 20,000 with ``quick``).
    """
    from bench.engine_bench import machine_info
    from bench.provenance import spread
    counts = sorted(set(int(n) for n in subscribers) | {1})      # 1: the target's scenario
    if any(n < 0 or n > 64 for n in counts):
        raise ValueError("subscribers must be 0..64")
    seconds = min(seconds, 0.75) if quick else seconds
    warm = 0.4 if quick else 1.0
    pairs = pairs or 2
    mp_ctx = mp.get_context("spawn")
    workdir = Path(tempfile.mkdtemp(prefix="chuanyu-feedbench-"))
    runs = []
    try:
        log("feed path in process (carbon_mix_risk, 1,024-command batches)")
        path = in_process(path_commands or (20_000 if quick else 60_000))
        log(f"  engine {path['engine_us_per_batch']:,.0f} µs, feed path {path['feed_us_per_batch']:,.0f} µs "
            f"per batch ({path['messages_per_batch']:,.0f} messages)")
        for _ in range(pairs):
            log("feeds off")
            runs.append(_measure(mp_ctx, workdir, False, 0, seconds, warm, log))
            log("feeds on, 1 subscriber")
            runs.append(_measure(mp_ctx, workdir, True, 1, seconds, warm, log))
        for n in [c for c in counts if c != 1]:
            log(f"feeds on, {n} subscriber{'s' if n != 1 else ''}")
            runs.append(_measure(mp_ctx, workdir, True, n, seconds, warm, log))
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    off = max((r for r in runs if not r["feeds"]), key=lambda r: r["commands_per_s"])
    on = max((r for r in runs if r["feeds"] and r["subscribers"] == 1), key=lambda r: r["commands_per_s"])
    cost = 1 - on["commands_per_s"] / off["commands_per_s"] if off["commands_per_s"] else None
    target = {"target": f"publishing costs <= {TARGET_COST:.0%} of the daemon's throughput versus feeds off "
                        f"(feeds on with 1 subscriber; best of {pairs} run{'s' if pairs > 1 else ''} each)",
              "value": cost, "goal": TARGET_COST, "met": cost is not None and cost <= TARGET_COST}
    fan = []
    for n in counts:
        best = max((r for r in runs if r["feeds"] and r["subscribers"] == n), key=lambda r: r["commands_per_s"])
        fan.append({k: best[k] for k in ("subscribers", "commands_per_s", "published_per_s", "delivered_per_s",
                                         "resyncs")})
    return {
        "published_per_s": on["published_per_s"],
        "delivered_per_s": on["delivered_per_s"],
        "subscribers": on["subscribers"],
        "feeds_off_commands_per_s": off["commands_per_s"],
        "feeds_on_commands_per_s": on["commands_per_s"],
        "cost": cost,
        "fan_out": fan,
        "spread": {"feeds_off_commands_per_s": spread([r["commands_per_s"] for r in runs if not r["feeds"]]),
                   "feeds_on_commands_per_s": spread([r["commands_per_s"] for r in runs
                                                      if r["feeds"] and r["subscribers"] == 1])},
        "in_process": path,
        "runs": runs,
        "targets": [target],
        "machine": machine_info(),
        "seconds": seconds,
    }


def table(results: dict) -> str:
    """The results as a plain-text table."""
    rows = [("feeds", "subscribers", "daemon commands/s", "published msgs/s", "delivered msgs/s", "resyncs")]
    for r in results["runs"]:
        rows.append(("on" if r["feeds"] else "off", str(r["subscribers"]) if r["feeds"] else "-",
                     f"{r['commands_per_s']:,.0f}", f"{r['published_per_s']:,.0f}" if r["feeds"] else "-",
                     f"{r['delivered_per_s']:,.0f}" if r["subscribers"] else "-", str(r["resyncs"])))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths)))
             for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    p = results.get("in_process")
    if p:
        lines.append(f"feed path in process: {p['feed_us_per_batch']:,.0f} µs per {p['batch']:,}-command batch "
                     f"({p['messages_per_batch']:,.0f} messages) against the engine's "
                     f"{p['engine_us_per_batch']:,.0f} µs ({p['feed_over_engine']:.2f}x)")
    for t in results["targets"]:
        value = "-" if t["value"] is None else f"{t['value']:.1%}"
        lines.append(f"target: {t['target']}: {value} ({'met' if t['met'] else 'MISSED'})")
    return "\n".join(lines)
