"""``chuanyu demo`` end to end: the real command line, the real daemon subprocess, the files it
writes. One demo day per seed is run once per module and shared by the tests that read it."""
import csv
import json
import re
import signal
import socket
import subprocess
import sys
import time

import pytest

from conftest import REPO, _env
from chuanyu.demo_plan import CAST, plan_day

TYPES = ("CONTINUOUS", "FIXED", "BLOCK", "AUCTION")
TRADE_LINE = re.compile(r"^\[\d\d:\d\d\] trade #(\d+) (CONTINUOUS|FIXED|BLOCK|AUCTION) ", re.M)


def _demo(*args, timeout=120):
    return subprocess.run([sys.executable, "-m", "chuanyu.cli", "demo", *args], capture_output=True, text=True,
                          cwd=REPO, env=_env(), timeout=timeout)


def _day(state_dir, seed):
    run = _demo("--headless", "--duration", "5", "--seed", str(seed), "--state-dir", str(state_dir))
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr
    eod, = state_dir.glob("eod-*.json")
    return run, json.loads(eod.read_text())


@pytest.fixture(scope="module")
def seed7(tmp_path_factory):
    state = tmp_path_factory.mktemp("demo") / "seed7"
    run, eod = _day(state, 7)
    return state, run, eod


def test_the_demo_trades_every_type_and_ends_with_the_report(seed7):
    state, run, eod = seed7
    out = run.stdout
    printed = TRADE_LINE.findall(out)
    assert {kind for _, kind in printed} == set(TYPES)
    volume = {t: sum(r[f"{t.lower()}_volume"] for r in eod["instruments"]) for t in TYPES}
    assert all(v > 0 for v in volume.values()), volume
    assert "END OF DAY REPORT" in out and "MARKET VITALITY" in out
    # the opening call uncrossed both allowances at one price each; the careless buy at 11:22
    # stopped at the dynamic band, a volatility interruption, ended three minutes later
    assert re.search(r"^\[09:33\] operator: SCEA2026 TRADING: uncrossed, \d+ trades at ", out, re.M)
    assert re.search(r"^\[09:33\] operator: CQEA2026 TRADING: uncrossed, \d+ trades at ", out, re.M)
    assert re.search(r"^\[11:22\] feed: SCEA2026 volatility interruption", out, re.M)
    assert re.search(r"^\[11:23\] SC Sichuan Petrochemical cancels what is left of its order", out, re.M)
    assert re.search(r"^\[11:25\] operator: SCEA2026 volatility interruption ends", out, re.M)
    for label in ("turnover rate:", "trading activity:", "cross-regional share:", "net allowance flow:"):
        assert label in out
    for r in eod["instruments"]:                      # each instrument's row is printed
        assert re.search(rf"^  {r['symbol']} .*{r['close'] // 100}\.{r['close'] % 100:02d}", out, re.M)

    # the trades printed (from the regulator's drop copy) are the daemon's trade tape, one for one
    tape, = state.glob("trades-*.csv")
    with tape.open() as f:
        rows = list(csv.DictReader(f))
    assert sorted(int(n) for n, _ in printed) == sorted(int(r["trade_id"]) for r in rows)
    assert {r["trade_type"] for r in rows} == set(TYPES)

    summary = json.loads((state / "demo-summary.json").read_text())
    assert {t.upper(): v for t, v in summary["volume_by_type"].items()} == volume
    assert summary["trades"] == len(rows) == sum(summary["trades_by_type"].values())
    assert summary["active_accounts"] == summary["accounts"] == len(CAST)
    assert summary["orders_refused"] == 0, summary["refusals"]
    allowance = [r for r in eod["instruments"] if r["kind"] == "ALLOWANCE"]
    traded = sum(r[f"{t}_volume"] for r in allowance for t in ("continuous", "fixed", "block"))
    assert summary["secondary_allowance_volume"] == traded
    assert summary["allowances_created_by_primary_auction"] == 60_000
    assert summary["turnover_rate"] == round(traded / summary["allowances_in_circulation"], 6)
    cross = sum(r["cross_regional_volume"] for r in eod["instruments"])
    assert 0 < cross < summary["volume_total"] and summary["cross_regional_volume"] == cross
    assert summary["net_allowance_flow_sc_to_cq"] == sum(r["net_flow_sc_to_cq"] for r in allowance)
    # the market maker quoted all day but for its quarter of an hour away, and was measured
    assert re.search(r"^\[09:33\] SC Tianfu Market Making quotes SCEA2026 \d+\.\d\d / \d+\.\d\d, 1,500 t a side",
                     out, re.M)
    assert re.search(r"^\[14:11\] --- the market maker steps away", out, re.M)
    maker, = eod["market_makers"]
    assert (maker["account"], maker["symbol"], maker["max_spread_bps"], maker["min_qty"]) == (17, "SCEA2026", 150, 1000)
    assert 0 < maker["present_s"] <= maker["two_sided_s"] < maker["trading_s"]
    assert 40 < maker["presence_pct"] < 100, maker          # never 100: it stepped away
    assert 90 <= maker["avg_spread_bps"] <= 120 and maker["volume"] > 0
    assert "MARKET MAKERS" in out and "Tianfu Market Making in SCEA2026: quoted within its obligation" in out
    # the daemon was shut down gracefully: its log ends with the shutdown and a snapshot
    assert "shut down" in (state / "engine.log").read_text()
    assert list(state.glob("snapshot-*.bin"))


