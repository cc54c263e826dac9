"""The DefectSort main window: wires the toolbar, gallery, detail pane and the worker."""

from __future__ import annotations

import logging
from pathlib import Path

from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QUndoStack
from PySide6.QtWidgets import (
    QLabel,
    QMainWindow,
    QMessageBox,
    QSplitter,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from core.inference.decision import DecisionPolicy
from core.model.bundle import Bundle
from core.results.phones import PhoneGrouping, severity_order
from core.results.session_export import ExportOptions
from gui import dialogs, session_dialogs
from gui.batches import Batches
from gui.detail_pane import DetailPane
from gui.drop_area import DropArea
from gui.edits import RelabelCommand, RemoveCommand
from gui.focus import FocusReturner
from gui.folder_watch import FolderWatch
from gui.gallery import Gallery
from gui.gallery_model import SPECIAL_SECTIONS, GalleryModel
from gui.icons import icon
from gui.journal_actions import JournalActions
from gui.menus import BACKEND_NAMES, build_menus
from gui.phone_gallery import PhoneGallery
from gui.progress_panel import ProgressPanel
from gui.session_recorder import SessionRecorder
from gui.settings import Settings
from gui.toolbar import ViewToolbar
from gui.worker_client import WorkerClient

log = logging.getLogger(__name__)


class MainWindow(QMainWindow):
    """The window an inspector works in all day."""

    def __init__(self, settings: Settings | None = None, client: WorkerClient | None = None):
        super().__init__()
        self.setWindowTitle("DefectSort")
        self.setWindowIcon(icon("app"))
        self.setMinimumSize(960, 640)
        self.setAcceptDrops(True)
        self.settings = settings or Settings()
        self.client = client or WorkerClient(self)
        self.bundle: Bundle | None = None
        self.policy: DecisionPolicy | None = None  # the one deciding what is shown and exported
        self.model = GalleryModel(self)
        self.undo_stack = QUndoStack(self)
        self.batches = Batches()  # classification jobs queued or running, and what cancelled ones left
        self._incoming: list = []  # results waiting for the next gallery update
        self._discarded_through = 0  # jobs whose late results belong to a cleared session
        self._flush_timer = QTimer(self, singleShot=True, interval=150)
        self._flush_timer.timeout.connect(self._flush_incoming)
        self._build_widgets()
        self.recorder = SessionRecorder(self)  # before the menus and signals: it records from the start
        self.journal_actions = JournalActions(self)
        self.folder_watch = FolderWatch(self)
        self.menu_actions = build_menus(self)
        self._connect()
        self._restore_settings()
        self.focus_returner = FocusReturner(self, self.gallery)
        self.client.backend = self.settings.get("backend")
        self.client.load_model(self.settings.get("model"))
        self.progress.show_waiting("Loading the model…")
        self.client.list_models()
        self.client.find_unfinished_session()  # answered after the model is loaded (jobs run in order)

    # -- construction ------------------------------------------------------------------
    def _build_widgets(self) -> None:
        self.toolbar = ViewToolbar(self.settings, self)
        self.addToolBar(self.toolbar)
        self.gallery = Gallery(self.model, self)
        self.gallery.delegate.names = self.model.names  # same-named photos are shown with their origin
        self.phones = PhoneGallery(self.model, self.gallery.delegate, self)
        self.views = QStackedWidget()  # the class sections, or the phone cards
        self.views.addWidget(self.gallery)
        self.views.addWidget(self.phones)
        self.detail = DetailPane(self)
        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.addWidget(self.views)
        self.splitter.addWidget(self.detail)
        self.splitter.setStretchFactor(0, 3)
        self.splitter.setStretchFactor(1, 2)
        self.drop_area = DropArea(icon("app"), self)
        self.stack = QStackedWidget()
        self.stack.addWidget(self.drop_area)
        self.stack.addWidget(self.splitter)
        self.progress = ProgressPanel(self)
        central = QWidget()
        layout = QVBoxLayout(central)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addWidget(self.progress)
        layout.addWidget(self.stack, 1)
        self.setCentralWidget(central)
        self.counts_label, self.model_label = QLabel(), QLabel()
        self.statusBar().addWidget(self.counts_label, 1)
        self.statusBar().addPermanentWidget(self.model_label)

    def _connect(self) -> None:
        worker = self.client.worker
        worker.model_loaded.connect(self._on_model_loaded)
        worker.batch_started.connect(self._on_batch_started)
        worker.items_classified.connect(self._on_items_classified)
        worker.progress_changed.connect(self._on_progress_changed)
        worker.photos_skipped.connect(self._on_photos_skipped)
        worker.batch_finished.connect(self._on_batch_finished)
        worker.export_finished.connect(self._on_export_finished)
        worker.preview_loaded.connect(self.detail.on_preview_loaded)
        worker.preview_failed.connect(self.detail.on_preview_failed)
        worker.models_listed.connect(self._on_models_listed)
        worker.failed.connect(self._on_worker_failed)
        self.detail.preview_requested.connect(self.client.load_preview)
        self.progress.cancel_clicked.connect(self.cancel)
        self.progress.continue_clicked.connect(self.continue_unfinished)
        self.drop_area.open_files_clicked.connect(lambda: self.open_paths(dialogs.ask_photos(self)))
        self.drop_area.open_folder_clicked.connect(lambda: self.open_paths(dialogs.ask_folder(self)))
        self.drop_area.open_zip_clicked.connect(lambda: self.open_paths(dialogs.ask_zips(self)))
        for view in (self.gallery, self.phones):
            view.entry_selected.connect(self.detail.show_entry)
            view.relabel_requested.connect(self.relabel)
            view.remove_requested.connect(self.remove)
        self.toolbar.by_phone_changed.connect(self.show_by_phone)
        self.toolbar.grouping_changed.connect(self._on_grouping_changed)
        self.model.counts_changed.connect(self._update_status)
        self.toolbar.thumbnail_edge_changed.connect(self.gallery.set_thumbnail_edge)
        self.toolbar.thumbnail_edge_changed.connect(self.phones.set_thumbnail_edge)  # after: the delegate's new size
        self.toolbar.heatmaps_changed.connect(self._on_heatmaps_changed)
        self.toolbar.heatmaps_changed.connect(self.phones.repaint_cards)
        self.toolbar.review_threshold_changed.connect(self._on_review_threshold_changed)
        self.toolbar.filter_changed.connect(self.gallery.set_filter)
        self.toolbar.filter_changed.connect(self.phones.set_filter)
        self.toolbar.sort_by_confidence_changed.connect(self.gallery.set_sort_by_confidence)

    def _restore_settings(self) -> None:
        geometry = self.settings.geometry()
        if geometry is not None:
            self.restoreGeometry(geometry)
        else:
            self.resize(1280, 800)
        self.splitter.setSizes([int(self.width() * 0.62), int(self.width() * 0.38)])
        self.gallery.set_thumbnail_edge(self.settings.get("thumbnail_edge"))
        self._on_heatmaps_changed(self.toolbar.heatmaps.isChecked(), self.toolbar.opacity)
        self.phones.set_grouping(self.toolbar.phone_grouping() or self.phones.grouping)
        self.show_by_phone(self.settings.get("by_phone"))

    @property
    def busy(self) -> bool:
        """Return True while photos are queued or being classified."""
        return bool(self.batches.running)

    # -- what the user does ------------------------------------------------------------
    def open_paths(self, paths, continuing: bool = False, watched: bool = False) -> None:
        """Classify files, folders and ZIPs (queued behind a running batch).

        :param continuing: re-opening what cancelled batches left (its skipped photos are not news)
        :param watched: photos that landed in the watched folder (no progress bar: the status line tells)
        """
        paths = [str(p) for p in paths or []]
        if not paths:
            return
        if not watched:
            self.settings.set("last_folder", str(Path(paths[0]).parent))
        self.stack.setCurrentWidget(self.splitter)
        job = self.client.classify(paths)
        self.batches.queued(job, paths, continuing, watched)
        if self.bundle is None:
            self.progress.show_waiting("Loading the model… your photos are classified as soon as it is ready")
        elif self.batches.unfinished:
            self.progress.hide()  # new work: the offer to continue is still in the File menu
        log.info("queued job %d: %d path(s)", job, len(paths))

    def continue_unfinished(self) -> None:
        """Classify what cancelled batches left (the photos they finished are skipped, not redone)."""
        paths = self.batches.unfinished.take()
        self.menu_actions.resume.setEnabled(False)
        self.open_paths(paths, continuing=True)

    def cancel(self) -> None:
        """Stop the running batch and the queued ones; finished results stay."""
        self.client.cancel()
        self.progress.cancel.setEnabled(False)
        self.progress.label.setText("Cancelling…")

    def relabel(self, keys: list[int], label: str) -> None:
        """Put items in ``label`` (undoable), which also confirms a doubtful item; errors stay errors."""
        keys = [k for k in keys if self.model.entry(k).prediction.ok and self.model.entry(k).final_label != label]
        if not keys:
            return
        position = self.view.position()
        self.undo_stack.push(RelabelCommand(self.model, keys, label))
        self.view.step_on(position, keys)  # the next photo, so "look, press 3, look, press 1" flows
        self.detail.show_entry(self.view.current_entry())

    def relabel_selection(self, label: str) -> None:
        """Move the selected items to ``label``."""
        self.relabel(self.view.selected_keys(), label)

    def remove(self, keys: list[int]) -> None:
        """Take items out of the session (undoable)."""
        if keys:
            position = self.view.position()
            self.undo_stack.push(RemoveCommand(self.model, keys))
            self.view.step_on(position, keys)
            self.detail.show_entry(self.view.current_entry())

    @property
    def view(self) -> Gallery | PhoneGallery:
        """Return the view shown: the class sections or the phone cards."""
        return self.phones if self.views.currentWidget() is self.phones else self.gallery

    def show_by_phone(self, by_phone: bool) -> None:
        """Show one card per phone (or the class sections); the selected photo stays selected."""
        current = self.view.current_entry()
        self.views.setCurrentWidget(self.phones if by_phone else self.gallery)
        self.settings.set("by_phone", by_phone)
        if current is not None:
            self.view.select(current.key)

    def _on_grouping_changed(self, grouping: PhoneGrouping) -> None:
        self.settings.set("group_by", grouping.spec)
        self.phones.set_grouping(grouping)

    def clear_session(self) -> None:
        """Forget every result (asks first when there are corrections)."""
        if any(e.decided for e in self.model.entries()) and not dialogs.confirm(
            self, "Clear the session", "Forget all results and corrections?"
        ):
            return
        self._forget_results()

    def _forget_results(self) -> None:
        self.recorder.end()
        self.client.cancel()
        self.client.forget_session()
        self.batches.forget()
        self.menu_actions.resume.setEnabled(False)
        self.progress.hide()
        self._discarded_through = self.client.last_job  # results still in flight are dropped
        self._incoming.clear()
        self.model.clear()
        self.undo_stack.clear()
        self.detail.show_entry(None)
        self.stack.setCurrentWidget(self.drop_area)

    def export(self) -> None:
        """Ask where, then export the session on the worker."""
        if self.bundle is None or not self.model.entries():
            QMessageBox.information(self, "Export", "There is nothing to export yet.")
            return
        choice = dialogs.ask_export(self, self.settings)
        if choice is None:
            return
        folder, overlays, report = choice
        photos = [(e.prediction, e.final_label, e.heat_levels) for e in self.model.entries()]
        grouping = self.phones.grouping if self.view is self.phones else None
        self.client.export(folder, photos, self.bundle, self.policy, ExportOptions(overlays, report, grouping))
        self.progress.start(0)
        self.progress.bar.setRange(0, 0)  # busy indicator
        self.progress.label.setText("Exporting…")

    def choose_model(self, name_or_dir: str) -> None:
        """Switch model; the current results belong to the old one, so they are cleared (after asking)."""
        if self.model.entries():
            if not dialogs.confirm(self, "Switch model", "The results of the current model will be cleared. Continue?"):
                return
            self._forget_results()
        self.client.forget_session()  # photos opened again are classified by the new model
        self.progress.show_waiting("Loading the model…")
        self.toolbar.threshold.wait_for_model()
        self.client.load_model(name_or_dir)

    # -- drag and drop of files from the desktop ----------------------------------------
    def dragEnterEvent(self, event) -> None:
        if event.mimeData().hasUrls():
            event.acceptProposedAction()

    def dropEvent(self, event) -> None:
        paths = [url.toLocalFile() for url in event.mimeData().urls() if url.isLocalFile()]
        if paths:
            event.acceptProposedAction()
            self.open_paths(paths)

    # -- worker signals ----------------------------------------------------------------
    def choose_backend(self, backend: str) -> None:
        """Run the model on another inference backend (the session stays: its photos keep the results they had)."""
        self.settings.set("backend", backend)
        self.client.backend = backend
        if self.bundle is not None:
            self.client.load_model(str(self.bundle.folder))

    def _on_model_loaded(self, bundle: Bundle, policy: DecisionPolicy, runtime: str) -> None:
        if not self.busy:
            self.progress.hide()  # "Loading the model…"
        self.bundle = bundle
        self.settings.set("model", bundle.name)
        self.gallery.set_classes(bundle.classes)
        self.phones.set_model_order(bundle.classes, severity_order(bundle))
        self.detail.model_text = f"{bundle.name} {bundle.version}"
        self.detail.anomaly_threshold = (bundle.anomaly or bundle.anomaly_head).get("threshold")
        backend, precision = runtime.split()
        self.model_label.setText(f"Model: {bundle.name} {bundle.version} · {BACKEND_NAMES[backend]} {precision}")
        self.menu_actions.set_classes(bundle.classes)
        self.menu_actions.check_model(bundle.name)
        self.policy = policy
        threshold = self.settings.review_threshold(bundle.name, bundle.version, policy.review_below)
        self.toolbar.threshold.show_threshold(threshold * 100)
        self._on_review_threshold_changed(threshold)

    def _on_models_listed(self, bundles: list) -> None:
        self.menu_actions.set_models(bundles)

    def _on_review_threshold_changed(self, threshold: float) -> None:
        """The user's threshold makes a new policy: the sections, the detail pane, the worker
        and the next export all use that one object."""
        if self.policy is None:
            return
        self.policy = self.policy.with_review_threshold(threshold)
        self.model.set_policy(self.policy)
        self.gallery.set_review_threshold(self.policy.review_below)
        self.phones.set_review_below(self.policy.review_below)
        self.detail.policy = self.policy
        self.client.use_policy(self.policy)
        self.detail.show_entry(self.gallery.current_entry())

    def _on_batch_started(self, job: int) -> None:
        if job in self.batches.watched:
            return
        self.progress.cancel.setEnabled(True)
        self.progress.start(0)

    def _on_items_classified(self, job: int, entries: list) -> None:
        # Results are shown in small bursts: one gallery relayout per burst, not per batch.
        if job <= self._discarded_through:
            return
        self.batches.classified(job, len(entries))
        self._incoming.extend(entries)
        if not self._flush_timer.isActive():
            self._flush_timer.start()

    def _flush_incoming(self) -> None:
        entries, self._incoming = self._incoming, []
        self.model.add_entries(entries)
        self.recorder.record_photos(entries)

    def _on_progress_changed(self, job: int, done: int, total: int) -> None:
        self.batches.progressed(job, total)
        if job not in self.batches.watched:
            self.progress.update_progress(done, total)
        self._update_status()

    def _on_batch_finished(self, job: int, cancelled: bool) -> None:
        self._flush_incoming()
        self.batches.finished(job, cancelled and job > self._discarded_through)
        if self.busy:
            return
        unfinished = self.batches.unfinished
        if unfinished:
            self.progress.show_cancelled(unfinished.summary(), unfinished.offer())
            self.menu_actions.resume.setEnabled(True)
        else:
            self.progress.hide()
        self._update_status()  # without the rate of a batch that has ended

    def _on_photos_skipped(self, job: int, count: int) -> None:
        self.batches.photos_skipped(job, count)
        self._update_status()

    def _on_export_finished(self, folder: str) -> None:
        self.progress.hide()
        self.statusBar().showMessage(f"Exported to {folder}", 10000)
        dialogs.show_export_done(self, folder)

    def showEvent(self, event) -> None:
        super().showEvent(event)
        if self.client.journal_problem:  # said once, when the window first appears
            problem, self.client.journal_problem = self.client.journal_problem, ""
            QTimer.singleShot(0, lambda: QMessageBox.warning(self, "DefectSort", problem))

    def _on_worker_failed(self, message: str) -> None:
        log.error("worker: %s", message)
        if not self.busy:
            self.progress.hide()
        QMessageBox.warning(self, "DefectSort", message)

    def _on_heatmaps_changed(self, visible: bool, opacity: float) -> None:
        self.gallery.set_heatmaps(visible, opacity)
        self.detail.set_heatmap(visible, opacity)

    def _update_status(self) -> None:
        shown, counts = self.model.shown_count(), self.model.section_counts
        parts = [f"{label.capitalize()} {counts.get(label, 0)}" for label in self.gallery.classes]
        parts += [f"{title} {counts.get(key, 0)}" for key, title in SPECIAL_SECTIONS.items()]
        rate = f"  ·  {self.progress.rate:.1f} img/s" if self.progress.running and self.progress.rate else ""
        noun = "photo" if shown == 1 else "photos"
        skipped = self.batches.skipped
        skipped_text = f"  ·  {skipped} opened again and skipped (already here)" if skipped else ""
        self.counts_label.setText(f"{shown} {noun}: " + ", ".join(parts) + rate + skipped_text)

    # -- closing -----------------------------------------------------------------------
    def closeEvent(self, event) -> None:
        decisions = self.recorder.unexported_decisions()
        if decisions:
            choice = session_dialogs.ask_quit_with_unexported(self, decisions, len(self.model.entries()))
            if choice != session_dialogs.KEEP:
                event.ignore()
                if choice == session_dialogs.EXPORT:
                    self.export()
                return
            self.recorder.keep()
        else:
            self.recorder.end()
        self.settings.set_geometry(self.saveGeometry())
        self.settings.set("thumbnail_edge", self.toolbar.size_slider.value())
        self.settings.set("heatmaps", self.toolbar.heatmaps.isChecked())
        self.settings.set("opacity", self.toolbar.opacity)
        if self.bundle is not None and self.policy is not None:
            self.settings.set_review_threshold(self.bundle.name, self.bundle.version, self.policy.review_below)
        self.settings.sync()
        self.client.shutdown()
        super().closeEvent(event)
