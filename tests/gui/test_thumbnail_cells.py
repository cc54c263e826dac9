"""Thumbnail cells are drawn once and copied after: never a stale drawing after what it shows changed."""

from PySide6.QtCore import QRect
from PySide6.QtGui import QImage, QPainter
from PySide6.QtWidgets import QStyle, QStyleOptionViewItem

from tests.gui.conftest import wait_idle


def _paint(window, entry, selected=False) -> QImage:
    """Paint ``entry``'s cell as a view would and return the picture."""
    canvas = QImage(200, 200, QImage.Format.Format_ARGB32_Premultiplied)
    canvas.fill(0)
    option = QStyleOptionViewItem()
    option.rect = QRect(0, 0, 180, 170)
    if selected:
        option.state |= QStyle.StateFlag.State_Selected
    painter = QPainter(canvas)
    window.gallery.delegate.paint(painter, option, window.model.index_of(entry.key))
    painter.end()
    return canvas


def _drawn(window, entry):
    return window.gallery.delegate.drawing_of(entry.key)


def test_a_cell_is_drawn_again_exactly_when_what_it_shows_changes(qtbot, window, photo_zip):
    window.open_paths([photo_zip(4, broken=0)])
    wait_idle(qtbot, window, 4)
    entry = window.model.entries()[0]
    first = _paint(window, entry)
    pixmap = _drawn(window, entry)
    assert _paint(window, entry) == first and _drawn(window, entry) is pixmap  # copied, not drawn again

    window.relabel([entry.key], "stain" if entry.prediction.label != "stain" else "oil")
    relabelled = _paint(window, entry)
    assert relabelled != first  # the inspector's mark shows at once

    assert _paint(window, entry, selected=True) != relabelled
    opacity = window.gallery.delegate.opacity
    window.gallery.set_heatmaps(False, opacity)
    assert _paint(window, entry) != relabelled
    window.gallery.set_heatmaps(True, opacity)
    assert _paint(window, entry) == relabelled

    window.undo_stack.undo()
    assert _paint(window, entry) == first


def test_clearing_the_session_forgets_the_drawn_cells(qtbot, window, photo_zip, monkeypatch):
    window.open_paths([photo_zip(3, broken=0)])
    wait_idle(qtbot, window, 3)
    entry = window.model.entries()[0]
    _paint(window, entry)
    monkeypatch.setattr("gui.dialogs.confirm", lambda *_: True)
    window.clear_session()
    assert _drawn(window, entry) is None


def test_only_the_newest_photos_keep_a_ready_thumbnail(qtbot, window, photo_zip, monkeypatch):
    monkeypatch.setattr("gui.gallery_model.FRESH_THUMBNAILS", 2)
    window.open_paths([photo_zip(4, broken=0)])
    wait_idle(qtbot, window, 4)
    entries = window.model.entries()
    assert [entry.fresh_thumbnail is not None for entry in entries] == [False, False, True, True]
    older, newer = entries[0].thumbnail, entries[3].thumbnail  # the older one opened from its JPEG
    assert older.size() == newer.size() and len(entries[0].thumbnail_jpeg) < older.sizeInBytes() / 5
