"""zmqio.publish on a real PUB/SUB pair on loopback: both twins (C and pyzmq, through
``open_publisher``) put the same frames on the wire."""
import numpy as np
import pytest
import zmq

from zmqio import libzmq
from zmqio.publish import Publisher, PyzmqPublisher, open_publisher
from zmqio_twins import FUNCTIONS, NO_LIBZMQ, ctx, use_c  # noqa: F401  (fixtures)

# packed, so a row is not a multiple of 8 bytes: rows are sent by the array's own item size
ROW = np.dtype([("seq", "<i8"), ("price", "<i8"), ("side", "u1")])
PROBE = b"probe"          # sent until the subscription is live: a PUB drops what no subscriber takes


def _rows(n: int) -> np.ndarray:
    rows = np.zeros(n, dtype=ROW)
    rows["seq"] = np.arange(1, n + 1)
    rows["price"] = 5000 + 5 * np.arange(n)
    rows["side"] = np.arange(n) % 2 + 1
    return rows


def _pub_sub(ctx):
    pub = ctx.socket(zmq.PUB)
    port = pub.bind_to_random_port("tcp://127.0.0.1")
    sub = ctx.socket(zmq.SUB)
    sub.subscribe(b"")
    sub.connect(f"tcp://127.0.0.1:{port}")
    for _ in range(500):                  # ~5 s at most: the subscription travels to the PUB
        pub.send_multipart([PROBE, b""])
        if sub.poll(10):
            break
    else:
        pytest.fail("the subscription never reached the publisher")
    return pub, sub


def _received(sub, n: int) -> list[list[bytes]]:
    """The next ``n`` messages other than probes, each waited for at most 5 s."""
    got = []
    while len(got) < n:
        assert sub.poll(5000), f"{len(got)} of {n} messages came"
        message = sub.recv_multipart()
        if message[0] != PROBE:
            got.append(message)
    return got


@pytest.fixture
def publisher(ctx, use_c):
    pub, sub = _pub_sub(ctx)
    return open_publisher(pub, use_c=use_c), sub


def test_each_group_is_one_message_of_its_topic_and_its_rows(publisher):
    out, sub = publisher
    rows = _rows(6)
    topics = [b"SCEA2026", b"CQEA2026", b"H"]
    groups = [(0, 0, 2), (1, 2, 2), (0, 2, 5), (2, 5, 6)]
    assert out.send_groups(topics, rows, groups) == 6
    assert _received(sub, 4) == [[b"SCEA2026", rows[0:2].tobytes()], [b"CQEA2026", b""],
                                 [b"SCEA2026", rows[2:5].tobytes()], [b"H", rows[5:6].tobytes()]]


def test_no_groups_send_nothing_and_an_empty_group_an_empty_message(publisher):
    out, sub = publisher
    assert out.send_groups([b"T"], _rows(3), []) == 0
    assert out.send_groups([b"T"], _rows(0), [(0, 0, 0)]) == 0
    assert _received(sub, 1) == [[b"T", b""]]


def test_a_group_outside_the_rows_is_refused_and_the_ones_before_it_are_sent(publisher):
    out, sub = publisher
    rows = _rows(3)
    with pytest.raises(ValueError, match="group 1: rows 2:4 outside the batch"):
        out.send_groups([b"A", b"B"], rows, [(0, 0, 2), (1, 2, 4)])
    with pytest.raises(ValueError, match="outside"):
        out.send_groups([b"A"], rows, [(0, 2, 1)])
    assert _received(sub, 1) == [[b"A", rows[:2].tobytes()]]


def test_rows_must_be_one_contiguous_dimension_and_topics_bytes(publisher):
    out, sub = publisher
    rows = _rows(6)
    with pytest.raises(TypeError, match="contiguous one-dimensional"):
        out.send_groups([b"A"], rows[::2], [(0, 0, 1)])
    with pytest.raises(TypeError, match="contiguous one-dimensional"):
        out.send_groups([b"A"], rows.reshape(2, 3), [(0, 0, 1)])
    with pytest.raises(TypeError):
        out.send_groups(["A"], rows, [(0, 0, 1)])
    with pytest.raises(TypeError):
        out.send_groups([None], rows, [(0, 0, 1)])
    out.send_groups([b"after"], rows, [(0, 0, 1)])
    assert _received(sub, 1) == [[b"after", rows[:1].tobytes()]]     # nothing half-sent before


def test_a_publisher_refuses_a_closed_socket(ctx, use_c):
    pub = ctx.socket(zmq.PUB)
    pub.close()
    with pytest.raises(ValueError, match="closed"):
        open_publisher(pub, use_c=use_c)


def test_open_publisher_takes_libzmq_where_found_and_pyzmq_when_told(ctx, monkeypatch):
    pub = ctx.socket(zmq.PUB)
    assert type(open_publisher(pub, use_c=False)) is PyzmqPublisher
    monkeypatch.setenv(libzmq.FORCE_PYZMQ, "1")
    assert type(open_publisher(pub)) is PyzmqPublisher
    with pytest.raises(RuntimeError, match="not found"):
        open_publisher(pub, use_c=True)
    monkeypatch.delenv(libzmq.FORCE_PYZMQ)
    if FUNCTIONS is None:
        pytest.skip(NO_LIBZMQ)
    assert type(open_publisher(pub)) is Publisher


@pytest.mark.skipif(FUNCTIONS is None, reason=NO_LIBZMQ)
def test_both_twins_put_identical_frames_on_the_wire(ctx):
    pub, sub = _pub_sub(ctx)
    rng = np.random.default_rng(7)
    rows = _rows(200)
    rows["price"] = rng.integers(1, 10**9, len(rows))
    cuts = np.sort(rng.integers(0, len(rows), 40))
    groups = [(int(rng.integers(0, 3)), int(a), int(b)) for a, b in zip(cuts[:-1], cuts[1:])]
    topics = [b"SCEA2026", b"CQEA2026", b"CCER2025"]
    wire = []
    for twin in (Publisher, PyzmqPublisher):
        out = open_publisher(pub, use_c=twin is Publisher)
        assert type(out) is twin
        assert out.send_groups(topics, rows, groups) == cuts[-1] - cuts[0]
        wire.append(_received(sub, len(groups)))
    assert wire[0] == wire[1]
    assert b"".join(data for _, data in wire[0]) == rows[cuts[0]:cuts[-1]].tobytes()
