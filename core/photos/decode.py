"""Decode image bytes into RGB pixels at the model's input size, with Pillow.

EXIF orientation is applied; every image mode (1-bit, palette, alpha, CMYK, 16-bit,
float) becomes 8-bit RGB; large JPEGs are decoded directly at a reduced scale
(``Image.draft``), which costs a fraction of a full 1920x1080 decode; other large images are
box-reduced right after loading, before any conversion, down to twice what is needed.

Memory: every decode first reserves what it will hold (the loaded pixels, the work on the
reduced ones and the encoded bytes) from one budget per process, :data:`DECODE_MEMORY`, and
waits while other decodes hold it; a photo that needs more than the whole budget is refused
in one line. So a batch of huge photos cannot take more memory than the budget, however many
threads decode (the service sets a small budget with ``--decode-memory-mb``).

Two fits to the input (the bundle's ``fit``): ``stretch`` resizes the photo to the input's
shape; ``pad`` keeps its aspect ratio, scales it to fit and pads the rest with the ImageNet
mean colour (zero after normalisation), so a long narrow photo is not squashed. The part
of the input the photo covers is returned (``content``): heatmaps are cut to it.
"""

from __future__ import annotations

import io
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

COPY_AGAIN = "copy the photo again from the camera or the share"  # what an inspector can do about a bad file
MAX_PIXELS = 120_000_000  # refuse decompression bombs well before they fill memory
Image.MAX_IMAGE_PIXELS = MAX_PIXELS  # Pillow's own bomb check (a warning, then an error at twice it) agrees
_SWAPS_AXES = {5, 6, 7, 8}  # EXIF orientations that rotate by 90 degrees
_BACKGROUND = (255, 255, 255)  # transparent pixels are shown on white
FITS = ("stretch", "pad")
PAD_COLOUR = (124, 116, 104)  # the ImageNet mean: padding normalises to about zero
FULL = (0.0, 0.0, 1.0, 1.0)
_REDUCIBLE_MODES = frozenset({"L", "LA", "RGB", "RGBA", "RGBX", "CMYK", "I", "F"})  # box-reduce keeps meaning
_WORK_BYTES_PER_PIXEL = 20  # after reduction: RGB conversion, alpha compositing, thumbnail and fitted copies


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
    every_pixel: bool = False,
) -> DecodedImage:
    """Decode ``data`` and fit it to ``size``.

    :param data: the encoded file
    :param size: ``(height, width)`` the model expects
    :param thumbnail_edge: also return a thumbnail with this long edge, or None
    :param resize: the resampling filter, by Pillow name (the bundle's ``resize``)
    :param fit: ``stretch`` or ``pad`` (the bundle's ``fit``, see the module's notes)
    :param every_pixel: decode the full photo before fitting it (no JPEG draft scaling, no box reduction), as a
        lossless copy of the same pixels would be: training shows the model both, so that it cannot take
        the decoder's traces for a cue
    :returns: a :class:`DecodedImage`
    :raises DecodeError: empty, truncated, corrupt or oversized images
    """
    with _upright(data, None if every_pixel else size) as image:
        fitted, content = fit_to_input(image, size, Image.Resampling[resize.upper()], fit, PAD_COLOUR)
        thumbnail = _thumbnail(image, fitted, content, thumbnail_edge) if thumbnail_edge else None
        return DecodedImage(np.asarray(fitted), image.info["upright_size"], thumbnail, content)


def _thumbnail(
    image: Image.Image, fitted: Image.Image, content: tuple[float, float, float, float], edge: int
) -> np.ndarray:
    """Return ``image`` with its long edge at most ``edge``, in its own proportions: made from the model's input
    when that holds enough pixels (shrinking it costs half of shrinking the decoded photo again: a watching
    window's decode threads spent a third of their time on thumbnails), else from the photo."""
    scale = min(edge / image.width, edge / image.height, 1.0)
    size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
    x0, y0, x1, y1 = (round(share * side) for share, side in zip(content, fitted.size * 2, strict=True))
    if x1 - x0 >= size[0] and y1 - y0 >= size[1]:
        source = fitted if content == FULL else fitted.crop((x0, y0, x1, y1))
    else:
        source = image
    return np.asarray(source.resize(size, Image.Resampling.BILINEAR, reducing_gap=2.0))


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
    with _upright(data, (edge, edge)) as image:
        image.thumbnail((edge, edge), Image.Resampling.BILINEAR)
        return np.asarray(image)


def open_upright(data: bytes, draft_size: tuple[int, int] | None = None) -> Image.Image:
    """Open, orient and convert an image to RGB.

    :param data: the encoded file
    :param draft_size: ``(height, width)`` needed; the image may then be decoded or reduced to a smaller
        scale, never below twice it (JPEG: never below it); None keeps every pixel
    :returns: an RGB image whose ``info["upright_size"]`` is the full upright ``(width, height)``
    :raises DecodeError: when the bytes are not a usable image, or need more memory than the budget
    """
    with _upright(data, draft_size) as image:
        return image


