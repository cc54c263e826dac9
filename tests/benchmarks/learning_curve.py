"""What corrections buy: accuracy on untouched photos after 0, 20, 50, 100 and 240 corrections, beside a full
retrain, and the same retraining on a busy computer and with wrong labels.

    python -m tests.benchmarks.learning_curve [--work DIR] [--steps 0 20 50 100 240]

Needs ``../shared``. The product is the "varied" dataset built from it (:mod:`tests.benchmarks.varied_dataset`:
6 imbalanced classes, odd shapes, small defects; train and test from different phones and casting folders):

* **the model in use**: trained by ``defectsort train`` on 8 photos a class with a 2-minute budget (a returns
  centre's first model);
* **a day**: 240 other photos of the train split, in a fixed random order; after ``k`` of them the inspector's
  true labels go in as corrections (class folders) and ``defectsort retrain`` makes a candidate;
* **the test**: the dataset's test split, which no step chooses anything on (not the epoch, not the verdict);
* **a full retrain**: ``defectsort train`` from ImageNet on the first model's photos and the whole day;
* the 240-correction retraining again **with one core kept busy** by another process (the same candidate is
  expected, bit for bit, and the same verdict), and **with every label rotated** (must be refused, exit 3).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tests.benchmarks.adaptive_train import PRETRAINED, prepare

GROUP = r"^([A-Za-z]+_\d{3})"
PER_CLASS = 8


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--work", type=Path)
    parser.add_argument("--steps", type=int, nargs="+", default=[0, 20, 50, 100, 240])
    args = parser.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="learning-curve-"))
    data = prepare("varied", work)
    classes = sorted(p.name for p in (data / "train").iterdir())
    base, day = _split(data / "train", work)
    weak = work / "in-use"
    if not weak.is_dir():
        _cli(
            [
                "train",
                str(base),
                "--out",
                str(weak),
                "--pretrained",
                str(PRETRAINED),
                "--time-budget",
                "2",
                "--group-by",
                GROUP,
            ]
        )
    rows = [("model in use", 0, _accuracy(weak, data / "test", work), "-", 0.0, "")]
    for count in [k for k in args.steps if k]:
        rows.append(_round(weak, day[:count], classes, data / "test", work, f"retrain-{count}"))
    full = _full_retrain(base, day, data / "test", work)
    rows.append(full)
    _print_rows(rows)
    _busy_and_rotated(weak, day, classes, data / "test", work)


def _split(train: Path, work: Path) -> tuple[Path, list[tuple[Path, str]]]:
    """The first model's photos (8 a class) and the day's 240 photos after them, in a fixed random order."""
    rng = random.Random(0)
    photos = sorted((p, p.parent.name) for p in train.glob("*/*") if p.is_file())
    rng.shuffle(photos)
    base, taken, day = work / "base", {}, []
    for path, label in photos:
        if taken.get(label, 0) < PER_CLASS:
            taken[label] = taken.get(label, 0) + 1
            (base / label).mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, base / label / path.name)
        elif len(day) < 240:
            day.append((path, label))
    return base, day


def _corrections(day: list[tuple[Path, str]], folder: Path, label_of=lambda label: label) -> Path:
    shutil.rmtree(folder, ignore_errors=True)
    for path, label in day:
        (folder / label_of(label)).mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, folder / label_of(label) / path.name)
    return folder


def _round(weak: Path, day, classes, test: Path, work: Path, name: str, label_of=None, busy=False) -> tuple:
    corrections = _corrections(day, work / f"{name}-corrections", label_of or (lambda label: label))
    out = work / name
    shutil.rmtree(out, ignore_errors=True)
    hog = _busy_core() if busy else None
    started = time.monotonic()
    try:
        code = _cli(["retrain", str(weak), "--corrections", str(corrections), "--out", str(out)], check=False)
    finally:
        if hog is not None:
            hog.terminate()
    minutes = (time.monotonic() - started) / 60
    verdict = {0: "promoted", 3: "refused"}.get(code, f"failed ({code})")
    model = json.loads((out / "model.json").read_text())
    return (
        name,
        len(day),
        _accuracy(out, test, work),
        verdict,
        minutes,
        model["promotion"]["in_words"],
        model["sha256"],
    )


def _full_retrain(base: Path, day, test: Path, work: Path) -> tuple:
    everything = _corrections(day, work / "full-data")
    for path in base.glob("*/*"):
        shutil.copy2(path, everything / path.parent.name / path.name)
    out = work / "full-retrain"
    started = time.monotonic()
    if not out.is_dir():
        _cli(["train", str(everything), "--out", str(out), "--pretrained", str(PRETRAINED), "--group-by", GROUP])
    return ("full retrain", len(day), _accuracy(out, test, work), "-", (time.monotonic() - started) / 60, "")


def _busy_and_rotated(weak: Path, day, classes, test: Path, work: Path) -> None:
    quiet = json.loads((work / f"retrain-{len(day)}" / "model.json").read_text())
    busy = _round(weak, day, classes, test, work, "retrain-busy", busy=True)
    same = "the same candidate, bit for bit" if busy[6] == quiet["sha256"] else "A DIFFERENT candidate"
    print(f"\nWith one core kept busy: {busy[4]:.1f} min, {busy[3]}, test accuracy {busy[2]['accuracy']:.3f}: {same}")
    rotate = {label: classes[(classes.index(label) + 1) % len(classes)] for label in classes}
    rotated = _round(weak, day, classes, test, work, "retrain-rotated", label_of=rotate.__getitem__)
    print(f"Every label rotated: {rotated[3]} ({rotated[5]})")


def _busy_core() -> multiprocessing.Process:
    hog = multiprocessing.Process(target=_spin, daemon=True)
    hog.start()
    return hog


def _spin() -> None:
    while True:
        pass


def _accuracy(model: Path, test: Path, work: Path) -> dict:
    """Test accuracy and macro-F1, the share sent to Review and the accuracy of the photos accepted."""
    out = work / f"{model.name}-test.json"
    _cli(["evaluate", str(model), str(test), "--json", str(out)], quiet=True)
    metrics = json.loads(out.read_text())
    review = metrics["review"]
    return {
        "accuracy": metrics["accuracy"],
        "macro_f1": metrics["macro_f1"],
        "review": review["review_share"],
        "accepted": review["accuracy_not_reviewed"],
    }


def _print_rows(rows: list[tuple]) -> None:
    print("\nTest: photos no step chose anything on.")
    print(
        f"{'':16} {'corrections':>11} {'accuracy':>9} {'macro-F1':>9} {'Review':>7} {'accepted right':>15} "
        f"{'verdict':>9} {'minutes':>8}"
    )
    for name, count, test, verdict, minutes, *words in rows:
        print(
            f"{name:16} {count:>11} {test['accuracy']:>9.3f} {test['macro_f1']:>9.3f} {test['review']:>7.3f} "
            f"{test['accepted']:>15.3f} {verdict:>9} {minutes:>8.1f}  {words[0] if words else ''}"
        )


def _cli(arguments: list[str], check: bool = True, quiet: bool = False) -> int:
    output = subprocess.DEVNULL if quiet else None
    return subprocess.run([sys.executable, "-m", "core", *arguments], check=check, stdout=output).returncode


if __name__ == "__main__":
    main()
