"""Post-processing: from one photo's model outputs to a :class:`Prediction`.

The engine's last stage, kept apart so each decision is easy to test alone: the label
and calibrated confidence, the status (``unknown`` before ``review`` before ``ok``), the
other defects with strong evidence, the heatmap's peak and boxes, and the sentence.
"""

from __future__ import annotations

import numpy as np

from core import explain
from core.bundle import Bundle
from core.decode import DecodedImage
from core.prediction import OK, REVIEW, UNKNOWN, Prediction
from core.sources import ImageItem

DEFAULT_ALSO_PROBABILITY = 0.2  # another defect this likely is named too...
ALSO_MAP_RATIO = 0.5  # ...when its class map peaks at least half as high as the top class's
MAX_EXTRA_REGIONS = 2


def decide_labels(bundle: Bundle, probabilities: np.ndarray) -> np.ndarray:
    """Pick each photo's class, calling it good only when good is likely enough.

    A missed defect costs more than a false alarm. With ``thresholds.good_min`` (set at
    training from the cost ratio, 2:1 gives 2/3) a photo whose most likely class is good
    but whose good probability is below it goes to its most likely defect instead; that
    class's probability is then low, so the photo also lands in Review.

    :param probabilities: ``N x K`` calibrated probabilities
    :returns: ``N`` class indices
    """
    probabilities = np.atleast_2d(probabilities)
    labels = probabilities.argmax(axis=1)
    good, minimum = bundle.good_label, bundle.thresholds.get("good_min")
    if good is None or minimum is None or len(bundle.classes) < 2:
        return labels
    good_index = bundle.classes.index(good)
    defects = probabilities.copy()
    defects[:, good_index] = -1.0
    doubtful = (labels == good_index) & (probabilities[:, good_index] < minimum)
    return np.where(doubtful, defects.argmax(axis=1), labels)


def other_defects(bundle: Bundle, probabilities: np.ndarray, map_peaks: np.ndarray, top: int) -> list[str]:
    """:returns: defect classes besides ``top`` whose probability and map are both strong."""
    minimum = bundle.thresholds.get("also", DEFAULT_ALSO_PROBABILITY)
    also = []
    for index, label in enumerate(bundle.classes):
        if index == top or label == bundle.good_label:
            continue
        if probabilities[index] >= minimum and map_peaks[index] >= ALSO_MAP_RATIO * max(map_peaks[top], 1e-6):
            also.append(label)
    return also


def status_of(bundle: Bundle, confidence: float, ood_score: float | None) -> str:
    """:returns: ``unknown`` for photos unlike the training data, ``review`` below the threshold, else ``ok``."""
    if ood_score is not None and ood_score > bundle.novelty.get("threshold", float("inf")):
        return UNKNOWN
    if confidence < bundle.thresholds.get("review", 0.0):
        return REVIEW
    return OK


def interpret(bundle: Bundle, item: ImageItem, decoded: DecodedImage, file_size: int, probabilities: np.ndarray,
              heatmap: np.ndarray, map_peaks: np.ndarray, ood_score: float | None) -> Prediction:
    """Build the Prediction of one photo.

    :param probabilities: calibrated class probabilities
    :param heatmap: the top class's (refined) heatmap, any scale
    :param map_peaks: each class map's maximum (raw), for "also"
    :param ood_score: the unknown-photo score, or None when the bundle has no detector
    """
    index = int(decide_labels(bundle, probabilities)[0])
    label, confidence = bundle.classes[index], float(probabilities[index])
    heatmap = explain.normalise_map(heatmap)
    peak = explain.find_peak(heatmap)
    small = explain.shrink(heatmap)
    boxes = [region["box"] for region in explain.strong_regions(small)]
    also = other_defects(bundle, probabilities, map_peaks, index)
    status = status_of(bundle, confidence, ood_score)
    return Prediction(
        source=item.source, name=item.name, label=label, confidence=round(confidence, 6),
        probabilities={c: round(float(p), 6) for c, p in zip(bundle.classes, probabilities)}, status=status,
        peak=(round(peak[0], 4), round(peak[1], 4)), box=boxes[0] if boxes else None, boxes=boxes, also=also,
        ood_score=None if ood_score is None else round(float(ood_score), 5),
        explanation=_sentence(bundle, label, confidence, peak, boxes, also, status),
        heatmap=small, thumbnail=decoded.thumbnail, image_size=decoded.original_size, file_size=file_size, item=item)


def _sentence(bundle, label, confidence, peak, boxes, also, status) -> str:
    extra_places = [explain.describe_location((b[0] + b[2]) / 2, (b[1] + b[3]) / 2) for b in boxes[1:]]
    sentence = explain.explanation(label, confidence, peak, bundle.subject, also,
                                   extra_places[:MAX_EXTRA_REGIONS])
    if status == UNKNOWN:
        sentence = f"Unlike the photos this model was trained on; {sentence[0].lower()}{sentence[1:]}"
    elif status == REVIEW:
        sentence += " Low confidence: please review."
    return sentence
