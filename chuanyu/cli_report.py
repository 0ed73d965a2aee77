"""``chuanyu report``: reports built offline from a state dir: member statements from the
journal (:mod:`exchange.statements`), market vitality over time from the end-of-day reports
(:mod:`exchange.vitality`)."""
from __future__ import annotations

import json
import sys
from pathlib import Path

from .clikit import CliError, add_state_options, handler

__all__ = ["register"]


def register(commands) -> None:
    """Add ``report`` to the ``chuanyu`` subcommands."""
    from .cli_gateway import DEFAULT_STATE_DIR
    p = commands.add_parser("report", help="reports from a state dir: member statements, market vitality",
                            description="Reports built offline from a daemon's state dir.")
    kinds = p.add_subparsers(dest="report", metavar="REPORT", required=True)
    s = kinds.add_parser(
        "statements", help="per member and trading date: trades, fees, fines, cash and holdings movements, "
                           "balances, reconciled",
        description="Replay the journal and write, per trading date, statements-<date>.json: for every member, "
                    "each account's opening balances, trades, fees, fines, cash and holdings movements and "
                    "closing balances, with the reconciliation (closing - opening - movements: 'unexplained', "
                    "0 when every movement is accounted for). Prints one line per date and member.")
    add_state_options(s, DEFAULT_STATE_DIR)
    s.add_argument("--out", metavar="DIR", help="where the files go (default: STATE_DIR/statements)")
    s.add_argument("--member", type=int, metavar="ID", help="only this member's statements")
    s.set_defaults(handler=handler(_statements))
    _add_vitality(kinds, DEFAULT_STATE_DIR)


def _statements(args) -> int:
    from exchange.journal import JournalError
    from exchange.statements import statements
    from .cli_gateway import _load_config
    config = _load_config(args.config)
    state = Path(args.state_dir)
    try:
        by_date = statements(state, config)
    except (FileNotFoundError, JournalError) as exc:
        raise CliError(str(exc)) from None
    out = Path(args.out) if args.out else state / "statements"
    out.mkdir(parents=True, exist_ok=True)
    unreconciled = 0
    for date, members in by_date.items():
        if args.member is not None:
            members = [m for m in members if m["member"] == args.member]
        (out / f"statements-{date}.json").write_text(json.dumps({"date": date, "members": members}, indent=2))
        for m in members:
            bad = [a["account"] for a in m["accounts"] if not a["reconciled"]]
            unreconciled += len(bad)
            trades = sum(len(a["trades"]) for a in m["accounts"])
            print(f"{date}  member {m['member']} {m['name']}: {len(m['accounts'])} account(s), {trades} trade(s), "
                  + ("reconciled" if not bad else f"NOT reconciled: accounts {bad}"))
    print(f"written to {out}")
    return 1 if unreconciled else 0


def _add_vitality(kinds, default_state_dir: str) -> None:
    from exchange.vitality import BY
    from .argtypes import iso_date
    v = kinds.add_parser(
        "vitality", help="turnover rate, activity, cross-regional share and net flow per day, week and "
                         "compliance period, with charts",
        description="Read the end-of-day reports (eod-<date>.json) from --from to --to and print, per trading "
                    "day, ISO week and compliance period: the turnover rate (allowances traded between "
                    "participants over those in circulation), trades, volume by trade type, the cross-regional "
                    "share and the net allowance flow from Sichuan to Chongqing; for periods also the share "
                    "traded in the last 30 days before the deadline. Writes the figures as JSON and a page "
                    "with charts (HTML, no scripts) to --out.")
    v.add_argument("--state-dir", metavar="DIR", default=default_state_dir,
                   help=f"where the end-of-day reports are (the daemon's state dir; default: ./{default_state_dir})")
    v.add_argument("--from", dest="first", type=iso_date, metavar="DATE", help="first trading date (YYYY-MM-DD)")
    v.add_argument("--to", dest="last", type=iso_date, metavar="DATE", help="last trading date (YYYY-MM-DD)")
    v.add_argument("--by", choices=BY, action="append",
                   help="which tables to print (repeatable; default: week and period, and day when at most "
                        "31 days)")
    v.add_argument("--deadline", default="12-31", metavar="MM-DD",
                   help="the compliance deadline that ends each period (default: 12-31)")
    v.add_argument("--out", metavar="DIR", help="where vitality-<from>-<to>.json and .html go "
                                                "(default: STATE_DIR/vitality; '-' for none)")
    v.set_defaults(handler=handler(_vitality))


def _vitality(args) -> int:
    from exchange import vitality
    from web.vitality_page import page

    from .vitality_view import print_tables
    try:
        deadline = vitality.parse_deadline(args.deadline)
    except ValueError as exc:
        raise CliError(str(exc)) from None
    if args.first and args.last and args.first > args.last:
        raise CliError(f"--from {args.first} is after --to {args.last}")
    state = Path(args.state_dir)
    if not state.is_dir():
        raise CliError(f"no such state dir: {state}")
    days, problems = vitality.read_days(state, args.first, args.last)
    for problem in problems:
        print(f"chuanyu: warning: {problem}: left out", file=sys.stderr)
    if not days:
        span = f" from {args.first or 'the first'} to {args.last or 'the last'}" if args.first or args.last else ""
        raise CliError(f"no end-of-day reports in {state}{span}")
    tables = {by: vitality.group(days, by, deadline) for by in vitality.BY}
    shown = args.by or [*(["day"] if len(days) <= 31 else []), "week", "period"]
    print_tables(tables, shown, days)
    if args.out != "-":
        out = Path(args.out) if args.out else state / "vitality"
        out.mkdir(parents=True, exist_ok=True)
        stem = f"vitality-{days[0].date:%Y%m%d}-{days[-1].date:%Y%m%d}"
        figures = {"from": days[0].date.isoformat(), "to": days[-1].date.isoformat(),
                   "deadline": args.deadline, **tables}
        (out / f"{stem}.json").write_text(json.dumps(figures, indent=2))
        (out / f"{stem}.html").write_text(page(tables, days, deadline))
        print(f"written to {out / stem}.json and .html")
    return 0
