"""Honest numbers for small data: grouped k-fold cross-validation and a test split that nothing tunes on.

With a few dozen photos a class, the split that picks the epoch (and the Review threshold, and the anomaly
threshold) flatters: the bundled phone model read 1.000 there and 0.89 on photos it never saw. Here every photo
is measured exactly once by a model that never saw it nor any photo of its group (its phone): the groups are
dealt into ``k`` folds, each fold is held out once while a model is trained on the others with the unchanged
recipe (its own inner split picks its epoch and thresholds), and the held-out photos go through the engine
users run (``train --cv`` and ``evaluate --cv``: the default runtime; the report names the runtime, since
reduced precision moves a score near a threshold now and then). Figures come as mean, spread (standard
deviation over the folds), lowest and highest, beside the pooled figure over every held-out photo; the
inspector's workload (the Review share, and how many of the accepted photos are right) stands beside macro-F1.

A test split (:func:`split_off_test`) is set aside before any of this: recipes are chosen by the
cross-validation, the test split is measured once, at the end.
"""

from __future__ import annotations

import math
import statistics
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from core.inference.decision import normal_class_of
from core.inference.engine import Engine
from core.inference.prediction import REVIEW, UNKNOWN
from core.model.bundle import Bundle
from core.photos.conditions import CONDITIONS
from core.photos.sources import iter_items
from core.results.final import final_decision
from core.training.dataset import Sample, take_share
from core.training.evaluate import measure
from core.training.robustness import measure_conditions

TrainFold = Callable[[set[Path], Path], Bundle]  # (the photos to train on, the bundle folder) -> the fold's bundle
RuntimeOptions = Callable[[Bundle, list[Path], Path], dict]  # (a fold's model, its photos, scratch) -> Engine options
SUMMARISED = (
    "macro_f1",
    "accuracy",
    "defect_recall",
    "ece",
    "review_share",
    "accepted_accuracy",
    "pointing",
    "anomaly_auroc",
    "anomaly_false_alarms",
    "unknown_share",
)


def split_off_test(samples: list[Sample], share: float, seed: int) -> tuple[list[Sample], list[Sample]]:
    """Set aside about ``share`` of each class, whole groups at a time, as the test split.

    :returns: ``(the rest, test)``; ``share`` 0 gives no test photos
    """
    if share <= 0:
        return list(samples), []
    test, rest = take_share(samples, lambda s: s.group, lambda s: s.label, share, seed + 7919)
    return rest, test


def grouped_folds(samples: list[Sample], k: int, seed: int) -> list[list[Sample]]:
    """Deal the samples into ``k`` folds of whole groups, each class spread about evenly.

    :raises ValueError: fewer than ``k`` groups, or a fold left empty
    """
    groups = {s.group for s in samples}
    if k < 2 or len(groups) < k:
        raise ValueError(
            f"{k}-fold cross-validation needs at least {max(k, 2)} groups of photos; there are {len(groups)}"
        )
    folds, rest = [], list(samples)
    for index in range(k):
        fold, rest = take_share(rest, lambda s: s.group, lambda s: s.label, 1 / (k - index), seed + index)
        folds.append(fold)
    if rest:  # a group too large for the last share still belongs somewhere
        folds[-1].extend(rest)
    if not all(folds):
        raise ValueError(f"the photos' {len(groups)} groups cannot fill {k} folds: use fewer folds")
    return folds


def classes_trained_without(folds: list[list[Sample]], classes: list[str]) -> list[str]:
    """One line per fold whose model would train without a class: every group of it sits in that held-out fold.

    With a class of only a few groups (phones), a grouped deal can put all of them in one fold; that fold's model
    never learns the class and its figures measure a class it never saw (the magnetic-tile look-alike's third fold
    held both oil phones and scored macro-F1 0.28). It is said before any training, so that a user can add groups
    of that class or use fewer folds instead of reading a spread that mixes in such a fold.
    """
    lines = []
    for index, held_out in enumerate(folds):
        trained = {s.label for fold in folds if fold is not held_out for s in fold}
        for label in sorted({s.label for s in held_out} - trained):
            groups = len({s.group for s in held_out if s.label == label})
            lines.append(
                f"fold {index + 1}/{len(folds)} holds every photo of '{classes[label]}' ({groups} groups): its "
                "model trains without that class (more groups of it, or fewer folds, would avoid this)"
            )
    return lines


