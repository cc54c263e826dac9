"""Keeps the window's session in the journal as it happens, and brings a lost session back."""

from __future__ import annotations

import uuid

from PySide6.QtCore import QObject

from core.journal.restore import RestoredSession, SessionSummary
from gui import session_dialogs


class SessionRecorder(QObject):
    """Writes every arriving photo and every edit of the window's gallery to the journal (through the
    worker client's writer thread) and restores an unfinished session at start-up.

    :param window: the main window (its ``client``, ``model``, ``bundle``)
    """

    def __init__(self, window):
        super().__init__(window)
        self.window = window
        self.session_id: str | None = None  # the journal's name for the window's current results
        self._exported: dict[int, str | None] = {}  # each photo's inspector label as last exported
        worker = window.client.worker
        worker.unfinished_session_found.connect(self._on_unfinished_session_found)
        worker.session_restored.connect(self._on_session_restored)
        worker.export_finished.connect(self._on_export_finished)
        window.model.entries_edited.connect(self._on_entries_edited)

    def record_photos(self, entries: list) -> None:
        """Journal newly shown photos (the first ones start the session)."""
        journal, bundle = self.window.client.journal, self.window.bundle
        if not entries or journal is None or bundle is None:
            return
        if self.session_id is None:
            self.session_id = uuid.uuid4().hex
            journal.begin_session(self.session_id, bundle.name, bundle.version, bundle.sha256)
        journal.add_photos(self.session_id, [(e.key, e.full_prediction()) for e in entries])

    def end(self) -> None:
        """The window is done with its results on purpose: the journal will not offer them for restoring."""
        if self.window.client.journal is not None and self.session_id is not None:
            self.window.client.journal.end_session(self.session_id)
        self.session_id, self._exported = None, {}

    def keep(self) -> None:
        """The user quits keeping the session for the next start (said so then, not taken for a crash)."""
        self.window.settings.set("kept_session", self.session_id or "")

    def unexported_decisions(self) -> int:
        """Return how many photos the inspector moved or confirmed since the last export (undone ones excepted)."""
        return sum(
            entry.final_label != self._exported.get(entry.key)
            for entry in self.window.model.entries()
            if entry.decided or entry.key in self._exported
        )

    def _on_entries_edited(self, edits: list) -> None:
        journal, bundle = self.window.client.journal, self.window.bundle
        if journal is not None and self.session_id is not None and bundle is not None:
            journal.add_edits(self.session_id, (bundle.name, bundle.version, bundle.sha256), edits)

    def _on_export_finished(self, folder: str) -> None:
        self._exported = {entry.key: entry.final_label for entry in self.window.model.entries() if entry.decided}

    def _on_unfinished_session_found(self, session: SessionSummary) -> None:
        window = self.window
        if window.model.entries() or window.busy:
            return  # the user already started working: the old session stays in the journal
        kept = window.settings.get("kept_session") == session.id
        window.settings.set("kept_session", "")
        if not session_dialogs.ask_restore(window, session, kept):
            if window.client.journal is not None:
                window.client.journal.end_session(session.id)
            return
        if window.bundle is None or session.model_name != window.bundle.name:
            window.client.load_model(session.model_name)  # its results belong to that model
        window.client.restore_session(session.id)

    def _on_session_restored(self, restored: RestoredSession, entries: list) -> None:
        window = self.window
        self.session_id = restored.summary.id
        window.model.add_entries(entries)
        window.model.restore(restored.labels, restored.removed)
        self._exported = {}  # what was decided before the restore is not known to be exported
        window.stack.setCurrentWidget(window.splitter)
        missing = sum(entry.missing is not None for entry in entries)
        note = f"; {missing} photo(s) no longer readable (labels kept)" if missing else ""
        window.statusBar().showMessage(
            f"Restored {len(entries)} photos and {restored.corrections} corrections{note}.", 15000
        )
