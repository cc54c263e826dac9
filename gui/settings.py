"""Settings that persist between runs, in an INI file in the user's config folder."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QSettings

from core.paths import user_config_dir

DEFAULTS = {
    "thumbnail_edge": 160,
    "heatmaps": True,
    "opacity": 0.45,
    "model": "",
    "last_folder": "",
    "export_folder": "",
    "export_overlays": True,
    "by_phone": False,  # the "By phone" view instead of the class sections
    "group_by": "folder",  # how photos make phones: folder, or a pattern (core.results.phones.PhoneGrouping)
    "export_report": True,
    "backend": "auto",  # inference backend: auto, torch, onnxruntime or openvino (core.inference.runtime)
    "kept_session": "",  # the session the user quit with "restore next time" (not a crash)
}


class Settings:
    """Typed access to the app's settings (one INI file, so tests can isolate it)."""

    def __init__(self, path: Path | None = None):
        path = path or user_config_dir() / "settings.ini"
        self.qsettings = QSettings(str(path), QSettings.Format.IniFormat)

    def get(self, key: str):
        """Return the stored value converted to the default's type."""
        default = DEFAULTS[key]
        value = self.qsettings.value(key, default)
        if isinstance(default, bool):
            return value if isinstance(value, bool) else str(value).lower() == "true"
        return type(default)(value)

    def set(self, key: str, value) -> None:
        """Store a value."""
        self.qsettings.setValue(key, value)

    def review_threshold(self, model: str, version: str, default: float) -> float:
        """Return the review threshold last used with this version of ``model``, else the model's own: a threshold
        set against one version's confidences says nothing about another's (phone-defects 1.0.0 was sure of nearly
        every photo, 99.81 %; 2.0.0 reviews below 68.85 %)."""
        return float(self.qsettings.value(f"review_threshold/{model}/{version}", default))

    def set_review_threshold(self, model: str, version: str, threshold: float) -> None:
        """Remember the review threshold chosen for this version of ``model``."""
        self.qsettings.setValue(f"review_threshold/{model}/{version}", threshold)

    def geometry(self):
        """Return the saved window geometry (a QByteArray) or None."""
        return self.qsettings.value("window/geometry")

    def set_geometry(self, geometry) -> None:
        """Store the window geometry."""
        self.qsettings.setValue("window/geometry", geometry)

    def sync(self) -> None:
        """Write to disk now."""
        self.qsettings.sync()
