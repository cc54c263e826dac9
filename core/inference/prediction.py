"""The result of classifying one item: small, immutable, safe to pass between threads."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from core.photos.sources import ImageItem, SourceRef

OK, REVIEW, UNKNOWN, ERROR = "ok", "review", "unknown", "error"
STATUSES = (OK, REVIEW, UNKNOWN, ERROR)
JSON_FIELDS = (
    "source",
    "name",
    "label",
    "confidence",
    "probabilities",
    "status",
    "error",
    "peak",
    "box",
    "explanation",
    "boxes",
    "also",
    "ood_score",
    "anomaly_score",
    "unlisted_box",
)


@dataclass(frozen=True)
class Prediction:
    """What the model said about one photo (or why it could not say anything).

    ``peak`` is ``(x, y)`` and ``box`` ``[x0, y0, x1, y1]``, both normalised to 0..1 of the
    upright photo; ``boxes`` frames every strong region, strongest first. ``status`` is
    ``ok``, ``review`` (confidence below the policy's threshold), ``unknown`` (unlike the
    training photos, see ``ood_score``) or ``error``; :meth:`core.inference.decision.DecisionPolicy.apply`
    sets it. ``also`` lists other defect classes with strong evidence. ``heatmap`` is a
    low-resolution 0..1 map of the evidence for ``label`` (for the "no defect" class: of the
    strongest defect, scaled by how likely a defect is, so it stays faint when weak).
    ``description`` is the sentence about the photo; ``explanation`` adds what the status means.
    ``ref`` says where to read the photo again (see :mod:`core.photos.reader`); ``sha256`` identifies its bytes.
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
    description: str = ""
    boxes: list[list[float]] = field(default_factory=list)
    also: list[str] = field(default_factory=list)
    ood_score: float | None = None
    anomaly_score: float | None = None  # higher = more anomalous (models with an anomaly detector)
    unlisted_box: list[float] | None = None  # a possible defect not in the model's classes (core.inference.unlisted)
    heatmap: np.ndarray | None = field(default=None, repr=False, compare=False)
    thumbnail: np.ndarray | None = field(default=None, repr=False, compare=False)
    image_size: tuple[int, int] | None = None
    file_size: int | None = None
    sha256: str | None = None  # of the photo's bytes: the same photo is recognised wherever it is
    ref: SourceRef | None = None

    @classmethod
    def failed(cls, item: ImageItem, reason: str) -> Prediction:
        """Return an error result for ``item`` with a one-line ``reason``."""
        return cls(source=item.source, name=item.name, status=ERROR, error=reason, ref=item.ref)

    @property
    def ok(self) -> bool:
        """Return True unless the item could not be read or classified."""
        return self.status != ERROR

    @property
    def explanation(self) -> str:
        """Return the sentence shown and exported for this photo, worded for its status."""
        if self.status == ERROR:
            return f"Not classified: {self.error}"
        if self.status == UNKNOWN:
            return f"Unlike the photos this model was trained on: its answer is only a guess. {self.description}"
        if self.status == REVIEW and self.unlisted_box is not None:
            return f"{self.description} Please review."
        if self.status == REVIEW:
            return f"{self.description} Low confidence: please review."
        return self.description

    def to_dict(self) -> dict:
        """Return the JSON object of ``defectsort classify --json`` for this item."""
        data = {name: getattr(self, name) for name in JSON_FIELDS}
        data["peak"] = list(self.peak) if self.peak else None
        return data
