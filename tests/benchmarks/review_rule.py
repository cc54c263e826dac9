"""The Review threshold from the validation photos alone, and from them and their augmented copies, side by side.

    python -m tests.benchmarks.review_rule FOLDS [FOLDS ...] --data DATA [--json FILE]

``FOLDS`` is a folder of fold models a cross-validation kept (``evaluate --cv K --keep-folds FOLDS``); give two
or more to pool repeats. For each fold model, three thresholds: the one its training stored (the code of
then), and the two rules of :func:`core.training.calibration.choose_review_threshold` chosen again on what training
saw (the fold's inner validation photos through the training path, alone, and with
:data:`core.training.finishing.AUGMENTED_PASSES` augmented copies of them). Then the fold's held-out photos
(those it neither trained nor validated on) are classified once by the default runtime, as shot and under every
camera condition, and each threshold decides which of them go to Review. Printed per condition, pooled over
every fold: the share sent to Review and how many accepted photos are right. Nothing here chooses anything on the
held-out photos.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

import numpy as np
import torch

from core.inference.decision import DecisionPolicy
from core.inference.engine import Engine
from core.model.bundle import build_network
from core.photos.conditions import CONDITIONS
from core.photos.sources import iter_items
from core.training.calibration import choose_review_threshold
from core.training.dataset import PhotoCache
from core.training.evaluate import labelled_samples
from core.training.finishing import augmented_logits, verdicts
from core.training.protocol import kept_fold
from core.training.robustness import render_samples
from core.training.trainer import collect_outputs, plain_loader
from core.training.trust_metrics import review_summary

STORED = "as the fold's training stored it"  # the rule of the code that trained the fold (kept folds from before:
# the most confident mistake by the most likely class, not the decided one)
RULES = (STORED, "validation photos only", "validation photos and their copies (now)")


def thresholds(bundle, policy: DecisionPolicy, validation, labels: np.ndarray) -> dict[str, float]:
    """The three thresholds for one fold model (stored, and both rules chosen again on its validation photos as
    training sees them, decided by ``policy``)."""
    network = build_network(bundle).eval()
    cache = PhotoCache(bundle.input_hw, bundle.fit)
    logits = collect_outputs(network, plain_loader(validation, cache, 8), bundle.mean, bundle.std)[0]
    if bundle.tta:  # as training's validation logits are, when flip test-time augmentation is on
        mirrored = collect_outputs(network, plain_loader(validation, cache, 8), bundle.mean, bundle.std, True)[0]
        logits = (logits + mirrored) / 2
    torch.manual_seed(0)
    copies = [verdicts(policy, copy, labels) for copy in augmented_logits(network, validation, cache, 8, bundle)]
    as_shot = verdicts(policy, logits, labels)
    return {
        STORED: float(bundle.thresholds.get("review", 0.0)),
        RULES[1]: choose_review_threshold(*as_shot),
        RULES[2]: choose_review_threshold(*as_shot, copies=copies),
    }


def held_out_predictions(bundle, held) -> dict[str, list]:
    """The held-out photos' predictions, as shot and under every camera condition (the default runtime)."""
    engine = Engine(bundle, backend="auto")
    found = {"as shot": list(engine.classify(iter_items([s.path for s in held])))}
    for condition in CONDITIONS:
        with tempfile.TemporaryDirectory(prefix="defectsort-review-rule-") as folder:
            rendered = render_samples(held, condition, Path(folder))
            found[condition.name] = list(engine.classify(iter_items([s.path for s in rendered])))
    return found


def measure_fold(folder: Path, data: Path, tally: dict) -> dict[str, float]:
    """Add one fold model's held-out verdicts under each threshold to ``tally``; return the thresholds."""
    bundle = kept_fold(folder)
    samples, names = labelled_samples(bundle, data)
    split = bundle.training["split"]
    seen = set(split["train"]) | set(split["validation"])
    validation = [s for s in samples if s.path.name in set(split["validation"])]
    held = [(s, n) for s, n in zip(samples, names, strict=True) if s.path.name not in seen]
    policy = DecisionPolicy.from_bundle(bundle)
    chosen = thresholds(bundle, policy, validation, np.array([s.label for s in validation]))
    predictions = held_out_predictions(bundle, [s for s, _ in held])
    for rule, threshold in chosen.items():
        ruled = policy.with_review_threshold(threshold)
        for condition, found in predictions.items():
            decided = [ruled.apply(p) for p in found]
            tally.setdefault(rule, {}).setdefault(condition, []).extend(zip(decided, [n for _, n in held], strict=True))
    print(f"{folder}: {len(held)} held out, thresholds " + ", ".join(f"{t:.4f}" for t in chosen.values()))
    return chosen


def summary(pairs: list) -> dict:
    """Review share and accepted photos right over ``(prediction, true class)`` pairs."""
    predictions, truths = zip(*pairs, strict=True)
    figures = review_summary(list(predictions), list(truths))
    accepted = [(p, t) for p, t in pairs if p.ok and p.status != "review"]
    figures["accepted"] = len(accepted)
    figures["accepted_right"] = sum(p.label == t for p, t in accepted)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("folds", nargs="+", type=Path)
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    tally: dict = {}
    chosen = {str(f): measure_fold(f, args.data, tally) for run in args.folds for f in sorted(run.glob("fold-*"))}
    report = {"thresholds": chosen, "rules": {}}
    for rule in RULES:
        print(f"\n{rule}:")
        rows = {condition: summary(pairs) for condition, pairs in tally[rule].items()}
        everything = summary(
            [pair for condition, pairs in tally[rule].items() if condition != "as shot" for pair in pairs]
        )
        for condition, row in [*rows.items(), ("every condition", everything)]:
            print(
                f"  {condition:16s} Review {row['review_share']:6.1%}   accepted right "
                f"{row['accepted_right']}/{row['accepted']} ({row['accepted_right'] / max(row['accepted'], 1):.1%})"
            )
        report["rules"][rule] = {**rows, "every condition": everything}
    if args.json:
        args.json.write_text(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
