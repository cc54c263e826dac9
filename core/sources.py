"""Turn user paths (image files, folders, ZIP archives) into a flat list of image items.

ZIP archives are read in place, nested archives too; nothing is extracted to disk.
Junk (``__MACOSX/``, ``._*``, ``.DS_Store``, non-image files inside folders) is skipped
silently. Inputs that cannot be read become items carrying a one-line ``error`` so that
the batch goes on and the user sees why.
"""

from __future__ import annotations

import io
import os
import zipfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Callable

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp"})
ARCHIVE_SUFFIXES = frozenset({".zip"})
JUNK_NAMES = frozenset({".ds_store", "thumbs.db", "desktop.ini"})
MAX_MEMBER_BYTES = 64 * 1024 * 1024  # one photo inside a ZIP
MAX_NESTED_ARCHIVE_BYTES = 512 * 1024 * 1024  # a ZIP inside a ZIP is held in memory
MAX_NESTING = 4
ARCHIVE_SEPARATOR = "!/"


class SourceError(Exception):
    """An input that cannot be read; the message is one line meant for the user."""


@dataclass(frozen=True)
class ImageItem:
    """One photo to classify, or one input that failed before decoding.

    :param source: where it came from, e.g. ``batch.zip!/day1/1.jpg``
    :param name: the file name alone, e.g. ``1.jpg``
    :param read: returns the file's bytes; raises :class:`SourceError` on failure
    :param error: a one-line reason when the input is unusable (``read`` is then None)
    """

    source: str
    name: str
    read: Callable[[], bytes] | None = field(default=None, repr=False, compare=False)
    error: str | None = None


def is_image_name(name: str) -> bool:
    """:returns: True when the file name has a supported image suffix (any case)."""
    return PurePosixPath(name).suffix.lower() in IMAGE_SUFFIXES


def _is_junk(relative: str) -> bool:
    parts = PurePosixPath(relative.replace("\\", "/")).parts
    base = parts[-1] if parts else ""
    return "__MACOSX" in parts or base.startswith("._") or base.lower() in JUNK_NAMES


def _failed(source: str, reason: str) -> ImageItem:
    return ImageItem(source=source, name=PurePosixPath(source.replace("\\", "/")).name, error=reason)


def collect_items(paths) -> list[ImageItem]:
    """Expand files, folders and ZIP archives into image items, in a stable order.

    :param paths: iterable of paths (str or Path) as the user gave them
    :returns: one item per photo found, plus one error item per unusable input
    """
    items: list[ImageItem] = []
    for path in paths:
        items.extend(_items_from_path(Path(path)))
    return items


def _items_from_path(path: Path) -> list[ImageItem]:
    if path.is_dir():
        return _items_from_folder(path)
    if not path.exists():
        return [_failed(str(path), "file or folder not found")]
    suffix = path.suffix.lower()
    if suffix in ARCHIVE_SUFFIXES:
        return _items_from_archive_file(path)
    if suffix in IMAGE_SUFFIXES:
        return [_file_item(path, str(path))]
    return [_failed(str(path), f"unsupported file type '{path.suffix or path.name}' (expected an image or a ZIP)")]


def _items_from_folder(folder: Path) -> list[ImageItem]:
    items = []
    for root, dirs, files in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if d != "__MACOSX")
        for file_name in sorted(files):
            path = Path(root, file_name)
            if _is_junk(file_name):
                continue
            suffix = path.suffix.lower()
            if suffix in IMAGE_SUFFIXES:
                items.append(_file_item(path, str(path)))
            elif suffix in ARCHIVE_SUFFIXES:
                items.extend(_items_from_archive_file(path))
    return items


def _file_item(path: Path, source: str) -> ImageItem:
    def read() -> bytes:
        try:
            return path.read_bytes()
        except OSError as error:
            raise SourceError(f"cannot read file: {error.strerror or error}") from None

    return ImageItem(source=source, name=path.name, read=read)


def _items_from_archive_file(path: Path) -> list[ImageItem]:
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError, ValueError) as error:
        return [_failed(str(path), f"not a readable ZIP archive ({error})")]
    return _items_from_archive(archive, str(path), depth=0)


def _items_from_archive(archive: zipfile.ZipFile, prefix: str, depth: int) -> list[ImageItem]:
    items = []
    for info in sorted(archive.infolist(), key=lambda i: i.filename):
        if info.is_dir() or _is_junk(info.filename):
            continue
        source = f"{prefix}{ARCHIVE_SEPARATOR}{info.filename}"
        suffix = PurePosixPath(info.filename).suffix.lower()
        if suffix in IMAGE_SUFFIXES:
            items.append(_member_item(archive, info, source))
        elif suffix in ARCHIVE_SUFFIXES:
            items.extend(_items_from_nested_archive(archive, info, source, depth + 1))
    if not items:
        return [_failed(prefix, "the ZIP archive holds no images")]
    return items


def _items_from_nested_archive(archive, info, source: str, depth: int) -> list[ImageItem]:
    if depth > MAX_NESTING:
        return [_failed(source, f"ZIP archives nested deeper than {MAX_NESTING} levels")]
    try:
        data = _read_member(archive, info, MAX_NESTED_ARCHIVE_BYTES)
        inner = zipfile.ZipFile(io.BytesIO(data))
    except (SourceError, zipfile.BadZipFile, ValueError) as error:
        return [_failed(source, f"not a readable ZIP archive ({error})")]
    return _items_from_archive(inner, source, depth)


def _member_item(archive: zipfile.ZipFile, info: zipfile.ZipInfo, source: str) -> ImageItem:
    name = PurePosixPath(info.filename).name
    return ImageItem(source=source, name=name, read=lambda: _read_member(archive, info, MAX_MEMBER_BYTES))


def _read_member(archive: zipfile.ZipFile, info: zipfile.ZipInfo, limit: int) -> bytes:
    """Read one ZIP member, refusing encrypted members and anything that inflates past ``limit``.

    The declared size is checked first, then the bytes actually produced, since a
    hostile archive can lie about the size in its directory.
    """
    if info.flag_bits & 0x1:
        raise SourceError("encrypted ZIP member (password protected)")
    if info.file_size > limit:
        raise SourceError(f"ZIP member declares {info.file_size:,} bytes, over the {limit:,}-byte limit")
    try:
        with archive.open(info) as stream:
            data = stream.read(limit + 1)
    except (zipfile.BadZipFile, EOFError, OSError, ValueError, NotImplementedError, RuntimeError) as error:
        raise SourceError(f"damaged ZIP member ({error})") from None
    if len(data) > limit:
        raise SourceError(f"ZIP member inflates beyond the {limit:,}-byte limit")
    return data
