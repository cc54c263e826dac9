"""The view toolbar: thumbnail size, heatmaps and their opacity, review threshold, filter, sort."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QLabel,
    QLineEdit,
    QSlider,
    QToolBar,
)

from core.results.phones import FOLDER, PhoneGrouping
from gui.icons import icon
from gui.threshold_box import ThresholdSpinBox


class ViewToolbar(QToolBar):
    """Controls that change how results are shown (never what the model said)."""

    thumbnail_edge_changed = Signal(int)
    heatmaps_changed = Signal(bool, float)  # visible, opacity
    review_threshold_changed = Signal(float)
    filter_changed = Signal(str)
    sort_by_confidence_changed = Signal(bool)
    by_phone_changed = Signal(bool)
    grouping_changed = Signal(object)  # core.results.phones.PhoneGrouping

    def __init__(self, settings, parent=None):
        super().__init__("View", parent)
        self.setObjectName("viewToolbar")
        self.setMovable(False)
        self.size_slider = self._slider(80, 320, settings.get("thumbnail_edge"), "Thumbnail size")
        self.size_slider.valueChanged.connect(self.thumbnail_edge_changed.emit)
        self.heatmaps = self.addAction(icon("heatmap"), "Heatmaps")
        self.heatmaps.setCheckable(True)
        self.heatmaps.setChecked(settings.get("heatmaps"))
        self.heatmaps.setShortcut("H")
        self.heatmaps.setToolTip("Show where the model looked (H)")
        self.opacity_slider = self._slider(0, 100, int(settings.get("opacity") * 100), "Heatmap opacity")
        self.heatmaps.toggled.connect(self._emit_heatmaps)
        self.opacity_slider.valueChanged.connect(self._emit_heatmaps)
        self.addSeparator()
        self.addWidget(QLabel(" Review below "))
        self.threshold = ThresholdSpinBox()
        self.threshold.setToolTip(
            "Photos whose confidence is below this go to the Review group (arrows step 99, 99.5, 99.9, 99.95 …)"
        )
        self.threshold.valueChanged.connect(lambda v: self.review_threshold_changed.emit(v / 100.0))
        self.threshold.wait_for_model()
        self.addWidget(self.threshold)
        self.addSeparator()
        self.filter = QLineEdit(placeholderText="Filter by name", clearButtonEnabled=True, maximumWidth=220)
        self.filter.textChanged.connect(self.filter_changed.emit)
        self.addWidget(self.filter)
        self.sort = QCheckBox("Least confident first")
        self.sort.toggled.connect(self.sort_by_confidence_changed.emit)
        self.addWidget(self.sort)
        self.addSeparator()
        self.by_phone = QCheckBox("By phone")
        self.by_phone.setToolTip("One card per phone: its verdict is its worst photo (P)")
        self.by_phone.setShortcut("P")
        self.by_phone.setChecked(settings.get("by_phone"))
        self.by_phone.toggled.connect(self.by_phone_changed.emit)
        self.addWidget(self.by_phone)
        self.grouping = QLineEdit(settings.get("group_by"))
        self.grouping.setMinimumWidth(self.grouping.fontMetrics().horizontalAdvance(r"^(\d{15})_") + 24)
        self.grouping.setMaximumWidth(240)
        self.grouping.setToolTip(
            "Which photos show the same phone: 'folder' (the folder or ZIP folder holding them), or a pattern "
            r"whose first group is the phone id in the file name, e.g. ^(\d+)_ for 356789012345678_front.jpg"
        )
        self.grouping.editingFinished.connect(self._emit_grouping)
        self.addWidget(self.grouping)

    def _slider(self, low: int, high: int, value: int, tip: str) -> QSlider:
        self.addWidget(QLabel(f" {tip.split()[0]} "))
        slider = QSlider(Qt.Orientation.Horizontal, minimum=low, maximum=high, value=value, maximumWidth=110)
        slider.setToolTip(tip)
        self.addWidget(slider)
        return slider

    def phone_grouping(self) -> PhoneGrouping | None:
        """Return the grouping typed in, or None (and the box says why) when the pattern is not valid."""
        try:
            grouping = PhoneGrouping(self.grouping.text().strip() or FOLDER)
        except ValueError as error:
            self.grouping.setStyleSheet("QLineEdit { border: 1px solid #c62828; }")
            self.grouping.setToolTip(str(error))
            return None
        self.grouping.setStyleSheet("")
        return grouping

    def _emit_grouping(self) -> None:
        grouping = self.phone_grouping()
        if grouping is not None:
            self.grouping_changed.emit(grouping)

    def _emit_heatmaps(self, *_) -> None:
        self.heatmaps_changed.emit(self.heatmaps.isChecked(), self.opacity_slider.value() / 100.0)

    @property
    def opacity(self) -> float:
        """Return the heatmap opacity, 0..1."""
        return self.opacity_slider.value() / 100.0
