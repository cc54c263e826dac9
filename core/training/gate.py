"""The promotion gate: a retrained model replaces the current one only when it is measurably better.

Both models classify the same photos through the same engine: the *frozen holdout* (the
parent's own validation photos and any ``--holdout`` photos, which neither model trained
on) and the *held-back corrections* (a share of the inspectors' corrections kept out of
training). The rule, stored in the candidate's ``model.json``:

* defect recall on the frozen holdout not lower than the parent's,
* macro-F1 on the frozen holdout not lower by more than 0.5 points,
* more held-back corrections right than the parent gets right.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from core.files import write_text_atomic
from core.inference.decision import normal_class_of
from core.inference.engine import Engine
from core.inference.prediction import Prediction
from core.model.bundle import Bundle
from core.photos.sources import iter_items
from core.results.report.charts import pyplot
from core.training.calibration import expected_calibration_error
from core.training.metrics import classification_metrics, defect_recall

MAX_MACRO_F1_DROP = 0.005
RULE = (
    "defect recall on the frozen holdout not lower; macro-F1 on the frozen holdout not lower by more than "
    "0.5 points; more held-back corrections right than the current model"
)
FROZEN, CORRECTIONS = "frozen_holdout", "held_back_corrections"

Labelled = list[tuple[Path, str]]  # photo file, true label


def compare(parent: Bundle, candidate: Bundle, parts: dict[str, Labelled]) -> dict:
    """Classify each part with both models and measure them side by side.

    :param parts: ``{FROZEN: [...], CORRECTIONS: [...]}`` photos with their true labels
    :returns: per part: both models' metrics and the per-photo agreement (fixed, broken, ...)
    """
    comparison: dict = {"parent": _name(parent), "candidate": _name(candidate), "rule": RULE}
    engines = {"parent": Engine(parent), "candidate": Engine(candidate)}
    for part, photos in parts.items():
        results = {
            role: list(engine.classify(iter_items([path for path, _ in photos]))) for role, engine in engines.items()
        }
        readable = [i for i, p in enumerate(results["parent"]) if p.ok]  # the same bytes: the same errors
        results = {role: [predictions[i] for i in readable] for role, predictions in results.items()}
        truth = [photos[i][1] for i in readable]
        comparison[part] = {
            "photos": len(truth),
            **{role: _metrics(parent, predictions, truth) for role, predictions in results.items()},
            "agreement": _agreement(results["parent"], results["candidate"], truth),
        }
    return comparison


def verdict(comparison: dict) -> tuple[bool, list[str]]:
    """Apply the rule. :returns: whether the candidate passes, and one sentence per condition."""
    frozen, held = comparison.get(FROZEN, {}), comparison.get(CORRECTIONS, {})
    if not frozen.get("photos"):
        return False, ["no frozen holdout to compare on (give --data with the training photos, or --holdout)"]
    if not held.get("photos"):
        return False, ["no held-back corrections to show an improvement on (too few corrections)"]
    old, new = frozen["parent"], frozen["candidate"]
    reasons, passed = [], True
    if old["defect_recall"] is not None:
        ok = new["defect_recall"] >= old["defect_recall"]
        passed &= ok
        reasons.append(
            f"defect recall {old['defect_recall']:.3f} -> {new['defect_recall']:.3f} ({'not lower' if ok else 'LOWER'})"
        )
    ok = new["macro_f1"] >= old["macro_f1"] - MAX_MACRO_F1_DROP
    passed &= ok
    reasons.append(f"macro-F1 {old['macro_f1']:.3f} -> {new['macro_f1']:.3f} ({'kept' if ok else 'DROPPED'})")
    before, after = held["parent"]["correct"], held["candidate"]["correct"]
    ok = after > before
    passed &= ok
    reasons.append(
        f"held-back corrections right: {before} -> {after} of {held['photos']} ({'better' if ok else 'NOT better'})"
    )
    return passed, reasons


def write_comparison(folder: Path, comparison: dict) -> None:
    """Write ``comparison.json`` and ``comparison.png`` (the measures side by side) into ``folder``."""
    import json

    write_text_atomic(Path(folder) / "comparison.json", json.dumps(comparison, indent=2, ensure_ascii=False) + "\n")
    _chart(Path(folder) / "comparison.png", comparison)


def _name(bundle: Bundle) -> dict:
    return {"name": bundle.name, "version": bundle.version, "sha256": bundle.sha256}


def _metrics(bundle: Bundle, predictions: list[Prediction], truth: list[str]) -> dict:
    classes = bundle.classes
    true = np.array([classes.index(label) for label in truth], dtype=int)
    predicted = np.array([classes.index(p.label or "") for p in predictions], dtype=int)
    metrics = classification_metrics(true, predicted, classes)
    probabilities = np.array([[p.probabilities.get(c, 0.0) for c in classes] for p in predictions])
    return {
        "accuracy": metrics["accuracy"],
        "macro_f1": metrics["macro_f1"],
        "correct": int((true == predicted).sum()),
        "defect_recall": defect_recall(true, predicted, classes, normal_class_of(bundle)),
        "ece": round(expected_calibration_error(probabilities, true), 4) if len(true) else None,
    }


def _agreement(parent: list[Prediction], candidate: list[Prediction], truth: list[str]) -> dict:
    buckets: dict[str, list[str]] = {"fixed": [], "broken": [], "both_right": [], "both_wrong": []}
    for old, new, label in zip(parent, candidate, truth):
        was, now = old.label == label, new.label == label
        key = "both_right" if was and now else "fixed" if now else "broken" if was else "both_wrong"
        buckets[key].append(old.source)
    return {"counts": {k: len(v) for k, v in buckets.items()}, "fixed": buckets["fixed"], "broken": buckets["broken"]}


def _chart(path: Path, comparison: dict) -> None:
    plt = pyplot()

    rows = [
        (part, measure)
        for part in (FROZEN, CORRECTIONS)
        if comparison.get(part, {}).get("photos")
        for measure in ("accuracy", "macro_f1", "defect_recall")
    ]
    rows = [(p, m) for p, m in rows if comparison[p]["parent"][m] is not None]
    figure, axis = plt.subplots(figsize=(8, 3.6))
    positions = np.arange(len(rows))
    for offset, role in ((-0.2, "parent"), (0.2, "candidate")):
        values = [comparison[p][role][m] for p, m in rows]
        name = comparison[role]
        axis.bar(positions + offset, values, 0.4, label=f"{role}: {name['name']} {name['version']}")
    axis.set_xticks(positions, [f"{m.replace('_', ' ')}\n{p.replace('_', ' ')}" for p, m in rows], fontsize=8)
    axis.set_ylim(0, 1.05)
    axis.legend(loc="lower right", fontsize=8)
    axis.set_title("Current model against the retrained candidate")
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
