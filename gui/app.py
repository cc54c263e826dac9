"""Start the window: logging, the QApplication, the style, crash reporting."""

from __future__ import annotations

import logging
import sys
import traceback

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication, QMessageBox

from core.logs import setup_logging
from gui.icons import icon, style_sheet
from gui.main_window import MainWindow
from gui.settings import Settings

log = logging.getLogger(__name__)


def _report_unexpected(kind, error, trace) -> None:
    """Log any uncaught exception and show it; the app keeps running."""
    log.error("unexpected error", exc_info=(kind, error, trace))
    details = "".join(traceback.format_exception(kind, error, trace)[-3:])
    if QApplication.instance() is not None:
        QMessageBox.critical(
            None, "DefectSort: unexpected error", f"Something went wrong; the details are in the log file.\n\n{details}"
        )


def create_application(argv: list[str] | None = None) -> QApplication:
    """Return the QApplication with DefectSort's name, icon and style."""
    app = QApplication.instance() or QApplication(argv or sys.argv[:1])
    app.setApplicationName("DefectSort")
    app.setOrganizationName("DefectSort")
    app.setWindowIcon(icon("app"))
    app.setStyleSheet(style_sheet())
    return app


def run_app(
    paths: list[str], screenshot: str | None = None, backend: str | None = None, watch: str | None = None
) -> int:
    """Open the window, classify ``paths`` at once, run until the window closes.

    :param paths: files, folders or ZIPs from the command line (Windows "Open with")
    :param screenshot: save a picture of the window here once ``paths`` are done, then quit
    :param backend: the inference backend to use from now on (None: the one last chosen)
    :param watch: a folder to watch from the start (a station's workstation starts the window so)
    :returns: the exit code
    """
    log_file = setup_logging()
    log.info("starting DefectSort GUI; log file %s", log_file)
    app = create_application()
    sys.excepthook = _report_unexpected
    settings = Settings()
    if backend:
        settings.set("backend", backend)
    window = MainWindow(settings)
    window.show()
    if paths:
        window.open_paths(paths)
    if watch:
        window.folder_watch.watch(watch)
    if screenshot:
        _screenshot_when_done(window, screenshot)
    return app.exec()


def _screenshot_when_done(window: MainWindow, path: str) -> None:
    """Poll until the window is idle with results, show the first photo, save, quit."""

    def check() -> None:
        if window.bundle is None or window.busy or not window.model.entries():
            return
        timer.stop()
        readable = [e for e in window.model.entries() if e.prediction.ok]
        if readable:
            window.gallery.select(readable[0].key)
        QTimer.singleShot(1500, save)

    def save() -> None:
        window.grab().save(path)
        log.info("screenshot saved to %s", path)
        window.close()

    window.resize(1400, 900)  # the same picture whatever geometry the user saved
    timer = QTimer(window, interval=200)
    timer.timeout.connect(check)
    timer.start()
