"""Photo conditions of other cameras and stations: one photo re-rendered as another site would take it.

Each :class:`Condition` changes a full-size photo (and moves its defect mask along when the
change is geometric): exposure, white balance, compression, resolution, rotation, the product
off-centre and smaller in the frame, soft focus, sensor noise. :mod:`core.training.robustness`
measures a model under each of them; training draws random versions of the same changes
(:mod:`core.training.augment`). Pixels uncovered by a geometric change are filled with the
photo's own border colour: what a camera would see around the product.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageFilter

Render = Callable[[Image.Image, Image.Image | None], tuple[Image.Image, Image.Image | None]]


@dataclass(frozen=True)
class Condition:
    """A named way of taking the photo differently.

    :param name: short name (``darker``)
    :param description: what it does, for reports
    :param render: ``(photo, mask or None) -> (photo, mask or None)``
    """

    name: str
    description: str
    render: Render


def border_colour(pixels: np.ndarray) -> tuple[int, int, int]:
    """The background around the product, for what a geometric change uncovers (here and in training).

    :param pixels: ``H x W x 3`` photo
    :returns: the (lower) median colour of its outermost pixels
    """
    edge = np.sort(np.concatenate([pixels[0], pixels[-1], pixels[:, 0], pixels[:, -1]]), axis=0)
    red, green, blue = (int(v) for v in edge[(len(edge) - 1) // 2])
    return red, green, blue


def scale_channels(image: Image.Image, gains: tuple[float, float, float]) -> Image.Image:
    """Multiply each channel (exposure: equal gains; white balance: unequal), clipped to 0..255."""
    pixels = np.asarray(image.convert("RGB"), dtype=np.float32) * np.asarray(gains, dtype=np.float32)
    return Image.fromarray(np.clip(pixels + 0.5, 0, 255).astype(np.uint8))


def add_noise(image: Image.Image, sigma: float, seed: int = 0) -> Image.Image:
    """Add Gaussian sensor noise of ``sigma`` grey levels to every pixel and channel."""
    pixels = np.asarray(image.convert("RGB"), dtype=np.float32)
    noisy = pixels + np.random.default_rng(seed).normal(0.0, sigma, pixels.shape).astype(np.float32)
    return Image.fromarray(np.clip(noisy + 0.5, 0, 255).astype(np.uint8))


def recompress(image: Image.Image, quality: int) -> Image.Image:
    """Return the photo after a JPEG round trip at ``quality`` (1-95)."""
    buffer = io.BytesIO()
    image.convert("RGB").save(buffer, "JPEG", quality=quality)
    buffer.seek(0)
    return Image.open(buffer).convert("RGB")


def place(image: Image.Image, scale: float, shift: tuple[float, float], degrees: float = 0.0) -> Image.Image:
    """Rotate the photo about its centre, shrink it by ``scale`` and move it by ``shift`` (fractions of
    width and height) on a canvas of the same size filled with its border colour."""
    width, height = image.size
    fill = border_colour(np.asarray(image)) if image.mode == "RGB" else 0  # masks are filled with 0
    rotated = image.rotate(degrees, Image.Resampling.BILINEAR, fillcolor=fill) if degrees else image
    small = rotated.resize((round(width * scale), round(height * scale)), Image.Resampling.BILINEAR)
    canvas = Image.new(image.mode, image.size, fill)
    left = round((width - small.width) / 2 + shift[0] * width)
    top = round((height - small.height) / 2 + shift[1] * height)
    canvas.paste(small, (left, top))
    return canvas


def _photometric(change: Callable[[Image.Image], Image.Image]) -> Render:
    return lambda photo, mask: (change(photo), mask)


def _geometric(scale: float, shift: tuple[float, float], degrees: float) -> Render:
    def render(photo: Image.Image, mask: Image.Image | None):
        moved_mask = None if mask is None else _place_mask(mask, scale, shift, degrees)
        return place(photo, scale, shift, degrees), moved_mask

    return render


def _place_mask(mask: Image.Image, scale: float, shift: tuple[float, float], degrees: float) -> Image.Image:
    rotated = mask.rotate(degrees, Image.Resampling.NEAREST, fillcolor=0) if degrees else mask
    return place(rotated.convert("L"), scale, shift)


def _resized(width: int, height: int) -> Render:
    def render(photo: Image.Image, mask: Image.Image | None):
        small = photo.resize((width, height), Image.Resampling.LANCZOS)
        return small, None if mask is None else mask.resize((width, height), Image.Resampling.NEAREST)

    return render


CONDITIONS: tuple[Condition, ...] = (
    Condition("as shot", "the photo as the training camera took it", lambda photo, mask: (photo, mask)),
    Condition("darker", "exposure a third lower (x0.67)", _photometric(lambda p: scale_channels(p, (0.67,) * 3))),
    Condition("brighter", "exposure a third higher (x1.33)", _photometric(lambda p: scale_channels(p, (1.33,) * 3))),
    Condition(
        "warmer",
        "warmer white balance (red x1.15, blue x0.8)",
        _photometric(lambda p: scale_channels(p, (1.15, 1.0, 0.8))),
    ),
    Condition("jpeg q15", "strong JPEG compression (quality 15)", _photometric(lambda p: recompress(p, 15))),
    Condition("1280x720", "a 1280x720 camera instead of 1920x1080", _resized(1280, 720)),
    Condition("rotated 4°", "the phone rotated by 4 degrees", _geometric(1.0, (0.0, 0.0), 4.0)),
    Condition("off-centre", "the phone 80 % as large, moved right and up", _geometric(0.8, (0.08, -0.06), 0.0)),
    Condition(
        "soft focus",
        "soft focus (Gaussian blur, radius 3 px)",
        _photometric(lambda p: p.filter(ImageFilter.GaussianBlur(3))),
    ),
    Condition("noise", "sensor noise (Gaussian, 10 grey levels)", _photometric(lambda p: add_noise(p, 10.0))),
)


def condition_named(name: str) -> Condition:
    """Return the condition called ``name``. :raises ValueError: no such condition."""
    for condition in CONDITIONS:
        if condition.name == name:
            return condition
    raise ValueError(f"no condition '{name}' (choose from {', '.join(c.name for c in CONDITIONS)})")
