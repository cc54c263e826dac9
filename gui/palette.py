"""Colours of labels and sections, shared by thumbnails, headers and the detail pane."""

from __future__ import annotations

from PySide6.QtGui import QColor

from core.results.colours import label_colour_hex


def label_colour(label: str | None) -> QColor:
    """Return a stable colour for a label (known phone classes have fixed ones, see :mod:`core.results.colours`)."""
    return QColor(label_colour_hex(label))
