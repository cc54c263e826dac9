"""Find model bundles: the ones shipped in ``weights/`` and the user's own."""

from __future__ import annotations

from pathlib import Path

from core.model.bundle import METADATA_FILE, Bundle, BundleError, load_bundle
from core.model.promotion import active_versions, version_key
from core.paths import model_search_dirs

DEFAULT_MODEL = "phone-defects"


def all_bundles(search_dirs: list[Path] | None = None) -> list[Bundle]:
    """List every usable bundle, every version, in search order (user folders before bundled).

    :param search_dirs: folders whose sub-folders are bundles; default :func:`model_search_dirs`
    """
    found = []
    for folder in search_dirs if search_dirs is not None else model_search_dirs():
        if not folder.is_dir():
            continue
        for meta in sorted(folder.glob(f"*/{METADATA_FILE}")):
            try:
                found.append(load_bundle(meta.parent))
            except BundleError:
                continue  # a half-copied bundle must not hide the others
    return found


def find_bundles(search_dirs: list[Path] | None = None) -> list[Bundle]:
    """List the version in use of every model: the one chosen in ``active.json`` (a promotion or
    ``defectsort models --use``), else the newest; of equal versions the first found.

    :returns: bundles sorted by name
    """
    chosen = active_versions()
    in_use: dict[str, Bundle] = {}
    for bundle in all_bundles(search_dirs):
        current = in_use.get(bundle.name)
        if current is None or _preferred(bundle, current, chosen.get(bundle.name)):
            in_use[bundle.name] = bundle
    return sorted(in_use.values(), key=lambda b: b.name)


def _preferred(bundle: Bundle, current: Bundle, active: str | None) -> bool:
    if active is not None and (bundle.version == active) != (current.version == active):
        return bundle.version == active
    return version_key(bundle.version) > version_key(current.version)


def resolve_bundle(name_or_dir: str | None = None, search_dirs: list[Path] | None = None) -> Bundle:
    """Turn ``--model`` into a bundle: a bundle folder, a bundle name, or the default.

    :param name_or_dir: a folder path, a bundle name, or None for the default model
    :param search_dirs: see :func:`find_bundles`
    :returns: the bundle
    :raises BundleError: when nothing matches, listing what is available
    """
    if name_or_dir and Path(name_or_dir, METADATA_FILE).is_file():
        return load_bundle(name_or_dir)
    if name_or_dir and "@" in name_or_dir:  # name@version: that version, in use or not
        name, version = name_or_dir.rsplit("@", 1)
        for bundle in all_bundles(search_dirs):
            if (bundle.name, bundle.version) == (name, version):
                return bundle
        raise BundleError(f"no model '{name}' in version {version}")
    bundles = find_bundles(search_dirs)
    wanted = name_or_dir or DEFAULT_MODEL
    for bundle in bundles:
        if bundle.name == wanted:
            return bundle
    if not name_or_dir and bundles:
        return bundles[0]
    available = ", ".join(b.name for b in bundles) or "none installed"
    raise BundleError(f"no model '{wanted}' (available: {available})")
