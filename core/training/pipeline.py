"""From a folder of labelled photos to a complete, calibrated model bundle."""

from __future__ import annotations

import time
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np
import torch

from core.inference.decision import DEFAULTS, DecisionPolicy, normal_class_of
from core.model.bundle import Bundle, save_bundle, write_metadata
from core.model.network import ClassMapNet, Pooling, set_output_stride
from core.model.refine import DETAIL_LAYERS
from core.results.phones import parse_severity
from core.training import calibration
from core.training.data_checks import MIN_PER_CLASS, checked_samples, keep_copies_together
from core.training.dataset import grouped_split, scan_dataset
from core.training.evaluate import validation_baseline
from core.training.finishing import choose_flip_tta, fit_trust
from core.training.metrics import classification_metrics, defect_recall
from core.training.model_setup import pretrained_model
from core.training.plan import plan_for_data
from core.training.reduced_precision import fit_reduced_precision_detectors
from core.training.trainer import (
    SAMPLING,
    TrainConfig,
    TrainResult,
    classes_imbalanced,
    draw_weights,
    train,
)


def train_bundle(
    data_dir,
    out_dir,
    config: TrainConfig,
    *,
    pretrained=None,
    val_fraction: float = 0.2,
    group_by: str | None = None,
    masks_dir=None,
    name: str | None = None,
    subject: str = "image",
    normal_class: str | None = None,
    classes: list[str] | None = None,
    description: str = "",
    severity: str | None = None,
    severity_reason: str = "",
    emphasis: dict[str, float] | None = None,
    include: set[Path] | None = None,
    min_per_class: int | None = MIN_PER_CLASS,
    baseline: bool = True,
    say=print,
    on_epoch=None,
    on_step=None,
) -> Bundle:
    """Train on ``data_dir`` (one folder per class) and write the bundle to ``out_dir``.

    :param data_dir: class folders of photos
    :param out_dir: bundle folder to create
    :param config: training hyper-parameters
    :param pretrained: backbone state_dict path, or None for torchvision's download
    :param val_fraction: share of each class held out (grouped)
    :param group_by: regex naming groups that must stay on one side of the split
    :param masks_dir: optional defect masks (photo stem + ``.png``) for the pointing loss
    :param name: bundle name (default: the output folder's name)
    :param subject: what the photos show, for explanations ("screen")
    :param normal_class: the class meaning "no defect" (default: ``good`` when there is such a class)
    :param classes: fixed classes in this order (see :func:`scan_dataset`), e.g. when retraining a model
    :param description: one line for model.json
    :param severity: every class, worst first, comma-separated (``stain,scratch,oil,good``): per-phone
        verdicts take the worst photo (:mod:`core.results.phones`)
    :param severity_reason: why this order, kept beside it in model.json
    :param emphasis: file name -> how much more often training draws that photo (retraining: corrections)
    :param include: train on these photos of ``data_dir`` only (a cross-validation fold's; default: all)
    :param min_per_class: a class with fewer photos is refused (:mod:`core.training.data_checks`); None: the
        data was checked already (a cross-validation's folds): copies are only kept together
    :param baseline: measure the drift baseline on the validation photos; off when an anomaly head is fitted
        next (:func:`core.training.anomaly.head_fit.fit_anomaly_head` measures it again, with the head)
    :param say: receives progress messages
    :param on_epoch: receives each epoch's record
    :param on_step: receives ``(step, steps_in_epoch)``
    :returns: the saved bundle
    """
    classes, samples = scan_dataset(data_dir, masks_dir, group_by, classes)
    if include is not None:
        samples = [s for s in samples if s.path in include]
    samples = (
        checked_samples(classes, samples, min_per_class, say)
        if min_per_class
        else keep_copies_together(classes, samples)
    )
    if emphasis:
        samples = [replace(s, weight=emphasis.get(s.path.name, 1.0)) for s in samples]
    if normal_class is not None and normal_class not in classes:
        raise ValueError(f"--normal-class '{normal_class}' is not one of the class folders ({', '.join(classes)})")
    train_set, val_set = grouped_split(samples, val_fraction, config.seed)
    say(
        f"{len(samples)} photos in {len(classes)} classes ({', '.join(classes)}); "
        f"{len(train_set)} train / {len(val_set)} validation; "
        f"{sum(s.mask_path is not None for s in samples)} with masks."
    )
    model = pretrained_model(config.arch, len(classes), pretrained, say)
    set_output_stride(model, config.output_stride)
    net = ClassMapNet(model, config.arch, Pooling.from_json(config.pooling))
    config, planning = plan_for_data(config, classes, samples, len(train_set), net, say)
    if line := sampling_line(classes, train_set, config.sampling):
        say(line)
    bundle = Bundle(
        name=name or Path(out_dir).name,
        arch=config.arch,
        classes=classes,
        input_size=list(config.image_size),
        fit=config.fit,
        pooling=dict(config.pooling),
        output_stride=config.output_stride,
        subject=subject,
        detail_layer=DETAIL_LAYERS.get(config.arch),
        description=description,
        normal_class=normal_class,
        thresholds=dict(DEFAULTS),
    )
    if severity:
        order = parse_severity(severity, classes)
        bundle.severity = {"order": order, "reason": severity_reason or "set with train --severity"}
    bundle.normal_class = normal_class_of(bundle)  # stored explicitly; checked by the policy below
    started = time.monotonic()
    result = train(net, train_set, val_set, config, bundle.mean, bundle.std, on_epoch, on_step)
    kept = f"best epoch {result.best_epoch}" if result.best_epoch else "no epoch beat the starting weights: kept"
    if config.keep == "last":
        kept = f"kept the last epoch's weight average ({result.best_epoch}): no epoch chosen by the validation split"
    say(
        f"Training stopped ({result.stopped_because}) after {len(result.history)} epochs in "
        f"{time.monotonic() - started:.0f} s; {kept}."
    )
    if result.moved_defects:
        say(
            f"{result.moved_defects} defects with a defect-removed counterpart were also moved onto other clean "
            "photos during training (half the times they were drawn)."
        )
    flip_record = choose_flip_tta(bundle, result, val_set, config, say)
    _describe(bundle, result, config, train_set, val_set, str(data_dir))
    bundle.training["masks"] = str(masks_dir) if masks_dir else None  # retraining uses them again
    bundle.training.update(flip_record)
    bundle.training["group_by"] = group_by  # retraining keeps the same groups apart
    bundle.training["val_fraction"] = val_fraction
    bundle.training["moved_defects"] = result.moved_defects
    bundle.training.update(planning)
    fit_trust(bundle, result, train_set, val_set, config, Path(out_dir))
    say(
        f"Review threshold {bundle.thresholds.get('review')}; unknown-photo threshold "
        f"{bundle.novelty.get('threshold')}."
    )
    saved = save_bundle(bundle, net.model, out_dir)
    fit_reduced_precision_detectors(saved, train_set, val_set, result.cache, say)
    if baseline and val_set:
        saved.baseline = validation_baseline(saved, [s.path for s in val_set])
        write_metadata(saved)
    return saved


