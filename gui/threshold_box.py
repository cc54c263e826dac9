"""The review threshold box: set at the precision it acts on, stepped in "nines".

A calibrated model's confidences crowd just under 100 %, so a threshold box with one
decimal jumps from "nothing in Review" (99.9 %) to "almost everything" (100.0 %). This box
takes up to three decimals, shows only those that were set ("99.95 %", "90 %"), and its
arrows and the mouse wheel step along 90, 95, 98, 99, 99.5, 99.8, 99.9, 99.95 ... where the
photos actually are.
"""

from __future__ import annotations

from PySide6.QtWidgets import QDoubleSpinBox

from core.inference.percent import MAX_DECIMALS, threshold_text

STEPS = (0, 50, 80, 90, 95, 98, 99, 99.5, 99.8, 99.9, 99.95, 99.98, 99.99, 99.995, 99.998, 99.999, 100)


class ThresholdSpinBox(QDoubleSpinBox):
    """Percent box (0..100) with up to three decimals and steps that follow the nines."""

    def __init__(self, parent=None):
        super().__init__(parent, decimals=MAX_DECIMALS, minimum=0, maximum=100, suffix=" %")
        self.setKeyboardTracking(False)  # typing "99.95" must not apply 9, 99, 99.9 on the way
        self.setMinimumWidth(self.fontMetrics().horizontalAdvance("99.999 %") + 40)

    def wait_for_model(self) -> None:
        """Show no number until a model says its threshold (a "0 %" would read as "nothing to review")."""
        self.blockSignals(True)
        self.setSpecialValueText("…")
        self.setValue(self.minimum())
        self.setEnabled(False)
        self.blockSignals(False)

    def show_threshold(self, percent: float) -> None:
        """Show the model's (or the user's) threshold without announcing it as a change, and take input again."""
        self.blockSignals(True)
        self.setSpecialValueText("")
        self.setValue(percent)
        self.setEnabled(True)
        self.blockSignals(False)

    def textFromValue(self, value: float) -> str:
        return threshold_text(value / 100).removesuffix(" %")

    def stepBy(self, steps: int) -> None:
        value = self.value()
        for _ in range(abs(steps)):
            if steps > 0:
                value = next((s for s in STEPS if s > value + 1e-9), STEPS[-1])
            else:
                value = next((s for s in reversed(STEPS) if s < value - 1e-9), STEPS[0])
        self.setValue(value)
