"""``defectsort train`` with its defaults on datasets of other shapes: time, accuracy and macro-F1 on a test split.

Datasets (all from ../shared): ``varied`` (:mod:`tests.benchmarks.varied_dataset`: 6 imbalanced classes,
120-600 px, width/height 1:2.5-2.5:1, small defects), ``casting`` (300x300, the train / test folders)
``tile`` (:mod:`tests.benchmarks.tile_like`: grey, odd shapes, thin small defects, a magnetic-tile dataset's
imbalance) and ``small`` (the casting photos shrunk to 96x96: small square photos). ``--old`` trains with
the fixed settings the defaults had before they adapted (224x224 resized, batch 32, lr 1e-3) for comparison.

Run: ``python -m tests.benchmarks.adaptive_train varied [--old] [--work DIR]`` (about 10 minutes a run on 2 cores).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from PIL import Image

from tests.benchmarks import tile_like
from tests.benchmarks.varied_dataset import CASTING, build

PRETRAINED = CASTING.parents[1] / "pretrained" / "mobilenet_v2_imagenet.pth"
OLD_DEFAULTS = ["--image-size", "224", "224", "--fit", "stretch", "--batch-size", "32", "--lr", "1e-3"]
GROUPS = {"varied": r"^([A-Za-z]+_\d{3})", "tile": r"^([A-Za-z]+_\d{3})"}


def prepare(name: str, work: Path) -> Path:
    """Return a folder with ``train/`` and ``test/`` class folders for dataset ``name``."""
    if name == "casting":
        return CASTING
    folder = work / name
    if (folder / "train").is_dir():
        return folder
    if name == "varied":
        build(folder)
    elif name == "tile":
        tile_like.build(folder)
    else:
        for path in CASTING.rglob("*.jpeg"):
            target = folder / path.relative_to(CASTING)
            target.parent.mkdir(parents=True, exist_ok=True)
            Image.open(path).convert("RGB").resize((96, 96), Image.Resampling.LANCZOS).save(target, quality=95)
    return folder


def run(name: str, old: bool, work: Path) -> dict:
    """Train with the defaults (or the old fixed settings) and evaluate on the test split."""
    data = prepare(name, work)
    model = work / f"{name}-{'old' if old else 'adaptive'}"
    command = [sys.executable, "-m", "core", "train", str(data / "train"), "--out", str(model)]
    command += ["--pretrained", str(PRETRAINED)] + (OLD_DEFAULTS if old else [])
    command += ["--group-by", GROUPS[name]] if name in GROUPS else []
    started = time.monotonic()
    subprocess.run(command, check=True)
    minutes = (time.monotonic() - started) / 60
    metrics_file = work / f"{model.name}.json"
    evaluate = [sys.executable, "-m", "core", "evaluate", str(model), str(data / "test"), "--json", str(metrics_file)]
    subprocess.run(evaluate, check=True, stdout=subprocess.DEVNULL)
    metrics = json.loads(metrics_file.read_text())
    bundle = json.loads((model / "model.json").read_text())
    return {
        "dataset": name,
        "settings": "old fixed" if old else "adaptive",
        "minutes": round(minutes, 1),
        "test_accuracy": metrics["accuracy"],
        "test_macro_f1": metrics["macro_f1"],
        "input": bundle["input_size"],
        "fit": bundle.get("fit", "stretch"),
        "epochs": len(bundle["training"]["history"]),
        "best_epoch": bundle["training"]["best_epoch"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dataset", choices=("varied", "tile", "casting", "small"))
    parser.add_argument("--old", action="store_true", help="the fixed settings of before, for comparison")
    parser.add_argument("--work", type=Path, help="keep datasets and models here (default: a temporary folder)")
    args = parser.parse_args()
    if args.work:
        args.work.mkdir(parents=True, exist_ok=True)
        print(json.dumps(run(args.dataset, args.old, args.work)))
        return
    with tempfile.TemporaryDirectory(prefix="defectsort-adaptive-") as work:
        print(json.dumps(run(args.dataset, args.old, Path(work))))


if __name__ == "__main__":
    main()