def cross_validate(
    samples: list[Sample],
    classes: list[str],
    k: int,
    train_fold: TrainFold,
    *,
    seed: int = 0,
    conditions: bool = False,
    engine_options: dict | None = None,
    runtimes: dict[str, RuntimeOptions] | None = None,
    keep_folds: Path | None = None,
    say=print,
) -> dict:
    """Train ``k`` models, each without one fold, and measure each on its held-out fold.

    :param samples: the photos to cross-validate on (the test split already set aside)
    :param classes: the class names, in the samples' label order
    :param k: folds
    :param train_fold: trains a bundle on the given photos into the given folder
    :param seed: deals the folds
    :param conditions: also measure each held-out fold re-rendered under every camera condition
    :param engine_options: ``backend`` / ``precision`` / ``onnx_file`` for the engine
    :param runtimes: also measure each fold's model on these runtimes (by name: the engine options for the fold's
        model, e.g. an int8 file calibrated on the fold's own training photos); each gets its own report
    :param keep_folds: keep each fold's model in ``keep_folds/fold-N`` (default: deleted at the end); its
        model.json names the photos it trained and validated on, the rest of ``samples`` were held out
    :param say: receives a line per fold
    :returns: ``{"folds": [per-fold figures], "summary": {figure: spread}, "pooled": {...},
        "conditions": {condition: {figure: spread}}}``, and ``"runtimes": {name: the same}`` when asked
    """
    folds = grouped_folds(samples, k, seed)
    unseen = classes_trained_without(folds, classes)
    for line in unseen:
        say(f"warning: {line}")
    measured: dict[str, RuntimeOptions] = {"": lambda *_: dict(engine_options or {}), **(runtimes or {})}
    tallies = {name: _Tally() for name in measured}
    with _fold_folder(keep_folds) as scratch:
        for index, held_out in enumerate(folds):
            training = {s.path for fold in folds if fold is not held_out for s in fold}
            bundle = train_fold(training, Path(scratch, f"fold-{index + 1}"))
            for number, (name, options_for) in enumerate(measured.items()):
                options = options_for(bundle, sorted(training), Path(scratch, f"fold-{index + 1}-runtime-{number}"))
                row = tallies[name].add(bundle, held_out, classes, options, conditions)
                row.update(fold=index + 1, photos=len(held_out), groups=sorted({s.group for s in held_out}))
                named = f" on {name}" if name else ""
                say(
                    f"fold {index + 1}/{k}{named} ({len(held_out)} photos of {', '.join(row['groups'])}): "
                    f"{format_fold(row)}"
                )
    report = tallies.pop("").report(k, conditions)
    if unseen:
        report["classes_trained_without"] = unseen
    if runtimes:
        report["runtimes"] = {name: tally.report(k, conditions) for name, tally in tallies.items()}
    return report


@contextmanager
def _fold_folder(keep: Path | None) -> Iterator[Path]:
    """Where the folds' models are written: ``keep`` (created; they stay), or a folder deleted at the end.

    :raises ValueError: ``keep`` already holds a fold's model (an earlier run's folds, hours of training, are
        not written over)
    """
    if keep is None:
        with tempfile.TemporaryDirectory(prefix="defectsort-cv-") as scratch:
            yield Path(scratch)
        return
    earlier = sorted(keep.glob("fold-*/model.json")) if keep.is_dir() else []
    if earlier:
        raise ValueError(
            f"{keep} already holds the models of {len(earlier)} folds: give an empty folder to keep new ones "
            "(bench --truth --folds-from measures kept folds again)"
        )
    keep.mkdir(parents=True, exist_ok=True)
    yield keep


class _Tally:
    """One runtime's held-out figures, fold after fold."""

    def __init__(self):
        self.rows: list[dict] = []
        self.pooled = _Pooled()
        self.verdicts: dict[str, list[bool]] = {}

    def add(self, bundle: Bundle, held_out: list[Sample], classes: list[str], options: dict, conditions: bool) -> dict:
        """Measure ``bundle`` on the held-out photos with these engine options. :returns: the fold's row."""
        row, predictions = _measure_fold(bundle, held_out, classes, options)
        true_names = [classes[s.label] for s in held_out]
        normal = normal_class_of(bundle)

        def keep_verdicts(condition: str, found: list) -> None:
            self.verdicts.update(photo_verdicts(condition, held_out, true_names, found, normal))

        keep_verdicts("held out", predictions)
        if conditions:
            row["conditions"] = measure_conditions(
                bundle, held_out, true_names, engine_options=options, say=lambda _line: None, classified=keep_verdicts
            )
        self.pooled.add(predictions, true_names)
        self.rows.append(row)
        return row

    def report(self, k: int, conditions: bool) -> dict:
        """The folds, their spread, the pooled workload and, when measured, the per-condition spreads."""
        return _report(k, self.rows, self.pooled, self.verdicts, conditions)


