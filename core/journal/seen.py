"""Photos already in a session, so opening the same folder again does not classify them twice.

A photo is "the same" when it comes from the same source (file, or member of the same
archive) and still has the same bytes (SHA-256). A photo whose file changed since is new.
This is what makes "Continue the photos not yet classified" after a cancel cheap: the
known photos are read and hashed, never decoded or run through the model again.
"""

from __future__ import annotations

import hashlib
import os
import sys
import threading
from collections.abc import Callable, Iterable, Iterator

from core.inference.prediction import Prediction
from core.photos.reader import SourceReader
from core.photos.sources import ImageItem, SourceError, SourceRef


def source_key(ref: SourceRef | None, source: str) -> str:
    """Return one spelling per source, whatever path form it was opened with (relative, other case on Windows);
    interned, so the indexes of a run of 100,000 photos share one copy of each key."""
    if ref is None:
        return sys.intern(source)
    return sys.intern(os.pathsep.join([os.path.normcase(os.path.realpath(ref.path)), *ref.members]))


class SeenPhotos:
    """Sources of the session's photos with the hash of their bytes; thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._sha256: dict[str, str | None] = {}

    def __len__(self) -> int:
        return len(self._sha256)

    def add(self, prediction: Prediction) -> None:
        """Remember a classified photo (also one that failed: it is not retried until its bytes change)."""
        with self._lock:
            self._sha256[source_key(prediction.ref, prediction.source)] = prediction.sha256

    def remember(self, key: str, sha256: str | None) -> None:
        """Remember a photo by its :func:`source_key` and the hash of its bytes (e.g. read back from a journal)."""
        with self._lock:
            self._sha256[key] = sha256

    def clear(self) -> None:
        """Forget every photo (a new session)."""
        with self._lock:
            self._sha256.clear()

    def unseen(self, items: Iterable[ImageItem], on_skip: Callable[[ImageItem], None]) -> Iterator[ImageItem]:
        """Pass on the items not yet in the session (nor earlier in ``items``); ``on_skip`` hears of the others.

        :param items: e.g. :func:`core.photos.sources.iter_items` (consumed lazily)
        :param on_skip: called with each item left out
        """
        this_run: set[str] = set()
        with SourceReader() as reader:
            for item in items:
                key = source_key(item.ref, item.source)
                if key in this_run or self._known(key, item, reader):
                    on_skip(item)
                    continue
                this_run.add(key)
                yield item

    def _known(self, key: str, item: ImageItem, reader: SourceReader) -> bool:
        with self._lock:
            if key not in self._sha256:
                return False
            known = self._sha256[key]
        if known is None or item.ref is None:
            return True  # it failed before: the same reason again would only duplicate it
        try:
            return hashlib.sha256(reader.read(item.ref)).hexdigest() == known
        except SourceError:
            return False  # let the engine report why it cannot be read now