def test_surveillance_over_the_demo_days_journal_raises_no_alert(seed7, tmp_path):
    """A clean day: the demo's firms trade as their roles say and nobody abuses the market, so a
    back-test of its journal with the default thresholds raises nothing (the false-positive
    count on a 240-minute demo day: zero)."""
    state, _, _ = seed7
    run = subprocess.run([sys.executable, "-m", "chuanyu.cli", "surveil", "--journal", str(state), "--config",
                          str(state / "demo-market.toml"), "--out", str(tmp_path / "alerts")],
                         capture_output=True, text=True, cwd=REPO, env=_env(), timeout=120)
    assert run.returncode == 0, run.stderr
    totals = json.loads(run.stdout.splitlines()[-1])
    assert totals["executions"] > 300 and totals["events"] > 500      # it read the whole day
    assert totals["alerts"] == 0, totals["by_kind"]
    assert not list((tmp_path / "alerts").glob("alerts-*.jsonl"))


def test_member_statements_of_the_demo_day_reconcile_to_the_daemons_own_state(seed7, tmp_path):
    """`chuanyu report statements` over the demo day (every trade type, a primary auction, fees):
    each account's closing balances equal the daemon's final state (its shutdown snapshot), to
    the fen and the tonne; every movement is accounted for; the fees add up to the market's."""
    from exchange.recovery import replay
    state, _, _ = seed7
    run = subprocess.run([sys.executable, "-m", "chuanyu.cli", "report", "statements", "--state-dir", str(state),
                          "--config", str(state / "demo-market.toml"), "--out", str(tmp_path)],
                         capture_output=True, text=True, cwd=REPO, env=_env(), timeout=120)
    assert run.returncode == 0, run.stdout + run.stderr
    report, = tmp_path.glob("statements-*.json")
    members = json.loads(report.read_text())["members"]
    engine = replay(state).engine
    accounts = [a for m in members for a in m["accounts"]]
    assert {a["account"] for a in accounts} == {f.account for f in CAST}
    for a in accounts:
        view = engine.account(a["account"])
        assert a["reconciled"] and a["cash"]["unexplained"] == 0
        assert a["cash"]["closing"] == view["cash_available"] + view["cash_frozen"], a["account"]
        for symbol, u in a["units"].items():
            h = view["holdings"][symbol]
            assert u["closing"] == h["available"] + h["frozen"] + h["locked"] + h["non_tradable"], (a["account"], symbol)
            assert u["unexplained"] == 0
    assert sum(a["cash"]["fees"] for a in accounts) == engine.fees_collected
    tape, = state.glob("trades-*.csv")
    assert sum(len(a["trades"]) for a in accounts) == 2 * (len(tape.read_text().splitlines()) - 1)
    issuer = next(a for a in accounts if a["account"] == 29)
    assert issuer["units"]["CQEA2026"]["created"] == issuer["units"]["CQEA2026"]["sold"] == 60_000


