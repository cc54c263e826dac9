"""Colour a heatmap and blend it over a photo (numpy + Pillow; the GUI only wraps the result)."""

from __future__ import annotations

import io
from functools import lru_cache

import numpy as np
from PIL import Image, ImageDraw

from core.inference.prediction import Prediction
from core.photos.decode import decode_for_display

BOX_COLOUR = (255, 255, 255)
OVERLAY_EDGE = 1280  # long edge of exported overlay images, in pixels


@lru_cache(maxsize=4)
def colour_table(name: str = "turbo") -> np.ndarray:
    """Return a ``256 x 3`` uint8 lookup table from a matplotlib colormap."""
    from matplotlib import colormaps  # imported on first use: it is slow to import

    return (colormaps[name](np.linspace(0.0, 1.0, 256))[:, :3] * 255).astype(np.uint8)


def resize_map(heatmap: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Bilinearly resize a float map to ``(width, height)``."""
    image = Image.fromarray(heatmap.astype(np.float32), mode="F")
    return np.asarray(image.resize(size, Image.Resampling.BILINEAR))


def heatmap_rgba(heatmap: np.ndarray) -> np.ndarray:
    """Colour a 0..1 heatmap, transparent where it is weak, for painting over a photo.

    :param heatmap: ``h x w`` float map
    :returns: ``h x w x 4`` uint8 RGBA (alpha from 25 % where weak to 100 % where strongest)
    """
    heat = np.clip(heatmap, 0.0, 1.0)
    rgba = np.empty((*heat.shape, 4), dtype=np.uint8)
    rgba[..., :3] = colour_table()[(heat * 255).astype(np.uint8)]
    rgba[..., 3] = (255 * (0.25 + 0.75 * heat)).astype(np.uint8)
    return rgba


def blend_heatmap(
    photo: np.ndarray, heatmap: np.ndarray, opacity: float = 0.5, boxes: list[list[float]] | None = None
) -> np.ndarray:
    """Blend a coloured heatmap over ``photo``; weak regions stay mostly transparent.

    :param photo: ``H x W x 3`` uint8 RGB
    :param heatmap: ``h x w`` float map scaled 0..1
    :param opacity: 0 (photo only) .. 1 (heatmap fully opaque where strongest)
    :param boxes: normalised ``[x0, y0, x1, y1]`` boxes to outline, or None
    :returns: the ``H x W x 3`` uint8 overlay
    """
    height, width = photo.shape[:2]
    rgba = heatmap_rgba(resize_map(heatmap, (width, height))).astype(np.float32)
    alpha = opacity * rgba[..., 3:] / 255.0
    blended = photo.astype(np.float32) * (1.0 - alpha) + rgba[..., :3] * alpha
    result = Image.fromarray(blended.astype(np.uint8))
    if boxes:
        _draw_boxes(result, boxes)
    return np.asarray(result)


def _draw_boxes(image: Image.Image, boxes: list[list[float]]) -> None:
    draw = ImageDraw.Draw(image)
    width, height = image.size
    line = max(2, round(min(width, height) / 200))
    for x0, y0, x1, y1 in boxes:
        left, top = x0 * width, y0 * height
        right, bottom = max(left, x1 * width - 1), max(top, y1 * height - 1)  # a box on a photo of a few pixels
        draw.rectangle([left, top, right, bottom], outline=BOX_COLOUR, width=line)


def overlay_png(prediction: Prediction, data: bytes, opacity: float = 0.5) -> bytes:
    """Return PNG bytes of the photo (``data``) with its heatmap and boxes, long edge ``OVERLAY_EDGE``."""
    return overlay_image(prediction, data, OVERLAY_EDGE, "PNG", opacity)


def overlay_image(prediction: Prediction, data: bytes, edge: int, kind: str = "JPEG", opacity: float = 0.5) -> bytes:
    """Return the photo (``data``) with its heatmap and boxes, long edge ``edge``, encoded as ``kind``."""
    assert prediction.heatmap is not None
    blended = blend_heatmap(decode_for_display(data, edge), prediction.heatmap, opacity, prediction.boxes)
    buffer = io.BytesIO()
    Image.fromarray(blended).save(buffer, format=kind, **({"quality": 85} if kind == "JPEG" else {}))
    return buffer.getvalue()
