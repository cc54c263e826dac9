"""Fit a classifier's anomaly head from the good photos of its own training split, and measure it.

The threshold is the score only ``false_alarm_rate`` of a fifth of the training split's "no defect" photos
exceed, each scored against a bank of the other four fifths (split by the bundle's groups: a phone the bank has
not seen, as every phone in use will be); the bank the head keeps then holds every good photo, so that it knows
as many phones as there are (:class:`HeadSettings` ``whole_bank``). Both also hold copies of those photos as other
cameras would take them (the training augmentation): a darker, noisier or shifted clean screen is not unusual.
With ``threshold_folds`` the threshold comes instead from every good photo, each scored against a bank of the
other phones' photos. The validation split, never used, gives the numbers: image AUROC (defective photos against
good ones), false alarms and defects above the threshold, and whether the refined anomaly map's peak falls inside
the defect mask.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from safetensors.torch import save
from torch import nn

from core.files import file_sha256, write_bytes_atomic
from core.inference.decision import normal_class_of
from core.inference.engine import model_input
from core.inference.runtime import parse_runtime, reduced_precision_runtimes
from core.model.anomaly.memory import coreset_bank, flat_patches, patch_distances
from core.model.anomaly.patches import PATCH_LAYERS, combine_patches
from core.model.bundle import RUNTIMES_KEY, Bundle, build_network, decode_for, write_metadata
from core.model.network import ClassMapNet, Pooling
from core.model.novelty import auroc
from core.model.onnx_backend import cached_onnx
from core.model.openvino_backend import OpenVinoNetwork
from core.model.refine import local_contrast, refined_heatmaps
from core.training.anomaly.build import choose_threshold
from core.training.augment import augment, build_augmentation
from core.training.cross_validation import grouped_folds
from core.training.dataset import Sample, grouped_split, scan_dataset
from core.training.evaluate import validation_baseline
from core.training.trainer import trained_grey
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


class HeadPhotos:
    """Patch embeddings and fine detail of photos, through the bundle's own network (float32, in torch), or through
    a runtime's (an :class:`OpenVinoNetwork` built with ``head="patches"``: the patches its arithmetic computes).
    """

    def __init__(self, bundle: Bundle, runtime_network: OpenVinoNetwork | None = None):
        self.layers = PATCH_LAYERS[bundle.arch]
        self.net: ClassMapNet | OpenVinoNetwork
        if runtime_network is not None:
            self.net = runtime_network
        else:
            classifier = build_network(bundle, verify=True)
            assert isinstance(classifier, ClassMapNet)
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
        outputs = self.net.forward_all(model_input(np.stack([pixels]), self.bundle))  # a writable batch of one
        assert outputs.anomaly is not None
        contrast = None if outputs.detail is None else local_contrast(outputs.detail, self.bundle.detail_window)
        return outputs.anomaly.float(), contrast

    def _another_camera(self, pixels: np.ndarray) -> np.ndarray:
        image = torch.from_numpy(pixels.copy()).permute(2, 0, 1)
        transform = build_augmentation((pixels.shape[0], pixels.shape[1]))
        blank = torch.zeros(1, *image.shape[1:])
        varied, _ = augment(transform, image, blank, jpeg_at_camera_scale=True, grey=trained_grey(self.bundle))
        return varied.permute(1, 2, 0).numpy()


@dataclass(frozen=True)
class HeadSettings:
    """How a head is fitted (kept in model.json, so that a retrained model or a fold gets the same).

    :param bank_size: good patches kept (the head's cost grows with it)
    :param false_alarm_rate: the share of held-out good photos (and copies) allowed above the threshold
    :param threshold_folds: 0: the threshold from a fifth of the good photos, scored against a bank of the other
        80 %; K: from every good photo, each scored against a bank of the other K-1 folds
    :param whole_bank: the bank the head keeps holds every good photo (False: only those that did not set the
        threshold, as heads were fitted before phone-defects 2.0.1; such a head flagged the clean screens of a
        phone unlike the few in its bank)
    """

    bank_size: int = 500
    false_alarm_rate: float = 0.01
    threshold_folds: int = 0
    whole_bank: bool = True

    @classmethod
    def of(cls, head: dict) -> HeadSettings:
        """The settings a stored head was fitted with, so that its runtime banks, a retrained model and a fold are
        fitted the same way (a head stored before a setting existed: how heads were fitted then)."""
        stored = {f.name: head.get(f.name, _BEFORE_RECORDED.get(f.name, f.default)) for f in fields(cls)}
        return cls(**stored)


_BEFORE_RECORDED = {"whole_bank": False}  # settings a head fitted before they were recorded was fitted without


@dataclass(frozen=True)
class FittedHead:
    """A bank of good patches and the score only ``false_alarm_rate`` of good photos exceed."""

    bank: torch.Tensor
    threshold: float
    fitted_on: str


def fit_head(photos: HeadPhotos, good: list[Sample], settings: HeadSettings, seed: int = 0) -> FittedHead:
    """Fit a bank and its threshold on good photos and copies of each as other cameras take them.

    :param photos: the bundle's patch embeddings
    :param good: good photos (with their groups: a phone's photos stay on one side)
    :param settings: bank size, false-alarm rate, how the threshold is set
    :param seed: the split, the copies and the coreset
    :returns: the :class:`FittedHead`
    """
    torch.manual_seed(seed)
    embedded = {s.path: [photos(s, augmented)[0] for augmented in _AS_SHOT_AND_COPIES] for s in good}

    def bank_of(samples: list[Sample]) -> torch.Tensor:
        return coreset_bank(
            torch.cat([flat_patches(e) for s in samples for e in embedded[s.path]]), settings.bank_size, seed
        )

    def scores(samples: list[Sample], bank: torch.Tensor) -> list[float]:
        return [patch_distances(e, bank).max().item() for s in samples for e in embedded[s.path]]

    photos_and_copies = f"good training photos and {AUGMENTED_COPIES} copies of each as other cameras take them"
    if settings.threshold_folds:
        folds = _phone_folds(good, settings.threshold_folds, seed)
        held = [score for fold in folds for score in scores(fold, bank_of([s for s in good if s not in fold]))]
        bank = bank_of(good)
        described = (
            f"{len(good)} {photos_and_copies}; threshold from every one scored against a bank of the other "
            f"{len(folds) - 1} of {len(folds)} folds"
        )
    else:
        # photos of one phone stay on one side: a held-out photo whose twin is in the bank would score low
        bank_samples, held_samples = grouped_split(good, 0.2, seed)
        scoring_bank = bank_of(bank_samples)
        held = scores(held_samples, scoring_bank)
        if settings.whole_bank:
            bank = bank_of(good)
            described = (
                f"{len(good)} {photos_and_copies}; threshold from {len(held_samples)} of them scored against a "
                f"bank of the other {len(bank_samples)}"
            )
        else:
            bank = scoring_bank
            described = (
                f"{len(bank_samples)} {photos_and_copies}; threshold from {len(held_samples)} more and their copies"
            )
    threshold, _ = choose_threshold(np.array(held), settings.false_alarm_rate)
    return FittedHead(bank, threshold, described)


def _phone_folds(good: list[Sample], wanted: int, seed: int) -> list[list[Sample]]:
    """Deal the good photos into ``wanted`` folds of whole phones, or as many as their phones can fill.

    :raises ValueError: good photos of fewer than two phones (nothing to score a phone against)
    """
    for k in range(min(wanted, len({s.group for s in good})), 1, -1):
        try:
            return grouped_folds(good, k, seed)
        except ValueError:  # uneven groups: fewer, larger folds
            continue
    raise ValueError("a cross-fitted threshold needs good photos of at least two phones (groups)")


def fit_anomaly_head(
    bundle: Bundle,
    data_dir: Path,
    masks_dir: Path | None = None,
    settings: HeadSettings = HeadSettings(),
    seed: int = 0,
    say=print,
    split: dict | None = None,
) -> dict:
    """Fit the head, store it in the bundle (``anomaly_head`` in model.json + :data:`HEAD_FILE`), measure it.

    The head sends photos to Review, so the drift baseline is measured again on the validation photos with it:
    one measured without it would see a rise in Review every night.

    :param bundle: a classifier bundle with a "no defect" class and a recorded split
    :param data_dir: its class folders (the photos it was trained on)
    :param masks_dir: defect masks, for the pointing score
    :param settings: bank size, false-alarm rate, how the threshold is set
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
    good = good_training_photos(bundle, classes, samples, split)
    validation = [s for s in samples if s.path.name in set(split["validation"])]
    photos = HeadPhotos(bundle)
    fitted = fit_head(photos, good, settings, seed)
    say(f"Anomaly head: {fitted.fitted_on}; {len(validation)} validation photos to measure.")
    metrics = measure_head(photos, fitted, validation, [classes[s.label] == normal for s in validation])
    folder = bundle.weights_path.parent
    write_bytes_atomic(folder / HEAD_FILE, save({"bank": fitted.bank}))
    bundle.anomaly_head = {
        "method": "patchcore-head",
        "file": HEAD_FILE,
        "sha256": file_sha256(folder / HEAD_FILE),
        "layers": list(photos.layers),
        **asdict(settings),
        "bank_size": len(fitted.bank),
        "threshold": fitted.threshold,
        "fitted_on": fitted.fitted_on,
        "validation": metrics,
    }
    write_metadata(bundle)
    fit_runtime_heads(bundle, good, settings, seed, say)
    if validation:
        bundle.baseline = validation_baseline(bundle, [s.path for s in validation])
        write_metadata(bundle)
    return metrics


def good_training_photos(bundle: Bundle, classes: list[str], samples: list[Sample], split: dict) -> list[Sample]:
    """The "no defect" photos of the training split, in the dataset's order: what the head is fitted on."""
    training = set(split["train"])
    return [s for s in samples if classes[s.label] == normal_class_of(bundle) and s.path.name in training]


def fit_runtime_heads(bundle: Bundle, good: list[Sample], settings: HeadSettings, seed: int = 0, say=print) -> None:
    """Give each reduced-precision runtime this CPU runs natively a head bank and threshold of its own.

    bf16 patch embeddings lie farther from a bank of float32 ones: clean, heavily compressed screens of a held-out
    phone crossed the float32 threshold (Review) under OpenVINO bf16. A threshold refitted on bf16 scores does not
    mend it (it came out within 2 % of float32's); a bank of the patches the runtime computes does. The same fit
    as float32's (:func:`fit_head`: the same photos, copies and seed) on the runtime's patches; kept in model.json
    ``anomaly_head.runtimes`` with its own bank file; the runtime measures its patches against it
    (:class:`core.model.openvino_backend.OpenVinoNetwork`).
    """
    runtimes = reduced_precision_runtimes()
    for runtime in runtimes:
        precision = parse_runtime(runtime)[1]
        network = OpenVinoNetwork(cached_onnx(bundle), bundle, precision, head="patches")
        fitted = fit_head(HeadPhotos(bundle, network), good, settings, seed)
        file_name = f"anomaly_head-{precision}.safetensors"
        folder = bundle.weights_path.parent
        write_bytes_atomic(folder / file_name, save({"bank": fitted.bank}))
        entry = {
            "file": file_name,
            "sha256": file_sha256(folder / file_name),
            "bank_size": len(fitted.bank),
            "threshold": fitted.threshold,
            "fitted_on": f"{runtime} patches of {fitted.fitted_on}",
        }
        bundle.anomaly_head[RUNTIMES_KEY] = {**bundle.anomaly_head.get(RUNTIMES_KEY, {}), runtime: entry}
        float32 = bundle.anomaly_head["threshold"]
        say(f"Anomaly head for {runtime}: threshold {fitted.threshold:.4g} (float32: {float32:.4g}).")
    if runtimes:
        write_metadata(bundle)


def measure_head(photos: HeadPhotos, head: FittedHead, samples: list[Sample], is_good: list[bool]) -> dict:
    """Return AUROC, false alarms, defects above the threshold and pointing on ``samples``."""
    bank, threshold = head.bank, head.threshold
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
