"""Classification metrics from true and predicted labels (numpy only)."""

from __future__ import annotations

import numpy as np


def confusion_matrix(true: np.ndarray, predicted: np.ndarray, num_classes: int) -> np.ndarray:
    """Return ``K x K`` counts, rows = true class, columns = predicted class."""
    matrix = np.zeros((num_classes, num_classes), dtype=int)
    np.add.at(matrix, (true, predicted), 1)
    return matrix


def classification_metrics(true, predicted, classes: list[str]) -> dict:
    """Accuracy, macro-F1, per-class precision/recall/F1/support and the confusion matrix.

    :param true: true class indices
    :param predicted: predicted class indices
    :param classes: class names
    :returns: ``{"accuracy", "macro_f1", "per_class", "confusion", "classes"}``
    """
    true, predicted = np.asarray(true, dtype=int), np.asarray(predicted, dtype=int)
    matrix = confusion_matrix(true, predicted, len(classes))
    per_class = {}
    for index, name in enumerate(classes):
        hits = matrix[index, index]
        precision = hits / matrix[:, index].sum() if matrix[:, index].sum() else 0.0
        recall = hits / matrix[index].sum() if matrix[index].sum() else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        per_class[name] = {
            "precision": round(float(precision), 4),
            "recall": round(float(recall), 4),
            "f1": round(float(f1), 4),
            "support": int(matrix[index].sum()),
        }
    present = [m["f1"] for m in per_class.values() if m["support"]]
    return {
        "accuracy": round(float((true == predicted).mean()), 4) if len(true) else 0.0,
        "macro_f1": round(float(np.mean(present)), 4) if present else 0.0,
        "per_class": per_class,
        "confusion": matrix.tolist(),
        "classes": list(classes),
    }


def defect_recall(true, predicted, classes: list[str], good: str | None) -> float | None:
    """Return the share of defect photos (any class but the "no defect" class ``good``) not called
    ``good``, or None without such a class."""
    if good is None or good not in classes:
        return None
    good_index = classes.index(good)
    true, predicted = np.asarray(true), np.asarray(predicted)
    defects = true != good_index
    return round(float((predicted[defects] != good_index).mean()), 4) if defects.any() else None
