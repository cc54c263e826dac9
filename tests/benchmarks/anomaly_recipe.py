"""Good-only anomaly models, today's recipe against the fixed one of before, side by side in one run.

``before`` is the fixed 224x224 stretched input every anomaly model had; ``chosen`` is ``train --anomaly`` with
its defaults (the input chosen by a drawn-defect check on held-out good photos, :mod:`core.training.anomaly.recipe`).
Both build from the same good photos and are scored on the same unseen ones, good and defective (real defects
only, which neither build sees):

* ``tile``: the magnetic-tile look-alike (:mod:`tests.benchmarks.tile_like`): train/good builds, test/ scores;
* ``casting``: the casting train/good folder builds, the test folder scores;
* ``phone``: the MSD phone photos, 3 folds by phone (blocks of ten numbers): the defect-removed counterparts of two
  thirds of the phones build, the other third's counterparts and defect photos score.

Run: ``python -m tests.benchmarks.anomaly_recipe [--datasets tile,casting,phone] [--work DIR] [--json OUT]``
(about 25 minutes on 2 cores).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tests.benchmarks import tile_like
from tests.benchmarks.adaptive_train import PRETRAINED
from tests.benchmarks.varied_dataset import CASTING, GROUP, PHONE

RECIPES = {"before": ["--image-size", "224", "224", "--fit", "stretch"], "chosen": []}
PHONE_FOLDS = 3


def link_all(photos, folder: Path) -> None:
    """Link each photo into ``folder`` (made if missing)."""
    folder.mkdir(parents=True, exist_ok=True)
    for photo in photos:
        (folder / photo.name).symlink_to(photo.resolve())


def tile_tasks(work: Path) -> list[tuple[Path, Path]]:
    """The tile look-alike's (good folder, test folder)."""
    data = work / "tile"
    if not (data / "train").is_dir():
        tile_like.build(data)
    return [(data / "train" / "good", data / "test")]


def casting_tasks(work: Path) -> list[tuple[Path, Path]]:
    return [(CASTING / "train" / "good", CASTING / "test")]


def phone_tasks(work: Path) -> list[tuple[Path, Path]]:
    """One (good folder, test folder) per fold of phones."""
    photos = sorted((PHONE / "photos").rglob("*.jpg"))
    blocks = sorted({GROUP.match(photo.stem).group(1) for photo in photos})  # type: ignore[union-attr]
    tasks = []
    for fold in range(PHONE_FOLDS):
        held = set(blocks[fold::PHONE_FOLDS])
        folder = work / f"phone-fold{fold}"
        if not folder.is_dir():
            for photo in photos:
                block = GROUP.match(photo.stem).group(1)  # type: ignore[union-attr]
                if block in held:
                    link_all([photo], folder / "test" / photo.parent.name)
                elif photo.parent.name == "good":
                    link_all([photo], folder / "good")
        tasks.append((folder / "good", folder / "test"))
    return tasks


TASKS = {"tile": tile_tasks, "casting": casting_tasks, "phone": phone_tasks}


def measure(good: Path, test: Path, recipe: str, out: Path) -> dict:
    """Build one anomaly model with ``recipe`` and score it on ``test``. :returns: its figures."""
    command = [sys.executable, "-m", "core", "train", str(good), "--anomaly", "--out", str(out)]
    command += ["--pretrained", str(PRETRAINED), *RECIPES[recipe]]
    started = time.monotonic()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
    seconds = time.monotonic() - started
    metrics_file = out.with_suffix(".json")
    evaluate = [sys.executable, "-m", "core", "evaluate", str(out), str(test), "--json", str(metrics_file)]
    subprocess.run(evaluate, check=True, stdout=subprocess.DEVNULL)
    report = json.loads(metrics_file.read_text())["anomaly"]
    model = json.loads((out / "model.json").read_text())
    return {
        "auroc": report["auroc"],
        "false_alarm_rate": report["false_alarm_rate"],
        "defects_found": report["defects_found"],
        "seconds": round(seconds),
        "megabytes": round(sum(f.stat().st_size for f in out.iterdir()) / 1e6, 1),
        "input": f"{model['input_size'][0]}x{model['input_size'][1]} {model.get('fit', 'stretch')}",
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", default="tile,casting,phone")
    parser.add_argument("--work", type=Path, help="keep data and models here (default: a temporary folder)")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="defectsort-anomaly-") as temporary:
        work = args.work or Path(temporary)
        work.mkdir(parents=True, exist_ok=True)
        results = {}
        for name in args.datasets.split(","):
            for number, (good, test) in enumerate(TASKS[name](work)):
                for recipe in RECIPES:
                    key = f"{name}/{number}/{recipe}"
                    results[key] = measure(good, test, recipe, work / "models" / key.replace("/", "-"))
                    print(key, json.dumps(results[key]), flush=True)
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
