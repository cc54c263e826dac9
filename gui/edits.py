"""Undoable edits of the gallery: relabelling and removing items."""

from __future__ import annotations

from PySide6.QtGui import QUndoCommand

from core.journal.session import DO, REDO, UNDO
from gui.gallery_model import GalleryModel


class _JournalledCommand(QUndoCommand):
    """Knows whether its ``redo`` is the first doing (``do``) or a redo, for the journal."""

    def __init__(self, text: str):
        super().__init__(text)
        self._done_once = False

    def _cause(self) -> str:
        cause = REDO if self._done_once else DO
        self._done_once = True
        return cause


class RelabelCommand(_JournalledCommand):
    """Give items a new final label; undo restores each item's previous label."""

    def __init__(self, model: GalleryModel, keys: list[int], label: str):
        super().__init__(f"Move {len(keys)} item(s) to {label.capitalize()}")
        self._model = model
        self._before = {key: model.entry(key).final_label for key in keys}
        self._label = label

    def redo(self) -> None:
        self._model.set_labels({key: self._label for key in self._before}, self._cause())

    def undo(self) -> None:
        self._model.set_labels(self._before, UNDO)


class RemoveCommand(_JournalledCommand):
    """Take items out of the session (nothing on disk is touched); undo brings them back."""

    def __init__(self, model: GalleryModel, keys: list[int]):
        super().__init__(f"Remove {len(keys)} item(s)")
        self._model = model
        self._keys = list(keys)

    def redo(self) -> None:
        self._model.set_removed(self._keys, True, self._cause())

    def undo(self) -> None:
        self._model.set_removed(self._keys, False, UNDO)
