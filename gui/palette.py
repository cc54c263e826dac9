"""Colours of labels and sections, shared by thumbnails, headers and the detail pane."""

from __future__ import annotations

from PySide6.QtGui import QColor

from core.colours import label_colour_hex


def label_colour(label: str | None) -> QColor:
    """:returns: a stable colour for a label (known phone classes have fixed ones, see :mod:`core.colours`)."""
    return QColor(label_colour_hex(label))
