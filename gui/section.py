"""A gallery section: a collapsible header with its count over an icon-mode list view.

Every section views the shared :class:`GalleryModel` through a filter proxy. Thumbnails
dragged onto a section (from any other) are relabelled to that section's class.
"""

from __future__ import annotations

import math

from PySide6.QtCore import QItemSelectionModel, QRect, QSortFilterProxyModel, Qt, Signal
from PySide6.QtWidgets import QAbstractItemView, QListView, QVBoxLayout, QWidget

from gui.gallery_model import (
    CONFIDENCE_ROLE,
    ENTRY_ROLE,
    ITEMS_MIME,
    SECTION_ROLE,
    SPECIAL_SECTIONS,
    GalleryModel,
)
from gui.palette import label_colour
from gui.section_header import SectionHeader, dragged_keys
from gui.thumbnail_delegate import ThumbnailDelegate


class SectionProxy(QSortFilterProxyModel):
    """Rows of one section, filtered by name and optionally sorted by confidence."""

    def __init__(self, section: str, parent=None):
        super().__init__(parent)
        self.section = section
        self.setFilterCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        self.setSortRole(CONFIDENCE_ROLE)
        self.setDynamicSortFilter(True)

    def filterAcceptsRow(self, row: int, parent) -> bool:
        index = self.sourceModel().index(row, 0, parent)
        return index.data(SECTION_ROLE) == self.section and super().filterAcceptsRow(row, parent)


