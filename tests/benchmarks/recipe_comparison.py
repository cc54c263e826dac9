"""Recipes side by side by grouped cross-validation: the figures that choose a recipe, never the epoch's split.

    python -m tests.benchmarks.recipe_comparison weights/phone-defects NEW_BUNDLE \\
        --data ../shared/data/phone-msd/photos --folds 3 --conditions [--json OUT]
    python -m tests.benchmarks.recipe_comparison before=FOLDS_A after=FOLDS_B --data ... --conditions

Each bundle's recipe (its model.json ``training`` record: settings, groups, masks, anomaly head) is trained
again once per fold on the same folds (:mod:`core.training.protocol`), and every fold's model is measured on
the photos it never saw, as shot and (``--conditions``) under the 10 camera conditions, on torch float32 (the
reference; ``evaluate --cv`` measures on the default runtime, whose bfloat16 can move a score across a threshold).
A figure file from an earlier run (``evaluate --cv --json``, or a model.json whose ``metrics`` hold
``cross_validation``) stands in for a bundle with ``NAME=FILE``: a run of 3 folds with conditions takes ~35
minutes a recipe on 2 cores. With ``NAME=FOLDS``, the fold models an earlier run kept (``evaluate --cv K
--keep-folds FOLDS``) are measured again now, without training (their recipe is their first fold's): two such
runs, measured by the same code, one after the other.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from core.model.bundle import load_bundle
from core.training.cross_validation import format_spread
from core.training.protocol import Protocol, kept_fold, recipe_of, train_honestly
from tests.benchmarks.adaptive_train import PRETRAINED

FIGURES = (
    ("macro_f1", "macro-F1"),
    ("defect_recall", "defect recall"),
    ("ece", "calibration error (ECE)"),
    ("pointing", "heatmap peak inside the defect"),
    ("review_share", "share sent to Review"),
    ("accepted_accuracy", "accepted photos right"),
    ("anomaly_auroc", "anomaly head AUROC"),
    ("anomaly_false_alarms", "anomaly head false alarms"),
    ("unknown_share", "flagged unknown"),
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "recipes", nargs="+", help="bundle folders, NAME=FILE of an earlier run's figures, NAME=FOLDS of kept folds"
    )
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--folds", type=int, default=3)
    parser.add_argument("--conditions", action="store_true")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    figures = {recipe.split("=", 1)[0]: figures_of(recipe, args) for recipe in args.recipes}
    for line in table(figures):
        print(line)
    if args.json:
        args.json.write_text(json.dumps(figures, indent=1))


def figures_of(recipe: str, args) -> dict:
    """The cross-validated figures of one recipe: trained and measured now, read from an earlier run's file, or its
    kept fold models measured now."""
    kept = None
    if "=" in recipe:
        given = Path(recipe.split("=", 1)[1])
        if not given.is_dir():
            stored = json.loads(given.read_text())
            found: dict = stored.get("metrics", stored)["cross_validation"]
            return found
        kept = given
    bundle = kept_fold(kept / "fold-1") if kept else load_bundle(recipe)
    config, options, head = recipe_of(bundle, pretrained=PRETRAINED)
    protocol = Protocol(args.folds, 0.0, args.conditions, anomaly_head=head, kept_folds=kept)
    _, measured = train_honestly(args.data, None, config, protocol, options)
    report: dict = measured["cross_validation"]
    return report


def table(figures: dict[str, dict]) -> list[str]:
    """A Markdown table: one column per recipe, as shot and per condition."""
    names = list(figures)
    lines = [f"| figure | {' | '.join(names)} |", "|---|" + "---|" * len(names)]
    lines.append(f"| measured on | {' | '.join(figures[name].get('runtime') or 'n/a' for name in names)} |")
    for key, label in FIGURES:
        cells = [format_spread(figures[name]["summary"].get(key)) for name in names]
        if any(cell != "n/a" for cell in cells):
            lines.append(f"| {label} | {' | '.join(cells)} |")
    pooled = [figures[name]["pooled"] for name in names]
    lines.append(
        "| pooled: Review / accepted right | "
        + " | ".join(f"{p['review_share']:.3f} / {p['accepted_right']} of {p['accepted']}" for p in pooled)
        + " |"
    )
    for condition in figures[names[0]].get("conditions", {}):
        for key in ("macro_f1", "defect_recall", "review_share", "accepted_accuracy", "unknown_share"):
            cells = [format_spread(figures[name].get("conditions", {}).get(condition, {}).get(key)) for name in names]
            lines.append(f"| {condition}: {dict(FIGURES)[key]} | {' | '.join(cells)} |")
    return lines


if __name__ == "__main__":
    main()
