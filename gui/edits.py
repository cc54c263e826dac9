"""Undoable edits of the gallery: relabelling and removing items."""

from __future__ import annotations

from PySide6.QtGui import QUndoCommand

from gui.gallery_model import GalleryModel


class RelabelCommand(QUndoCommand):
    """Give items a new final label; undo restores each item's previous label."""

    def __init__(self, model: GalleryModel, keys: list[int], label: str):
        super().__init__(f"Move {len(keys)} item(s) to {label.capitalize()}")
        self._model = model
        self._before = {key: model.entry(key).final_label for key in keys}
        self._label = label

    def redo(self) -> None:
        self._model.set_labels({key: self._label for key in self._before})

    def undo(self) -> None:
        self._model.set_labels(self._before)


class RemoveCommand(QUndoCommand):
    """Take items out of the session (nothing on disk is touched); undo brings them back."""

    def __init__(self, model: GalleryModel, keys: list[int]):
        super().__init__(f"Remove {len(keys)} item(s)")
        self._model = model
        self._keys = list(keys)

    def redo(self) -> None:
        self._model.set_removed(self._keys, True)

    def undo(self) -> None:
        self._model.set_removed(self._keys, False)
