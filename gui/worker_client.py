"""The window's side of the one worker: owns the worker thread and the journal writer, numbers jobs.

See :mod:`gui.worker`. Every request the window makes of core goes through :class:`WorkerClient`.
"""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
from PySide6.QtCore import QObject, QThread, Signal

from core.inference.decision import DecisionPolicy
from core.journal.session import JournalError, JournalWriter, journal_path
from core.model.bundle import Bundle
from core.photos.sources import SourceRef
from core.results.session_export import ExportOptions
from gui.images import heatmap_image, rgb_image
from gui.worker import CancelMark, Worker


class WorkerClient(QObject):
    """The GUI-thread side: owns the thread, numbers jobs, forwards requests."""

    _load_requested = Signal(str, str)
    _find_session_requested = Signal(str)
    _restore_requested = Signal(str, str)
    _classify_requested = Signal(int, list)
    _forget_requested = Signal()
    _policy_requested = Signal(object)
    _export_requested = Signal(str, list, object, object, object)
    _watch_requested = Signal(str)
    _scan_watched_requested = Signal()

    def __init__(self, parent=None, journal: Path | None = None):
        super().__init__(parent)
        self.journal_file = journal or journal_path()
        self.journal: JournalWriter | None = None  # every result and decision, as it happens
        self.journal_problem = ""
        try:
            self.journal = JournalWriter(self.journal_file)
        except (JournalError, OSError) as error:
            self.journal_problem = f"Corrections cannot be kept safely: {error}"
        # PySide6 initialises a binding on its first use, holding the GIL for up to ~250 ms.
        # Do that here for what the worker calls, so the worker never freezes the window.
        rgb_image(np.zeros((2, 2, 3), np.uint8))
        heatmap_image(np.zeros((2, 2), np.float32))
        self.thread = QThread()
        self.thread.setObjectName("defectsort-worker")
        self.cancels = CancelMark()
        self.worker = Worker(self.cancels)
        self.worker.moveToThread(self.thread)
        self._load_requested.connect(self.worker.load_model)
        self._find_session_requested.connect(self.worker.find_unfinished_session)
        self._restore_requested.connect(self.worker.restore_session)
        self._classify_requested.connect(self.worker.classify)
        self._forget_requested.connect(self.worker.forget_session)
        self._export_requested.connect(self.worker.export)
        self._policy_requested.connect(self.worker.use_policy)
        self._watch_requested.connect(self.worker.watch_folder)
        self._scan_watched_requested.connect(self.worker.scan_watched)
        self.thread.started.connect(self.worker.lower_priority)
        self.thread.start(QThread.Priority.LowPriority)
        self._last_job = 0
        self._retrain_cancel = threading.Event()
        self.backend = "auto"  # the inference backend models are loaded with (core.inference.runtime.resolve_backend)

    @property
    def last_job(self) -> int:
        """Return the number of the most recently queued job (0 before any)."""
        return self._last_job

    def load_model(self, name_or_dir: str = "") -> None:
        """Ask for a model (on :attr:`backend`); ``worker.model_loaded`` or ``worker.failed`` answers."""
        self._load_requested.emit(name_or_dir, self.backend)

    def classify(self, paths: list[str]) -> int:
        """Queue ``paths`` for classification. :returns: the job number."""
        self._last_job += 1
        self._classify_requested.emit(self._last_job, [str(p) for p in paths])
        return self._last_job

    def watch(self, folder: str) -> None:
        """Watch ``folder`` ('' stops watching)."""
        self._watch_requested.emit(folder)

    def scan_watched(self) -> None:
        """Ask for the photos that settled in the watched folder; ``worker.watched_folder_scanned`` answers
        (after the jobs queued before: the next scan is asked for once this one answered)."""
        self._scan_watched_requested.emit()

    def forget_session(self) -> None:
        """Start a new session on the worker (after the jobs queued so far): nothing counts as seen."""
        self._forget_requested.emit()

    def cancel(self) -> None:
        """Stop the running job and drop the queued ones (finished results stay)."""
        self.cancels.cancel_through(self._last_job)

    def export(self, target: str, photos: list, bundle: Bundle, policy: DecisionPolicy, options: ExportOptions) -> None:
        """Queue an export: ``(prediction, the inspector's class or None)`` per photo, decided by ``policy``."""
        self._export_requested.emit(target, photos, bundle, policy, options)

    def use_policy(self, policy: DecisionPolicy) -> None:
        """Make ``policy`` the engine's from its next job on (the window applies the same object to what it shows)."""
        self._policy_requested.emit(policy)

    def load_preview(self, request: int, ref: SourceRef) -> None:
        """Ask for a large preview; ``worker.preview_loaded`` or ``worker.preview_failed`` answers."""
        self.worker.load_preview(request, ref)

    def list_models(self) -> None:
        """Ask for the installed models; ``worker.models_listed`` answers."""
        self.worker.list_models()

    def retrain(self, parent_folder: str, out: str) -> None:
        """Start a retraining with the journal's corrections beside classification (the journal first writes
        what it has queued); ``worker.retrain_progressed`` and ``worker.retrain_finished`` answer."""
        self._retrain_cancel = threading.Event()
        self.worker.retrain(parent_folder, self.journal, str(self.journal_file), out, self._retrain_cancel)

    def cancel_retrain(self) -> None:
        """Stop the retraining (the photos being classified go on)."""
        self._retrain_cancel.set()

    def promote(self, bundle: Bundle) -> None:
        """Install a retrained bundle as the version in use; ``worker.model_promoted`` or ``promotion_failed``
        answers."""
        self.worker.promote(bundle)

    def export_audit(self, out: Path) -> None:
        """Write the journal's audit trail to ``out``; ``worker.noted`` or ``worker.failed`` answers."""
        self.worker.export_audit(self.journal_file, out)

    def list_sessions(self) -> None:
        """Ask for the journal's sessions; ``worker.sessions_listed`` answers."""
        self.worker.list_sessions(self.journal_file)

    def clear_sessions(self, session_ids: list[str]) -> None:
        """Drop the stored photo results of ``session_ids``; ``worker.noted`` answers."""
        self.worker.clear_sessions(self.journal_file, session_ids)

    def find_unfinished_session(self) -> None:
        """Ask whether the last session ended without the window closing it; ``worker.unfinished_session_found``
        answers when there is one."""
        if self.journal is not None:
            self._find_session_requested.emit(str(self.journal_file))

    def restore_session(self, session_id: str) -> None:
        """Bring a session back; ``worker.session_restored`` answers."""
        self._restore_requested.emit(str(self.journal_file), session_id)

    def shutdown(self, timeout_ms: int = 10_000) -> None:
        """Cancel everything, stop the threads and wait for them, write the journal (call before quitting)."""
        self.cancel()
        self.cancel_retrain()
        self.worker.stop_side_work()
        self.thread.quit()
        self.thread.wait(timeout_ms)
        if self.journal is not None:
            self.journal.close()
            self.journal = None
