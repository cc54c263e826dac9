"""Train with the honest protocol: a test split set aside first, grouped cross-validation, then the model.

``defectsort train --cv K --test-share S`` and ``defectsort evaluate BUNDLE DATA --cv K`` run this:

1. the test split (whole groups, about ``S`` of each class) is set aside and touched by nothing until the end;
2. ``K`` models are trained on the rest, each without one fold of whole groups, and measured on it
   (:mod:`core.training.cross_validation`): these figures, with their spread, are what recipes are chosen by;
3. the model itself is trained on all but the test split and measured once on the test split.

The figures land in the bundle's model.json (``metrics.cross_validation``, ``metrics.test``) beside the
inner validation figures, which picked the epoch and the thresholds and therefore flatter.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from core.model.bundle import Bundle, BundleError, load_bundle, write_metadata
from core.training.anomaly.head_fit import HeadSettings, fit_anomaly_head
from core.training.cross_validation import (
    RuntimeOptions,
    cross_validate,
    format_fold,
    format_report,
    measure_test,
    split_off_test,
)
from core.training.data_checks import MIN_PER_CLASS, checked_samples
from core.training.dataset import scan_dataset
from core.training.pipeline import train_bundle
from core.training.trainer import TrainConfig, settings_as_trained


@dataclass(frozen=True)
class Protocol:
    """How a recipe is measured.

    :param folds: grouped cross-validation folds (0: none)
    :param test_share: share of each class set aside as the untouched test split (0: none)
    :param conditions: also measure each held-out fold under every camera condition
    :param engine_options: ``backend`` / ``precision`` / ``onnx_file`` of the engine that measures
    :param anomaly_head: fit the anomaly head after training with these settings, in every
        fold too: a fold's model is measured with all the shipped model has, the head's Review flags included
    :param runtimes: also measure each fold's model on these runtimes
        (:func:`core.training.cross_validation.cross_validate`; ``defectsort bench --truth``)
    :param keep_folds: keep the folds' models in this folder (``fold-N``) instead of deleting them
    :param kept_folds: measure the models an earlier run kept there (``--keep-folds``) instead of training
    """

    folds: int = 0
    test_share: float = 0.0
    conditions: bool = False
    engine_options: dict | None = None
    anomaly_head: HeadSettings | None = None
    runtimes: dict[str, RuntimeOptions] | None = None
    keep_folds: Path | None = None
    kept_folds: Path | None = None


def train_honestly(
    data_dir, out_dir: Path | None, config: TrainConfig, protocol: Protocol, options: dict, say=print, **progress
) -> tuple[Bundle | None, dict]:
    """Measure the recipe by :class:`Protocol`, then (with ``out_dir``) train the model on all but the test split.

    :param data_dir: class folders of photos
    :param out_dir: the bundle folder to write, or None to measure only (``evaluate --cv``)
    :param config: the recipe
    :param protocol: folds, test share, conditions
    :param options: the other keyword arguments of :func:`core.training.pipeline.train_bundle`
        (``group_by``, ``masks_dir``, ``pretrained``...)
    :param say: receives progress lines
    :param progress: ``on_epoch`` / ``on_step`` for the final model's training
    :returns: ``(the bundle or None, {"cross_validation": ..., "test": ...})``
    :raises ValueError: too few groups for the folds, or a class with no photo outside the test split
    """
    classes, samples = scan_dataset(data_dir, options.get("masks_dir"), options.get("group_by"), options.get("classes"))
    samples = checked_samples(classes, samples, MIN_PER_CLASS, say)  # once, for the folds and the model alike
    rest, test = split_off_test(samples, protocol.test_share, config.seed)
    missing = sorted({classes[s.label] for s in samples} - {classes[s.label] for s in rest})
    if missing:
        raise ValueError(f"the test split would take every photo of {', '.join(missing)}: lower --test-share")
    if test:
        say(f"Test split set aside, untouched until the end: {len(test)} photos of {_groups(test)}.")
    figures: dict = {"protocol": {"folds": protocol.folds, "test_share": protocol.test_share}}
    if protocol.folds:
        figures["cross_validation"] = _cross_validate(data_dir, config, protocol, options, classes, rest, say)
    if out_dir is None:
        return None, figures
    if protocol.folds or test:
        say(f"The model itself: trained on {len(rest)} photos (all but the test split).")
    bundle = _train_one(data_dir, out_dir, config, protocol, options, {s.path for s in rest}, say, **progress)
    if test:
        figures["test"] = measure_test(bundle, test, classes, protocol.engine_options)
        say(f"Test split ({len(test)} photos nothing chose on): {format_fold(figures['test'])}")
    bundle.training["split"]["test"] = sorted(s.path.name for s in test)
    bundle.metrics.update({key: value for key, value in figures.items() if key != "protocol"})
    bundle.training["protocol"] = figures["protocol"]
    write_metadata(bundle)
    return bundle, figures


def recipe_of(bundle: Bundle, masks_dir=None, pretrained=None) -> tuple[TrainConfig, dict, HeadSettings | None]:
    """The recipe a bundle was trained with, to measure it again (``evaluate --cv``).

    :param bundle: a trained bundle (its model.json ``training`` record)
    :param masks_dir: the defect masks (default: those it was trained with, when they are still there)
    :param pretrained: the backbone weights to start each fold from
    :returns: ``(config, the options of train_bundle, the anomaly head's settings or None)``
    :raises ValueError: a bundle without a training record (an anomaly model, an imported one)
    """
    recorded = bundle.training.get("config")
    if not isinstance(recorded, dict):
        raise ValueError(f"model '{bundle.name}' has no training recipe in its model.json to cross-validate")
    config = TrainConfig(**{**settings_as_trained(recorded), "choose": ()})  # the sizes it chose are the recipe now
    masks = masks_dir or bundle.training.get("masks")
    options = {
        "pretrained": pretrained,
        "group_by": bundle.training.get("group_by"),
        "val_fraction": bundle.training.get("val_fraction", 0.2),  # train's default before it was recorded
        "masks_dir": masks if masks and Path(masks).is_dir() else None,
        "subject": bundle.subject,
        "normal_class": bundle.normal_class,
        "classes": list(bundle.classes),
    }
    head = bundle.anomaly_head
    return (
        config,
        options,
        HeadSettings.of(head) if head else None,
    )


def _cross_validate(data_dir, config, protocol: Protocol, options: dict, classes, samples, say) -> dict:
    def train_fold(photos: set[Path], folder: Path) -> Bundle:
        if protocol.kept_folds:
            return kept_fold(protocol.kept_folds / folder.name, photos)
        return _train_one(data_dir, folder, config, protocol, options, photos, lambda _line: None)

    say(f"{protocol.folds}-fold grouped cross-validation on {len(samples)} photos (a model per fold):")
    report = cross_validate(
        samples,
        classes,
        protocol.folds,
        train_fold,
        seed=config.seed,
        conditions=protocol.conditions,
        engine_options=protocol.engine_options,
        runtimes=protocol.runtimes,
        keep_folds=protocol.keep_folds,
        say=say,
    )
    for line in format_report(report):
        say(line)
    # each photo's verdicts and each fold's per-condition rows are for judging runtimes (and pooling repeats of a
    # judgement: core.training.cross_validation.pool_repeats), not for model.json
    if not protocol.runtimes:
        report.pop("verdicts")
        for row in report["folds"]:
            row.pop("conditions", None)
    return report


def _train_one(data_dir, folder: Path, config, protocol: Protocol, options: dict, photos, say, **progress) -> Bundle:
    """Train on ``photos`` (and fit the anomaly head when the protocol asks): one fold's model, or the model."""
    head = protocol.anomaly_head
    bundle = train_bundle(
        data_dir, folder, config, include=photos, min_per_class=None, baseline=not head, say=say, **options, **progress
    )
    if head:
        metrics = fit_anomaly_head(bundle, Path(data_dir), options.get("masks_dir"), head, say=say)
        say(f"Anomaly head fitted: {bundle.anomaly_head['fitted_on']}; inner validation AUROC {metrics['auroc']}.")
    return bundle


def kept_fold(folder: Path, photos: set[Path] | None = None) -> Bundle:
    """A fold's model an earlier cross-validation kept (``--keep-folds``), checked to be trained on ``photos``.

    :raises ValueError: no such model, or one trained on other photos (other data, another seed or fold count)
    """
    try:
        bundle = load_bundle(folder)
    except BundleError as error:
        raise ValueError(f"no kept fold model in {folder}: {error}") from None
    split = bundle.training.get("split", {})
    trained_on = set(split.get("train", [])) | set(split.get("validation", []))
    if photos is not None and trained_on != {path.name for path in photos}:
        raise ValueError(f"{folder} was trained on other photos than this fold's: not a fold of this run")
    return bundle


def _groups(samples) -> str:
    names = sorted({s.group for s in samples})
    return ", ".join(names[:8]) + (f" and {len(names) - 8} more groups" if len(names) > 8 else "")
