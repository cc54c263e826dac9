"""The "By phone" view: one card per phone with its photos, the photo that decided the verdict first.

The view follows the shared :class:`GalleryModel` phone by phone: new photos and relabels mark their phones
changed, and shortly after (many changes in a row cost one update) only those phones' verdicts are worked out
again (:func:`core.results.phones.phone_verdict`) and only their cards redrawn, so a station that sorts
photos all day costs each arrival a card or two, not a rebuild of thousands. A new grouping, severity
order, filter or review threshold, or a cleared session, rebuilds every card. A photo the inspector put in
a class counts as decided, whatever the model's doubt.
"""

from __future__ import annotations

from html import escape

from PySide6.QtCore import QAbstractListModel, QItemSelectionModel, QModelIndex, Qt, QTimer, Signal
from PySide6.QtWidgets import QAbstractItemView, QLabel, QScrollArea, QVBoxLayout, QWidget

from core.inference.percent import percent_text
from core.results.colours import label_colour_hex
from core.results.phones import REVIEW_VERDICT, PhoneGrouping, PhoneVerdict, phone_verdict, photo_of
from gui.gallery_model import ENTRY_ROLE, Entry, GalleryModel
from gui.move_menu import show_move_menu
from gui.section import SectionView, neighbour_view
from gui.thumbnail_delegate import ThumbnailDelegate

MAX_CARDS = 500  # phones shown at once, the newest (the filter finds the others)
NO_PHONE = ""  # the card of photos the grouping finds no phone id in


class PhoneCardModel(QAbstractListModel):
    """The photos of one phone, in the verdict's order (the deciding photo first): the shared model's items
    by key, so a new photo elsewhere costs this card nothing."""

    section = None  # a phone card is not a class: drops on it relabel nothing

    def __init__(self, source: GalleryModel, keys: list[int], parent=None):
        super().__init__(parent)
        self.source, self.keys = source, keys

    def rowCount(self, parent=QModelIndex()) -> int:  # noqa: B008 - Qt's signature
        return 0 if parent.isValid() else len(self.keys)

    def data(self, index: QModelIndex, role: int = Qt.ItemDataRole.DisplayRole):
        if not index.isValid():
            return None
        return self.source.data(self.source.index_of(self.keys[index.row()]), role)

    def set_keys(self, keys: list[int]) -> None:
        """Show these photos: repainted when they are the same, laid out again when not."""
        if keys == self.keys:
            if keys:
                self.dataChanged.emit(self.index(0), self.index(len(keys) - 1))
            return
        self.beginResetModel()
        self.keys = keys
        self.endResetModel()


