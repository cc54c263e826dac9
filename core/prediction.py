"""The result of classifying one item: small, immutable, safe to pass between threads."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from core.sources import ImageItem

OK, REVIEW, UNKNOWN, ERROR = "ok", "review", "unknown", "error"
JSON_FIELDS = ("source", "name", "label", "confidence", "probabilities", "status", "error", "peak", "box",
               "explanation", "boxes", "also", "ood_score")


@dataclass(frozen=True)
class Prediction:
    """What the model said about one photo (or why it could not say anything).

    ``peak`` is ``(x, y)`` and ``box`` ``[x0, y0, x1, y1]``, both normalised to 0..1 of the
    upright photo; ``boxes`` frames every strong region, strongest first. ``status`` is
    ``ok``, ``review`` (confidence below the model's threshold), ``unknown`` (unlike the
    training photos, see ``ood_score``) or ``error``. ``also`` lists other defect classes
    with strong evidence. ``heatmap`` is a low-resolution map of ``label`` scaled 0..1.
    """

    source: str
    name: str
    label: str | None = None
    confidence: float | None = None
    probabilities: dict[str, float] = field(default_factory=dict)
    status: str = OK
    error: str | None = None
    peak: tuple[float, float] | None = None
    box: list[float] | None = None
    explanation: str = ""
    boxes: list[list[float]] = field(default_factory=list)
    also: list[str] = field(default_factory=list)
    ood_score: float | None = None
    heatmap: np.ndarray | None = field(default=None, repr=False, compare=False)
    thumbnail: np.ndarray | None = field(default=None, repr=False, compare=False)
    image_size: tuple[int, int] | None = None
    file_size: int | None = None
    item: ImageItem | None = field(default=None, repr=False, compare=False)

    @classmethod
    def failed(cls, item: ImageItem, reason: str) -> "Prediction":
        """:returns: an error result for ``item`` with a one-line ``reason``."""
        return cls(source=item.source, name=item.name, status=ERROR, error=reason, item=item,
                   explanation=f"Not classified: {reason}")

    @property
    def ok(self) -> bool:
        """:returns: True unless the item could not be read or classified."""
        return self.status != ERROR

    def to_dict(self) -> dict:
        """:returns: the JSON object of ``defectsort classify --json`` for this item."""
        data = {name: getattr(self, name) for name in JSON_FIELDS}
        data["peak"] = list(self.peak) if self.peak else None
        return data
