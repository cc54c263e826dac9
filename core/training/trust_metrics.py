"""How far to trust a model: review share, localisation, and unknown-photo detection."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageFilter

from core.inference.explain import strong_regions
from core.inference.prediction import REVIEW, UNKNOWN
from core.model.novelty import auroc


def review_summary(predictions, true_labels: list[str]) -> dict:
    """Return the share sent to Review and the accuracy of the photos that were not."""
    kept = [(p, t) for p, t in zip(predictions, true_labels) if p.ok and p.status != REVIEW]
    readable = [p for p in predictions if p.ok]
    share = 1 - len(kept) / len(readable) if readable else 0.0
    accuracy = float(np.mean([p.label == t for p, t in kept])) if kept else None
    return {"review_share": round(share, 4), "accuracy_not_reviewed": None if accuracy is None else round(accuracy, 4)}


def anomaly_report(predictions, true_labels: list[str], threshold: float, normal: str = "good") -> dict:
    """How an anomaly model (or a classifier's anomaly head) separates good photos from defective ones.

    :param true_labels: each photo's true class (any but ``normal`` counts as defective)
    :param threshold: the model's (or head's) score threshold
    :param normal: the "no defect" class
    :returns: image AUROC of ``anomaly_score``, the false-alarm rate on good photos and the share of
        defective photos found, both at the threshold
    """
    scored = [(p.anomaly_score, t) for p, t in zip(predictions, true_labels) if p.ok and p.anomaly_score is not None]
    good = np.array([s for s, t in scored if t == normal])
    defective = np.array([s for s, t in scored if t != normal])
    return {
        "auroc": round(auroc(good, defective), 4) if len(good) and len(defective) else None,  # e.g. no head's scores
        "false_alarm_rate": round(float((good > threshold).mean()), 4) if len(good) else None,
        "defects_found": round(float((defective > threshold).mean()), 4) if len(defective) else None,
        "good_photos": len(good),
        "defective_photos": len(defective),
    }


def localisation_scores(samples, predictions, true_labels: list[str]) -> dict:
    """Heatmap pointing and box overlap against defect masks.

    Pointing: the heatmap peak falls inside the mask. Box IoU: for each separate defect in
    the mask (a photo may hold several specks), the best overlap of its bounding box with a
    predicted box, averaged over the defects.

    :returns: ``{"pointing": {...}, "box_iou": {...}, "count": n}`` over photos with a mask
    """
    hits: dict[str, list[bool]] = {}
    overlaps: dict[str, list[float]] = {}
    for sample, prediction, label in zip(samples, predictions, true_labels):
        if sample.mask_path is None or not prediction.ok or prediction.peak is None:
            continue
        mask = np.asarray(Image.open(sample.mask_path).convert("L")) > 0
        if not mask.any():
            continue
        hits.setdefault(label, []).append(peak_inside(mask, prediction.peak))
        overlaps.setdefault(label, []).append(_best_iou(mask, prediction.boxes or [prediction.box]))
    return {"pointing": _summarise(hits), "box_iou": _summarise(overlaps), "count": sum(len(v) for v in hits.values())}


def peak_inside(mask: np.ndarray, peak) -> bool:
    row = min(int(peak[1] * mask.shape[0]), mask.shape[0] - 1)
    column = min(int(peak[0] * mask.shape[1]), mask.shape[1] - 1)
    return bool(mask[row, column])


def _best_iou(mask: np.ndarray, boxes) -> float:
    """Mean over the mask's defects of the best IoU between the defect's bounding box and a predicted box."""
    truths = defect_boxes(mask)
    return float(np.mean([max((_iou(truth, box) for box in boxes if box), default=0.0) for truth in truths]))


def defect_boxes(mask: np.ndarray, cell: int = 8) -> list[tuple[float, float, float, float]]:
    """Exact bounding boxes (normalised) of the mask's separate defects.

    Defects are separated on an 8x max-pooled grid (fast), then each box is fitted to the
    full-resolution pixels inside its cells.
    """
    height, width = mask.shape
    rows, cols = -(-height // cell), -(-width // cell)
    padded = np.zeros((rows * cell, cols * cell), dtype=bool)
    padded[:height, :width] = mask
    grid = padded.reshape(rows, cell, cols, cell).max(axis=(1, 3)).astype(np.float32)
    boxes = []
    for region in strong_regions(grid, threshold=0.5):
        x0, y0, x1, y1 = region["box"]
        top, left = round(y0 * rows) * cell, round(x0 * cols) * cell
        ys, xs = np.nonzero(padded[top : round(y1 * rows) * cell, left : round(x1 * cols) * cell])
        boxes.append(
            (
                (left + xs.min()) / width,
                (top + ys.min()) / height,
                (left + xs.max() + 1) / width,
                (top + ys.max() + 1) / height,
            )
        )
    return boxes


def _iou(a, b) -> float:
    width = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    height = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = width * height
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def _summarise(values: dict[str, list]) -> dict:
    every = [v for per_class in values.values() for v in per_class]
    return {
        "overall": round(float(np.mean(every)), 4) if every else None,
        "per_class": {label: round(float(np.mean(v)), 4) for label, v in sorted(values.items())},
    }


def novelty_report(inside, foreign, generated) -> dict:
    """Separation of unknown-photo scores: AUROC and flagged shares.

    :param inside: predictions on photos like the training data
    :param foreign: predictions on photos of other products
    :param generated: predictions on generated non-photos and blurred frames
    """

    def scores(predictions):
        return np.array([p.ood_score for p in predictions if p.ok and p.ood_score is not None])

    def flagged(predictions):
        usable = [p for p in predictions if p.ok]
        return round(sum(p.status == UNKNOWN for p in usable) / len(usable), 4) if usable else None

    report = {"flagged": {"inside": flagged(inside), "foreign": flagged(foreign), "generated": flagged(generated)}}
    report["auroc"] = {
        "foreign": round(auroc(scores(inside), scores(foreign)), 4),
        "generated": round(auroc(scores(inside), scores(generated)), 4),
    }
    return report


def generated_non_photos(real_photos: list[Path], folder: Path, seed: int = 0) -> list[Path]:
    """Write blank, noise, gradient and checkerboard frames, plus heavily blurred real photos, as PNGs.

    :param real_photos: photos of the model's own kind, to blur
    :param folder: where to write them
    :returns: the files written
    """
    rng = np.random.default_rng(seed)
    frames = {
        "black": np.zeros((540, 960, 3), np.uint8),
        "white": np.full((540, 960, 3), 255, np.uint8),
        "grey": np.full((540, 960, 3), 128, np.uint8),
        "noise": rng.integers(0, 256, (540, 960, 3), dtype=np.uint8),
        "gradient": np.broadcast_to(np.linspace(0, 255, 960, dtype=np.uint8)[None, :, None], (540, 960, 3)).copy(),
        "checkerboard": (((np.indices((540, 960)).sum(axis=0) // 60) % 2) * 255)
        .astype(np.uint8)[..., None]
        .repeat(3, axis=2),
    }
    images = {name: Image.fromarray(pixels) for name, pixels in frames.items()}
    for number, path in enumerate(real_photos):
        with Image.open(path) as photo:
            images[f"blurred-{number}"] = photo.convert("RGB").filter(ImageFilter.GaussianBlur(25))
    paths = []
    for name, image in images.items():
        paths.append(Path(folder, f"{name}.png"))
        image.save(paths[-1], format="PNG")
    return paths
