"""The detail pane: the selected photo large, with heatmap, box, class bars and facts."""

from __future__ import annotations

from PySide6.QtCore import QPointF, QRectF, QSize, Qt, Signal
from PySide6.QtGui import QColor, QImage, QPainter, QPen
from PySide6.QtWidgets import QFrame, QLabel, QSizePolicy, QVBoxLayout, QWidget

from core.inference.decision import DecisionPolicy
from core.inference.percent import percent_text
from gui.detail_text import anomaly_text, unusualness_text, verdict_text
from gui.gallery_model import Entry
from gui.palette import label_colour


class PhotoView(QWidget):
    """Paints a photo scaled to fit, the heatmap over it, the strongest region's box and the peak."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setMinimumSize(QSize(240, 160))
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.entry: Entry | None = None
        self.image: QImage | None = None
        self.heat: QImage | None = None  # the entry's coloured heatmap, made once per photo shown
        self.show_heatmap, self.opacity = True, 0.5

    def show_entry(self, entry: Entry | None, image: QImage | None) -> None:
        """Show ``entry`` using ``image`` (its thumbnail until the full preview arrives)."""
        if entry is not self.entry:
            self.heat = entry.heat if entry is not None else None
        self.entry, self.image = entry, image
        self.update()

    def paintEvent(self, event) -> None:
        painter = QPainter(self)
        painter.fillRect(self.rect(), QColor("#20232a"))
        if self.image is None or self.image.isNull():
            painter.setPen(QColor("#c9d1d9"))
            text = self.entry.prediction.error if self.entry else "Select a photo"
            painter.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap, text or "")
            return
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
        scale = min(self.width() / self.image.width(), self.height() / self.image.height())
        width, height = self.image.width() * scale, self.image.height() * scale
        target = QRectF((self.width() - width) / 2, (self.height() - height) / 2, width, height)
        painter.drawImage(target, self.image)
        prediction = self.entry.prediction
        if self.show_heatmap and self.heat is not None:
            painter.setOpacity(self.opacity)
            painter.drawImage(target, self.heat)
            painter.setOpacity(1.0)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setPen(QPen(QColor("white"), 2))
        for box in prediction.boxes:
            painter.drawRect(_box_rect(target, box))
        if prediction.unlisted_box is not None and prediction.unlisted_box not in prediction.boxes:
            painter.setPen(QPen(QColor("white"), 2, Qt.PenStyle.DashLine))  # a possible defect of no class
            painter.drawRect(_box_rect(target, prediction.unlisted_box))
        if prediction.peak and prediction.boxes:  # a "no defect" photo has a faint hint, not a finding
            centre = QPointF(target.x() + prediction.peak[0] * width, target.y() + prediction.peak[1] * height)
            painter.setPen(QPen(QColor("#ffeb3b"), 2))
            painter.drawEllipse(centre, 7, 7)


def _box_rect(target: QRectF, box: list[float]) -> QRectF:
    """Return a normalised ``[x0, y0, x1, y1]`` box on the photo drawn in ``target``."""
    x0, y0, x1, y1 = box
    width, height = target.width(), target.height()
    return QRectF(target.x() + x0 * width, target.y() + y0 * height, (x1 - x0) * width, (y1 - y0) * height)


class ProbabilityBars(QWidget):
    """One horizontal bar per class with its probability."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.probabilities: dict[str, float] = {}
        self.setMinimumHeight(24)

    def set_probabilities(self, probabilities: dict[str, float]) -> None:
        """Show these probabilities (class -> 0..1)."""
        self.probabilities = dict(probabilities)
        self.setFixedHeight(22 * max(1, len(self.probabilities)) + 4)
        self.update()

    def paintEvent(self, event) -> None:
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        label_width, row = 80, 22
        for number, (label, value) in enumerate(self.probabilities.items()):
            top = 2 + number * row
            painter.setPen(QColor("#1f2328"))
            painter.drawText(QRectF(0, top, label_width - 6, row - 4), Qt.AlignmentFlag.AlignRight, label.capitalize())
            track = QRectF(label_width, top + 3, self.width() - label_width - 72, row - 10)
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(QColor("#e6e9ee"))
            painter.drawRoundedRect(track, 3, 3)
            painter.setBrush(label_colour(label))
            painter.drawRoundedRect(QRectF(track.x(), track.y(), track.width() * value, track.height()), 3, 3)
            painter.setPen(QColor("#1f2328"))
            painter.drawText(
                QRectF(track.right() + 6, top, 64, row - 4), Qt.AlignmentFlag.AlignLeft, percent_text(value)
            )


