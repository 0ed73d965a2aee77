"""``chuanyu feed``: the terminal view of a real daemon's feed, run as a user would."""
import subprocess
import sys

from conftest import REPO, _env, drain, eventually
from matching import Side


def _feed(daemon, *args, timeout=20):
    return subprocess.run([sys.executable, "-m", "chuanyu.cli", "feed", "--state-dir", str(daemon.state_dir), *args],
                          capture_output=True, text=True, timeout=timeout, cwd=REPO, env=_env())


def test_once_prints_the_book_and_the_last_trade_of_the_chosen_instrument(daemon, connect):
    sc, cq = connect(daemon, 1), connect(daemon, 2)
    sc.login(), cq.login()
    sc.submit(1, 1, Side.SELL, qty=40, price=4521)       # CQEA2026: the only orders on it in this module
    sc.submit(1, 1, Side.SELL, qty=15, price=4530)
    cq.submit(1, 3, Side.BUY, qty=25, price=4521)
    cq.submit(1, 3, Side.BUY, qty=9, price=4470)
    got = drain(cq, lambda g: sum(r.type_name == "ACK" for r in g) == 2 and any(r.type_name == "FILL" for r in g))
    assert [r.qty for r in got if r.type_name == "FILL"] == [25]
    run = _feed(daemon, "CQEA2026", "--once")
    assert run.returncode == 0, run.stderr
    out = run.stdout
    assert "CQEA2026" in out and "SCEA2026" not in out
    assert "45.21" in out and "45.30" in out and "44.70" in out          # both sides of the ladder, in yuan
    assert "15" in out and "9" in out
    assert "last trades" in out and "CONTINUOUS" in out and "25" in out


def test_count_follows_the_live_feed_and_exits(daemon, connect):
    sc = connect(daemon, 1)
    sc.login()
    proc = subprocess.Popen([sys.executable, "-m", "chuanyu.cli", "feed", "--state-dir", str(daemon.state_dir),
                             "SCEA2026", "--count", "2", "--duration", "20"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, cwd=REPO, env=_env())
    try:
        price = 5100

        def traded():                    # keep the feed moving until the view has seen two messages
            nonlocal price
            if proc.poll() is not None:
                return True
            price += 1
            sc.submit(0, 2, Side.SELL, qty=1, price=price)
            return False
        eventually(traded, 20, interval=0.05, what="chuanyu feed --count 2 to exit")
        out, err = proc.communicate(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, err
    assert "SCEA2026" in out and "51." in out                               # the new asks, 51.xx yuan


def test_an_unknown_symbol_or_no_daemon_is_a_clear_error(daemon, tmp_path):
    run = _feed(daemon, "NOPE2026", "--once")
    assert run.returncode == 2 and "unknown instrument 'NOPE2026'" in run.stderr
    run = subprocess.run([sys.executable, "-m", "chuanyu.cli", "feed", "--state-dir", str(tmp_path), "--once"],
                         capture_output=True, text=True, timeout=20, cwd=REPO, env=_env())
    assert run.returncode == 1 and "no feed found" in run.stderr
