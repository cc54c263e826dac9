"""The right-click menu of thumbnails: move to a class (with its number key), or remove from the session."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtWidgets import QMenu, QWidget


def show_move_menu(
    parent: QWidget,
    classes: list[str],
    keys: list[int],
    relabel: Callable[[list[int], str], None],
    remove: Callable[[list[int]], None],
    at,
) -> None:
    """Pop up the menu for the photos ``keys`` at the global point ``at``.

    :param classes: the model's classes, in shortcut order (1, 2, ...)
    :param relabel: called with ``(keys, label)`` when a class is chosen
    :param remove: called with ``keys`` to remove them
    """
    menu = QMenu(parent)
    move = menu.addMenu("Move to")
    for number, label in enumerate(classes, 1):
        action = move.addAction(f"{label.capitalize()}\t{number}" if number <= 9 else label.capitalize())
        action.triggered.connect(lambda _=False, target=label: relabel(keys, target))
    menu.addSeparator()
    menu.addAction("Remove from session", lambda: remove(keys))
    menu.exec(at)
