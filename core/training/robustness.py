"""How a model holds up when its photos are taken differently (:mod:`core.photos.conditions`).

Every photo (validation photos only, when asked) is re-rendered under each condition, its
mask moved along, and the copies go through the same engine users run and the measures of
:func:`core.training.evaluate.evaluate_bundle`. Per condition: macro-F1, defect recall, heatmap peak inside the
defect, and the shares flagged Unknown and sent to Review.
"""

from __future__ import annotations

import tempfile
from dataclasses import replace
from pathlib import Path

import numpy as np
from PIL import Image

from core.inference.engine import Engine
from core.model.bundle import Bundle
from core.model.novelty import auroc
from core.photos.conditions import CONDITIONS, Condition
from core.photos.decode import open_upright
from core.photos.sources import iter_items
from core.training.dataset import Sample
from core.training.evaluate import labelled_samples, measure

GOALS = {"macro_f1": 0.95, "defect_recall": 0.98, "pointing": 0.8, "unknown_share": 0.10, "other_product_auroc": 0.95}
CAMERA_QUALITY = 95  # a re-rendered photo is saved as a camera would: JPEG (except where the condition says)


def robustness_report(
    bundle: Bundle,
    data_dir,
    masks_dir=None,
    only_validation: bool = True,
    conditions: tuple[Condition, ...] = CONDITIONS,
    foreign_dir=None,
    engine_options: dict | None = None,
    say=print,
) -> list[dict]:
    """Measure ``bundle`` under each condition.

    :param bundle: the model
    :param data_dir: class folders of photos
    :param masks_dir: defect masks (``<stem>.png``), moved along with geometric conditions
    :param only_validation: keep only the bundle's validation photos
    :param conditions: the conditions to render
    :param foreign_dir: photos of other products: adds, per condition, how well the unknown-photo score
        separates them from the re-rendered photos (AUROC)
    :param engine_options: keyword arguments of :class:`core.inference.engine.Engine` (backend, precision,
        exported file); None: the torch reference
    :param say: receives one line per condition as it is measured
    :returns: one row per condition: ``condition``, ``description``, ``photos``, ``accuracy``,
        ``macro_f1``, ``defect_recall``, ``pointing``, ``unknown_share``, ``review_share`` (and
        ``other_product_auroc`` with ``foreign_dir``)
    """
    samples, true_names = labelled_samples(bundle, data_dir, masks_dir, only_validation)
    if not samples:
        raise ValueError(f"no photos to measure under {data_dir}")
    return measure_conditions(bundle, samples, true_names, conditions, foreign_dir, engine_options, say)


def measure_conditions(
    bundle: Bundle,
    samples: list[Sample],
    true_names: list[str],
    conditions: tuple[Condition, ...] = CONDITIONS,
    foreign_dir=None,
    engine_options: dict | None = None,
    say=print,
    classified=None,
) -> list[dict]:
    """:func:`robustness_report` on given photos (a cross-validation fold) and their true class names.

    :param classified: receives ``(condition name, predictions)`` for each condition (in the samples' order)
    """
    engine = Engine(bundle, **(engine_options or {}))
    foreign = [p.ood_score for p in engine.classify(iter_items([foreign_dir])) if p.ok] if foreign_dir else []
    with_masks = any(s.mask_path for s in samples)
    rows = []
    for condition in conditions:
        with tempfile.TemporaryDirectory(prefix="defectsort-condition-") as folder:
            rendered = render_samples(samples, condition, Path(folder))
            predictions = list(engine.classify(iter_items([s.path for s in rendered])))
            metrics = measure(bundle, rendered, true_names, predictions, with_masks=with_masks)
        if classified:
            classified(condition.name, predictions)
        rows.append(_row(condition, metrics))
        if foreign:
            inside = [p.ood_score for p in predictions if p.ok]
            rows[-1]["other_product_auroc"] = round(auroc(np.array(inside), np.array(foreign)), 4)
        say(format_row(rows[-1]))
    return rows


def render_samples(samples: list[Sample], condition: Condition, folder: Path) -> list[Sample]:
    """Write every sample under ``condition`` into ``folder/photos/<class>/``, its mask into ``folder/masks``.

    :returns: the re-rendered samples, in the same order
    """
    masks = folder / "masks"
    masks.mkdir(parents=True)
    rendered = []
    for sample in samples:
        photo = open_upright(sample.path.read_bytes())
        mask = Image.open(sample.mask_path).convert("L") if sample.mask_path else None
        photo, mask = condition.render(photo, mask)
        target = folder / "photos" / sample.path.parent.name / sample.path.with_suffix(".jpg").name
        target.parent.mkdir(parents=True, exist_ok=True)
        photo.save(target, "JPEG", quality=CAMERA_QUALITY)
        mask_path = None
        if mask is not None:
            mask_path = masks / f"{sample.path.stem}.png"
            mask.save(mask_path)
        rendered.append(replace(sample, path=target, mask_path=mask_path))
    return rendered


def _row(condition: Condition, metrics: dict) -> dict:
    profile = metrics["profile"]
    readable = max(1, profile["photos"])
    pointing = metrics.get("localisation", {}).get("pointing", {}).get("overall")
    return {
        "condition": condition.name,
        "description": condition.description,
        "photos": profile["photos"],
        "accuracy": round(metrics["accuracy"], 4),
        "macro_f1": round(metrics["macro_f1"], 4),
        "defect_recall": _plain(metrics.get("defect_recall")),
        "pointing": _plain(pointing),
        "unknown_share": round(profile["unknown"] / readable, 4),
        "review_share": round(profile["review"] / readable, 4),
        "accepted_accuracy": _plain(metrics["review"]["accuracy_not_reviewed"]),
        "mistakes": [f"{Path(e['source']).name}: {e['true']} -> {e['predicted']}" for e in metrics["errors"]],
    }


def _plain(value) -> float | None:
    """A NumPy scalar (from a runtime's float32 outputs) as a plain float, which statistics and JSON take."""
    return None if value is None else float(value)


def format_row(row: dict) -> str:
    """Return one printable line; a number short of its goal (:data:`GOALS`) is marked with ``!``."""

    def shown(key: str) -> str:
        value = row.get(key)
        if value is None:
            return "n/a"
        goal = GOALS.get(key)
        missed = goal is not None and (value > goal if key == "unknown_share" else value < goal)
        return f"{value:.3f}{'!' if missed else ''}"

    return (
        f"{row['condition']:>12}: macro-F1 {shown('macro_f1')}  defect recall {shown('defect_recall')}  "
        f"peak inside {shown('pointing')}  unknown {shown('unknown_share')}  review {row['review_share']:.3f}  "
        f"accepted right {shown('accepted_accuracy')}"
        + (f"  other products AUROC {shown('other_product_auroc')}" if "other_product_auroc" in row else "")
    )
