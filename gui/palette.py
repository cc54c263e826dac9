"""Colours of labels and sections, shared by thumbnails, headers and the detail pane."""

from __future__ import annotations

import zlib

from PySide6.QtGui import QColor

_KNOWN = {
    "good": "#2e7d32",
    "oil": "#b26a00",
    "scratch": "#6a3fb5",
    "stain": "#c62828",
    "review": "#e07b00",
    "unknown": "#0b7285",
    "errors": "#6e7781",
}


def label_colour(label: str | None) -> QColor:
    """:returns: a stable colour for a label (known phone classes have fixed ones)."""
    if not label:
        return QColor(_KNOWN["errors"])
    if label in _KNOWN:
        return QColor(_KNOWN[label])
    return QColor.fromHsv(zlib.crc32(label.encode()) % 360, 160, 170)
