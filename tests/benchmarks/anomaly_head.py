"""What the phone model's anomaly head costs: images/s with and without it, same photos, same backend.

    python -m tests.benchmarks.anomaly_head [--photos 48] [--runs 3] [--backend auto]

The bundled model is copied twice into a temporary folder, once without its ``anomaly_head``; each
copy classifies the same generated 1920x1080 phone photos ``--runs`` times after a warm-up pass
(ONNX exports go to a temporary cache). Prints the best images/s of each and the head's cost.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import tempfile
import time
from pathlib import Path

from core.inference.engine import Engine
from core.model.bundle import load_bundle
from core.model.registry import resolve_bundle
from core.photos.samples import write_phone_photos
from core.photos.sources import collect_items


def best_rate(folder: Path, photos: list[Path], runs: int, backend: str) -> float:
    """Return the best images/s of ``runs`` passes over ``photos``."""
    engine = Engine(load_bundle(folder), backend=backend)
    items = collect_items(photos)
    list(engine.classify(items))  # warm-up
    rates = []
    for _ in range(runs):
        started = time.perf_counter()
        list(engine.classify(items))
        rates.append(len(items) / (time.perf_counter() - started))
    return max(rates)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--photos", type=int, default=48)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--backend", default="auto")
    args = parser.parse_args()
    bundle = resolve_bundle(None)
    if not bundle.anomaly_head:
        raise SystemExit(f"{bundle.name} has no anomaly head (defectsort add-anomaly-head)")
    with tempfile.TemporaryDirectory(prefix="defectsort-head-") as work:
        os.environ["DEFECTSORT_CACHE"] = str(Path(work) / "cache")
        with_head, without = Path(work) / "with-head", Path(work) / "without"
        shutil.copytree(bundle.folder, with_head)
        shutil.copytree(bundle.folder, without)
        meta = json.loads((without / "model.json").read_text())
        meta["anomaly_head"] = {}
        (without / "model.json").write_text(json.dumps(meta))
        photos = write_phone_photos(Path(work) / "photos", args.photos)
        plain = best_rate(without, photos, args.runs, args.backend)
        headed = best_rate(with_head, photos, args.runs, args.backend)
    print(f"{bundle.name} on {args.backend}: {plain:.1f} images/s without the head, {headed:.1f} with it")
    print(f"the head costs {100 * (plain - headed) / plain:.1f} % of the throughput")


if __name__ == "__main__":
    main()