class DetailPane(QFrame):
    """Everything about the selected item. The large preview is asked for with
    ``preview_requested`` (the window forwards it to the worker) and arrives through
    :meth:`on_preview_loaded` or :meth:`on_preview_failed`."""

    preview_requested = Signal(int, object)  # request number, core.photos.sources.SourceRef

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setObjectName("detailPane")
        self.photo = PhotoView(self)
        self.verdict = QLabel(wordWrap=True, objectName="verdict")
        self.bars = ProbabilityBars(self)
        self.explanation = QLabel(wordWrap=True, objectName="explanation")
        self.facts = QLabel(wordWrap=True, objectName="facts")
        self.facts.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        for label in (self.verdict, self.explanation, self.facts):
            label.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Minimum)
        self.bars.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Fixed)
        layout = QVBoxLayout(self)
        layout.addWidget(self.photo, 1)  # the photo takes what the text leaves
        layout.addWidget(self.verdict)
        layout.addWidget(self.explanation)
        layout.addWidget(self.bars)
        layout.addWidget(self.facts)
        self._request = 0
        self.model_text = ""
        self.anomaly_threshold: float | None = None  # the model's, when it has an anomaly detector
        self.policy: DecisionPolicy | None = None  # the window's: the numbers shown are the ones that decide
        self.show_entry(None)

    def show_entry(self, entry: Entry | None) -> None:
        """Show ``entry`` (or nothing); the full-size preview loads in the background. Showing the same
        photo again (after a move or a new review threshold) only refreshes the words: the preview stays."""
        shown = self.photo.entry
        same_photo = entry is not None and shown is not None and shown.key == entry.key
        if same_photo:
            self.photo.show_entry(entry, self.photo.image)
        else:
            self._request += 1
            self.photo.show_entry(entry, entry.thumbnail if entry else None)
        if entry is None:
            self.verdict.setText("")
            self.explanation.setText("Select a thumbnail to see where the model looked.")
            self.bars.set_probabilities({})
            self.facts.setText("")
            return
        prediction = entry.prediction
        self.verdict.setText(verdict_text(entry, self.policy))
        self.explanation.setText(prediction.explanation)
        self.bars.set_probabilities(prediction.probabilities)
        self.facts.setText(self._facts(entry))
        if not same_photo and prediction.ref is not None and prediction.ok:
            self.preview_requested.emit(self._request, prediction.ref)

    def set_heatmap(self, visible: bool, opacity: float) -> None:
        """Mirror the toolbar's heatmap switch and opacity."""
        self.photo.show_heatmap, self.photo.opacity = visible, opacity
        self.photo.update()

    def _facts(self, entry: Entry) -> str:
        prediction = entry.prediction
        lines = [f"Origin: {prediction.source}"]
        if prediction.ood_score is not None and self.policy is not None:
            lines.append(unusualness_text(prediction.ood_score, self.policy.unknown_above))
        if prediction.anomaly_score is not None:
            lines.append(anomaly_text(prediction.anomaly_score, self.anomaly_threshold))
        if prediction.file_size is not None:
            lines.append(f"File: {prediction.file_size / 1024:,.0f} KB")
        if prediction.image_size:
            lines.append(f"Resolution: {prediction.image_size[0]} x {prediction.image_size[1]}")
        if self.model_text:
            lines.append(f"Model: {self.model_text}")
        return "\n".join(lines)

    def on_preview_loaded(self, request: int, image: QImage) -> None:
        """Show the large preview, unless the selection moved on since it was asked for."""
        if request == self._request:
            self.photo.show_entry(self.photo.entry, image)

    def on_preview_failed(self, request: int, message: str) -> None:
        """Say why the photo cannot be shown large (e.g. its ZIP was moved); the thumbnail stays."""
        if request == self._request:
            self.facts.setText(f"{message}\n{self.facts.text()}")
