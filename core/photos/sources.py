"""Turn user paths (image files, folders, ZIP archives) into a stream of image items.

Items are yielded as they are found, so the first photos of a huge folder can be
classified while the walk goes on. ZIP archives are read in place; a ZIP inside a ZIP is
inflated while in use (in memory when small, else into an anonymous temporary file), nothing
else is extracted. An item holds a small :class:`SourceRef` (a file path, or
an archive path plus member names), never an open file: its bytes are read on demand
through :class:`core.photos.reader.SourceReader`. Junk (``__MACOSX/``, ``._*``, ``.DS_Store``,
non-image files inside folders) is skipped silently. Inputs that cannot be read become
items carrying a one-line ``error`` so that the batch goes on and the user sees why.
"""

from __future__ import annotations

import io
import os
import shutil
import tempfile
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import IO

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp"})
ARCHIVE_SUFFIXES = frozenset({".zip"})
JUNK_NAMES = frozenset({".ds_store", "thumbs.db", "desktop.ini"})
MAX_MEMBER_BYTES = 64 * 1024 * 1024  # one photo inside a ZIP
MAX_NESTED_ARCHIVE_BYTES = 512 * 1024 * 1024  # a ZIP inside a ZIP, inflated while in use
NESTED_IN_MEMORY_BYTES = 8 * 1024 * 1024  # a larger inner ZIP is inflated into a temporary file instead
_COPY_CHUNK = 256 * 1024
MAX_NESTING = 4
ARCHIVE_SEPARATOR = "!/"


class SourceError(Exception):
    """An input that cannot be read; the message is one line meant for the user."""


@dataclass(frozen=True)
class SourceRef:
    """Where an item's bytes live, small enough to keep for every photo of a session.

    :param path: the file on disk (a photo, or the outermost ZIP archive)
    :param members: member names inside the archive, outermost first (nested ZIPs), or empty
    """

    path: str
    members: tuple[str, ...] = ()

    @classmethod
    def parse(cls, source: str) -> SourceRef:
        """Return the reference a ``source`` string names (``batch.zip!/inner.zip!/day1/1.jpg``)."""
        path, *members = source.split(ARCHIVE_SEPARATOR)
        return cls(path, tuple(members))


@dataclass(frozen=True)
class ImageItem:
    """One photo to classify, or one input that failed before decoding.

    :param source: where it came from, e.g. ``batch.zip!/day1/1.jpg``
    :param name: the file name alone, e.g. ``1.jpg``
    :param ref: where to read its bytes (None when ``error`` is set)
    :param error: a one-line reason when the input is unusable
    """

    source: str
    name: str
    ref: SourceRef | None = None
    error: str | None = None


def is_image_name(name: str) -> bool:
    """Return True when the file name has a supported image suffix (any case)."""
    return PurePosixPath(name).suffix.lower() in IMAGE_SUFFIXES


def file_dialog_patterns() -> str:
    """Return the supported image suffixes as a file-dialog pattern, e.g. ``*.bmp *.jpeg ...``."""
    return " ".join(f"*{suffix}" for suffix in sorted(IMAGE_SUFFIXES))


def _leaves(path: Path, root: Path) -> bool:
    """Return whether ``path``, its links followed, lies outside ``root`` (nothing is opened to tell)."""
    real = Path(os.path.realpath(path))
    return not (real == root or real.is_relative_to(root))


def _is_junk(relative: str) -> bool:
    parts = PurePosixPath(relative.replace("\\", "/")).parts
    base = parts[-1] if parts else ""
    return "__MACOSX" in parts or base.startswith("._") or base.lower() in JUNK_NAMES


def _failed(source: str, reason: str) -> ImageItem:
    return ImageItem(source=source, name=PurePosixPath(source.replace("\\", "/")).name, error=reason)


OUTSIDE = "outside the folder this job may read (a link leads out of it): not read"


def iter_items(paths: Iterable[str | Path], confine_to: Path | None = None) -> Iterator[ImageItem]:
    """Expand files, folders and ZIP archives into image items, in a stable order, as they are found.

    :param paths: paths as the user gave them
    :param confine_to: a resolved folder (or file) nothing may be read outside of: a file or archive whose
        real path (links followed) leaves it becomes an error item, never opened, with the same words whether
        its target exists or not (a service must not tell which paths exist)
    :returns: a generator of one item per photo found, plus one error item per unusable input
    """
    for path in paths:
        yield from _items_from_path(Path(path), confine_to)


def collect_items(paths: Iterable[str | Path]) -> list[ImageItem]:
    """Return every item of :func:`iter_items` as a list (for small, known inputs)."""
    return list(iter_items(paths))


def _items_from_path(path: Path, confine_to: Path | None = None) -> Iterator[ImageItem]:
    if confine_to is not None and _leaves(path, confine_to):
        yield _failed(str(path), OUTSIDE)
    elif path.is_dir():
        yield from _items_from_folder(path, confine_to)
    elif not path.exists():
        yield _failed(str(path), "file or folder not found")
    elif path.suffix.lower() in ARCHIVE_SUFFIXES:
        yield from _items_from_archive_file(path)
    elif path.suffix.lower() in IMAGE_SUFFIXES:
        yield ImageItem(source=str(path), name=path.name, ref=SourceRef(str(path)))
    else:
        yield _failed(str(path), f"unsupported file type '{path.suffix or path.name}' (expected an image or a ZIP)")


