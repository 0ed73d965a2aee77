"""Replication's own logic without a NATS server: the configuration, where a node stands in
the stream, the replicated journal's publish-then-write order and chunking, and every way a
publish ends (stored, refused, retried, fenced by a lapsed lease). The real cluster, failover
and fencing across processes are tests/integration/test_ha_failover.py and test_ha_chaos.py."""
import asyncio
import time

import numpy as np
import pytest

from bench.gateway_bench import market_config
from exchange.config import ConfigError, parse_config
from exchange.journal import HEADER, ROW, Journal, decode_record, read_records, JournalCorrupt
from exchange.replication import MSG_HEADER_BYTES, NatsLink, Replica, ReplicatedJournal, StepDown
from exchange.server import ExchangeNode
from gateway.errors import GatewayError
from matching import COMMAND_DTYPE

REPLICATED = market_config(1) + '[replication]\nmode = "jetstream"\nservers = ["nats://127.0.0.1:1"]\n'


def batch(first: int, n: int) -> np.ndarray:
    rows = np.zeros(n, dtype=COMMAND_DTYPE)
    rows["seq"] = np.arange(first, first + n)
    rows["type"] = 1
    rows["qty"] = 10
    return rows


# ---------------------------------------------------------------------- configuration
@pytest.mark.parametrize("text, key", [
    ('mode = "raft"', "replication.mode"),
    ('servers = ["http://x:1"]', "replication.servers"),
    ("servers = []", "replication.servers"),
    ("replicas = 2", "replication.replicas"),
    ("lease_ttl_ms = 100", "replication.lease_ttl_ms"),
    ('stream = "a.b"', "replication.stream"),
    ('tls_cert = "c.pem"', "replication.tls_cert"),
    ('[[replication.nodes]]\nname = "a"\n[[replication.nodes]]\nname = "a"', "replication.nodes[1].name"),
    ('[[replication.nodes]]\nname = "a"\norder_port = 70000', "replication.nodes[0].order_port"),
])
def test_a_bad_replication_setting_names_its_key(text, key):
    head, nodes = (text, "") if not text.startswith("[[") else ("", text)
    with pytest.raises(ConfigError) as err:
        parse_config(market_config(1) + f"[replication]\n{head}\n{nodes}\n")
    assert err.value.key == key


def test_nodes_take_their_own_ports_and_the_network_defaults():
    cfg = parse_config(market_config(1) + '[replication]\nmode = "jetstream"\n'
                       '[[replication.nodes]]\nname = "a"\norder_port = 9101\n'
                       '[[replication.nodes]]\nname = "b"\nhost = "10.0.0.2"\n')
    a, b = cfg.replication.node("a", cfg.network), cfg.replication.node("b", cfg.network)
    assert (a.order_port, a.admin_port, a.host) == (9101, cfg.network.admin_port, cfg.network.host)
    assert (b.order_port, b.host) == (cfg.network.order_port, "10.0.0.2")
    with pytest.raises(KeyError):
        cfg.replication.node("c", cfg.network)
    assert parse_config(market_config(1)).replication.mode == "none"


def test_a_replicated_node_needs_a_name_from_the_list(tmp_path):
    with pytest.raises(GatewayError, match="--node NAME"):
        ExchangeNode(parse_config(REPLICATED), tmp_path / "x")
    listed = parse_config(REPLICATED + '[[replication.nodes]]\nname = "a"\n')
    with pytest.raises(GatewayError, match="'z' is not one of replication.nodes"):
        ExchangeNode(listed, tmp_path / "y", node="z")


# ---------------------------------------------------------------------- fakes
class FakeLink:
    """The parts of NatsLink that ReplicatedJournal and Replica._locate use."""

    def __init__(self, max_payload: int = 1 << 20, records: list | None = None) -> None:
        self.node, self.epoch = "a", 7
        self.max_payload = max_payload
        self.published: list = []
        self.valid = True
        self.refuse = False
        self.records = records or []           # (first, last) of stream messages 1..n
        self.lost = None

    def lease_valid(self) -> bool:
        return self.valid

    def publish(self, payload: bytes, expected_last: int, msg_id: str) -> int:
        if self.refuse:
            raise StepDown("refused")
        assert expected_last == len(self.published)
        self.published.append((payload, msg_id))
        return expected_last + 1

    def record_bounds(self, stream_seq: int) -> tuple[int, int]:
        return self.records[stream_seq - 1]


class FakeReplica:
    def __init__(self) -> None:
        self.stream_seq = 0
        self.boundaries: list = []


