"""``defectsort retrain``: a better model from the inspectors' corrections, behind a promotion gate.

Exit codes: 0 the candidate passed the gate, 3 it did not (the bundle is still written, marked
not promoted), 2 nothing could be trained.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from core.cli.progress import batch_updater, progress_bar
from core.model.bundle import BundleError
from core.model.promotion import promote
from core.model.registry import resolve_bundle
from core.training.report import write_training_report
from core.training.retrain import RETRAIN_IMAGES, retrain

EXIT_NOT_PROMOTED = 3


def add_parser(subparsers: argparse._SubParsersAction, name: str) -> None:
    """Register the sub-command and its options."""
    parser = subparsers.add_parser(
        name,
        help="retrain a model with corrections, compare it, promote it",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("bundle", metavar="BUNDLE", help="the current model: a name, NAME@VERSION or a folder")
    parser.add_argument(
        "--corrections",
        nargs="+",
        type=Path,
        required=True,
        metavar="SRC",
        help="the session journal, results.json/csv exported by the window, or class folders",
    )
    parser.add_argument("--out", type=Path, required=True, metavar="NEW_BUNDLE", help="folder of the candidate")
    parser.add_argument("--data", type=Path, metavar="BASE_DIR", help="base training photos (default: the model's)")
    parser.add_argument("--holdout", type=Path, metavar="DIR", help="more labelled photos to compare the models on")
    parser.add_argument(
        "--train-images",
        type=float,
        default=RETRAIN_IMAGES,
        metavar="IMAGES",
        help="training images to draw, counted at 224x224 (default %(default)g; 3 to 12 epochs); the same "
        "corrections give the same candidate on a quiet or a busy computer",
    )
    parser.add_argument("--promote", action="store_true", help="install a candidate that passes as the default")


def run(args: argparse.Namespace) -> int:
    """Retrain, compare, print the verdict. :returns: 0 passed, 3 not passed, 2 could not run."""
    bar = progress_bar(0, "Retraining", unit="batch")
    try:
        parent = resolve_bundle(args.bundle)
        outcome = retrain(
            parent,
            args.corrections,
            args.out,
            base_data=args.data,
            holdout_dir=args.holdout,
            train_images=args.train_images,
            say=bar.write,
            on_step=batch_updater(bar),
        )
    except (BundleError, ValueError, OSError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    finally:
        bar.close()
    for problem in outcome.problems:
        print(f"skipped: {problem}", file=sys.stderr)
    candidate = outcome.bundle
    write_training_report(candidate, candidate.weights_path.parent)
    print(f"Candidate {candidate.name} {candidate.version} written to {candidate.weights_path.parent}")
    for reason in outcome.reasons:
        print(f"  {reason}")
    print(outcome.headline)
    if not outcome.passed:
        print("Verdict: NOT promoted (the current model stays in use).")
        return EXIT_NOT_PROMOTED
    print("Verdict: passes the promotion gate.")
    if args.promote:
        print(f"Installed as the version in use: {promote(candidate)}")
    return 0
