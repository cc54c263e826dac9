"""``defectsort classify``: classify photos, folders and ZIPs; write JSON, CSV, sorted copies, overlays."""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

from core.cli.backend_args import add_backend_arguments, engine_options
from core.cli.progress import batch_updater, progress_bar
from core.inference.engine import Engine, ProgressCallback
from core.inference.prediction import ERROR, Prediction
from core.journal.run_log import JOURNAL_FILE, RunJournal
from core.model.bundle import Bundle, BundleError
from core.model.registry import resolve_bundle
from core.photos.reader import SourceReader
from core.photos.sources import ImageItem, SourceRef, iter_items
from core.results.copies import Overlays, SortedCopies
from core.results.final import final_decision
from core.results.phones import PhoneGrouping
from core.results.pipeline import OverlaysOf, ResultsRequest, WrittenResults, result_item, write_results
from core.results.report.overlays import overlay_uris


def add_parser(subparsers, name: str) -> None:
    """Register the sub-command and its options."""
    parser = subparsers.add_parser(name, help="classify photos, folders and ZIP archives", description=__doc__)
    parser.add_argument("paths", nargs="+", metavar="PATH", help="image files, folders or ZIP archives")
    parser.add_argument("--model", metavar="NAME|DIR", help="bundle name or folder (default: the phone model)")
    parser.add_argument(
        "--out",
        metavar="DIR",
        type=Path,
        help="output folder: results.json, results.csv, the run journal (for --resume), --sort and --overlays",
    )
    parser.add_argument("--resume", action="store_true", help="skip the photos an earlier run into --out already did")
    parser.add_argument("--json", metavar="FILE", type=Path, help="write results as JSON (default: OUT/results.json)")
    parser.add_argument("--csv", metavar="FILE", type=Path, help="write results as CSV (default: OUT/results.csv)")
    parser.add_argument(
        "--group-by",
        metavar="REGEX|folder",
        help="one verdict per phone: the first capture group of a photo's name (or path) names its phone, "
        "or 'folder': the folder or ZIP folder holding it",
    )
    parser.add_argument("--phones", metavar="FILE", type=Path, help="write phone verdicts (default: OUT/phones.csv)")
    parser.add_argument("--report", metavar="DIR", type=Path, help="write report.html (charts, drift) into DIR")
    parser.add_argument(
        "--sort", action="store_true", help="copy photos into OUT/<class>/ (settled ones), OUT/review/ and OUT/unknown/"
    )
    parser.add_argument("--overlays", action="store_true", help="write heatmap overlays into OUT/overlays/")
    parser.add_argument("--batch-size", type=int, metavar="N", help="photos per forward pass (default: by input size)")
    parser.add_argument("--threads", type=int, metavar="N", help="CPU threads for the model")
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
    problem = _check_options(args)
    if problem:
        print(f"error: {problem}", file=sys.stderr)
        return 2
    try:
        bundle = resolve_bundle(args.model)
        grouping = PhoneGrouping(args.group_by) if args.group_by else None
        journal = RunJournal(args.out / JOURNAL_FILE, bundle, args.resume) if args.out else RunJournal.temporary(bundle)
    except (BundleError, ValueError, OSError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    try:
        with journal:
            finished, speed, failed = _classify_into(journal, bundle, grouping, args)
    except (BundleError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except OSError as error:
        print(f"error: cannot write results: {error}", file=sys.stderr)
        return 2
    _print_summary(finished, bundle, speed, failed)
    return 1 if finished.stats.statuses[ERROR] or not finished.stats.total else 0


def _classify_into(
    journal: RunJournal, bundle: Bundle, grouping: PhoneGrouping | None, args: argparse.Namespace
) -> tuple[WrittenResults, dict, int]:
    """Classify what the journal has not done yet, then write every result from it.

    :returns: what was written, this run's pace, and how many photos failed in this run
    """
    tally: Counter[str] = Counter()
    items = journal.walk(iter_items(args.paths), on_skip=lambda _: tally.update(["skipped"]))
    engine = None if args.cluster else _engine(bundle, args)
    results = _cluster_results(bundle, items, args) if engine is None else _local_results(engine, items)
    started = time.monotonic()
    new, failed = _write_as_they_come(results, journal, bundle.classes, args)
    seconds = time.monotonic() - started
    speed = {
        "new": new,
        "skipped": tally["skipped"],
        "seconds": round(seconds, 1),
        "photos_per_second": round(new / seconds, 2) if seconds else 0.0,
    }
    overlays_of = _overlays_maker(lambda: engine or _engine(bundle, args))
    request = _request(args, grouping, journal.run_id)
    return write_results(lambda: journal.items(journal.order), bundle, request, speed, overlays_of), speed, failed


def _check_options(args: argparse.Namespace) -> str | None:
    """Return what is wrong with the options together, or None."""
    if (args.sort or args.overlays or args.resume) and not args.out:
        return "--sort, --overlays and --resume need --out DIR"
    if args.phones and not args.group_by:
        return "--phones needs --group-by (which photos show the same phone)"
    return None


def _request(args: argparse.Namespace, grouping: PhoneGrouping | None, run_id: str) -> ResultsRequest:
    """Return the files to write: those named, and with --out the results (and phones) inside it."""
    out = args.out
    return ResultsRequest(
        json=args.json or (out / "results.json" if out else None),
        csv=args.csv or (out / "results.csv" if out else None),
        phones_csv=args.phones or (out / "phones.csv" if out and grouping else None),
        report=args.report,
        grouping=grouping,
        sources=[str(path) for path in args.paths],
        keep_history=out is not None,
        run_id=run_id,
    )


ResultsOf = Callable[[ProgressCallback], Iterator[Prediction]]


def _engine(bundle: Bundle, args: argparse.Namespace) -> Engine:
    """Return the local engine the options ask for."""
    return Engine(bundle, batch_size=args.batch_size, threads=args.threads, **engine_options(args))


def _local_results(engine: Engine, items: Iterable[ImageItem]) -> ResultsOf:
    """Return the local engine's results, classified as the sources are walked."""
    return lambda progress: engine.classify(items, progress=progress)


def _cluster_results(bundle: Bundle, items: Iterable[ImageItem], args: argparse.Namespace) -> ResultsOf:
    """Return the results of a Ray cluster (:mod:`core.inference.cluster`), in input order."""
    from core.inference.cluster import classify_on_cluster, require_ray

    require_ray()  # before anything runs: without the extra, say how to install it
    options = {"actors": args.actors, "batch_size": args.batch_size or 16, "backend": args.backend}
    return lambda progress: classify_on_cluster(list(items), bundle, args.cluster, **options)


def _write_as_they_come(
    results: ResultsOf, journal: RunJournal, classes: list[str], args: argparse.Namespace
) -> tuple[int, int]:
    """Journal, copy and draw each photo as its result comes; say at once why a photo failed.

    :returns: how many photos this run classified, and how many of them failed
    """

    def report(prediction: Prediction, reason: str) -> None:
        print(f"error: {prediction.source}: {reason}", file=sys.stderr)

    new = failed = 0
    with SourceReader() as reader, progress_bar(0, "Classifying") as bar:
        copies = SortedCopies(args.out, reader, classes, on_error=report) if args.sort else None
        overlays = Overlays(args.out / "overlays", reader, on_error=report) if args.overlays else None
        for prediction in results(batch_updater(bar)):
            new += 1
            if not prediction.ok:
                failed += 1
                bar.write(f"error: {prediction.source}: {prediction.error}", file=sys.stderr)
            final = final_decision(prediction)
            if copies is not None:
                copies.add(prediction, final)
            if overlays is not None:
                overlays.add(prediction)
            journal.append(prediction, result_item(prediction, final))
    return new, failed


def _overlays_maker(engine_of: Callable[[], Engine]) -> OverlaysOf:
    """Return what draws the report's overlays: the least certain photos are classified again (a few
    seconds) since their heatmaps are not kept, and an earlier run may have classified them."""

    def overlays_of(photos: list[dict]) -> dict[str, str]:
        items = [ImageItem(p["source"], p["name"], SourceRef.parse(p["source"])) for p in photos]
        return overlay_uris(list(engine_of().classify(items)))

    return overlays_of


def _print_summary(finished: WrittenResults, bundle: Bundle, speed: dict, failed: int) -> None:
    stats, summary = finished.stats, finished.summary
    sections = [*summary["by_label"].items(), ("in review", summary["review"]), ("unknown", summary["unknown"])]
    labels = ", ".join(f"{name} {count}" for name, count in sections if count) or "nothing"
    print(
        f"Classified {stats.classified} of {stats.total} items with {bundle.name} {bundle.version}: {labels}; "
        f"{summary['errors']} errors. This run: {speed['new']} new, {speed['skipped']} skipped "
        f"(already done), {failed} failed."
    )
    if finished.phones is not None:
        verdicts = Counter(phone.verdict for phone in finished.phones)
        print(f"{len(finished.phones)} phones: " + ", ".join(f"{v} {n}" for v, n in sorted(verdicts.items())))
    for flag in finished.drift["flags"]:
        print(f"drift: {flag['message']}")
