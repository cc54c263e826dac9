"""Turn the inspectors' corrections into a candidate model, and measure it against its parent.

The corrections (see :mod:`core.journal.corrections`) are split: a share is held back for the
gate, the rest joins the base data (the parent's training folder, or ``--data``) in a
temporary training folder; without base data the candidate starts from the parent's
weights on the corrections alone (fine-tuning). The parent's own validation photos never
enter training: with ``--holdout`` photos they are the frozen holdout of
:mod:`core.training.gate`. The candidate records its lineage in ``model.json``.
"""

from __future__ import annotations

import os
import random
import re
import shutil
import tempfile
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath

from core.inference.decision import normal_class_of
from core.journal.corrections import LabelledPhoto, load_photos, read_corrections
from core.model.bundle import Bundle, write_metadata
from core.training import gate
from core.training.dataset import scan_dataset
from core.training.pipeline import train_bundle
from core.training.trainer import TrainConfig

FINE_TUNE_LR_SCALE = 0.3  # a model that already works needs smaller steps than one trained from ImageNet


@dataclass
class RetrainOutcome:
    """The candidate bundle, how it compares with its parent, and what could not be used."""

    bundle: Bundle
    comparison: dict
    passed: bool
    reasons: list[str]
    problems: list[str] = field(default_factory=list)


def retrain(
    parent: Bundle,
    correction_sources: list[Path],
    out_dir: Path,
    *,
    base_data: Path | None = None,
    holdout_dir: Path | None = None,
    time_budget_s: float = 480.0,
    seed: int = 0,
    say: Callable[[str], None] = print,
    on_epoch: Callable[[dict], None] | None = None,
    on_step: Callable[[int, int], None] | None = None,
) -> RetrainOutcome:
    """Retrain ``parent`` with corrections, write the candidate bundle and its comparison.

    :param correction_sources: journal, results files or class folders (see :mod:`core.journal.corrections`)
    :param out_dir: the candidate bundle's folder
    :param base_data: class folders to train on besides the corrections (default: the parent's training data)
    :param holdout_dir: more class folders for the frozen holdout
    :raises ValueError: no usable corrections, or nothing to train on
    """
    corrections, problems = read_corrections(correction_sources)
    photos, unusable = load_photos(corrections, parent.classes)
    problems += unusable
    if not photos:
        raise ValueError("no usable corrections" + (f": {problems[0]}" if problems else ""))
    counts = Counter(photo.correction.label for photo in photos)
    say(
        f"{len(photos)} corrected photos ({', '.join(f'{k} {v}' for k, v in sorted(counts.items()))}); "
        f"{len(problems)} problem(s)."
    )
    if len(counts) == 1:
        say(f"Note: every correction says '{next(iter(counts))}'; the gate decides whether that helps.")
    base = base_data or _recorded_data(parent)
    say(f"Base data: {base}" if base else "No base data found: fine-tuning the current model on the corrections alone.")
    held, used = hold_back(photos, _group_pattern(parent), seed)
    with tempfile.TemporaryDirectory(prefix="defectsort-retrain-") as work:
        train_dir, held_dir = Path(work, "train"), Path(work, "held")
        frozen = _assemble(parent, base, used, train_dir)
        frozen += _class_photos(holdout_dir, parent.classes) if holdout_dir else []
        held_photos = _write_photos(held, held_dir)
        say(
            f"Training on {sum(1 for _ in train_dir.rglob('*.*'))} photos; frozen holdout {len(frozen)}, "
            f"held-back corrections {len(held_photos)}."
        )
        candidate = _train(parent, train_dir, out_dir, time_budget_s, seed, say, on_epoch, on_step)
        comparison = gate.compare(parent, candidate, {gate.FROZEN: frozen, gate.CORRECTIONS: held_photos})
    passed, reasons = gate.verdict(comparison)
    candidate.lineage = _lineage(parent, photos, held, correction_sources)
    candidate.severity = dict(parent.severity)  # the business rule does not change with the weights
    candidate.promotion = {"rule": gate.RULE, "passed": passed, "reasons": reasons, "promoted": False}
    write_metadata(candidate)
    gate.write_comparison(candidate.weights_path.parent, comparison)
    return RetrainOutcome(candidate, comparison, passed, reasons, problems)