def _report(k: int, rows: list[dict], pooled: _Pooled, verdicts: dict[str, list[bool]], conditions: bool) -> dict:
    report = {"k": k, "folds": rows, "summary": summarise(rows), "pooled": pooled.figures(), "verdicts": verdicts}
    report["runtime"] = ", ".join(sorted({row["runtime"] for row in rows if row.get("runtime")}))
    if conditions:
        report["conditions"] = {
            condition.name: summarise([_row_of(row["conditions"], condition.name) for row in rows])
            for condition in CONDITIONS
        }
    return report


def pool_repeats(reports: list[dict]) -> dict:
    """One report of several cross-validations of the same photos (repeated cross-validation: each dealt its own
    folds), as if their folds were one run's: the spread over every fold, the workload over every photo measured.

    Three folds give a spread of three numbers, and a figure every fold scores 1.000 has a spread of zero: one
    photo is then "beyond the spread". Two or more repeats give the spread more folds to stand on.

    :param reports: :func:`cross_validate` reports of one runtime, each a repeat (the same ``k``)
    :returns: the same kind of report; ``repeats`` counts them, and a photo's verdict key names its repeat
        (``"<condition>/<photo> #2"``), since each repeat measures every photo once
    """
    rows = [dict(row, repeat=number) for number, report in enumerate(reports, 1) for row in report["folds"]]
    pooled = _Pooled()
    for report in reports:
        pooled.absorb(report["pooled"])
    verdicts = {
        f"{key} #{number}": verdict
        for number, report in enumerate(reports, 1)
        for key, verdict in report["verdicts"].items()
    }
    conditions = all("conditions" in row for row in rows)  # every fold measured under every camera condition
    return {**_report(reports[0]["k"], rows, pooled, verdicts, conditions), "repeats": len(reports)}


def photo_verdicts(
    condition: str, samples: list[Sample], true_names: list[str], predictions: list, normal: str | None
) -> dict[str, list[bool]]:
    """Each readable photo's verdict, for a paired comparison of two runtimes on the same photos and models.

    :returns: ``{"<condition>/<photo name>": [right, accepted wrong, defect missed, left to a person]}`` (a defect
        is missed when the photo shows one and is called the normal class, never for a model without a normal
        class; a photo is left to a person when it goes to Review or is flagged Unknown)
    """
    verdicts = {}
    for sample, truth, prediction in zip(samples, true_names, predictions, strict=True):
        if prediction.ok:
            right = prediction.label == truth
            left = not final_decision(prediction).settled  # in Review or Unknown: a person decides
            missed = normal is not None and truth != normal and prediction.label == normal
            verdicts[f"{condition}/{sample.path.name}"] = [right, not right and not left, missed, left]
    return verdicts


def _row_of(rows: list[dict], condition: str) -> dict:
    found: dict = next(row for row in rows if row["condition"] == condition)
    return found


def measure_test(bundle: Bundle, test: list[Sample], classes: list[str], engine_options: dict | None = None) -> dict:
    """The figures of :func:`cross_validate`'s folds for the final model on the test split."""
    row, _ = _measure_fold(bundle, test, classes, engine_options or {})
    row.update(photos=len(test), groups=sorted({s.group for s in test}))
    return row


def _measure_fold(
    bundle: Bundle, held_out: list[Sample], classes: list[str], engine_options: dict
) -> tuple[dict, list]:
    engine = Engine(bundle, **engine_options)
    predictions = list(engine.classify(iter_items([s.path for s in held_out])))
    true_names = [classes[s.label] for s in held_out]
    metrics = measure(bundle, held_out, true_names, predictions, with_masks=any(s.mask_path for s in held_out))
    anomaly = metrics.get("anomaly", {})
    figures = {
        "macro_f1": metrics["macro_f1"],
        "accuracy": metrics["accuracy"],
        "defect_recall": metrics.get("defect_recall"),
        "ece": metrics.get("calibration", {}).get("ece"),
        "review_share": metrics["review"]["review_share"],
        "accepted_accuracy": metrics["review"]["accuracy_not_reviewed"],
        "pointing": metrics.get("localisation", {}).get("pointing", {}).get("overall"),
        "anomaly_auroc": anomaly.get("auroc"),
        "anomaly_false_alarms": anomaly.get("false_alarm_rate"),
        "unknown_share": sum(p.status == UNKNOWN for p in predictions) / max(1, len(predictions)),
    }
    # plain floats: a runtime's float32 outputs make NumPy scalars, which neither statistics nor JSON take
    row: dict = {key: None if value is None else round(float(value), 4) for key, value in figures.items()}
    row["mistakes"] = [f"{Path(e['source']).name}: {e['true']} -> {e['predicted']}" for e in metrics["errors"]]
    row["runtime"] = engine.runtime  # what measured it: bfloat16 moves scores
    return row, predictions


