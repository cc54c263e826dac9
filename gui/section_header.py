"""A section's title button, which also takes thumbnails dropped on it (the obvious target)."""

from __future__ import annotations

from PySide6.QtCore import QMimeData, Qt, Signal
from PySide6.QtWidgets import QToolButton

from gui.gallery_model import ITEMS_MIME


def dragged_keys(mime: QMimeData) -> list[int]:
    """Return the keys of the thumbnails being dragged (empty for anything else, e.g. files)."""
    if not mime.hasFormat(ITEMS_MIME):
        return []
    return [int(k) for k in bytes(mime.data(ITEMS_MIME).data()).decode().split(",") if k]


class SectionHeader(QToolButton):
    """The section's title button; thumbnails dropped on it move to the section (also when collapsed)."""

    items_dropped = Signal(list)  # keys

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setObjectName("sectionHeader")
        self.setAcceptDrops(True)

    def dragEnterEvent(self, event) -> None:
        if event.mimeData().hasFormat(ITEMS_MIME):
            event.acceptProposedAction()
            self._highlight(True)
        else:
            event.ignore()

    def dragLeaveEvent(self, event) -> None:
        self._highlight(False)

    def dropEvent(self, event) -> None:
        self._highlight(False)
        keys = dragged_keys(event.mimeData())
        if not keys:
            event.ignore()
            return
        event.setDropAction(Qt.DropAction.CopyAction)  # the model relabels; Qt must not delete rows
        event.accept()
        self.items_dropped.emit(keys)

    def _highlight(self, on: bool) -> None:
        self.setProperty("dropTarget", on)
        self.style().unpolish(self)
        self.style().polish(self)
