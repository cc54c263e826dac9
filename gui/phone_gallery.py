"""The "By phone" view: one card per phone with its photos, the photo that decided the verdict first.

Cards are rebuilt from the shared :class:`GalleryModel` shortly after it changes (a relabel, new
results), so a phone's verdict always follows its photos (:func:`core.results.phones.phone_verdict`). A
photo the inspector put in a class counts as decided, whatever the model's doubt.
"""

from __future__ import annotations

from html import escape

from PySide6.QtCore import QItemSelectionModel, QSortFilterProxyModel, Qt, QTimer, Signal
from PySide6.QtWidgets import QAbstractItemView, QLabel, QScrollArea, QVBoxLayout, QWidget

from core.inference.percent import percent_text
from core.results.colours import label_colour_hex
from core.results.phones import REVIEW_VERDICT, PhoneGrouping, PhoneVerdict, phone_verdicts, photo_of
from gui.gallery_model import ENTRY_ROLE, Entry, GalleryModel
from gui.move_menu import show_move_menu
from gui.section import SectionView, neighbour_view
from gui.thumbnail_delegate import ThumbnailDelegate

MAX_CARDS = 500  # phones shown at once (the filter narrows them down)


class PhoneProxy(QSortFilterProxyModel):
    """The photos of one phone, in the verdict's order (the deciding photo first)."""

    section = None  # a phone card is not a class: drops on it relabel nothing

    def __init__(self, keys: list[int], parent=None):
        super().__init__(parent)
        self.position = {key: number for number, key in enumerate(keys)}

    def filterAcceptsRow(self, row: int, parent) -> bool:
        entry = self.sourceModel().index(row, 0, parent).data(ENTRY_ROLE)
        return entry.key in self.position

    def lessThan(self, left, right) -> bool:
        return self.position[left.data(ENTRY_ROLE).key] < self.position[right.data(ENTRY_ROLE).key]


class PhoneCard(QWidget):
    """A phone's verdict in words over its photos (or, for photos no phone id was found in, a plain title).

    :param title: the header's rich text
    :param tooltip: the header's tooltip: the phone's full id (kept as :attr:`phone`), or the grouping pattern
    :param keys: the photos' keys, in the order shown
    """

    def __init__(self, title: str, tooltip: str, keys: list[int], model, delegate, parent=None):
        super().__init__(parent)
        self.phone = tooltip
        self.proxy = PhoneProxy(keys, self)
        self.proxy.setSourceModel(model)
        self.proxy.sort(0)
        self.view = SectionView(self.proxy, delegate, self)
        self.view.setDragDropMode(QAbstractItemView.DragDropMode.NoDragDrop)
        self.header = QLabel(title)
        self.header.setToolTip(tooltip)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 8)
        layout.setSpacing(2)
        layout.addWidget(self.header)
        layout.addWidget(self.view)

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self.view.setFixedHeight(self.view.content_height())


def _header_text(verdict: PhoneVerdict, review_below: float | None) -> str:
    """Return e.g. "**356789012340007** — **Stain** · worst photo: Sta_0007.jpg (99.997 %) · 3 photos"."""
    decider = verdict.decided_by
    confidence = f" ({percent_text(decider.confidence, review_below)})" if decider.confidence is not None else ""
    shown = "Review" if verdict.verdict == REVIEW_VERDICT else verdict.verdict.capitalize()
    colour = label_colour_hex("review" if verdict.verdict == REVIEW_VERDICT else verdict.verdict)
    name = escape(verdict.phone.replace("\\", "/").rstrip("/").rsplit("/", 1)[-1])  # a folder: its own name
    return (
        f'<b>{name}</b> — <b style="color:{colour}">{shown}</b> · {escape(verdict.reason)}{confidence} · '
        f"{len(verdict.photos)} photo{'' if len(verdict.photos) == 1 else 's'}"
    )


def _unmatched_text(count: int, grouping: PhoneGrouping) -> str:
    """Return the title of the card of photos whose names the grouping pattern finds no phone id in."""
    noun = "photo" if count == 1 else "photos"
    return f"<b>No phone id found</b> · {count} {noun} the pattern <code>{escape(grouping.spec)}</code> does not match"


def _matches(text: str, photos: list[Entry], phone: str) -> bool:
    """Return whether the name filter keeps a phone: its id or one of its photos' names contains ``text``."""
    needle = text.casefold()
    return not needle or needle in phone.casefold() or any(needle in e.prediction.name.casefold() for e in photos)


