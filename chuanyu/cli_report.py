"""``chuanyu report``: reports built offline from a state dir (see :mod:`exchange.statements`)."""
from __future__ import annotations

import json
from pathlib import Path

from .clikit import CliError, handler

__all__ = ["register"]


def register(commands) -> None:
    """Add ``report`` to the ``chuanyu`` subcommands."""
    from .cli_gateway import DEFAULT_STATE_DIR
    p = commands.add_parser("report", help="reports from a state dir's journal: member statements",
                            description="Reports built offline from a daemon's state dir.")
    kinds = p.add_subparsers(dest="report", metavar="REPORT", required=True)
    s = kinds.add_parser(
        "statements", help="per member and trading date: trades, fees, fines, cash and holdings movements, "
                           "balances, reconciled",
        description="Replay the journal and write, per trading date, statements-<date>.json: for every member, "
                    "each account's opening balances, trades, fees, fines, cash and holdings movements and "
                    "closing balances, with the reconciliation (closing - opening - movements: 'unexplained', "
                    "0 when every movement is accounted for). Prints one line per date and member.")
    s.add_argument("--state-dir", metavar="DIR", default=DEFAULT_STATE_DIR,
                   help=f"the daemon's state dir (default: ./{DEFAULT_STATE_DIR})")
    s.add_argument("--config", metavar="FILE", help="market configuration (TOML; default: the embedded market)")
    s.add_argument("--out", metavar="DIR", help="where the files go (default: STATE_DIR/statements)")
    s.add_argument("--member", type=int, metavar="ID", help="only this member's statements")
    s.set_defaults(handler=handler(_statements))


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
