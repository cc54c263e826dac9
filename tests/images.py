"""Generated test images and archives: the suite never needs a real photo.

Phone-like photos come from :mod:`core.photos.samples`, the generator the self-test and ``bench`` use.
"""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw


def encode(image: Image.Image, fmt: str = "PNG", **options) -> bytes:
    """Return ``image`` encoded in ``fmt``."""
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


SHAPES = ("bar", "circle", "square")


def write_shapes(root: Path, per_class: int) -> Path:
    """Write a class folder per shape under ``root``, two photos per group (``bar_03_1.png``: group ``bar_03``).

    :param root: the dataset folder (created)
    :param per_class: photos of each shape
    :returns: ``root``
    """
    for index, kind in enumerate(SHAPES):
        (root / kind).mkdir(parents=True)
        for i in range(per_class):
            shape_image(kind, 100 * index + i).save(root / kind / f"{kind}_{i // 2:02d}_{i % 2}.png")
    return root


def write_screens(root: Path, per_class: int = 16) -> Path:
    """Write ``good`` and ``scratch`` folders of screen photos, two photos per phone (``s_03_1.png``: phone ``s_03``).

    :param root: the dataset folder (created)
    :param per_class: photos of each class
    :returns: ``root``
    """
    for label, mark, first_seed in (("good", None, 0), ("scratch", "scratch", 50)):
        (root / label).mkdir(parents=True)
        for i in range(per_class):
            screen_photo(first_seed + i, mark=mark).save(root / label / f"s_{i // 2:02d}_{i % 2}.png")
    return root


def zip_bytes(members: dict[str, bytes], compression: int = zipfile.ZIP_DEFLATED) -> bytes:
    """Return a ZIP archive holding ``members`` (deflated unless ``compression`` says otherwise)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()
