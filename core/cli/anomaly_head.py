"""``defectsort add-anomaly-head``: teach a classifier to flag defects not in its classes (from its good photos)."""

from __future__ import annotations

import sys
from pathlib import Path

from core.model.bundle import BundleError
from core.model.registry import resolve_bundle
from core.training.anomaly.head_fit import HeadSettings, fit_anomaly_head


def add_parser(subparsers, name: str) -> None:
    """Register the sub-command and its options."""
    parser = subparsers.add_parser(
        name, help="add an anomaly head to a classifier (possible defects not in its classes)", description=__doc__
    )
    parser.add_argument("bundle", metavar="BUNDLE", help="bundle folder or name")
    parser.add_argument("data_dir", type=Path, metavar="DATA_DIR", help="the class folders the bundle was trained on")
    parser.add_argument("--masks", type=Path, metavar="DIR", help="defect masks: adds the pointing score")
    defaults = HeadSettings()
    parser.add_argument(
        "--bank-size", type=int, default=defaults.bank_size, metavar="N", help="good patches kept (cost grows with it)"
    )
    parser.add_argument("--false-alarm-rate", type=float, default=defaults.false_alarm_rate, metavar="F")
    parser.add_argument(
        "--threshold-folds",
        type=int,
        default=defaults.threshold_folds,
        metavar="K",
        help="set the threshold from every good photo, each scored against a bank of the other K-1 folds "
        "(0: from a fifth of them, scored against a bank of the rest)",
    )


def run(args) -> int:
    """Fit, store and report. :returns: the exit code."""
    try:
        bundle = resolve_bundle(args.bundle)
        settings = HeadSettings(args.bank_size, args.false_alarm_rate, args.threshold_folds)
        metrics = fit_anomaly_head(bundle, args.data_dir, args.masks, settings)
    except (BundleError, ValueError, OSError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(
        f"Anomaly head written to {bundle.folder}: on the validation split, image AUROC {metrics['auroc']} "
        f"({metrics['defect_photos']} defective vs {metrics['good_photos']} good photos); at the threshold, false "
        f"alarms {metrics['false_alarms']}, defects above it {metrics['defects_above_threshold']}; map peak "
        f"inside the defect {metrics['pointing']} ({metrics['masks']} masks)."
    )
    return 0
