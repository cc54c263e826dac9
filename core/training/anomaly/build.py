"""``train GOOD_DIR --anomaly``: an anomaly bundle from good photos only (PatchCore).

Good photos are split: most build the memory bank (a greedy coreset of their patch embeddings),
the held-out rest choose the threshold for a stated false-alarm rate (the score that only that
share of good photos exceeds). A ``defect/`` folder of a few known-bad photos, when there is one,
only measures the result (AUROC, share found at the threshold). Nothing is trained by gradient:
the backbone is the ImageNet one, frozen.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import save

from core.files import file_sha256, write_bytes_atomic
from core.inference.engine import model_input
from core.model.anomaly.memory import MAX_CANDIDATES, coreset_bank, flat_patches, patch_distances
from core.model.anomaly.patches import PatchEmbedder
from core.model.bundle import Bundle, decode_for, save_bundle, write_metadata
from core.model.novelty import auroc
from core.photos.decode import DecodeError
from core.photos.sources import is_image_name
from core.training.model_setup import pretrained_model

MIN_GOOD = 20  # fewer good photos cannot say what "normal" looks like, nor hold some back
DEFECT_FOLDER = "defect"
BANK_FILE = "anomaly.safetensors"
MAX_BANK = 10_000  # patches kept: each photo is compared with every one of them
MISLABEL_NEIGHBOURS = 5  # distance to the 5th nearest good photo
# A good photo this far out is named. Measured on castings: their own outliers (off-centre parts) reach 2x the
# median distance, phone photos mixed among them 7.5-8x.
MISLABEL_RATIO = 3.0
MISLABEL_SPREADS = 6


@dataclass
class AnomalyConfig:
    """How an anomaly bundle is built.

    :param arch: the backbone (see :data:`core.model.anomaly.patches.PATCH_LAYERS`)
    :param image_size: model input ``(height, width)``, or None to choose it with the fit
        (:mod:`core.training.anomaly.recipe`)
    :param fit: ``stretch`` or ``pad`` (used with a given ``image_size``)
    :param time_budget_s: seconds the choice and the build may take together
    :param false_alarm_rate: the share of good photos allowed above the threshold
    :param coreset_fraction: share of the (sampled) good patches kept in the bank, at most :data:`MAX_BANK`
    :param held_out: share of good photos held out for the threshold
    :param seed: for the split, the patch sample and the coreset
    """

    arch: str = "mobilenet_v2"
    image_size: tuple[int, int] | None = None
    fit: str = "stretch"
    time_budget_s: float = 600.0
    false_alarm_rate: float = 0.01
    coreset_fraction: float = 0.1
    held_out: float = 0.2
    seed: int = 0


def find_photos(good_dir: Path) -> tuple[list[Path], list[Path]]:
    """Return the good photos (any folder but ``defect/``) and the known-bad ones in ``defect/``."""
    good: list[Path] = []
    defect: list[Path] = []
    for path in sorted(Path(good_dir).rglob("*")):
        if not path.is_file() or not is_image_name(path.name) or path.name.startswith("."):
            continue
        relative = path.relative_to(good_dir).parts
        (defect if relative[0].lower() == DEFECT_FOLDER else good).append(path)
    return good, defect


class PhotoEmbedder:
    """Decodes photos to the model input and returns their patch embeddings (unreadable photos are named)."""

    def __init__(self, embedder: PatchEmbedder, bundle: Bundle, say):
        self.embedder, self.bundle, self.say = embedder, bundle, say

    @torch.inference_mode()
    def __call__(self, photos: list[Path], batch_size: int = 16) -> tuple[torch.Tensor, list[Path]]:
        """Return ``N x D x h x w`` embeddings of the readable photos, and those photos."""
        readable, outputs, batch = [], [], []
        for number, path in enumerate(photos, 1):
            try:
                batch.append(decode_for(self.bundle, path.read_bytes()).pixels)
                readable.append(path)
            except (OSError, DecodeError) as error:
                self.say(f"warning: skipped {path.name}: {error}")
            if batch and (len(batch) == batch_size or number == len(photos)):
                outputs.append(self.embedder(model_input(np.stack(batch), self.bundle)).float())
                batch = []
        if not outputs:
            return torch.empty(0), readable
        return torch.cat(outputs), readable


def image_scores(embeddings: torch.Tensor, bank: torch.Tensor) -> np.ndarray:
    """Return each photo's score: the largest distance of its patches to the bank."""
    return patch_distances(embeddings, bank).flatten(1).amax(dim=1).numpy()


