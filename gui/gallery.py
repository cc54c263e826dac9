"""The gallery: one section per class of the active model, then Review and Errors."""

from __future__ import annotations

from PySide6.QtCore import QItemSelectionModel, QRegularExpression, Qt, Signal
from PySide6.QtWidgets import QScrollArea, QVBoxLayout, QWidget

from gui.gallery_model import ENTRY_ROLE, SPECIAL_SECTIONS, Entry, GalleryModel
from gui.move_menu import show_move_menu
from gui.section import Section, SectionView, neighbour_view
from gui.thumbnail_delegate import ThumbnailDelegate


class Gallery(QScrollArea):
    """Scrollable stack of sections sharing one model and one thumbnail delegate."""

    entry_selected = Signal(object)  # Entry or None
    relabel_requested = Signal(list, str)  # keys, label
    remove_requested = Signal(list)  # keys

    def __init__(self, model: GalleryModel, parent=None):
        super().__init__(parent)
        self.model = model
        self.delegate = ThumbnailDelegate(self)
        model.modelReset.connect(self.delegate.forget_cells)
        self.sections: list[Section] = []
        self.classes: list[str] = []
        self.setWidgetResizable(True)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setObjectName("gallery")
        self._content = QWidget()
        self._content.setObjectName("galleryContent")
        self._layout = QVBoxLayout(self._content)
        self._layout.setContentsMargins(8, 8, 8, 8)
        self._layout.addStretch(1)
        self.setWidget(self._content)
        self._filter = ""
        self._sort_by_confidence = False

    def set_classes(self, classes: list[str]) -> None:
        """Rebuild the sections for a model's classes."""
        for section in self.sections:
            self._layout.removeWidget(section)
            section.deleteLater()
        self.classes = list(classes)
        titles = [(c, c.capitalize()) for c in classes] + list(SPECIAL_SECTIONS.items())
        self.sections = [Section(self.model, key, title, self.delegate, self._content) for key, title in titles]
        for position, section in enumerate(self.sections):
            self._layout.insertWidget(position, section)
            self._connect(section.view)
        self._apply_filter_and_sort()

    def _connect(self, view: SectionView) -> None:
        view.items_dropped.connect(self._on_items_dropped)
        view.edge_reached.connect(lambda step: self._on_edge_reached(view, step))
        view.selectionModel().currentChanged.connect(lambda current, _: self._on_current_changed(view, current))
        view.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        view.customContextMenuRequested.connect(lambda point: self._on_context_menu(view, point))

    # -- display options ---------------------------------------------------------------
    def set_thumbnail_edge(self, edge: int) -> None:
        """Resize every thumbnail."""
        self.delegate.edge = edge
        self._relayout()

    def set_heatmaps(self, visible: bool, opacity: float) -> None:
        """Show or hide heatmaps over thumbnails, at ``opacity`` (0..1)."""
        self.delegate.show_heatmaps, self.delegate.opacity = visible, opacity
        for section in self.sections:
            section.view.viewport().update()

    def set_review_threshold(self, threshold: float) -> None:
        """Show confidences with the decimals needed to tell them from ``threshold``."""
        self.delegate.review_below = threshold
        for section in self.sections:
            section.view.viewport().update()

    def set_filter(self, text: str) -> None:
        """Show only items whose name contains ``text`` (the detail pane empties if its photo is hidden)."""
        self._filter = text
        self._apply_filter_and_sort()
        self.entry_selected.emit(self.current_entry())

    def set_sort_by_confidence(self, enabled: bool) -> None:
        """Sort each section by confidence, lowest first (the doubtful ones on top)."""
        self._sort_by_confidence = enabled
        self._apply_filter_and_sort()

    def _apply_filter_and_sort(self) -> None:
        pattern = QRegularExpression(
            QRegularExpression.escape(self._filter), QRegularExpression.PatternOption.CaseInsensitiveOption
        )
        for section in self.sections:
            section.proxy.setFilterRegularExpression(pattern)
            section.proxy.sort(0 if self._sort_by_confidence else -1, Qt.SortOrder.AscendingOrder)
            section.refresh()

    def _relayout(self) -> None:
        for section in self.sections:
            section.view.doItemsLayout()
            section.refresh()

    # -- selection ---------------------------------------------------------------------
    def selected_keys(self) -> list[int]:
        """Return keys selected in the section that has the focus (or any selection)."""
        for section in self.sections:
            keys = section.view.selected_keys()
            if keys and section.view.hasFocus():
                return keys
        return next((keys for s in self.sections if (keys := s.view.selected_keys())), [])

    def selected_view(self) -> SectionView | None:
        """Return the section view holding the current selection, if any."""
        return next((s.view for s in self.sections if s.view.selected_keys()), None)

    def select(self, key: int) -> None:
        """Select and show the item with ``key``."""
        for section in self.sections:
            index = section.proxy.mapFromSource(self.model.index_of(key))
            if index.isValid():
                self._select_index(section, index.row())
                return

    def position(self) -> tuple[str, int] | None:
        """Return ``(section, row)`` of the photo shown in the detail pane, if any."""
        for section in self.sections:
            index = section.view.currentIndex()
            if index.isValid() and section.view.selectionModel().isSelected(index):
                return section.section, index.row()
        return None

    def step_on(self, position: tuple[str, int] | None, moved: list[int]) -> None:
        """After photos moved (or were removed), select the photo that took the current one's place in
        its section, or the next one when the current photo stayed there (it was confirmed).

        :param position: :meth:`position` before the move
        :param moved: the keys of the photos that moved
        """
        if position is None:
            return
        section, row = position
        current = self.current_entry()
        stayed = current is not None and current.key in moved and self.model.section_of(current) == section
        self.select_at(section, row + 1 if stayed else row)

    def select_at(self, section_key: str, row: int) -> bool:
        """Select the photo at ``row`` of a section (its last one if there are fewer), as image viewers
        do after a photo leaves: the inspector stays in place. :returns: False if the section is empty."""
        section = next((s for s in self.sections if s.section == section_key), None)
        if section is None or section.count() == 0:
            return False
        self._select_index(section, min(row, section.count() - 1))
        return True

    def _select_index(self, section: Section, row: int) -> None:
        """Select one row and scroll just enough to show it (the gallery does not jump)."""
        view = section.view
        view.setFocus()
        view.selectionModel().setCurrentIndex(
            section.proxy.index(row, 0), QItemSelectionModel.SelectionFlag.ClearAndSelect
        )
        cell = view.cell_rect(row)
        centre = view.mapTo(self._content, cell.center())
        self.ensureVisible(centre.x(), centre.y(), cell.width() // 2 + 8, cell.height() // 2 + 8)

    def _on_current_changed(self, view: SectionView, current) -> None:
        if not current.isValid():
            return
        for section in self.sections:
            if section.view is not view:
                section.view.clearSelection()
        self.entry_selected.emit(current.data(ENTRY_ROLE))

    def _on_edge_reached(self, view: SectionView, step: int) -> None:
        """An arrow key went past a section's end: on into the next section's first photo (or back)."""
        target = neighbour_view([s.view for s in self.sections], view, step)
        section = next((s for s in self.sections if s.view is target), None)
        if section is not None:
            self._select_index(section, 0 if step > 0 else section.count() - 1)
            self._on_current_changed(section.view, section.view.currentIndex())  # also when it was current before

    def _on_items_dropped(self, keys: list[int], section: str) -> None:
        if section in self.classes:
            self.relabel_requested.emit(keys, section)

    def _on_context_menu(self, view: SectionView, point) -> None:
        keys = view.selected_keys()
        if keys:
            at = view.viewport().mapToGlobal(point)
            show_move_menu(self, self.classes, keys, self.relabel_requested.emit, self.remove_requested.emit, at)

    def current_entry(self) -> Entry | None:
        """Return the item shown in the detail pane, if any."""
        return next((entry for s in self.sections if (entry := s.view.shown_entry()) is not None), None)
