"""``defectsort classify``: classify photos, folders and ZIPs; write JSON, CSV, sorted copies, overlays."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from core.bundle import BundleError
from core.cli.progress import batch_updater, progress_bar
from core.engine import Engine
from core.export import results_document, sort_copies, summary, write_csv, write_json, write_overlays
from core.registry import resolve_bundle
from core.sources import collect_items


def add_parser(subparsers, name: str) -> None:
    """Register the sub-command and its options."""
    parser = subparsers.add_parser(name, help="classify photos, folders and ZIP archives", description=__doc__)
    parser.add_argument("paths", nargs="+", metavar="PATH", help="image files, folders or ZIP archives")
    parser.add_argument("--model", metavar="NAME|DIR", help="bundle name or folder (default: the phone model)")
    parser.add_argument("--out", metavar="DIR", type=Path, help="output folder for --sort and --overlays")
    parser.add_argument("--json", metavar="FILE", type=Path, help="write results as JSON")
    parser.add_argument("--csv", metavar="FILE", type=Path, help="write results as CSV")
    parser.add_argument("--sort", action="store_true", help="copy photos into OUT/<label>/")
    parser.add_argument("--overlays", action="store_true", help="write heatmap overlays into OUT/overlays/")
    parser.add_argument("--batch-size", type=int, metavar="N", help="photos per forward pass (default: by input size)")
    parser.add_argument("--threads", type=int, metavar="N", help="CPU threads for the model")
    parser.add_argument("--precision", choices=("fp32", "bf16", "auto"), default="fp32",
                        help="fp32 (exact, default); bf16 is faster on CPUs with native bfloat16, results move slightly")


def run(args: argparse.Namespace) -> int:
    """Classify everything, write what was asked, print a summary. :returns: the exit code."""
    if (args.sort or args.overlays) and not args.out:
        print("error: --sort and --overlays need --out DIR", file=sys.stderr)
        return 2
    try:
        bundle = resolve_bundle(args.model)
        engine = Engine(bundle, batch_size=args.batch_size, threads=args.threads, precision=args.precision)
    except BundleError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    items = collect_items(args.paths)
    with progress_bar(len(items), "Classifying") as bar:
        predictions = list(engine.classify(items, progress=batch_updater(bar)))
    document = results_document(predictions, bundle)
    try:
        _write_outputs(args, predictions, document, bundle.classes)
    except OSError as error:
        print(f"error: cannot write results: {error}", file=sys.stderr)
        return 2
    _print_summary(predictions, bundle)
    return 1 if any(not p.ok for p in predictions) or not predictions else 0


def _write_outputs(args, predictions, document, classes) -> None:
    if args.json:
        write_json(args.json, document)
    if args.csv:
        write_csv(args.csv, document, classes)
    def report(prediction, reason: str) -> None:
        print(f"error: {prediction.source}: {reason}", file=sys.stderr)

    if args.sort:
        sort_copies(args.out, predictions, on_error=report)
    if args.overlays:
        write_overlays(args.out / "overlays", predictions, on_error=report)


def _print_summary(predictions, bundle) -> None:
    counts = summary(predictions)
    for prediction in predictions:
        if not prediction.ok:
            print(f"error: {prediction.source}: {prediction.error}", file=sys.stderr)
    labels = ", ".join(f"{label} {count}" for label, count in counts["by_label"].items()) or "nothing"
    print(f"Classified {counts['total'] - counts['errors']} of {counts['total']} items with "
          f"{bundle.name} {bundle.version}: {labels}; {counts['errors']} errors.")
