"""Generated test images and archives: the suite never needs a real photo."""

from __future__ import annotations

import io
import zipfile

import numpy as np
from PIL import Image, ImageDraw, ImageFilter


def encode(image: Image.Image, fmt: str = "PNG", **options) -> bytes:
    """:returns: ``image`` encoded in ``fmt``."""
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **options)
    return buffer.getvalue()


def screen_photo(seed: int = 0, size: tuple[int, int] = (320, 180), mark: str | None = None) -> Image.Image:
    """A dark screen-like photo, optionally with a drawn 'scratch', 'stain' or 'oil' mark."""
    rng = np.random.default_rng(seed)
    pixels = rng.normal(35, 5, (size[1], size[0], 3)).clip(0, 255).astype(np.uint8)
    image = Image.fromarray(pixels)
    draw = ImageDraw.Draw(image)
    w, h = size
    if mark == "scratch":
        draw.line([w * 0.2, h * 0.3, w * 0.6, h * 0.4], fill=(240, 240, 240), width=max(1, w // 100))
    elif mark == "stain":
        draw.ellipse([w * 0.7, h * 0.6, w * 0.7 + 6, h * 0.6 + 6], fill=(255, 255, 255))
    elif mark == "oil":
        draw.ellipse([w * 0.3, h * 0.2, w * 0.5, h * 0.6], fill=(90, 80, 60))
    return image


def shape_image(kind: str, seed: int, size: int = 64) -> Image.Image:
    """A small image of one drawn shape class (circle, square, bar) at a random place."""
    rng = np.random.default_rng(seed)
    image = Image.new("RGB", (size, size), tuple(int(v) for v in rng.integers(0, 60, 3)))
    draw = ImageDraw.Draw(image)
    x, y = rng.integers(4, size // 2, 2)
    r = int(rng.integers(size // 6, size // 3))
    colour = tuple(int(v) for v in rng.integers(180, 256, 3))
    if kind == "circle":
        draw.ellipse([x, y, x + r, y + r], fill=colour)
    elif kind == "square":
        draw.rectangle([x, y, x + r, y + r], fill=colour)
    else:
        draw.rectangle([x, y, x + r, y + max(2, r // 5)], fill=colour)
    return image


def zip_bytes(members: dict[str, bytes]) -> bytes:
    """:returns: a ZIP archive (deflated) holding ``members``."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def phone_photo(seed: int, defect: str | None = None, size: tuple[int, int] = (1920, 1080)) -> Image.Image:
    """A synthetic photo in the style of the phone-returns camera: a dark phone screen on a grey
    mat, camera holes at one end, and optionally one drawn defect ('oil', 'scratch', 'stain')."""
    rng = np.random.default_rng(seed)
    w, h = size
    mat = rng.normal(70, 4, (h // 4, w // 4, 3)).clip(0, 255).astype(np.uint8)
    image = Image.fromarray(mat).resize(size, Image.Resampling.BILINEAR)
    draw = ImageDraw.Draw(image)
    left, top, right, bottom = int(w * 0.05), int(h * 0.12), int(w * 0.95), int(h * 0.87)
    draw.rounded_rectangle([left, top, right, bottom], radius=h // 14, fill=(12, 12, 14), outline=(40, 40, 44), width=6)
    for k in range(2):
        cx, cy = left + w * 0.02, top + (bottom - top) * (0.42 + 0.1 * k)
        draw.ellipse([cx - 12, cy - 12, cx + 12, cy + 12], fill=(45, 45, 50))
    x = int(rng.integers(left + w // 6, right - w // 6))
    y = int(rng.integers(top + h // 8, bottom - h // 8))
    if defect == "stain":
        for _ in range(int(rng.integers(1, 4))):
            sx, sy = x + int(rng.integers(-200, 200)), y + int(rng.integers(-100, 100))
            draw.ellipse([sx - 6, sy - 6, sx + 6, sy + 6], fill=(250, 250, 250))
    elif defect == "scratch":
        draw.line([x, y, x + int(rng.integers(150, 400)), y + int(rng.integers(-60, 60))], fill=(200, 200, 205), width=4)
    elif defect == "oil":
        blob = Image.new("L", size, 0)
        ImageDraw.Draw(blob).ellipse([x - 120, y - 90, x + 120, y + 90], fill=90)
        image.paste((60, 58, 52), mask=blob.filter(ImageFilter.GaussianBlur(25)))
    return image
