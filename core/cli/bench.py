"""``defectsort bench``: every runtime's speed against a naive loop and the eager ceiling, and, with ``--truth``,
its quality on photos the measuring models never saw, side by side with float32's, in one run.

* engine rows: the real path (read, decode, batch, forward, heatmaps, explanations) on each runtime (torch fp32,
  the reference; torch bf16; ONNX Runtime fp32; OpenVINO fp32, bf16 and mixed; int8 on both given photos to
  calibrate on), each with its agreement with torch fp32 (labels, largest probability shift, heatmap peak shift);
* eager ceiling: the same model's plain fp32 forward pass on random tensors of the input size;
* naive loop: full-size decode, resize, one forward pass per image, no heatmap;
* ``--truth DATA``: a model per fold of a grouped cross-validation of the bundle's recipe, every runtime measured
  on the held-out photos (:mod:`core.training.runtime_judge`), and the default the rule picks.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import TypeVar

import numpy as np
import torch
from PIL import Image

from core.inference.engine import Engine
from core.inference.runtime import (
    PAIRED_SIGNIFICANCE,
    choose_default,
    paired_differences,
    paired_losses,
    quality_losses,
    users_runtime,
)
from core.model.bundle import Bundle, BundleError, build_network
from core.model.registry import resolve_bundle
from core.photos.decode import open_upright
from core.photos.reader import read_once
from core.photos.samples import write_phone_photos
from core.photos.sources import ImageItem, collect_items
from core.results.files import write_json
from core.training.runtime_judge import CANDIDATES, REFERENCE, RUNTIMES, judge_runtimes, judged_numbers

T = TypeVar("T")


def add_parser(subparsers, name: str) -> None:
    """Register the sub-command."""
    parser = subparsers.add_parser(name, help="measure classification speed (and quality)", description=__doc__)
    parser.add_argument("paths", nargs="*", metavar="PATH", help="photos to time (default: --truth's, or generated)")
    parser.add_argument("--model", metavar="NAME|DIR")
    parser.add_argument("--count", type=int, default=200, help="generated photos when no PATH is given")
    parser.add_argument("--batch-size", type=int, help="photos per forward pass (default: by input size)")
    parser.add_argument("--threads", type=int)
    parser.add_argument(
        "--rounds", type=int, default=3, help="alternating timing rounds; medians and per-round ratios (default 3)"
    )
    parser.add_argument("--calibration", type=Path, metavar="DIR", help="photos of the product: adds int8 runtimes")
    parser.add_argument(
        "--truth",
        type=Path,
        metavar="DATA_DIR",
        help="class folders of labelled photos: judge every runtime on them by grouped cross-validation "
        "(a model per fold; minutes to hours)",
    )
    parser.add_argument("--masks", type=Path, metavar="DIR", help="with --truth: defect masks (adds pointing)")
    parser.add_argument("--pretrained", type=Path, metavar="PATH", help="with --truth: backbone weights for the folds")
    parser.add_argument("--cv", type=int, default=3, metavar="K", help="with --truth: folds (default 3)")
    parser.add_argument("--cv-conditions", action="store_true", help="with --truth: also under every camera condition")
    parser.add_argument(
        "--folds-from",
        type=Path,
        action="append",
        metavar="DIR",
        help="with --truth: the folds' models a cross-validation kept (train/evaluate --keep-folds): judged "
        "without training (the folds' own recipe); repeat it to pool several (repeated cross-validation)",
    )
    parser.add_argument(
        "--runtimes",
        type=lambda text: [name.strip() for name in text.split(",")],
        metavar="A,B",
        help=f"only these runtimes beside the reference ({', '.join(CANDIDATES)})",
    )
    parser.add_argument("--json", type=Path, metavar="FILE", help="write the speeds (and judgements) as JSON")


def run(args) -> int:
    """Print every runtime's throughput, the ratios, and (``--truth``) its quality beside float32's."""
    unknown = set(args.runtimes or ()) - set(CANDIDATES)
    if unknown:
        print(f"error: unknown runtime {', '.join(sorted(unknown))} (one of {', '.join(CANDIDATES)})")
        return 2
    try:
        bundle = resolve_bundle(args.model)
        if args.threads:
            torch.set_num_threads(args.threads)
        with tempfile.TemporaryDirectory(prefix="defectsort-bench-") as folder:
            paths = args.paths or ([args.truth] if args.truth else write_phone_photos(Path(folder) / "p", args.count))
            items = [item for item in collect_items(paths) if item.error is None]
            engines = _engines(bundle, args, Path(folder))  # made and timed before any judging
            speed = _measure(engines, items, max(1, args.rounds))
    except (BundleError, OSError) as error:
        print(f"error: {error}")
        return 2
    figures: dict = {"speed": speed}
    if args.truth:
        try:
            judged = judge_runtimes(
                bundle,
                args.truth,
                args.cv,
                args.cv_conditions,
                args.masks,
                args.pretrained,
                kept_folds=args.folds_from,
                candidates=args.runtimes,
            )
        except (BundleError, ValueError, OSError) as error:
            print(f"error: {error}")
            return 2
        figures["truth"] = judged
    if args.json:  # before the table: hours of measurement are kept whatever happens next
        write_json(args.json, figures)
    if args.truth:
        _print_judgement(figures["truth"], speed["runtimes"])
    return 0


def _engines(bundle: Bundle, args, scratch: Path) -> dict[str, Engine]:
    """Every runtime's engine on the bundle (the int8 ones when there are photos to calibrate on)."""
    calibration = args.calibration or args.truth
    engines = {}
    for name, options_for in RUNTIMES.items():
        if (name.endswith("int8") and not calibration) or (args.runtimes and name not in {REFERENCE, *args.runtimes}):
            continue
        options = options_for(bundle, [calibration] if calibration else [], scratch / name.replace(" ", "-"))
        engines[name] = Engine(bundle, batch_size=args.batch_size, **options)
    return engines


