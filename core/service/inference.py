"""One engine behind a bounded queue: every request of the service is classified here.

Requests wait in a queue of fixed capacity; when it is full, :meth:`InferenceQueue.submit`
raises :class:`QueueFullError` at once (the service answers 503 with ``Retry-After``) instead of
letting clients pile up. One thread runs the engine. Requests that wait together are
classified in one engine run, so decoding the next photo overlaps the model's work on the
current one, and each request gets back exactly its own predictions, in order.
"""

from __future__ import annotations

import queue
import threading
from concurrent.futures import Future
from dataclasses import dataclass, field

from core.inference.engine import Engine
from core.inference.prediction import Prediction
from core.photos.sources import ImageItem

MAX_MERGED_ITEMS = 32  # photos classified in one engine run, across waiting requests
TURN = 8  # photos of a batch or job classified in one turn: single requests interleave between turns


class QueueFullError(Exception):
    """Raised when the queue in front of the engine has no room."""


@dataclass
class _Request:
    items: list[ImageItem]
    result: Future[list[Prediction]] = field(default_factory=Future)


class InferenceQueue:
    """Classifies lists of items on one thread, in arrival order.

    :param engine: the loaded engine (used only by this queue's thread)
    :param capacity: requests that may wait; more are refused with :class:`QueueFullError`
    """

    def __init__(self, engine: Engine, capacity: int = 32):
        self.engine = engine
        self._queue: queue.Queue[_Request | None] = queue.Queue(capacity)
        self._thread = threading.Thread(target=self._run, name="inference", daemon=True)
        self._thread.start()

    def submit(self, items: list[ImageItem], wait: bool = False) -> Future[list[Prediction]]:
        """Queue ``items``. :returns: a future of their predictions, in order.

        :param wait: block until there is room (long jobs) instead of raising :class:`QueueFullError` (requests)
        """
        request = _Request(list(items))
        try:
            self._queue.put(request, block=wait)
        except queue.Full:
            raise QueueFullError from None
        return request.result

    def classify(self, items: list[ImageItem], wait: bool = False) -> list[Prediction]:
        """Return the predictions of ``items`` (blocks until done). :raises QueueFullError: when full."""
        return self.submit(items, wait).result()

    def classify_in_turns(self, items: list[ImageItem], chunk: int = TURN) -> list[Prediction]:
        """Return the predictions of many items, classified :data:`TURN` at a time: a single photo sent meanwhile
        waits for one turn, never for the whole batch. :raises QueueFullError: when full at the first turn."""
        predictions: list[Prediction] = []
        for start in range(0, len(items), chunk):
            predictions += self.classify(items[start : start + chunk], wait=start > 0)
        return predictions

    def close(self) -> None:
        """Finish the queued requests and stop the thread."""
        self._queue.put(None)
        self._thread.join()

    def _run(self) -> None:
        while (first := self._queue.get()) is not None:
            requests = [first]
            stop = self._take_waiting(requests)
            self._classify_together([r for r in requests if r.result.set_running_or_notify_cancel()])
            if stop:
                return

    def _take_waiting(self, requests: list[_Request]) -> bool:
        """Add the requests already waiting (up to :data:`MAX_MERGED_ITEMS` photos). :returns: True on close."""
        while sum(len(r.items) for r in requests) < MAX_MERGED_ITEMS:
            try:
                request = self._queue.get_nowait()
            except queue.Empty:
                return False
            if request is None:
                return True
            requests.append(request)
        return False

    def _classify_together(self, requests: list[_Request]) -> None:
        try:
            predictions = list(self.engine.classify([item for r in requests for item in r.items]))
        except Exception as error:  # noqa: BLE001 - handed to every waiting request, which reports it
            for request in requests:
                request.result.set_exception(error)
            return
        start = 0
        for request in requests:
            request.result.set_result(predictions[start : start + len(request.items)])
            start += len(request.items)
