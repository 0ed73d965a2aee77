"""End-to-end gateway load: a real daemon on loopback driven by N client processes.

Every measurement starts from a fresh ``chuanyu engine`` subprocess (risk on, journal
durability ``none`` unless the run names another mode; no periodic snapshots) with one
session and two funded accounts (one Sichuan, one Chongqing member) per client. The
batched flat-out scenario also runs under ``interval`` and ``fsync``: the journal's cost is
the ratio of those runs to the ``none`` run (target: ``fsync`` keeps >= 50%). With
``replication="jetstream"`` it runs once more on a replicated primary: every batch published
to a three-server NATS JetStream cluster on the same machine (three replicas; its own
``nats-server`` processes share the cores) and acknowledged before any report leaves
(target: >= 50% of the single-node ``fsync`` run).

Each client process logs in, then sends NEW_ORDER messages for ``duration``
seconds, either open-loop at a target rate (a frame is due every ``batch / rate`` seconds
whatever the replies) or flat out (as fast as it can with at most :data:`WINDOW` orders
unacknowledged), one order per frame or ``batch`` orders per frame, and reads its reports
as they come. Orders are generated before timing: random sides, prices within 20 fen of the
reference, 1-10 t, half GTC and half IOC, so that about half the orders trade.

Measured, over the window after a 10% warm-up:

- ``orders_per_s``: ACK and REJECT reports received per second, all clients together;
- ``latency_ns``: submit -> ACK round trip (client clock, both ends), p50 / p99 / p99.9.

In the same run, with the same client code, CURVE keys and loopback:

- ``bare_msgs_per_s``: a bare pyzmq DEALER -> ROUTER loop (the ROUTER only counts the
  64-byte frames it receives with ``recv_multipart``), N flat-out clients;
- ``bare_echo_latency_ns``: a bare ROUTER that sends every frame straight back, driven at
  the latency scenario's rate.

The latency scenario and the echo take turns :data:`LATENCY_ROUNDS` times (gateway, echo,
gateway, echo, ...), each at least :data:`LATENCY_MIN_S` seconds, and each side's
percentiles are over all its rounds' samples. On two shared cores a process is now and then
descheduled for a few milliseconds, and a handful of such stalls moves one short run's p99 by
half; alternating spreads them over both sides alike. Each round's pair of p99s is kept
(``rounds``).

The ratios against the three targets of the issue come from these. Client processes run at
niceness :data:`NICE` (``CHUANYU_BENCH_CLIENT_NICE``, default 5) in every run, bare loops
included, so that on a small machine the load generators yield to what they measure.
"""
from __future__ import annotations

import json
import multiprocessing as mp
import os
import select
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from bench.daemon import BenchDaemon
from bench.provenance import spread

__all__ = ["run", "table", "market_config", "orders_pool", "RESULT_KEYS", "WINDOW", "SCENARIOS", "DURABILITY_MODES"]

RESULT_KEYS = ("orders_per_s", "latency_ns", "clients", "batch", "durability")
DURABILITY_MODES = ("none", "interval", "fsync")      # the journal policies, as in [durability] mode
REPLICATED = "jetstream"                              # a row's "durability" when it ran replicated
WINDOW = 4096                       # orders in flight per client, flat out
NICE = int(os.environ.get("CHUANYU_BENCH_CLIENT_NICE", "5"))   # clients run at this niceness
SCENARIOS = (                       # (name, orders per frame, total target rate or None = flat out)
    ("one order per frame, flat out", 1, None),
    ("batched frames, flat out", 1024, None),
    ("one order per frame at 20,000/s", 1, 20_000),
)
_LATENCY_SAMPLES = 200_000
LATENCY_ROUNDS = 3                  # paced gateway and echo runs, alternating
LATENCY_MIN_S = 2.0                 # each of them at least this long (--quick runs 1 s)


