"""What every ``chuanyu`` subcommand shares: the one error class a failure is reported with
(one line on stderr and an exit status, never a traceback), the handler wrapper that reports
it, and the ``--json`` output checks. Its own module, so that the subcommand modules import it
and not ``chuanyu.cli`` (which imports them, and which runs as ``__main__`` under ``python -m``:
a class defined there would be two classes)."""
from __future__ import annotations

import json
import os
import sys

__all__ = ["CliError", "handler", "check_json_target", "write_json"]


class CliError(Exception):
    """A failure to report as one line on stderr, with the given exit status."""

    def __init__(self, message: str, status: int = 1) -> None:
        super().__init__(message)
        self.status = status


def handler(fn):
    """Wrap a subcommand's handler so its failures print as one line and set the exit status."""
    def run(args) -> int:
        try:
            return fn(args)
        except CliError as exc:
            print(f"chuanyu: error: {exc}", file=sys.stderr)
            return exc.status
    run.__name__ = fn.__name__
    return run


def check_json_target(path: str | None) -> None:
    """Fail before a long run if ``path`` cannot be written."""
    if path is None or path == "-":
        return
    if os.path.isdir(path):
        raise CliError(f"--json {path}: is a directory")
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise CliError(f"--json {path}: folder {folder} does not exist")
    if not os.access(folder, os.W_OK) or (os.path.exists(path) and not os.access(path, os.W_OK)):
        raise CliError(f"--json {path}: not writable")


def write_json(path: str | None, results) -> None:
    """Write ``results`` as JSON to ``path`` ('-': standard output; None: nowhere)."""
    if not path:
        return
    text = json.dumps(results, indent=2, default=float)
    if path == "-":
        sys.stdout.write(text + "\n")
        return
    try:
        with open(path, "w", encoding="utf-8") as f:
            f.write(text + "\n")
    except OSError as exc:
        raise CliError(f"cannot write {path}: {exc.strerror or exc}") from None
    print(f"results written to {path}", file=sys.stderr)
