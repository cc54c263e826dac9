"""Where DefectSort finds its bundled files and keeps per-user data.

Bundled folders (``weights/``, ``resources/``) are located relative to the installed
package, or to ``sys._MEIPASS`` in a frozen (PyInstaller) build, never relative to the
current directory, so the app works whatever folder it is started from.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import platformdirs

APP_NAME = "DefectSort"
USER_MODELS_ENV = "DEFECTSORT_MODELS"  # extra bundle folders, separated by os.pathsep


def app_root() -> Path:
    """:returns: the folder that holds ``weights/`` and ``resources/``."""
    frozen_root = getattr(sys, "_MEIPASS", None)
    if frozen_root:
        return Path(frozen_root)
    return Path(__file__).resolve().parent.parent


def bundled_weights_dir() -> Path:
    """:returns: the folder of model bundles shipped with the app."""
    return app_root() / "weights"


def resources_dir() -> Path:
    """:returns: the folder of icons and style sheets."""
    return app_root() / "resources"


def user_models_dir() -> Path:
    """:returns: the per-user folder where trained bundles can be dropped."""
    return Path(platformdirs.user_data_dir(APP_NAME, appauthor=False)) / "models"


def user_log_dir() -> Path:
    """:returns: the per-user log folder (created on demand by the logger)."""
    return Path(platformdirs.user_log_dir(APP_NAME, appauthor=False))


def model_search_dirs() -> list[Path]:
    """:returns: folders searched for bundles, most specific first."""
    extra = [Path(p) for p in os.environ.get(USER_MODELS_ENV, "").split(os.pathsep) if p]
    return [*extra, user_models_dir(), bundled_weights_dir()]