# ------------------------------------------------------------------ the market
def market_config(clients: int, durability: str = "none", nats_urls: list | None = None) -> str:
    """The benchmark market; with ``nats_urls`` a replicated one (``durability`` is then moot)."""
    lines = ["[market]", "max_accounts = 10000", "[market.fees]", "continuous = [5, 5]",
             '[[instruments]]', 'symbol = "SCEA"', 'region = "SC"', "reference_price = 5000",
             "max_order_qty = 1000000",
             '[[instruments]]', 'symbol = "CQEA"', 'region = "CQ"', "reference_price = 5000",
             "max_order_qty = 1000000"]
    for i in range(clients):
        for k, region in ((0, "SC"), (1, "CQ")):
            lines += ["[[members]]", f"id = {100 + 2 * i + k}", f'name = "bench {i} {region}"', f'region = "{region}"']
            lines += ["[[accounts]]", f"id = {2 * i + k + 1}", f"member = {100 + 2 * i + k}", 'sector = "INVESTOR"',
                      "cash = 10_000_000_000_000_000", "holdings = { SCEA = 1_000_000_000, CQEA = 1_000_000_000 }"]
        lines += ["[[sessions]]", f"id = {i + 1}", f'name = "bench-{i}"', f"members = [{100 + 2 * i}, {101 + 2 * i}]",
                  f'key = "bench-{i}"']
    lines += ["[security]", "generate_missing_keys = true", "[network]", "order_port = 0", "admin_port = 0", "feed_port = 0", "snapshot_port = 0",
              "feeds = false",     # the order path alone; market data costs are measured on their own
              "[daemon]", "heartbeat_ms = 5000", "batch_max = 16384", "queue_frames = 100000",
              "snapshot_on_shutdown = false", "[durability]",
              f'mode = "{durability if durability in DURABILITY_MODES else "none"}"',
              "snapshot_every_commands = 0", "snapshot_every_s = 0"]   # the journal's cost alone
    if nats_urls:
        lines += ["[replication]", 'mode = "jetstream"', f"servers = {json.dumps(list(nats_urls))}",
                  'stream = "BENCH"']
    return "\n".join(lines) + "\n"


# ------------------------------------------------------------------ one client process
def orders_pool(n: int, accounts: tuple, seed: int) -> np.ndarray:
    from gateway.protocol import ORDER_DTYPE, MsgType
    rng = np.random.default_rng(seed)
    msgs = np.zeros(n, dtype=ORDER_DTYPE)
    msgs["msg_type"] = MsgType.NEW_ORDER
    pick = rng.integers(0, 2, n)
    msgs["instrument"] = pick
    msgs["account"] = np.asarray(accounts)[pick]
    msgs["side"] = rng.integers(1, 3, n)
    msgs["order_type"] = 1
    msgs["tif"] = np.where(rng.random(n) < 0.5, 1, 3)
    msgs["price"] = 5000 + rng.integers(-20, 21, n)
    msgs["qty"] = rng.integers(1, 11, n)
    return msgs


