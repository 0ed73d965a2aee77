"""A lost final journal segment with the real daemon (issue 13, F8).

The daemon writes orders across several small segments and is killed (-9); the newest
segment is deleted. The start is refused, naming the missing segment, instead of starting
silently without the acknowledged orders it held; ``chuanyu replay`` reports the same; with
``--accept-journal-loss`` the daemon starts and logs the loss loudly.
"""
from __future__ import annotations

import subprocess
import sys

from conftest import MARKET, REPO, Daemon, _env, drain
from gateway.client import orders
from exchange.journal import segments
from gateway.protocol import MsgType
from matching import OrderType, Side, TimeInForce

SCEA = 0
CONFIG = MARKET + """
[durability]
segment_bytes = 4096
"""


def kill(d: Daemon) -> None:
    if d.proc.poll() is None:
        d.proc.kill()
    d.proc.wait(10)
    d.out.close()


def engine_run(d: Daemon, *extra: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "chuanyu.cli", "engine", "--config", str(d.config_path),
                           "--state-dir", str(d.state_dir), *extra], capture_output=True, text=True, cwd=REPO,
                          env=_env(), timeout=60)


def test_a_lost_newest_segment_refuses_the_start_unless_the_operator_accepts_the_loss(tmp_path, connect):
    d = Daemon(tmp_path / "state", config_text=CONFIG)
    try:
        c = connect(d, 1)
        c.login()
        for _ in range(30):                      # 8 resting buys a frame (800 bytes a record): 4 KiB segments
            msgs = orders(8, instrument=SCEA, account=1, side=Side.BUY, qty=1, price=4900,
                          order_type=OrderType.LIMIT, tif=TimeInForce.GTC)
            c.send_orders(msgs)
            drain(c, lambda g: sum(r.msg_type == MsgType.ACK for r in g) >= 8)
    finally:
        kill(d)
    segs = segments(d.state_dir)
    assert len(segs) >= 3
    newest = segs[-1][1]
    newest.unlink()                              # the disk lost it: acknowledged orders with it
    (d.state_dir / "endpoints.json").unlink()

    run = engine_run(d)
    assert run.returncode != 0, run.stdout + run.stderr
    assert newest.name in run.stderr and "--accept-journal-loss" in run.stderr, run.stderr
    assert "Traceback" not in run.stderr + run.stdout
    assert not (d.state_dir / "endpoints.json").exists()

    replayed = subprocess.run([sys.executable, "-m", "chuanyu.cli", "replay", str(d.state_dir), "--config",
                               str(d.config_path)], capture_output=True, text=True, cwd=REPO, env=_env(), timeout=60)
    assert replayed.returncode != 0 and newest.name in replayed.stderr, replayed.stdout + replayed.stderr

    d.start("--accept-journal-loss")
    try:
        text = d.output()
        assert "journal loss accepted" in text and newest.name in text, text
        # the mark now follows the journal as it is: a plain restart is not refused again
        kill(d)
        d.start()
    finally:
        d.stop()
