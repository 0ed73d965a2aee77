"""The command journal on real files: round trips, durability policies, torn tails, corruption,
offline replay against the live engine, and the ``replay`` / ``journal dump`` commands."""
import logging
import os
import stat

import numpy as np
import pytest

from chuanyu import cli
from exchange.journal import HEADER, Journal, JournalCorrupt, TornTail, read_records, segments
from exchange.recovery import replay
from helpers import MAX_ACCOUNTS, market
from matching import COMMAND_DTYPE, Engine, Region, Sector, Side, commands
from wire import Wire


def _batches(n_batches, rng, first_seq=1, ts=1_000):
    """Sequenced batches of 1..40 plain commands each, every field varied (session included)."""
    seq, out = first_seq, []
    for b in range(n_batches):
        n = int(rng.integers(1, 41))
        batch = np.zeros(n, dtype=COMMAND_DTYPE)
        for name in ("price", "qty", "order_id", "client_order_id", "account", "session"):
            batch[name] = rng.integers(0, 1000, n)
        batch["type"] = rng.integers(1, 5, n)
        batch["seq"] = np.arange(seq, seq + n)
        batch["ts"] = ts + b
        seq += n
        out.append(batch)
    return out


def _write(directory, batches, **options):
    with Journal(directory, **options) as j:
        for batch in batches:
            j.append(batch)
            j.sync()
    return j


def _segment_offsets(directory):
    """(path, offset) of every record, in order."""
    return [(rec.path, rec.offset) for rec in read_records(directory)]


def test_round_trip_across_several_segments(tmp_path):
    batches = _batches(200, np.random.default_rng(1))
    j = _write(tmp_path, batches, segment_bytes=8_192)
    segs = segments(tmp_path)
    assert len(segs) > 5 and j.counters["segments"] == len(segs)
    assert [first for first, _ in segs] == sorted(first for first, _ in segs)
    assert all(p.stat().st_size <= 8_192 for _, p in segs)
    records = list(read_records(tmp_path))
    assert len(records) == 200
    for rec, batch in zip(records, batches):
        assert rec.rows.tobytes() == batch.tobytes()
        assert (rec.header.first_seq, rec.header.count, rec.header.ts) == (int(batch["seq"][0]), len(batch),
                                                                           int(batch["ts"][0]))
    total = sum(len(b) for b in batches)
    assert j.counters["commands"] == total and j.last_seq == total
    assert j.counters["bytes_written"] == sum(p.stat().st_size for _, p in segs)


def test_after_seq_skips_earlier_commands_and_trims_a_straddling_record(tmp_path):
    batches = _batches(10, np.random.default_rng(2))
    _write(tmp_path, batches)
    cut = int(batches[3]["seq"][0]) + len(batches[3]) // 2
    rows = np.concatenate([rec.rows for rec in read_records(tmp_path, after_seq=cut)])
    assert rows["seq"].tolist() == list(range(cut + 1, int(batches[-1]["seq"][-1]) + 1))


def test_reopening_continues_the_journal(tmp_path):
    batches = _batches(20, np.random.default_rng(3))
    _write(tmp_path, batches[:10], segment_bytes=4_096)
    with Journal(tmp_path, segment_bytes=4_096) as j:
        assert j.last_seq == int(batches[9]["seq"][-1])
        with pytest.raises(ValueError, match="does not continue"):
            j.append(batches[11])
        for batch in batches[10:]:
            j.append(batch)
            j.sync()
    assert [r.rows.tobytes() for r in read_records(tmp_path)] == [b.tobytes() for b in batches]


@pytest.fixture
def fsyncs(monkeypatch):
    """Count os.fsync calls on segment files: the policy's fsyncs (those of the directory and
    of the journal mark at segment creation are not counted)."""
    calls = []
    real = os.fsync

    def counting(fd):
        if not stat.S_ISDIR(os.fstat(fd).st_mode) and os.readlink(f"/proc/self/fd/{fd}").endswith(".seg"):
            calls.append(fd)
        real(fd)
    monkeypatch.setattr(os, "fsync", counting)
    return calls


