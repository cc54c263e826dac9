"""The engine's last stage: put one photo's :class:`~core.inference.decision.Decision` into a :class:`Prediction`.

Nothing is decided here (that is :mod:`core.inference.postprocess`); this assembles the record,
rounds the numbers for the JSON contract and words the sentence.
"""

from __future__ import annotations

from typing import NamedTuple

from core.inference import explain
from core.inference.decision import Decision
from core.inference.prediction import Prediction
from core.photos.decode import DecodedImage
from core.photos.sources import ImageItem

MAX_EXTRA_REGIONS = 2  # further strong regions named in a sentence


class ReadPhoto(NamedTuple):
    """What reading and decoding one item gave: pixels, thumbnail and size, and facts about its bytes."""

    decoded: DecodedImage
    file_size: int
    sha256: str


def interpret(
    decision: Decision, item: ImageItem, photo: ReadPhoto, classes: tuple[str, ...], subject: str
) -> Prediction:
    """Build the Prediction of one photo.

    :param decision: what post-processing decided
    :param item: the item the photo came from
    :param photo: what was read (for the thumbnail, the original size, the file size and SHA-256)
    :param classes: the model's classes, in output order
    :param subject: what the photos show ("screen"), for the sentence
    """
    return Prediction(
        source=item.source,
        name=item.name,
        label=decision.label,
        confidence=decision.confidence,
        probabilities={c: round(float(p), 6) for c, p in zip(classes, decision.probabilities)},
        status=decision.status,
        peak=(round(decision.peak[0], 4), round(decision.peak[1], 4)),
        box=decision.boxes[0] if decision.boxes else None,
        boxes=decision.boxes,
        also=decision.also,
        ood_score=None if decision.ood_score is None else round(decision.ood_score, 5),
        anomaly_score=decision.anomaly_score,
        unlisted_box=decision.unlisted_box,
        description=describe(decision, subject),
        heatmap=decision.heatmap,
        thumbnail=photo.decoded.thumbnail,
        image_size=photo.decoded.original_size,
        file_size=photo.file_size,
        sha256=photo.sha256,
        ref=item.ref,
    )


def describe(decision: Decision, subject: str) -> str:
    """Return the sentence about one photo, e.g. ``"Scratch (87 %): the model looked mostly ..."``."""
    if decision.normal and decision.unlisted_box is not None:
        return explain.unlisted_sentence(decision.label, decision.peak, subject)
    if decision.normal:
        return explain.no_defect_sentence(decision.label, decision.peak, subject, decision.also)
    places = [explain.describe_location((b[0] + b[2]) / 2, (b[1] + b[3]) / 2) for b in decision.boxes[1:]]
    sentence = explain.explanation(decision.label, decision.peak, subject, decision.also, places[:MAX_EXTRA_REGIONS])
    if decision.unlisted_box is not None:
        box = decision.unlisted_box
        where = explain.describe_location((box[0] + box[2]) / 2, (box[1] + box[3]) / 2)
        sentence += f" A second, unusual region {where}: possibly a defect not in the model's classes."
    return sentence
