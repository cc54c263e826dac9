"""What the window does with the session journal: the audit trail, clearing old sessions, improving the model."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from PySide6.QtCore import QObject
from PySide6.QtWidgets import QFileDialog, QMessageBox

from core.journal.restore import SessionSummary
from core.paths import user_data_dir
from gui import dialogs
from gui.improve import Improvement


class JournalActions(QObject):
    """The File and Model menu entries that read the journal; the work runs on the worker.

    :param window: the main window (its ``client``, ``bundle``, ``session_id`` and status bar)
    """

    def __init__(self, window):
        super().__init__(window)
        self.window = window
        worker = window.client.worker
        worker.sessions_listed.connect(self._on_sessions_listed)
        worker.noted.connect(self._on_noted)
        self.improvement: Improvement | None = None  # the retraining running in the background

    def export_audit(self) -> None:
        """Ask for a file, then write every decision of every session into it as CSV."""
        path, _ = QFileDialog.getSaveFileName(
            self.window, "Export the audit trail", "defectsort-audit.csv", "CSV files (*.csv)"
        )
        if path:
            self.window.client.export_audit(Path(path))

    def clear_old_sessions(self) -> None:
        """List the sessions; the answer asks which to clear."""
        self.window.client.list_sessions()

    def improve_model(self) -> None:
        """Retrain the current model with the journal's corrections in the background (sorting goes on);
        the comparison comes up when it ends."""
        window = self.window
        if window.bundle is None:
            QMessageBox.information(window, "Improve the model", "Wait until the model is loaded.")
            return
        if self.improvement is not None:
            QMessageBox.information(window, "Improve the model", "The model is being improved already.")
            return
        stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
        out = user_data_dir() / "candidates" / f"{window.bundle.name}-{stamp}"
        self.improvement = Improvement(window, window.client, str(window.bundle.folder), out)
        self.improvement.ended.connect(self._on_improvement_ended)
        self.improvement.promoted.connect(self._on_promoted)

    def _on_improvement_ended(self, _outcome) -> None:
        self.improvement = None

    def _on_promoted(self, outcome) -> None:
        self.window.client.list_models()
        self.window.statusBar().showMessage(
            f"{outcome.bundle.name} {outcome.bundle.version} is now the version in "
            "use; choose it in the Model menu to classify with it.",
            15000,
        )

    def _on_sessions_listed(self, sessions: list[SessionSummary]) -> None:
        old = [s for s in sessions if s.id != self.window.recorder.session_id and s.photos]
        if not old:
            QMessageBox.information(self.window, "Clear old sessions", "There are no old sessions with stored photos.")
            return
        photos = sum(s.photos for s in old)
        question = (
            f"Clear {len(old)} old session(s) with {photos} stored photo results? They can then no longer "
            "be restored; their decisions stay in the audit trail."
        )
        if dialogs.confirm(self.window, "Clear old sessions", question):
            self.window.client.clear_sessions([s.id for s in old])

    def _on_noted(self, message: str) -> None:
        self.window.statusBar().showMessage(message, 10000)
