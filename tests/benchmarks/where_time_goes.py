"""Where a photo's time goes on each runtime: every stage of the engine timed alone, then the engine end to end.

    python -m tests.benchmarks.where_time_goes [PHOTOS_DIR] [--count 60] [--runtimes openvino:bf16 ...]

Each stage runs by itself over the same real photos (default: the MSD phone photos in ``../shared``), one
photo at a time as the phone model's engine batches them: reading the bytes, decoding (JPEG draft scaling,
resize), the SHA-256 that names the photo, preparing the tensor, the forward pass (on the runtime's threads),
the decisions (calibration, heatmap refinement, peak and boxes, novelty, anomaly) and the wording. The sum is
the CPU a photo costs; the engine overlaps decoding (two threads) and the model (its own thread) with the
decisions, so its end-to-end rate is beside it: what the overlap wins, and what the two cores cannot.
"""

from __future__ import annotations

import argparse
import hashlib
import time
from pathlib import Path

from core.inference.engine import Engine
from core.inference.interpret import ReadPhoto, interpret
from core.inference.postprocess import postprocess
from core.model.registry import resolve_bundle
from core.photos.decode import decode
from core.photos.sources import collect_items

ROOT = Path(__file__).resolve().parents[2]
PHONE_PHOTOS = ROOT.parent / "shared" / "data" / "phone-msd" / "photos"


def stage_times(engine: Engine, paths: list[Path]) -> dict[str, float]:
    """Return the mean milliseconds per photo of each stage, each timed alone over ``paths``."""
    bundle, policy = engine.bundle, engine.policy
    times: dict[str, float] = {}

    def timed(name: str, work, inputs: list) -> list:
        start = time.perf_counter()
        outputs = [work(value) for value in inputs]
        times[name] = (time.perf_counter() - start) * 1000 / len(inputs)
        return outputs

    data = timed("read", Path.read_bytes, paths)
    decoded = timed("decode", lambda raw: decode(raw, bundle.input_hw, None, policy.resize, policy.fit), data)
    timed("sha256", lambda raw: hashlib.sha256(raw).hexdigest(), data)
    tensors = timed("prepare tensor", lambda photo: engine.preprocess(photo.pixels[None]), decoded)
    outputs = timed("forward pass", engine.forward, tensors)
    window = bundle.detail_window
    decisions = timed("decisions", lambda out: postprocess(out, policy, engine.novelty, window)[0], outputs)
    items = collect_items(paths)
    photos = [ReadPhoto(photo, len(raw), "") for photo, raw in zip(decoded, data)]
    timed(
        "wording",
        lambda args: interpret(args[0], args[1], args[2], policy.classes, bundle.subject),
        list(zip(decisions, items, photos)),
    )
    return times


def end_to_end(engine: Engine, paths: list[Path]) -> float:
    """Return the engine's best images/s of two passes over ``paths``."""
    items = collect_items(paths)
    list(engine.classify(items[:2]))
    best = 0.0
    for _ in range(2):
        start = time.perf_counter()
        list(engine.classify(items))
        best = max(best, len(items) / (time.perf_counter() - start))
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("photos", nargs="?", type=Path, default=PHONE_PHOTOS)
    parser.add_argument("--count", type=int, default=60, help="photos to use, spread over the folder")
    parser.add_argument("--runtimes", nargs="+", default=["onnxruntime:fp32", "openvino:bf16", "openvino:fp32"])
    args = parser.parse_args()
    every = sorted(args.photos.rglob("*.jpg"))
    paths = every[:: max(1, len(every) // args.count)][: args.count]
    bundle = resolve_bundle(None)
    print(f"{bundle.name}, {len(paths)} photos of {args.photos}; milliseconds per photo, each stage alone")
    for runtime in args.runtimes:
        backend, precision = runtime.split(":")
        engine = Engine(bundle, backend=backend, precision=precision)
        times = stage_times(engine, paths)
        total = sum(times.values())
        shares = ", ".join(f"{name} {ms:.1f}" for name, ms in times.items())
        rate = end_to_end(engine, paths)
        print(f"{runtime}: {shares}; sum {total:.1f} ms ({1000 / total:.1f} photos/s one after another)")
        print(f"{'':>{len(runtime)}}  engine end to end: {rate:.1f} photos/s ({1000 / rate:.1f} ms a photo)")


if __name__ == "__main__":
    main()
