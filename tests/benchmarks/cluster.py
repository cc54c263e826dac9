"""The local engine against ``--cluster auto`` (a local Ray) with 1 and 2 actors, on the same photos.

    python -m tests.benchmarks.cluster [--photos 400]

Prints photos/s of each, the cluster's overhead per photo against the local engine, Ray's start-up,
and the rates an extrapolation to more nodes needs: how fast the driver lists sources and how fast
the photos are read from their folder.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from core.inference.cluster import classify_on_cluster, require_ray
from core.inference.engine import Engine
from core.model.registry import resolve_bundle
from core.photos.samples import write_phone_photos
from core.photos.sources import collect_items


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--photos", type=int, default=400)
    parser.add_argument("--model")
    args = parser.parse_args()
    ray = require_ray()
    bundle = resolve_bundle(args.model)
    with tempfile.TemporaryDirectory(prefix="defectsort-cluster-") as scratch:
        folder = Path(scratch) / "photos"
        write_phone_photos(folder, args.photos)
        start = time.perf_counter()
        items = collect_items([folder])
        listing = len(items) / (time.perf_counter() - start)
        start = time.perf_counter()
        size = sum(len(Path(item.ref.path).read_bytes()) for item in items if item.ref)
        reading = len(items) / (time.perf_counter() - start)
        print(
            f"{len(items)} photos ({size / len(items) / 1e3:.0f} kB each): listing {listing:,.0f}/s, "
            f"reading {reading:,.0f}/s ({size / 1e6 / (len(items) / reading):,.0f} MB/s)"
        )
        engine = Engine(bundle, backend="auto")
        list(engine.classify(items[:2]))
        start = time.perf_counter()
        list(engine.classify(items))
        local = len(items) / (time.perf_counter() - start)
        print(f"local engine: {local:.1f} photos/s")
        start = time.perf_counter()
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
        print(f"Ray start: {time.perf_counter() - start:.1f} s")
        for actors in (1, 2):
            start = time.perf_counter()
            predictions = list(classify_on_cluster(items, bundle, actors=actors, batch_size=16))
            seconds = time.perf_counter() - start
            rate = len(items) / seconds
            overhead = (seconds - len(items) / local) / len(items) * 1000
            print(
                f"--cluster auto, {actors} actor(s): {rate:.1f} photos/s ({overhead:+.0f} ms per photo against "
                f"local; {sum(p.ok for p in predictions)} of {len(items)} classified)"
            )
        ray.shutdown()


if __name__ == "__main__":
    main()
