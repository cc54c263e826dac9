"""What follows the training loop: flip test-time augmentation, the unknown-photo detector, the review threshold."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from core.inference.decision import DecisionPolicy
from core.inference.engine import normalise
from core.model.bundle import Bundle
from core.model.novelty import NoveltyDetector
from core.training import calibration
from core.training.dataset import PhotoCache
from core.training.metrics import classification_metrics
from core.training.trainer import (
    TrainConfig,
    TrainResult,
    augmented_loader,
    collect_outputs,
    plain_loader,
    trained_grey,
)

AUGMENTED_PASSES = 3  # augmented copies of each photo in the unknown-photo detector's bank and threshold


def choose_flip_tta(bundle: Bundle, result: TrainResult, val_set, config: TrainConfig, say) -> dict:
    """Average each photo's logits with its mirror image's when ``config.tta`` asks for it, or (``auto``)
    when that raises the validation macro-F1: it doubles the time of a forward pass.

    :returns: what model.json keeps of the choice (``training.tta``)
    """
    if config.tta == "off" or not len(result.val_labels):
        return {}
    loader = plain_loader(val_set, result.cache, config.micro_batch or config.batch_size)
    mirrored, _, _ = collect_outputs(result.net, loader, bundle.mean, bundle.std, mirrored=True)
    averaged = (result.val_logits + mirrored) / 2
    labels = result.val_labels.numpy()
    without, with_flip = (
        classification_metrics(labels, logits.argmax(1).numpy(), bundle.classes)["macro_f1"]
        for logits in (result.val_logits, averaged)
    )
    used = config.tta == "hflip" or with_flip > without
    if used:
        bundle.tta, result.val_logits = ["hflip"], averaged
    say(
        f"Flip test-time augmentation: validation macro-F1 {without:.3f} without, {with_flip:.3f} with: "
        + ("on (each photo is also classified mirrored)." if used else "off.")
    )
    return {"tta": {"macro_f1_without": without, "macro_f1_with": with_flip, "used": used}}


def fit_trust(bundle: Bundle, result: TrainResult, train_set, val_set, config: TrainConfig, folder: Path) -> None:
    """Fit the unknown-photo detector and choose the review threshold (both from data).

    The detector's bank holds the training photos and :data:`AUGMENTED_PASSES` augmented copies
    of each; its threshold comes from the validation photos and as many augmented copies: the
    same product photographed differently is not "unknown" (see :mod:`core.model.novelty`). The review
    threshold comes from the validation photos and as many augmented copies too: the copies hold the confident
    mistakes a few dozen photos rarely show (:func:`core.training.calibration.choose_review_threshold`).
    """
    batch = config.micro_batch or config.batch_size  # a retraining's memory bound holds here too
    result.net.eval()
    detector = fit_detector(result.net, train_set, val_set, result.cache, batch, bundle)
    folder.mkdir(parents=True, exist_ok=True)
    bundle.novelty = detector.save(folder)
    if len(result.val_labels):
        policy, labels = DecisionPolicy.from_bundle(bundle), result.val_labels.numpy()
        # the kept weights' validation logits, mirrored and averaged when flip TTA is on, as the engine will
        as_shot = verdicts(policy, result.val_logits, labels)
        copies = [
            verdicts(policy, logits, labels)
            for logits in augmented_logits(result.net, val_set, result.cache, batch, bundle)
        ]
        bundle.thresholds["review"] = calibration.choose_review_threshold(*as_shot, copies=copies)


def verdicts(policy: DecisionPolicy, logits: torch.Tensor, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return the confidence of the label ``policy`` decides for each photo, and whether that label is right."""
    probabilities = policy.calibrate(logits).numpy()
    decided = policy.decide_labels(probabilities)
    return probabilities[np.arange(len(decided)), decided], decided == labels


def augmented_logits(network, samples, cache: PhotoCache, batch: int, bundle: Bundle) -> list[torch.Tensor]:
    """Return the logits of :data:`AUGMENTED_PASSES` augmented copies of ``samples``, one tensor per pass
    (not mirrored: flip test-time augmentation is left to the photos as shot)."""
    loader = augmented_loader(samples, cache, batch, trained_grey(bundle))  # each pass draws new copies
    return [collect_outputs(network, loader, bundle.mean, bundle.std)[0] for _ in range(AUGMENTED_PASSES)]


def fit_detector(network, train_set, val_set, cache: PhotoCache, batch: int, bundle: Bundle) -> NoveltyDetector:
    """Fit an unknown-photo detector on the features ``network`` computes: the bank from the training photos and
    :data:`AUGMENTED_PASSES` augmented copies of each, the threshold from the validation photos and as many copies.

    :param network: anything with ``forward_all`` (the torch network in eval mode, or an exported runtime's)
    :param cache: the decoded photos (:class:`core.training.dataset.PhotoCache`)
    :param batch: photos per forward pass
    :param bundle: gives the input normalisation
    """

    grey = trained_grey(bundle)

    def embeddings(samples, augmented: bool) -> torch.Tensor:
        loader = augmented_loader(samples, cache, batch, grey) if augmented else plain_loader(samples, cache, batch)
        return _embeddings(network, loader, bundle.mean, bundle.std)

    train_parts, val_parts = [], []
    for augmented in [False] + [True] * AUGMENTED_PASSES:  # as shot, then the copies (in this order: the draws)
        train_parts.append(embeddings(train_set, augmented))
        if len(val_set):
            val_parts.append(embeddings(val_set, augmented))
    val_embeddings = torch.cat(val_parts) if val_parts else None
    copies = f"{len(train_set)} training photos and {AUGMENTED_PASSES} augmented copies of each"
    threshold_from = f"; threshold from {len(val_set)} validation photos and their copies" if len(val_set) else ""
    return NoveltyDetector.fit(torch.cat(train_parts), val_embeddings, fitted_on=copies + threshold_from)


@torch.inference_mode()
def _embeddings(network, loader, mean, std) -> torch.Tensor:
    return torch.cat([network.forward_all(normalise(images, mean, std)).embedding for images, _, _ in loader])