def test_the_dashboard_and_its_report_fit_80_columns_and_24_rows(tmp_path):
    """Issue 14, item 9: at 80x24 the dashboard overflowed and the end-of-day table collapsed
    into "SCE… 49.…". Without a terminal, rich takes the size from COLUMNS and LINES and the
    live view prints its last frame once, when the day ends, before the report."""
    from rich.cells import cell_len
    state = tmp_path / "state"
    run = subprocess.run([sys.executable, "-m", "chuanyu.cli", "demo", "--duration", "3", "--state-dir", str(state)],
                         capture_output=True, text=True, cwd=REPO, env={**_env(), "COLUMNS": "80", "LINES": "24"},
                         timeout=120)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr
    lines = run.stdout.splitlines()
    assert max(cell_len(line) for line in lines) <= 80
    assert "…" not in run.stdout
    end = next(i for i, line in enumerate(lines) if line.startswith("end of day"))
    frame = "\n".join(lines[:end]).rstrip().splitlines()         # the live view, then the report
    assert 10 <= len(frame) <= 24 and frame[0].startswith("chuanyu demo")
    eod, = state.glob("eod-*.json")
    report = "\n".join(lines[end:])
    for r in json.loads(eod.read_text())["instruments"]:
        close = f"{r['close'] // 100}.{r['close'] % 100:02d}"
        assert re.search(rf"^│ {r['symbol']} .*│ {re.escape(close)} │", report, re.M), report
        assert r["symbol"] in "\n".join(frame)
    assert "MARKET VITALITY" in report and "turnover rate:" in report


# the market makers' figures measured in engine time: the demo's wall-clock pace moves them
TIMED = ("trading_s", "two_sided_s", "present_s", "presence_pct", "avg_spread_bps", "avg_size", "compliant")


def _untimed(eod: dict) -> dict:
    """The report without what the clock decides: the market makers' measured times and the
    date (two runs either side of midnight in China are two trading dates)."""
    return {**{k: v for k, v in eod.items() if k != "date"},
            "market_makers": [{k: v for k, v in r.items() if k not in TIMED} for r in eod["market_makers"]]}


def test_the_same_seed_gives_the_same_report_and_another_seed_another(seed7, tmp_path):
    _, _, first = seed7
    _, again = _day(tmp_path / "again", 7)
    assert _untimed(again) == _untimed(first)
    _, other = _day(tmp_path / "other", 8)
    assert other["instruments"] != first["instruments"]


def test_the_cast_covers_the_eight_sectors_on_both_platforms():
    from exchange.config import parse_config
    from chuanyu.demo_plan import market_toml
    from matching import Region, Sector
    eight = {s for s in Sector if s not in (Sector.INVESTOR, Sector.OTHER)}
    assert {f.sector for f in CAST} >= eight | {Sector.INVESTOR}
    assert {f.region for f in CAST if f.role in ("buyer", "seller")} == {Region.SC, Region.CQ}
    cfg = parse_config(market_toml(2026))
    assert not cfg.schedule.enabled and cfg.network.order_port == 0
    platforms = {s.name: set(s.members) for s in cfg.sessions}
    for f in CAST:
        if f.role != "issuer":
            assert f.member in platforms["sc-platform" if f.region == Region.SC else "cq-platform"]


def test_the_plan_is_a_function_of_the_seed():
    assert plan_day(3) == plan_day(3)
    assert plan_day(3) != plan_day(4)
    kinds = {a.kind for step in plan_day(3) for a in step.actions}
    assert {"order", "list", "take", "quote", "accept", "bid", "auction_open", "auction_close",
            "block_window", "end_of_day"} <= kinds


@pytest.mark.parametrize("args, message", [
    (("--duration", "0"), "--duration: must be more than 0"),
    (("--duration", "soon"), "--duration: not a number"),
    (("--seed", "-1"), "--seed: must be at least 0"),
    (("--metrics-port", "70000"), "--metrics-port: must be at least 1 and at most 65535"),
])
def test_bad_arguments_exit_2_with_a_message(args, message):
    run = _demo("--headless", *args, timeout=60)
    assert run.returncode == 2 and message in run.stderr and "Traceback" not in run.stderr


