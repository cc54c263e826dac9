"""Gives the keyboard focus back to the main window when one of its dialogs closes.

After a message box closes, some window managers (and Qt's offscreen platform) leave no
window active, so Ctrl+E and the number keys do nothing until the inspector clicks the
window. Every dialog of the window is its child: the window hears of each one
(``ChildPolished``) and then of its hiding, and only then hands the focus back.
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, QTimer
from PySide6.QtWidgets import QApplication, QDialog, QWidget


class FocusReturner(QObject):
    """After any dialog of ``window`` closes, activate ``window`` and focus a widget in it.

    :param window: the main window (its dialogs must have it as parent, as Qt's message boxes do)
    :param fallback: the widget to focus when no visible widget of the window had the focus
    """

    def __init__(self, window: QWidget, fallback: QWidget):
        super().__init__(window)
        self._window, self._fallback = window, fallback
        window.installEventFilter(self)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        kind = event.type()
        if kind == QEvent.Type.ChildPolished and watched is self._window:
            child = event.child()  # type: ignore[attr-defined]  # a QChildEvent
            if isinstance(child, QDialog):
                child.installEventFilter(self)  # installing twice keeps one filter
        elif kind == QEvent.Type.Hide and isinstance(watched, QDialog):
            QTimer.singleShot(0, self.return_focus)
        return False

    def return_focus(self) -> None:
        """Activate the window and make sure a visible widget in it has the keyboard focus."""
        if QApplication.activeModalWidget() is not None or not self._window.isVisible():
            return
        self._window.activateWindow()
        widget = self._window.focusWidget()
        if widget is None or not widget.isVisible():
            widget = self._fallback
        widget.setFocus()
