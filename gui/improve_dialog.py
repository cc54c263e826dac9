"""Model > Improve from corrections…: retrain on the worker, show the comparison, promote or keep."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QLabel,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from core.training.gate import CORRECTIONS, FROZEN
from core.training.retrain import RetrainOutcome
from gui.worker_client import WorkerClient

PART_TITLES = {FROZEN: "Frozen holdout", CORRECTIONS: "Held-back corrections"}


class ImproveDialog(QDialog):
    """Runs one retraining and lets the user decide what to do with the candidate.

    :param client: the window's worker client
    :param parent_folder: the current model's bundle folder
    :param out: where the candidate bundle is written
    :param time_budget_s: training time
    """

    def __init__(
        self,
        client: WorkerClient,
        parent_folder: str,
        out: Path,
        time_budget_s: float = 480.0,
        parent: QWidget | None = None,
    ):
        super().__init__(parent)
        self.setWindowTitle("Improve the model from corrections")
        self.setMinimumWidth(620)
        self.client, self.outcome = client, None
        self.status = QLabel("Collecting the corrections from the journal…", wordWrap=True)
        self.bar = QProgressBar(textVisible=False)
        self.bar.setRange(0, 0)
        self.details = QPlainTextEdit(readOnly=True)
        self.details.hide()
        self.buttons = QDialogButtonBox()
        self.cancel_button = self.buttons.addButton(QDialogButtonBox.StandardButton.Cancel)
        self.promote_button = QPushButton("Promote")
        self.keep_button = QPushButton("Keep current")
        for button in (self.promote_button, self.keep_button):
            button.hide()
        self.buttons.addButton(self.promote_button, QDialogButtonBox.ButtonRole.AcceptRole)
        self.buttons.addButton(self.keep_button, QDialogButtonBox.ButtonRole.RejectRole)
        self.cancel_button.clicked.connect(self._on_cancel_clicked)
        self.promote_button.clicked.connect(self._on_promote_clicked)
        self.keep_button.clicked.connect(self.reject)
        layout = QVBoxLayout(self)
        for widget in (self.status, self.bar, self.details, self.buttons):
            layout.addWidget(widget)
        client.worker.retrain_progressed.connect(self._on_progressed)
        client.worker.retrain_finished.connect(self._on_finished)
        client.retrain(parent_folder, str(out), time_budget_s)

    def _on_progressed(self, message: str, step: int, steps: int) -> None:
        if message:
            self.status.setText(message)
        if steps > 0:
            self.bar.setRange(0, steps)
            self.bar.setValue(step)

    def _on_cancel_clicked(self) -> None:
        self.client.cancel()
        self.status.setText("Cancelling…")
        self.cancel_button.setEnabled(False)

    def _on_finished(self, outcome: RetrainOutcome | None) -> None:
        self.client.worker.retrain_progressed.disconnect(self._on_progressed)
        self.client.worker.retrain_finished.disconnect(self._on_finished)
        self.outcome = outcome
        if outcome is None:
            self.reject()
            return
        self.bar.hide()
        self.cancel_button.hide()
        candidate = outcome.bundle
        verdict = "passes the promotion gate" if outcome.passed else "does NOT pass the promotion gate"
        self.status.setText(f"<b>{candidate.name} {candidate.version} {verdict}.</b>")
        self.details.setPlainText(describe(outcome))
        self.details.show()
        self.promote_button.setVisible(True)
        self.promote_button.setEnabled(outcome.passed)
        self.keep_button.setVisible(True)
        self.keep_button.setDefault(True)

    def _on_promote_clicked(self) -> None:
        """Install the candidate on the worker's side pool (it copies a folder); the answer closes the dialog."""
        assert self.outcome is not None
        self.promote_button.setEnabled(False)
        self.keep_button.setEnabled(False)
        self.status.setText("Installing the new version…")
        self.client.worker.model_promoted.connect(self._on_promoted)
        self.client.worker.promotion_failed.connect(self._on_promotion_failed)
        self.client.promote(self.outcome.bundle)

    def _on_promoted(self, installed: str) -> None:
        self._stop_listening_to_promotion()
        self.status.setText(f"Installed as the version in use: {installed}")
        self.accept()

    def _on_promotion_failed(self, message: str) -> None:
        self._stop_listening_to_promotion()
        self.status.setText(message)
        self.keep_button.setEnabled(True)

    def _stop_listening_to_promotion(self) -> None:
        self.client.worker.model_promoted.disconnect(self._on_promoted)
        self.client.worker.promotion_failed.disconnect(self._on_promotion_failed)


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
        lines += [f"  fixed:  {source}" for source in row["agreement"]["fixed"][:20]]
        lines += [f"  broken: {source}" for source in row["agreement"]["broken"][:20]]
    if outcome.problems:
        lines += ["", f"Skipped ({len(outcome.problems)}):", *(f"  {p}" for p in outcome.problems[:20])]
    return "\n".join(lines)


def run_improve(window, client: WorkerClient, parent_folder: str, out: Path) -> RetrainOutcome | None:
    """Show the dialog modally. :returns: the outcome, or None when cancelled or failed."""
    dialog = ImproveDialog(client, parent_folder, out, parent=window)
    dialog.setWindowModality(Qt.WindowModality.WindowModal)
    dialog.exec()
    return dialog.outcome