def _measure(engines: dict[str, Engine], items: list[ImageItem], rounds: int) -> dict:
    """Time every path on ``items`` in alternating rounds and print the table.

    Each round times the ceiling, the naive loop and every engine one after the other, so a ratio compares paths
    measured under the same load; the table shows each path's median and the range of its per-round ratio.

    :returns: the speeds (images/s, medians), the per-round rates and the default's ratios
    """
    reference = engines[REFERENCE]
    bundle = reference.bundle
    print(
        f"{bundle.name} {bundle.version} ({bundle.arch}, input {bundle.input_hw[0]}x{bundle.input_hw[1]}), "
        f"{len(items)} photos, batch {reference.batch_size}, {torch.get_num_threads()} threads, {rounds} rounds"
    )
    for engine in engines.values():
        list(engine.classify(items[:2]))  # warm-up: first-use costs are not throughput
    measured: list[dict] = []
    first: dict[str, list] = {}
    for _ in range(rounds):
        rates_now, predictions = _round(engines, items)
        measured.append(rates_now)
        first = first or predictions
    agreements = {name: _agreement(found, first[REFERENCE]) for name, found in first.items() if name != REFERENCE}
    median = {path: statistics.median(r[path] for r in measured) for path in ("eager_ceiling", "naive")}
    rates = {name: statistics.median(r["runtimes"][name] for r in measured) for name in engines}
    print(f"{'eager fp32 forward alone, random tensors':<44} {median['eager_ceiling']:7.1f} img/s (best batch size)")
    print(f"{'naive loop (full decode, one per pass)':<44} {median['naive']:7.1f} img/s")
    for name, rate in rates.items():
        agreement = f"   {agreements[name]}" if name in agreements else ""
        print(
            f"{'engine end-to-end, ' + name:<44} {rate:7.1f} img/s   x{_ratios(measured, name, 'naive')} naive, "
            f"x{_ratios(measured, name, 'eager_ceiling')} ceiling{agreement}"
        )
    default = users_runtime()
    print(f"default runtime on this CPU: {default}")
    return {"photos": len(items), **median, "runtimes": rates, "default": default, "rounds": measured}


def _round(engines: dict[str, Engine], items: list[ImageItem]) -> tuple[dict, dict[str, list]]:
    """One round: the ceiling, the naive loop, then every engine. :returns: the rates, each engine's predictions."""
    reference = engines[REFERENCE]
    ceiling = max(eager_ceiling(reference.bundle, size, len(items)) for size in {1, reference.batch_size})
    naive = len(items[:40]) / _timed(lambda: _naive_loop(reference, items[:40]))[1]
    rates, predictions = {}, {}
    for name, engine in engines.items():
        predictions[name], seconds = _timed(partial(_classify_all, engine, items))
        rates[name] = len(items) / seconds
    return {"eager_ceiling": ceiling, "naive": naive, "runtimes": rates}, predictions


def _ratios(measured: list[dict], name: str, against: str) -> str:
    """A runtime's speed over ``against``, per round: the median and, over several rounds, the range."""
    ratios = sorted(r["runtimes"][name] / r[against] for r in measured)
    middle = f"{statistics.median(ratios):.2f}"
    return middle if len(ratios) == 1 else f"{middle} ({ratios[0]:.2f}-{ratios[-1]:.2f})"


