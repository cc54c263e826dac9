"""Progress of the running batch: "123 / 500 - 14 img/s - 0:25 left" and a Cancel button."""

from __future__ import annotations

import time

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QProgressBar, QPushButton, QWidget


def progress_text(done: int, total: int, rate: float) -> str:
    """:returns: e.g. ``"123 / 500 - 14 img/s - 0:25 left"``."""
    text = f"{done} / {total}"
    if rate > 0:
        left = round((total - done) / rate)
        text += f" - {rate:.0f} img/s - {left // 60}:{left % 60:02d} left"
    return text


class ProgressPanel(QWidget):
    """A thin bar above the gallery, visible while work runs."""

    cancel_clicked = Signal()

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setObjectName("progressPanel")
        self.bar = QProgressBar(textVisible=False, maximumHeight=10)
        self.label = QLabel(objectName="progressLabel")
        self.cancel = QPushButton("Cancel")
        self.cancel.clicked.connect(self.cancel_clicked.emit)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(8, 4, 8, 4)
        layout.addWidget(self.label)
        layout.addWidget(self.bar, 1)
        layout.addWidget(self.cancel)
        self._started, self._shown_at = 0.0, 0.0
        self.rate = 0.0
        self.hide()

    def start(self, total: int) -> None:
        """Begin a run of ``total`` items (0 while the sources are still being walked)."""
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
