"""Walk the sources on a thread of their own, so classification starts at once.

The engine pulls items from an :class:`ItemStream` while the walk goes on; ``found``
grows as items are found and is the progress total (it may grow during a run). The
queue between them is bounded, so a walk of millions of files never holds them all.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Iterable
from types import TracebackType

from core.photos.sources import ImageItem

QUEUE_CAPACITY = 20_000  # items found but not yet classified (a few MB)
_DONE = object()


class ItemStream:
    """Items from ``items`` (any iterable, e.g. :func:`core.photos.sources.iter_items`), walked on a thread.

    Take items with :meth:`poll` until :attr:`ended`; :meth:`close` (or leaving its ``with``
    block) stops the walk.

    :param items: the items to stream
    :param capacity: most items waiting between the walk and the consumer
    """

    def __init__(self, items: Iterable[ImageItem], capacity: int = QUEUE_CAPACITY):
        self._items = items
        self._queue: queue.Queue[object] = queue.Queue(maxsize=capacity)
        self._stop = threading.Event()
        self._found = 0
        self._ended = False
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._walk, name="walk", daemon=True)
        self._thread.start()

    @property
    def found(self) -> int:
        """Return items found so far (final once the walk is done)."""
        return self._found

    def __enter__(self) -> ItemStream:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.close()

    @property
    def ended(self) -> bool:
        """Return True once every item was taken."""
        return self._ended

    def poll(self, wait: bool) -> ImageItem | None:
        """Take the next item.

        :param wait: wait for one while the walk goes on (else return None at once when none is ready)
        :returns: the item, or None when none is ready or the stream has :attr:`ended`
        :raises Exception: what the walk raised, once it gets there
        """
        if self._ended:
            return None
        try:
            entry = self._queue.get(block=wait)
        except queue.Empty:
            return None
        if entry is _DONE:
            self._ended = True
            if self._error is not None:
                raise self._error
            return None
        assert isinstance(entry, ImageItem)
        return entry

    def close(self, timeout: float = 5.0) -> None:
        """Stop the walk (items not yet consumed are dropped).

        :param timeout: longest wait for a walk stuck in a slow folder listing (a network share);
            after it the walk's thread is left to end by itself (it is a daemon and puts nothing more)
        """
        self._stop.set()
        deadline = time.monotonic() + timeout
        while self._thread.is_alive() and time.monotonic() < deadline:
            try:
                self._queue.get_nowait()  # make room so a blocked walk can see the stop
            except queue.Empty:
                self._thread.join(0.05)

    def _walk(self) -> None:
        try:
            for item in self._items:
                self._found += 1  # counted before it can be consumed: done never exceeds found
                if not self._put(item):
                    return
        except BaseException as error:  # noqa: BLE001 - handed to the consumer, raised there
            self._error = error
        self._put(_DONE)

    def _put(self, entry: object) -> bool:
        while not self._stop.is_set():
            try:
                self._queue.put(entry, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False
