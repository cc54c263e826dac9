"""What a valid photo and a valid ZIP look like, for the schema fuzzer (``SCHEMATHESIS_HOOKS``).

An OpenAPI schema can say "a PNG" or "a ZIP" only by media type; these strategies let the
fuzzer send real ones (photos of random size and colour, ZIPs of a few of them), so that a
"schema-valid request" is one the service can in fact classify. Broken files are tested
elsewhere (``tests/core/test_sources.py``, ``test_decode.py``).
"""

import io
import zipfile

import schemathesis
from hypothesis import strategies as st
from PIL import Image

from core.service.openapi import PHOTO_TYPES

_FORMATS = {"image/jpeg": "JPEG", "image/png": "PNG", "image/bmp": "BMP", "image/tiff": "TIFF", "image/webp": "WEBP"}


def _photo(kind: str, width: int, height: int, colour: tuple[int, int, int]) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), colour).save(buffer, kind)
    return buffer.getvalue()


def _photos(kind: str) -> st.SearchStrategy[bytes]:
    colours = st.tuples(*[st.integers(0, 255)] * 3)
    return st.builds(_photo, st.just(kind), st.integers(1, 96), st.integers(1, 96), colours)


def _zip(photos: list[bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for index, photo in enumerate(photos):
            archive.writestr(f"day{index % 2}/{index}.png", photo)
    return buffer.getvalue()


for media_type in PHOTO_TYPES:
    schemathesis.openapi.media_type(media_type, _photos(_FORMATS[media_type]))
schemathesis.openapi.media_type("application/zip", st.builds(_zip, st.lists(_photos("PNG"), min_size=1, max_size=3)))
