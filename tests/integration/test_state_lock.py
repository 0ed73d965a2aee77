"""One daemon per state dir (issue 14): a second ``chuanyu engine`` or a ``chuanyu replay`` on a
state dir in use exits non-zero naming the holder, and writes nothing there; the lock dies
with its holder, kill -9 included."""
from __future__ import annotations

import signal

from conftest import cli


def _files(state_dir):
    """Every file under the state dir with its size and modification time."""
    return {p.relative_to(state_dir): (p.stat().st_size, p.stat().st_mtime_ns)
            for p in sorted(state_dir.rglob("*")) if p.is_file()}



def test_a_second_daemon_on_a_state_dir_in_use_is_refused_and_writes_nothing(fresh_daemon):
    d = fresh_daemon
    before = _files(d.state_dir)
    second = cli("engine", "--config", str(d.config_path), "--state-dir", str(d.state_dir))
    assert second.returncode != 0
    assert f"pid {d.proc.pid} (chuanyu engine" in second.stderr, second.stderr
    assert _files(d.state_dir) == before
    assert d.proc.poll() is None                       # the holder runs on

    replayed = cli("replay", str(d.state_dir), "--config", str(d.config_path))
    assert replayed.returncode != 0
    assert f"pid {d.proc.pid} (chuanyu engine" in replayed.stderr, replayed.stderr
    assert _files(d.state_dir) == before


def test_the_lock_dies_with_its_holder(fresh_daemon):
    d = fresh_daemon
    first = d.proc.pid
    d.proc.send_signal(signal.SIGKILL)
    d.proc.wait(10)
    d.start()                                           # no stale lock after kill -9
    assert d.proc.pid != first
    assert d.stop() == 0
    replayed = cli("replay", str(d.state_dir), "--config", str(d.config_path))
    assert replayed.returncode == 0, replayed.stderr
    assert "state digest" in replayed.stdout
