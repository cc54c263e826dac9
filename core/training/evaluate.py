"""Evaluate a bundle on class folders through the same engine the users run."""

from __future__ import annotations

import numpy as np
from PIL import Image

from core.bundle import Bundle
from core.engine import Engine
from core.sources import collect_items
from core.training import calibration
from core.training.dataset import Sample, scan_dataset
from core.training.metrics import classification_metrics, defect_recall


def evaluate_bundle(bundle: Bundle, data_dir, masks_dir=None, only_validation: bool = False,
                    batch_size: int = 8, progress=None) -> dict:
    """Classify every photo under ``data_dir``'s class folders and measure the results.

    :param bundle: the model
    :param data_dir: one folder per class, named like the bundle's classes
    :param masks_dir: defect masks (``<stem>.png``) for the heatmap pointing score, or None
    :param only_validation: keep only the photos of the bundle's own validation split
    :param batch_size: photos per forward pass
    :param progress: ``progress(done, total)`` callback
    :returns: metrics with ``accuracy``, ``macro_f1``, ``per_class``, ``confusion``, ``classes``,
        ``calibration`` and, with masks, ``pointing``
    :raises ValueError: a class folder the bundle does not know
    """
    folder_classes, samples = scan_dataset(data_dir, masks_dir)
    unknown = sorted(set(folder_classes) - set(bundle.classes))
    if unknown:
        raise ValueError(f"class folders unknown to model '{bundle.name}': {', '.join(unknown)}")
    if only_validation:
        keep = set(bundle.training.get("split", {}).get("validation", []))
        samples = [s for s in samples if s.path.name in keep]
    true = np.array([bundle.classes.index(folder_classes[s.label]) for s in samples], dtype=int)
    items = collect_items([s.path for s in samples])
    predictions = list(Engine(bundle, batch_size=batch_size).classify(items, progress=progress))
    readable = np.array([p.ok for p in predictions], dtype=bool)
    predicted = np.array([bundle.classes.index(p.label) if p.ok else -1 for p in predictions], dtype=int)
    metrics = classification_metrics(true[readable], predicted[readable], bundle.classes)
    metrics["defect_recall"] = defect_recall(true[readable], predicted[readable], bundle.classes)
    metrics["unreadable"] = int((~readable).sum())
    probabilities = np.array([[p.probabilities[c] for c in bundle.classes] for p in predictions if p.ok])
    if len(probabilities):
        metrics["calibration"] = {
            "ece": round(calibration.expected_calibration_error(probabilities, true[readable]), 4),
            "bins": calibration.reliability(probabilities, true[readable])}
    if masks_dir:
        metrics["pointing"] = pointing_scores(samples, predictions, [bundle.classes[t] for t in true])
    metrics["errors"] = [{"source": p.source, "true": bundle.classes[t], "predicted": p.label,
                          "confidence": p.confidence} for p, t in zip(predictions, true) if p.label != bundle.classes[t]]
    return metrics


def pointing_scores(samples: list[Sample], predictions, true_labels: list[str]) -> dict:
    """How often the heatmap peak falls inside the defect mask, overall and per class.

    :returns: ``{"overall": share, "per_class": {class: share}, "count": n}`` over photos with a mask
    """
    hits: dict[str, list[bool]] = {}
    for sample, prediction, label in zip(samples, predictions, true_labels):
        if sample.mask_path is None or not prediction.ok or prediction.peak is None:
            continue
        mask = np.asarray(Image.open(sample.mask_path).convert("L"))
        x, y = prediction.peak
        row = min(int(y * mask.shape[0]), mask.shape[0] - 1)
        column = min(int(x * mask.shape[1]), mask.shape[1] - 1)
        hits.setdefault(label, []).append(bool(mask[row, column] > 0))
    every = [h for values in hits.values() for h in values]
    return {"overall": round(float(np.mean(every)), 4) if every else None, "count": len(every),
            "per_class": {label: round(float(np.mean(v)), 4) for label, v in sorted(hits.items())}}
