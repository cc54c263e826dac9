"""One engine behind a bounded queue: every request of the service is classified here.

Requests wait in a queue of fixed capacity; when it is full, :meth:`InferenceQueue.submit`
raises :class:`QueueFullError` at once (the service answers 503 with ``Retry-After``) instead of
letting clients pile up. One thread runs the engine. Requests that wait together are
classified in one engine run, so decoding the next photo overlaps the model's work on the
current one, and each request gets back exactly its own predictions, in order.

Two lanes keep a single photo from waiting behind a big batch: batches and jobs go through
in *turns* of :data:`TURN` photos in the bulk lane; a request of the quick lane (``/predict``)
is taken before the next turn, so it waits for at most the turn being classified.
"""

from __future__ import annotations

import threading
from collections import deque
from concurrent.futures import Future
from dataclasses import dataclass, field

from core.inference.engine import Engine
from core.inference.prediction import Prediction
from core.photos.sources import ImageItem

MAX_MERGED_ITEMS = 32  # photos classified in one engine run, across waiting quick requests
TURN = 4  # photos of a batch or job classified in one turn (about 0.6 s here): quick requests go in between


class QueueFullError(Exception):
    """Raised when the queue in front of the engine has no room."""


@dataclass
class _Request:
    items: list[ImageItem]
    result: Future[list[Prediction]] = field(default_factory=Future)


class InferenceQueue:
    """Classifies lists of items on one thread: quick requests first, in arrival order, then bulk turns.

    :param engine: the loaded engine (used only by this queue's thread)
    :param capacity: requests that may wait; more are refused with :class:`QueueFullError`
    """

    def __init__(self, engine: Engine, capacity: int = 32):
        self.engine = engine
        self._capacity = capacity
        self._quick: deque[_Request] = deque()
        self._bulk: deque[_Request] = deque()
        self._changed = threading.Condition()
        self._closing = False
        self._thread = threading.Thread(target=self._run, name="inference", daemon=True)
        self._thread.start()

    def submit(self, items: list[ImageItem], wait: bool = False, bulk: bool = False) -> Future[list[Prediction]]:
        """Queue ``items``. :returns: a future of their predictions, in order.

        :param wait: block until there is room (long jobs) instead of raising :class:`QueueFullError` (requests)
        :param bulk: one turn of a batch or job: it goes after every quick request waiting
        """
        request = _Request(list(items))
        with self._changed:
            while len(self._quick) + len(self._bulk) >= self._capacity:
                if not wait:
                    raise QueueFullError
                self._changed.wait()
            (self._bulk if bulk else self._quick).append(request)
            self._changed.notify_all()
        return request.result

    def classify(self, items: list[ImageItem], wait: bool = False) -> list[Prediction]:
        """Return the predictions of ``items`` (blocks until done). :raises QueueFullError: when full."""
        return self.submit(items, wait).result()

    def classify_turn(self, items: list[ImageItem]) -> list[Prediction]:
        """Return the predictions of one turn of a batch or job (waits for room; quick requests go first)."""
        return self.submit(items, wait=True, bulk=True).result()

    def classify_in_turns(self, items: list[ImageItem], chunk: int = TURN) -> list[Prediction]:
        """Return the predictions of many items, classified :data:`TURN` at a time: a single photo sent meanwhile
        waits for one turn, never for the whole batch. :raises QueueFullError: when full at the first turn."""
        predictions: list[Prediction] = []
        for start in range(0, len(items), chunk):
            turn = items[start : start + chunk]
            predictions += self.submit(turn, wait=start > 0, bulk=True).result()
        return predictions

    def close(self) -> None:
        """Finish the queued requests and stop the thread."""
        with self._changed:
            self._closing = True
            self._changed.notify_all()
        self._thread.join()

    def _run(self) -> None:
        while run := self._next_run():
            self._classify_together([r for r in run if r.result.set_running_or_notify_cancel()])

    def _next_run(self) -> list[_Request]:
        """Wait for work; :returns: the quick requests waiting (up to :data:`MAX_MERGED_ITEMS` photos), else
        the next bulk turn; empty once closed and drained."""
        with self._changed:
            while not (self._quick or self._bulk or self._closing):
                self._changed.wait()
            run: list[_Request] = []
            while self._quick and (not run or sum(len(r.items) for r in run) < MAX_MERGED_ITEMS):
                run.append(self._quick.popleft())
            if not run and self._bulk:
                run.append(self._bulk.popleft())
            self._changed.notify_all()  # room for a waiting submitter
            return run

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