class PhoneCard(QWidget):
    """A phone's verdict in words over its photos (or, for photos no phone id was found in, a plain title).

    :param title: the header's rich text
    :param tooltip: the header's tooltip: the phone's full id (kept as :attr:`phone`), or the grouping pattern
    :param keys: the photos' keys, in the order shown
    """

    def __init__(self, title: str, tooltip: str, keys: list[int], model, delegate, parent=None):
        super().__init__(parent)
        self.phone = tooltip
        self.photos = PhoneCardModel(model, keys, self)
        self.view = SectionView(self.photos, delegate, self)
        self.view.setDragDropMode(QAbstractItemView.DragDropMode.NoDragDrop)
        self.header = QLabel(title)
        self.header.setToolTip(tooltip)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 8)
        layout.setSpacing(2)
        layout.addWidget(self.header)
        layout.addWidget(self.view)

    def show_photos(self, title: str, keys: list[int]) -> None:
        """Show a new title and these photos, keeping the selected photo selected (without taking the focus)."""
        shown = self.view.shown_entry()
        self.header.setText(title)
        changed = keys != self.photos.keys
        self.photos.set_keys(keys)
        if changed:
            self.fit()
            if shown is not None and shown.key in keys:
                flags = QItemSelectionModel.SelectionFlag.ClearAndSelect
                self.view.selectionModel().setCurrentIndex(self.photos.index(keys.index(shown.key)), flags)

    def fit(self) -> None:
        """Lay the photos out again and make the card as tall as they need (new photos, new thumbnail size)."""
        self.view.doItemsLayout()
        self.view.setFixedHeight(self.view.content_height())

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
        self._review_below: float | None = None
        self._filter = ""
        self.cards: list[PhoneCard] = []  # as shown, top to bottom
        self._card_of: dict[str, PhoneCard] = {}  # phone (NO_PHONE: photos without an id) -> its card
        self._keys_of: dict[str, list[int]] = {}  # phone -> its photos' keys in arrival order; phones first seen first
        self._phone_of: dict[int, str] = {}
        self._shown_keys: dict[str, list[int]] = {}  # phone -> the keys its card shows, verdict order
        self._titles: dict[str, str] = {}
        self._arrived: list[int] = []  # keys not yet given a phone
        self._changed: set[str] = set()  # phones whose verdict or card is out of date
        self._regroup = True  # every photo's phone is out of date
        self.setWidgetResizable(True)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self._content = QWidget()
        self._layout = QVBoxLayout(self._content)
        self._layout.setContentsMargins(8, 8, 8, 8)
        self.newest_note = QLabel()  # "Showing the newest 500 of 3,120 phones ..."
        self.newest_note.hide()
        self._layout.addWidget(self.newest_note)
        self._layout.addStretch(1)
        self.setWidget(self._content)
        self._update_timer = QTimer(self, singleShot=True, interval=200)
        self._update_timer.timeout.connect(self.update_cards)
        model.rowsInserted.connect(self._on_rows_inserted)
        model.dataChanged.connect(self._on_data_changed)
        model.modelReset.connect(self._on_model_reset)

    # -- what changed ---------------------------------------------------------------------
    def _on_rows_inserted(self, _parent, first: int, last: int) -> None:
        self._arrived.extend(self.model.index(row).data(ENTRY_ROLE).key for row in range(first, last + 1))
        self._schedule()

    def _on_data_changed(self, top_left, bottom_right, *_) -> None:
        for row in range(top_left.row(), bottom_right.row() + 1):
            phone = self._phone_of.get(self.model.index(row).data(ENTRY_ROLE).key)
            if phone is not None:
                self._changed.add(phone)
        self._schedule()

    def _on_model_reset(self) -> None:
        """The session was cleared or restored: the cards go at once (their photos are gone from the model)."""
        for card in self.cards:
            self._drop_card(card)
        self.cards, self._card_of, self._shown_keys, self._titles = [], {}, {}, {}
        self.rebuild()

    def _schedule(self) -> None:
        """Update soon (many changes in a row cost one update), only while the view is shown."""
        if self.isVisible():
            self._update_timer.start()

    def rebuild(self) -> None:
        """Work out every phone and card again soon (a new grouping, severity order, filter or threshold)."""
        self._regroup = True
        self._schedule()

    def showEvent(self, event) -> None:
        super().showEvent(event)
        self.update_cards()

    # -- settings -------------------------------------------------------------------------
    def set_model_order(self, classes: list[str], order: list[str]) -> None:
        """Use a model's classes and severity order (worst first)."""
        self.classes, self.order = list(classes), list(order)
        self.rebuild()

    def set_grouping(self, grouping: PhoneGrouping) -> None:
        """Group photos into phones this way from now on."""
        self.grouping = grouping
        self.rebuild()

    def set_review_below(self, review_below: float | None) -> None:
        """Show confidences in the headers against this review threshold."""
        self._review_below = review_below
        self.rebuild()

    def set_thumbnail_edge(self, _edge: int) -> None:
        """The shared delegate draws thumbnails at a new size: lay every card out again."""
        for card in self.cards:
            card.fit()

    def repaint_cards(self, *_) -> None:
        """Draw every card again (the heatmap switch or opacity changed)."""
        for card in self.cards:
            card.view.viewport().update()

    def set_filter(self, text: str) -> None:
        """Show only the phones whose id or photo names contain ``text`` (as the class sections' filter)."""
        self._filter = text
        self.rebuild()

    # -- the update -----------------------------------------------------------------------
    def update_cards(self) -> None:
        """Give new photos their phone, work out the changed phones' verdicts and show their cards.

        Photos the grouping finds no phone id for gather in one last card without a verdict."""
        if self._regroup:
            self._regroup = False
            self._keys_of, self._phone_of, self._shown_keys, self._titles = {}, {}, {}, {}
            self._arrived = [self.model.index(row).data(ENTRY_ROLE).key for row in range(self.model.rowCount())]
            self._changed = set()  # removed photos too: they come back to their phone when a removal is undone
        for key in self._arrived:
            entry = self.model.entry(key)
            phone = self.grouping.phone_of(entry.prediction.source, entry.prediction.name) or NO_PHONE
            self._phone_of[key] = phone
            self._keys_of.setdefault(phone, []).append(key)
            self._changed.add(phone)
        self._arrived = []
        changed, self._changed = self._changed, set()
        for phone in changed:
            self._judge(phone)
        self._lay_out(changed)

    def _judge(self, phone: str) -> None:
        """Work out a phone's title and its photos in the order shown (none: the phone has no card)."""
        entries = [entry for key in self._keys_of.get(phone, []) if not (entry := self.model.entry(key)).removed]
        if phone == NO_PHONE:  # the filter keeps photos here, not the card
            entries = [entry for entry in entries if _matches(self._filter, [entry], "")]
        if not entries or not _matches(self._filter, entries, phone):
            self._shown_keys.pop(phone, None)
            return
        if phone == NO_PHONE:
            self._shown_keys[phone] = [entry.key for entry in entries]
            self._titles[phone] = _unmatched_text(len(entries), self.grouping)
            return
        by_source = {entry.prediction.source: entry for entry in entries}  # a photo opened twice counts once
        verdict = phone_verdict(phone, [photo_of(e.prediction, e.final) for e in by_source.values()], self.order)
        self._shown_keys[phone] = [by_source[photo.source].key for photo in verdict.photos]
        self._titles[phone] = _header_text(verdict, self._review_below)

    def _lay_out(self, changed: set[str]) -> None:
        """Show the newest :data:`MAX_CARDS` phones in the order first seen, then the photos without an id:
        new cards for new phones, changed cards told, cards no longer shown dropped."""
        phones = [phone for phone in self._keys_of if phone != NO_PHONE and phone in self._shown_keys]
        hidden = max(0, len(phones) - MAX_CARDS)
        wanted = phones[hidden:] + ([NO_PHONE] if NO_PHONE in self._shown_keys else [])
        self._say_hidden(hidden, len(phones))
        unmatched = self._card_of.get(NO_PHONE)
        if unmatched is not None and unmatched.phone != self.grouping.spec:  # its tooltip names the old pattern
            wanted_now = [phone for phone in wanted if phone != NO_PHONE]
        else:
            wanted_now = wanted
        for phone in set(self._card_of) - set(wanted_now):
            self._drop_card(self._card_of.pop(phone))
        for position, phone in enumerate(wanted, start=1):  # after the "newest of" line
            card = self._card_of.get(phone)
            if card is None:
                card = self._card_of[phone] = self._new_card(phone)
            elif phone in changed:
                card.show_photos(self._titles[phone], self._shown_keys[phone])
            if self._layout.indexOf(card) != position:
                self._layout.insertWidget(position, card)
        self.cards = [self._card_of[phone] for phone in wanted]

    def _say_hidden(self, hidden: int, total: int) -> None:
        self.newest_note.setVisible(hidden > 0)
        if hidden:
            self.newest_note.setText(
                f"Showing the newest {MAX_CARDS:,} of {total:,} phones; type in the filter to find the others."
            )

    def _new_card(self, phone: str) -> PhoneCard:
        tooltip = phone if phone != NO_PHONE else self.grouping.spec
        card = PhoneCard(self._titles[phone], tooltip, self._shown_keys[phone], self.model, self.delegate)
        card.setParent(self._content)
        self._connect(card.view)
        return card

    def _drop_card(self, card: PhoneCard) -> None:
        self._layout.removeWidget(card)
        card.hide()
        card.deleteLater()

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
            if key in card.photos.keys:
                card.view.select_row(card.photos.keys.index(key))
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
