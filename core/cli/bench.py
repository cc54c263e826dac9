"""``defectsort bench``: images/s of the engine on every backend against the model's eager ceiling and a naive loop.

* engine rows: the real path (read, decode, batch, forward, heatmaps, explanations) with torch fp32 (the
  reference), torch bf16, ONNX Runtime fp32 and, given ``--calibration DIR``, ONNX Runtime int8; each
  with its agreement with torch fp32 (labels, largest probability shift, heatmap peak shift);
* eager ceiling: the same model's plain fp32 forward pass on random tensors of the input size;
* naive loop: full-size decode, resize, one forward pass per image, no heatmap.
"""

from __future__ import annotations

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
from core.model.bundle import BundleError, build_network
from core.model.registry import resolve_bundle
from core.photos.decode import open_upright
from core.photos.reader import read_once
from core.photos.samples import write_phone_photos
from core.photos.sources import ImageItem, collect_items
from core.training.quantize import export_int8

T = TypeVar("T")


def add_parser(subparsers, name: str) -> None:
    """Register the sub-command."""
    parser = subparsers.add_parser(name, help="measure classification speed", description=__doc__)
    parser.add_argument("paths", nargs="*", metavar="PATH", help="photos to use (default: 200 generated)")
    parser.add_argument("--model", metavar="NAME|DIR")
    parser.add_argument("--count", type=int, default=200, help="generated photos when no PATH is given")
    parser.add_argument("--batch-size", type=int, help="photos per forward pass (default: by input size)")
    parser.add_argument("--threads", type=int)
    parser.add_argument("--calibration", type=Path, metavar="DIR", help="photos of the product: adds ONNX Runtime int8")


def run(args) -> int:
    """Print every backend's throughput, the ratios, and how far each is from torch fp32."""
    try:
        bundle = resolve_bundle(args.model)
        if args.threads:
            torch.set_num_threads(args.threads)
        engines = {
            "torch fp32 (reference)": Engine(bundle, batch_size=args.batch_size),
            "torch bf16": Engine(bundle, batch_size=args.batch_size, precision="bf16"),
            "onnxruntime fp32": Engine(bundle, batch_size=args.batch_size, backend="onnxruntime"),
        }
        with tempfile.TemporaryDirectory(prefix="defectsort-bench-") as folder:
            if args.calibration:
                int8 = export_int8(bundle, args.calibration, Path(folder) / "int8.onnx")
                engines["onnxruntime int8"] = Engine(
                    bundle, batch_size=args.batch_size, backend="onnxruntime", onnx_file=int8
                )
            paths = args.paths or write_phone_photos(Path(folder) / "photos", args.count)
            return _measure(engines, [item for item in collect_items(paths) if item.error is None])
    except (BundleError, OSError) as error:
        print(f"error: {error}")
        return 2


def _measure(engines: dict[str, Engine], items: list[ImageItem]) -> int:
    """Time every path on ``items`` and print the table. :returns: the exit code."""
    reference = next(iter(engines.values()))
    bundle = reference.bundle
    print(
        f"{bundle.name} {bundle.version} ({bundle.arch}, input {bundle.input_hw[0]}x{bundle.input_hw[1]}), "
        f"{len(items)} photos, batch {reference.batch_size}, {torch.get_num_threads()} threads"
    )
    ceiling = max(eager_ceiling(bundle, size, len(items)) for size in {1, reference.batch_size})
    naive = len(items[:40]) / _timed(lambda: _naive_loop(reference, items[:40]))[1]
    print(f"{'eager fp32 forward alone, random tensors':<44} {ceiling:7.1f} img/s (best batch size)")
    print(f"{'naive loop (full decode, one per pass)':<44} {naive:7.1f} img/s")
    exact: list = []
    for name, engine in engines.items():
        list(engine.classify(items[:2]))  # warm-up: first-use costs are not throughput
        predictions, seconds = _timed(partial(_classify_all, engine, items))
        rate = len(items) / seconds
        exact = exact or predictions
        agreement = "" if predictions is exact else f"   {_agreement(predictions, exact)}"
        print(
            f"{'engine end-to-end, ' + name:<44} {rate:7.1f} img/s   x{rate / naive:.2f} naive, "
            f"x{rate / ceiling:.2f} ceiling{agreement}"
        )
    return 0


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
    gap = max(abs(a.probabilities[c] - b.probabilities[c]) for a, b in pairs for c in a.probabilities)
    peak = max(max(abs(a.peak[0] - b.peak[0]), abs(a.peak[1] - b.peak[1])) for a, b in pairs)
    return f"labels {same * 100:.1f} % as fp32, max |dp| {gap:.4f}, max peak shift {peak:.3f}"


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
