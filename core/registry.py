"""Find model bundles: the ones shipped in ``weights/`` and the user's own."""

from __future__ import annotations

from pathlib import Path

from core.bundle import METADATA_FILE, Bundle, BundleError, load_bundle
from core.paths import model_search_dirs

DEFAULT_MODEL = "phone-defects"


def find_bundles(search_dirs: list[Path] | None = None) -> list[Bundle]:
    """List every usable bundle; the first of equal names wins (user folders before bundled).

    :param search_dirs: folders whose sub-folders are bundles; default :func:`model_search_dirs`
    :returns: bundles sorted by name
    """
    found: dict[str, Bundle] = {}
    for folder in search_dirs if search_dirs is not None else model_search_dirs():
        if not folder.is_dir():
            continue
        for meta in sorted(folder.glob(f"*/{METADATA_FILE}")):
            try:
                bundle = load_bundle(meta.parent)
            except BundleError:
                continue  # a half-copied bundle must not hide the others
            found.setdefault(bundle.name, bundle)
    return sorted(found.values(), key=lambda b: b.name)


def resolve_bundle(name_or_dir: str | None = None, search_dirs: list[Path] | None = None) -> Bundle:
    """Turn ``--model`` into a bundle: a bundle folder, a bundle name, or the default.

    :param name_or_dir: a folder path, a bundle name, or None for the default model
    :param search_dirs: see :func:`find_bundles`
    :returns: the bundle
    :raises BundleError: when nothing matches, listing what is available
    """
    if name_or_dir and Path(name_or_dir, METADATA_FILE).is_file():
        return load_bundle(name_or_dir)
    bundles = find_bundles(search_dirs)
    wanted = name_or_dir or DEFAULT_MODEL
    for bundle in bundles:
        if bundle.name == wanted:
            return bundle
    if not name_or_dir and bundles:
        return bundles[0]
    available = ", ".join(b.name for b in bundles) or "none installed"
    raise BundleError(f"no model '{wanted}' (available: {available})")
