"""`chuanyu web password` makes the [web] console_password line; the config takes it and
refuses anything else; the hash checks the password and only it."""
import io

import pytest

from chuanyu import cli
from exchange.config import ConfigError, example_toml, parse_config
from exchange.passwords import check_password


def test_the_printed_line_goes_into_the_config_and_checks_the_password(monkeypatch, capsys):
    monkeypatch.setattr("sys.stdin", io.StringIO("tianfu-operator\n"))
    assert cli.main(["web", "password"]) == 0
    line = capsys.readouterr().out.strip()
    assert line.startswith('console_password = "scrypt$')
    config = parse_config(example_toml(2026) + "\n[web]\n" + line + "\n")
    assert config.web.console_user == "operator"
    assert check_password("tianfu-operator", config.web.console_password)
    assert not check_password("tianfu-operator ", config.web.console_password)


def test_a_short_password_is_refused(monkeypatch, capsys):
    monkeypatch.setattr("sys.stdin", io.StringIO("short\n"))
    assert cli.main(["web", "password"]) == 1
    assert "at least 8 characters" in capsys.readouterr().err


@pytest.mark.parametrize("value", ["hunter22", "scrypt$16384$8$1$zz$00", "scrypt$3$8$1$0011223344556677$" + "00" * 16])
def test_a_password_in_clear_or_a_malformed_hash_is_a_config_error(value):
    with pytest.raises(ConfigError, match="console_password"):
        parse_config(example_toml(2026) + f'\n[web]\nconsole_password = "{value}"\n')


def test_without_a_password_the_console_is_closed_by_default():
    assert parse_config(example_toml(2026)).web.console_password == ""
