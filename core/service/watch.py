"""``serve --watch``: a station watch beside the service, on the service's model queue.

The watch (:mod:`core.station.watch`) runs on its own thread and classifies through the same queue as the
routes, in turns of the bulk lane: a photo sent to ``/predict`` meanwhile waits for one turn at most. Its
output folder is ``--jobs-dir/watch``; ``GET /watch`` reads the results file it keeps current.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterable, Iterator
from itertools import islice
from pathlib import Path

from core.inference.prediction import Prediction
from core.model.bundle import Bundle
from core.photos.sources import ImageItem
from core.results.phones import PhoneGrouping
from core.service.inference import TURN, InferenceQueue
from core.station.watch import Station, WatchOptions

log = logging.getLogger(__name__)


class ServiceWatch:
    """A watch of ``inboxes`` into ``out`` that classifies through ``inference``.

    :param grouping: one verdict per phone (``phones.csv`` beside the results)
    """

    def __init__(
        self,
        bundle: Bundle,
        inference: InferenceQueue,
        inboxes: list[Path],
        out: Path,
        grouping: PhoneGrouping | None = None,
    ):
        self.folders = [str(folder) for folder in inboxes]
        self.out = Path(out)
        self._inference = inference
        self.station = Station(bundle, self._classify, inboxes, self.out, WatchOptions(grouping=grouping), _say)
        self._thread = threading.Thread(target=self._run, name="watch", daemon=True)
        self._thread.start()

    def status(self, after: int = 0) -> dict:
        """Return what the page shows: the folders, photos still landing, and the results after the first
        ``after`` (as written by the watch, at most a few seconds old)."""
        items = self._items()
        return {
            "watching": self._thread.is_alive(),
            "folders": self.folders,
            "landing": self.station.arrivals.waiting,
            "total": len(items),
            "items": items[max(0, after) :],
        }

    def close(self) -> None:
        """Stop watching, writing the results once more (before the model's queue closes)."""
        self.station.stop.set()
        self._thread.join()

    def _run(self) -> None:
        try:
            self.station.run()
        except Exception:  # the service goes on answering; the log says why the watch stopped
            log.exception("the watch stopped")

    def _classify(self, items: Iterable[ImageItem]) -> Iterator[Prediction]:
        stream = iter(items)
        while turn := list(islice(stream, TURN)):
            yield from self._inference.classify_turn(turn)

    def _items(self) -> list[dict]:
        try:
            document = json.loads((self.out / "results.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return []  # nothing classified yet
        items: list[dict] = document.get("items", [])
        return items


def _say(line: str) -> None:
    print(line, flush=True)