class _Pooled:
    """Every held-out photo together: the workload over the whole data set, not an average of fold averages."""

    def __init__(self):
        self.photos = self.right = self.reviewed = self.accepted = self.accepted_right = 0

    def add(self, predictions, true_names: list[str]) -> None:
        for prediction, truth in zip(predictions, true_names, strict=True):
            if not prediction.ok:
                continue
            right = prediction.label == truth
            self.photos += 1
            self.right += right
            if prediction.status == REVIEW:
                self.reviewed += 1
            else:
                self.accepted += 1
                self.accepted_right += right

    def absorb(self, figures: dict) -> None:
        """Add another run's pooled figures (:meth:`figures`) to these."""
        self.photos += figures["photos"]
        self.right += figures["right"]
        self.reviewed += figures["reviewed"]
        self.accepted += figures["accepted"]
        self.accepted_right += figures["accepted_right"]

    def figures(self) -> dict:
        return {
            "photos": self.photos,
            "right": self.right,
            "reviewed": self.reviewed,
            "accuracy": round(self.right / self.photos, 4) if self.photos else None,
            "review_share": round(self.reviewed / self.photos, 4) if self.photos else None,
            "accepted": self.accepted,
            "accepted_right": self.accepted_right,
            "accepted_accuracy": round(self.accepted_right / self.accepted, 4) if self.accepted else None,
        }


def summarise(rows: list[dict]) -> dict:
    """Mean, spread (sample standard deviation), lowest and highest of each figure over the folds.

    :returns: ``{figure: {"mean", "std", "min", "max", "folds"}}`` for the figures the folds could measure (a
        missing or undefined figure, such as the AUROC of a runtime without the anomaly head, is left out)
    """
    summary = {}
    for key in SUMMARISED:
        values = [float(row[key]) for row in rows if row.get(key) is not None and math.isfinite(row[key])]
        if not values:
            continue
        summary[key] = {
            "mean": round(statistics.fmean(values), 4),
            "std": round(statistics.stdev(values), 4) if len(values) > 1 else 0.0,
            "min": round(min(values), 4),
            "max": round(max(values), 4),
            "folds": len(values),
        }
    return summary


def format_spread(spread: dict | None) -> str:
    """``0.912 ± 0.041 (0.870-0.960)``, or ``n/a``."""
    if not spread:
        return "n/a"
    return f"{spread['mean']:.3f} ± {spread['std']:.3f} ({spread['min']:.3f}-{spread['max']:.3f})"


def format_fold(row: dict) -> str:
    """One fold's (or the test split's) figures on one line."""

    def shown(key: str) -> str:
        value = row.get(key)
        return "n/a" if value is None else f"{value:.3f}"

    return (
        f"macro-F1 {shown('macro_f1')}, defect recall {shown('defect_recall')}, ECE {shown('ece')}, "
        f"Review {shown('review_share')}, accepted right {shown('accepted_accuracy')}, pointing {shown('pointing')}"
    )


def format_report(report: dict) -> list[str]:
    """The lines ``train --cv`` and ``evaluate --cv`` print: each figure's spread, the pooled workload, conditions."""
    names = {
        "macro_f1": "macro-F1",
        "accuracy": "accuracy",
        "defect_recall": "defect recall",
        "ece": "calibration error (ECE)",
        "review_share": "share sent to Review",
        "accepted_accuracy": "accepted photos right",
        "pointing": "heatmap peak inside the defect",
        "anomaly_auroc": "anomaly head AUROC",
        "anomaly_false_alarms": "anomaly head false alarms",
        "unknown_share": "share flagged unknown",
    }
    measured_on = f" on {report['runtime']}" if report.get("runtime") else ""  # reports stored before it was named
    lines = [f"{report['k']}-fold grouped cross-validation{measured_on}, mean ± spread (lowest-highest) over folds:"]
    lines += [f"  {names[key]:>31}: {format_spread(spread)}" for key, spread in report["summary"].items()]
    pooled = report["pooled"]
    lines.append(
        f"  pooled over all {pooled['photos']} held-out photos: accuracy {pooled['accuracy']}, Review "
        f"{pooled['review_share']}, {pooled['accepted_right']} of {pooled['accepted']} accepted photos right"
    )
    for name, summary in report.get("conditions", {}).items():
        lines.append(
            f"  {name:>12}: macro-F1 {format_spread(summary.get('macro_f1'))}, recall "
            f"{format_spread(summary.get('defect_recall'))}, Review {format_spread(summary.get('review_share'))}, "
            f"accepted right {format_spread(summary.get('accepted_accuracy'))}"
        )
    return lines
