"""What the run journal and ``--resume`` cost, and whether 100,000 photos run in flat memory.

    python -m tests.benchmarks.overnight_scale [--photos 100000] [--skip-scale]

Part 1 (overhead, per photo, against the engine's own time with the bundled phone model on
generated 1920x1080 phone photos): appending a result to the journal (early and late in a journal
of ``--photos`` lines, to show it does not slow down as it grows), the resume check of a photo
already done (read + SHA-256 of its bytes), and writing the final JSON/CSV from the journal.

Part 2 (scale): ``defectsort classify --out --resume`` over ``--photos`` tiny photos, half in a
folder tree and half in ZIP archives, with a tiny random model (the engine is not what is measured
here); the resident memory is sampled every second and printed per 10 % of the run.
"""

from __future__ import annotations

import argparse
import io
import os
import tempfile
import threading
import time
import zipfile
from dataclasses import replace
from pathlib import Path

import torch
from PIL import Image

from core.cli import main as defectsort
from core.inference.engine import Engine
from core.journal.run_log import JOURNAL_FILE, RunJournal
from core.model.bundle import Bundle, save_bundle
from core.model.network import build_torchvision_model
from core.model.registry import resolve_bundle
from core.photos.samples import write_phone_photos
from core.photos.sources import iter_items
from core.results.pipeline import RunRequest, finish_run


def _rss_mb() -> float:
    with open("/proc/self/status") as status:
        line = next(line for line in status if line.startswith("VmRSS:"))
    return int(line.split()[1]) / 1024


def _lines(path: Path) -> int:
    """Return the results in a journal so far."""
    try:
        with open(path, "rb") as journal:
            return sum(1 for _ in journal) - 1
    except FileNotFoundError:
        return 0


def overhead(folder: Path, journal_lines: int) -> None:
    """Part 1: per-photo costs against the engine's."""
    bundle = resolve_bundle(None)
    photos = write_phone_photos(folder / "photos", 40)
    engine = Engine(bundle, backend="auto")
    started = time.perf_counter()
    predictions = list(engine.classify(iter_items(photos)))
    engine_ms = 1000 * (time.perf_counter() - started) / len(predictions)
    print(f"engine (phone model, {engine.backend}): {engine_ms:.1f} ms per photo")

    with RunJournal(folder / "out" / JOURNAL_FILE, bundle, resume=False) as journal:
        timings = []
        for index in range(journal_lines):
            prediction = replace(predictions[index % len(predictions)], heatmap=None, thumbnail=None)
            prediction = replace(prediction, source=f"{prediction.source}#{index}", ref=None)
            started = time.perf_counter()
            journal.append(prediction)
            journal.order.append(prediction.source)
            timings.append(time.perf_counter() - started)
        tenth = max(1, journal_lines // 10)
        early, late = (1e6 * sum(part) / len(part) for part in (timings[:tenth], timings[-tenth:]))
        print(
            f"journal append: {early:.0f} µs per photo in the first tenth, {late:.0f} µs in the last "
            f"({journal_lines} lines) = {early / 10 / engine_ms:.2f} % of the engine's time"
        )
        started = time.perf_counter()
        request = RunRequest(json=folder / "out" / "results.json", csv=folder / "out" / "results.csv")
        finish_run(journal, bundle, request, {}, lambda photos: {})
        final_us = 1e6 * (time.perf_counter() - started) / journal_lines
        print(f"final JSON + CSV from the journal: {final_us:.0f} µs per photo = {final_us / 10 / engine_ms:.2f} %")

    done = RunJournal(folder / "resumed" / JOURNAL_FILE, bundle, resume=False)
    for prediction in predictions:
        done.append(prediction)
    done.close()
    resumed = RunJournal(folder / "resumed" / JOURNAL_FILE, bundle, resume=True)
    started = time.perf_counter()
    left = list(resumed.walk(iter_items(photos), on_skip=lambda item: None))
    check_ms = 1000 * (time.perf_counter() - started) / len(photos)
    resumed.close()
    assert not left
    print(
        f"resume check of a photo already done: {check_ms:.2f} ms = {100 * check_ms / engine_ms:.1f} % of "
        "classifying it again"
    )


def tiny_bundle(folder: Path) -> Bundle:
    """Return a random mobilenet_v2 bundle with a 64x64 input (fast: the engine is not measured)."""
    torch.manual_seed(0)
    model = build_torchvision_model("mobilenet_v2", 4)
    bundle = Bundle(name="tiny", arch="mobilenet_v2", classes=["good", "oil", "scratch", "stain"], input_size=[64, 64])
    return save_bundle(bundle, model, folder)


def tiny_photos(folder: Path, count: int) -> None:
    """Half the photos in a folder tree (1,000 per folder), half in ZIPs (5,000 per archive)."""
    buffer = io.BytesIO()
    Image.new("RGB", (48, 32), (40, 40, 40)).save(buffer, format="PNG")
    png = buffer.getvalue()
    in_folders = count // 2
    for index in range(in_folders):
        target = folder / "tree" / f"day{index // 1000:03d}" / f"{index:06d}.png"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(png)
    for first in range(in_folders, count, 5000):
        with zipfile.ZipFile(folder / f"batch{first:06d}.zip", "w") as archive:
            for index in range(first, min(count, first + 5000)):
                archive.writestr(f"phone{index // 3:06d}/{index:06d}.png", png)


def scale(folder: Path, count: int) -> None:
    """Part 2: the whole command over ``count`` photos, memory sampled as it goes."""
    bundle = tiny_bundle(folder / "tiny")
    tiny_photos(folder / "photos", count)
    out = folder / "out"
    samples: list[tuple[int, float]] = []
    running = True

    def sample() -> None:
        while running:
            samples.append((_lines(out / JOURNAL_FILE), _rss_mb()))
            time.sleep(1.0)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    started = time.monotonic()
    command = ["classify", str(folder / "photos"), "--model", str(bundle.folder), "--out", str(out)]
    defectsort([*command, "--group-by", "folder", "--resume"])
    running = False
    sampler.join()
    samples.append((_lines(out / JOURNAL_FILE), _rss_mb()))
    print(f"{count} photos in {time.monotonic() - started:.0f} s; resident memory as the run went on:")
    for step in range(1, 11):
        reached = [rss for lines, rss in samples if lines >= count * step // 10]
        if reached:
            print(f"  {count * step // 10:>7} photos done: {reached[0]:.0f} MB")
    print(f"  peak: {max(rss for _, rss in samples):.0f} MB")
    started = time.monotonic()
    defectsort([*command, "--resume"])
    print(f"the same run resumed when all is done: {time.monotonic() - started:.0f} s (every photo checked, none run)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--photos", type=int, default=100_000)
    parser.add_argument("--skip-scale", action="store_true", help="only part 1")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="defectsort-scale-") as work:
        os.environ["XDG_DATA_HOME"] = str(Path(work) / "user-data")  # the run history stays out of the user's
        overhead(Path(work) / "overhead", args.photos)
        if not args.skip_scale:
            scale(Path(work) / "scale", args.photos)


if __name__ == "__main__":
    main()
