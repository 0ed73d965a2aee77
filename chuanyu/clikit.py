"""What every ``chuanyu`` subcommand shares: the one error class a failure is reported with
(one line on stderr and an exit status, never a traceback), the handler wrapper that reports
it, and the ``--json`` output checks. Its own module, so that the subcommand modules import it
and not ``chuanyu.cli`` (which imports them, and which runs as ``__main__`` under ``python -m``:
a class defined there would be two classes)."""
from __future__ import annotations

import json
import os
import sys

__all__ = ["CliError", "handler", "check_json_target", "write_json", "add_no_fail", "begin_bench", "bench_status",
           "TARGET_MISSED", "rate_text", "rate_range"]

TARGET_MISSED = 3           # a benchmark's exit status when one of its targets was missed


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


def add_state_options(p, default_state_dir: str, state_help: str | None = None) -> None:
    """``--state-dir`` (the daemon's) and ``--config`` (the market's TOML, default the embedded
    market) on a subcommand that reads a daemon's state dir offline or beside it."""
    p.add_argument("--state-dir", metavar="DIR", default=default_state_dir,
                   help=state_help or f"the daemon's state dir (default: ./{default_state_dir})")
    p.add_argument("--config", metavar="FILE", help="market configuration (TOML; default: the embedded market)")


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


def write_bench_page(path: str | None, document: dict, title: str) -> None:
    """Write a benchmark's page (:func:`chuanyu.bench_html.bench_page`) to ``path`` (None: nowhere)."""
    if not path:
        return
    from .bench_html import bench_page
    try:
        with open(path, "w", encoding="utf-8") as f:
            f.write(bench_page(document, title))
    except OSError as exc:
        raise CliError(f"cannot write {path}: {exc.strerror or exc}") from None
    print(f"page written to {path}", file=sys.stderr)


def add_no_fail(parser, dest: str = "no_fail") -> None:
    """The ``--no-fail`` option of a benchmark command."""
    parser.add_argument("--no-fail", dest=dest, action="store_true",
                        help=f"exit 0 even when a target is missed (default: exit status {TARGET_MISSED})")


def begin_bench(argv: list | None = None):
    """Start a benchmark run (``bench.provenance.Run``, recording ``argv``: the command as typed,
    by default this process's); warn on stderr when the machine is busy."""
    from bench.provenance import Run
    run = Run(argv)
    warning = run.warning()
    if warning:
        print(f"chuanyu: {warning}", file=sys.stderr)
    return run


def bench_status(targets, no_fail: bool) -> int:
    """The exit status of a benchmark whose ``targets`` (dicts with ``met`` and a label in
    ``target`` or ``label``) were judged: :data:`TARGET_MISSED` when one was missed, unless
    ``no_fail``; the missed ones listed on stderr."""
    missed = [t.get("target") or t.get("label") or "?" for t in targets if t.get("met") is False]
    if missed:
        print(f"chuanyu: {len(missed)} target{'s' if len(missed) > 1 else ''} missed: "
              + "; ".join(str(m).strip() for m in missed)
              + (" (--no-fail: exit 0)" if no_fail else ""), file=sys.stderr)
    return TARGET_MISSED if missed and not no_fail else 0


def rate_text(x) -> str:
    """A rate for a table: ``5.99 M``, ``845.00 k``, ``-`` for none."""
    if x is None:
        return "-"
    for unit, div in (("M", 1e6), ("k", 1e3)):
        if x >= div:
            return f"{x / div:.2f} {unit}"
    return f"{x:.0f}"


def rate_range(spread) -> str:
    """A figure's spread over the rounds, ``min–max``."""
    if not spread or spread.get("min") is None:
        return "-"
    return f"{rate_text(spread['min'])}–{rate_text(spread['max'])}"
