"""Logging to a rotating file in the user's log folder (windowed builds have no console)."""

from __future__ import annotations

import logging
import logging.handlers
import sys
from pathlib import Path

from core.paths import user_log_dir

LOG_FILE_NAME = "defectsort.log"


def setup_logging(level: int = logging.INFO) -> Path:
    """Send log records to ``<user log dir>/defectsort.log`` (and stderr when there is one).

    :param level: the root logger's level
    :returns: the log file path
    """
    folder = user_log_dir()
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / LOG_FILE_NAME
    root = logging.getLogger()
    root.setLevel(level)
    if not any(isinstance(h, logging.handlers.RotatingFileHandler) for h in root.handlers):
        handler = logging.handlers.RotatingFileHandler(path, maxBytes=2_000_000, backupCount=3, encoding="utf-8")
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        root.addHandler(handler)
        if sys.stderr is not None:
            console = logging.StreamHandler(sys.stderr)
            console.setLevel(logging.WARNING)
            root.addHandler(console)
    return path