def test_fsync_policy_fsyncs_once_per_sync_call(tmp_path, fsyncs):
    j = Journal(tmp_path, durability="fsync")
    for batch in _batches(5, np.random.default_rng(4)):
        j.append(batch)
        j.append(np.zeros(0, dtype=COMMAND_DTYPE))
        j.sync()
        j.sync()                             # nothing new: no second fsync
    assert len(fsyncs) == 5 and j.counters["fsyncs"] == 5 and j.counters["fsync_ns"] > 0
    j.close()
    assert len(fsyncs) == 5


def test_interval_policy_fsyncs_only_when_the_interval_has_passed(tmp_path, fsyncs):
    now = [0]
    j = Journal(tmp_path, durability="interval", interval_ms=10, clock=lambda: now[0])
    for n, batch in enumerate(_batches(11, np.random.default_rng(5))):
        now[0] = n * 4_000_000              # 4 ms per batch: an fsync every third batch
        j.append(batch)
        j.sync()
    assert len(fsyncs) == 3                  # at 12, 24 and 36 ms
    j.close()                                # the rest is made durable on close
    assert len(fsyncs) == 4


def test_sync_due_ms_tells_an_idle_loop_when_to_fsync_the_last_batch(tmp_path, fsyncs):
    now = [0]
    j = Journal(tmp_path, durability="interval", interval_ms=10, clock=lambda: now[0])
    assert j.sync_due_ms() is None                       # nothing pending
    batch = _batches(1, np.random.default_rng(7))[0]
    now[0] = 3_000_000
    j.append(batch)
    j.sync()                                             # too early: flushed, not fsynced
    assert fsyncs == [] and j.sync_due_ms() == 7
    now[0] = 10_000_000
    assert j.sync_due_ms() == 0
    j.sync()                                             # the idle tick's sync
    assert len(fsyncs) == 1 and j.sync_due_ms() is None
    assert Journal(tmp_path / "f", durability="fsync").sync_due_ms() is None
    j.close()


def test_none_policy_never_fsyncs_but_flushes(tmp_path, fsyncs):
    j = Journal(tmp_path, durability="none", segment_bytes=4_096)
    batches = _batches(30, np.random.default_rng(6))
    for batch in batches:
        j.append(batch)
        j.sync()
    assert len(list(read_records(tmp_path))) == 30      # flushed to the OS before close
    j.close()
    assert fsyncs == [] and j.counters["fsyncs"] == 0


def test_unknown_durability_is_refused(tmp_path):
    with pytest.raises(ValueError, match="durability"):
        Journal(tmp_path, durability="sometimes")


@pytest.mark.parametrize("cut", [5, HEADER.size + 7, -1])
def test_a_torn_tail_is_truncated_and_appending_continues(tmp_path, caplog, cut):
    batches = _batches(12, np.random.default_rng(7))
    _write(tmp_path, batches[:10], segment_bytes=4_096)
    path, offset = _segment_offsets(tmp_path)[-1]
    size = path.stat().st_size
    with open(path, "r+b") as f:
        f.truncate(offset + cut if cut > 0 else size + cut)   # crash mid-write of the last record
    with pytest.raises(TornTail) as torn:
        list(read_records(tmp_path))
    assert torn.value.path == path and torn.value.offset == offset
    with caplog.at_level(logging.WARNING, logger="chuanyu.journal"):
        j = Journal(tmp_path, segment_bytes=4_096)
    assert f"torn tail in {path} at byte offset {offset}" in caplog.text
    assert path.stat().st_size == offset and j.last_seq == int(batches[8]["seq"][-1])
    for batch in batches[9:]:
        j.append(batch)
        j.sync()
    j.close()
    assert [r.rows.tobytes() for r in read_records(tmp_path)] == [b.tobytes() for b in batches]


