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


_LIBRARY_CACHES = {"MPLCONFIGDIR": "matplotlib", "TORCHINDUCTOR_CACHE_DIR": "torchinductor"}  # variable -> folder
_SET_BY_USER = {name: name in os.environ for name in _LIBRARY_CACHES}  # as the process started: those stay


def default_service_dir() -> Path:
    """Return where ``defectsort serve`` keeps its jobs, uploads and caches unless given ``--jobs-dir``."""
    return user_data_dir() / "service"


def library_cache_for(argv: list[str]) -> Path:
    """Return the folder the libraries' caches belong in for this command line, read before anything heavy is
    imported (torch makes its compile-cache folder on import): the service's ``--jobs-dir``/cache, else
    DefectSort's cache folder.

    :param argv: the arguments after the program's name
    """
    if not argv or argv[0] != "serve":
        return user_cache_dir()
    jobs_dir = default_service_dir()
    for index, argument in enumerate(argv):
        if argument == "--jobs-dir" and index + 1 < len(argv):
            jobs_dir = Path(argv[index + 1])
        elif argument.startswith("--jobs-dir="):
            jobs_dir = Path(argument.split("=", 1)[1])
    return jobs_dir.resolve() / "cache"


def confine_library_files(cache: Path | None = None) -> None:
    """Keep what libraries write for themselves out of the user's home and the temporary folder: matplotlib's
    font cache and torch's compile cache go to ``cache`` (default: DefectSort's cache folder), ONNX
    Runtime's telemetry (a device-id database under ``~/.cache/Microsoft``) is switched off, and OpenVINO's model
    converter is kept out (``import openvino`` brings it in, and it starts a telemetry client that writes
    ``~/intel/openvino_ga_cid``; DefectSort reads ONNX files with the runtime and converts nothing). Call before
    those libraries are imported; a folder the user chose stays.

    :param cache: the folder the libraries' caches go under; None keeps the one an earlier call chose (the entry
        point's: the service's is under ``--jobs-dir``), else DefectSort's cache folder
    """
    for name, folder in _LIBRARY_CACHES.items():
        if not _SET_BY_USER[name] and (cache is not None or name not in os.environ):
            os.environ[name] = str((cache or user_cache_dir()) / folder)
    os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")
    sys.modules.setdefault("openvino.tools.ovc", None)  # type: ignore[arg-type]  # None: "not importable"


def model_search_dirs() -> list[Path]:
    """Return folders searched for bundles, most specific first."""
    extra = [Path(p) for p in os.environ.get(USER_MODELS_ENV, "").split(os.pathsep) if p]
    return [*extra, user_models_dir(), bundled_weights_dir()]
