"""Progress of the running batch: "123 / 500 - 14 img/s - 0:25 left" and a Cancel button; after a
cancel, what was left and a button to continue with it."""

from __future__ import annotations

import time

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QProgressBar, QPushButton, QSizePolicy, QWidget


def progress_text(done: int, total: int, rate: float) -> str:
    """Return e.g. ``"123 / 500 - 14 img/s - 0:25 left"``."""
    text = f"{done} / {total}"
    if rate > 0:
        left = round((total - done) / rate)
        text += f" - {rate:.0f} img/s - {left // 60}:{left % 60:02d} left"
    return text


class ProgressPanel(QWidget):
    """A thin bar above the gallery, visible while work runs."""

    cancel_clicked = Signal()
    continue_clicked = Signal()

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setObjectName("progressPanel")
        self.bar = QProgressBar(textVisible=False, maximumHeight=10)
        self.label = QLabel(objectName="progressLabel")
        self.cancel = QPushButton("Cancel")
        self.cancel.clicked.connect(self.cancel_clicked.emit)
        self.resume = QPushButton(objectName="continueButton")
        self.resume.clicked.connect(self.continue_clicked.emit)
        self.dismiss = QPushButton("Dismiss")
        self.dismiss.clicked.connect(self.hide)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(8, 4, 8, 4)
        layout.addWidget(self.label)
        layout.addWidget(self.bar, 1)
        for button in (self.cancel, self.resume, self.dismiss):
            button.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Fixed)
            layout.addWidget(button)
        self._started, self._shown_at = 0.0, 0.0
        self.rate = 0.0
        self.hide()

    def start(self, total: int) -> None:
        """Begin a run of ``total`` items (0 while the sources are still being walked)."""
        self._show_buttons(running=True)
        self._started, self.rate = time.monotonic(), 0.0
        self.bar.setRange(0, max(total, 1))
        self.bar.setValue(0)
        self.label.setText(progress_text(0, total, 0.0))
        self.show()

    def update_progress(self, done: int, total: int) -> None:
        """Show ``done`` of ``total`` with the throughput since :meth:`start` (at most ~4 times a second:
        repainting the bar costs the GUI thread more than the news is worth)."""
        now = time.monotonic()
        if done < total and now - self._shown_at < 0.25:
            return
        self._shown_at = now
        elapsed = now - self._started
        self.rate = done / elapsed if elapsed > 0.2 else 0.0
        self.bar.setRange(0, max(total, 1))
        self.bar.setValue(done)
        self.label.setText(progress_text(done, total, self.rate))

    @property
    def running(self) -> bool:
        """Return True while a batch's progress is shown (not a wait or a cancelled batch's offer)."""
        return self.isVisible() and self.cancel.isVisible()

    def show_waiting(self, text: str) -> None:
        """Say why nothing has started yet (e.g. the model is loading), with a busy bar."""
        self._show_buttons(running=False, resumable=False)
        self.bar.setRange(0, 0)
        self.label.setText(text)
        self.show()

    def show_cancelled(self, text: str, continue_text: str) -> None:
        """After a cancel: say what was done and offer to continue with the rest."""
        self._show_buttons(running=False, resumable=True)
        self.bar.hide()
        self.label.setText(text)
        self.resume.setText(continue_text)
        self.resume.adjustSize()
        self.show()

    def _show_buttons(self, running: bool, resumable: bool = False) -> None:
        self.bar.show()
        self.cancel.setVisible(running)
        self.resume.setVisible(resumable)
        self.dismiss.setVisible(resumable)
