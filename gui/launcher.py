"""The ``defectsort`` entry point: the command line, with the window as the default command.

Order matters in a frozen Windows build: ``freeze_support`` first, then torch (through
core) before PySide6, which otherwise can fail to load torch's DLLs. Qt itself is only
imported when the window is opened (see ``gui.command``).
"""

from __future__ import annotations

import multiprocessing
import sys
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    """Run ``defectsort [COMMAND ...]``; no command, or bare paths, open the window.

    :param argv: arguments (default ``sys.argv[1:]``)
    :returns: the exit code
    """
    multiprocessing.freeze_support()
    from core.paths import confine_library_files, library_cache_for

    argv = sys.argv[1:] if argv is None else list(argv)
    confine_library_files(library_cache_for(argv))  # before torch, which makes a cache folder on import
    import torch  # noqa: F401  (before PySide6, see the module docstring)

    from core.cli import COMMANDS
    from core.cli import main as cli_main
    from gui import command as gui_command

    if argv and argv[0] not in COMMANDS and argv[0] != "gui" and Path(argv[0]).exists():
        argv = ["gui", *argv]  # "Open with" and drops on the app icon pass bare paths
    return cli_main(argv, extra_commands={"gui": gui_command}, default="gui")


def run() -> None:
    """Console-script wrapper."""
    sys.exit(main())
