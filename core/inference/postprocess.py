"""Post-processing: a batch's raw network outputs -> one :class:`Decision` per photo.

The one place where results are decided, each step a small function: calibrate the
logits, decide every label once (:class:`core.inference.decision.DecisionPolicy`), choose and
refine the heatmap, find its peak and boxes, name other defects, score novelty, set the
status. :mod:`core.inference.interpret` then only words the result.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from core.inference import explain
from core.inference.decision import Decision, DecisionPolicy
from core.inference.unlisted import with_unlisted
from core.model.network import NetworkOutputs
from core.model.novelty import NoveltyDetector
from core.model.refine import local_contrast, refined_heatmaps
from core.photos.decode import FULL


def postprocess(
    outputs: NetworkOutputs,
    policy: DecisionPolicy,
    novelty: NoveltyDetector | None,
    detail_window: int,
    contents: list[tuple[float, float, float, float]] | None = None,
) -> list[Decision]:
    """Decide every photo of a batch.

    :param outputs: the network's raw float32 outputs for ``N`` photos
    :param policy: the decision policy
    :param novelty: the unknown-photo detector, or None
    :param detail_window: neighbourhood size of the local contrast (from the bundle)
    :param contents: where each photo lies in its padded input (:func:`core.photos.decode.decode`'s ``content``):
        heatmaps, peaks and boxes are cut to it. None: every photo fills its input.
    :returns: ``N`` decisions, in batch order
    """
    contents = contents or [FULL] * len(outputs.logits)
    probabilities = policy.calibrate(outputs.logits).numpy()
    labels = policy.decide_labels(probabilities)
    evidence = policy.strongest_defects(probabilities) if policy.normal_index is not None else labels
    shown = np.where(labels == policy.normal_index, evidence, labels)
    contrast = None if outputs.detail is None else local_contrast(outputs.detail, detail_window)
    heatmaps = evidence_maps(outputs, torch.from_numpy(shown), contrast).numpy()
    map_peaks = outputs.maps.amax(dim=(2, 3)).numpy()
    ood_scores = novelty.scores(outputs.embedding) if novelty is not None else None
    anomaly = None if outputs.anomaly is None else outputs.anomaly.flatten(1).amax(dim=1).numpy()
    decisions = [
        decide_photo(
            policy,
            int(labels[row]),
            probabilities[row],
            explain.crop_to_content(heatmaps[row], contents[row]),
            map_peaks[row],
            None if ood_scores is None else float(ood_scores[row]),
            None if anomaly is None else float(f"{anomaly[row]:.6g}"),
        )
        for row in range(len(labels))
    ]
    if outputs.anomaly is not None and anomaly is not None and math.isfinite(policy.unlisted_above):
        add_unlisted(decisions, outputs.anomaly, anomaly, contrast, policy, contents)
    return decisions


def add_unlisted(
    decisions: list[Decision],
    maps: torch.Tensor,
    scores: np.ndarray,
    contrast: torch.Tensor | None,
    policy: DecisionPolicy,
    contents: list[tuple[float, float, float, float]],
) -> None:
    """Let the anomaly head name possible defects not in the classes (:mod:`core.inference.unlisted`), in place.

    Only photos past the head's threshold (few) get their map refined: the rest costs nothing more.

    :param maps: the head's raw ``N x h x w`` distance maps
    :param scores: their maxima
    :param contrast: the fine detail of the same pass (:func:`core.model.refine.local_contrast`), or None
    :param contents: where each photo lies in its input (see :func:`postprocess`)
    """
    flagged = [row for row in range(len(decisions)) if scores[row] > policy.unlisted_above]
    if not flagged:
        return
    past = (maps[flagged] - policy.unlisted_above).clamp_min(0.0)  # the rest of the photo is normal
    refined = (past if contrast is None else refined_heatmaps(past, contrast[flagged])).numpy()
    for position, row in enumerate(flagged):
        anomaly_map = explain.crop_to_content(refined[position], contents[row])
        decisions[row] = with_unlisted(decisions[row], anomaly_map, float(scores[row]), policy)


def evidence_maps(outputs: NetworkOutputs, classes: torch.Tensor, contrast: torch.Tensor | None) -> torch.Tensor:
    """Return ``N x H x W`` heatmaps of ``classes`` (one class per photo), refined with the fine
    detail of the same pass (``contrast``, :func:`core.model.refine.local_contrast`) when the network has it."""
    chosen = outputs.maps[torch.arange(len(outputs.maps)), classes]
    if contrast is None:
        return chosen
    return refined_heatmaps(chosen, contrast)


def decide_photo(
    policy: DecisionPolicy,
    index: int,
    probabilities: np.ndarray,
    heatmap: np.ndarray,
    map_peaks: np.ndarray,
    ood_score: float | None,
    anomaly_score: float | None = None,
) -> Decision:
    """Decide one photo whose label is already chosen.

    :param index: the decided class index
    :param probabilities: its calibrated probabilities
    :param heatmap: the raw (or refined) evidence map for the shown class, any scale
    :param map_peaks: each class map's maximum (raw), for "also"
    :param ood_score: its unknown-photo score, or None
    :param anomaly_score: its anomaly score, or None
    """
    confidence = round(float(probabilities[index]), 6)
    heatmap = explain.normalise_map(heatmap)
    peak = explain.find_peak(heatmap)
    small = explain.shrink(heatmap, policy.heatmap_cells)
    if index == policy.normal_index:
        strength = 1.0 - float(probabilities[index])
        small, boxes = small * np.float32(strength), []
    else:
        strength = 1.0
        regions = explain.strong_regions(small, policy.region_threshold, policy.region_min_peak)
        boxes = [region["box"] for region in regions]
    return Decision(
        index=index,
        label=policy.classes[index],
        confidence=confidence,
        probabilities=probabilities,
        status=policy.status(confidence, ood_score),
        heatmap=small,
        strength=strength,
        peak=peak,
        boxes=boxes,
        also=policy.other_defects(probabilities, map_peaks, index),
        ood_score=ood_score,
        normal=index == policy.normal_index,
        anomaly_score=anomaly_score,
    )
