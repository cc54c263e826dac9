"""The promotion gate: a retrained model replaces the current one only when the evidence says it is better.

Both models classify the same photos through the same engine, on the runtime users run (the default backend and
precision of this computer, :data:`core.inference.runtime.USERS_BACKEND`): the *frozen holdout* (the
parent's own validation photos and any ``--holdout`` photos, which neither model trained
on) and the *held-back corrections* (a share of the inspectors' corrections kept out of
training). The gate weighs photo by photo (:mod:`core.training.paired`: an exact McNemar test on
the photos where one model is right and the other wrong), because holdouts are small where a
returns centre starts and one photo must not decide. The rule, stored in the candidate's ``model.json``:

* on the held-back corrections the candidate fixes more photos than it breaks, with 95 % confidence;
* on the frozen holdout it does not break more than it fixes beyond chance (the same test the other way
  round, at the same 5 %), over all its photos and over its defect photos alone (defect recall).

When the corrections cannot show it yet, the verdict says so and how many more corrections like these
would decide it.
"""

from __future__ import annotations

import math
from collections import Counter
from pathlib import Path

import numpy as np

from core.files import write_text_atomic
from core.inference.decision import normal_class_of
from core.inference.engine import Engine
from core.inference.prediction import Prediction
from core.inference.runtime import USERS_BACKEND
from core.model.bundle import Bundle
from core.photos.sources import iter_items
from core.results.report.charts import pyplot
from core.training import paired
from core.training.calibration import expected_calibration_error
from core.training.metrics import classification_metrics, defect_recall

SIGNIFICANCE = 0.05  # what chance is allowed to explain, both ways
HOLD_BACK_SHARE = 0.25  # of the corrections, kept out of training to judge the candidate on
RULE = (
    "promote when, on the held-back corrections, the candidate fixes more photos than it breaks with 95 % "
    "confidence, and on the frozen holdout it does not break more than it fixes beyond chance (5 %), over all "
    "its photos and over its defect photos; each side counted on the photos where one model is right and the "
    "other wrong (exact McNemar test)"
)
FROZEN, CORRECTIONS = "frozen_holdout", "held_back_corrections"

Labelled = list[tuple[Path, str]]  # photo file, true label


def compare(parent: Bundle, candidate: Bundle, parts: dict[str, Labelled]) -> dict:
    """Classify each part with both models and measure them side by side.

    :param parts: ``{FROZEN: [...], CORRECTIONS: [...]}`` photos with their true labels
    :returns: per part: both models' metrics and the per-photo agreement (fixed, broken, ...); ``runtime``: what
        ran them
    """
    engines = {"parent": Engine(parent, backend=USERS_BACKEND), "candidate": Engine(candidate, backend=USERS_BACKEND)}
    comparison: dict = {"parent": _name(parent), "candidate": _name(candidate), "rule": RULE}
    comparison["runtime"] = engines["candidate"].runtime  # both resolve the same USERS_BACKEND
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
            "agreement": _agreement(results["parent"], results["candidate"], truth, normal_class_of(parent)),
        }
    return comparison


def verdict(comparison: dict) -> tuple[bool, list[str]]:
    """Apply the rule. :returns: whether the candidate passes, and one sentence per condition."""
    passed, reasons, _ = judge(comparison)
    return passed, reasons


def judge(comparison: dict) -> tuple[bool, list[str], str]:
    """Apply the rule.

    :returns: whether the candidate passes, one sentence per condition (for engineers), and the verdict
        in one sentence for the inspector
    """
    frozen, held = comparison.get(FROZEN, {}), comparison.get(CORRECTIONS, {})
    if not frozen.get("photos"):
        reason = "no frozen holdout to compare on (give --data with the training photos, or --holdout)"
        return False, [reason], "The new version cannot be checked: the photos it was trained on are not here."
    if not held.get("photos"):
        reason = "no held-back corrections to show an improvement on (too few corrections)"
        return False, [reason], "Too few corrections to check the new version on: correct a few more photos."
    kept, reasons = True, []
    agreement = frozen["agreement"]  # defect_counts: none for a model without a normal class (all are defects)
    for photos, counts in (("photos", agreement["counts"]), ("defect photos", agreement.get("defect_counts"))):
        if counts is None:
            continue
        ok, sentence = _not_worse(photos, counts["fixed"], counts["broken"])
        kept &= ok
        reasons.append(sentence)
    better, more, sentence = _better(held)
    reasons.append(sentence)
    old, new = frozen["parent"]["macro_f1"], frozen["candidate"]["macro_f1"]
    reasons.append(f"frozen holdout macro-F1 {old:.3f} -> {new:.3f} on {frozen['photos']} photos (for the record)")
    return kept and better, reasons, _plain(frozen, held, kept, better, more)