def choose_threshold(good_scores: np.ndarray, false_alarm_rate: float) -> tuple[float, float]:
    """Return ``(threshold, scale)``: the score only ``false_alarm_rate`` of good photos exceed, and the
    good scores' spread (one unit of the logit; the confidence reaches 95 % three units from the threshold)."""
    threshold = float(np.quantile(good_scores, 1.0 - false_alarm_rate, method="higher"))
    spread = float(np.std(good_scores)) or 1e-3
    return threshold, spread


def possible_mislabels(embeddings: torch.Tensor, photos: list[Path], limit: int = 10) -> list[str]:
    """Good photos far from the others (photos of another product in the good folder).

    A photo's distance is to its :data:`MISLABEL_NEIGHBOURS`-th nearest other good photo (mean patch
    embeddings), so a few foreign photos resembling each other still stand out.

    :returns: names of photos whose distance is both :data:`MISLABEL_RATIO` times the median and more than
        :data:`MISLABEL_SPREADS` robust standard deviations above it, farthest first
    """
    means = embeddings.mean(dim=(2, 3))
    distances = torch.cdist(means, means)
    distances.fill_diagonal_(math.inf)
    neighbour = min(MISLABEL_NEIGHBOURS, len(photos) - 1)
    nearest = distances.sort(dim=1).values[:, neighbour - 1].numpy()
    median = float(np.median(nearest))
    spread = 1.4826 * float(np.median(np.abs(nearest - median))) or 1e-6
    far = np.argsort(-nearest)
    limit_value = max(MISLABEL_RATIO * median, median + MISLABEL_SPREADS * spread)
    return [photos[i].name for i in far[:limit] if nearest[i] > limit_value]


def split_good(photos: list[Path], share: float, seed: int) -> tuple[list[Path], list[Path]]:
    """Return ``(bank photos, held-out photos)``, at least 5 held out."""
    shuffled = list(photos)
    random.Random(seed).shuffle(shuffled)
    held = max(5, round(share * len(photos)))
    return sorted(shuffled[held:]), sorted(shuffled[:held])


def build_bank(embeddings: torch.Tensor, fraction: float, seed: int, say) -> torch.Tensor:
    """Return the coreset of the good photos' patches (``B x D``)."""
    patches = flat_patches(embeddings)
    size = max(1, min(MAX_BANK, round(fraction * min(len(patches), MAX_CANDIDATES))))
    say(f"Choosing {size} of {min(len(patches), MAX_CANDIDATES)} good patches (greedy coreset)…")
    return coreset_bank(patches, size, seed)


def save_anomaly_bundle(bundle: Bundle, model: torch.nn.Module, bank: torch.Tensor, folder: Path) -> Bundle:
    """Write the backbone weights, the bank (safetensors, no pickle) and model.json."""
    saved = save_bundle(bundle, model, folder)
    write_bytes_atomic(Path(folder) / BANK_FILE, save({"bank": bank}))
    saved.anomaly["sha256"] = file_sha256(Path(folder) / BANK_FILE)
    write_metadata(saved)
    return saved


def defect_metrics(good_scores: np.ndarray, defect_scores: np.ndarray, threshold: float) -> dict:
    """Return image AUROC (good vs. known defects) and the share of defects over the threshold."""
    return {
        "auroc": round(auroc(good_scores, defect_scores), 4),
        "defects_found": round(float((defect_scores > threshold).mean()), 4),
        "defect_photos": len(defect_scores),
    }


def new_anomaly_model(config: AnomalyConfig, pretrained, say) -> torch.nn.Module:
    """Return the frozen ImageNet backbone; its classifier head is never run (kept so the weights stay
    torchvision's). :raises ValueError: without pretrained features (anomaly detection needs them)."""
    return pretrained_model(config.arch, 2, pretrained, say, "anomaly detection needs ImageNet features").eval()
