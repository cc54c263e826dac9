"""Small dialogs: file pickers, export options, confirmations, help."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QUrl
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPushButton,
    QVBoxLayout,
)

from core.paths import user_log_dir
from core.photos.sources import file_dialog_patterns

PHOTO_FILTER = f"Photos ({file_dialog_patterns()});;ZIP archives (*.zip);;All files (*)"


def _start_folder(window) -> str:
    return window.settings.get("last_folder") or str(Path.home())


def ask_photos(window) -> list[str]:
    """Return photo (or ZIP) files the user picked."""
    files, _ = QFileDialog.getOpenFileNames(window, "Open photos", _start_folder(window), PHOTO_FILTER)
    return files


def ask_folder(window) -> list[str]:
    """Return a one-element list with the folder picked, or []."""
    folder = QFileDialog.getExistingDirectory(window, "Open a folder of photos", _start_folder(window))
    return [folder] if folder else []


def ask_zips(window) -> list[str]:
    """Return ZIP archives the user picked."""
    files, _ = QFileDialog.getOpenFileNames(window, "Open ZIP archives", _start_folder(window), "ZIP archives (*.zip)")
    return files


def ask_model_folder(window) -> str:
    """Return a bundle folder picked by the user, or ''."""
    return QFileDialog.getExistingDirectory(window, "Open a model bundle folder", str(Path.home()))


class ExportDialog(QDialog):
    """Where to export, and whether to include heatmap overlays."""

    def __init__(self, window, settings):
        super().__init__(window)
        self.setWindowTitle("Export results")
        self.folder = QLineEdit(settings.get("export_folder") or str(Path.home() / "DefectSort exports"))
        self.folder.setMinimumWidth(self.folder.fontMetrics().horizontalAdvance("x" * 60))
        self.folder.setToolTip(self.folder.text())
        self.folder.textChanged.connect(self.folder.setToolTip)
        folder_label = QLabel("&Export into folder:")
        folder_label.setBuddy(self.folder)
        browse = QPushButton("Browse…")
        browse.clicked.connect(self._browse)
        self.overlays = QCheckBox("Include heatmap overlays")
        self.overlays.setChecked(settings.get("export_overlays"))
        self.report = QCheckBox("Include a report (report.html: totals, charts, drift, the least certain photos)")
        self.report.setChecked(settings.get("export_report"))
        note = QLabel(
            "One folder per final label with copies of the photos, results.csv and results.json.\n"
            "A folder that is not empty is never overwritten: a new dated folder is made inside it."
        )
        note.setWordWrap(True)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        row = QHBoxLayout()
        row.addWidget(self.folder, 1)
        row.addWidget(browse)
        layout = QVBoxLayout(self)
        layout.addWidget(folder_label)
        layout.addLayout(row)
        layout.addWidget(self.overlays)
        layout.addWidget(self.report)
        layout.addWidget(note)
        layout.addWidget(buttons)

    def _browse(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Export into", self.folder.text())
        if folder:
            self.folder.setText(folder)


def ask_export(window, settings) -> tuple[str, bool, bool] | None:
    """Return ``(folder, overlays, report)`` or None when cancelled."""
    dialog = ExportDialog(window, settings)
    if dialog.exec() != QDialog.DialogCode.Accepted or not dialog.folder.text().strip():
        return None
    settings.set("export_folder", dialog.folder.text().strip())
    settings.set("export_overlays", dialog.overlays.isChecked())
    settings.set("export_report", dialog.report.isChecked())
    return dialog.folder.text().strip(), dialog.overlays.isChecked(), dialog.report.isChecked()


def show_export_done(window, folder: str) -> None:
    """Tell where the export went, offering to open it."""
    box = QMessageBox(
        QMessageBox.Icon.Information,
        "Export finished",
        f"Results were written to\n{folder}",
        QMessageBox.StandardButton.Ok,
        window,
    )
    open_button = box.addButton("Open folder", QMessageBox.ButtonRole.ActionRole)
    box.exec()
    if box.clickedButton() is open_button:
        QDesktopServices.openUrl(QUrl.fromLocalFile(folder))


def confirm(window, title: str, question: str) -> bool:
    """Return True when the user answers Yes."""
    answer = QMessageBox.question(window, title, question)
    return answer == QMessageBox.StandardButton.Yes


def show_shortcuts(window, shortcuts: list[tuple[str, str]]) -> None:
    """List the keyboard shortcuts."""
    rows = "".join(f"<tr><td><b>{keys}</b></td><td>&nbsp;&nbsp;{what}</td></tr>" for keys, what in shortcuts)
    QMessageBox.information(window, "Keyboard shortcuts", f"<table>{rows}</table>")


def show_about(window) -> None:
    """Version and where logs live."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        number = version("defectsort")
    except PackageNotFoundError:
        number = "development"
    QMessageBox.about(
        window,
        "About DefectSort",
        f"<b>DefectSort</b> {number}<br>Sorts inspection photos with a PyTorch model.<br>Logs: {user_log_dir()}",
    )


def open_log_folder() -> None:
    """Open the log folder in the file manager."""
    user_log_dir().mkdir(parents=True, exist_ok=True)
    QDesktopServices.openUrl(QUrl.fromLocalFile(str(user_log_dir())))
