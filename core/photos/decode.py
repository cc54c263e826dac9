"""Decode image bytes into RGB pixels at the model's input size, with Pillow.

EXIF orientation is applied; every image mode (1-bit, palette, alpha, CMYK, 16-bit,
float) becomes 8-bit RGB; large JPEGs are decoded directly at a reduced scale
(``Image.draft``), which costs a fraction of a full 1920x1080 decode.

Two fits to the input (the bundle's ``fit``): ``stretch`` resizes the photo to the input's
shape; ``pad`` keeps its aspect ratio, scales it to fit and pads the rest with the ImageNet
mean colour (zero after normalisation), so a long narrow photo is not squashed. The part
of the input the photo covers is returned (``content``): heatmaps are cut to it.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

COPY_AGAIN = "copy the photo again from the camera or the share"  # what an inspector can do about a bad file
MAX_PIXELS = 120_000_000  # refuse decompression bombs well before they fill memory
_SWAPS_AXES = {5, 6, 7, 8}  # EXIF orientations that rotate by 90 degrees
_BACKGROUND = (255, 255, 255)  # transparent pixels are shown on white
FITS = ("stretch", "pad")
PAD_COLOUR = (124, 116, 104)  # the ImageNet mean: padding normalises to about zero
FULL = (0.0, 0.0, 1.0, 1.0)


class DecodeError(Exception):
    """The bytes are not a usable image; the message is one line meant for the user."""


@dataclass(frozen=True)
class DecodedImage:
    """Pixels ready for the model plus what the views need.

    :param pixels: ``H x W x 3`` uint8 array at the requested input size
    :param original_size: ``(width, height)`` of the upright photo
    :param thumbnail: small upright RGB array (long edge ``thumbnail_edge``), or None
    :param content: ``(x0, y0, x1, y1)``, 0..1: the part of ``pixels`` the photo covers (all of it unless padded)
    """

    pixels: np.ndarray
    original_size: tuple[int, int]
    thumbnail: np.ndarray | None = None
    content: tuple[float, float, float, float] = FULL


def decode(
    data: bytes,
    size: tuple[int, int],
    thumbnail_edge: int | None = None,
    resize: str = "bilinear",
    fit: str = "stretch",
) -> DecodedImage:
    """Decode ``data`` and fit it to ``size``.

    :param data: the encoded file
    :param size: ``(height, width)`` the model expects
    :param thumbnail_edge: also return a thumbnail with this long edge, or None
    :param resize: the resampling filter, by Pillow name (the bundle's ``resize``)
    :param fit: ``stretch`` or ``pad`` (the bundle's ``fit``, see the module's notes)
    :returns: a :class:`DecodedImage`
    :raises DecodeError: empty, truncated, corrupt or oversized images
    """
    image = open_upright(data, draft_size=size)
    fitted, content = fit_to_input(image, size, Image.Resampling[resize.upper()], fit, PAD_COLOUR)
    thumbnail = None
    if thumbnail_edge:
        small = image.copy()
        small.thumbnail((thumbnail_edge, thumbnail_edge), Image.Resampling.BILINEAR, reducing_gap=2.0)
        thumbnail = np.asarray(small)
    return DecodedImage(np.asarray(fitted), image.info["upright_size"], thumbnail, content)


def fit_to_input(
    image: Image.Image, size: tuple[int, int], method: Image.Resampling, fit: str, fill: int | tuple[int, int, int]
) -> tuple[Image.Image, tuple[float, float, float, float]]:
    """Resize ``image`` (a photo, or its mask) to ``size`` by ``fit``, padding with ``fill``.

    :returns: the fitted image and the ``(x0, y0, x1, y1)`` share of it the image covers
    """
    height, width = size
    if fit == "stretch":
        return image.resize((width, height), method, reducing_gap=2.0), FULL
    if fit != "pad":
        raise ValueError(f"unknown fit '{fit}' (choose from {', '.join(FITS)})")
    scale = min(width / image.width, height / image.height)
    inner = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
    left, top = (width - inner[0]) // 2, (height - inner[1]) // 2
    canvas = Image.new(image.mode, (width, height), fill)
    canvas.paste(image.resize(inner, method, reducing_gap=2.0), (left, top))
    return canvas, (left / width, top / height, (left + inner[0]) / width, (top + inner[1]) / height)


def decode_for_display(data: bytes, edge: int) -> np.ndarray:
    """Decode a photo upright for showing it, its long edge at most ``edge`` pixels.

    :returns: ``H x W x 3`` uint8 RGB
    :raises DecodeError: when the bytes are not a usable image
    """
    image = open_upright(data, draft_size=(edge, edge))
    image.thumbnail((edge, edge), Image.Resampling.BILINEAR)
    return np.asarray(image)


def open_upright(data: bytes, draft_size: tuple[int, int] | None = None) -> Image.Image:
    """Open, orient and convert an image to RGB.

    :param data: the encoded file
    :param draft_size: ``(height, width)``; JPEGs may then decode at a smaller scale, never below it
    :returns: an RGB image whose ``info["upright_size"]`` is the full upright ``(width, height)``
    :raises DecodeError: when the bytes are not a usable image
    """
    if not data:
        raise DecodeError(f"empty file (0 bytes): {COPY_AGAIN}")
    image = _open(data)
    orientation = image.getexif().get(0x0112, 1)
    width, height = upright_size(image)
    if draft_size and image.format == "JPEG":
        wanted_h, wanted_w = draft_size
        if orientation in _SWAPS_AXES:
            wanted_h, wanted_w = wanted_w, wanted_h
        image.draft("RGB", (wanted_w, wanted_h))
    try:
        image.load()
        image = ImageOps.exif_transpose(image)
        rgb = to_rgb(image)
    except (OSError, ValueError, SyntaxError) as error:
        raise DecodeError(f"damaged or cut-short photo ({_one_line(error)}): {COPY_AGAIN}") from None
    rgb.info["upright_size"] = (width, height)
    return rgb


def upright_size(image: Image.Image) -> tuple[int, int]:
    """Return ``(width, height)`` of an opened (not necessarily loaded) image once its EXIF orientation is
    applied."""
    width, height = image.size
    return (height, width) if image.getexif().get(0x0112, 1) in _SWAPS_AXES else (width, height)


def _open(data: bytes) -> Image.Image:
    try:
        image = Image.open(io.BytesIO(data))
    except UnidentifiedImageError:
        raise DecodeError("not a photo DefectSort can open: save it as JPEG, PNG, BMP, TIFF or WebP") from None
    except Image.DecompressionBombError:
        raise DecodeError("photo too large to open safely: save a smaller copy (at most 120 megapixels)") from None
    except (OSError, ValueError, SyntaxError) as error:
        raise DecodeError(f"damaged photo header ({_one_line(error)}): {COPY_AGAIN}") from None
    width, height = image.size
    if width * height > MAX_PIXELS:
        raise DecodeError(f"photo too large ({width} x {height} pixels; limit {MAX_PIXELS:,}): save a smaller copy")
    if width == 0 or height == 0:
        raise DecodeError("image has no pixels")
    return image


def to_rgb(image: Image.Image) -> Image.Image:
    """Convert any Pillow mode to 8-bit RGB (alpha composited on white, 16-bit scaled down).

    :param image: a loaded Pillow image
    :returns: an RGB image
    """
    if image.mode == "RGB":
        return image
    if image.mode.startswith("I") or image.mode == "F":
        return Image.fromarray(_wide_to_8bit(np.asarray(image)), "L").convert("RGB")
    if "A" in image.mode or "transparency" in image.info:
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (*_BACKGROUND, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    return image.convert("RGB")


def _wide_to_8bit(values: np.ndarray) -> np.ndarray:
    """Scale 16/32-bit integer or float grey values to 0..255."""
    values = values.astype(np.float64)
    top = values.max(initial=0.0)
    if top <= 255:
        scale = 1.0
    elif top <= 65535:
        scale = 255.0 / 65535.0
    else:
        scale = 255.0 / top
    return np.clip(values * scale, 0, 255).astype(np.uint8)


def _one_line(error: Exception) -> str:
    text = str(error).strip().splitlines()
    return text[0] if text else type(error).__name__
