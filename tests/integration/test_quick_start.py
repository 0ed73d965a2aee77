"""README's quick start, run as it stands (issue 14, item 6): every line through bash, the
real daemon and the real CLI, at whatever hour the test runs. Each order line must exit 0
(`chuanyu order` exits 1 on a reject) and the three trades must happen."""
from __future__ import annotations

import datetime
import os
import re
import subprocess
import sys
from pathlib import Path

from conftest import REPO, _env

MARKER = "<!-- quick start -->"


def quick_start() -> str:
    text = (REPO / "README.md").read_text()
    block = text.split(MARKER, 1)[1]
    return re.search(r"```bash\n(.*?)```", block, re.S).group(1)


def test_the_readme_quick_start_runs_verbatim_and_trades(tmp_path):
    script = quick_start()
    year = datetime.date.today().year            # the embedded market's symbols carry this year
    script = script.replace("SCEA2026", f"SCEA{year}")
    env = {**_env(), "PATH": os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])}
    # a failing line must not leave the daemon holding the README's ports for the next run
    guarded = "trap 'kill $(jobs -p) 2>/dev/null || true' EXIT\n" + script
    run = subprocess.run(["bash", "-e", "-c", guarded], cwd=tmp_path, capture_output=True, text=True, env=env,
                         timeout=180)
    log = (tmp_path / "engine.log").read_text() if (tmp_path / "engine.log").exists() else ""
    assert run.returncode == 0, f"{run.stdout}\n{run.stderr}\n{log}"
    fills = re.findall(r"^FILL .*", run.stdout, re.M)
    # the taking side of each trade (the resting side's session had logged out by then)
    assert len(fills) == 3, run.stdout
    assert "price 5010  qty 60  leaves 0" in fills[0]            # cross-regional: at the resting price
    assert "price 5000  qty 200  leaves 0" in fills[1]           # the take, at the listing's price
    assert "price 5000  qty 100000  leaves 0" in fills[2]        # the block
    holdings = re.search(rf"SCEA{year}\s+([\d,]+)\s+([\d,]+)", run.stdout)
    assert holdings.groups() == ("100,000", "260"), run.stdout  # 200,000 - 100,000; 60 + 200 bought, T+1
    assert "shutdown: ok" in run.stdout


def test_chuanyu_order_exits_1_on_a_reject_and_0_on_an_ack(fresh_daemon):
    def order(*args):
        return subprocess.run([sys.executable, "-m", "chuanyu.cli", "order", "--state-dir",
                               str(fresh_daemon.state_dir), "--session", "1", "--key", "sc-platform", *args],
                              capture_output=True, text=True, cwd=REPO, env=_env(), timeout=60)
    refused = order("sell", "SCEA2026", "10", "9000", "--account", "1")
    assert refused.returncode == 1
    assert "REJECT" in refused.stdout and "rejected: PRICE_OUTSIDE_BAND (3011)" in refused.stderr
    taken = order("--id-only", "buy", "SCEA2026", "10", "4900", "--account", "1")
    assert taken.returncode == 0 and taken.stdout.strip().isdigit(), taken
