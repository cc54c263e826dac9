"""Confidences as people read them: as many decimals as the decision needs, never a false "100 %".

A calibrated model is often 99.6 % or 99.97 % sure; rounded to whole percents every photo
reads "100%" and a photo just under the review threshold looks the same as one above it.
:func:`percent_text` shows one decimal, and more (up to three) only where fewer would hide
which side of the threshold a photo is on, or would round a doubt up to 100 %.
"""

from __future__ import annotations

MAX_DECIMALS = 3


def percent_text(value: float, threshold: float | None = None) -> str:
    """Format a probability as a percentage.

    :param value: a probability, 0..1
    :param threshold: the review threshold (0..1) it is compared with, if any
    :returns: e.g. ``"98.5 %"``, ``"99.97 %"``, ``"> 99.999 %"`` or ``"< 99.9995 %"``; never 100 %
    """
    for decimals in range(1, MAX_DECIMALS + 1):
        shown = round(value * 100, decimals)
        if shown >= 100:
            continue  # a model's probability, however high, must not read as certainty
        if threshold is not None and _order(shown, threshold * 100) != _order(value, threshold):
            continue  # the number shown must sit on the same side of the threshold as the true one
        return f"{shown:.{decimals}f} %"
    if threshold is not None and value < threshold:
        return f"< {threshold_text(threshold)}"
    # Float rounding can make a probability 1.0: it still reads "> 99.999 %", as its neighbours do.
    return f"> {100 - 10**-MAX_DECIMALS:.{MAX_DECIMALS}f} %"


def threshold_text(threshold: float) -> str:
    """Return a threshold with the decimals it was set with, e.g. ``"99.95 %"`` or ``"90 %"``."""
    text = f"{threshold * 100:.{MAX_DECIMALS}f}".rstrip("0").rstrip(".")
    return f"{text} %"


def _order(a: float, b: float) -> int:
    """Return -1, 0 or 1 as ``a`` is below, equal to or above ``b``."""
    return (a > b) - (a < b)
