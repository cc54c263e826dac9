"""Generated phone photos: the one generator behind the self-test, ``bench``, the benchmarks and the tests.

They look like the returns camera's photos (a dark screen on a grey mat, camera holes at
one end) with an optional drawn defect, so everything can be checked without real photos.
They are no camera photos: the phone model classifies them but flags them *unknown*.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

DEFECTS = (None, "oil", "scratch", "stain")


def phone_photo(seed: int, defect: str | None = None, size: tuple[int, int] = (1920, 1080)) -> Image.Image:
    """A synthetic photo of a phone screen, optionally with one drawn defect.

    :param seed: makes the photo (mat texture, defect position) reproducible
    :param defect: ``oil``, ``scratch``, ``stain`` or None
    :param size: ``(width, height)``
    :returns: an RGB image
    """
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
        draw.line(
            [x, y, x + int(rng.integers(150, 400)), y + int(rng.integers(-60, 60))], fill=(200, 200, 205), width=4
        )
    elif defect == "oil":
        blob = Image.new("L", size, 0)
        ImageDraw.Draw(blob).ellipse([x - 120, y - 90, x + 120, y + 90], fill=90)
        image.paste((60, 58, 52), mask=blob.filter(ImageFilter.GaussianBlur(25)))
    elif defect is not None:
        raise ValueError(f"unknown defect '{defect}' (choose from oil, scratch, stain)")
    return image


def jpeg_bytes(image: Image.Image, quality: int = 90) -> bytes:
    """Return ``image`` encoded as JPEG."""
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=quality)
    return buffer.getvalue()


def write_phone_photos(
    folder: Path, count: int, size: tuple[int, int] = (1920, 1080), distinct: int = 20
) -> list[Path]:
    """Write ``count`` generated phone JPEGs (defects in turn) into ``folder``.

    :param distinct: how many different photos to draw; the rest repeat them (drawing is slow)
    :returns: the files written, in order
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    drawn = [jpeg_bytes(phone_photo(seed, DEFECTS[seed % len(DEFECTS)], size)) for seed in range(min(count, distinct))]
    paths = []
    for number in range(count):
        path = folder / f"phone_{number:06d}.jpg"
        path.write_bytes(drawn[number % len(drawn)])
        paths.append(path)
    return paths
