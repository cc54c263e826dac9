"""``defectsort classify``: classify photos, folders and ZIPs; write JSON, CSV, sorted copies, overlays."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path

from core.bundle import Bundle, BundleError
from core.cli.backend_args import add_backend_arguments, engine_options
from core.cli.progress import batch_updater, progress_bar
from core.engine import Engine, ProgressCallback
from core.export import (
    Overlays,
    SortedCopies,
    results_document,
    summary,
    write_csv,
    write_json,
)
from core.prediction import Prediction
from core.reader import SourceReader
from core.registry import resolve_bundle
from core.sources import collect_items, iter_items


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
    parser.add_argument(
        "--precision",
        choices=("fp32", "bf16", "auto"),
        default="fp32",
        help="fp32 (exact, default); bf16 (torch backend) is faster on CPUs with native bfloat16, results move",
    )
    add_backend_arguments(parser)
    parser.add_argument(
        "--cluster",
        metavar="auto|ADDRESS",
        help='run on a Ray cluster (auto: a local one; needs pip install "defectsort[cluster]" and photos every '
        "node can read)",
    )
    parser.add_argument("--actors", type=int, default=2, metavar="N", help="with --cluster: model copies (actors)")


def run(args: argparse.Namespace) -> int:
    """Classify everything, write what was asked, print a summary. :returns: the exit code."""
    if (args.sort or args.overlays) and not args.out:
        print("error: --sort and --overlays need --out DIR", file=sys.stderr)
        return 2
    try:
        bundle = resolve_bundle(args.model)
        results = _cluster_results(bundle, args) if args.cluster else _local_results(bundle, args)
    except (BundleError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    try:
        predictions = _write_as_they_come(results, args)
        document = results_document(predictions, bundle)
        if args.json:
            write_json(args.json, document)
        if args.csv:
            write_csv(args.csv, document, bundle.classes)
    except OSError as error:
        print(f"error: cannot write results: {error}", file=sys.stderr)
        return 2
    _print_summary(predictions, bundle)
    return 1 if any(not p.ok for p in predictions) or not predictions else 0


ResultsOf = Callable[[ProgressCallback], Iterator[Prediction]]


def _local_results(bundle: Bundle, args: argparse.Namespace) -> ResultsOf:
    """:returns: the local engine's results, classified as the sources are walked."""
    engine = Engine(
        bundle, batch_size=args.batch_size, threads=args.threads, precision=args.precision, **engine_options(args)
    )
    return lambda progress: engine.classify(iter_items(args.paths), progress=progress)


def _cluster_results(bundle: Bundle, args: argparse.Namespace) -> ResultsOf:
    """:returns: the results of a Ray cluster (:mod:`core.cluster`), in input order."""
    from core.cluster import classify_on_cluster, require_ray

    require_ray()  # before anything runs: without the extra, say how to install it
    items = collect_items(args.paths)
    options = {"actors": args.actors, "batch_size": args.batch_size or 16, "backend": args.backend}
    return lambda progress: classify_on_cluster(items, bundle, args.cluster, **options)


def _write_as_they_come(results: ResultsOf, args: argparse.Namespace) -> list[Prediction]:
    """Copy and draw each photo as its result comes.

    :returns: the predictions without their pixel arrays (memory stays flat however many photos)
    """

    def report(prediction: Prediction, reason: str) -> None:
        print(f"error: {prediction.source}: {reason}", file=sys.stderr)

    kept = []
    with SourceReader() as reader, progress_bar(0, "Classifying") as bar:
        writers: list[SortedCopies | Overlays] = [SortedCopies(args.out, reader, on_error=report)] if args.sort else []
        if args.overlays:
            writers.append(Overlays(args.out / "overlays", reader, on_error=report))
        for prediction in results(batch_updater(bar)):
            for writer in writers:
                writer.add(prediction)
            kept.append(replace(prediction, heatmap=None, thumbnail=None))
    return kept


def _print_summary(predictions: list[Prediction], bundle: Bundle) -> None:
    counts = summary(predictions)
    for prediction in predictions:
        if not prediction.ok:
            print(f"error: {prediction.source}: {prediction.error}", file=sys.stderr)
    labels = ", ".join(f"{label} {count}" for label, count in counts["by_label"].items()) or "nothing"
    print(
        f"Classified {counts['total'] - counts['errors']} of {counts['total']} items with "
        f"{bundle.name} {bundle.version}: {labels}; {counts['errors']} errors."
    )
