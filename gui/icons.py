"""Icons and the style sheet from ``resources/`` (found next to the package or in a frozen build)."""

from __future__ import annotations

from functools import cache

from PySide6.QtGui import QIcon

from core.paths import resources_dir


@cache
def icon(name: str) -> QIcon:
    """Return ``resources/icons/<name>.svg`` as a QIcon (empty if missing)."""
    return QIcon(str(resources_dir() / "icons" / f"{name}.svg"))


def style_sheet() -> str:
    """Return the application style sheet, or '' when it is missing."""
    path = resources_dir() / "style.qss"
    return path.read_text(encoding="utf-8") if path.is_file() else ""
