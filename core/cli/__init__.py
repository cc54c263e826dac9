"""The ``defectsort`` command line: one sub-module per sub-command."""

from __future__ import annotations

import argparse
import sys

from core.cli import (
    anomaly_head,
    bench,
    classify,
    evaluate,
    export_model,
    journal,
    models,
    reduced_precision,
    retrain,
    serve,
    train,
    watch,
)
from core.cli.selftest import run_selftest
from core.paths import confine_library_files, library_cache_for

COMMANDS = {
    "classify": classify,
    "models": models,
    "train": train,
    "evaluate": evaluate,
    "bench": bench,
    "journal": journal,
    "retrain": retrain,
    "serve": serve,
    "watch": watch,
    "export-model": export_model,
    "add-anomaly-head": anomaly_head,
    "fit-reduced-precision": reduced_precision,
}
EXIT_CANNOT_RUN = 2  # commands return 0 (all done), 1 (some inputs failed) or this


def build_parser(commands: dict) -> argparse.ArgumentParser:
    """Return the argument parser with one sub-parser per command module."""
    parser = argparse.ArgumentParser(prog="defectsort", description="Sort inspection photos by defect.")
    parser.add_argument("--selftest", action="store_true", help="check that the bundled model works, then exit")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, module in commands.items():
        module.add_parser(subparsers, name)
    return parser


def main(argv: list[str] | None = None, extra_commands: dict | None = None, default: str | None = None) -> int:
    """Run one sub-command and return its exit code.

    :param argv: arguments (default ``sys.argv[1:]``)
    :param extra_commands: more command modules (the GUI adds ``gui``), each with
        ``add_parser(subparsers, name)`` and ``run(args) -> int``
    :param default: the command run when no arguments are given
    :returns: 0 all done, 1 some inputs failed, 2 nothing could run
    """
    commands = {**COMMANDS, **(extra_commands or {})}
    argv = sys.argv[1:] if argv is None else list(argv)
    confine_library_files(library_cache_for(argv))
    if not argv and default:
        argv = [default]
    parser = build_parser(commands)
    args = parser.parse_args(argv)
    if args.selftest:
        return run_selftest()
    if not args.command:
        parser.print_help()
        return EXIT_CANNOT_RUN
    code: int = commands[args.command].run(args)
    return code
