"""From a folder of good photos to an anomaly bundle (see :mod:`core.training.anomaly.build` for the parts)."""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import asdict
from pathlib import Path

import torch
from PIL import Image

from core.model.anomaly.patches import PatchEmbedder
from core.model.bundle import Bundle
from core.training.anomaly.build import (
    BANK_FILE,
    DEFECT_FOLDER,
    MIN_GOOD,
    AnomalyConfig,
    PhotoEmbedder,
    build_bank,
    choose_threshold,
    defect_metrics,
    find_photos,
    image_scores,
    new_anomaly_model,
    possible_mislabels,
    save_anomaly_bundle,
    split_good,
)
from core.training.anomaly.recipe import AnomalyInput, choose_input

CLASSES = ["good", "anomalous"]


def train_anomaly_bundle(
    good_dir, out_dir, config: AnomalyConfig, pretrained=None, name=None, subject="image", say=print
):
    """Build an anomaly bundle from ``good_dir``'s photos (``defect/`` inside it: known-bad ones, for metrics only).

    :param good_dir: good photos, in any sub-folders
    :param out_dir: the bundle folder to write
    :param config: backbone, input size, false-alarm rate, coreset size
    :param pretrained: the backbone's ImageNet state_dict (else torchvision's download)
    :param name: bundle name (default: the folder's)
    :param subject: what the photos show, for explanations
    :param say: receives progress and warnings
    :returns: the saved bundle
    :raises ValueError: too few good photos, no pretrained features
    """
    started = time.monotonic()
    good_photos, defect_photos = find_photos(Path(good_dir))
    _check_folder(Path(good_dir), good_photos, defect_photos, say)
    bank_photos, held_photos = split_good(good_photos, config.held_out, config.seed)
    say(f"{len(good_photos)} good photos: {len(bank_photos)} for the memory bank, {len(held_photos)} held out.")
    model = new_anomaly_model(config, pretrained, say)
    model_input, choices = _input_for(config, model, bank_photos, held_photos, say)
    bundle = Bundle(
        name=name or Path(out_dir).name,
        arch=config.arch,
        classes=list(CLASSES),
        input_size=list(model_input.size),
        fit=model_input.fit,
        subject=subject,
        normal_class="good",
        thresholds={"review": 0.9},  # anomalous exactly when the score passes the threshold (logit > 0)
        description="Anomaly model learned from good photos only (PatchCore)",
    )
    embed = PhotoEmbedder(PatchEmbedder(model, config.arch).eval(), bundle, say)
    bank_embeddings, bank_photos = embed(bank_photos)
    held_embeddings, held_photos = embed(held_photos)
    mislabels = possible_mislabels(torch.cat([bank_embeddings, held_embeddings]), bank_photos + held_photos)
    if mislabels:
        say(
            "warning: these good photos are unlike the others (another product, or mislabelled?): "
            + ", ".join(mislabels)
        )
    bank = build_bank(bank_embeddings, config.coreset_fraction, config.seed, say)
    held_scores = image_scores(held_embeddings, bank)
    threshold, scale = choose_threshold(held_scores, config.false_alarm_rate)
    metrics = {"held_out_good": len(held_scores), "false_alarms": round(float((held_scores > threshold).mean()), 4)}
    if defect_photos:
        defect_embeddings, defect_photos = embed(defect_photos)
        if defect_photos:
            metrics.update(defect_metrics(held_scores, image_scores(defect_embeddings, bank), threshold))
    bundle.anomaly = {
        "method": "patchcore",
        "file": BANK_FILE,
        "bank_size": len(bank),
        "threshold": threshold,  # full precision: feature scales differ by backbone
        "scale": scale,
        "false_alarm_rate": config.false_alarm_rate,
    }
    bundle.metrics = {"validation": metrics}
    bundle.training = {
        "data": str(good_dir),
        "anomaly": asdict(config),
        "choices": choices,
        "seconds": round(time.monotonic() - started, 1),
        "possible_mislabels": mislabels,
        "split": {"bank": [p.name for p in bank_photos], "held_out": [p.name for p in held_photos]},
    }
    return save_anomaly_bundle(bundle, model, bank, Path(out_dir))


def _input_for(config: AnomalyConfig, model, bank_photos, held_photos, say) -> tuple[AnomalyInput, dict]:
    """The input ``config`` gives, or the one :func:`choose_input` chooses (and ``{"input": its reasons}``)."""
    if config.image_size:
        return AnomalyInput((config.image_size[0], config.image_size[1]), config.fit), {}
    chosen, choice = choose_input(
        model, config.arch, bank_photos, held_photos, config.time_budget_s, say, config.coreset_fraction, config.seed
    )
    return chosen, {"input": choice}


def _check_folder(good_dir: Path, good: list[Path], defect: list[Path], say) -> None:
    """Refuse too few good photos; warn about an empty ``defect/`` folder and about mixed photo sizes."""
    if len(good) < MIN_GOOD:
        raise ValueError(
            f"{good_dir} has {len(good)} good photos: an anomaly model needs at least {MIN_GOOD} "
            "(put known-bad photos, if any, in a 'defect' sub-folder)"
        )
    if (good_dir / DEFECT_FOLDER).is_dir() and not defect:
        say(f"warning: {good_dir / DEFECT_FOLDER} holds no photos: no defect metrics will be measured")
    sizes = Counter(_size(path) for path in good[:200])
    if len(sizes) > 1:
        common = ", ".join(f"{w}x{h} ({n})" for (w, h), n in sizes.most_common(3) if w)
        say(f"note: good photos of {len(sizes)} sizes ({common}…): all are resized to the model input")


def _size(path: Path) -> tuple[int, int]:
    try:
        with Image.open(path) as image:
            return image.size
    except OSError:
        return (0, 0)  # named when it is decoded
