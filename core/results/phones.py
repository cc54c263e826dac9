"""One verdict per phone: photos grouped by phone, the worst photo decides.

A phone is photographed from several sides; the returns centre sells, cleans or scraps the
*phone*. :class:`PhoneGrouping` says which phone a photo shows (``--group-by REGEX``: the
first capture group of the photo's name, else of its whole source path; ``--group-by
folder``: the folder or ZIP folder holding it). :func:`phone_verdict` decides a phone: any
photo in Review, Unknown or Error puts the phone in Review (a person must look); otherwise
its worst label by the model's severity order (stored in ``model.json``, see
:func:`severity_order`) is the verdict, and the most confident photo of that label decided it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from core.inference.decision import normal_class_of
from core.inference.prediction import ERROR, OK, REVIEW, UNKNOWN, Prediction
from core.model.bundle import Bundle
from core.results.final import FinalDecision

FOLDER = "folder"
REVIEW_VERDICT = "review"
_DOUBT_ORDER = (ERROR, UNKNOWN, REVIEW)  # which doubtful photo is named first
_DOUBT_REASONS = {
    ERROR: "could not be classified",
    UNKNOWN: "is unlike the photos the model was trained on",
    REVIEW: "is below the review threshold",
}


class PhoneGrouping:
    """Which phone a photo shows.

    :param spec: ``folder``, or a regular expression whose first capture group (or whole match) is the phone id
    :raises ValueError: an invalid regular expression, said in one line
    """

    def __init__(self, spec: str):
        self.spec = spec
        self._pattern: re.Pattern[str] | None = None
        if spec != FOLDER:
            try:
                self._pattern = re.compile(spec)
            except re.error as error:
                raise ValueError(f"--group-by: not a valid regular expression ({error})") from None

    def phone_of(self, source: str, name: str) -> str | None:
        """Return the phone id of a photo, or None when the pattern finds none (the photo stands alone)."""
        if self._pattern is None:
            folder = source.replace("\\", "/").rpartition("/")[0]
            return folder or "."
        for text in (name, source):
            match = self._pattern.search(text)
            if match:
                return match.group(1) if match.re.groups else match.group(0)
        return None


def severity_order(bundle: Bundle) -> list[str]:
    """A bundle's classes from worst to least severe.

    ``severity.order`` of model.json when it has one; otherwise the defect classes in their order,
    then the "no defect" class (see :func:`core.inference.decision.normal_class_of`).

    :returns: every class once, worst first
    """
    classes, normal = bundle.classes, normal_class_of(bundle)
    order = [c for c in bundle.severity.get("order", []) if c in classes]
    rest = [c for c in classes if c not in order and c != normal]
    tail = [normal] if normal in classes and normal not in order else []
    return order + rest + tail


def parse_severity(text: str, classes: list[str]) -> list[str]:
    """Check a ``--severity a,b,c`` list (worst first) against the classes.

    :returns: the order
    :raises ValueError: unknown, repeated or missing classes, in one line
    """
    order = [name.strip() for name in text.split(",") if name.strip()]
    unknown = [name for name in order if name not in classes]
    missing = [name for name in classes if name not in order]
    if unknown or missing or len(set(order)) != len(order):
        raise ValueError(
            f"--severity must name every class once, worst first ({', '.join(classes)}); got {', '.join(order)}"
        )
    return order


@dataclass(frozen=True)
class PhotoOfPhone:
    """What the verdict needs from one photo: the label in force (the inspector's if given) and its status."""

    source: str
    name: str
    label: str | None
    confidence: float | None
    status: str


@dataclass
class PhoneVerdict:
    """The verdict on one phone: ``verdict`` is a class or ``review``; ``photos`` lists the deciding photo first."""

    phone: str
    verdict: str
    decided_by: PhotoOfPhone
    reason: str
    photos: list[PhotoOfPhone] = field(default_factory=list)

    def to_dict(self) -> dict:
        """Return the JSON object of the ``phones`` section."""
        return {
            "phone": self.phone,
            "verdict": self.verdict,
            "decided_by": self.decided_by.source,
            "confidence": self.decided_by.confidence,
            "reason": self.reason,
            "photos": [{"source": p.source, "label": p.label, "status": p.status} for p in self.photos],
        }


def phone_verdict(phone: str, photos: list[PhotoOfPhone], order: list[str]) -> PhoneVerdict:
    """Decide one phone from its photos (see the module's description).

    :param phone: the phone id
    :param photos: its photos (at least one)
    :param order: classes worst first (:func:`severity_order`)
    :returns: the verdict, its deciding photo first in ``photos``
    """
    doubtful = [p for p in photos if p.status != OK]
    if doubtful:
        decider = min(doubtful, key=lambda p: _DOUBT_ORDER.index(p.status) if p.status in _DOUBT_ORDER else 0)
        verdict, reason = REVIEW_VERDICT, f"{decider.name} {_DOUBT_REASONS.get(decider.status, 'is in doubt')}"
    else:
        rank = {label: position for position, label in enumerate(order)}
        decider = min(photos, key=lambda p: (rank.get(p.label or "", len(rank)), -(p.confidence or 0.0)))
        verdict = decider.label or REVIEW_VERDICT
        reason = f"worst photo: {decider.name}"
    rest = [p for p in photos if p is not decider]
    return PhoneVerdict(phone, verdict, decider, reason, [decider, *rest])


def group_photos(photos: list[PhotoOfPhone], grouping: PhoneGrouping) -> dict[str, list[PhotoOfPhone]]:
    """Return phone id -> its photos, in first-seen order (a photo without an id is a phone of its own)."""
    phones: dict[str, list[PhotoOfPhone]] = {}
    for photo in photos:
        phones.setdefault(grouping.phone_of(photo.source, photo.name) or photo.source, []).append(photo)
    return phones


def phone_verdicts(photos: list[PhotoOfPhone], grouping: PhoneGrouping, order: list[str]) -> list[PhoneVerdict]:
    """Return one verdict per phone, in the order the phones were first seen."""
    return [phone_verdict(phone, group, order) for phone, group in group_photos(photos, grouping).items()]


def photo_of(prediction: Prediction, final: FinalDecision) -> PhotoOfPhone:
    """Return a photo as a phone's verdict sees it: its final decision (see :mod:`core.results.final`); a photo
    still in doubt is named by the model's guess."""
    return PhotoOfPhone(
        prediction.source, prediction.name, final.label or prediction.label, prediction.confidence, final.status
    )


def photo_of_item(item: dict) -> PhotoOfPhone:
    """Return the photo as a verdict sees it, from an item of a results document."""
    label = item.get("final_label") or item.get("label")
    return PhotoOfPhone(item["source"], item["name"], label, item.get("confidence"), item["status"])