@pytest.fixture
def replicated(tmp_path):
    """``replicated(link)``: a ReplicatedJournal over a local journal in tmp_path (closed at teardown)."""
    made = []

    def make(link):
        local = Journal(tmp_path, "none")
        made.append(local)
        return ReplicatedJournal(local, link, FakeReplica()), local
    yield make
    for local in made:
        local.close()


# ---------------------------------------------------------------------- the replicated journal
def test_a_batch_is_on_the_stream_before_the_local_journal(tmp_path, replicated):
    link = FakeLink()
    journal, local = replicated(link)
    journal.append(batch(1, 5))
    journal.append(batch(6, 3))
    assert [m for _, m in link.published] == ["a.7.1", "a.7.6"]          # node.epoch.first seq
    stored = [decode_record(p).rows for p, _ in link.published]
    assert [r["seq"].tolist() for r in stored] == [[1, 2, 3, 4, 5], [6, 7, 8]]
    assert [r.rows["seq"].tolist() for r in read_records(tmp_path)] == [[1, 2, 3, 4, 5], [6, 7, 8]]
    assert journal.replica.stream_seq == 2 and journal.replica.boundaries == [(5, 1), (8, 2)]


def test_a_batch_larger_than_a_message_goes_as_several_records(tmp_path, replicated):
    per = 4
    link = FakeLink(max_payload=HEADER.size + MSG_HEADER_BYTES + per * ROW)
    journal, _ = replicated(link)
    journal.append(batch(1, 10))
    sizes = [len(decode_record(p).rows) for p, _ in link.published]
    assert sizes == [4, 4, 2] and [m for _, m in link.published] == ["a.7.1", "a.7.5", "a.7.9"]
    assert journal.replica.stream_seq == 3


def test_a_refused_publish_leaves_the_local_journal_alone(tmp_path, replicated):
    link = FakeLink()
    journal, local = replicated(link)
    journal.append(batch(1, 2))
    link.refuse = True
    with pytest.raises(StepDown):
        journal.append(batch(3, 2))
    assert local.last_seq == 2


def test_a_lease_lost_while_publishing_acknowledges_nothing(tmp_path, replicated):
    link = FakeLink()
    journal, local = replicated(link)

    def publish_then_lose(payload, expected_last, msg_id):
        link.valid = False
        return FakeLink.publish(link, payload, expected_last, msg_id)
    link.publish = publish_then_lose
    with pytest.raises(StepDown, match="lapsed"):
        journal.append(batch(1, 3))
    assert len(link.published) == 1           # on the stream (the next primary has it), never acknowledged here


def test_a_damaged_record_from_the_stream_is_refused():
    link = FakeLink()
    journal = ReplicatedJournal(type("J", (), {"append": lambda self, b: None, "last_seq": 0})(), link, FakeReplica())
    journal.append(batch(1, 3))
    payload = bytearray(link.published[0][0])
    payload[-1] ^= 1
    with pytest.raises(JournalCorrupt, match="CRC"):
        decode_record(bytes(payload), "S#1")
    with pytest.raises(JournalCorrupt):
        decode_record(bytes(payload[:-5]), "S#1")


# ---------------------------------------------------------------------- where a node stands
@pytest.mark.parametrize("have, expected", [(0, 0), (3, 1), (7, 2), (8, 3), (20, 5)])
def test_a_node_finds_the_message_holding_its_last_command(have, expected):
    replica = Replica.__new__(Replica)
    replica.link = FakeLink(records=[(1, 3), (4, 7), (8, 8), (9, 15), (16, 20)])
    replica.cfg = parse_config(REPLICATED).replication
    assert replica._locate(have, 1, 5, 5) == expected


def test_a_node_outside_the_stream_refuses_to_start():
    replica = Replica.__new__(Replica)
    replica.link = FakeLink(records=[(1, 3), (4, 7), (8, 8), (9, 15), (16, 20)])
    replica.cfg = parse_config(REPLICATED).replication
    with pytest.raises(GatewayError, match="holds commands the market's log does not"):
        replica._locate(21, 1, 5, 5)
    with pytest.raises(GatewayError, match="copy a snapshot"):
        replica._locate(5, 3, 5, 3)                 # pruned: the stream starts at seq 8
    assert replica._locate(7, 3, 5, 3) == 2          # right at the pruned start
    assert replica._locate(12, 0, 0, 0) == 0         # an empty stream: this node's state is the base


