"""Defects not in the model's classes, from a classifier's anomaly head (:mod:`core.model.anomaly.head`).

When a photo's anomaly score passes the head's threshold, its strongest anomalous region is a
possible defect nobody named: a photo the classifier calls good then goes to Review and shows
the anomaly map and that region; a photo with a defect label keeps its label, and an anomalous
region none of its boxes covers is named as a second region.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from core.inference import explain
from core.inference.decision import Decision, DecisionPolicy


def with_unlisted(decision: Decision, anomaly_map: np.ndarray, score: float, policy: DecisionPolicy) -> Decision:
    """Add what the anomaly head found to a decided photo.

    :param decision: the classifier's decision
    :param anomaly_map: the photo's (refined) anomaly map, any scale
    :param score: its anomaly score (the raw map's maximum)
    :param policy: holds the head's threshold (``unlisted_above``) and the region thresholds
    :returns: the decision, with ``unlisted_box`` (and for a "no defect" label the anomaly map,
        its box and the Review status) when the score passes the threshold
    """
    if score <= policy.unlisted_above:
        return decision
    small = explain.shrink(explain.normalise_map(anomaly_map), policy.heatmap_cells)
    regions = explain.strong_regions(small, policy.region_threshold, policy.region_min_peak)
    if not regions:
        return decision
    if decision.normal:
        box = regions[0]["box"]
        status = policy.status(decision.confidence, decision.ood_score, unlisted=True)
        peak = explain.find_peak(small)
        return replace(decision, heatmap=small, strength=1.0, peak=peak, boxes=[box], unlisted_box=box, status=status)
    apart = [r["box"] for r in regions if not any(_overlap(r["box"], box) for box in decision.boxes)]
    return replace(decision, unlisted_box=apart[0]) if apart else decision


def _overlap(a: list[float], b: list[float]) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]