def test_a_used_state_dir_is_refused(tmp_path):
    (tmp_path / "journal-00000000000000000001.seg").write_bytes(b"x")
    run = _demo("--headless", "--state-dir", str(tmp_path), timeout=60)
    assert run.returncode == 2 and "must be an empty folder" in run.stderr and "Traceback" not in run.stderr


def test_a_daemon_that_cannot_start_is_reported(tmp_path):
    with socket.socket() as busy:                     # the metrics port is taken: the daemon refuses to start
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        run = _demo("--headless", "--metrics-port", str(port), "--state-dir", str(tmp_path / "s"), timeout=90)
    assert run.returncode == 1, run.stdout + run.stderr
    assert "the daemon exited with status" in run.stderr and "Traceback" not in run.stderr


def test_ctrl_c_shuts_the_daemon_down_gracefully(tmp_path):
    state = tmp_path / "s"
    proc = subprocess.Popen([sys.executable, "-m", "chuanyu.cli", "demo", "--headless", "--duration", "60",
                             "--state-dir", str(state)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            cwd=REPO, env=_env())
    try:
        lines = []
        deadline = time.monotonic() + 60
        while not any("trade #" in line for line in lines):     # readline blocks until the demo prints
            assert time.monotonic() < deadline and proc.poll() is None, "".join(lines)
            lines.append(proc.stdout.readline())
        pid = json.loads((state / "endpoints.json").read_text())["pid"]
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 130 and "interrupted" in err and "Traceback" not in err, (proc.returncode, err[-2000:])
    log = (state / "engine.log").read_text()
    assert "shut down" in log and list(state.glob("snapshot-*.bin"))
    with pytest.raises(ProcessLookupError):
        __import__("os").kill(pid, 0)


def test_the_readme_first_command_runs_the_demo_with_every_trade_type(tmp_path):
    """The set-up contract: README's first command installs and runs this demo."""
    setup = (REPO / "README.md").read_text().split("## Set up", 1)[1]
    first = next(line for line in setup.split("```bash", 1)[1].splitlines() if line and not line.startswith("#"))
    install, main_job = (part.strip() for part in first.split("&&"))
    assert install == "pip install -e ." and main_job.startswith("chuanyu demo ")
    run = _demo(*main_job.split()[2:], "--state-dir", str(tmp_path / "state"), timeout=300)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr
    assert {kind for _, kind in TRADE_LINE.findall(run.stdout)} == set(TYPES)
    assert "END OF DAY REPORT" in run.stdout and "MARKET VITALITY" in run.stdout


def test_a_reply_that_arrives_while_waiting_is_not_lost_to_the_pump(monkeypatch):
    """wait_reply's recv times out, the ACK lands, then the pump runs: the ACK must still be
    found (the pump used to read the waiting platform's socket too and drop it: a 20 s stall)."""
    import numpy as np
    import zmq

    from chuanyu import demo
    from gateway.protocol import REPORT_DTYPE, MsgType

    ctx = zmq.Context()
    near, far = ctx.socket(zmq.PAIR), ctx.socket(zmq.PAIR)
    near.bind("inproc://platform")
    far.connect("inproc://platform")
    ack = np.zeros(1, dtype=REPORT_DTYPE)
    ack["msg_type"], ack["client_order_id"] = MsgType.ACK, 42

    class Platform:                     # a Client whose first recv times out just as the ACK arrives
        sock = near
        calls = 0

        def recv(self, timeout_ms):
            self.calls += 1
            if self.calls == 1:
                far.send(ack.tobytes())
                time.sleep(0.05)
                return None
            return np.frombuffer(near.recv(), dtype=REPORT_DTYPE) if near.poll(timeout_ms) else None

        def poll(self, timeout_ms):
            return bool(near.poll(timeout_ms))

    class Quiet:
        def refresh(self, market):
            pass

    class Alive:
        def check(self):
            pass

    monkeypatch.setattr(demo, "ACK_TIMEOUT_S", 1.0)
    market = demo._Market.__new__(demo._Market)
    market.zmq, market.clients, market.feed, market.view, market.daemon = zmq, {"SC": Platform()}, None, Quiet(), Alive()
    market.tally = None
    try:
        reply = market.wait_reply("SC", 42)
        assert (reply.msg_type, reply.client_order_id) == (MsgType.ACK, 42)
    finally:
        near.close(0)
        far.close(0)
        ctx.term()
