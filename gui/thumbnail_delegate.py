"""Paints one thumbnail: the photo, the heatmap over it, its name, label and confidence badge.

A cell is drawn once into a pixmap and then copied while nothing it shows changes: views repaint every
visible cell many times a second while a batch arrives, and a full draw (the photo scaled smoothly, the
heatmap blended, text laid out) costs the GUI thread about 30 times the copy.
"""

from __future__ import annotations

from collections import Counter, OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from PySide6.QtCore import QPoint, QRect, QRectF, QSize, Qt
from PySide6.QtGui import QColor, QFont, QPainter, QPen, QPixmap
from PySide6.QtWidgets import QStyle, QStyledItemDelegate

from core.inference.percent import percent_text
from core.inference.prediction import UNKNOWN
from gui.gallery_model import ENTRY_ROLE, Entry
from gui.palette import label_colour

TEXT_HEIGHT = 50  # the name on up to two lines, then the label
PADDING = 6
CELL_CACHE_BYTES = 64 * 1024 * 1024  # drawn cells kept: a few screens of the largest thumbnails


@dataclass(eq=False)
class _DrawnCell:
    """A cell as drawn, and everything it was drawn from (objects compared by identity, settings by value)."""

    pixmap: QPixmap
    sources: tuple  # (prediction with its heatmap, thumbnail): replaced, never changed in place
    look: tuple  # size, selection, display settings, the inspector's label, the shown name

    def shows(self, sources: tuple, look: tuple) -> bool:
        """Return True when this drawing is still what ``sources`` under ``look`` give."""
        return all(a is b for a, b in zip(self.sources, sources, strict=True)) and self.look == look

    @property
    def bytes(self) -> int:
        return self.pixmap.width() * self.pixmap.height() * 4


