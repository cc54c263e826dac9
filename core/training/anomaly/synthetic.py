"""Defects drawn onto held-out good photos: a check of an anomaly model that needs no defect photo.

Good-only anomaly training has no defect to measure itself on, yet it must choose how it looks at the photos
(input size, fit). Each held-out good photo is shown once as it is and once per kind below, drawn on the
photo at its own resolution, before it is fitted to the model's input: a hairline that a small input blurs
away is lost there as a real one would be. The image AUROC of good against drawn says which settings see
small defects (:mod:`core.training.anomaly.recipe`). The kinds are the shapes surface defects take, each a
few percent of the photo or less, with the contrast a real one has against its own background:

* ``crack``: a hairline 0.4-1 % of the short side wide (1-3 px on a 300-px photo), a few bends, 15-40 % of
  the short side long;
* ``spot``: a small round hole or speck, radius 1.5-4 % of the short side;
* ``smudge``: a soft, low-contrast patch (uneven surface, oil), 5-12 % of the short side;
* ``scar``: a thin strip of the photo itself, cut from elsewhere, 20-40 levels lighter or darker, pasted turned
  (CutPaste).
"""

from __future__ import annotations

import math

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

KINDS = ("crack", "spot", "smudge", "scar")
CONTRAST = {"crack": 60.0, "spot": 50.0, "smudge": 25.0}  # grey levels against the local background


def draw_defect(pixels: np.ndarray, kind: str, rng: np.random.Generator) -> np.ndarray:
    """Return a copy of the photo ``pixels`` (``H x W x 3`` uint8) with one drawn defect of ``kind`` (:data:`KINDS`).

    :param rng: where it goes, its size and shape
    """
    height, width = pixels.shape[:2]
    box = (0, 0, width, height)
    if kind == "scar":
        return _scar(pixels, box, rng)
    mask = _MASKS[kind](box, (width, height), rng)
    return _shade(pixels, mask, CONTRAST[kind])


def _crack(box, size: tuple[int, int], rng: np.random.Generator) -> Image.Image:
    short = min(box[2] - box[0], box[3] - box[1])
    length = rng.uniform(0.15, 0.4) * short
    x, y = _point(box, rng)
    angle = rng.uniform(0, 2 * math.pi)
    points = [(x, y)]
    for _ in range(4):
        angle += rng.normal(0, 0.5)
        x, y = x + math.cos(angle) * length / 4, y + math.sin(angle) * length / 4
        points.append((x, y))
    mask = Image.new("L", size, 0)
    thickness = max(1, round(rng.uniform(0.004, 0.01) * short))
    ImageDraw.Draw(mask).line(points, fill=255, width=thickness, joint="curve")
    return mask


def _spot(box, size: tuple[int, int], rng: np.random.Generator) -> Image.Image:
    radius = max(1.0, rng.uniform(0.015, 0.04) * min(box[2] - box[0], box[3] - box[1]))
    x, y = _point(box, rng)
    mask = Image.new("L", size, 0)
    ImageDraw.Draw(mask).ellipse((x - radius, y - radius, x + radius, y + radius), fill=255)
    return mask.filter(ImageFilter.GaussianBlur(0.7))


def _smudge(box, size: tuple[int, int], rng: np.random.Generator) -> Image.Image:
    radius = rng.uniform(0.05, 0.12) * min(box[2] - box[0], box[3] - box[1])
    x, y = _point(box, rng)
    mask = Image.new("L", size, 0)
    ImageDraw.Draw(mask).ellipse((x - radius, y - radius * 0.6, x + radius, y + radius * 0.6), fill=255)
    return mask.filter(ImageFilter.GaussianBlur(radius / 2))


_MASKS = {"crack": _crack, "spot": _spot, "smudge": _smudge}


def _point(box, rng: np.random.Generator) -> tuple[float, float]:
    """A point well inside the box (10-90 % of each side)."""
    return (
        box[0] + rng.uniform(0.1, 0.9) * (box[2] - box[0]),
        box[1] + rng.uniform(0.1, 0.9) * (box[3] - box[1]),
    )


def _shade(pixels: np.ndarray, mask: Image.Image, contrast: float) -> np.ndarray:
    """Darken the masked pixels on a bright background, brighten them on a dark one, by ``contrast`` levels."""
    weight = np.asarray(mask, dtype=np.float32)[:, :, None] / 255.0
    if not weight.any():
        return pixels.copy()
    background = float((pixels * weight).sum() / (3 * weight.sum()))
    sign = -1.0 if background > 127 else 1.0
    shaded = pixels.astype(np.float32) + sign * contrast * weight
    return np.clip(shaded, 0, 255).astype(np.uint8)


def _scar(pixels: np.ndarray, box, rng: np.random.Generator) -> np.ndarray:
    """Paste a thin strip of the photo, cut elsewhere, turned, into the box (CutPaste's scar)."""
    short = min(box[2] - box[0], box[3] - box[1])
    strip_w, strip_h = max(2, round(rng.uniform(0.02, 0.04) * short)), max(4, round(rng.uniform(0.15, 0.3) * short))
    image = Image.fromarray(pixels)
    sx, sy = _point((box[0], box[1], box[2] - strip_w, box[3] - strip_h), rng)
    strip = image.crop((round(sx), round(sy), round(sx) + strip_w, round(sy) + strip_h))
    shift = rng.choice((-1.0, 1.0)) * rng.uniform(20, 40)  # a strip of the same surface is seen by its edges only
    strip = Image.fromarray(np.clip(np.asarray(strip, np.float32) + shift, 0, 255).astype(np.uint8)).convert("RGBA")
    strip = strip.rotate(rng.uniform(20, 160), expand=True, resample=Image.Resampling.BILINEAR)
    tx, ty = _point((box[0], box[1], box[2] - strip.width, box[3] - strip.height), rng)
    image.paste(strip, (round(tx), round(ty)), strip)
    return np.asarray(image)