def _client(conf: dict, results) -> None:
    """One load-generating process; puts its measurements on ``results``."""
    import zmq

    if conf.get("nice"):
        os.nice(conf["nice"])             # the load generator yields to the daemon it shares cores with
    from gateway.protocol import INBOUND_SIZE, LOGIN_ACK_DTYPE, PROTOCOL_VERSION, REPORT_DTYPE, MsgType, encode
    ctx = zmq.Context()
    sock = ctx.socket(zmq.DEALER)
    sock.linger = 0
    sock.sndhwm = sock.rcvhwm = 0
    if conf["server_key"]:                    # CURVE, as the daemon requires; the bare loop may go without
        sock.curve_serverkey = conf["server_key"].encode()
        sock.curve_publickey, sock.curve_secretkey = conf["public"], conf["secret"]
    sock.connect(conf["endpoint"])
    mode, batch = conf["mode"], conf["batch"]
    coid0 = 1
    if mode == "gateway":
        sock.send(encode(MsgType.LOGIN, version=PROTOCOL_VERSION, session=conf["session"], heartbeat_ms=60_000))
        if not sock.poll(10_000):
            results.put({"error": "no LOGIN_ACK"})
            return
        ack = np.frombuffer(sock.recv(), dtype=LOGIN_ACK_DTYPE)[0]
        coid0 = int(ack["last_client_order_id"]) + 1
    else:
        sock.send(b"")                       # make the connection before timing
        if mode == "echo" and sock.poll(10_000):
            sock.recv()
    pool = orders_pool(1 << 16, conf["accounts"], conf["seed"])
    rate = conf["rate"]                      # orders/s for this client, or None
    interval = batch / rate * 1e9 if rate else 0
    n_frames_max = int((rate * conf["duration"] / batch) + 10) if rate else 50_000_000 // batch
    send_t = np.zeros(min(n_frames_max, 20_000_000), dtype=np.int64)
    lat_frames, lat_values, recv_times = [], [], []
    fd = sock.getsockopt(zmq.FD)
    now = time.time_ns
    clock = time.perf_counter_ns
    while now() < conf["start_at"]:
        time.sleep(0.001)
    t0 = clock()
    end = t0 + int(conf["duration"] * 1e9)
    warm = t0 + int(conf["duration"] * 0.1e9)
    sent = acked = 0
    next_due = t0
    chunk = None
    chunk_pos = 0
    counts = mode != "count"

    def take_frame(k: int) -> bytes:
        nonlocal chunk, chunk_pos
        if batch > 1:
            start = (k * batch) % len(pool)
            msgs = pool.take(np.arange(start, start + batch), mode="wrap")
            msgs["client_order_id"] = np.arange(coid0 + k * batch, coid0 + (k + 1) * batch)
            return msgs.tobytes()
        if chunk is None or chunk_pos >= len(pool):
            msgs = pool.copy()
            msgs["client_order_id"] = np.arange(coid0 + k, coid0 + k + len(pool))
            chunk, chunk_pos = msgs.tobytes(), 0
        frame = chunk[chunk_pos * INBOUND_SIZE:(chunk_pos + 1) * INBOUND_SIZE]
        chunk_pos += 1
        return frame

    # Paced, the client keeps each reply with its arrival time and reads them after the run:
    # parsing with numpy as they come costs some 10 us a frame, which on two shared cores
    # the daemon (or the echo) being measured would pay for in latency.
    defer = bool(rate)
    kept_frames, kept_times = [], []
    acked_types = bytes([MsgType.ACK, MsgType.REJECT]) if mode == "gateway" else b""
    row_size = REPORT_DTYPE.itemsize

    def receive_all() -> None:
        nonlocal acked
        while sock.getsockopt(zmq.EVENTS) & zmq.POLLIN:
            frame = sock.recv()
            t = clock()
            if defer:
                kept_frames.append(frame)
                kept_times.append(t)
                if mode == "gateway":                 # a row's msg_type is its first byte
                    types = frame[::row_size]
                    acked += types.count(acked_types[0]) + types.count(acked_types[1])
                else:
                    acked += len(frame) // INBOUND_SIZE
                continue
            if mode == "gateway":
                rows = np.frombuffer(frame, dtype=REPORT_DTYPE)
                mt = rows["msg_type"]
                coids = rows["client_order_id"][(mt == MsgType.ACK) | (mt == MsgType.REJECT)]
            else:
                if len(frame) % INBOUND_SIZE:
                    continue
                coids = np.frombuffer(frame, dtype="<i8").reshape(-1, INBOUND_SIZE // 8)[:, 2]
            if not len(coids):
                continue
            frames_of = (coids - coid0) // batch
            acked += len(coids)
            recv_times.append((t, len(coids)))
            lat_frames.append(frames_of)
            lat_values.append(np.full(len(coids), t, dtype=np.int64))

    while True:
        t = clock()
        if t >= end:
            break
        if rate:
            if t >= next_due and sent < len(send_t):
                sock.send(take_frame(sent), copy=True)
                send_t[sent] = clock()
                sent += 1
                next_due += interval
                continue
            wait = max(0.0, (next_due - clock()) / 1e9)
        else:
            room = not counts or sent * batch - acked < WINDOW + batch
            if room:
                sock.send(take_frame(sent), copy=True)
                send_t[sent] = clock()
                sent += 1
                if not counts or sent % 16:       # read replies every 16 frames
                    continue
            wait = 0.001
        if counts:
            receive_all()
            if sock.getsockopt(zmq.EVENTS) & zmq.POLLIN:
                continue
            if not rate and room:             # flat out: block only when the window is full
                continue
            select.select([fd], [], [], wait)
    # collect the stragglers
    deadline = clock() + 2_000_000_000
    while counts and acked < sent * batch and clock() < deadline:
        receive_all()
        select.select([fd], [], [], 0.01)
    out = {"sent": sent * batch, "acked": acked, "t0": t0, "end": end, "warm": warm}
    if kept_frames:
        lat_frames, lat_values = _replies(kept_frames, kept_times, mode, coid0, batch)
    if counts and lat_frames:
        frames_of = np.concatenate(lat_frames)
        recv_t = np.concatenate(lat_values)
        ok = (frames_of >= 0) & (frames_of < sent)
        frames_of, recv_t = frames_of[ok], recv_t[ok]
        sent_at = send_t[frames_of]
        in_window = (sent_at >= warm) & (sent_at < end)
        lat = recv_t[in_window] - sent_at[in_window]
        if len(lat) > _LATENCY_SAMPLES:
            lat = np.random.default_rng(0).choice(lat, _LATENCY_SAMPLES, replace=False)
        out["latency"] = lat.tolist()
        counted = (recv_t >= warm) & (recv_t < end)
        out["acked_in_window"] = int(counted.sum())
    else:
        out["latency"] = []
        out["acked_in_window"] = 0
    sock.close(linger=0)
    ctx.term()
    results.put(out)


def _replies(frames: list, times: list, mode: str, coid0: int, batch: int) -> tuple[list, list]:
    """The kept replies of a paced run as ([frame number of each acknowledged order], [its arrival time])."""
    from gateway.protocol import INBOUND_SIZE, REPORT_DTYPE, MsgType
    size = REPORT_DTYPE.itemsize if mode == "gateway" else INBOUND_SIZE
    whole = [(f, t) for f, t in zip(frames, times) if len(f) and len(f) % size == 0]
    data = b"".join(f for f, _ in whole)
    t = np.repeat(np.asarray([t for _, t in whole], dtype=np.int64), [len(f) // size for f, _ in whole])
    if mode == "gateway":
        rows = np.frombuffer(data, dtype=REPORT_DTYPE)
        acks = (rows["msg_type"] == MsgType.ACK) | (rows["msg_type"] == MsgType.REJECT)
        coids, t = rows["client_order_id"][acks], t[acks]
    else:
        coids = np.frombuffer(data, dtype="<i8").reshape(-1, INBOUND_SIZE // 8)[:, 2]
    return [(coids - coid0) // batch], [t]


# ------------------------------------------------------------------ bare pyzmq loops
def _bare_server(conf: dict, ready, results) -> None:
    import zmq
    ctx = zmq.Context()
    sock = ctx.socket(zmq.ROUTER)
    sock.linger = 0
    sock.rcvhwm = sock.sndhwm = 0
    if conf["curve"]:
        sock.curve_server = True
        sock.curve_secretkey = conf["secret"]
        sock.curve_publickey = conf["public"]
    port = sock.bind_to_random_port("tcp://127.0.0.1")
    ready.put(port)
    echo = conf["echo"]
    count = 0
    counted = 0
    warm = conf["start_at"] + int(conf["duration"] * 0.1e9)
    end = conf["start_at"] + int(conf["duration"] * 1e9)
    hard_stop = end + 3_000_000_000
    now = time.time_ns
    while now() < hard_stop:
        if not sock.poll(100):
            continue
        while True:
            try:
                parts = sock.recv_multipart(zmq.NOBLOCK)
            except zmq.Again:
                break
            if echo:
                sock.send_multipart(parts)
            else:
                count += 1
                if count % 1024 == 0:
                    t = now()
                    if warm <= t < end:
                        counted += 1024
    results.put({"counted": counted, "seconds": (end - warm) / 1e9})
    sock.close(linger=0)
    ctx.term()


# ------------------------------------------------------------------ running
def _percentiles(lat: np.ndarray) -> dict:
    if not len(lat):
        return {"p50": None, "p99": None, "p999": None}
    p = np.percentile(lat, [50, 99, 99.9])
    return {"p50": int(p[0]), "p99": int(p[1]), "p999": int(p[2])}


def _encoded_histogram(lat: np.ndarray) -> str | None:
    """``lat`` (ns) as HdrHistogram's compressed encoding, for the JSON and the files beside it."""
    from bench.histograms import histogram
    return histogram(lat).encode().decode("ascii") if len(lat) else None


def _run_clients(mp_ctx, keys: Path, clients: int, duration: float, conf_of) -> list:
    """Start ``clients`` load processes (``conf_of(i, public, secret)``: each one's conf); their results."""
    import zmq.auth
    results = mp_ctx.Queue()
    procs = []
    for i in range(clients):
        public, secret = zmq.auth.load_certificate(str(keys / f"bench-{i}.key_secret"))
        p = mp_ctx.Process(target=_client, args=(conf_of(i, public, secret), results), daemon=True)
        p.start()
        procs.append(p)
    out = [results.get(timeout=duration + 120) for _ in procs]
    for p in procs:
        p.join(10)
    errors = [o["error"] for o in out if "error" in o]
    if errors:
        raise RuntimeError(f"client failed: {errors[0]}")
    return out


def _drive(mp_ctx, endpoint: str, server_key: str, keys: Path, clients: int, batch: int, rate, duration: float,
           mode: str) -> list:
    start_at = time.time_ns() + int(1.5e9) + clients * int(0.3e9)       # after every process is up
    return _run_clients(mp_ctx, keys, clients, duration, lambda i, public, secret: dict(
        endpoint=endpoint, server_key=server_key, public=public, secret=secret, session=i + 1,
        accounts=(2 * i + 1, 2 * i + 2), batch=batch, rate=rate / clients if rate else None,
        duration=duration, start_at=start_at, seed=1000 + i, mode=mode, nice=NICE))


def _gateway_run(mp_ctx, workdir: Path, clients: int, batch: int, rate, duration: float, log,
                 durability: str = "none", samples: list | None = None) -> dict:
    """One measurement on a fresh daemon; ``samples``: a list that receives its latencies (ns)."""
    cluster = None
    if durability == REPLICATED:
        from exchange.nats_cluster import NatsCluster
        cluster = NatsCluster(workdir / f"nats-{time.monotonic_ns()}", 3).start()
    try:
        d = BenchDaemon(market_config(clients, durability, cluster and cluster.urls), workdir,
                        node="bench" if cluster else None)
    except BaseException:
        if cluster is not None:
            cluster.stop()
        raise
    journal = None
    try:
        out = _drive(mp_ctx, d.info["orders"], d.info["server_public_key"], Path(d.info["keys_dir"]), clients,
                     batch, rate, duration, "gateway")
        journal = _journal_status(d)
    finally:
        d.stop()
        if cluster is not None:
            cluster.stop()
    window = duration * 0.9
    lat = np.concatenate([np.asarray(o["latency"], dtype=np.int64) for o in out])
    if samples is not None:
        samples.append(lat)
    res = {
        "orders_per_s": sum(o["acked_in_window"] for o in out) / window,
        "latency_ns": _percentiles(lat),
        "latency_histogram": _encoded_histogram(lat),
        "clients": clients,
        "batch": batch,
        "durability": durability,
        "target_rate": rate,
        "sent": sum(o["sent"] for o in out),
        "acked": sum(o["acked"] for o in out),
        "duration_s": duration,
        "journal": journal,
    }
    log(f"  gateway: {res['orders_per_s']:,.0f} orders/s, p99 {_us(res['latency_ns']['p99'])}")
    return res


def _journal_status(d: BenchDaemon) -> dict | None:
    """The daemon's journal counters (records, fsyncs, fsync time), from the admin ``status``."""
    from exchange.admin import AdminError
    try:
        status = d.status()
    except AdminError:
        return None
    journal = dict(status["journal"])
    published = status.get("replication", {}).get("published")
    if published:                       # a replicated primary: its publishes, and the wait for each ack
        journal["published"] = published
    return journal


def _bare_run(mp_ctx, keys: Path, clients: int, duration: float, echo: bool, rate, curve: bool,
              samples: list | None = None) -> dict:
    import zmq.auth
    public, secret = zmq.auth.load_certificate(str(keys / "server.key_secret"))
    ready, results = mp_ctx.Queue(), mp_ctx.Queue()
    start_at = time.time_ns() + int(1.5e9) + clients * int(0.3e9)
    conf = dict(curve=curve, public=public, secret=secret, echo=echo, duration=duration, start_at=start_at)
    server = mp_ctx.Process(target=_bare_server, args=(conf, ready, results), daemon=True)
    server.start()
    port = ready.get(timeout=30)
    key = public.decode() if curve else None
    out = _drive_bare(mp_ctx, f"tcp://127.0.0.1:{port}", key, keys, clients, rate, duration, start_at,
                      "echo" if echo else "count", curve)
    server_out = results.get(timeout=duration + 30)
    server.join(10)
    if echo:
        lat = np.concatenate([np.asarray(o["latency"], dtype=np.int64) for o in out])
        if samples is not None:
            samples.append(lat)
        return {"latency_ns": _percentiles(lat), "latency_histogram": _encoded_histogram(lat),
                "msgs_per_s": sum(o["acked_in_window"] for o in out) / (duration * 0.9)}
    return {"msgs_per_s": server_out["counted"] / server_out["seconds"]}


def _latency_rounds(mp_ctx, workdir: Path, clients: int, batch: int, rate: float, duration: float, log,
                    rounds: int) -> tuple[dict, dict]:
    """The paced gateway scenario and the bare echo at the same rate, alternately ``rounds``
    times; (the gateway's result, the echo's), percentiles over all rounds' samples."""
    gateway_lat, echo_lat, pairs, results = [], [], [], []
    duration = max(duration, LATENCY_MIN_S)
    for k in range(rounds):
        res = _gateway_run(mp_ctx, workdir, clients, batch, rate, duration, log, "none", gateway_lat)
        keys = Path(next(workdir.glob("daemon-*/state/keys")))
        log(f"  bare pyzmq echo (CURVE) at {rate:,.0f} msgs/s, round {k + 1} of {rounds}")
        echo = _bare_run(mp_ctx, keys, clients, duration, echo=True, rate=rate, curve=True, samples=echo_lat)
        pairs.append({"gateway_p99": res["latency_ns"]["p99"], "echo_p99": echo["latency_ns"]["p99"]})
        results.append(res)
    res = dict(results[0])
    for key in ("sent", "acked"):
        res[key] = sum(r[key] for r in results)
    res["orders_per_s"] = sum(r["orders_per_s"] for r in results) / rounds
    res["latency_ns"] = _percentiles(np.concatenate(gateway_lat))
    res["latency_histogram"] = _encoded_histogram(np.concatenate(gateway_lat))
    res["rounds"] = pairs
    res["spread"] = {"gateway_p99": spread([p["gateway_p99"] for p in pairs]),
                     "echo_p99": spread([p["echo_p99"] for p in pairs])}
    echo = {"latency_ns": _percentiles(np.concatenate(echo_lat)),
            "latency_histogram": _encoded_histogram(np.concatenate(echo_lat))}
    log(f"  over {rounds} rounds: gateway p99 {_us(res['latency_ns']['p99'])}, "
        f"echo p99 {_us(echo['latency_ns']['p99'])}")
    return res, echo


def _drive_bare(mp_ctx, endpoint, server_key, keys, clients, rate, duration, start_at, mode, curve) -> list:
    return _run_clients(mp_ctx, keys, clients, duration, lambda i, public, secret: dict(
        endpoint=endpoint, server_key=server_key if curve else None, public=public, secret=secret,
        session=0, accounts=(1, 2), batch=1, rate=rate / clients if rate else None,
        duration=duration, start_at=start_at, seed=2000 + i, mode=mode, nice=NICE))


def _us(ns) -> str:
    return "-" if ns is None else f"{ns / 1000:,.1f} µs"


def run(clients: int = 2, batch: int | None = None, rate: float | None = None, duration: float = 3.0,
        log=print, durability=DURABILITY_MODES, baselines: bool = True, rounds: int = LATENCY_ROUNDS,
        replication: str | None = None) -> dict:
    """Run the gateway benchmark; return the results as a JSON-ready dict.

    With ``batch`` or ``rate`` given, one gateway scenario; else the three of
    :data:`SCENARIOS`. The batched flat-out scenario (or the one given) runs once per
    journal ``durability`` mode (``none`` first); the others under ``none``. Every result row
    carries its ``durability``. ``baselines``: also measure the bare pyzmq loops (the
    ratios of the first and third targets need them); then a paced scenario and the echo
    alternate ``rounds`` times. ``replication="jetstream"``: the batched scenario once more on a
    replicated primary (see the module).
    """
    from bench.engine_bench import machine_info
    durability = tuple(dict.fromkeys(durability))
    bad = [m for m in durability if m not in DURABILITY_MODES]
    if bad or not durability:
        raise ValueError(f"durability modes are {', '.join(DURABILITY_MODES)}, not {bad or 'none at all'}")
    if rounds < 1:
        raise ValueError(f"rounds must be at least 1, not {rounds}")
    if replication not in (None, "none", REPLICATED):
        raise ValueError(f'replication is "none" or "{REPLICATED}", not {replication!r}')
    if replication == REPLICATED:
        durability += (REPLICATED,)
    mp_ctx = mp.get_context("spawn")
    workdir = Path(tempfile.mkdtemp(prefix="chuanyu-gwbench-"))
    try:
        custom = batch is not None or rate is not None
        scenarios = [("custom", batch or 1, rate)] if custom else list(SCENARIOS)
        runs = []
        echo = None
        for name, b, r in scenarios:
            modes = durability if custom or (b > 1 and not r) else ("none",)
            for mode in sorted(modes, key=(*DURABILITY_MODES, REPLICATED).index):
                log(f"{name}: {clients} clients, {b} per frame, {'flat out' if not r else f'{r:,.0f} orders/s'}, "
                    f"durability {mode}")
                if r and mode == "none" and baselines and echo is None:
                    res, echo = _latency_rounds(mp_ctx, workdir, clients, b, r, duration, log, rounds)
                else:
                    res = _gateway_run(mp_ctx, workdir, clients, b, r, duration, log, mode)
                res["scenario"] = name if mode == "none" else f"{name}, replicated (NATS JetStream, 3 servers)" \
                    if mode == REPLICATED else f"{name}, durability {mode}"
                runs.append(res)
        if not baselines:
            result = dict(runs[0])
            result.update(runs=runs, baseline=None, targets=_targets(runs, None), machine=machine_info())
            return result
        keys = Path(next(workdir.glob("daemon-*/state/keys")))
        log("bare pyzmq DEALER -> ROUTER (CURVE), flat out")
        bare_curve = _bare_run(mp_ctx, keys, clients, duration, echo=False, rate=None, curve=True)
        log("bare pyzmq DEALER -> ROUTER (plain TCP), flat out")
        bare_plain = _bare_run(mp_ctx, keys, clients, duration, echo=False, rate=None, curve=False)
        if echo is None:
            echo_rate = 20_000
            log(f"bare pyzmq echo (CURVE) at {echo_rate:,.0f} msgs/s")
            echo = _bare_run(mp_ctx, keys, clients, duration, echo=True, rate=echo_rate, curve=True)
        else:
            echo_rate = next(r["target_rate"] for r in runs if r.get("rounds"))
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    baseline = {"bare_msgs_per_s": bare_curve["msgs_per_s"], "bare_plain_msgs_per_s": bare_plain["msgs_per_s"],
                "bare_echo_latency_ns": echo["latency_ns"], "bare_echo_rate": echo_rate,
                "bare_echo_latency_histogram": echo["latency_histogram"]}
    result = dict(runs[0])
    result.update(runs=runs, baseline=baseline, targets=_targets(runs, baseline), machine=machine_info())
    return result


def _targets(runs: list, baseline: dict | None) -> list:
    out = []
    runs_none = [r for r in runs if r.get("durability", "none") == "none"]
    single = next((r for r in runs_none if r["batch"] == 1 and not r["target_rate"]), None)
    if single and baseline:
        ratio = single["orders_per_s"] / baseline["bare_msgs_per_s"]
        out.append({"target": "one order per frame >= 70% of bare DEALER->ROUTER msgs/s (CURVE)",
                    "value": ratio, "goal": 0.70, "met": ratio >= 0.70})
        ratio_plain = single["orders_per_s"] / baseline["bare_plain_msgs_per_s"]
        out.append({"target": "  same against bare plain-TCP msgs/s (for reference)", "value": ratio_plain,
                    "goal": 0.70, "met": ratio_plain >= 0.70})
    batched = next((r for r in runs_none if r["batch"] > 1 and not r["target_rate"]), None)
    if batched:
        out.append({"target": "batched frames >= 1,000,000 orders/s", "value": batched["orders_per_s"],
                    "goal": 1_000_000, "met": batched["orders_per_s"] >= 1_000_000})
        fsync = next((r for r in runs if r.get("durability") == "fsync" and r["batch"] == batched["batch"]
                      and r["target_rate"] == batched["target_rate"]), None)
        if fsync and batched["orders_per_s"]:
            ratio = fsync["orders_per_s"] / batched["orders_per_s"]
            out.append({"target": "durability fsync keeps >= 50% of none throughput (batched frames)",
                        "value": ratio, "goal": 0.5, "met": ratio >= 0.5})
    replicated = next((r for r in runs if r.get("durability") == REPLICATED), None)
    if replicated:               # against the single-node fsync run of the same scenario, else the none run
        alike = [r for r in runs if r["batch"] == replicated["batch"] and r["target_rate"] == replicated["target_rate"]]
        single = next((r for r in alike if r.get("durability") == "fsync"), None) or \
            next((r for r in alike if r.get("durability", "none") == "none"), None)
        if single and single["orders_per_s"]:
            ratio = replicated["orders_per_s"] / single["orders_per_s"]
            out.append({"target": f"replicated keeps >= 50% of single-node {single.get('durability', 'none')} "
                                  "throughput (batched frames)", "value": ratio, "goal": 0.5, "met": ratio >= 0.5})
    paced = next((r for r in runs_none if r["target_rate"]), None)
    echo_p99 = baseline["bare_echo_latency_ns"]["p99"] if baseline else None
    if paced and echo_p99 and paced["latency_ns"]["p99"]:
        ratio = paced["latency_ns"]["p99"] / echo_p99
        out.append({"target": f"p99 at {paced['target_rate']:,.0f}/s <= 1.5x bare echo p99", "value": ratio,
                    "goal": 1.5, "met": ratio <= 1.5})
    return out


def table(results: dict) -> str:
    """The results as a plain-text table."""
    rows = [("scenario", "clients", "per frame", "journal", "orders/s", "p50", "p99", "p99.9", "fsyncs")]
    for r in results["runs"]:
        lat = r["latency_ns"]
        j = r.get("journal") or {}
        fsyncs = f"{j['fsyncs']:,} x {j['fsync_mean_us']:,.0f} µs" if j.get("fsyncs") else \
            f"{j['published']['batches']:,} acks x {j['published']['publish_mean_us']:,.0f} µs" \
            if j.get("published", {}).get("batches") else "-"
        rows.append((r["scenario"], str(r["clients"]), str(r["batch"]), r.get("durability", "none"),
                     f"{r['orders_per_s']:,.0f}", _us(lat["p50"]), _us(lat["p99"]), _us(lat["p999"]), fsyncs))
    b = results["baseline"]
    if b:
        e = b["bare_echo_latency_ns"]
        rows.append(("bare DEALER->ROUTER, CURVE", str(results["clients"]), "1", "-", f"{b['bare_msgs_per_s']:,.0f}",
                     "-", "-", "-", "-"))
        rows.append(("bare DEALER->ROUTER, plain", str(results["clients"]), "1", "-",
                     f"{b['bare_plain_msgs_per_s']:,.0f}", "-", "-", "-", "-"))
        rows.append((f"bare echo at {b['bare_echo_rate']:,.0f}/s, CURVE", str(results["clients"]), "1", "-", "-",
                     _us(e["p50"]), _us(e["p99"]), _us(e["p999"]), "-"))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths)))
             for row in rows]
    lines.insert(1, "-" * len(lines[0]))
    for r in results["runs"]:
        if r.get("rounds"):
            lines.append(f"{r['scenario']} and the echo, p99 of each round: " + ", ".join(
                f"{_us(p['gateway_p99'])} / {_us(p['echo_p99'])}" for p in r["rounds"]))
    lines.append("")
    for t in results["targets"]:
        value = f"{t['value']:.2f}" if t["value"] < 100 else f"{t['value']:,.0f}"
        lines.append(f"{'met   ' if t['met'] else 'missed'}  {t['target']}: {value} (goal {t['goal']:,})")
    m = results["machine"]
    lines.append(f"{m['cpu']}, {m['usable_cores']} of {m['cores']} cores; Python {m['python']}; "
                 f"journal durability per row (fsyncs: count x mean; replicated: publishes x mean wait for the "
                 f"stream's ack); loopback")
    return "\n".join(lines)


if __name__ == "__main__":
    print(table(run(duration=float(sys.argv[1]) if len(sys.argv) > 1 else 3.0)))
