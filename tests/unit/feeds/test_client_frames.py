"""How a subscriber checks the frames of a drain against each topic's sequence: a frame that
follows on is taken whole from its bytes, one that overlaps is cut, and a gap, a new epoch or a
heartbeat ahead asks for a snapshot."""
import json

import numpy as np
import pytest

from feeds.client import FeedError, _FeedState
from feeds.messages import FEED_DTYPE, FeedType
from feeds.service import HEARTBEAT

EPOCH = 7


def frame(instrument_seqs, seqs, epoch=EPOCH, instrument=0) -> bytes:
    rows = np.zeros(len(seqs), dtype=FEED_DTYPE)
    rows["epoch"], rows["seq"], rows["instrument_seq"] = epoch, seqs, instrument_seqs
    rows["msg_type"], rows["instrument"] = FeedType.TRADE, instrument
    return rows.tobytes()


@pytest.fixture
def state():
    s = _FeedState("tcp://127.0.0.1:1", "tcp://127.0.0.1:2", None, (b"",), None, 1000)
    s.epoch, s.seq, s.topic_seq = EPOCH, 100, {b"T.A": 10, b"T.B": 3}
    return s


def test_frames_that_follow_on_are_taken_whole_and_merged_in_feed_order(state):
    rows, again = state._accept([(b"T.A", frame([11, 12], [102, 104])), (b"T.B", frame([4], [103], instrument=1)),
                                 (b"T.A", frame([13], [105]))])
    assert not again
    assert rows["seq"].tolist() == [102, 103, 104, 105]
    assert state.topic_seq == {b"T.A": 13, b"T.B": 4}
    assert rows.flags.writeable                     # a copy, not a view of the frames' bytes


def test_a_frame_overlapping_the_snapshot_or_a_frame_before_keeps_only_what_is_new(state):
    state.topic_seq[b"T.B"] = 4                     # the snapshot (seq 100) held T.B's fourth message
    rows, again = state._accept([(b"T.A", frame([9, 10, 11], [95, 99, 101])),     # 9 and 10 seen already
                                 (b"T.B", frame([4, 5], [100, 102], instrument=1))])  # seq 100: in the snapshot
    assert not again
    assert rows["seq"].tolist() == [101, 102]
    assert state.topic_seq == {b"T.A": 11, b"T.B": 5}
    assert state._accept([(b"T.A", frame([10, 11], [99, 101]))]) == (None, False)      # nothing new at all


def test_a_gap_anywhere_asks_for_a_snapshot_and_keeps_nothing(state):
    rows, again = state._accept([(b"T.A", frame([11], [101])), (b"T.B", frame([5], [102], instrument=1))])
    assert (rows, again) == (None, True)
    assert state._accept([(b"T.NEW", frame([2], [103]))]) == (None, True)       # a new topic starts at 1


def test_epochs_an_old_one_is_ignored_a_new_one_asks_for_a_snapshot(state):
    assert state._accept([(b"T.A", frame([1], [1], epoch=EPOCH - 1))]) == (None, False)
    assert state._accept([(b"T.A", frame([1], [1], epoch=EPOCH + 1))]) == (None, True)


def test_a_heartbeat_ahead_of_what_was_applied_asks_for_a_snapshot(state):
    behind = {"epoch": EPOCH, "topics": {"T.A": 12}}
    level = {"epoch": EPOCH, "topics": {"T.A": 10}}
    assert state._accept([(HEARTBEAT, level)]) == (None, False)
    assert state._accept([(HEARTBEAT, behind)]) == (None, True)
    assert state.heartbeats == 2


def test_a_frame_of_broken_messages_is_refused():
    with pytest.raises(FeedError, match="not whole messages"):
        _FeedState._decode(b"T.A", b"x" * (FEED_DTYPE.itemsize + 1))
    assert _FeedState._decode(HEARTBEAT, json.dumps({"epoch": 1}).encode()) == (HEARTBEAT, {"epoch": 1})