def test_a_zero_filled_tail_is_torn_too(tmp_path):
    batches = _batches(3, np.random.default_rng(8))
    _write(tmp_path, batches)
    (_, path), = segments(tmp_path)
    size = path.stat().st_size
    with open(path, "ab") as f:
        f.write(bytes(100))                  # the file grew but the data never landed
    with pytest.raises(TornTail) as torn:
        list(read_records(tmp_path))
    assert torn.value.offset == size
    with Journal(tmp_path) as j:
        assert j.last_seq == int(batches[-1]["seq"][-1]) and path.stat().st_size == size


def test_a_flipped_byte_in_a_middle_record_is_corruption_naming_file_and_offset(tmp_path):
    _write(tmp_path, _batches(60, np.random.default_rng(9)), segment_bytes=8_192)
    records = _segment_offsets(tmp_path)
    path, offset = records[len(records) // 2]
    with open(path, "r+b") as f:
        f.seek(offset + HEADER.size + 40)
        byte = f.read(1)
        f.seek(-1, os.SEEK_CUR)
        f.write(bytes([byte[0] ^ 0x10]))
    for attempt in (lambda: list(read_records(tmp_path)), lambda: Journal(tmp_path)):
        with pytest.raises(JournalCorrupt) as err:
            attempt()
        assert err.value.path == path and err.value.offset == offset
        assert str(path) in str(err.value) and f"byte offset {offset}" in str(err.value)
        assert "CRC" in str(err.value)
    assert not isinstance(err.value, TornTail)


def test_a_bad_crc_on_the_last_record_of_an_earlier_segment_is_corruption(tmp_path):
    _write(tmp_path, _batches(60, np.random.default_rng(10)), segment_bytes=8_192)
    first_segment = segments(tmp_path)[0][1]
    with open(first_segment, "r+b") as f:
        f.seek(-1, os.SEEK_END)
        byte = f.read(1)
        f.seek(-1, os.SEEK_END)
        f.write(bytes([byte[0] ^ 1]))
    with pytest.raises(JournalCorrupt) as err:
        Journal(tmp_path)
    assert err.value.path == first_segment and not isinstance(err.value, TornTail)


def test_a_sequence_gap_is_corruption(tmp_path):
    batches = _batches(10, np.random.default_rng(11))
    gap = len(batches[5])
    for batch in batches[5:]:
        batch["seq"] += gap                  # the commands of batch 5 are missing
    _write(tmp_path, batches[:5], segment_bytes=10**6)
    with Journal(tmp_path) as j:             # the writer refuses the gap ...
        with pytest.raises(ValueError):
            j.append(batches[6])
    # ... so plant one by hand: a segment that starts after the missing commands
    j = Journal(tmp_path / "other")
    for batch in batches[6:]:
        j.append(batch)
    j.close()
    (_, moved), = segments(tmp_path / "other")
    moved.rename(tmp_path / moved.name)
    with pytest.raises(JournalCorrupt, match="sequence gap") as err:
        list(read_records(tmp_path))
    assert err.value.path == tmp_path / moved.name and err.value.offset == 0


def test_a_segment_whose_name_disagrees_with_its_first_record_is_corruption(tmp_path):
    _write(tmp_path, _batches(3, np.random.default_rng(12)))
    (_, path), = segments(tmp_path)
    path.rename(tmp_path / "journal-00000000000000000002.seg")
    with pytest.raises(JournalCorrupt, match="file name"):
        list(read_records(tmp_path))


# ------------------------------------------------------------------ replay
def _market_engine():
    return Engine(market(), max_accounts=MAX_ACCOUNTS)


def _random_stream(rng, n_batches):
    """Account set-up, then random orders, cancels and replaces over the test market."""
    setup = []
    for a in range(1, 9):
        setup += [commands.create_account(a, 100 + a, Region.SC, Sector.INVESTOR),
                  commands.deposit(a, 10**12)]
        setup += [commands.credit_holdings(a, i, 10**6) for i in range(3)]
    yield np.concatenate(setup)
    prices = {0: (5000, 1, 1), 1: (3000, 10, 100), 2: (6000, 5, 1)}
    order_id = 0
    for _ in range(n_batches):
        rows = []
        for _ in range(int(rng.integers(1, 30))):
            r = rng.random()
            account = int(rng.integers(1, 9))
            if r < 0.15 and order_id:
                rows.append(commands.cancel(int(rng.integers(1, order_id + 1)), account))
            elif r < 0.25 and order_id:
                rows.append(commands.replace(int(rng.integers(1, order_id + 1)), account,
                                             5000 + int(rng.integers(-30, 31)), int(rng.integers(1, 50))))
            else:
                ins = int(rng.integers(0, 3))
                mid, tick, lot = prices[ins]
                rows.append(commands.new_order(ins, account, int(rng.choice([Side.BUY, Side.SELL])),
                                               lot * int(rng.integers(1, 20)), mid + tick * int(rng.integers(-10, 11)),
                                               client_order_id=int(rng.integers(1, 10**6))))
                order_id += 1
        batch = np.concatenate(rows)
        batch["session"] = rng.integers(1, 4, len(batch))
        yield batch


def _live(tmp_path, n_batches, seed=13, snapshot_at=None, **options):
    """Run a random stream through a live engine, journaling each batch first; the engine."""
    engine, seq = _market_engine(), 1
    rng = np.random.default_rng(seed)
    with Journal(tmp_path, **options) as j:
        for n, batch in enumerate(_random_stream(rng, n_batches)):
            batch["seq"] = np.arange(seq, seq + len(batch))
            batch["ts"] = 10**18 + n
            seq += len(batch)
            j.append(batch)
            j.sync()
            engine.process(batch)
            if n in (snapshot_at or ()):
                (tmp_path / f"snapshot-{seq - 1:012d}.bin").write_bytes(engine.snapshot())
    return engine, seq - 1


def test_replay_reproduces_the_live_state_digest(tmp_path):
    live, last = _live(tmp_path, 150, segment_bytes=16_384)
    assert len(segments(tmp_path)) > 2
    result = replay(tmp_path, new_engine=_market_engine)
    assert result.snapshot is None and result.torn is None
    assert result.last_seq == last and result.commands == last and result.trades > 50
    assert result.engine.state_digest() == live.state_digest()


def test_replay_starts_from_the_newest_snapshot_and_falls_back_past_a_damaged_one(tmp_path, caplog):
    live, last = _live(tmp_path, 120, snapshot_at=(40, 80))
    (older, _), (newest, _) = sorted((int(p.stem.split("-")[1]), p) for p in tmp_path.glob("snapshot-*.bin"))
    result = replay(tmp_path)
    assert result.snapshot.name == f"snapshot-{newest:012d}.bin" and result.commands == last - newest
    assert result.engine.state_digest() == live.state_digest()
    path = tmp_path / f"snapshot-{newest:012d}.bin"
    blob = bytearray(path.read_bytes())
    blob[100] ^= 0xFF
    path.write_bytes(bytes(blob))
    with caplog.at_level(logging.WARNING, logger="chuanyu.replay"):
        result = replay(tmp_path)
    assert "skipping damaged snapshot" in caplog.text and str(path) in caplog.text
    assert result.snapshot.name == f"snapshot-{older:012d}.bin" and result.commands == last - older
    assert result.engine.state_digest() == live.state_digest()


def test_replay_until_matches_a_live_engine_stopped_there(tmp_path):
    _live(tmp_path, 60, snapshot_at=(50,))
    until = 300
    result = replay(tmp_path, until_seq=until, new_engine=_market_engine)
    assert result.snapshot is None and result.last_seq == until          # the snapshot is past --until
    partial = _market_engine()
    rows = np.concatenate([r.rows for r in read_records(tmp_path)])
    partial.process(rows[rows["seq"] <= until])
    assert result.engine.state_digest() == partial.state_digest()


def test_replay_refuses_a_journal_that_does_not_continue_the_snapshot(tmp_path):
    _live(tmp_path, 30, segment_bytes=2_048)
    first = segments(tmp_path)[0][1]
    (tmp_path / "snapshot-000000000000.bin").write_bytes(_market_engine().snapshot())
    first.unlink()                            # pruned too early: the first commands are gone
    with pytest.raises(JournalCorrupt, match="records missing"):
        replay(tmp_path)


# ------------------------------------------------------------------ the command line
def test_replay_and_journal_dump_commands(tmp_path, capsys):
    live, last = _live(tmp_path, 20, snapshot_at=(10,))
    assert cli.main(["replay", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert f"state digest {live.state_digest()}" in out
    assert f"last sequence {last}" in out and "CRC verified" in out

    assert cli.main(["journal", "dump", str(tmp_path), "--limit", "3"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 3 and lines[0].startswith("journal-00000000000000000001.seg@0  seq 1..")

    assert cli.main(["journal", "dump", str(tmp_path), "--after", str(last - 1), "--verbose"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split("  ")[1] == f"seq {last}..{last}" and lines[1].split()[0] == str(last)
    assert "session" in lines[1]


def test_the_commands_name_file_and_offset_of_a_corrupt_record(tmp_path, capsys):
    _live(tmp_path, 20)
    path, offset = _segment_offsets(tmp_path)[5]
    with open(path, "r+b") as f:
        f.seek(offset + HEADER.size)
        f.write(b"\xff")
    for argv in (["replay", str(tmp_path)], ["journal", "dump", str(tmp_path)]):
        assert cli.main(argv) == 1
        err = capsys.readouterr().err
        assert err.startswith("chuanyu: error: ") and f"{path}: byte offset {offset}: CRC mismatch" in err
        assert "Traceback" not in err


def test_a_gateway_batch_journaled_through_the_hook_replays_to_the_same_state(tmp_path):
    import exchange.server as server
    from bench.gateway_bench import market_config, orders_pool
    from exchange.config import parse_config
    from exchange.recovery import engine_for_config

    cfg = parse_config(market_config(2))
    journal = Journal(tmp_path, durability="fsync")
    gw = server.ExchangeNode(cfg, tmp_path, journal=journal)      # its start-up commands are journaled

    try:
        gw.sessions.router = Wire()
        frames, sess = [], []
        for s in gw.sessions[1:]:          # session k trades accounts 2k-1, 2k
            s.logged_in, s.identity, s.heartbeat_ns = True, b"id%d" % s.idx, 10**12
            gw.sessions.by_identity[s.identity] = s.idx
            pool = orders_pool(200, (2 * s.idx - 1, 2 * s.idx), seed=s.idx)
            pool["client_order_id"] = np.arange(1, 201)
            frames += [pool[:100].tobytes(), pool[100:].tobytes()]
            sess += [s.idx, s.idx]
        gw.run_batch(frames, sess, [1_000] * 4)
    finally:
        gw.close()
    journal.close()
    result = replay(tmp_path, new_engine=lambda: engine_for_config(cfg))
    assert result.last_seq == gw.next_seq - 1 and result.trades > 0
    assert set(np.concatenate([r.rows for r in read_records(tmp_path)])["session"].tolist()) == {0, 1, 2}
    assert result.engine.state_digest() == gw.engine.state_digest()


@pytest.mark.parametrize("keep", [1, 2, 3])
def test_pruning_keeps_the_newest_snapshots_and_every_segment_they_need(tmp_path, keep):
    import exchange.server as server
    from bench.gateway_bench import market_config, orders_pool
    from exchange.config import parse_config
    from exchange.recovery import engine_for_config, snapshots

    text = market_config(2).replace("snapshot_every_commands = 0",
                              f"snapshot_every_commands = 0\nkeep_snapshots = {keep}\nsegment_bytes = 8192")
    cfg = parse_config(text)
    gw = server.ExchangeNode(cfg, tmp_path)

    try:
        gw.sessions.router = Wire()
        s = gw.sessions[1]
        s.logged_in, s.identity, s.heartbeat_ns = True, b"id1", 10**12
        gw.sessions.by_identity[s.identity] = s.idx
        for k in range(12):                     # 30 commands a record, ~2 records a segment
            pool = orders_pool(30, (1, 2), seed=k)
            pool["client_order_id"] = np.arange(1 + 30 * k, 31 + 30 * k)
            gw.run_batch([pool.tobytes()], [s.idx], [1_000])
            if k % 3 == 2:
                gw.write_snapshot()
                kept = snapshots(tmp_path)
                assert len(kept) == min(keep, k // 3 + 1)
                assert len(list(tmp_path.glob("gateway-*.npz"))) == len(kept)
                oldest = kept[-1][0]
                segs = segments(tmp_path)
                # the first kept segment starts at or before the oldest kept snapshot's next command...
                assert segs[0][0] <= oldest + 1
                # ...and no segment before it could be dropped: the next one starts after that command
                assert len(segs) == 1 or segs[1][0] > oldest + 1
                first = next(iter(read_records(tmp_path, after_seq=oldest)), None)
                assert first is None or int(first.rows["seq"][0]) == oldest + 1
        digest = gw.engine.state_digest()
    finally:
        gw.close()
    assert segments(tmp_path)[0][0] > 1                  # something was pruned
    for last, path in snapshots(tmp_path)[:-1]:          # every kept snapshot but the oldest, damaged in turn
        path.write_bytes(b"damaged")
        result = replay(tmp_path, new_engine=lambda: engine_for_config(cfg))
        assert result.engine.state_digest() == digest
    with pytest.raises(JournalCorrupt, match="records missing"):   # without any snapshot: refused, not wrong
        snapshots(tmp_path)[-1][1].write_bytes(b"damaged")
        replay(tmp_path, new_engine=lambda: engine_for_config(cfg))


def test_periodic_snapshots_fall_due_by_commands_or_by_time_with_new_commands(tmp_path):
    import exchange.server as server
    from bench.gateway_bench import market_config
    from exchange.config import parse_config

    text = market_config(1).replace("snapshot_every_commands = 0\nsnapshot_every_s = 0",
                              "snapshot_every_commands = 50\nsnapshot_every_s = 30")
    gw = server.ExchangeNode(parse_config(text), tmp_path)
    try:
        start = gw.next_seq - 1                   # the start-up commands count too
        assert gw.snapshots.due() == (start >= 50)
        gw.write_snapshot()
        assert not gw.snapshots.due()             # nothing new
        gw.snapshots.at -= 31
        assert not gw.snapshots.due()             # time passed, but no new command
        gw.sequencer.next_seq += 1
        assert gw.snapshots.due()                 # time passed and a new command
        gw.snapshots.at += 31
        assert not gw.snapshots.due()
        gw.sequencer.next_seq += 49
        assert gw.snapshots.due()                 # 50 commands since the snapshot
    finally:
        gw.close()


@pytest.mark.parametrize("key, value", [("keep_snapshots", -1), ("snapshot_every_commands", -5),
                                        ("snapshot_every_s", 10**9), ("retain_reports", -1),
                                        ("prune_journal", 1)])
def test_bad_snapshot_and_retention_settings_name_their_key(key, value):
    from bench.gateway_bench import market_config
    from exchange.config import ConfigError, parse_config

    text = market_config(1).replace("snapshot_every_commands = 0\nsnapshot_every_s = 0", f"{key} = {value}")
    with pytest.raises(ConfigError, match=f"durability.{key}"):
        parse_config(text)
