"""Runs the service's jobs one after another on a thread, through the shared inference queue.

A job is classified in small chunks, so single-photo requests keep being answered while
it runs, and its progress and results reach the disk chunk by chunk. On start, jobs left
queued or running by a previous process are taken up again; the photos their run log already
holds (same source, same bytes, same model) are skipped.
"""

from __future__ import annotations

import logging
import os
import queue
import threading
from dataclasses import replace
from pathlib import Path

from core.inference.prediction import Prediction
from core.model.bundle import Bundle
from core.photos.sources import ARCHIVE_SEPARATOR, ImageItem, iter_items
from core.results.pipeline import result_item
from core.service.inference import TURN, InferenceQueue
from core.service.jobs import CANCELLED, FAILED, RUNNING, UNFINISHED, JobStore

log = logging.getLogger(__name__)


def name_in_archive(source: str, archive: Path, upload_name: str = "upload.zip") -> str:
    """Return a source inside an uploaded archive as the client knows it (``day1/1.jpg``), without
    the spooled file's path on the server; the archive itself (an error about the whole of it) is
    ``upload_name``."""
    if source == str(archive):
        return upload_name
    prefix = f"{archive}{ARCHIVE_SEPARATOR}"
    return source[len(prefix) :] if source.startswith(prefix) else source


def client_item(prediction: Prediction, archive: Path | None, upload_name: str = "upload.zip") -> dict:
    """Return the results item of a prediction, named as the client sent it (no server path, no spooled name)."""
    if archive is not None:
        source = name_in_archive(prediction.source, archive, upload_name)
        name = upload_name if prediction.source == str(archive) else prediction.name
        prediction = replace(prediction, source=source, name=name)
    return result_item(prediction)


class JobRunner:
    """The thread that works through the jobs of a :class:`JobStore`.

    :param store: the jobs on disk
    :param inference: the engine's queue (shared with the requests)
    :param bundle: the model, named in the results files
    """

    def __init__(self, store: JobStore, inference: InferenceQueue, bundle: Bundle):
        self.store, self.inference, self.bundle = store, inference, bundle
        self._queue: queue.Queue[str | None] = queue.Queue()
        self._cancelled: set[str] = set()
        self._closing = threading.Event()
        for job_id in store.unfinished():  # left by a previous run: finish them first
            self._queue.put(job_id)
        self._thread = threading.Thread(target=self._run, name="jobs", daemon=True)
        self._thread.start()

    def add(self, job_id: str) -> None:
        """Queue a job the store has just made."""
        self._queue.put(job_id)

    def cancel(self, job_id: str) -> bool:
        """Stop a queued or running job (between chunks). :returns: False if it had already ended."""
        state = self.store.get(job_id)
        if state is None or state["status"] not in UNFINISHED:
            return False
        self._cancelled.add(job_id)
        self.store.update(job_id, status=CANCELLED)
        return True

    def close(self) -> None:
        """Stop after the current chunk (an interrupted job resumes at the next start)."""
        self._closing.set()
        self._queue.put(None)
        self._thread.join()

    def _run(self) -> None:
        while (job_id := self._queue.get()) is not None:
            if job_id in self._cancelled:
                self.store.drop_input(job_id)
                continue
            try:
                self._run_job(job_id)
            except Exception as error:
                log.exception("job %s failed", job_id)
                reason = (str(error).strip().splitlines() or [type(error).__name__])[0][:300]
                self.store.update(job_id, status=FAILED, error=reason)
            if self.store.get(job_id) is None:  # removed while it ran: files it still held open go now
                self.store.remove(job_id)

    def _run_job(self, job_id: str) -> None:
        state = self.store.get(job_id) or {}
        source = self.store.source_of(job_id)
        archive = source if state.get("path") is None else None  # an upload: name photos as in the ZIP
        skipped: list[ImageItem] = []
        with self.store.journal(job_id, self.bundle) as journal:
            confine_to = None if archive is not None else Path(os.path.realpath(source))  # no link leads out
            todo = list(journal.walk(iter_items([source], confine_to), on_skip=skipped.append))
            done = len(skipped)
            self.store.update(job_id, status=RUNNING, done=done, total=done + len(todo))
            for start in range(0, len(todo), TURN):
                if job_id in self._cancelled:
                    self.store.drop_input(job_id)  # what it finished stays in its run log
                    return
                if self._closing.is_set():
                    return
                predictions = self.inference.classify_turn(todo[start : start + TURN])
                for prediction in predictions:
                    journal.append(prediction, client_item(prediction, archive))
                self.store.update(job_id, done=done + start + len(predictions))
            if job_id not in self._cancelled:  # a cancel during the last chunk still counts
                self.store.finish(job_id, journal, self.bundle)


def client_source(item: ImageItem, archive: Path | None) -> str:
    """Return the source an item will have in the job's results."""
    return name_in_archive(item.source, archive) if archive is not None else item.source
