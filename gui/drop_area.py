"""The empty state: a large drop target with buttons to open files, a folder or a ZIP."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget


class DropArea(QWidget):
    """Shown while the session is empty; the window itself accepts the drops."""

    open_files_clicked = Signal()
    open_folder_clicked = Signal()
    open_zip_clicked = Signal()

    def __init__(self, icon, parent=None):
        super().__init__(parent)
        self.setObjectName("dropArea")
        picture = QLabel(alignment=Qt.AlignmentFlag.AlignCenter)
        picture.setPixmap(icon.pixmap(96, 96))
        title = QLabel(
            "Drop photos, folders or ZIP archives here", objectName="dropTitle", alignment=Qt.AlignmentFlag.AlignCenter
        )
        hint = QLabel(
            "JPEG, PNG, BMP, TIFF and WebP photos; folders are searched recursively.",
            objectName="dropHint",
            alignment=Qt.AlignmentFlag.AlignCenter,
        )
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        for text, signal in (
            ("Open photos…", self.open_files_clicked),
            ("Open folder…", self.open_folder_clicked),
            ("Open ZIP…", self.open_zip_clicked),
        ):
            button = QPushButton(text)
            button.clicked.connect(signal.emit)
            buttons.addWidget(button)
        buttons.addStretch(1)
        layout = QVBoxLayout(self)
        layout.addStretch(2)
        layout.addWidget(picture)
        layout.addWidget(title)
        layout.addWidget(hint)
        layout.addSpacing(16)
        layout.addLayout(buttons)
        layout.addStretch(3)
