"""The gallery's data: one row per classified item, with the inspector's corrections.

A single ``QAbstractListModel`` holds every item; each gallery section shows it through
a filter proxy. Corrections and removals go through the undo stack (see ``gui.edits``).
Statuses come from one :class:`~core.inference.decision.DecisionPolicy` (the one exports use): the
model applies it to each arriving item and again to all when the user changes it.
"""

from __future__ import annotations

from collections import Counter, deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace

from PySide6.QtCore import (
    QAbstractListModel,
    QByteArray,
    QMimeData,
    QModelIndex,
    Qt,
    Signal,
)
from PySide6.QtGui import QImage

from core.inference.decision import DecisionPolicy
from core.inference.prediction import ERROR, REVIEW, UNKNOWN, Prediction
from core.journal.session import DO, RELABEL, REMOVE, UNREMOVE, Edit
from core.results.final import FinalDecision, final_decision
from gui.images import heatmap_from_levels, heatmap_image, thumbnail_image

ITEMS_MIME = "application/x-defectsort-items"
ERRORS = "errors"  # the section of items with status "error"
SPECIAL_SECTIONS = {REVIEW: "Review", UNKNOWN: "Unknown", ERRORS: "Errors"}

FRESH_THUMBNAILS = 256  # the newest photos keep a ready thumbnail (about 44 MB): they are the ones drawn now
ENTRY_ROLE = Qt.ItemDataRole.UserRole + 1
SECTION_ROLE = Qt.ItemDataRole.UserRole + 2
CONFIDENCE_ROLE = Qt.ItemDataRole.UserRole + 3


@dataclass
class Entry:
    """One item in the gallery: the model's prediction plus what the inspector decided."""

    key: int
    prediction: Prediction
    thumbnail_jpeg: bytes | None = None  # compressed: the session holds one per photo (see gui.images)
    fresh_thumbnail: QImage | None = None  # the worker's ready one, kept while the photo is among the newest
    heat_levels: bytes | None = None  # the heatmap, compressed (gui.images.heat_levels); the prediction has none
    final_label: str | None = None  # None until the inspector decides
    removed: bool = False
    missing: str | None = None  # why a restored photo's source can no longer be read
    _final: tuple[Prediction, str | None, FinalDecision] | None = field(
        default=None, init=False, repr=False, compare=False
    )

    @property
    def final(self) -> FinalDecision:
        """Return where the photo ends up under the policy in force and the inspector's word (the one rule;
        kept until the prediction or the inspector's label changes: the views ask for it on every repaint)."""
        kept = self._final
        if kept is None or kept[0] is not self.prediction or kept[1] != self.final_label:
            kept = self._final = (self.prediction, self.final_label, final_decision(self.prediction, self.final_label))
        return kept[2]

    @property
    def thumbnail(self) -> QImage | None:
        """Return the thumbnail: the worker's own while the photo is new (arriving photos are drawn at once, and
        opening a JPEG costs the GUI thread about a millisecond), else opened from its compressed form (drawn
        cells are kept by the delegate)."""
        if self.fresh_thumbnail is not None:
            return self.fresh_thumbnail
        return thumbnail_image(self.thumbnail_jpeg) if self.thumbnail_jpeg is not None else None

    @property
    def heat(self) -> QImage | None:
        """Return the heatmap coloured for drawing, made when asked (about 0.2 ms; the delegate keeps the cells
        it drew)."""
        return heatmap_image(heatmap_from_levels(self.heat_levels)) if self.heat_levels is not None else None

    def full_prediction(self) -> Prediction:
        """Return the prediction with its heatmap, as the journal and the export take it."""
        return with_heatmap(self.prediction, self.heat_levels)

    @property
    def label(self) -> str | None:
        """Return the inspector's label if given, else the model's."""
        return self.final_label or self.prediction.label

    @property
    def decided(self) -> bool:
        """Return True once the inspector put the item in a class (even the model's)."""
        return self.final.by_inspector

    @property
    def corrected(self) -> bool:
        """Return True when the inspector moved the item away from the model's label."""
        return self.final.corrected


def with_heatmap(prediction: Prediction, levels: bytes | None) -> Prediction:
    """Return ``prediction`` with the heatmap an entry keeps compressed (the same prediction without one)."""
    return prediction if levels is None else replace(prediction, heatmap=heatmap_from_levels(levels))