def _items_from_folder(folder: Path, confine_to: Path | None = None) -> Iterator[ImageItem]:
    for root, dirs, files in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if d != "__MACOSX")
        for file_name in sorted(files):
            path = Path(root, file_name)
            if _is_junk(file_name):
                continue
            suffix = path.suffix.lower()
            if confine_to is not None and suffix in (*IMAGE_SUFFIXES, *ARCHIVE_SUFFIXES) and _leaves(path, confine_to):
                yield _failed(str(path), OUTSIDE)
            elif suffix in IMAGE_SUFFIXES:
                yield ImageItem(source=str(path), name=path.name, ref=SourceRef(str(path)))
            elif suffix in ARCHIVE_SUFFIXES:
                yield from _items_from_archive_file(path)


def _items_from_archive_file(path: Path) -> Iterator[ImageItem]:
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError, ValueError) as error:
        yield _failed(str(path), f"not a readable ZIP archive ({error})")
        return
    with archive:  # closed before the first item is classified: items reopen it on demand
        items = list(_items_from_archive(archive, SourceRef(str(path)), str(path)))
    yield from items


def _items_from_archive(archive: zipfile.ZipFile, ref: SourceRef, prefix: str) -> Iterator[ImageItem]:
    found = False
    for info in sorted(archive.infolist(), key=lambda i: i.filename):
        if info.is_dir() or _is_junk(info.filename):
            continue
        source = f"{prefix}{ARCHIVE_SEPARATOR}{info.filename}"
        member = SourceRef(ref.path, (*ref.members, info.filename))
        suffix = PurePosixPath(info.filename).suffix.lower()
        if suffix in IMAGE_SUFFIXES:
            found = True
            yield ImageItem(source=source, name=PurePosixPath(info.filename).name, ref=member)
        elif suffix in ARCHIVE_SUFFIXES:
            found = True
            yield from _items_from_nested_archive(archive, info, member, source)
    if not found:
        yield _failed(prefix, "the ZIP archive holds no images")


def _items_from_nested_archive(
    archive: zipfile.ZipFile, info: zipfile.ZipInfo, ref: SourceRef, source: str
) -> Iterator[ImageItem]:
    if len(ref.members) > MAX_NESTING:
        yield _failed(source, f"ZIP archives nested deeper than {MAX_NESTING} levels")
        return
    try:
        inner = open_nested_archive(archive, info)
    except SourceError as error:
        yield _failed(source, str(error))
        return
    with inner:  # the inner archive's bytes are dropped once listed
        yield from list(_items_from_archive(inner, ref, source))


def open_nested_archive(archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> zipfile.ZipFile:
    """Open a ZIP stored inside another one, inflated within limits.

    A small inner archive is held in memory; a larger one goes to an anonymous temporary file
    (deleted when closed), inflated a chunk at a time: memory does not grow with the archive, so
    an archive of archives cannot multiply it. The returned archive closes that file when closed.

    :raises SourceError: when the member is not a readable ZIP archive
    """
    spool = tempfile.SpooledTemporaryFile(max_size=NESTED_IN_MEMORY_BYTES)  # noqa: SIM115 (the archive owns it)
    try:
        with _member_stream(archive, info, MAX_NESTED_ARCHIVE_BYTES) as stream:
            shutil.copyfileobj(_BoundedStream(stream, MAX_NESTED_ARCHIVE_BYTES), spool, _COPY_CHUNK)
        spool.seek(0)
        return _OwningZipFile(spool)
    except (SourceError, zipfile.BadZipFile, ValueError, EOFError, OSError, RuntimeError) as error:
        spool.close()
        raise SourceError(f"not a readable ZIP archive ({_reason(error)})") from None


class _OwningZipFile(zipfile.ZipFile):
    """A ZIP archive read from a file object it owns: closing the archive closes the file."""

    def __init__(self, spool: tempfile.SpooledTemporaryFile[bytes]):
        super().__init__(spool)
        self._spool = spool

    def close(self) -> None:
        try:
            super().close()
        finally:
            self._spool.close()


def read_member(archive: zipfile.ZipFile, info: zipfile.ZipInfo, limit: int | None = None) -> bytes:
    """Read one ZIP member, refusing encrypted members and anything that inflates past ``limit``.

    The declared size is checked first, then the bytes actually produced, since a
    hostile archive can lie about the size in its directory.

    :param limit: most bytes accepted (default :data:`MAX_MEMBER_BYTES`, a photo's limit)
    :raises SourceError: encrypted, oversized or damaged members
    """
    limit = MAX_MEMBER_BYTES if limit is None else limit
    try:
        with _member_stream(archive, info, limit) as stream:
            return _BoundedStream(stream, limit).read()
    except (zipfile.BadZipFile, EOFError, OSError, ValueError, NotImplementedError, RuntimeError) as error:
        raise SourceError(f"damaged ZIP member ({_reason(error)})") from None


def _member_stream(archive: zipfile.ZipFile, info: zipfile.ZipInfo, limit: int) -> IO[bytes]:
    """Open a member for reading after the checks its directory entry allows."""
    if info.flag_bits & 0x1:
        raise SourceError("password-protected ZIP member: unpack the archive with its password first")
    if info.file_size > limit:
        raise SourceError(f"ZIP member declares {info.file_size:,} bytes, over the {limit:,}-byte limit")
    return archive.open(info)


class _BoundedStream(io.RawIOBase):
    """A read-only view of ``stream`` that raises :class:`SourceError` once it yields more than ``limit``."""

    def __init__(self, stream: IO[bytes], limit: int):
        super().__init__()
        self._stream, self._limit, self._left = stream, limit, limit

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        data = self._stream.read(self._left + 1 if size < 0 else min(size, self._left + 1))
        self._left -= len(data)
        if self._left < 0:
            raise SourceError(f"ZIP member inflates beyond the {self._limit:,}-byte limit")
        return data


def _reason(error: Exception) -> str:
    return str(error) or type(error).__name__
