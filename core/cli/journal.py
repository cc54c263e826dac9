"""``defectsort journal``: the inspectors' session journal: list sessions, export the audit trail as CSV."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from core.journal.restore import export_audit_csv, list_sessions
from core.journal.session import JournalError, journal_path


def add_parser(subparsers: argparse._SubParsersAction, name: str) -> None:
    """Register the sub-command and its actions."""
    parser = subparsers.add_parser(name, help="list sessions or export the audit trail", description=__doc__)
    parser.add_argument("--journal", type=Path, metavar="FILE", help="journal file (default: the user's)")
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    actions.add_parser("list", help="one line per session: when, who, model, photos, decisions")
    export = actions.add_parser("export", help="every decision (move, removal, undo, redo) as CSV")
    export.add_argument("csv", type=Path, metavar="FILE.csv")


def run(args: argparse.Namespace) -> int:
    """Return 0, or 2 when the journal cannot be read or the CSV written."""
    path = args.journal or journal_path()
    try:
        if args.action == "export":
            count = export_audit_csv(path, args.csv)
            print(f"Wrote {count} events from {path} to {args.csv}.")
        else:
            for session in list_sessions(path):
                state = "ended" if session.ended else "not ended (can be restored)"
                print(
                    f"{session.started[:19]}  {session.user:<12} {session.model_name} {session.model_version}  "
                    f"{session.photos} photos, {session.edits} decisions, {state}  [{session.id}]"
                )
    except (JournalError, OSError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0
