"""``defectsort train``: fine-tune a model on class folders and write a bundle."""

from __future__ import annotations

import sys
from pathlib import Path

from core.cli.progress import batch_updater, progress_bar
from core.inference.runtime import USERS_BACKEND
from core.model.network import SUPPORTED_ARCHS, Pooling
from core.training.anomaly.build import AnomalyConfig
from core.training.anomaly.head_fit import HeadSettings
from core.training.anomaly.pipeline import train_anomaly_bundle
from core.training.protocol import Protocol, train_honestly
from core.training.report import write_training_report
from core.training.trainer import SAMPLING, TrainConfig


def add_parser(subparsers, name: str) -> None:
    """Register the sub-command and its options."""
    defaults = TrainConfig()
    parser = subparsers.add_parser(name, help="train a model from folders of labelled photos", description=__doc__)
    parser.add_argument("data_dir", type=Path, metavar="DATA_DIR", help="one sub-folder of photos per class")
    parser.add_argument("--out", type=Path, required=True, metavar="BUNDLE_DIR", help="bundle folder to write")
    parser.add_argument("--name", help="bundle name (default: the folder name)")
    parser.add_argument("--arch", default=defaults.arch, choices=SUPPORTED_ARCHS)
    parser.add_argument("--pretrained", type=Path, metavar="PATH", help="backbone state_dict (torchvision layout)")
    parser.add_argument("--epochs", type=int, default=defaults.epochs, help="upper bound on epochs")
    parser.add_argument(
        "--time-budget",
        type=float,
        default=defaults.time_budget_s / 60,
        metavar="MINUTES",
        help="plan the epochs to fit this many minutes",
    )
    parser.add_argument(
        "--image-size", type=int, nargs=2, metavar=("H", "W"), help="model input (default: chosen from the photos)"
    )
    parser.add_argument(
        "--fit",
        choices=("auto", "stretch", "pad"),
        default="auto",
        help="resize photos to the input's shape, or pad them to keep their aspect ratio (auto: by the photos)",
    )
    parser.add_argument(
        "--grey",
        choices=("auto", "yes", "no"),
        default="no",
        help="the photos come from a grey camera: augmented copies stay grey (auto: when every photo is grey; "
        "default no: on the tile look-alike it did not pay, see the README)",
    )
    parser.add_argument(
        "--tta",
        choices=("auto", "off", "hflip"),
        default="auto",
        help="also classify each photo mirrored and average (auto: only where it raises validation macro-F1)",
    )
    parser.add_argument(
        "--keep",
        choices=("best", "last"),
        default=defaults.keep,
        help="the epoch to keep: the last of the whole schedule (default), or the best on the validation split",
    )
    parser.add_argument(
        "--sampling",
        choices=tuple(SAMPLING),
        default=defaults.sampling,
        help="imbalanced classes: drawn by the square root of their photo counts (default), or each equally often",
    )
    parser.add_argument("--batch-size", type=int, help="photos per step (default: by the input size)")
    parser.add_argument("--lr", type=float, help="learning rate (default: by the batch size)")
    parser.add_argument("--val-fraction", type=float, default=0.2)
    parser.add_argument("--seed", type=int, default=defaults.seed)
    parser.add_argument("--loss", choices=("ce", "focal"), default=defaults.loss)
    parser.add_argument(
        "--miss-cost",
        type=float,
        default=defaults.miss_cost,
        help="how many false alarms a missed defect is worth (needs a 'good' class)",
    )
    parser.add_argument("--group-by", metavar="REGEX", help="files whose names give the same group stay together")
    parser.add_argument("--masks", type=Path, metavar="DIR", help="defect masks (<photo stem>.png) for the heatmap")
    parser.add_argument("--pooling", choices=("avg", "max", "lse"), default="avg", help="how class maps pool")
    parser.add_argument("--output-stride", type=int, choices=(16, 32), default=defaults.output_stride)
    parser.add_argument("--subject", default="image", help="what the photos show, for explanations")
    parser.add_argument(
        "--normal-class",
        metavar="NAME",
        help="the class meaning 'no defect' (default: 'good' when there is such a class)",
    )
    parser.add_argument("--description", default="", help="one line stored in model.json")
    parser.add_argument(
        "--severity",
        metavar="A,B,C",
        help="every class, worst first: a phone's verdict is its worst photo (e.g. stain,scratch,oil,good)",
    )
    parser.add_argument(
        "--anomaly",
        action="store_true",
        help="DATA_DIR holds good photos only (a 'defect' sub-folder of known-bad ones is used for metrics): "
        "build an anomaly model (classes good / anomalous) instead of a classifier",
    )
    parser.add_argument(
        "--false-alarm-rate",
        type=float,
        default=0.01,
        metavar="F",
        help="with --anomaly or --anomaly-head: the share of held-out good photos allowed above the threshold",
    )
    parser.add_argument(
        "--no-decode-variation",
        dest="decode_variation",
        action="store_false",
        help="decode training photos only the engine's way (the recipe before decode variation)",
    )
    parser.add_argument(
        "--no-defect-synthesis",
        dest="defect_synthesis",
        action="store_false",
        help="never move masked defects onto other clean photos (the recipe before defect synthesis)",
    )
    parser.add_argument(
        "--anomaly-head",
        action="store_true",
        help="also fit an anomaly head on the good training photos (needs a 'good' class): a photo unlike every "
        "good one goes to Review even when the classifier says good",
    )
    parser.add_argument("--severity-reason", default="", metavar="TEXT", help="why this order (kept in model.json)")
    add_protocol_arguments(parser)