def _print_judgement(judged: dict[str, dict], speed: dict[str, float]) -> None:
    """The truth table: each runtime's cross-validated numbers, what it loses against float32, and the pick."""
    numbers = {name: judged_numbers(report) for name, report in judged.items()}
    repeats = judged[REFERENCE].get("repeats", 1)
    folds = f"{judged[REFERENCE]['k']}-fold"
    kind = f"{repeats} repeats of a {folds}" if repeats > 1 else folds
    print(f"\nJudged by the truth: {kind} grouped cross-validation, held-out photos only")
    print(
        f"{'runtime':<18} {'img/s':>6} {'macro-F1':>15} {'recall':>7} {'Review':>7} {'accepted right':>15} "
        f"{'pointing':>8} {'ECE':>6} {'unknown':>7}  worse than fp32 beyond its spread"
    )
    for name, report in judged.items():
        summary, pooled = report["summary"], report["pooled"]
        losses = quality_losses(numbers[name], numbers[REFERENCE]) if name != REFERENCE else []
        print(
            f"{name:<18} {speed.get(name, 0.0):6.1f} {_spread(summary.get('macro_f1')):>15} "
            f"{_mean(summary.get('defect_recall')):>7} {pooled['review_share']:>7.3f} "
            f"{pooled['accepted_right']:>7} of {pooled['accepted']:<4} {_mean(summary.get('pointing')):>8} "
            f"{_mean(summary.get('ece')):>6} {_mean(summary.get('unknown_share')):>7}  "
            f"{'; '.join(losses) if losses else ('(reference)' if name == REFERENCE else 'none')}"
        )
    print(f"the rule's default (fastest with no loss): {choose_default(numbers, REFERENCE, speed)}")
    verdicts = {name: report["verdicts"] for name, report in judged.items()}
    print("\nPhoto by photo (the same photos and fold models; photos worse / better than fp32, one-sided sign test):")
    for name, found in verdicts.items():
        if name != REFERENCE:
            differences = paired_differences(found, verdicts[REFERENCE])
            cells = "; ".join(f"{v} {worse}/{better} (p {chance:.2f})" for v, worse, better, chance in differences)
            losses = paired_losses(found, verdicts[REFERENCE])
            print(f"{name:<18} {cells}" + (f"\n{'':<18} worse: {'; '.join(losses)}" if losses else ""))
    paired = choose_default(verdicts, REFERENCE, speed, paired_losses)
    print(f"the paired rule's default (no verdict worse at p < {PAIRED_SIGNIFICANCE}, or per condition): {paired}")


def _spread(spread: dict | None) -> str:
    return "n/a" if not spread else f"{spread['mean']:.3f} ± {spread['std']:.3f}"


def _mean(spread: dict | None) -> str:
    return "n/a" if not spread else f"{spread['mean']:.3f}"


def _classify_all(engine: Engine, items: list[ImageItem]) -> list:
    return list(engine.classify(items))


def _timed(work: Callable[[], T]) -> tuple[T, float]:
    start = time.perf_counter()
    result = work()
    return result, time.perf_counter() - start


def _agreement(fast: list, exact: list) -> str:
    """Return how closely the fast path's predictions match float32's."""
    pairs = [(a, b) for a, b in zip(fast, exact) if a.ok and b.ok]
    if not pairs:
        return "no photos to compare"
    same = sum(a.label == b.label for a, b in pairs) / len(pairs)
    status = sum(a.status == b.status for a, b in pairs) / len(pairs)
    gap = max(abs(a.probabilities[c] - b.probabilities[c]) for a, b in pairs for c in a.probabilities)
    return f"labels {same * 100:.1f} %, statuses {status * 100:.1f} % as fp32, max |dp| {gap:.4f}"


def eager_ceiling(bundle, batch_size: int, count: int) -> float:
    """Return images/s of the bundle's plain fp32 model (default memory format) on random input."""
    model = build_network(bundle).model  # plain: not channels-last, no autocast
    height, width = bundle.input_hw
    batch = torch.randn(batch_size, 3, height, width)
    with torch.inference_mode():
        model(batch)  # warm-up
        start = time.perf_counter()
        done = 0
        while done < count:
            model(batch)
            done += batch_size
    return done / (time.perf_counter() - start)


def _naive_loop(engine: Engine, items: list[ImageItem]) -> None:
    height, width = engine.bundle.input_hw
    mean = torch.tensor(engine.bundle.mean).view(3, 1, 1)
    std = torch.tensor(engine.bundle.std).view(3, 1, 1)
    model = build_network(engine.bundle).model
    with torch.inference_mode():
        for item in items:
            assert item.ref is not None
            image = open_upright(read_once(item.ref)).resize((width, height), Image.Resampling.BILINEAR)
            tensor = torch.from_numpy(np.asarray(image).copy()).permute(2, 0, 1).float() / 255.0
            model(((tensor - mean) / std).unsqueeze(0))
