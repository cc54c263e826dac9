"""One round of corrections on real phone photos: what it buys, how long it takes, whether the gate holds.

    python -m tests.benchmarks.retrain_round [--work DIR]

Needs ``../shared``. The MSD phone photos are split by photo block (ten consecutive numbers,
each with its defect-removed counterpart, stay together): block 0 of each defect type is the
*base* a deliberately weak model is trained on (192x336 input, 2 minutes); block 1 is the
*second batch*, classified by that model and then "corrected" the way the window exports it
(``results.json`` with ``final_label``); block 2 is kept as ``--holdout``. The round is run
twice: with true corrections, and with deliberately wrong ones (every label replaced by
another class), which the gate must refuse. Prints the comparison and the wall times.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import shutil
import tempfile
import time
from pathlib import Path

from core.cli import main as cli
from tests.conftest import SHARED

PHOTOS = SHARED / "data" / "phone-msd" / "photos"
PRETRAINED = SHARED / "pretrained" / "mobilenet_v2_imagenet.pth"
BLOCK = re.compile(r"^([A-Za-z]+)_(\d{4})")


def split_by_block(work: Path) -> None:
    """Copy the photos into ``base/``, ``batch2/`` and ``holdout/`` class folders by block number."""
    for path in sorted(PHOTOS.glob("*/*.*")):
        match = BLOCK.match(path.name)
        if not match:
            continue
        block = (int(match.group(2)) // 10) % 3
        part = ("base", "batch2", "holdout")[block]
        target = work / part / path.parent.name / path.name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, target)


def corrected_results(work: Path, weak: Path, wrong: bool, seed: int = 0) -> Path:
    """Classify the second batch with the weak model, then write the inspectors' labels as the window would."""
    out = work / ("results-wrong.json" if wrong else "results.json")
    cli(["classify", str(work / "batch2"), "--model", str(weak), "--json", str(out)])
    document = json.loads(out.read_text())
    classes = sorted(p.name for p in (work / "batch2").iterdir())
    rng = random.Random(seed)
    for item in document["items"]:
        truth = Path(item["source"]).parent.name
        final = rng.choice([c for c in classes if c != truth]) if wrong else truth
        item.update(final_label=final, corrected=final != item["label"], model_label=item["label"])
    out.write_text(json.dumps(document, indent=1))
    return out


def main() -> int:
    """Run the round and print what it measured."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--work", type=Path, help="keep the folders here (default: a temporary folder)")
    args = parser.parse_args()
    if not PHOTOS.is_dir():
        print(f"needs {PHOTOS}")
        return 2
    work = args.work or Path(tempfile.mkdtemp(prefix="defectsort-retrain-round-"))
    split_by_block(work)
    weak = work / "weak"
    started = time.perf_counter()
    cli(
        [
            "train",
            str(work / "base"),
            "--out",
            str(weak),
            "--name",
            "phone-weak",
            "--image-size",
            "192",
            "336",
            "--pooling",
            "lse",
            "--output-stride",
            "16",
            "--pretrained",
            str(PRETRAINED),
            "--epochs",
            "8",
            "--time-budget",
            "2",
            "--batch-size",
            "8",
            "--lr",
            "3e-4",
            "--group-by",
            r"^([A-Za-z]+_\d{4})",
            "--val-fraction",
            "0.25",
            "--subject",
            "screen",
        ]
    )
    print(f"weak model trained in {time.perf_counter() - started:.0f} s")
    for wrong in (False, True):
        results = corrected_results(work, weak, wrong)
        candidate = work / ("candidate-wrong" if wrong else "candidate")
        started = time.perf_counter()
        code = cli(
            [
                "retrain",
                str(weak),
                "--corrections",
                str(results),
                "--out",
                str(candidate),
                "--holdout",
                str(work / "holdout"),
            ]
        )
        seconds = time.perf_counter() - started
        comparison = json.loads((candidate / "comparison.json").read_text())
        print(f"\n{'WRONG' if wrong else 'true'} corrections: exit {code}, retrain + gate {seconds:.0f} s")
        for part in ("frozen_holdout", "held_back_corrections"):
            row = comparison[part]
            print(
                f"  {part} ({row['photos']} photos): accuracy {row['parent']['accuracy']:.3f} -> "
                f"{row['candidate']['accuracy']:.3f}, macro-F1 {row['parent']['macro_f1']:.3f} -> "
                f"{row['candidate']['macro_f1']:.3f}, defect recall {row['parent']['defect_recall']} -> "
                f"{row['candidate']['defect_recall']}, {row['agreement']['counts']}"
            )
    print(f"\nfolders in {work}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
