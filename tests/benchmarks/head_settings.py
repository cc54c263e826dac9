"""Anomaly-head settings side by side on the folds of a cross-validation: no training, photos no choice touched.

    defectsort train DATA --cv 3 --anomaly-head --keep-folds FOLDS ...   # once: the folds' classifiers
    python -m tests.benchmarks.head_settings FOLDS --data ../shared/data/phone-msd/photos \\
        --masks ../shared/data/phone-msd/masks [--json OUT]

Each fold's classifier gets every head of :data:`SETTINGS`, fitted on the good photos of that fold's own
training split (:func:`core.training.anomaly.head_fit.fit_head`), and each head is measured on the photos the
fold held out (its model.json names the photos it trained and validated on; the rest were held out): AUROC
of defects against clean screens, the share of clean screens above the threshold (each one a photo sent to
Review for nothing), the share of defects above it, and the head's cost per photo (its distances alone).
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import torch

from core.inference.decision import normal_class_of
from core.model.anomaly.memory import patch_distances
from core.model.bundle import load_bundle
from core.training.anomaly.head_fit import HeadPhotos, HeadSettings, fit_head, measure_head
from core.training.dataset import scan_dataset

SETTINGS = {
    "500 patches, threshold from a fifth, bank without it (before)": HeadSettings(500, 0.01, 0, whole_bank=False),
    "500 patches, threshold from a fifth, bank of all (now)": HeadSettings(500, 0.01, 0),
    "500 patches, threshold cross-fitted (5 folds)": HeadSettings(500, 0.01, 5),
}
FIGURES = ("auroc", "false_alarms", "defects_above_threshold")


def study_fold(folder: Path, data: Path, masks: Path | None) -> dict[str, dict]:
    """Every setting's head on one fold's classifier, measured on the photos that fold held out."""
    bundle = load_bundle(folder)
    normal = normal_class_of(bundle)
    classes, samples = scan_dataset(data, masks, bundle.training.get("group_by"))
    split = bundle.training["split"]
    seen = set(split["train"]) | set(split["validation"]) | set(split.get("test", []))
    good = [s for s in samples if s.path.name in set(split["train"]) and classes[s.label] == normal]
    held_out = [s for s in samples if s.path.name not in seen]
    is_good = [classes[s.label] == normal for s in held_out]
    photos = HeadPhotos(bundle)
    figures = {}
    for name, settings in SETTINGS.items():
        head = fit_head(photos, good, settings)
        figures[name] = measure_head(photos, head, held_out, is_good) | {"ms_per_photo": _cost(head.bank)}
        print(f"  {folder.name}, {name}: " + ", ".join(f"{k} {figures[name][k]}" for k in FIGURES))
    return figures


def _cost(bank: torch.Tensor, patches: int = 1008, runs: int = 20) -> float:
    """Milliseconds per photo of the head's nearest-patch distances (a 24x42 grid, the phone model's)."""
    embeddings = torch.randn(1, bank.shape[1], 24, patches // 24)
    patch_distances(embeddings, bank)
    started = time.perf_counter()
    for _ in range(runs):
        patch_distances(embeddings, bank)
    return round((time.perf_counter() - started) / runs * 1000, 2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folds", type=Path, help="the folder --keep-folds wrote (fold-1, fold-2, ...)")
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--masks", type=Path)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    folds = sorted(p for p in args.folds.iterdir() if (p / "model.json").is_file())
    results = {fold.name: study_fold(fold, args.data, args.masks) for fold in folds}
    print(f"\n{'head setting':<64} {'AUROC':>15} {'clean flagged':>15} {'defects above':>15} {'ms/photo':>9}")
    for name in SETTINGS:
        per_fold = [results[fold.name][name] for fold in folds]
        cells = [_spread([f[figure] for f in per_fold]) for figure in FIGURES]
        cost = statistics.median(f["ms_per_photo"] for f in per_fold)
        print(f"{name:<64} {cells[0]:>15} {cells[1]:>15} {cells[2]:>15} {cost:>9.2f}")
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))


def _spread(values: list[float]) -> str:
    spread = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{statistics.mean(values):.3f} ± {spread:.3f}"


if __name__ == "__main__":
    main()
