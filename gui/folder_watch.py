"""File > Watch a folder: photos that land in a station folder appear in their sections as they arrive.

The worker lists the folder (:mod:`core.photos.arrivals`: a photo is taken once complete) and hands each
settled photo to the window, which opens it like a dropped one: the same de-duplication, the same corrections
and journal. The window asks for the next listing when the last one answered and the pause it asked for
passed (a quarter second, longer for a folder of many thousand files: the rule of ``defectsort watch``), so
listings never pile up behind a long batch. A permanent status-bar label says what is watched and how far behind it is.
"""

from __future__ import annotations

from PySide6.QtCore import QObject, QTimer
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QFileDialog, QLabel


class FolderWatch(QObject):
    """The window's folder watch: its menu entry, its status line, and the photos it hands on.

    :param window: the main window (its ``client``, ``batches``, ``open_paths`` and status bar)
    """

    def __init__(self, window):
        super().__init__(window)
        self.window = window
        self.folder = ""
        self.label = QLabel(objectName="watchLabel")
        self.label.hide()
        window.statusBar().addPermanentWidget(self.label)
        self.action = QAction("Watch a folder…", window, checkable=True)
        self.action.triggered.connect(self._on_action_triggered)
        self._taken = self._landing = 0
        self._next_scan = QTimer(self, singleShot=True)
        self._next_scan.timeout.connect(window.client.scan_watched)
        worker = window.client.worker
        worker.watched_folder_scanned.connect(self._on_folder_scanned)
        worker.batch_finished.connect(self._on_batch_finished)

    def watch(self, folder: str) -> None:
        """Start watching ``folder`` (instead of the one watched so far)."""
        self.folder, self._taken, self._landing = folder, 0, 0
        self.window.client.watch(folder)
        self.window.client.scan_watched()
        self.action.setChecked(True)
        self.action.setText("Stop watching the folder")
        self._show()

    def stop(self) -> None:
        """Stop watching; the photos already in the session stay."""
        self.folder = ""
        self._next_scan.stop()
        self.window.client.watch("")
        self.action.setChecked(False)
        self.action.setText("Watch a folder…")
        self._show()

    def _on_action_triggered(self) -> None:
        if self.folder:
            self.stop()
            return
        self.action.setChecked(False)  # checked once a folder is chosen
        folder = QFileDialog.getExistingDirectory(self.window, "Watch a station folder")
        if folder:
            self.watch(folder)

    def _on_folder_scanned(self, folder: str, paths: list[str], landing: int, next_in_s: float) -> None:
        if folder != self.folder:
            return  # an answer about a folder no longer watched
        if paths:
            self.window.open_paths(paths, watched=True)
        self._taken += len(paths)
        self._landing = landing
        self._show()
        self._next_scan.start(round(next_in_s * 1000))

    def _on_batch_finished(self, *_) -> None:
        QTimer.singleShot(0, self._show)  # once the window has counted the job as done

    def _show(self) -> None:
        if not self.folder:
            self.label.hide()
            return
        behind = [f"{self._landing} landing"] if self._landing else []
        waiting = self.window.batches.paths_waiting
        behind += [f"{waiting} to classify"] if waiting else []
        self.label.setText(
            f"Watching {self.folder}: {self._taken} photos so far, " + (", ".join(behind) or "up to date")
        )
        self.label.show()