class GalleryModel(QAbstractListModel):
    """Every classified item of the session, in arrival order."""

    counts_changed = Signal()
    entries_edited = Signal(list)  # [core.journal.session.Edit]: what the inspector changed, for the journal

    def __init__(self, parent=None):
        super().__init__(parent)
        self._entries: list[Entry] = []
        self._row_of: dict[int, int] = {}
        self.policy: DecisionPolicy | None = None
        self.names: Counter[str] = Counter()  # photos per file name: same-named ones are shown with their origin
        self._fresh: deque[Entry] = deque()  # entries holding a ready thumbnail, oldest first
        self.section_counts: Counter[str | None] = Counter()  # photos per section (None: removed), kept current

    # -- Qt model interface -------------------------------------------------------------
    def rowCount(self, parent=QModelIndex()) -> int:  # noqa: B008 - Qt's signature
        return 0 if parent.isValid() else len(self._entries)

    def data(self, index: QModelIndex, role: int = Qt.ItemDataRole.DisplayRole):
        if not index.isValid():
            return None
        entry = self._entries[index.row()]
        if role == Qt.ItemDataRole.DisplayRole:
            return entry.prediction.name
        if role == Qt.ItemDataRole.ToolTipRole:
            return f"{entry.prediction.source}\n{entry.prediction.explanation}"
        if role == ENTRY_ROLE:
            return entry
        if role == SECTION_ROLE:
            return self.section_of(entry)
        if role == CONFIDENCE_ROLE:
            return entry.prediction.confidence or 0.0
        return None

    def flags(self, index: QModelIndex) -> Qt.ItemFlag:
        base = super().flags(index)
        return base | Qt.ItemFlag.ItemIsDragEnabled if index.isValid() else base

    def mimeTypes(self) -> list[str]:
        return [ITEMS_MIME]

    def mimeData(self, indexes) -> QMimeData:
        keys = sorted({self._entries[i.row()].key for i in indexes if i.isValid()})
        mime = QMimeData()
        mime.setData(ITEMS_MIME, QByteArray(",".join(map(str, keys)).encode()))
        return mime

    def supportedDragActions(self) -> Qt.DropAction:
        return Qt.DropAction.MoveAction

    # -- sessions ----------------------------------------------------------------------
    def add_entries(self, entries: list[Entry]) -> None:
        """Append newly classified items."""
        if not entries:
            return
        first = len(self._entries)
        self.beginInsertRows(QModelIndex(), first, first + len(entries) - 1)
        for entry in entries:
            if self.policy is not None:
                entry.prediction = self.policy.apply(entry.prediction)
            self._row_of[entry.key] = len(self._entries)
            self._entries.append(entry)
            self.names[entry.prediction.name] += 1
            self.section_counts[self.section_of(entry)] += 1
            self._keep_fresh(entry)
        self.endInsertRows()
        self.counts_changed.emit()

    def _keep_fresh(self, entry: Entry) -> None:
        if entry.fresh_thumbnail is None:
            return
        self._fresh.append(entry)
        while len(self._fresh) > FRESH_THUMBNAILS:
            self._fresh.popleft().fresh_thumbnail = None  # opened from its JPEG when drawn again

    def clear(self) -> None:
        """Forget every item."""
        self.beginResetModel()
        self._fresh.clear()
        self._entries.clear()
        self._row_of.clear()
        self.names.clear()
        self.section_counts.clear()
        self.endResetModel()
        self.counts_changed.emit()

    def entries(self) -> list[Entry]:
        """Return the items in arrival order, without removed ones."""
        return [e for e in self._entries if not e.removed]

    def shown_count(self) -> int:
        """Return how many items are shown (not removed), without walking them."""
        return len(self._entries) - self.section_counts[None]

    def entry(self, key: int) -> Entry:
        """Return the item with ``key``."""
        return self._entries[self._row_of[key]]

    def index_of(self, key: int) -> QModelIndex:
        """Return the model index of the item with ``key``."""
        return self.index(self._row_of[key])

    def section_of(self, entry: Entry) -> str | None:
        """Return the section an item shows in (a class, ``review``, ``unknown``, ``errors``), None if removed:
        its final decision (:func:`core.results.final.final_decision`)."""
        if entry.removed:
            return None
        section = entry.final.section
        return ERRORS if section == ERROR else section

    def set_policy(self, policy: DecisionPolicy) -> None:
        """Decide every item's status with ``policy`` from now on (e.g. a new review threshold)."""
        self.policy = policy
        with self._counting(self._entries):
            for entry in self._entries:
                entry.prediction = policy.apply(entry.prediction)
        self._changed(range(len(self._entries)))

    # -- edits (called by the undo commands) -------------------------------------------
    def set_labels(self, labels: dict[int, str | None], cause: str = DO) -> None:
        """Set the inspector's label of items by key (None: back to the model's).

        :param cause: ``do``, ``undo`` or ``redo`` (recorded in the journal)
        """
        edits = []
        with self._counting([self.entry(key) for key in labels]):
            for key, label in labels.items():
                entry = self.entry(key)
                edits.append(Edit(RELABEL, cause, key, entry.prediction, entry.final_label, label))
                entry.final_label = label
        self._changed(self._row_of[k] for k in labels)
        self.entries_edited.emit(edits)

    def set_removed(self, keys: list[int], removed: bool, cause: str = DO) -> None:
        """Hide (or bring back) items by key."""
        with self._counting([self.entry(key) for key in keys]):
            for key in keys:
                self.entry(key).removed = removed
        self._changed(self._row_of[k] for k in keys)
        kind = REMOVE if removed else UNREMOVE
        self.entries_edited.emit([Edit(kind, cause, key, self.entry(key).prediction) for key in keys])

    def restore(self, labels: dict[int, str | None], removed: set[int]) -> None:
        """Put back a restored session's decisions (not new edits: nothing is journalled again)."""
        with self._counting(self._entries):
            for key, label in labels.items():
                self.entry(key).final_label = label
            for key in removed:
                self.entry(key).removed = True
        self._changed(range(len(self._entries)))

    @contextmanager
    def _counting(self, entries: list[Entry]) -> Iterator[None]:
        """Keep :attr:`section_counts` current across a change of ``entries``' sections."""
        self.section_counts.subtract(self.section_of(entry) for entry in entries)
        yield
        self.section_counts.update(self.section_of(entry) for entry in entries)

    def _changed(self, rows) -> None:
        rows = list(rows)
        if rows:
            self.dataChanged.emit(self.index(min(rows)), self.index(max(rows)))
        self.counts_changed.emit()
