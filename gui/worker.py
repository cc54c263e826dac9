"""The one worker: a QObject on its own QThread that runs core for the window.

The window never calls core directly. It asks through :class:`gui.worker_client.WorkerClient` (load a
model, classify paths, export, show a preview, list models) and listens to the worker's
past-tense signals. Long requests are queued signals, so jobs run one after another on
the worker thread; cancelling marks the job in a :class:`CancelMark` (a lock guards it) that the
engine checks between batches, so it takes effect within one batch. Quick requests that must
not wait behind a batch (previews, the model list, the journal's side jobs, installing a promoted
model) run on a one-thread pool the worker owns and joins on shutdown; a retraining runs on a second
one, beside classification, so the inspector keeps sorting (its own cancel flag: cancelling photos does
not cancel it). Nothing of the worker is written from the GUI thread.
"""

from __future__ import annotations

import gc
import logging
import os
import shutil
import threading
import traceback
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path

from PySide6.QtCore import QObject, Signal, Slot
from PySide6.QtGui import QImage

from core.inference.decision import DecisionPolicy
from core.inference.engine import Engine
from core.inference.prediction import Prediction
from core.inference.runtime import parse_runtime
from core.journal.restore import clear_sessions, export_audit_csv, list_sessions, load_session, unfinished_session
from core.journal.seen import SeenPhotos
from core.journal.session import JournalError, JournalWriter
from core.model.bundle import Bundle, BundleError, load_bundle
from core.model.promotion import promote
from core.model.registry import find_bundles, resolve_bundle
from core.photos.arrivals import Arrivals
from core.photos.decode import DecodeError, decode_for_display
from core.photos.reader import SourceReader, read_once
from core.photos.sources import SourceError, SourceRef, iter_items
from core.results.session_export import ExportOptions, export_session
from core.training.gate import CORRECTIONS, FROZEN
from core.training.retrain import retrain
from gui.gallery_model import Entry, with_heatmap
from gui.images import compressed_thumbnail, heat_levels, rgb_image

log = logging.getLogger(__name__)
THUMBNAIL_EDGE = 320
PREVIEW_EDGE = 1280
COMPARISON_EDGE = 160


class CancelMark:
    """The last job the window cancelled, shared by the GUI thread (writes) and the worker (reads)."""

    def __init__(self):
        self._lock = threading.Lock()
        self._through = 0

    def cancel_through(self, job: int) -> None:
        """Cancel ``job`` and every job queued before it."""
        with self._lock:
            self._through = max(self._through, job)

    def covers(self, job: int) -> bool:
        """Return whether ``job`` is cancelled."""
        with self._lock:
            return job <= self._through


class _JobCancelled:
    """The engine's cancel flag for one job: set once the window cancelled up to it."""

    def __init__(self, mark: CancelMark, job: int):
        self._mark, self._job = mark, job

    def is_set(self) -> bool:
        return self._mark.covers(self._job)


class _RetrainCancelledError(Exception):
    """Raised from the training callback when the user cancels."""


