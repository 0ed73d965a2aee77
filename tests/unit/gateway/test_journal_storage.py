"""The journal on a failing disk and the journal mark (issue 13, F5 and F8), on real files.

A full file system is a small tmpfs (needs root: skipped, saying so, elsewhere); a failed
fsync, which a tmpfs never gives, is injected into ``os.fsync``.
"""
import errno
import os

import numpy as np
import pytest

import tmpfs
from chuanyu import cli
from exchange.journal import (
    MARK_NAME, Journal, JournalCorrupt, JournalTailLost, JournalWriteError, check_mark, read_records, segment_name, segments,
)
from exchange.recovery import replay
from matching import COMMAND_DTYPE


def _batch(first: int, n: int) -> np.ndarray:
    b = np.zeros(n, dtype=COMMAND_DTYPE)
    b["seq"] = np.arange(first, first + n)
    b["type"] = 1
    b["qty"] = 7
    return b


@pytest.fixture
def tiny_fs(tmp_path):
    with tmpfs.mounted(tmp_path / "fs", "4m") as where:
        yield where


# ------------------------------------------------------------------ a full disk
@pytest.mark.parametrize("segment_bytes", [1 << 20, 2048])      # one segment; a roll every few records
def test_a_write_on_a_full_disk_leaves_no_partial_record_and_appending_resumes(tiny_fs, segment_bytes):
    j = Journal(tiny_fs, segment_bytes=segment_bytes)
    seq = 1
    for _ in range(5):
        j.append(_batch(seq, 3))
        j.sync()
        seq += 3
    tmpfs.fill(tiny_fs)
    with pytest.raises(JournalWriteError) as err:
        for _ in range(10_000):
            j.append(_batch(seq, 2))
            j.sync()
            seq += 2
    assert err.value.recoverable and err.value.errno == errno.ENOSPC
    assert j.last_seq == seq - 1 and not j.probe()
    assert sum(len(r.rows) for r in read_records(tiny_fs)) == seq - 1      # no torn tail, no half-made segment
    assert check_mark(tiny_fs) is None
    (tiny_fs / "filler").unlink()
    assert j.probe()
    for _ in range(20):
        j.append(_batch(seq, 2))                     # the same seq again, then on
        j.sync()
        seq += 2
    j.close()
    rows = np.concatenate([r.rows for r in read_records(tiny_fs)])
    assert rows["seq"].tolist() == list(range(1, seq))
    with Journal(tiny_fs, segment_bytes=segment_bytes) as again:
        assert again.last_seq == seq - 1 and again.torn is None


def test_a_failed_fsync_cuts_the_unacknowledged_batch_under_fsync(tmp_path, monkeypatch):
    j = Journal(tmp_path)
    j.append(_batch(1, 4))
    j.sync()
    size = segments(tmp_path)[0][1].stat().st_size
    real = os.fsync

    def full(fd):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
    monkeypatch.setattr(os, "fsync", full)
    j.append(_batch(5, 3))
    with pytest.raises(JournalWriteError) as err:
        j.sync()
    assert err.value.recoverable and j.last_seq == 4
    assert segments(tmp_path)[0][1].stat().st_size == size
    monkeypatch.setattr(os, "fsync", real)
    j.append(_batch(5, 3))
    j.sync()
    j.close()
    assert [len(r.rows) for r in read_records(tmp_path)] == [4, 3]


@pytest.mark.parametrize("mode, code", [("fsync", errno.EIO), ("interval", errno.ENOSPC)])
def test_eio_or_a_failed_fsync_of_records_already_let_through_is_not_recoverable(tmp_path, monkeypatch, mode, code):
    j = Journal(tmp_path, durability=mode, interval_ms=0)
    j.append(_batch(1, 2))

    def broken(fd):
        raise OSError(code, os.strerror(code))
    monkeypatch.setattr(os, "fsync", broken)
    with pytest.raises(JournalWriteError) as err:
        j.sync()
    assert not err.value.recoverable and err.value.errno == code
    with pytest.raises(JournalWriteError):              # the page cache cannot be trusted: no more appends
        j.append(_batch(3, 1))
    assert not j.probe()
    j.close()                                           # logs, does not raise


# ------------------------------------------------------------------ the journal mark
def _journal(directory, n_batches=30, segment_bytes=2048) -> int:
    seq = 1
    with Journal(directory, segment_bytes=segment_bytes) as j:
        for _ in range(n_batches):
            j.append(_batch(seq, 3))
            j.sync()
            seq += 3
    return seq - 1


def test_the_mark_names_the_newest_segment_and_a_lost_one_is_refused(tmp_path, caplog):
    last = _journal(tmp_path)
    segs = segments(tmp_path)
    assert len(segs) > 3
    assert (tmp_path / MARK_NAME).read_text().strip() == segs[-1][1].name
    segs[-1][1].unlink()
    for attempt in (lambda: Journal(tmp_path), lambda: replay(tmp_path, new_engine=lambda: None)):
        with pytest.raises(JournalTailLost) as err:
            attempt()
        assert err.value.path == segs[-1][1] and segs[-1][1].name in str(err.value)
        assert segs[-2][1].name in str(err.value)
    assert cli.main(["replay", str(tmp_path)]) == 1
    with caplog.at_level("ERROR", logger="chuanyu.journal"):
        j = Journal(tmp_path, accept_loss=True)
    assert "journal loss accepted" in caplog.text and j.lost is not None and j.last_seq < last
    j.close()
    assert (tmp_path / MARK_NAME).read_text().strip() == segs[-2][1].name
    Journal(tmp_path).close()                            # accepted once: the mark follows the journal


def test_every_segment_lost_is_refused_too(tmp_path):
    _journal(tmp_path)
    for _, path in segments(tmp_path):
        path.unlink()
    with pytest.raises(JournalTailLost, match="no journal segment is left"):
        Journal(tmp_path)
    with Journal(tmp_path, accept_loss=True) as j:
        assert j.last_seq == 0
    assert not (tmp_path / MARK_NAME).exists()


def test_a_crash_around_a_segment_roll_is_not_a_loss(tmp_path):
    last = _journal(tmp_path)
    segs = segments(tmp_path)
    # killed after creating the next segment, before its first record (and before or after the mark)
    empty = tmp_path / segment_name(last + 1)
    empty.touch()
    with Journal(tmp_path) as j:                         # mark older than the newest segment: fine
        assert j.last_seq == last and not empty.exists()
    empty.touch()
    (tmp_path / MARK_NAME).write_text(empty.name + "\n")
    with Journal(tmp_path) as j:                         # the named segment exists, empty: fine
        assert j.last_seq == last and not empty.exists()
    assert (tmp_path / MARK_NAME).read_text().strip() == segs[-1][1].name


def test_a_journal_without_a_mark_gets_one_and_pruning_old_segments_is_no_loss(tmp_path):
    _journal(tmp_path)
    (tmp_path / MARK_NAME).unlink()                      # a state dir from before the mark
    Journal(tmp_path).close()
    segs = segments(tmp_path)
    assert (tmp_path / MARK_NAME).read_text().strip() == segs[-1][1].name
    for _, path in segs[:-1]:                            # what pruning may delete: never the last
        path.unlink()
    assert check_mark(tmp_path) is None


def test_a_damaged_mark_is_named(tmp_path):
    _journal(tmp_path)
    (tmp_path / MARK_NAME).write_text("garbage\n")
    with pytest.raises(JournalCorrupt, match=MARK_NAME):
        Journal(tmp_path)