def add_protocol_arguments(parser) -> None:
    """The honest-measurement options ``train`` and ``evaluate`` share (:mod:`core.training.protocol`)."""
    parser.add_argument(
        "--cv",
        type=int,
        default=0,
        metavar="K",
        help="grouped K-fold cross-validation (a model per fold; figures with their spread): K trainings, "
        "and one more for train's own model",
    )
    parser.add_argument(
        "--test-share",
        type=float,
        default=0.0,
        metavar="S",
        help="set about this share of each class (whole groups) aside as a test split nothing tunes on",
    )
    parser.add_argument(
        "--cv-conditions",
        action="store_true",
        help="with --cv: also measure each held-out fold under the 10 camera conditions",
    )
    parser.add_argument(
        "--keep-folds",
        type=Path,
        metavar="DIR",
        help="with --cv: keep each fold's model in DIR/fold-N (its model.json names the photos it trained on)",
    )


def run(args) -> int:
    """Train, write the bundle and its report. :returns: the exit code."""
    if args.anomaly:
        return _run_anomaly(args)
    given = {
        "image_size": tuple(args.image_size) if args.image_size else None,
        "fit": None if args.fit == "auto" else args.fit,
        "batch_size": args.batch_size,
        "lr": args.lr,
        "grey": None if args.grey == "auto" else args.grey == "yes",
    }
    config = TrainConfig(
        **{name: value for name, value in given.items() if value is not None},
        choose=tuple(name for name, value in given.items() if value is None),
        arch=args.arch,
        epochs=args.epochs,
        loss=args.loss,
        tta=args.tta,
        seed=args.seed,
        miss_cost=args.miss_cost,
        pooling=Pooling(kind=args.pooling).to_json(),
        output_stride=args.output_stride,
        time_budget_s=args.time_budget * 60,
        decode_variation=args.decode_variation,
        defect_synthesis=args.defect_synthesis,
        keep=args.keep,
        sampling=args.sampling,
    )
    bar = progress_bar(0, "Epoch 1", unit="batch")

    def on_epoch(record: dict) -> None:
        bar.write(
            f"epoch {record['epoch']}/{record['epochs_planned']}: train loss {record['train_loss']:.3f} "
            f"acc {record['train_accuracy']:.3f} | val loss {record['val_loss']:.3f} "
            f"acc {record['val_accuracy']:.3f} macro-F1 {record['val_macro_f1']:.3f} | {record['seconds']:.0f} s"
        )
        bar.reset()
        bar.set_description(f"Epoch {record['epoch'] + 1}")

    options = {
        "pretrained": args.pretrained,
        "val_fraction": args.val_fraction,
        "group_by": args.group_by,
        "masks_dir": args.masks,
        "name": args.name,
        "subject": args.subject,
        "normal_class": args.normal_class,
        "description": args.description,
        "severity": args.severity,
        "severity_reason": args.severity_reason,
    }
    head = HeadSettings(false_alarm_rate=args.false_alarm_rate) if args.anomaly_head else None
    as_users_run = {"backend": USERS_BACKEND}  # the folds and the test split are measured as users will run the model
    protocol = Protocol(args.cv, args.test_share, args.cv_conditions, as_users_run, head, keep_folds=args.keep_folds)
    try:
        bundle, _ = train_honestly(
            args.data_dir,
            args.out,
            config,
            protocol,
            options,
            say=bar.write,
            on_epoch=on_epoch,
            on_step=batch_updater(bar),
        )
    except (ValueError, OSError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    finally:
        bar.close()
    assert bundle is not None  # an output folder was given
    if bundle.severity:
        print(f"Severity, worst first: {', '.join(bundle.severity['order'])}.")
    write_training_report(bundle, bundle.weights_path.parent)
    validation = bundle.metrics.get("validation", {})
    print(
        f"Bundle written to {bundle.folder}: validation accuracy {validation.get('accuracy', 'n/a')}, "
        f"macro-F1 {validation.get('macro_f1', 'n/a')}, temperature {bundle.temperature}."
    )
    return 0


def _run_anomaly(args) -> int:
    """Build an anomaly bundle from good photos. :returns: the exit code."""
    config = AnomalyConfig(
        arch=args.arch, false_alarm_rate=args.false_alarm_rate, seed=args.seed, time_budget_s=args.time_budget * 60
    )
    if args.image_size:  # else chosen by a drawn-defect check on held-out good photos
        config.image_size = (args.image_size[0], args.image_size[1])
        config.fit = "stretch" if args.fit == "auto" else args.fit
    try:
        bundle = train_anomaly_bundle(
            args.data_dir, args.out, config, args.pretrained, args.name, args.subject, say=print
        )
    except (ValueError, OSError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    metrics, meta = bundle.metrics["validation"], bundle.anomaly
    found = (
        f", image AUROC {metrics['auroc']} on the {metrics['defect_photos']} defect photos"
        if "auroc" in metrics
        else ""
    )
    print(
        f"Anomaly bundle written to {bundle.folder} in {bundle.training['seconds']:.0f} s: {meta['bank_size']} good "
        f"patches, threshold {meta['threshold']}; {metrics['false_alarms']:.1%} of {metrics['held_out_good']} "
        f"held-out good photos above it{found}."
    )
    return 0
