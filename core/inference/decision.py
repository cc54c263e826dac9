"""The decision policy: every number that turns model outputs into what the user sees.

One frozen object, built from ``model.json``, holds the calibration temperature, the
cost rule for the "no defect" class, the Review and Unknown thresholds, the "also"
rule, the region thresholds of the boxes, the heatmap's cell budget and the resize
method. The engine decides with it; the window, the command line and every export
use the same object, so a photo shown under Review is exported as ``review``. A user
override (the window's review threshold) makes a new policy with
:meth:`DecisionPolicy.with_review_threshold`; nothing is decided anywhere else.

Bundles written before a number was stored get today's value (``DEFAULTS``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np
import torch

from core.inference.prediction import ERROR, OK, REVIEW, UNKNOWN, Prediction
from core.model.bundle import DEFAULT_HEATMAP_CELLS, Bundle, runtime_entry
from core.photos.decode import FITS

# Tuned on the phone model's validation photos; stored in model.json by training.
DEFAULTS: dict[str, float] = {
    "also": 0.2,  # another defect this likely is named too...
    "also_map_ratio": 0.5,  # ...when its class map peaks at least half as high as the top class's
    # A strong region: connected cells above 35 % of the heatmap's maximum whose own peak reaches 50 %
    # of it. The boxes then overlap the phone defects best (IoU 0.42-0.49 per class, against
    # 0.10-0.41 with a flat 50 % threshold).
    "region": 0.35,
    "region_min_peak": 0.5,
}
RESIZE_METHODS = ("bilinear", "bicubic", "lanczos", "nearest")
LEGACY_NORMAL_CLASS = "good"  # bundles without ``normal_class`` meant this class, when they had it


@dataclass(frozen=True)
class DecisionPolicy:
    """How raw network outputs become labels, statuses, heatmaps and boxes.

    :param classes: the model's classes, in output order
    :param normal_class: the class meaning "no defect", or None
    :param temperature: logits are divided by it before the softmax (calibration)
    :param good_min: a photo is called ``normal_class`` only at this probability or more
    :param review_below: confidence under which a photo goes to Review
    :param unknown_above: unknown-photo score over which a photo is Unknown
    :param unlisted_above: anomaly-head score over which a photo may hold a defect not in the classes
    :param also_probability: another defect this likely is named too...
    :param also_map_ratio: ...when its class map peaks this high relative to the top class's
    :param region_threshold: box cells reach this fraction of the heatmap's maximum...
    :param region_min_peak: ...and a box's own peak reaches this fraction
    :param heatmap_cells: largest number of cells kept of a heatmap
    :param resize: how photos are resized to the model input (Pillow filter name)
    :param fit: ``stretch`` or ``pad`` (keep the aspect ratio): see :mod:`core.photos.decode`
    """

    classes: tuple[str, ...]
    normal_class: str | None = None
    temperature: float = 1.0
    good_min: float | None = None
    review_below: float = 0.0
    unknown_above: float = math.inf
    unlisted_above: float = math.inf
    also_probability: float = DEFAULTS["also"]
    also_map_ratio: float = DEFAULTS["also_map_ratio"]
    region_threshold: float = DEFAULTS["region"]
    region_min_peak: float = DEFAULTS["region_min_peak"]
    heatmap_cells: int = DEFAULT_HEATMAP_CELLS
    resize: str = "bilinear"
    fit: str = "stretch"

    def __post_init__(self) -> None:
        if self.normal_class is not None and self.normal_class not in self.classes:
            raise ValueError(f"normal class '{self.normal_class}' is not one of {', '.join(self.classes)}")
        if self.resize not in RESIZE_METHODS:
            raise ValueError(f"unknown resize method '{self.resize}' (choose from {', '.join(RESIZE_METHODS)})")
        if self.fit not in FITS:
            raise ValueError(f"unknown fit '{self.fit}' (choose from {', '.join(FITS)})")

    @classmethod
    def from_bundle(cls, bundle: Bundle, runtime: str | None = None) -> DecisionPolicy:
        """Return the policy stored in a bundle's model.json (today's defaults where absent).

        :param runtime: the runtime that computes the outputs (``openvino bf16``): its own unknown-photo and
            anomaly-head thresholds when the bundle has them (:func:`core.model.bundle.runtime_entry`)
        """
        thresholds = {**DEFAULTS, **bundle.thresholds}
        good_min = thresholds.get("good_min")
        return cls(
            classes=tuple(bundle.classes),
            normal_class=normal_class_of(bundle),
            temperature=float(bundle.temperature),
            good_min=None if good_min is None else float(good_min),
            review_below=float(thresholds.get("review", 0.0)),
            unknown_above=float(runtime_entry(bundle.novelty, runtime).get("threshold", math.inf)),
            unlisted_above=float(runtime_entry(bundle.anomaly_head, runtime).get("threshold", math.inf)),
            also_probability=float(thresholds["also"]),
            also_map_ratio=float(thresholds["also_map_ratio"]),
            region_threshold=float(thresholds["region"]),
            region_min_peak=float(thresholds["region_min_peak"]),
            heatmap_cells=int(bundle.heatmap_cells),
            resize=bundle.resize,
            fit=bundle.fit,
        )

    def with_review_threshold(self, review_below: float) -> DecisionPolicy:
        """Return the same policy with another Review threshold (the user's override)."""
        return replace(self, review_below=float(review_below))

    @property
    def normal_index(self) -> int | None:
        """Return the output index of the "no defect" class, or None."""
        return None if self.normal_class is None else self.classes.index(self.normal_class)

    def calibrate(self, logits: torch.Tensor) -> torch.Tensor:
        """Return ``N x K`` calibrated probabilities from ``N x K`` logits."""
        return torch.softmax(logits.float() / self.temperature, dim=1)

    def decide_labels(self, probabilities: np.ndarray) -> np.ndarray:
        """Pick each photo's class, calling it normal only when that is likely enough.

        A missed defect costs more than a false alarm. With ``good_min`` (set at training
        from the cost ratio, 2:1 gives 2/3) a photo whose most likely class is the normal
        one but whose probability is below it goes to its most likely defect instead; that
        class's probability is then low, so the photo also lands in Review.

        :param probabilities: ``N x K`` calibrated probabilities
        :returns: ``N`` class indices
        """
        probabilities = np.atleast_2d(probabilities)
        labels: np.ndarray = probabilities.argmax(axis=1)
        normal = self.normal_index
        if normal is None or self.good_min is None or len(self.classes) < 2:
            return labels
        doubtful = (labels == normal) & (probabilities[:, normal] < self.good_min)
        decided: np.ndarray = np.where(doubtful, self.strongest_defects(probabilities), labels)
        return decided

    def decided_by_miss_cost(self, probabilities: dict[str, float], label: str | None) -> bool:
        """Return whether the miss-cost rule chose ``label``: the "no defect" class was the most likely, but
        not likely enough (below ``good_min``), so the photo went to its most likely defect."""
        normal = self.normal_class
        if normal is None or self.good_min is None or label in (None, normal) or normal not in probabilities:
            return False
        return max(probabilities, key=probabilities.__getitem__) == normal and probabilities[normal] < self.good_min

    def strongest_defects(self, probabilities: np.ndarray) -> np.ndarray:
        """Return ``N`` indices of each photo's most likely class other than the normal one."""
        defects = np.atleast_2d(probabilities).copy()
        if self.normal_index is not None and len(self.classes) > 1:
            defects[:, self.normal_index] = -1.0
        strongest: np.ndarray = defects.argmax(axis=1)
        return strongest

    def other_defects(self, probabilities: np.ndarray, map_peaks: np.ndarray, top: int) -> list[str]:
        """Return defect classes besides ``top`` whose probability and map are both strong."""
        also = []
        for index, label in enumerate(self.classes):
            if index == top or label == self.normal_class:
                continue
            if probabilities[index] >= self.also_probability and map_peaks[index] >= self.also_map_ratio * max(
                map_peaks[top], 1e-6
            ):
                also.append(label)
        return also

    def status(self, confidence: float, ood_score: float | None, unlisted: bool = False) -> str:
        """Return ``unknown`` for photos unlike the training data, ``review`` below the threshold or for a
        "no defect" photo with a possible defect not in the classes (``unlisted``), else ``ok``."""
        if ood_score is not None and ood_score > self.unknown_above:
            return UNKNOWN
        if unlisted or confidence < self.review_below:
            return REVIEW
        return OK

    def apply(self, prediction: Prediction) -> Prediction:
        """Return ``prediction`` with the status this policy gives it (errors stay errors)."""
        if prediction.status == ERROR or prediction.confidence is None:
            return prediction
        unlisted = prediction.unlisted_box is not None and prediction.label == self.normal_class
        status = self.status(prediction.confidence, prediction.ood_score, unlisted)
        return prediction if status == prediction.status else replace(prediction, status=status)


def normal_class_of(bundle: Bundle) -> str | None:
    """Return the bundle's "no defect" class: ``normal_class`` from model.json; for bundles
    written before that field existed, ``good`` when it is one of the classes."""
    if bundle.normal_class is not None:
        return bundle.normal_class
    return LEGACY_NORMAL_CLASS if LEGACY_NORMAL_CLASS in bundle.classes else None


@dataclass(frozen=True)
class Decision:
    """Everything decided about one photo, before it is put into words.

    :param index: the class index of ``label``
    :param probabilities: calibrated probabilities, one per class
    :param heatmap: the small 0..1 evidence map for ``label`` (see :func:`evidence_maps`)
    :param strength: the heatmap's maximum: 1 for a defect label, the probability of any defect
        for the "no defect" class (its heatmap then stays faint when the evidence is weak)
    :param peak: ``(x, y)`` of the heatmap's maximum, normalised to 0..1
    :param boxes: strong regions ``[x0, y0, x1, y1]``, strongest first (none for the "no defect" class)
    :param normal: True when ``label`` is the "no defect" class
    :param anomaly_score: the photo's anomaly score (higher = more anomalous) when the model has one
    """

    index: int
    label: str
    confidence: float
    probabilities: np.ndarray
    status: str
    heatmap: np.ndarray
    strength: float
    peak: tuple[float, float]
    boxes: list[list[float]]
    also: list[str]
    ood_score: float | None
    normal: bool = False
    anomaly_score: float | None = None
    unlisted_box: list[float] | None = None  # a possible defect not in the classes (core.inference.unlisted)