def _describe(bundle: Bundle, result: TrainResult, config: TrainConfig, train_set, val_set, data_dir: str) -> None:
    """Fill in the decision thresholds, temperature, validation metrics and the training record."""
    if bundle.normal_class is not None:
        bundle.thresholds["good_min"] = round(config.miss_cost / (config.miss_cost + 1.0), 4)
    bundle.training = {
        "data": data_dir,
        "config": asdict(config),
        "history": result.history,
        "best_epoch": result.best_epoch,
        "stopped_because": result.stopped_because,
        "split": {
            "train": sorted(str(s.path.name) for s in train_set),
            "validation": sorted(str(s.path.name) for s in val_set),
        },
    }
    if not len(result.val_labels):
        return
    logits, labels = result.val_logits, result.val_labels
    bundle.temperature = round(calibration.fit_temperature(logits, labels), 4)
    before = torch.softmax(logits, 1).numpy()
    policy = DecisionPolicy.from_bundle(bundle)
    after = policy.calibrate(logits).numpy()
    predicted = policy.decide_labels(after)
    metrics = classification_metrics(labels.numpy(), predicted, bundle.classes)
    metrics["defect_recall"] = defect_recall(labels.numpy(), predicted, bundle.classes, bundle.normal_class)
    metrics["calibration"] = {
        "ece_before": round(calibration.expected_calibration_error(before, labels.numpy()), 4),
        "ece_after": round(calibration.expected_calibration_error(after, labels.numpy()), 4),
        "nll_before": round(calibration.nll(logits, labels), 4),
        "nll_after": round(calibration.nll(logits, labels, bundle.temperature), 4),
    }
    bundle.metrics = {"validation": metrics}


def sampling_line(classes: list[str], train_set, sampling: str) -> str | None:
    """Return one line on how training draws imbalanced classes (each one's share of the draws), or None when
    photos are simply shuffled."""
    if not classes_imbalanced(train_set):
        return None
    weights = draw_weights(train_set, sampling)
    drawn = np.bincount([s.label for s in train_set], weights=weights, minlength=len(classes))
    shares = ", ".join(f"{name} {share:.0%}" for name, share in zip(classes, drawn / drawn.sum(), strict=True))
    return f"Training draws the classes {SAMPLING[sampling][1]} (--sampling {sampling}): {shares} of the draws."