class Worker(QObject):
    """Runs on the worker thread. Only :class:`WorkerClient` talks to it."""

    model_loaded = Signal(object, object, str)  # Bundle, its DecisionPolicy, the runtime it runs on ("openvino fp32")
    batch_started = Signal(int)  # job
    items_classified = Signal(int, list)  # job, [Entry]
    progress_changed = Signal(int, int, int)  # job, done, found so far
    photos_skipped = Signal(int, int)  # job, photos left out because the session already has them
    batch_finished = Signal(int, bool)  # job, cancelled
    export_finished = Signal(str)  # folder written
    preview_loaded = Signal(int, object)  # request, QImage
    preview_failed = Signal(int, str)  # request, one-line reason
    models_listed = Signal(list)  # [Bundle]
    retrain_progressed = Signal(str, float, float)  # message ('' none), share done (-1 not known), seconds left (-1)
    retrain_finished = Signal(object, dict)  # RetrainOutcome or None (cancelled, failed); {source: QImage} fixed/broken
    sessions_listed = Signal(list)  # [core.journal.restore.SessionSummary]
    noted = Signal(str)  # a side job's result, for the status bar
    unfinished_session_found = Signal(object)  # core.journal.restore.SessionSummary
    session_restored = Signal(object, list)  # core.journal.restore.RestoredSession, [Entry]
    model_promoted = Signal(str)  # the folder a promoted bundle was installed into
    promotion_failed = Signal(str)  # why a promoted bundle could not be installed
    watched_folder_scanned = Signal(str, list, int, float)  # folder, paths that settled, still landing, next in s
    failed = Signal(str)  # a message for the user

    def __init__(self, cancels: CancelMark):
        super().__init__()
        self._cancels = cancels  # the client marks cancelled jobs; the engine reads it between batches
        self._engine: Engine | None = None
        self._next_key = 0
        self._seen = SeenPhotos()  # every photo of the session: opening it again skips it
        self._side = ThreadPoolExecutor(1, thread_name_prefix="side")  # previews, model list
        self._retraining = ThreadPoolExecutor(1, thread_name_prefix="retrain")
        self._arrivals: Arrivals | None = None  # the watched folder (File > Watch a folder)
        self._watched = ""

    @Slot()
    def lower_priority(self) -> None:
        """Run this thread (and the decode and torch threads it starts, which inherit it on
        Linux) below the GUI thread, so the window keeps its share of a busy CPU."""
        _lower_this_thread()

    @Slot(str, str)
    def load_model(self, name_or_dir: str, backend: str) -> None:
        """Load a bundle by name or folder ('' for the default) on ``backend`` (a runtime choice, e.g.
        ``openvino bf16``: :func:`core.inference.runtime.parse_runtime`) and make it the active model."""
        gc.unfreeze()  # the previous model's objects may be collected again
        try:
            bundle = resolve_bundle(name_or_dir or None)
            backend, precision = parse_runtime(backend)
            self._engine = Engine(bundle, thumbnail_edge=THUMBNAIL_EDGE, backend=backend, precision=precision)
        except (BundleError, OSError, ValueError) as error:
            self.failed.emit(f"Cannot load the model: {error}")
            return
        # Loading (and exporting to ONNX) leaves a large heap of long-lived objects; a full garbage
        # collection walking it later stops every thread, the GUI's included, for ~200 ms. Collect
        # now, then freeze what is left: later collections only walk objects made after this.
        gc.collect()
        gc.freeze()
        self.model_loaded.emit(bundle, self._engine.policy, self._engine.runtime)

    @Slot(object)
    def use_policy(self, policy: DecisionPolicy) -> None:
        """Decide the next batches with ``policy`` (the window re-applies it to what it shows meanwhile)."""
        if self._engine is not None:
            self._engine.policy = policy

    @Slot(int, list)
    def classify(self, job: int, paths: list) -> None:
        """Read and classify ``paths``, emitting results batch by batch."""
        if self._engine is None:
            self.failed.emit("No model is loaded: choose one in the Model menu.")
            self.batch_finished.emit(job, True)
            return
        cancel = _JobCancelled(self._cancels, job)
        pending: list[Entry] = []
        skipped = []  # appended to by the walk thread

        def flush(done: int, found: int) -> None:  # once per engine batch: small, few signals
            self.items_classified.emit(job, pending.copy())
            pending.clear()
            self.progress_changed.emit(job, done, found)

        try:
            self.batch_started.emit(job)
            items = self._seen.unseen(iter_items([] if cancel.is_set() else paths), on_skip=skipped.append)
            for prediction in self._engine.classify(items, progress=flush, cancel=cancel):
                self._seen.add(prediction)
                pending.append(self._entry(prediction))
        except Exception:
            log.exception("classification failed")
            self.failed.emit(f"Classification stopped by an unexpected error:\n{traceback.format_exc(limit=3)}")
        if pending:
            self.items_classified.emit(job, pending)
        if skipped:
            self.photos_skipped.emit(job, len(skipped))
        self.batch_finished.emit(job, cancel.is_set())

    @Slot(str)
    def watch_folder(self, folder: str) -> None:
        """Watch ``folder`` ('' to stop): each :meth:`scan_watched` then hands on the photos that settled there."""
        self._arrivals = Arrivals([Path(folder)], say=self.noted.emit) if folder else None
        self._watched = folder  # as the window spelled it: its answers name it so

    @Slot()
    def scan_watched(self) -> None:
        """List the watched folder once (between jobs); ``watched_folder_scanned`` answers."""
        if self._arrivals is not None:
            arrived = [str(path) for path in self._arrivals.scan()]
            arrivals = self._arrivals
            self.watched_folder_scanned.emit(self._watched, arrived, arrivals.waiting, arrivals.next_scan_in())

    @Slot()
    def forget_session(self) -> None:
        """Start a new session: photos opened from now on are classified even if seen before."""
        self._seen.clear()

    @Slot(str, list, object, object, object)
    def export(
        self,
        target: str,
        photos: list,
        bundle: Bundle,
        policy: DecisionPolicy,
        options: ExportOptions,
    ) -> None:
        """Write the session's results into ``target`` (a fresh sub-folder if it is not empty).

        :param photos: ``(prediction, the class the inspector put it in or None, its compressed heatmap)`` per
            photo shown (the heatmaps are opened here, not on the GUI thread)
        """
        photos = [(with_heatmap(prediction, levels), label) for prediction, label, levels in photos]
        problems = []
        try:
            folder = export_session(
                Path(target),
                photos,
                bundle,
                policy,
                options,
                on_error=lambda p, reason: problems.append(f"{p.source}: {reason}"),
            )
        except OSError as error:
            self.failed.emit(f"Export failed: {error}")
            return
        if problems:
            self.failed.emit("Some photos could not be exported:\n" + "\n".join(problems[:20]))
        self.export_finished.emit(str(folder))

    def retrain(
        self, parent_folder: str, writer: JournalWriter | None, journal: str, out: str, cancel: threading.Event
    ) -> None:
        """Retrain the model in ``parent_folder`` with the ``journal``'s corrections into ``out``, on the
        retraining thread (classification goes on); ``retrain_progressed`` and ``retrain_finished`` answer.

        :param writer: the window's journal writer: what it still has queued is written first (there, not on
            the GUI thread)
        :param cancel: set by the window to stop the retraining (within a training step)
        """
        self._retraining.submit(self._retrain, parent_folder, writer, journal, out, cancel)

    def _retrain(
        self, parent_folder: str, writer: JournalWriter | None, journal: str, out: str, cancel: threading.Event
    ) -> None:
        _lower_this_thread()  # below the GUI and beside the photos being classified

        def say(message: str) -> None:
            if cancel.is_set():
                raise _RetrainCancelledError
            self.retrain_progressed.emit(message, -1.0, -1.0)

        def progressed(done: float, seconds_left: float | None) -> None:
            if cancel.is_set():
                raise _RetrainCancelledError
            self.retrain_progressed.emit("", done, -1.0 if seconds_left is None else seconds_left)

        try:
            if writer is not None:
                writer.flush()
            outcome = retrain(load_bundle(parent_folder), [Path(journal)], Path(out), say=say, on_progress=progressed)
        except _RetrainCancelledError:
            shutil.rmtree(out, ignore_errors=True)  # a half-written candidate is no candidate
            outcome = None
        except (BundleError, ValueError, OSError, JournalError) as error:
            self.failed.emit(f"The model cannot be improved: {error}")
            outcome = None
        self.retrain_finished.emit(outcome, _comparison_thumbnails(outcome.comparison) if outcome else {})

    @Slot(str)
    def find_unfinished_session(self, journal: str) -> None:
        """Look for a session the window did not end (a crash); ``unfinished_session_found`` answers if there is one."""
        try:
            session = unfinished_session(Path(journal))
        except JournalError as error:
            self.failed.emit(f"The session journal cannot be read: {error}")
            return
        if session is not None:
            self.unfinished_session_found.emit(session)

    @Slot(str, str)
    def restore_session(self, journal: str, session_id: str) -> None:
        """Bring a session back from the journal, re-making thumbnails from the photos' sources."""
        try:
            restored = load_session(Path(journal), session_id)
        except JournalError as error:
            self.failed.emit(f"The session cannot be restored: {error}")
            return
        entries = []
        with SourceReader() as reader:
            for key, prediction in restored.photos:
                self._seen.add(prediction)
                entries.append(self._restored_entry(key, prediction, reader))
        self._next_key = max([self._next_key, *(key for key, _ in restored.photos)])
        self.session_restored.emit(restored, entries)

    def _restored_entry(self, key: int, prediction: Prediction, reader: SourceReader) -> Entry:
        entry = _kept_entry(key, prediction)
        if prediction.ref is None or not prediction.ok:
            return entry
        try:
            entry.thumbnail_jpeg = compressed_thumbnail(decode_for_display(reader.read(prediction.ref), THUMBNAIL_EDGE))
        except (SourceError, DecodeError, OSError, MemoryError) as error:
            entry.missing = f"Photo no longer readable ({error}); its labels are kept."
        return entry

    def load_preview(self, request: int, ref: SourceRef) -> None:
        """Decode a photo for the detail pane on the side pool; ``preview_loaded`` or ``preview_failed`` answers."""
        self._side.submit(self._preview, request, ref)

    def list_models(self) -> None:
        """Scan the model folders on the side pool; ``models_listed`` answers."""
        self._side.submit(self._list_models)

    def export_audit(self, journal: Path, out: Path) -> None:
        """Write the journal's audit trail as CSV on the side pool; ``noted`` or ``failed`` answers."""
        self._side.submit(self._journal_job, lambda: f"Wrote {export_audit_csv(journal, out)} decisions to {out}.")

    def list_sessions(self, journal: Path) -> None:
        """List the journal's sessions on the side pool; ``sessions_listed`` answers."""
        self._side.submit(self._journal_job, lambda: self.sessions_listed.emit(list_sessions(journal)))

    def clear_sessions(self, journal: Path, session_ids: list[str]) -> None:
        """Drop old sessions' photo results (their decisions stay in the audit trail); ``noted`` answers."""
        self._side.submit(
            self._journal_job, lambda: f"Cleared {clear_sessions(journal, session_ids)} stored photo results."
        )

    def promote(self, bundle: Bundle) -> None:
        """Install ``bundle`` as the version in use (copies its folder) on the side pool; ``model_promoted``
        or ``promotion_failed`` answers."""
        self._side.submit(self._promote, bundle)

    def _promote(self, bundle: Bundle) -> None:
        try:
            self.model_promoted.emit(str(promote(bundle)))
        except (BundleError, OSError) as error:
            self.promotion_failed.emit(f"Not installed: {error}")

    def _journal_job(self, job) -> None:
        try:
            note = job()
        except (JournalError, OSError) as error:
            self.failed.emit(f"Session journal: {error}")
            return
        if isinstance(note, str):
            self.noted.emit(note)

    def stop_side_work(self) -> None:
        """Drop queued previews and wait for the one running and for a retraining (called on shutdown, after
        the retraining was told to stop)."""
        self._side.shutdown(wait=True, cancel_futures=True)
        self._retraining.shutdown(wait=True, cancel_futures=True)

    def _preview(self, request: int, ref: SourceRef) -> None:
        try:
            self.preview_loaded.emit(request, rgb_image(decode_for_display(read_once(ref), PREVIEW_EDGE)))
        except (SourceError, DecodeError, OSError, MemoryError) as error:
            self.preview_failed.emit(request, f"Cannot show this photo: {error}")

    def _list_models(self) -> None:
        try:
            self.models_listed.emit(find_bundles())
        except OSError as error:
            self.failed.emit(f"Cannot list the models: {error}")

    def _entry(self, prediction) -> Entry:
        self._next_key += 1
        pixels = prediction.thumbnail
        entry = _kept_entry(self._next_key, prediction)
        if pixels is not None:  # kept compressed; the ready image only while the photo is among the newest
            entry.thumbnail_jpeg, entry.fresh_thumbnail = compressed_thumbnail(pixels), rgb_image(pixels)
        return entry