def _plain(frozen: dict, held: dict, kept: bool, better: bool, more: int | None) -> str:
    """The verdict in the inspector's words: what the new version does with their corrections and the checks."""
    counts, checked = frozen["agreement"]["counts"], frozen["photos"]
    right = {role: held[role]["correct"] for role in ("parent", "candidate")}
    corrections = (
        f"it gets {right['candidate']} of {held['photos']} of your set-aside corrections right "
        f"(the current version {right['parent']})"
    )
    if not kept:
        return (
            f"Keep the current version: the new one gets {counts['broken']} of the {checked} check photos wrong "
            f"that the current one gets right, and fixes only {counts['fixed']}."
        )
    if better:
        return f"The new version is better: {corrections}, and it is no worse on the {checked} check photos."
    if more is not None:
        return f"Not enough corrections yet to be sure: {corrections}; about {more} more corrections would decide."
    return f"The new version is not better: {corrections}."


def _not_worse(photos: str, fixed: int, broken: int) -> tuple[bool, str]:
    """Judge the frozen holdout: the candidate may not break more than it fixes beyond chance."""
    chance = paired.p_worse(fixed, broken)
    ok = chance > SIGNIFICANCE
    judged = "not worse beyond chance" if ok else "WORSE beyond chance"
    return ok, f"frozen holdout, {photos}: fixed {fixed}, broke {broken} ({judged}, p = {chance:.3g})"


def _better(held: dict) -> tuple[bool, int | None, str]:
    """Judge the held-back corrections: the candidate must fix more than it breaks with 95 % confidence.

    :returns: whether it is better, how many more corrections would decide it (None: none would, or it is
        decided), and the sentence
    """
    counts, photos = held["agreement"]["counts"], held["photos"]
    fixed, broken = counts["fixed"], counts["broken"]
    chance = paired.p_better(fixed, broken)
    told = f"held-back corrections: fixed {fixed}, broke {broken} of {photos} (p = {chance:.3g})"
    if chance <= SIGNIFICANCE:
        return True, None, f"{told}: better"
    enough = paired.photos_to_decide(fixed, broken, photos, SIGNIFICANCE)
    if enough is None:
        return False, None, f"{told}: NOT better"
    more = math.ceil((enough - photos) / HOLD_BACK_SHARE)
    return (
        False,
        more,
        (
            f"{told}: too little evidence yet; about {more} more corrections like these would decide it "
            f"({enough - photos} more held back)"
        ),
    )


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


def _agreement(parent: list[Prediction], candidate: list[Prediction], truth: list[str], normal: str | None) -> dict:
    """Sort the photos by who got them right: fixed, broken, both right, both wrong (also among defect photos).

    :returns: the counts, and for each fixed and broken photo its source, true label and both models' labels
    """
    buckets: dict[str, list[dict]] = {"fixed": [], "broken": [], "both_right": [], "both_wrong": []}
    defects: Counter[str] = Counter(fixed=0, broken=0)
    for old, new, label in zip(parent, candidate, truth, strict=True):
        was, now = old.label == label, new.label == label
        key = "both_right" if was and now else "fixed" if now else "broken" if was else "both_wrong"
        buckets[key].append({"source": old.source, "truth": label, "parent": old.label, "candidate": new.label})
        if label != normal:
            defects[key] += 1
    agreement = {"counts": {k: len(v) for k, v in buckets.items()}, "fixed": buckets["fixed"]}
    agreement["broken"] = buckets["broken"]
    if normal is not None:
        agreement["defect_counts"] = dict(defects)
    return agreement


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