class SectionView(QListView):
    """Icon-mode list that grows to show all its rows (the gallery scrolls, not the section)."""

    items_dropped = Signal(list, str)  # keys, section
    edge_reached = Signal(int)  # an arrow key went past the last (+1) or first (-1) photo

    def __init__(self, proxy: SectionProxy, delegate: ThumbnailDelegate, parent=None):
        super().__init__(parent)
        self.setModel(proxy)
        self.setItemDelegate(delegate)
        self.setViewMode(QListView.ViewMode.IconMode)
        self.setResizeMode(QListView.ResizeMode.Adjust)
        self.setMovement(QListView.Movement.Static)
        self.setUniformItemSizes(True)
        self.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.setDragDropMode(QAbstractItemView.DragDropMode.DragDrop)
        self.setDefaultDropAction(Qt.DropAction.MoveAction)
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setFrameShape(QListView.Shape.NoFrame)
        self.setSpacing(4)
        self.setLayoutMode(QListView.LayoutMode.Batched)
        self.setBatchSize(200)
        # The first viewport() call costs ~250 ms (PySide6 initialises the binding lazily):
        # pay it while the window opens, not when the first results arrive.
        self.viewport().setAcceptDrops(True)

    def _grid(self) -> tuple[int, int, int]:
        """Return ``(cell width, cell height, columns)`` of the icon grid at the current width."""
        cell = self.itemDelegate().sizeHint(None, None)
        step_x, step_y = cell.width() + 2 * self.spacing(), cell.height() + 2 * self.spacing()
        return step_x, step_y, max(1, (self.viewport().width() - self.spacing()) // step_x)

    def content_height(self) -> int:
        """Return the height that shows every row at the current width."""
        rows = self.model().rowCount()
        if rows == 0:
            return 0
        _, step_y, columns = self._grid()
        return math.ceil(rows / columns) * step_y + 2 * self.spacing()

    def cell_rect(self, row: int) -> QRect:
        """Return where the thumbnail of ``row`` is drawn, in the view's coordinates (the grid of
        :meth:`content_height`, so it is right before Qt's batched layout has reached that row)."""
        step_x, step_y, columns = self._grid()
        return QRect((row % columns) * step_x, (row // columns) * step_y, step_x, step_y)

    def shown_entry(self):
        """Return the selected current item (the one the detail pane shows), or None."""
        index = self.currentIndex()
        return index.data(ENTRY_ROLE) if index.isValid() and self.selectionModel().isSelected(index) else None

    def selected_keys(self) -> list[int]:
        """Return the keys of the selected items."""
        return [index.data(ENTRY_ROLE).key for index in self.selectionModel().selectedIndexes()]

    def keyPressEvent(self, event) -> None:
        """Arrow keys past the first or last photo say so (the gallery steps into the next section or card)."""
        step = self._edge_step(event.key()) if event.modifiers() == Qt.KeyboardModifier.NoModifier else 0
        if step:
            self.edge_reached.emit(step)
            event.accept()
            return
        super().keyPressEvent(event)

    def _edge_step(self, key: int) -> int:
        """Return +1 or -1 when ``key`` would leave the photos at their end or start, else 0."""
        rows, current = self.model().rowCount(), self.currentIndex()
        if not rows or not current.isValid():
            return 0
        row, (_, _, columns) = current.row(), self._grid()
        last_line = (rows - 1) // columns
        if (key == Qt.Key.Key_Right and row == rows - 1) or (key == Qt.Key.Key_Down and row // columns == last_line):
            return 1
        if (key == Qt.Key.Key_Left and row == 0) or (key == Qt.Key.Key_Up and row // columns == 0):
            return -1
        return 0

    def select_row(self, row: int) -> None:
        """Make ``row`` (negative: from the end) the current, selected photo and take the focus."""
        index = self.model().index(row % self.model().rowCount(), 0)
        self.setFocus()
        self.selectionModel().setCurrentIndex(index, QItemSelectionModel.SelectionFlag.ClearAndSelect)

    def dragEnterEvent(self, event) -> None:
        if event.mimeData().hasFormat(ITEMS_MIME):
            event.acceptProposedAction()
        else:
            event.ignore()  # files from the desktop: let the window handle them

    def dragMoveEvent(self, event) -> None:
        if event.mimeData().hasFormat(ITEMS_MIME):
            event.acceptProposedAction()
        else:
            event.ignore()

    def dropEvent(self, event) -> None:
        if not event.mimeData().hasFormat(ITEMS_MIME):
            event.ignore()
            return
        keys = dragged_keys(event.mimeData())
        event.setDropAction(Qt.DropAction.CopyAction)  # the model relabels; Qt must not delete rows
        event.accept()
        self.items_dropped.emit(keys, self.model().section)


def neighbour_view(views: list[SectionView], view: SectionView, step: int) -> SectionView | None:
    """Return the next view with photos shown (``step`` +1) or the previous one (-1), None at the end.

    :param views: the views in the order shown (collapsed, hidden and empty ones are passed over)
    """
    position = views.index(view)
    others = views[position + 1 :] if step > 0 else list(reversed(views[:position]))
    return next((v for v in others if not v.isHidden() and v.model().rowCount()), None)


class Section(QWidget):
    """Header button (title, count, collapse) plus the section's view."""

    def __init__(self, model: GalleryModel, section: str, title: str, delegate: ThumbnailDelegate, parent=None):
        super().__init__(parent)
        self.section, self.title = section, title
        self.proxy = SectionProxy(section, self)
        self.proxy.setSourceModel(model)
        self.view = SectionView(self.proxy, delegate, self)
        self.header = SectionHeader(self)
        self.header.setCheckable(True)
        self.header.setChecked(True)
        self.header.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
        self.header.setStyleSheet(
            f"QToolButton#sectionHeader {{ border-left: 4px solid {label_colour(section).name()}; }}"
        )
        self.header.toggled.connect(self._on_header_toggled)
        self.header.items_dropped.connect(lambda keys: self.view.items_dropped.emit(keys, section))
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 6)
        layout.setSpacing(2)
        layout.addWidget(self.header)
        layout.addWidget(self.view)
        self.proxy.rowsInserted.connect(self.refresh)
        self.proxy.rowsRemoved.connect(self.refresh)
        self.proxy.modelReset.connect(self.refresh)
        self.proxy.layoutChanged.connect(self.refresh)
        self.refresh()

    def count(self) -> int:
        """Return the number of items shown in this section."""
        return self.proxy.rowCount()

    def refresh(self, *_) -> None:
        """Update the header text and the view's height after rows came or went."""
        arrow = "▾" if self.header.isChecked() else "▸"
        self.header.setText(f"{arrow}  {self.title}  ({self.count()})")
        self._fit_height()
        self.setVisible(self.count() > 0 or self.section not in SPECIAL_SECTIONS)

    def _on_header_toggled(self, expanded: bool) -> None:
        self.view.setVisible(expanded)
        self.refresh()

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self._fit_height()  # a new width means a new number of columns

    def _fit_height(self) -> None:
        self.view.setFixedHeight(self.view.content_height() if self.header.isChecked() else 0)
