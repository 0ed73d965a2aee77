from __future__ import annotations

import os

import pytest

from exchange.statelock import LOCK_NAME, StateLock, StateLocked


def test_a_second_holder_is_refused_with_the_first_ones_pid_and_role(tmp_path):
    with StateLock(tmp_path, "chuanyu engine"):
        with pytest.raises(StateLocked, match=rf"pid {os.getpid()} \(chuanyu engine\)"):
            StateLock(tmp_path, "chuanyu replay")
        assert (tmp_path / LOCK_NAME).read_text() == f"pid {os.getpid()} (chuanyu engine)\n"
    with StateLock(tmp_path, "chuanyu replay") as again:   # released: the next one gets it
        assert again.held
    assert not again.held


def test_a_refused_holder_leaves_the_lock_file_as_it_was(tmp_path):
    first = StateLock(tmp_path, "first")
    text = (tmp_path / LOCK_NAME).read_bytes()
    for _ in range(3):
        with pytest.raises(StateLocked):
            StateLock(tmp_path, "second")
    assert (tmp_path / LOCK_NAME).read_bytes() == text
    first.release()
    first.release()                                      # twice is harmless


def test_the_state_dir_is_created(tmp_path):
    with StateLock(tmp_path / "new" / "state", "x") as lock:
        assert lock.path.parent.is_dir()


def _gateway(state_dir):
    from bench.gateway_bench import market_config
    from exchange.config import parse_config
    from exchange.server import ExchangeNode
    return ExchangeNode(parse_config(market_config(1)), state_dir)


def test_a_gateway_holds_its_state_dir_until_closed(tmp_path):
    from gateway.errors import GatewayError
    first = _gateway(tmp_path)
    try:
        with pytest.raises(GatewayError, match=rf"in use by pid {os.getpid()} \(chuanyu engine"):
            _gateway(tmp_path)
    finally:
        first.close()
    _gateway(tmp_path).close()


def test_a_gateway_that_fails_to_start_frees_its_state_dir(tmp_path, monkeypatch):
    import exchange.server as server
    from gateway.errors import GatewayError

    def refuse(*_, **__):
        raise GatewayError("no keys")
    with monkeypatch.context() as m:
        m.setattr(server, "Keys", refuse)
        with pytest.raises(GatewayError, match="no keys"):
            _gateway(tmp_path)
    with StateLock(tmp_path, "next"):
        pass
