"""The ``defectsort`` entry point: the command line, with the window as the default command.

Order matters in a frozen Windows build: ``freeze_support`` first, then torch (through
core) before PySide6, which otherwise can fail to load torch's DLLs.
"""

from __future__ import annotations

import multiprocessing
import sys


def main(argv: list[str] | None = None) -> int:
    """Run ``defectsort [COMMAND ...]``; no command opens the window. :returns: the exit code."""
    multiprocessing.freeze_support()
    import torch  # noqa: F401  (before PySide6, see the module docstring)

    from core.cli import main as cli_main
    from gui import command as gui_command

    argv = sys.argv[1:] if argv is None else argv
    if argv and not argv[0].startswith("-") and argv[0] not in _command_names() and _looks_like_path(argv[0]):
        argv = ["gui", *argv]  # "Open with" and drops on the icon pass bare paths
    return cli_main(argv, extra_commands={"gui": gui_command}, default="gui")


def _command_names() -> set[str]:
    from core.cli import COMMANDS

    return {*COMMANDS, "gui"}


def _looks_like_path(argument: str) -> bool:
    from pathlib import Path

    return Path(argument).exists()


def run() -> None:
    """Console-script wrapper."""
    sys.exit(main())
