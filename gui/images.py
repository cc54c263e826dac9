"""numpy arrays from core -> QImage (safe off the GUI thread; QPixmap is not)."""

from __future__ import annotations

import io
import zlib

import numpy as np
from PIL import Image
from PySide6.QtGui import QImage

from core.results.overlay import heatmap_rgba


def rgb_image(pixels: np.ndarray) -> QImage:
    """Return a QImage owning a copy of an ``H x W x 3`` uint8 array."""
    pixels = np.ascontiguousarray(pixels, dtype=np.uint8)
    height, width = pixels.shape[:2]
    return QImage(pixels.data, width, height, 3 * width, QImage.Format.Format_RGB888).copy()


def compressed_thumbnail(pixels: np.ndarray) -> bytes:
    """Return an ``H x W x 3`` thumbnail as JPEG bytes (quality 90): about 15 KB instead of 170 KB, so a day of
    10,000 photos keeps its thumbnails in ~150 MB; :func:`thumbnail_image` opens it again for drawing."""
    buffer = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(pixels, dtype=np.uint8)).save(buffer, "JPEG", quality=90)
    return buffer.getvalue()


def thumbnail_image(data: bytes) -> QImage:
    """Return the QImage of a :func:`compressed_thumbnail` (about half a millisecond)."""
    with Image.open(io.BytesIO(data)) as image:
        return rgb_image(np.asarray(image.convert("RGB")))


def heat_levels(heatmap: np.ndarray) -> bytes:
    """Return a 0..1 heatmap in 256 levels, compressed, with its shape: about 0.5 KB for the phone model's
    48 x 84 map instead of 8 KB at float16, so a day of 10,000 photos keeps its heatmaps in ~5 MB. The levels
    are the colour table's (:func:`core.results.overlay.heatmap_rgba`): drawn, a heatmap looks the same."""
    levels = (np.clip(heatmap, 0.0, 1.0) * 255).astype(np.uint8)
    return np.array(levels.shape, dtype=np.uint16).tobytes() + zlib.compress(levels.tobytes(), 6)


def heatmap_from_levels(data: bytes) -> np.ndarray:
    """Return the 0..1 float32 heatmap of :func:`heat_levels` (the middle of each level)."""
    rows, cols = np.frombuffer(data[:4], dtype=np.uint16)
    levels = np.frombuffer(zlib.decompress(data[4:]), dtype=np.uint8).reshape(int(rows), int(cols))
    return (levels.astype(np.float32) + 0.5) / 255.0


def heatmap_image(heatmap: np.ndarray) -> QImage:
    """Return a 0..1 heatmap coloured by :func:`core.results.overlay.heatmap_rgba`, as an RGBA QImage
    of the same size (low resolution; the painter scales it smoothly)."""
    rgba = np.ascontiguousarray(heatmap_rgba(heatmap))
    height, width = rgba.shape[:2]
    image = QImage(rgba.data, width, height, 4 * width, QImage.Format.Format_RGBA8888)
    return image.convertToFormat(QImage.Format.Format_ARGB32_Premultiplied)  # what the painter blends with
