"""Fit a classifier's anomaly head from the good photos of its own training split, and measure it.

The bank comes from 80 % of the training split's "no defect" photos, the threshold from the other
20 % (the score only ``false_alarm_rate`` of them exceed; split by the bundle's groups, so that no
photo of a held-out phone is in the bank); both also hold copies of those photos as other cameras would
take them (the training augmentation): a darker, noisier or shifted clean screen is not unusual. The
validation split, never used, gives the numbers: image AUROC (defective photos against good ones), false
alarms and defects above the threshold, and whether the refined anomaly map's peak falls inside the defect mask.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from PIL import Image
from safetensors.torch import save
from torch import nn

from core.files import file_sha256, write_bytes_atomic
from core.inference.decision import normal_class_of
from core.inference.engine import model_input
from core.model.anomaly.memory import coreset_bank, flat_patches, patch_distances
from core.model.anomaly.patches import PATCH_LAYERS, combine_patches
from core.model.bundle import Bundle, build_network, decode_for, write_metadata
from core.model.network import ClassMapNet, Pooling
from core.model.novelty import auroc
from core.model.refine import local_contrast, refined_heatmaps
from core.training.anomaly.build import choose_threshold
from core.training.augment import augment, build_augmentation
from core.training.dataset import Sample, grouped_split, scan_dataset
from core.training.trust_metrics import peak_inside

HEAD_FILE = "anomaly_head.safetensors"
AUGMENTED_COPIES = 2  # of each good photo, as another camera might take it: unusual is not "taken differently"
_AS_SHOT_AND_COPIES = (False,) + (True,) * AUGMENTED_COPIES


class _Embeddings(nn.Module):
    """A stand-in head whose "anomaly map" is the patch embeddings themselves (to fit the real one)."""

    def __init__(self, layers: tuple[int, int]):
        super().__init__()
        self.layers = layers

    def forward(self, captured: list[torch.Tensor]) -> torch.Tensor:
        return combine_patches(captured, coarse=True)


class _Photos:
    """Patch embeddings and fine detail of photos, through the bundle's own network."""

    def __init__(self, bundle: Bundle):
        classifier = build_network(bundle, verify=True)
        assert isinstance(classifier, ClassMapNet)
        self.layers = PATCH_LAYERS[bundle.arch]
        self.net = ClassMapNet(
            classifier.model,
            bundle.arch,
            Pooling.from_json(bundle.pooling),
            bundle.detail_layer,
            _Embeddings(self.layers),
        ).eval()
        self.bundle = bundle

    @torch.inference_mode()
    def __call__(self, sample: Sample, augmented: bool = False) -> tuple[torch.Tensor, torch.Tensor | None]:
        """The photo's patch embeddings and fine detail; ``augmented``: of a copy as another camera might take it."""
        pixels = decode_for(self.bundle, sample.path.read_bytes()).pixels
        if augmented:
            pixels = self._another_camera(pixels)
        outputs = self.net.forward_all(model_input(pixels[None], self.bundle))
        assert outputs.anomaly is not None
        contrast = None if outputs.detail is None else local_contrast(outputs.detail, self.bundle.detail_window)
        return outputs.anomaly.float(), contrast

    def _another_camera(self, pixels: np.ndarray) -> np.ndarray:
        image = torch.from_numpy(pixels.copy()).permute(2, 0, 1)
        transform = build_augmentation((pixels.shape[0], pixels.shape[1]))
        varied, _ = augment(transform, image, torch.zeros(1, *image.shape[1:]), jpeg_at_camera_scale=True)
        return varied.permute(1, 2, 0).numpy()


