"""Installing a retrained model as the default, and rolling back: which version of a model is in use.

Promoted bundles are copied into the user's models folder as ``<name>-<version>/``; the file
``active.json`` beside them says which version of each model name is in use. Without an
entry, the newest version wins (user folders before the bundled ``weights/``).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from core.files import safe_file_name, write_text_atomic
from core.model.bundle import Bundle, BundleError, write_metadata
from core.paths import user_models_dir

ACTIVE_FILE = "active.json"


def active_versions(folder: Path | None = None) -> dict[str, str]:
    """Return model name -> the version in use, as chosen with :func:`use_version` or a promotion."""
    path = (folder or user_models_dir()) / ACTIVE_FILE
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else {}


def use_version(name: str, version: str, folder: Path | None = None) -> None:
    """Make ``version`` of the model ``name`` the one used from now on (also to roll back)."""
    folder = folder or user_models_dir()
    folder.mkdir(parents=True, exist_ok=True)
    chosen = {**active_versions(folder), name: version}
    write_text_atomic(folder / ACTIVE_FILE, json.dumps(chosen, indent=2, sort_keys=True) + "\n")


def promote(bundle: Bundle, folder: Path | None = None) -> Path:
    """Install a candidate that passed the gate as the version in use of its model.

    :returns: the installed bundle's folder
    :raises BundleError: when the candidate did not pass the gate
    """
    if not bundle.promotion.get("passed"):
        raise BundleError(f"{bundle.name} {bundle.version} did not pass the promotion gate; it is not installed")
    folder = folder or user_models_dir()
    target = folder / safe_file_name(f"{bundle.name}-{bundle.version}", fallback="model")
    if target.exists():
        shutil.rmtree(target)
    shutil.copytree(bundle.weights_path.parent, target)
    bundle.promotion["promoted"] = True
    installed = Bundle(**{**bundle.to_json(), "folder": target})
    write_metadata(installed)
    use_version(bundle.name, bundle.version, folder)
    return target


def version_key(version: str) -> tuple[int, ...]:
    """Return a sortable key for ``1.10.0`` style versions."""
    return tuple(int(part) if part.isdigit() else 0 for part in version.split("."))