class ThumbnailDelegate(QStyledItemDelegate):
    """Draws thumbnails at the gallery's current size with an optional heatmap overlay."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.edge = 160
        self.show_heatmaps = True
        self.opacity = 0.5
        self.review_below: float | None = None  # the threshold confidences are shown against
        self.names: Counter[str] = Counter()  # how many photos of the session have each name (shared with the model)
        self._name_texts: dict[tuple[str, int], str] = {}  # (name, width) -> the name on its lines
        self._cells: OrderedDict[int, _DrawnCell] = OrderedDict()  # entry key -> its cell, least recent first
        self._cell_bytes = 0

    def sizeHint(self, option, index) -> QSize:
        return QSize(self.edge + 2 * PADDING, int(self.edge * 0.6) + TEXT_HEIGHT + 2 * PADDING)

    def paint(self, painter: QPainter, option, index) -> None:
        entry: Entry = index.data(ENTRY_ROLE)
        if entry is None:
            return
        selected = bool(option.state & QStyle.StateFlag.State_Selected)
        ratio = painter.device().devicePixelRatioF()
        sources = (entry.prediction, entry.thumbnail_jpeg)
        look = (
            option.rect.size().toTuple(),
            selected,
            ratio,
            self.show_heatmaps,
            self.opacity,
            self.review_below,
            entry.final_label,
            index_name(entry, self.names),
        )
        drawn = self._cells.get(entry.key)
        if drawn is None or not drawn.shows(sources, look):
            pixmap = self._draw_cell(entry, option.rect.size(), selected, ratio, painter.font())
            drawn = _DrawnCell(pixmap, sources, look)
            self._keep(entry.key, drawn)
        else:
            self._cells.move_to_end(entry.key)
        painter.drawPixmap(option.rect.topLeft(), drawn.pixmap)

    def drawing_of(self, key: int) -> QPixmap | None:
        """Return the drawn cell of the entry with ``key``, if one is kept."""
        drawn = self._cells.get(key)
        return drawn.pixmap if drawn else None

    def forget_cells(self) -> None:
        """Drop every drawn cell (the session was cleared)."""
        self._cells.clear()
        self._cell_bytes = 0

    def _keep(self, key: int, drawn: _DrawnCell) -> None:
        old = self._cells.pop(key, None)
        self._cell_bytes += drawn.bytes - (old.bytes if old else 0)
        self._cells[key] = drawn
        while self._cell_bytes > CELL_CACHE_BYTES and len(self._cells) > 1:
            _, evicted = self._cells.popitem(last=False)
            self._cell_bytes -= evicted.bytes

    def _draw_cell(self, entry: Entry, size: QSize, selected: bool, ratio: float, font: QFont) -> QPixmap:
        pixmap = QPixmap(size * ratio)
        pixmap.setDevicePixelRatio(ratio)
        pixmap.fill(Qt.GlobalColor.transparent)
        painter = QPainter(pixmap)
        painter.setFont(font)
        self._paint_cell(painter, QRect(QPoint(0, 0), size), entry, selected)
        painter.end()
        return pixmap

    def _paint_cell(self, painter: QPainter, rect: QRect, entry: Entry, selected: bool) -> None:
        painter.save()
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        cell = rect.adjusted(2, 2, -2, -2)
        painter.setPen(QPen(QColor("#2f6fde") if selected else QColor("#d9dde3"), 2 if selected else 1))
        painter.setBrush(QColor("#e8f0fd") if selected else QColor("#ffffff"))
        painter.drawRoundedRect(cell, 6, 6)
        photo_rect = QRect(
            cell.left() + PADDING,
            cell.top() + PADDING,
            cell.width() - 2 * PADDING,
            cell.height() - TEXT_HEIGHT - 2 * PADDING,
        )
        self._paint_photo(painter, photo_rect, entry)
        self._paint_text(painter, cell, photo_rect, entry)
        painter.restore()

    def _paint_photo(self, painter: QPainter, area: QRect, entry: Entry) -> None:
        thumbnail = entry.thumbnail
        if thumbnail is None:
            painter.setPen(QColor("#b3261e"))
            painter.drawText(
                area, Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap, entry.prediction.error or "no preview"
            )
            return
        target = _fit(thumbnail.size(), area)
        painter.drawImage(target, thumbnail)
        heat = entry.heat if self.show_heatmaps else None
        if heat is not None:
            painter.setOpacity(self.opacity)
            painter.drawImage(target, heat)
            painter.setOpacity(1.0)
        if entry.prediction.ok:
            self._paint_badge(painter, target, entry)

    def _paint_badge(self, painter: QPainter, photo: QRectF, entry: Entry) -> None:
        font = QFont(painter.font())
        font.setPointSizeF(max(7.0, font.pointSizeF() * 0.85))
        font.setBold(True)
        painter.setFont(font)
        top = photo.top() + 4
        badges = [badge_of(entry, self.review_below)]
        if not _is_unknown(entry):
            badges += [(f"+{label.capitalize()}", label) for label in entry.prediction.also]
        for text, label in badges:  # the confidence, then a badge per other defect found
            width = painter.fontMetrics().horizontalAdvance(text) + 10
            badge = QRectF(photo.right() - width - 4, top, width, painter.fontMetrics().height() + 2)
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(label_colour(label))
            painter.drawRoundedRect(badge, 4, 4)
            painter.setPen(QColor("white"))
            painter.drawText(badge, Qt.AlignmentFlag.AlignCenter, text)
            top += badge.height() + 3

    def _paint_text(self, painter: QPainter, cell: QRect, photo: QRect, entry: Entry) -> None:
        painter.setFont(QFont(painter.font().family()))
        lines = QRect(cell.left() + PADDING, photo.bottom() + 2, cell.width() - 2 * PADDING, TEXT_HEIGHT)
        metrics = painter.fontMetrics()
        painter.setPen(QColor("#1f2328"))
        name = index_name(entry, self.names)
        key = (name, lines.width())
        if key not in self._name_texts:  # measured once per name and width: painting is the GUI thread's hot path
            self._name_texts[key] = "\n".join(name_lines(name, lines.width(), metrics.horizontalAdvance))
        name = self._name_texts[key]
        painter.drawText(lines, Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop, name)
        label = "Unknown" if _is_unknown(entry) else (entry.label or "error").capitalize()
        if entry.corrected:
            label = f"✎ {label}  (model: {(entry.prediction.label or '').capitalize()})"
        elif entry.decided:
            label = f"✓ {label}  (confirmed)"
        painter.setPen(QColor("#b3261e") if not entry.prediction.ok else QColor("#57606a"))
        label = metrics.elidedText(label, Qt.TextElideMode.ElideRight, lines.width())
        painter.drawText(lines, Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignBottom, label)


def index_name(entry: Entry, names: Counter[str]) -> str:
    """Return the name a thumbnail shows: the file name, led by its folder or ZIP when another photo of the
    session has the same name (``batch.zip › 1.jpg`` beside ``day1 › 1.jpg``)."""
    name = entry.prediction.name
    if names[name] < 2:
        return name
    container, _, _ = entry.prediction.source.replace("\\", "/").rpartition("/")
    zip_file, separator, _ = container.partition("!")
    origin = zip_file if separator else container
    return f"{origin.rstrip('/').rsplit('/', 1)[-1]} › {name}"


def name_lines(name: str, width: int, advance: Callable[[str], int]) -> list[str]:
    """Split a name over at most two lines of ``width`` pixels, so that its start (a phone id) and its end (the
    capture, the extension) both show; only an overlong middle is elided. Breaks after ``_ - . space`` where
    one is near."""
    if advance(name) <= width:
        return [name]
    cut = next((n for n in range(len(name) - 1, 0, -1) if advance(name[:n]) <= width), 1)
    soft = max((name.rfind(c, 0, cut) for c in "_-. "), default=-1)
    if soft >= cut * 2 // 3:
        cut = soft + 1
    rest = name[cut:]
    if advance(rest) > width:
        keep = next((n for n in range(len(rest), 0, -1) if advance("…" + rest[-n:]) <= width), 1)
        rest = "…" + rest[-keep:]
    return [name[:cut], rest]


def badge_of(entry: Entry, review_below: float | None) -> tuple[str, str]:
    """Return the text of a thumbnail's badge and the label whose colour it wears: the confidence
    (with the decimals the review threshold needs), "Unknown" for a photo unlike the training
    photos (the model's guess is only named in the detail pane), or the inspector's mark on a
    photo the inspector settled: ✎ moved to another class, ✓ confirmed in the model's own."""
    if _is_unknown(entry):
        return "Unknown", UNKNOWN
    if entry.corrected:
        return "✎ Inspector", entry.label or ""
    if entry.decided:
        return "✓ Inspector", entry.label or ""
    return percent_text(entry.prediction.confidence or 0.0, review_below), entry.label or ""


def _is_unknown(entry: Entry) -> bool:
    """Return True for a photo the model does not know and the inspector has not decided."""
    return entry.final.section == UNKNOWN


def _fit(size: QSize, area: QRect) -> QRectF:
    """Return the largest rectangle of ``size``'s aspect ratio centred in ``area``."""
    if size.isEmpty():
        return QRectF(area)
    scale = min(area.width() / size.width(), area.height() / size.height())
    width, height = size.width() * scale, size.height() * scale
    return QRectF(area.center().x() - width / 2 + 0.5, area.center().y() - height / 2 + 0.5, width, height)
