"""The detail pane's words: what the model decided about a photo, said for an inspector."""

from __future__ import annotations

import math

from core.inference.decision import DecisionPolicy
from core.inference.percent import percent_text, threshold_text
from core.inference.prediction import REVIEW, UNKNOWN
from gui.gallery_model import Entry


def verdict_text(entry: Entry, policy: DecisionPolicy | None) -> str:
    """Return one line on what the photo is and how sure the model is, with the numbers that
    decide (e.g. ``"Oil, 98.46 % sure: below the review threshold of 98.6 %"``)."""
    prediction = entry.prediction
    if not prediction.ok:
        return "Not classified"
    label = (prediction.label or "").capitalize()
    threshold = policy.review_below if policy is not None else None
    sure = percent_text(prediction.confidence or 0.0, threshold)
    if entry.corrected:
        return f"{entry.label.capitalize()}, set by the inspector (the model said {label}, {sure} sure)"
    if entry.decided:
        return f"{label}, confirmed by the inspector (the model was {sure} sure)"
    if prediction.status == UNKNOWN:
        return f"Unknown: the model's guess would be {label} ({sure}), not to be trusted"
    if policy is not None and policy.decided_by_miss_cost(prediction.probabilities, prediction.label):
        return _possible_defect_text(prediction.probabilities, label, policy)
    if prediction.status == REVIEW and prediction.unlisted_box is not None:
        return f"{label}?  {sure} sure, but part of the photo is unusual: possibly a defect not in the model's classes"
    if prediction.status == REVIEW and threshold is not None:
        return f"{label}?  {sure} sure: below the review threshold of {threshold_text(threshold)}"
    if threshold:
        return f"{label}, {sure} sure (Review below {threshold_text(threshold)})"
    return f"{label}, {sure} sure"


def _possible_defect_text(probabilities: dict[str, float], kind: str, policy: DecisionPolicy) -> str:
    """Return why a photo the model thinks is most likely good is not called good (the miss-cost rule), e.g.
    ``"Possible defect, most likely Stain: 33.8 % likely a defect; Good needs 66.7 % and has 66.2 %"``."""
    normal = str(policy.normal_class)
    good = probabilities[normal]
    needed = percent_text(float(policy.good_min or 0.0), None)
    return (
        f"Possible defect, most likely {kind}: {percent_text(1.0 - good, None)} likely a defect; "
        f"not called {normal.capitalize()}, which needs {needed} and has {percent_text(good, None)}"
    )


def unusualness_text(score: float, unknown_above: float) -> str:
    """Return how unlike the training photos a photo is, in words, with the score that decides
    (e.g. ``"Unusualness 0.097: typical of the photos the model was trained on (Unknown from 0.27)"``)."""
    if not math.isfinite(unknown_above) or unknown_above <= 0:
        return f"Unusualness {score:.3f} (this model has no limit for unknown photos)"
    ratio = score / unknown_above
    if ratio >= 1:
        meaning = "unlike the photos the model was trained on"
    elif ratio >= 0.7:
        meaning = "close to the limit: some of this photo is unusual"
    else:
        meaning = "typical of the photos the model was trained on"
    return f"Unusualness {score:.3f}: {meaning} (Unknown from {unknown_above:.3g})"


def anomaly_text(score: float, threshold: float | None) -> str:
    """Return the anomaly score in words, e.g. ``"Anomaly score 21.4: unlike the good photos (limit 17.8)"``."""
    if threshold is None:
        return f"Anomaly score {score:.3g}"
    meaning = "unlike the good photos" if score > threshold else "like the good photos"
    return f"Anomaly score {score:.3g}: {meaning} (limit {threshold:.3g})"
