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
    """Return the folder that holds ``weights/`` and ``resources/``."""
    frozen_root = getattr(sys, "_MEIPASS", None)
    if frozen_root:
        return Path(frozen_root)
    return Path(__file__).resolve().parent.parent


def bundled_weights_dir() -> Path:
    """Return the folder of model bundles shipped with the app."""
    return app_root() / "weights"


def resources_dir() -> Path:
    """Return the folder of icons and style sheets."""
    return app_root() / "resources"


def user_data_dir() -> Path:
    """Return the per-user data folder: the session journal, run history, models, candidates, service jobs."""
    return Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))


def user_cache_dir() -> Path:
    """Return the per-user cache folder (exported ONNX models; anything that can be made again)."""
    return Path(platformdirs.user_cache_dir(APP_NAME, appauthor=False))


def user_config_dir() -> Path:
    """Return the per-user settings folder."""
    return Path(platformdirs.user_config_dir(APP_NAME, appauthor=False))


def user_models_dir() -> Path:
    """Return the per-user folder where trained bundles can be dropped."""
    return user_data_dir() / "models"


def user_log_dir() -> Path:
    """Return the per-user log folder (created on demand by the logger)."""
    return Path(platformdirs.user_log_dir(APP_NAME, appauthor=False))


def confine_library_files() -> None:
    """Keep what libraries write for themselves out of the user's home: matplotlib's font cache goes to
    DefectSort's cache folder, and ONNX Runtime's telemetry (a device-id database under
    ``~/.cache/Microsoft``) is switched off. Call before those libraries are imported; a value the user
    set stays."""
    os.environ.setdefault("MPLCONFIGDIR", str(user_cache_dir() / "matplotlib"))
    os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")


def model_search_dirs() -> list[Path]:
    """Return folders searched for bundles, most specific first."""
    extra = [Path(p) for p in os.environ.get(USER_MODELS_ENV, "").split(os.pathsep) if p]
    return [*extra, user_models_dir(), bundled_weights_dir()]
