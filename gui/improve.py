"""Model > Improve from corrections…: a retraining in the background, then a comparison to decide on.

The inspector keeps sorting while the worker retrains: a strip in the status bar says how far it got
and about how long it still needs, with its own Cancel (the photos being classified go on). When it
ends, :class:`ComparisonDialog` shows the verdict in one sentence, the photos the new version now gets
right and those it now gets wrong (thumbnails, true and given labels), and the gate's figures and the
training log behind Details. Promote installs the new version.
"""

from __future__ import annotations

from pathlib import Path, PurePosixPath

from PySide6.QtCore import QObject, QSize, Signal
from PySide6.QtGui import QIcon, QImage, QPixmap
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from core.training.eta import describe_time_left
from core.training.gate import CORRECTIONS, FROZEN
from core.training.retrain import RetrainOutcome
from gui.worker_client import WorkerClient

PART_TITLES = {FROZEN: "Frozen holdout", CORRECTIONS: "Held-back corrections"}
THUMBNAIL_SIZE = QSize(120, 90)


class ImproveStatus(QWidget):
    """The status bar's strip while a retraining runs: what it does, a bar, the time left, Cancel."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.label = QLabel("Improving the model: collecting the corrections…")
        self.bar = QProgressBar(maximumWidth=140, maximumHeight=14, textVisible=False)
        self.bar.setRange(0, 0)
        self.cancel_button = QToolButton(text="Cancel", toolTip="Stop improving the model (sorting goes on)")
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        for widget in (self.label, self.bar, self.cancel_button):
            layout.addWidget(widget)

    def show_progress(self, done: float, seconds_left: float | None) -> None:
        """Show the share of training done and the time left."""
        self.bar.setRange(0, 100)
        self.bar.setValue(round(100 * done))
        if done >= 1:  # trained: what is left is fitting its thresholds and checking it against the current one
            self.label.setText("Improving the model: checking the new version…")
            return
        left = describe_time_left(seconds_left)
        self.label.setText(f"Improving the model: {round(100 * done)} %" + (f", {left}" if left else ""))


class Improvement(QObject):
    """One retraining in the background: the status strip while it runs, the comparison when it ends.

    :param window: the main window (its status bar; the dialog's parent)
    :param client: the window's worker client
    :param parent_folder: the model in use
    :param out: where the new version is written
    """

    ended = Signal(object)  # the RetrainOutcome, or None when cancelled or failed
    promoted = Signal(object)  # the RetrainOutcome of the version just installed

    def __init__(self, window, client: WorkerClient, parent_folder: str, out: Path):
        super().__init__(window)
        self.window, self.client = window, client
        self.log: list[str] = []  # what the retraining said: for Details
        self.status = ImproveStatus()
        self.status.cancel_button.clicked.connect(self._on_cancel_clicked)
        window.statusBar().addPermanentWidget(self.status)
        self.dialog: ComparisonDialog | None = None
        client.worker.retrain_progressed.connect(self._on_progressed)
        client.worker.retrain_finished.connect(self._on_finished)
        client.retrain(parent_folder, str(out))

    def _on_progressed(self, message: str, done: float, seconds_left: float) -> None:
        if message:
            self.log.append(message)
        if done >= 0:
            self.status.show_progress(done, seconds_left if seconds_left >= 0 else None)

    def _on_cancel_clicked(self) -> None:
        self.client.cancel_retrain()
        self.status.label.setText("Stopping the improvement…")
        self.status.cancel_button.setEnabled(False)

    def _on_finished(self, outcome: RetrainOutcome | None, thumbnails: dict[str, QImage]) -> None:
        self.client.worker.retrain_progressed.disconnect(self._on_progressed)
        self.client.worker.retrain_finished.disconnect(self._on_finished)
        self.window.statusBar().removeWidget(self.status)
        self.status.deleteLater()
        if outcome is None:
            self.window.statusBar().showMessage("The model was not improved (stopped, or see the message).", 10000)
        else:
            self.dialog = ComparisonDialog(outcome, thumbnails, self.log, self.client, self.window)
            self.dialog.promoted.connect(self.promoted)
            self.dialog.show()
        self.ended.emit(outcome)


class ComparisonDialog(QDialog):
    """The new version against the one in use, in the inspector's words; Promote or keep.

    :param outcome: the retraining's outcome
    :param thumbnails: pictures of the photos fixed and broken, by source
    :param log: what the retraining said (shown under Details)
    """

    promoted = Signal(object)  # the outcome, once its version is installed

    def __init__(
        self,
        outcome: RetrainOutcome,
        thumbnails: dict[str, QImage],
        log: list[str],
        client: WorkerClient,
        parent: QWidget | None = None,
    ):
        super().__init__(parent)
        self.outcome, self.client = outcome, client
        candidate = outcome.bundle
        self.setWindowTitle(f"Improve the model: {candidate.name} {candidate.version}")
        self.setMinimumWidth(760)
        self.headline = QLabel(f"<b>{outcome.headline}</b>", wordWrap=True)
        self.facts = QLabel(_facts(outcome), wordWrap=True)
        self.fixed = _photo_list(outcome.comparison, "fixed", thumbnails)
        self.broken = _photo_list(outcome.comparison, "broken", thumbnails)
        self.details = QPlainTextEdit(readOnly=True, plainText="\n".join([describe(outcome), "", *log]))
        self.details.hide()
        self.details_button = QPushButton("Details", checkable=True)
        self.details_button.toggled.connect(self.details.setVisible)
        self.buttons = QDialogButtonBox()
        self.promote_button = QPushButton("Use the new version")
        self.promote_button.setEnabled(outcome.passed)
        self.keep_button = QPushButton("Keep the current version")
        self.buttons.addButton(self.details_button, QDialogButtonBox.ButtonRole.HelpRole)
        self.buttons.addButton(self.promote_button, QDialogButtonBox.ButtonRole.AcceptRole)
        self.buttons.addButton(self.keep_button, QDialogButtonBox.ButtonRole.RejectRole)
        self.keep_button.setDefault(True)
        self.promote_button.clicked.connect(self._on_promote_clicked)
        self.keep_button.clicked.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.headline)
        layout.addWidget(self.facts)
        for title, photos, none in (
            ("Now right (the current version gets them wrong)", self.fixed, "none"),
            ("Now wrong (the current version gets them right)", self.broken, "none: it broke nothing"),
        ):
            layout.addWidget(QLabel(f"{title}: {photos.count() or none}"))
            if photos.count():
                layout.addWidget(photos)
        layout.addWidget(self.details)
        layout.addWidget(self.buttons)

    def _on_promote_clicked(self) -> None:
        """Install the new version on the worker's side pool (it copies a folder); the answer closes the dialog."""
        self.promote_button.setEnabled(False)
        self.keep_button.setEnabled(False)
        self.headline.setText("Installing the new version…")
        self.client.worker.model_promoted.connect(self._on_promoted)
        self.client.worker.promotion_failed.connect(self._on_promotion_failed)
        self.client.promote(self.outcome.bundle)

    def _on_promoted(self, installed: str) -> None:
        self._stop_listening_to_promotion()
        self.outcome.bundle.promotion["promoted"] = True
        self.headline.setText(f"Installed as the version in use: {installed}")
        self.promoted.emit(self.outcome)
        self.accept()

    def _on_promotion_failed(self, message: str) -> None:
        self._stop_listening_to_promotion()
        self.headline.setText(message)
        self.keep_button.setEnabled(True)

    def _stop_listening_to_promotion(self) -> None:
        self.client.worker.model_promoted.disconnect(self._on_promoted)
        self.client.worker.promotion_failed.disconnect(self._on_promotion_failed)


def _facts(outcome: RetrainOutcome) -> str:
    """What the verdict rests on, in words: the check photos and how the corrections were used."""
    lines = []
    frozen = outcome.comparison.get(FROZEN, {})
    if frozen.get("photos"):
        old, new = frozen["parent"]["correct"], frozen["candidate"]["correct"]
        lines.append(
            f"Checked on {frozen['photos']} photos neither version trained on: the new version gets {new} right, "
            f"the current one {old}."
        )
    lineage = outcome.bundle.lineage
    if lineage:
        corrections, held = sum(lineage.get("corrections", {}).values()), lineage.get("held_back", 0)
        lines.append(
            f"Of your {corrections} corrections, {corrections - held} went into training and {held} were "
            "set aside to check on."
        )
    if outcome.problems:
        lines.append(f"{len(outcome.problems)} correction(s) could not be used (see Details).")
    return " ".join(lines)


def _photo_list(comparison: dict, kind: str, thumbnails: dict[str, QImage]) -> QListWidget:
    """A row of thumbnails: each photo's name, its true label and what the new version says."""
    photos = QListWidget(viewMode=QListWidget.ViewMode.IconMode, iconSize=THUMBNAIL_SIZE, wrapping=False)
    photos.setFixedHeight(THUMBNAIL_SIZE.height() + 70)
    photos.setMovement(QListWidget.Movement.Static)
    for part in (CORRECTIONS, FROZEN):
        for photo in comparison.get(part, {}).get("agreement", {}).get(kind, []):
            name = PurePosixPath(photo["source"].replace("\\", "/")).name
            given = f"was {photo['parent']}" if kind == "fixed" else f"now {photo['candidate']}"
            item = QListWidgetItem(f"{name}\n{photo['truth']} ({given})")
            item.setToolTip(f"{photo['source']}\n{PART_TITLES[part]}")
            picture = thumbnails.get(photo["source"])
            if picture is not None:
                item.setIcon(QIcon(QPixmap.fromImage(picture)))
            photos.addItem(item)
    return photos


def describe(outcome: RetrainOutcome) -> str:
    """Return the comparison in plain text: the gate's reasons, the measures, the photos fixed and broken."""
    lines = [*outcome.reasons, ""]
    for part, title in PART_TITLES.items():
        row = outcome.comparison.get(part, {})
        if not row.get("photos"):
            continue
        old, new = row["parent"], row["candidate"]
        lines.append(
            f"{title} ({row['photos']} photos): accuracy {old['accuracy']:.3f} -> {new['accuracy']:.3f}, "
            f"macro-F1 {old['macro_f1']:.3f} -> {new['macro_f1']:.3f}"
        )
        counts = row["agreement"]["counts"]
        lines.append(
            f"  fixed {counts['fixed']}, broken {counts['broken']}, both right {counts['both_right']}, "
            f"both wrong {counts['both_wrong']}"
        )
        for kind in ("fixed", "broken"):
            lines += [
                f"  {kind}: {photo['source']} (true {photo['truth']}: {photo['parent']} -> {photo['candidate']})"
                for photo in row["agreement"][kind][:20]
            ]
    if outcome.problems:
        lines += ["", f"Skipped ({len(outcome.problems)}):", *(f"  {p}" for p in outcome.problems[:20])]
    return "\n".join(lines)
