"""``defectsort bench``: images/s of the engine against the model's eager ceiling and a naive loop.

* engine: the real path (read, decode, batch, forward, heatmaps, explanations);
* eager ceiling: the same model's plain fp32 forward pass on random tensors of the input size;
* naive loop: full-size decode, resize, one forward pass per image, no heatmap.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import numpy as np
import torch
from PIL import Image

from core.bundle import BundleError, build_network
from core.decode import open_upright
from core.engine import Engine
from core.reader import read_once
from core.registry import resolve_bundle
from core.samples import write_phone_photos
from core.sources import ImageItem, collect_items

T = TypeVar("T")


def add_parser(subparsers, name: str) -> None:
    """Register the sub-command."""
    parser = subparsers.add_parser(name, help="measure classification speed", description=__doc__)
    parser.add_argument("paths", nargs="*", metavar="PATH", help="photos to use (default: 200 generated)")
    parser.add_argument("--model", metavar="NAME|DIR")
    parser.add_argument("--count", type=int, default=200, help="generated photos when no PATH is given")
    parser.add_argument("--batch-size", type=int, help="photos per forward pass (default: by input size)")
    parser.add_argument("--threads", type=int)
    parser.add_argument(
        "--precision",
        choices=("fp32", "bf16", "auto"),
        default="bf16",
        help="the fast path compared with fp32 (default bf16)",
    )


def run(args) -> int:
    """Print the throughputs, their ratios, and how far the fast path's results are from fp32."""
    try:
        bundle = resolve_bundle(args.model)
        engine = Engine(bundle, batch_size=args.batch_size, threads=args.threads, precision=args.precision)
        reference = Engine(bundle, batch_size=args.batch_size, precision="fp32")
    except BundleError as error:
        print(f"error: {error}")
        return 2
    with tempfile.TemporaryDirectory(prefix="defectsort-bench-") as folder:
        paths = args.paths or write_phone_photos(Path(folder), args.count)
        return _measure(engine, reference, [item for item in collect_items(paths) if item.error is None])


def _measure(engine: Engine, reference: Engine, items: list[ImageItem]) -> int:
    """Time every path on ``items`` and print the table. :returns: the exit code."""
    bundle = engine.bundle
    print(
        f"{bundle.name} {bundle.version} ({bundle.arch}, input {bundle.input_hw[0]}x{bundle.input_hw[1]}), "
        f"{len(items)} photos, batch {engine.batch_size}, {torch.get_num_threads()} torch threads"
    )
    exact = _timed(lambda: list(reference.classify(items)))
    fast = _timed(lambda: list(engine.classify(items)))
    ceiling = max(eager_ceiling(engine.bundle, size, len(items)) for size in {1, engine.batch_size})
    naive = len(items[:40]) / _timed(lambda: _naive_loop(engine, items[:40]))[1]
    exact_rate, fast_rate = len(items) / exact[1], len(items) / fast[1]
    print(f"engine end-to-end, fp32 (the default):          {exact_rate:7.1f} img/s")
    print(f"engine end-to-end, {engine.precision}:                     {fast_rate:7.1f} img/s")
    print(f"eager fp32 forward alone, random tensors:       {ceiling:7.1f} img/s (best batch size)")
    print(f"naive loop (full decode, one photo per pass):   {naive:7.1f} img/s")
    print(
        f"fp32 engine / eager ceiling = {exact_rate / ceiling:.2f}   fp32 engine / naive = {exact_rate / naive:.2f}   "
        f"{engine.precision} engine / naive = {fast_rate / naive:.2f}"
    )
    print(f"{engine.precision} {_agreement(fast[0], exact[0])}")
    return 0


def _timed(work: Callable[[], T]) -> tuple[T, float]:
    start = time.perf_counter()
    result = work()
    return result, time.perf_counter() - start


def _agreement(fast: list, exact: list) -> str:
    """:returns: how closely the fast path's predictions match float32's."""
    pairs = [(a, b) for a, b in zip(fast, exact) if a.ok and b.ok]
    if not pairs:
        return "no photos to compare"
    same = sum(a.label == b.label for a, b in pairs) / len(pairs)
    gap = max(abs(a.probabilities[c] - b.probabilities[c]) for a, b in pairs for c in a.probabilities)
    peak = max(max(abs(a.peak[0] - b.peak[0]), abs(a.peak[1] - b.peak[1])) for a, b in pairs)
    return (
        f"against fp32: same label {same * 100:.1f} %, largest probability difference {gap:.4f}, "
        f"largest peak shift {peak:.3f} of the photo"
    )


def eager_ceiling(bundle, batch_size: int, count: int) -> float:
    """:returns: images/s of the bundle's plain fp32 model (default memory format) on random input."""
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
