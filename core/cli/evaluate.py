"""``defectsort evaluate``: accuracy, macro-F1, per-class scores and confusion of a bundle on class folders."""

from __future__ import annotations

import sys
from pathlib import Path

from core.cli.backend_args import add_backend_arguments, engine_options
from core.cli.progress import batch_updater, progress_bar
from core.cli.train import add_protocol_arguments
from core.model.bundle import Bundle, BundleError, write_metadata
from core.model.registry import resolve_bundle
from core.photos.conditions import CONDITIONS
from core.results.files import write_json
from core.training.evaluate import evaluate_bundle
from core.training.protocol import Protocol, recipe_of, train_honestly
from core.training.report import plot_confusion, plot_per_class, plot_reliability
from core.training.robustness import GOALS, robustness_report


def add_parser(subparsers, name: str) -> None:
    """Register the sub-command and its options."""
    parser = subparsers.add_parser(name, help="measure a model on folders of labelled photos", description=__doc__)
    parser.add_argument("bundle", metavar="BUNDLE_DIR", help="bundle folder or name")
    parser.add_argument("data_dir", type=Path, metavar="DATA_DIR", help="one sub-folder of photos per class")
    parser.add_argument("--json", type=Path, metavar="FILE", help="write the metrics as JSON")
    parser.add_argument("--report", type=Path, metavar="DIR", help="write charts into DIR")
    parser.add_argument("--masks", type=Path, metavar="DIR", help="defect masks: adds the heatmap pointing score")
    parser.add_argument(
        "--foreign",
        type=Path,
        metavar="DIR",
        help="photos of other products: measures how well unknown photos are flagged",
    )
    parser.add_argument("--only-validation", action="store_true", help="only the bundle's own validation photos")
    parser.add_argument(
        "--conditions",
        action="store_true",
        help="measure under other photo conditions (darker, brighter, warmer, JPEG, 1280x720, rotated, off-centre, "
        "soft focus, noise): each photo is re-rendered, masks moved along",
    )
    parser.add_argument("--batch-size", type=int, help="photos per forward pass (default: by input size)")
    parser.add_argument(
        "--set-baseline",
        action="store_true",
        help="store what these photos look like (class mix, confidence, unknown share) in model.json as the drift "
        "baseline of classify --report; use with --only-validation",
    )
    parser.add_argument(
        "--pretrained",
        type=Path,
        metavar="PATH",
        help="with --cv: the backbone weights each fold's model starts from (as train --pretrained)",
    )
    add_protocol_arguments(parser)
    add_backend_arguments(parser)


def run(args) -> int:
    """Evaluate and print a summary. :returns: the exit code."""
    if args.cv:
        return _run_cross_validation(args)
    if args.conditions:
        return _run_conditions(args)
    try:
        bundle = resolve_bundle(args.bundle)
        with progress_bar(0, "Evaluating") as bar:  # the engine reports the total
            metrics = evaluate_bundle(
                bundle,
                args.data_dir,
                args.masks,
                args.only_validation,
                args.batch_size,
                batch_updater(bar),
                args.foreign,
                **engine_options(args),
            )
    except (BundleError, ValueError, OSError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    if args.json:
        write_json(args.json, metrics)
    if args.set_baseline:
        _set_baseline(bundle, metrics, args.only_validation)
    if args.report:
        _write_report(metrics, args.report)
    _print_summary(metrics)
    return 0


def _run_conditions(args) -> int:
    """Measure the bundle under every photo condition; a ``!`` marks a number short of its goal."""
    try:
        bundle = resolve_bundle(args.bundle)
        print(f"Each photo re-rendered under {len(CONDITIONS)} conditions (goals: {GOALS}):")
        rows = robustness_report(
            bundle,
            args.data_dir,
            args.masks,
            args.only_validation,
            foreign_dir=args.foreign,
            engine_options=engine_options(args),
        )
    except (BundleError, ValueError, OSError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    if args.json:
        write_json(args.json, {"conditions": rows, "goals": GOALS})
    return 0


def _run_cross_validation(args) -> int:
    """Train the bundle's recipe once per fold of DATA_DIR and measure each model on the photos it never saw."""
    try:
        bundle = resolve_bundle(args.bundle)
        config, options, head = recipe_of(bundle, args.masks, args.pretrained)
        protocol = Protocol(
            args.cv, args.test_share, args.cv_conditions, engine_options(args), head, keep_folds=args.keep_folds
        )
        print(f"The recipe of '{bundle.name}' (from its model.json), trained again once per fold on {args.data_dir}.")
        _, figures = train_honestly(args.data_dir, None, config, protocol, options)
    except (BundleError, ValueError, OSError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    if args.json:
        write_json(args.json, figures)
    return 0


def _set_baseline(bundle: Bundle, metrics: dict, only_validation: bool) -> None:
    """Write the drift baseline (the photos' profile and the runtime that measured it) into the bundle's model.json."""
    profile = metrics["profile"]
    photos = "validation photos" if only_validation else "photos (not only validation ones)"
    bundle.baseline = {**profile, "measured_on": f"{profile['photos']} {photos}", "runtime": metrics["runtime"]}
    write_metadata(bundle)
    print(f"Drift baseline stored in {bundle.folder}: {bundle.baseline['measured_on']} on {metrics['runtime']}.")


def _write_report(metrics: dict, folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    plot_confusion(metrics, folder / "confusion_matrix.png")
    plot_per_class(metrics, folder / "per_class.png")
    if "calibration" in metrics:
        plot_reliability(metrics["calibration"]["bins"], folder / "reliability.png", metrics["calibration"]["ece"])


def _print_summary(metrics: dict) -> None:
    print(
        f"accuracy {metrics['accuracy']:.4f}  macro-F1 {metrics['macro_f1']:.4f}  "
        f"defect recall {metrics.get('defect_recall')}"
    )
    for name, scores in metrics["per_class"].items():
        print(
            f"  {name:>12}: precision {scores['precision']:.3f} recall {scores['recall']:.3f} "
            f"F1 {scores['f1']:.3f} (n={scores['support']})"
        )
    calibration = metrics.get("calibration", {})
    print(
        f"expected calibration error {calibration.get('ece')}; sent to review {metrics['review']['review_share']}, "
        f"accuracy of the rest {metrics['review']['accuracy_not_reviewed']}"
    )
    if "localisation" in metrics:
        pointing, iou = metrics["localisation"]["pointing"], metrics["localisation"]["box_iou"]
        print(f"heatmap peak inside the defect: {pointing['overall']} {pointing['per_class']}")
        print(f"box IoU with the defect: {iou['overall']} {iou['per_class']}")
    if "anomaly" in metrics:
        anomaly = metrics["anomaly"]
        print(
            f"anomaly: image AUROC {anomaly['auroc']} ({anomaly['good_photos']} good, {anomaly['defective_photos']} "
            f"defective); at the threshold: false alarms {anomaly['false_alarm_rate']}, defects found "
            f"{anomaly['defects_found']}"
        )
    if "novelty" in metrics:
        novelty = metrics["novelty"]
        print(f"unknown photos: AUROC {novelty['auroc']}; flagged {novelty['flagged']}")
    for error in metrics["errors"][:20]:
        print(f"  wrong: {error['source']}: {error['true']} -> {error['predicted']} ({error['confidence']})")