# ---------------------------------------------------------------------- a publish's outcomes
class FakeJetStream:
    def __init__(self, outcomes: list) -> None:
        self.outcomes = outcomes
        self.headers: list = []

    async def publish(self, subject, payload, timeout=None, headers=None):
        self.headers.append(headers)
        outcome = self.outcomes.pop(0)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome


@pytest.fixture
def link():
    cfg = parse_config(REPLICATED).replication
    link = NatsLink(cfg, "a")
    link.revision, link.valid_until = 5, time.monotonic() + 60
    yield link
    link.close()


def test_a_publish_is_retried_under_the_same_id_until_stored(link):
    from nats.errors import TimeoutError as NatsTimeout
    from nats.js.api import PubAck
    from nats.js.errors import NoStreamResponseError, ServiceUnavailableError
    link.js = FakeJetStream([NatsTimeout(), NoStreamResponseError(), ServiceUnavailableError(code=503),
                             PubAck(stream="S", seq=4)])
    assert link.publish(b"x", 3, "a.5.10") == 4
    assert [h["Nats-Msg-Id"] for h in link.js.headers] == ["a.5.10"] * 4
    assert {h["Nats-Expected-Last-Sequence"] for h in link.js.headers} == {"3"}


def test_a_publish_after_another_primary_wrote_is_fenced(link):
    from nats.js.errors import BadRequestError
    link.js = FakeJetStream([BadRequestError(code=400, err_code=10071, description="wrong last sequence: 9")])
    with pytest.raises(StepDown, match="wrong last sequence"):
        link.publish(b"x", 3, "a.5.10")


def test_no_publish_once_the_lease_lapsed(link):
    from nats.errors import TimeoutError as NatsTimeout
    link.js = FakeJetStream([NatsTimeout()] * 1000)
    link.valid_until = time.monotonic() + 0.05
    with pytest.raises(StepDown, match="lease lapsed"):
        link.publish(b"x", 3, "a.5.10")
    tries = len(link.js.headers)
    link.js.outcomes = []
    with pytest.raises(StepDown):
        link.publish(b"x", 3, "a.5.10")
    assert len(link.js.headers) == tries          # not even tried


def test_a_stored_record_at_an_unexpected_place_is_fenced(link):
    from nats.js.api import PubAck
    link.js = FakeJetStream([PubAck(stream="S", seq=9)])
    with pytest.raises(StepDown, match="not 4"):
        link.publish(b"x", 3, "a.5.10")


def test_the_link_runs_its_coroutines_on_its_own_thread(link):
    import threading

    async def where():
        return threading.current_thread().name
    assert link.call(where(), 5) == "chuanyu-nats"
    assert asyncio.iscoroutinefunction(link._lease_loop)


def test_an_empty_stream_that_held_messages_refuses_a_node_without_state():
    replica = Replica.__new__(Replica)
    replica.link = FakeLink()
    replica.cfg = parse_config(REPLICATED).replication
    with pytest.raises(GatewayError, match="is empty but has held 40 messages"):
        replica._locate(0, 41, 40, 0)
    assert replica._locate(0, 0, 0, 0) == 0                  # a new stream: a new market


class FakeKv:
    def __init__(self, value: bytes, revision: int) -> None:
        self.entry = type("Entry", (), {"value": value, "revision": revision})()

    async def get(self, key):
        return self.entry


def test_a_renewal_whose_reply_was_lost_keeps_the_lease_and_a_replaced_one_loses_it(link):
    link.revision = 5
    link.kv = FakeKv(b"a", 6)                                # our own renewal, stored
    link.call(link._renewal_refused(), 5)
    assert link.revision == 6 and link.lost is None and link.lease_valid()
    link.kv = FakeKv(b"b", 9)                                # another node's entry
    link.call(link._renewal_refused(), 5)
    assert link.revision == 0 and "another node" in link.lost and not link.lease_valid()


def test_a_local_journal_behind_its_snapshot_is_set_aside(tmp_path):
    journal = Journal(tmp_path, "none")
    journal.append(batch(1, 3))
    folder = journal.set_aside()
    assert folder is not None and sorted(p.name for p in folder.iterdir())[-1] == "journal.mark"
    assert list(read_records(tmp_path)) == [] and journal.last_seq == 0
    journal.append(batch(50, 2))                             # after the snapshot: any seq may start it
    assert [r.rows["seq"].tolist() for r in read_records(tmp_path)] == [[50, 51]]
    journal.close()
    with Journal(tmp_path, "none") as reopened:
        assert reopened.last_seq == 51