def hold_back(photos: list[LabelledPhoto], group: re.Pattern | None, seed: int) -> tuple[list, list]:
    """Keep a share of each class's corrections out of training; photos of one group (one phone) stay together.

    :returns: ``(held back, used for training)``
    """
    groups: dict[str, list[LabelledPhoto]] = {}
    for photo in photos:
        name = PurePosixPath(photo.correction.source.replace("\\", "/")).name
        match = group.search(name) if group else None
        groups.setdefault(match.group(match.lastindex or 0) if match else photo.sha256, []).append(photo)
    order = sorted(groups)
    random.Random(seed).shuffle(order)
    per_class = Counter(p.correction.label for p in photos)
    wanted = {label: gate.HOLD_BACK_SHARE * count for label, count in per_class.items()}
    taken: Counter = Counter()
    held, used = [], []
    for name in order:
        labels = Counter(p.correction.label for p in groups[name])
        if all(taken[label] + n <= wanted[label] + 0.5 for label, n in labels.items()):
            held.extend(groups[name])
            taken.update(labels)
        else:
            used.extend(groups[name])
    return held, used


def bump_version(version: str) -> str:
    """Return the next minor version (``1.0.0`` -> ``1.1.0``)."""
    major, minor = (int(p) if p.isdigit() else 0 for p in [*version.split("."), "0"][:2])
    return f"{major}.{minor + 1}.0"


def _recorded_data(parent: Bundle) -> Path | None:
    recorded = parent.training.get("data")
    if not recorded:
        return None
    folder = parent.weights_path.parent
    for candidate in (Path(recorded), folder.parent.parent / recorded, folder / recorded):
        if candidate.is_dir():
            return candidate.resolve()
    return None


def _group_pattern(parent: Bundle) -> re.Pattern | None:
    group_by = parent.training.get("group_by")
    return re.compile(group_by) if group_by else None


def _assemble(parent: Bundle, base: Path | None, used: list[LabelledPhoto], train_dir: Path) -> gate.Labelled:
    """Fill ``train_dir`` with base photos (not the parent's validation photos) and the used corrections.

    :returns: the parent's validation photos, the frozen holdout
    """
    validation = set(parent.training.get("split", {}).get("validation", []))
    frozen: gate.Labelled = []
    for path, label in _class_photos(base, parent.classes) if base else []:
        if path.name in validation:
            frozen.append((path, label))
        else:
            (train_dir / label).mkdir(parents=True, exist_ok=True)
            _link_or_copy(path, train_dir / label / path.name)
    _write_photos(used, train_dir)
    return frozen


def _link_or_copy(source: Path, target: Path) -> None:
    try:
        os.link(source, target)  # no second copy of a large training set where the file system allows it
    except OSError:
        shutil.copy2(source, target)


def _class_photos(folder: Path, classes: list[str]) -> gate.Labelled:
    names, samples = scan_dataset(folder, classes=classes)
    return [(sample.path, names[sample.label]) for sample in samples]


def _write_photos(photos: list[LabelledPhoto], folder: Path) -> gate.Labelled:
    written = []
    for photo in photos:
        suffix = PurePosixPath(photo.correction.source.replace("\\", "/")).suffix.lower() or ".jpg"
        path = folder / photo.correction.label / f"correction_{photo.sha256[:16]}{suffix}"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(photo.data)
        written.append((path, photo.correction.label))
    return written


def _train(
    parent: Bundle,
    train_dir: Path,
    out_dir: Path,
    time_budget_s: float,
    seed: int,
    say: Callable[[str], None],
    on_epoch: Callable[[dict], None] | None,
    on_step: Callable[[int, int], None] | None,
) -> Bundle:
    recorded = {k: v for k, v in parent.training.get("config", {}).items() if k in TrainConfig.__dataclass_fields__}
    config = TrainConfig(
        **{
            **recorded,
            "image_size": tuple(parent.input_size),
            "fit": parent.fit,
            "time_budget_s": time_budget_s,
            "lr": recorded.get("lr", TrainConfig.lr) * FINE_TUNE_LR_SCALE,
            "seed": seed,
            "choose": (),  # the parent's input size, fit and batch stay
            "epochs": max(recorded.get("epochs", 0), TrainConfig.epochs),  # the time budget plans the rest
        }
    )
    candidate = train_bundle(
        train_dir,
        out_dir,
        config,
        pretrained=parent.weights_path,
        name=parent.name,
        subject=parent.subject,
        normal_class=normal_class_of(parent),
        classes=parent.classes,
        group_by=parent.training.get("group_by"),
        description=parent.description,
        say=say,
        on_epoch=on_epoch,
        on_step=on_step,
    )
    candidate.version = bump_version(parent.version)
    return candidate


def _lineage(parent: Bundle, photos: list[LabelledPhoto], held: list[LabelledPhoto], sources: list[Path]) -> dict:
    events = sorted(p.correction.event for p in photos if p.correction.event is not None)
    return {
        "parent": {"name": parent.name, "version": parent.version, "sha256": parent.sha256},
        "corrections": dict(sorted(Counter(p.correction.label for p in photos).items())),
        "held_back": len(held),
        "sources": [str(s) for s in sources],
        "journal_events": events,
        "date": datetime.now(UTC).astimezone().isoformat(timespec="seconds"),
    }
