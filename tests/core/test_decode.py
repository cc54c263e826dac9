"""Decoding every image mode, EXIF orientation, reduced-size JPEG decoding, broken files."""

import numpy as np
import pytest
from PIL import Image

from core.photos import decode as decode_module
from core.photos.decode import DecodeError, decode
from tests.images import encode, screen_photo

SIZE = (60, 80)  # model input (height, width)


@pytest.mark.parametrize("mode", ["1", "L", "P", "RGB", "RGBA", "LA", "CMYK", "I;16", "I", "F"])
def test_every_mode_becomes_rgb(mode):
    image = (
        screen_photo(2, size=(160, 120)).convert("L").convert(mode)
        if mode in ("I;16", "I", "F")
        else screen_photo(2, size=(160, 120)).convert(mode)
    )
    fmt = "TIFF" if mode in ("CMYK", "I;16", "I", "F") else "PNG"
    decoded = decode(encode(image, fmt), SIZE, thumbnail_edge=40)
    assert decoded.pixels.shape == (60, 80, 3) and decoded.pixels.dtype == np.uint8
    assert decoded.original_size == (160, 120)
    assert max(decoded.thumbnail.shape[:2]) == 40


def test_sixteen_bit_values_are_scaled_not_clipped():
    values = np.full((20, 20), 30000, dtype=np.uint16)
    decoded = decode(encode(Image.fromarray(values), "PNG"), (20, 20))
    assert 110 <= decoded.pixels[0, 0, 0] <= 120  # 30000 / 65535 * 255 = 116.7


def test_alpha_is_composited_on_white():
    image = Image.new("RGBA", (10, 10), (255, 0, 0, 0))
    assert tuple(decode(encode(image), (10, 10)).pixels[5, 5]) == (255, 255, 255)


def test_exif_orientation_is_applied():
    image = Image.new("RGB", (40, 20), (0, 0, 0))
    image.paste((255, 255, 255), (0, 0, 20, 20))  # left half white
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise to display
    decoded = decode(encode(image, "JPEG", exif=exif.tobytes()), (40, 20))
    assert decoded.original_size == (20, 40)
    assert decoded.pixels[:15].mean() > 200 and decoded.pixels[25:].mean() < 50  # white half now on top


def test_large_jpeg_is_drafted_and_matches_full_decode():
    data = encode(screen_photo(3, size=(1920, 1080), mark="scratch"), "JPEG", quality=92)
    drafted = decode(data, (270, 480)).pixels.astype(float)
    full = np.asarray(Image.open(__import__("io").BytesIO(data)).convert("RGB").resize((480, 270))).astype(float)
    assert np.abs(drafted - full).mean() < 4.0


def test_decoding_every_pixel_gives_what_a_lossless_copy_of_the_jpeg_gives():
    """Training sees both decodes (draft and every pixel): a JPEG and its PNG copy must not look different."""
    data = encode(screen_photo(5, size=(1920, 1080), mark="stain"), "JPEG", quality=92)
    lossless = encode(Image.open(__import__("io").BytesIO(data)), "PNG")
    every_pixel = decode(data, (384, 672), every_pixel=True).pixels
    assert np.array_equal(every_pixel, decode(lossless, (384, 672)).pixels)
    drafted = decode(data, (384, 672)).pixels
    assert drafted.shape == every_pixel.shape and not np.array_equal(drafted, every_pixel)


@pytest.mark.parametrize(
    "data, message",
    [
        (b"", "empty file"),
        (b"just some text pretending to be a jpeg", "not a photo DefectSort can open"),
    ],
)
def test_junk_bytes_fail_with_one_line(data, message):
    with pytest.raises(DecodeError, match=message):
        decode(data, SIZE)


def test_truncated_image_fails_cleanly():
    data = encode(screen_photo(4, size=(400, 300)), "JPEG")
    with pytest.raises(DecodeError, match="damaged or cut-short"):
        decode(data[: len(data) // 3], SIZE)


def test_decompression_bomb_is_refused(monkeypatch):
    monkeypatch.setattr(decode_module, "MAX_PIXELS", 100 * 100)
    with pytest.raises(DecodeError, match="photo too large"):
        decode(encode(Image.new("L", (200, 200))), SIZE)


@pytest.mark.parametrize("mode", ["L", "RGB", "RGBA", "P"])
def test_a_large_photo_is_reduced_before_it_is_converted_and_looks_the_same(mode):
    photo = screen_photo(4, size=(1920, 1440), mark="scratch").convert(mode)
    decoded = decode(encode(photo), SIZE, thumbnail_edge=64)
    unreduced = photo.convert("RGB").resize((SIZE[1], SIZE[0]), Image.Resampling.BILINEAR, reducing_gap=2.0)
    assert decoded.original_size == (1920, 1440) and decoded.pixels.shape == (*SIZE, 3)
    assert np.abs(decoded.pixels.astype(int) - np.asarray(unreduced, dtype=int)).mean() < 1.5
    assert max(decoded.thumbnail.shape[:2]) == 64


def test_a_photo_needing_more_than_the_decode_memory_is_refused_in_one_line(monkeypatch):
    monkeypatch.setattr(decode_module, "DECODE_MEMORY", decode_module.MemoryBudget(2 * 2**20))
    small = decode(encode(screen_photo(1, size=(400, 300))), SIZE)  # about 0.5 MB loaded: fits
    assert small.pixels.shape == (*SIZE, 3)
    with pytest.raises(DecodeError, match=r"too large to decode here \(needs about \d+ MB, limit 2 MB\)"):
        decode(encode(Image.new("RGB", (1000, 1000))), SIZE)  # 4 MB loaded


def test_decodes_wait_for_each_other_within_the_budget():
    import threading
    import time

    budget = decode_module.MemoryBudget(100)
    events = []

    def second_decode():
        with budget.reserve(60):
            events.append("second")

    with budget.reserve(60):
        waiter = threading.Thread(target=second_decode)
        waiter.start()
        time.sleep(0.2)
        events.append("first done")
    waiter.join(5)
    assert events == ["first done", "second"]


def test_the_default_budget_takes_any_photo_under_the_pixel_limit_even_unreduced():
    from core.photos.sources import MAX_MEMBER_BYTES

    class LargestHeader:  # a photo at the pixel limit, in a mode that cannot be box-reduced first
        width, height, mode = 12_000, decode_module.MAX_PIXELS // 12_000, "RGBA"

    needed = decode_module._memory_needed(LargestHeader, 1, MAX_MEMBER_BYTES)
    assert needed <= decode_module.DECODE_MEMORY.limit  # the window and the CLI open what they opened before


def test_grey_is_told_by_mode_or_by_equal_channels_as_casting_photos_are_saved():
    import io

    from core.photos.decode import is_grey

    grey_scene = Image.fromarray(np.random.default_rng(0).integers(0, 255, (300, 400), dtype=np.uint8))
    colour = screen_photo(0, (400, 300))
    grey_palette = grey_scene.convert("P")  # an adaptive palette of a grey photo: grey entries only
    cases = {
        "grey mode": (grey_scene, "PNG", True),
        "grey saved as RGB JPEG": (grey_scene.convert("RGB"), "JPEG", True),
        "grey palette": (grey_palette, "PNG", True),
        "colour JPEG": (colour, "JPEG", False),
        "colour palette": (colour.convert("P"), "PNG", False),
    }
    for name, (image, fmt, expected) in cases.items():
        assert is_grey(Image.open(io.BytesIO(encode(image, fmt)))) is expected, name