class PhoneGallery(QScrollArea):
    """Scrollable stack of phone cards sharing the gallery's model and thumbnail delegate."""

    entry_selected = Signal(object)  # Entry or None
    relabel_requested = Signal(list, str)  # keys, label
    remove_requested = Signal(list)  # keys

    def __init__(self, model: GalleryModel, delegate: ThumbnailDelegate, parent=None):
        super().__init__(parent)
        self.model, self.delegate = model, delegate
        self.grouping = PhoneGrouping("folder")
        self.order: list[str] = []  # classes worst first
        self.classes: list[str] = []
        self.review_below: float | None = None
        self.cards: list[PhoneCard] = []
        self.verdicts: list[PhoneVerdict] = []
        self._filter = ""
        self.setWidgetResizable(True)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self._content = QWidget()
        self._layout = QVBoxLayout(self._content)
        self._layout.setContentsMargins(8, 8, 8, 8)
        self._layout.addStretch(1)
        self.setWidget(self._content)
        self._rebuild_timer = QTimer(self, singleShot=True, interval=200)
        self._rebuild_timer.timeout.connect(self.rebuild)
        model.counts_changed.connect(self.schedule_rebuild)
        model.dataChanged.connect(self.schedule_rebuild)

    def set_model_order(self, classes: list[str], order: list[str]) -> None:
        """Use a model's classes and severity order (worst first)."""
        self.classes, self.order = list(classes), list(order)
        self.schedule_rebuild()

    def set_grouping(self, grouping: PhoneGrouping) -> None:
        """Group photos into phones this way from now on."""
        self.grouping = grouping
        self.schedule_rebuild()

    def schedule_rebuild(self, *_) -> None:
        """Rebuild soon (many changes in a row cost one rebuild), only while the view is shown."""
        if self.isVisible():
            self._rebuild_timer.start()

    def showEvent(self, event) -> None:
        super().showEvent(event)
        self.rebuild()

    def set_filter(self, text: str) -> None:
        """Show only the phones whose id or photo names contain ``text`` (as the class sections' filter)."""
        self._filter = text
        self.schedule_rebuild()

    def rebuild(self) -> None:
        """Recompute every phone's verdict and rebuild the cards, keeping the selected photo selected.

        Photos the grouping finds no phone id for gather in one last card without a verdict."""
        selected = self.current_entry()
        entries = {entry.prediction.source: entry for entry in self.model.entries()}
        matched = [e for e in entries.values() if self.grouping.phone_of(e.prediction.source, e.prediction.name)]
        unmatched = [e for e in entries.values() if e not in matched]
        self.verdicts = phone_verdicts([photo_of(e.prediction, e.final) for e in matched], self.grouping, self.order)
        for card in self.cards:
            self._layout.removeWidget(card)
            card.deleteLater()
        self.cards = []
        for verdict in self.verdicts:
            photos = [entries[photo.source] for photo in verdict.photos]
            if len(self.cards) < MAX_CARDS and _matches(self._filter, photos, verdict.phone):
                title = _header_text(verdict, self.review_below)
                self._add_card(PhoneCard(title, verdict.phone, [e.key for e in photos], self.model, self.delegate))
        shown_unmatched = [e for e in unmatched if _matches(self._filter, [e], "")]
        if shown_unmatched:
            title = _unmatched_text(len(shown_unmatched), self.grouping)
            keys = [e.key for e in shown_unmatched]
            self._add_card(PhoneCard(title, self.grouping.spec, keys, self.model, self.delegate))
        if selected is not None:
            self.select(selected.key)

    def _add_card(self, card: PhoneCard) -> None:
        card.setParent(self._content)
        self._layout.insertWidget(len(self.cards), card)
        self._connect(card.view)
        self.cards.append(card)

    def _connect(self, view: SectionView) -> None:
        view.edge_reached.connect(lambda step: self._on_edge_reached(view, step))
        view.selectionModel().currentChanged.connect(lambda current, _: self._on_current_changed(view, current))
        view.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        view.customContextMenuRequested.connect(lambda point: self._on_context_menu(view, point))

    # -- selection (the same questions the main window asks the class gallery) ----------
    def selected_keys(self) -> list[int]:
        """Return the keys selected in the card holding the selection."""
        return next((keys for card in self.cards if (keys := card.view.selected_keys())), [])

    def position(self) -> None:
        """Return nothing: in this view the photo stays selected after a move (its phone's verdict changes)."""
        return None

    def step_on(self, position: None, moved: list[int]) -> None:
        """Nothing to step on to (see :meth:`position`)."""

    def current_entry(self) -> Entry | None:
        """Return the photo shown in the detail pane, if any."""
        return next((entry for card in self.cards if (entry := card.view.shown_entry()) is not None), None)

    def select(self, key: int) -> None:
        """Select and show the photo with ``key``."""
        for card in self.cards:
            index = card.proxy.mapFromSource(self.model.index_of(key))
            if index.isValid():
                card.view.setFocus()
                card.view.selectionModel().setCurrentIndex(index, QItemSelectionModel.SelectionFlag.ClearAndSelect)
                QTimer.singleShot(0, lambda c=card: self.ensureWidgetVisible(c, 8, 8))
                return

    def _on_edge_reached(self, view: SectionView, step: int) -> None:
        """An arrow key went past a card's end: on into the next phone's first photo (or back)."""
        target = neighbour_view([card.view for card in self.cards], view, step)
        if target is not None:
            target.select_row(0 if step > 0 else -1)
            self._on_current_changed(target, target.currentIndex())  # also when it was current before
            card = target.parentWidget()
            QTimer.singleShot(0, lambda: self.ensureWidgetVisible(card, 8, 8))

    def _on_current_changed(self, view: SectionView, current) -> None:
        if not current.isValid():
            return
        for card in self.cards:
            if card.view is not view:
                card.view.clearSelection()
        self.entry_selected.emit(current.data(ENTRY_ROLE))

    def _on_context_menu(self, view: SectionView, point) -> None:
        keys = view.selected_keys()
        if keys:
            at = view.viewport().mapToGlobal(point)
            show_move_menu(self, self.classes, keys, self.relabel_requested.emit, self.remove_requested.emit, at)