@contextmanager
def _upright(data: bytes, draft_size: tuple[int, int] | None) -> Iterator[Image.Image]:
    """:func:`open_upright`, holding the photo's share of :data:`DECODE_MEMORY` while the caller works on it."""
    if not data:
        raise DecodeError(f"empty file (0 bytes): {COPY_AGAIN}")
    image = _open(data)
    stored_size = image.size  # before a JPEG draft shrinks it
    # A JPEG's EXIF is in its header; a PNG's may follow its pixels, and Pillow loads them all to look: read
    # it only once the memory is reserved.
    orientation = image.getexif().get(0x0112, 1) if image.format == "JPEG" else 1
    needed = None
    if draft_size:
        needed = draft_size[::-1] if orientation in _SWAPS_AXES else draft_size  # (height, width) as stored
        if image.format == "JPEG":
            image.draft("RGB", (needed[1], needed[0]))
    factor = _reduction(image, needed)
    with DECODE_MEMORY.reserve(_memory_needed(image, factor, len(data))):
        try:
            image.load()
            orientation = image.getexif().get(0x0112, 1)
            if factor > 1:
                image = image.reduce(factor)
            if orientation != 1:  # (upright already: exif_transpose would only copy it)
                image = ImageOps.exif_transpose(image)
            rgb = to_rgb(image)
        except (OSError, ValueError, SyntaxError) as error:
            raise DecodeError(f"damaged or cut-short photo ({_one_line(error)}): {COPY_AGAIN}") from None
        rgb.info["upright_size"] = stored_size[::-1] if orientation in _SWAPS_AXES else stored_size
        yield rgb


def _reduction(image: Image.Image, needed: tuple[int, int] | None) -> int:
    """Return the box-reduction factor that keeps the image at least twice ``needed`` (1: none)."""
    if needed is None or image.mode not in _REDUCIBLE_MODES:
        return 1
    return max(1, min(image.height // (2 * needed[0]), image.width // (2 * needed[1])))


def _memory_needed(image: Image.Image, factor: int, encoded: int) -> int:
    """Return the bytes a decode holds at its peak: loaded pixels, work on the reduced ones, encoded bytes."""
    pixels = image.width * image.height
    bytes_per_pixel = 1 if image.mode in ("1", "L", "P") else 2 if image.mode.startswith("I;16") else 4
    return pixels * bytes_per_pixel + pixels // (factor * factor) * _WORK_BYTES_PER_PIXEL + encoded


class MemoryBudget:
    """Bytes that decodes running at once may hold together; a reservation waits until they are free.

    :param limit: the budget in bytes
    """

    def __init__(self, limit: int):
        self.limit = limit
        self._held = 0
        self._changed = threading.Condition()

    @contextmanager
    def reserve(self, amount: int) -> Iterator[None]:
        """Hold ``amount`` bytes of the budget for the ``with`` block (waiting for them if needed).

        :raises DecodeError: when ``amount`` is more than the whole budget
        """
        if amount > self.limit:
            raise DecodeError(
                f"photo too large to decode here (needs about {amount / 2**20:,.0f} MB, "
                f"limit {self.limit / 2**20:,.0f} MB): save a smaller copy"
            )
        with self._changed:
            while self._held + amount > self.limit:
                self._changed.wait()
            self._held += amount
        try:
            yield
        finally:
            with self._changed:
                self._held -= amount
                self._changed.notify_all()


DECODE_MEMORY = MemoryBudget(3 * 2**30)  # one photo at the pixel limit, even unreduced (the window and the CLI)


def upright_size(image: Image.Image) -> tuple[int, int]:
    """Return ``(width, height)`` of an opened (not necessarily loaded) image once its EXIF orientation is
    applied."""
    width, height = image.size
    return (height, width) if image.getexif().get(0x0112, 1) in _SWAPS_AXES else (width, height)


GREY_MODES = ("1", "L", "LA", "I", "I;16", "F", "P")  # P: grey when its palette is
GREY_CHECK_EDGE = 64  # a colour-stored photo is looked at this small (JPEG draft: a fraction of a decode)
GREY_CHECK_PIXELS = 4_000_000  # larger photos that cannot be drafted (PNG, TIFF...) are not decoded to check
GREY_TOLERANCE = 3  # grey levels the channels may differ by (JPEG rounding) in a grey photo stored as colour


def is_grey(image: Image.Image) -> bool:
    """Return whether an opened photo is grey: a grey mode, or colour channels that are equal everywhere (a
    grey camera's photo saved as RGB, like the casting photos). Reads a small draft of the pixels (a colour photo
    larger than :data:`GREY_CHECK_PIXELS` that has no draft is taken as colour); the image's size may change
    (read :func:`upright_size` first).

    :param image: an opened Pillow image
    """
    if image.mode in GREY_MODES:
        return image.mode != "P" or _grey_palette(image)
    if image.format != "JPEG" and image.size[0] * image.size[1] > GREY_CHECK_PIXELS:
        return False  # only a full decode could tell: left as colour
    image.draft("RGB", (GREY_CHECK_EDGE, GREY_CHECK_EDGE))
    small = to_rgb(image.reduce(max(1, min(image.size) // GREY_CHECK_EDGE)))
    channels = np.asarray(small, dtype=np.int16)
    return bool(np.abs(np.diff(channels, axis=2)).max() <= GREY_TOLERANCE)


def _grey_palette(image: Image.Image) -> bool:
    palette = image.getpalette() or []
    return all(palette[i] == palette[i + 1] == palette[i + 2] for i in range(0, len(palette) - 2, 3))


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