def _lower_this_thread() -> None:
    if hasattr(os, "setpriority"):
        try:
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 10)
        except OSError:
            log.info("could not lower a worker thread's priority")


def _comparison_thumbnails(comparison: dict, most: int = 24) -> dict[str, QImage]:
    """Return thumbnails of the photos a retrained model fixed and broke (``most`` of each kind per part)."""
    thumbnails = {}
    with SourceReader() as reader:
        for part in (FROZEN, CORRECTIONS):
            agreement = comparison.get(part, {}).get("agreement", {})
            for photo in agreement.get("fixed", [])[:most] + agreement.get("broken", [])[:most]:
                try:
                    pixels = decode_for_display(reader.read(SourceRef.parse(photo["source"])), COMPARISON_EDGE)
                except (SourceError, DecodeError, OSError, MemoryError):
                    continue  # the comparison names it; without a picture
                thumbnails[photo["source"]] = rgb_image(pixels)
    return thumbnails


def _kept_entry(key: int, prediction: Prediction) -> Entry:
    """Return the entry a session keeps all day for a prediction: without the thumbnail array (the caller
    adds it compressed) and with the heatmap in 256 levels, compressed, instead of the array."""
    heatmap = prediction.heatmap
    levels = heat_levels(heatmap) if heatmap is not None else None
    return Entry(key=key, prediction=replace(prediction, thumbnail=None, heatmap=None), heat_levels=levels)
