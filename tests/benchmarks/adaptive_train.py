"""``defectsort train`` with its defaults on datasets of other shapes: time, accuracy and macro-F1 on a test split.

Datasets (all from ../shared): ``varied`` (:mod:`tests.benchmarks.varied_dataset`: 6 imbalanced classes,
120-600 px, width/height 1:2.5-2.5:1, small defects), ``casting`` (300x300, the train / test folders)
``tile`` (:mod:`tests.benchmarks.tile_like`: grey, odd shapes, thin small defects, a magnetic-tile dataset's
imbalance) and ``small`` (the casting photos shrunk to 96x96: small square photos). Recipes, trained one after
the other in one run and measured on the same test split:

* ``default``: ``defectsort train`` as it is;
* ``best-epoch``: the epoch with the best validation macro-F1 kept, with early stopping (the default before the
  whole schedule's end was kept);
* ``old``: the fixed settings the defaults had before they adapted (224x224 resized, batch 32, lr 1e-3);
* ``balanced-sampling``: imbalanced classes drawn equally often (the default before they were drawn by the square
  root of their photo counts);
* ``grey-copies``: a grey camera's augmented copies kept grey (``--grey auto``: no white balance tint, colour
  noise or JPEG colour planes when every photo is grey); tried, not the default.

Run: ``python -m tests.benchmarks.adaptive_train varied [--recipes default,best-epoch] [--seed N] [--same-input]
[--work DIR]`` (about 10 minutes a recipe on 2 cores; nothing else should run meanwhile: the input size is planned
from timed steps, and a busier machine plans a smaller one). ``--same-input`` gives every later recipe the input
the first one planned (unless the recipe sets its own), so that only the recipe differs.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from PIL import Image

from tests.benchmarks import tile_like
from tests.benchmarks.varied_dataset import CASTING, build

PRETRAINED = CASTING.parents[1] / "pretrained" / "mobilenet_v2_imagenet.pth"
OLD_DEFAULTS = ["--image-size", "224", "224", "--fit", "stretch", "--batch-size", "32", "--lr", "1e-3"]
RECIPES = {
    "default": [],
    "best-epoch": ["--keep", "best"],
    "old": [*OLD_DEFAULTS, "--keep", "best"],
    "balanced-sampling": ["--sampling", "balanced"],
    "grey-copies": ["--grey", "auto"],
}
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


def run(name: str, recipe: str, work: Path, seed: int = 0, given: Sequence[str] = ()) -> dict:
    """Train with one of :data:`RECIPES` and evaluate on the test split (accuracy of the labels the policy decides).

    :param seed: the training seed
    :param given: more ``train`` options (an input size other recipes planned), where the recipe sets none of its own
    """
    data = prepare(name, work)
    model = work / f"{name}-{recipe}-seed{seed}"
    command = [sys.executable, "-m", "core", "train", str(data / "train"), "--out", str(model)]
    command += ["--pretrained", str(PRETRAINED), "--seed", str(seed), *RECIPES[recipe]]
    command += [] if "--image-size" in RECIPES[recipe] else list(given)
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
        "recipe": recipe,
        "minutes": round(minutes, 1),
        "test_accuracy": metrics["accuracy"],
        "test_macro_f1": metrics["macro_f1"],
        "review_share": metrics["review"]["review_share"],
        "accepted_right": metrics["review"]["accuracy_not_reviewed"],
        "input": bundle["input_size"],
        "fit": bundle.get("fit", "stretch"),
        "grey": bundle["training"]["config"].get("grey", False),
        "seed": seed,
        "epochs": len(bundle["training"]["history"]),
        "best_epoch": bundle["training"]["best_epoch"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dataset", choices=("varied", "tile", "casting", "small"))
    parser.add_argument("--recipes", default="default,best-epoch", help=f"comma-separated, of {', '.join(RECIPES)}")
    parser.add_argument("--seed", type=int, default=0, help="the training seed (the datasets are built with seed 0)")
    parser.add_argument("--same-input", action="store_true", help="later recipes take the input the first planned")
    parser.add_argument("--work", type=Path, help="keep datasets and models here (default: a temporary folder)")
    args = parser.parse_args()
    recipes = args.recipes.split(",")
    if unknown := set(recipes) - set(RECIPES):
        parser.error(f"unknown recipes: {', '.join(sorted(unknown))}")
    with tempfile.TemporaryDirectory(prefix="defectsort-adaptive-") as temporary:
        work = args.work or Path(temporary)
        work.mkdir(parents=True, exist_ok=True)
        given: list[str] = []
        for recipe in recipes:
            result = run(args.dataset, recipe, work, args.seed, given)
            print(json.dumps(result), flush=True)
            if args.same_input and not given:
                given = ["--image-size", *map(str, result["input"]), "--fit", result["fit"]]


if __name__ == "__main__":
    main()
