"""Read items' bytes on demand, keeping archives open only while a batch uses them.

A :class:`SourceReader` is a context: inside it, each archive is opened once and shared
by every photo read from it (and by the decode threads: :mod:`zipfile` serialises reads
of one archive); on exit every archive is closed, so a dropped ZIP is never left locked
(Windows) and nested archives (inflated while in use) are let go. A photo read after its batch
(export, preview) opens its archive again.
"""

from __future__ import annotations

import threading
import zipfile
from collections import OrderedDict
from types import TracebackType

from core.photos.sources import (
    ImageItem,
    SourceError,
    SourceRef,
    open_nested_archive,
    read_member,
)

MAX_OPEN_NESTED = 2  # nested archives held in memory at once (items of one archive arrive together)


class SourceReader:
    """Reads :class:`SourceRef` bytes; thread-safe; closes what it opened on :meth:`close`."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._outer: dict[str, zipfile.ZipFile] = {}
        self._nested: OrderedDict[tuple[str, tuple[str, ...]], zipfile.ZipFile] = OrderedDict()

    def __enter__(self) -> SourceReader:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.close()

    def read_item(self, item: ImageItem) -> bytes:
        """Return the item's bytes. :raises SourceError: when it cannot be read."""
        if item.ref is None:
            raise SourceError(item.error or "nothing to read")
        return self.read(item.ref)

    def read(self, ref: SourceRef) -> bytes:
        """Return the bytes ``ref`` points at. :raises SourceError: when they cannot be read."""
        if not ref.members:
            try:
                with open(ref.path, "rb") as stream:
                    return stream.read()
            except OSError as error:
                raise SourceError(f"cannot read file: {error.strerror or error}") from None
        archive = self._archive(ref.path, ref.members[:-1])
        try:
            info = archive.getinfo(ref.members[-1])
        except KeyError:
            raise SourceError("the ZIP archive no longer holds this photo") from None
        return read_member(archive, info)

    def close(self) -> None:
        """Close every archive this reader opened."""
        with self._lock:
            for archive in [*self._nested.values(), *self._outer.values()]:
                archive.close()
            self._nested.clear()
            self._outer.clear()

    def _archive(self, path: str, chain: tuple[str, ...]) -> zipfile.ZipFile:
        with self._lock:
            archive = self._outer.get(path)
            if archive is None:
                try:
                    archive = self._outer[path] = zipfile.ZipFile(path)
                except (zipfile.BadZipFile, OSError, ValueError) as error:
                    raise SourceError(f"cannot open the ZIP archive ({error})") from None
            for depth in range(1, len(chain) + 1):
                archive = self._nested_archive(archive, path, chain[:depth])
            return archive

    def _nested_archive(self, parent: zipfile.ZipFile, path: str, chain: tuple[str, ...]) -> zipfile.ZipFile:
        key = (path, chain)
        archive = self._nested.get(key)
        if archive is not None:
            self._nested.move_to_end(key)
            return archive
        try:
            info = parent.getinfo(chain[-1])
        except KeyError:
            raise SourceError("the ZIP archive no longer holds this archive") from None
        archive = self._nested[key] = open_nested_archive(parent, info)
        while len(self._nested) > MAX_OPEN_NESTED + len(chain):
            # Dropped, not closed: a decode thread may still be reading it; its temporary file is closed
            # when the last reader lets go of it.
            self._nested.popitem(last=False)
        return archive


def read_once(ref: SourceRef) -> bytes:
    """Read one photo, opening and closing its archive (for single reads such as a preview).

    :raises SourceError: when it cannot be read
    """
    with SourceReader() as reader:
        return reader.read(ref)