def fit_anomaly_head(
    bundle: Bundle,
    data_dir: Path,
    masks_dir: Path | None = None,
    bank_size: int = 500,
    false_alarm_rate: float = 0.01,
    seed: int = 0,
    say=print,
    split: dict | None = None,
) -> dict:
    """Fit the head, store it in the bundle (``anomaly_head`` in model.json + :data:`HEAD_FILE`), measure it.

    :param bundle: a classifier bundle with a "no defect" class and a recorded split
    :param data_dir: its class folders (the photos it was trained on)
    :param masks_dir: defect masks, for the pointing score
    :param bank_size: good patches kept
    :param split: ``{"train": names, "validation": names}`` (default: the bundle's recorded split); a
        retrained model's head is fitted on its parent's photos again
    :returns: the validation metrics
    :raises ValueError: no "no defect" class, no recorded split, too few good photos
    """
    normal = normal_class_of(bundle)
    split = split or bundle.training.get("split", {})
    if normal is None or not split:
        raise ValueError(f"'{bundle.name}' needs a 'no defect' class and a recorded training split")
    classes, samples = scan_dataset(data_dir, masks_dir, bundle.training.get("group_by"))
    good = [s for s in samples if classes[s.label] == normal and s.path.name in set(split["train"])]
    validation = [s for s in samples if s.path.name in set(split["validation"])]
    # photos of one phone stay on one side: a held-out photo whose twin is in the bank would score low
    bank_samples, held_samples = grouped_split(good, 0.2, seed)
    say(
        f"{len(bank_samples)} good training photos (and {AUGMENTED_COPIES} copies of each as other cameras take them) "
        f"for the bank, {len(held_samples)} and their copies for the threshold, {len(validation)} validation photos "
        "to measure."
    )
    torch.manual_seed(seed)
    photos = _Photos(bundle)
    bank_patches = [flat_patches(photos(s, augmented)[0]) for s in bank_samples for augmented in _AS_SHOT_AND_COPIES]
    bank = coreset_bank(torch.cat(bank_patches), bank_size, seed)
    held = np.array(
        [
            patch_distances(photos(s, augmented)[0], bank).max().item()
            for s in held_samples
            for augmented in _AS_SHOT_AND_COPIES
        ]
    )
    threshold, _ = choose_threshold(held, false_alarm_rate)
    metrics = _measure(photos, bank, validation, [classes[s.label] == normal for s in validation], threshold)
    folder = bundle.weights_path.parent
    write_bytes_atomic(folder / HEAD_FILE, save({"bank": bank}))
    bundle.anomaly_head = {
        "method": "patchcore-head",
        "file": HEAD_FILE,
        "sha256": file_sha256(folder / HEAD_FILE),
        "layers": list(photos.layers),
        "bank_size": len(bank),
        "threshold": threshold,
        "false_alarm_rate": false_alarm_rate,
        "fitted_on": (
            f"{len(bank_samples)} good training photos and {AUGMENTED_COPIES} copies of each as other cameras take "
            f"them; threshold from {len(held_samples)} more and their copies"
        ),
        "validation": metrics,
    }
    write_metadata(bundle)
    return metrics


def _measure(photos: _Photos, bank: torch.Tensor, samples: list[Sample], is_good: list[bool], threshold: float) -> dict:
    """Return AUROC, false alarms, defects above the threshold and pointing on ``samples``."""
    scores, hits = [], []
    for sample, good in zip(samples, is_good):
        embeddings, contrast = photos(sample)
        distances = patch_distances(embeddings, bank)
        scores.append(distances.max().item())
        if not good and sample.mask_path is not None:
            refined = distances if contrast is None else refined_heatmaps(distances, contrast)
            mask = np.asarray(Image.open(sample.mask_path).convert("L")) > 0
            row, column = np.unravel_index(int(refined[0].argmax()), refined[0].shape)
            hits.append(peak_inside(mask, ((column + 0.5) / refined.shape[2], (row + 0.5) / refined.shape[1])))
    values, good_mask = np.array(scores), np.array(is_good)
    return {
        "auroc": round(auroc(values[good_mask], values[~good_mask]), 4),
        "false_alarms": round(float((values[good_mask] > threshold).mean()), 4),
        "defects_above_threshold": round(float((values[~good_mask] > threshold).mean()), 4),
        "pointing": round(float(np.mean(hits)), 4) if hits else None,
        "good_photos": int(good_mask.sum()),
        "defect_photos": int((~good_mask).sum()),
        "masks": len(hits),
    }
