"""Evaluate a bundle on class folders through the same engine the users run."""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np

from core.inference.decision import normal_class_of
from core.inference.engine import Engine
from core.inference.runtime import USERS_BACKEND
from core.model.bundle import Bundle
from core.photos.sources import iter_items
from core.results.report.run_stats import profile_of
from core.training import calibration
from core.training.dataset import scan_dataset
from core.training.metrics import classification_metrics, defect_recall
from core.training.trust_metrics import (
    anomaly_report,
    generated_non_photos,
    localisation_scores,
    novelty_report,
    review_summary,
)

ANOMALOUS = "anomalous"  # the defect class of an anomaly bundle (core.training.anomaly.pipeline)


def evaluate_bundle(
    bundle: Bundle,
    data_dir,
    masks_dir=None,
    only_validation: bool = False,
    batch_size: int | None = None,
    progress=None,
    foreign_dir=None,
    backend: str = "torch",
    onnx_file=None,
    precision: str = "auto",
) -> dict:
    """Classify every photo under ``data_dir``'s class folders and measure the results.

    :param bundle: the model
    :param data_dir: one folder per class, named like the bundle's classes
    :param masks_dir: defect masks (``<stem>.png``): adds heatmap pointing and box IoU
    :param only_validation: keep only the photos of the bundle's own validation split
    :param batch_size: photos per forward pass
    :param progress: ``progress(done, total)`` callback
    :param foreign_dir: photos of other products: adds the unknown-photo report
    :param backend: the inference backend (``torch``, the reference, ``onnxruntime`` or ``openvino``)
    :param onnx_file: for ONNX Runtime or OpenVINO, an exported file (e.g. int8) instead of the cached export
    :param precision: the arithmetic (:func:`core.inference.runtime.resolve_precision`)
    :returns: metrics with ``accuracy``, ``macro_f1``, ``per_class``, ``confusion``, ``classes``,
        ``calibration``, ``review``, ``runtime`` (what ran the model) and, when asked, ``localisation`` and
        ``novelty``
    :raises ValueError: a class folder the bundle does not know
    """
    samples, true_names = labelled_samples(bundle, data_dir, masks_dir, only_validation)
    engine = Engine(bundle, batch_size=batch_size, backend=backend, onnx_file=onnx_file, precision=precision)
    predictions = list(engine.classify(iter_items([s.path for s in samples]), progress=progress))
    metrics = measure(bundle, samples, true_names, predictions, with_masks=masks_dir is not None)
    metrics["runtime"] = engine.runtime
    if foreign_dir:
        foreign = list(engine.classify(iter_items([foreign_dir])))
        with tempfile.TemporaryDirectory(prefix="defectsort-generated-") as folder:
            frames = generated_non_photos([s.path for s in samples[:: max(1, len(samples) // 8)]], Path(folder))
            generated = list(engine.classify(iter_items(frames)))
        metrics["novelty"] = novelty_report(predictions, foreign, generated)
    return metrics


def labelled_samples(bundle: Bundle, data_dir, masks_dir=None, only_validation: bool = False):
    """The photos of ``data_dir``'s class folders with their true class names.

    :returns: ``(samples, true class names)``
    :raises ValueError: a class folder the bundle does not know
    """
    folder_classes, samples = scan_dataset(data_dir, masks_dir)
    if bundle.anomaly:  # every folder but the normal one holds defects, named or not
        folder_classes = [name if name == bundle.normal_class else ANOMALOUS for name in folder_classes]
    unknown = sorted(set(folder_classes) - set(bundle.classes))
    if unknown:
        raise ValueError(f"class folders unknown to model '{bundle.name}': {', '.join(unknown)}")
    if only_validation:
        keep = set(bundle.training.get("split", {}).get("validation", []))
        samples = [s for s in samples if s.path.name in keep]
    return samples, [folder_classes[s.label] for s in samples]


def measure(bundle: Bundle, samples, true_names: list[str], predictions, with_masks: bool = False) -> dict:
    """Every metric of :func:`evaluate_bundle` (but the unknown-photo report) from its predictions."""
    true = np.array([bundle.classes.index(name) for name in true_names], dtype=int)
    metrics = _classification(bundle, predictions, true)
    metrics["review"] = review_summary(predictions, true_names)
    detector, normal = bundle.anomaly or bundle.anomaly_head, normal_class_of(bundle)
    if detector and normal is not None:
        metrics["anomaly"] = anomaly_report(predictions, true_names, detector["threshold"], normal)
    if with_masks:
        metrics["localisation"] = localisation_scores(samples, predictions, true_names)
    metrics["profile"] = profile_of(p.to_dict() for p in predictions)
    metrics["errors"] = [
        {"source": p.source, "true": bundle.classes[t], "predicted": p.label, "confidence": p.confidence}
        for p, t in zip(predictions, true)
        if p.label != bundle.classes[t]
    ]
    return metrics


def validation_baseline(bundle: Bundle, photos: list[Path]) -> dict:
    """The drift baseline of a bundle: the profile of its validation photos through the engine users run.

    :param bundle: a saved bundle
    :param photos: its validation photos
    :returns: the profile (:func:`core.results.report.run_stats.profile_of`) with where it came from and the
        runtime that measured it
    """
    engine = Engine(bundle, backend=USERS_BACKEND)
    profile = profile_of(p.to_dict() for p in engine.classify(iter_items(photos)))
    return {**profile, "measured_on": f"{len(photos)} validation photos", "runtime": engine.runtime}


def _classification(bundle: Bundle, predictions, true: np.ndarray) -> dict:
    readable = np.array([p.ok for p in predictions], dtype=bool)
    predicted = np.array([bundle.classes.index(p.label) if p.ok else -1 for p in predictions], dtype=int)
    metrics = classification_metrics(true[readable], predicted[readable], bundle.classes)
    metrics["defect_recall"] = defect_recall(
        true[readable], predicted[readable], bundle.classes, normal_class_of(bundle)
    )
    metrics["unreadable"] = int((~readable).sum())
    probabilities = np.array([[p.probabilities[c] for c in bundle.classes] for p in predictions if p.ok])
    if len(probabilities):
        metrics["calibration"] = {
            "ece": round(calibration.expected_calibration_error(probabilities, true[readable]), 4),
            "bins": calibration.reliability(probabilities, true[readable]),
        }
    return metrics
