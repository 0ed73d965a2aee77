"""The daemon's command-line pieces that need no running daemon."""
import zmq.auth

from bench import gateway_bench
from chuanyu import cli
from exchange.config import parse_config


def test_keys_creates_pairs_and_keeps_existing_ones(tmp_path, capsys):
    assert cli.main(["keys", str(tmp_path), "server", "sc-platform"]) == 0
    public, secret = zmq.auth.load_certificate(str(tmp_path / "sc-platform.key_secret"))
    assert len(public) == 40 and len(secret) == 40
    assert cli.main(["keys", str(tmp_path), "sc-platform"]) == 0
    assert zmq.auth.load_certificate(str(tmp_path / "sc-platform.key_secret")) == (public, secret)
    assert "kept" in capsys.readouterr().out


def test_admin_without_a_daemon_fails_in_one_line(tmp_path, capsys):
    assert cli.main(["admin", "--state-dir", str(tmp_path), "status"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("chuanyu: error: no daemon found") and "Traceback" not in err


def test_the_bench_market_is_a_valid_configuration():
    cfg = parse_config(gateway_bench.market_config(3))
    assert len(cfg.sessions) == 3 and len(cfg.accounts) == 6
    assert cfg.sessions[2].members == (104, 105)


def test_the_bench_table_reads_a_result():
    run = {"scenario": "x", "clients": 2, "batch": 1, "orders_per_s": 1000.0, "durability": "none",
           "latency_ns": {"p50": 1000, "p99": 2000, "p999": 3000}, "target_rate": None}
    results = dict(run, runs=[run], baseline={"bare_msgs_per_s": 2000.0, "bare_plain_msgs_per_s": 2500.0,
                                              "bare_echo_latency_ns": {"p50": 1, "p99": 2, "p999": 3},
                                              "bare_echo_rate": 20000},
                   targets=gateway_bench._targets([run], {"bare_msgs_per_s": 2000.0, "bare_plain_msgs_per_s": 2500.0,
                                                         "bare_echo_latency_ns": {"p99": 2}}),
                   machine={"cpu": "cpu", "usable_cores": 2, "cores": 2, "python": "3.11"})
    text = gateway_bench.table(results)
    assert "0.50" in text and "missed" in text
    assert set(gateway_bench.RESULT_KEYS) <= set(results)


def test_the_replicated_bench_market_follows_the_cluster_and_keeps_the_journal_default():
    cfg = parse_config(gateway_bench.market_config(2, gateway_bench.REPLICATED, ["nats://127.0.0.1:4001"]))
    assert cfg.replication.mode == "jetstream" and cfg.replication.servers == ("nats://127.0.0.1:4001",)
    assert cfg.durability.mode == "none"


def test_the_replicated_run_is_held_against_the_single_node_fsync_run():
    def run(durability, orders_per_s):
        return {"scenario": durability, "clients": 2, "batch": 1024, "orders_per_s": orders_per_s,
                "durability": durability, "target_rate": None, "latency_ns": {"p50": 1, "p99": 2, "p999": 3}}
    runs = [run("none", 2000.0), run("fsync", 1000.0), run(gateway_bench.REPLICATED, 400.0)]
    target, = [t for t in gateway_bench._targets(runs, None) if "replicated" in t["target"]]
    assert "fsync" in target["target"] and target["value"] == 0.4 and not target["met"]
    runs[2]["orders_per_s"] = 600.0
    assert [t["met"] for t in gateway_bench._targets(runs, None) if "replicated" in t["target"]] == [True]
