"""The order and the time slices in which clients try several nodes (zmqio.failover), on a
clock the test moves."""
import pytest

from zmqio.failover import SLICE_MS, Rotation, as_list


class Clock:
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


def test_each_node_gets_a_slice_from_the_start_round_and_round_until_the_deadline():
    clock = Clock()
    r = Rotation(["a", "b", "c"], 1, timeout_ms=3500, clock=clock)
    seen = []
    while True:
        seen.append((r.current, r.wait_ms()))
        clock.now += r.wait_ms() / 1000                 # the node did not answer
        if not r.next():
            break
    assert seen == [("b", SLICE_MS), ("c", SLICE_MS), ("a", SLICE_MS), ("b", 500)]
    assert r.current == "b" and r.left_ms() == 0


def test_one_node_gets_all_the_time_and_no_second_turn():
    clock = Clock()
    r = Rotation(["only"], 0, timeout_ms=5000, clock=clock)
    assert r.wait_ms() == 5000
    clock.now += 1
    assert r.wait_ms() == 4000 and not r.next() and r.current == "only"


def test_an_early_answer_leaves_the_rest_of_the_time_to_the_next_turns():
    clock = Clock()
    r = Rotation(["a", "b"], 0, timeout_ms=1500, slice_ms=1000, clock=clock)
    clock.now += 0.2                                    # an answer after 200 ms, then a retry here
    assert r.wait_ms() == 1000 and r.left_ms() == 1300
    clock.now += 1.0
    assert r.next() and r.current == "b" and r.wait_ms() == 300


def test_the_time_left_is_rounded_up_so_a_wait_never_ends_before_the_deadline():
    clock = Clock()
    r = Rotation(["a"], 0, timeout_ms=1000, clock=clock)
    clock.now += 0.9995
    assert r.left_ms() == 1
    clock.now += 0.001
    assert r.left_ms() == 0 and r.wait_ms() == 0


def test_endpoints_are_one_string_or_a_list_or_tuple_of_them():
    assert as_list("tcp://127.0.0.1:7001") == ["tcp://127.0.0.1:7001"]
    given = ["tcp://10.0.0.1:7001", "tcp://10.0.0.2:7001"]
    listed = as_list(given)
    assert listed == given and listed is not given
    assert as_list(tuple(given)) == given
    for bad in ([], "", None, [b"tcp://10.0.0.1:7001"], ["tcp://10.0.0.1:7001", ""], {"tcp://10.0.0.1:7001"}):
        with pytest.raises(ValueError, match="endpoint"):
            as_list(bad)
    with pytest.raises(ValueError):
        Rotation([], 0, 1000)
