"""numpy arrays from core -> QImage (safe off the GUI thread; QPixmap is not)."""

from __future__ import annotations

import numpy as np
from PySide6.QtGui import QImage

from core.overlay import colour_table


def rgb_image(pixels: np.ndarray) -> QImage:
    """:returns: a QImage owning a copy of an ``H x W x 3`` uint8 array."""
    pixels = np.ascontiguousarray(pixels, dtype=np.uint8)
    height, width = pixels.shape[:2]
    return QImage(pixels.data, width, height, 3 * width, QImage.Format.Format_RGB888).copy()


def heatmap_image(heatmap: np.ndarray) -> QImage:
    """Colour a 0..1 heatmap, transparent where it is weak, for painting over a photo.

    :param heatmap: ``h x w`` float map (low resolution; the painter scales it smoothly)
    :returns: an RGBA QImage of the same size
    """
    heat = np.clip(heatmap, 0.0, 1.0)
    rgba = np.empty((*heat.shape, 4), dtype=np.uint8)
    rgba[..., :3] = colour_table()[(heat * 255).astype(np.uint8)]
    rgba[..., 3] = (255 * (0.25 + 0.75 * heat)).astype(np.uint8)
    height, width = heat.shape
    return QImage(rgba.data, width, height, 4 * width, QImage.Format.Format_RGBA8888).copy()
