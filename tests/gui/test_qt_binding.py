"""The Qt binding itself: a regression guard for a reference-counting bug that crashed the window."""

import sys

from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QColor, QFont, QImage, QPainter


def test_painting_does_not_drain_the_reference_count_of_none(qapp):
    """PySide6 6.12.0 released a reference to None on every void QPainter call. On Python 3.11,
    where None is a mortal object, the window then aborted with "deallocating None" after
    painting a few thousand thumbnails (a 3,000-photo session). pyproject.toml excludes it."""
    image = QImage(64, 64, QImage.Format.Format_RGB32)
    painter = QPainter(image)
    before = sys.getrefcount(None)
    for _ in range(500):
        painter.setPen(QColor("#1f2328"))
        painter.setBrush(QColor("#ffffff"))
        painter.setFont(QFont(painter.font().family()))
        painter.setOpacity(0.5)
        painter.drawRoundedRect(QRectF(2, 2, 20, 20), 3, 3)
        painter.drawText(QRectF(0, 0, 60, 20), Qt.AlignmentFlag.AlignLeft, "text")
    drained = before - sys.getrefcount(None)
    painter.end()
    assert drained < 100, f"{drained} references to None lost in 500 rounds of painting"
