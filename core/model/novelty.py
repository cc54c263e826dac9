"""Flag photos unlike the training data ("unknown"): nearest-neighbour distance of embeddings.

At training time the pooled last-layer features of every training photo are stored
(L2-normalised, float16) in the bundle. A new photo's score is one minus its cosine
similarity to the k-th most similar training photo (deep k-NN, Sun et al. 2022): near 0
for photos like the training set, larger for other products, blank or blurred frames.
Photos of the same product taken differently (another camera's exposure, white balance,
noise, compression, framing) must not look unknown, so training fits the bank on the training
photos *and* augmented copies of them (:mod:`core.training.augment`), and sets the threshold
on the validation photos and their augmented copies: a stated share of them (the false-alarm
rate, 1 % by default) may score above it, times a margin.

A reduced-precision runtime computes slightly different features, and a bank of float32 features scores them as
more unusual (bfloat16 moved a heavily compressed or darker screen across the float32 threshold: the README's
"Speed"). So such a runtime gets a detector of its own, bank and threshold fitted on the features it computes
(:mod:`core.training.reduced_precision`), kept in model.json's ``novelty.runtimes`` under the runtime's name;
:func:`core.model.bundle.runtime_entry` picks the one for the runtime that runs.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from safetensors.torch import load_file, save

from core.files import file_sha256, write_bytes_atomic

NOVELTY_FILE = "novelty.safetensors"
DEFAULT_K = 3
THRESHOLD_MARGIN = 1.1  # above the chosen quantile of the validation photos' scores
DEFAULT_FALSE_ALARM_RATE = 0.01
MIN_THRESHOLD = 0.01  # when validation photos are near-copies of training ones, scores near 0 mean nothing


@dataclass
class NoveltyDetector:
    """Scores how unusual photos are against a bank of training embeddings.

    :param bank: ``M x C`` L2-normalised training embeddings
    :param k: which nearest neighbour's similarity counts
    :param threshold: scores above it are "unknown"
    """

    bank: torch.Tensor
    k: int = DEFAULT_K
    threshold: float = float("inf")
    false_alarm_rate: float = DEFAULT_FALSE_ALARM_RATE
    fitted_on: str = ""

    @classmethod
    def fit(
        cls,
        train_embeddings: torch.Tensor,
        val_embeddings: torch.Tensor | None,
        k: int = DEFAULT_K,
        false_alarm_rate: float = DEFAULT_FALSE_ALARM_RATE,
        fitted_on: str = "",
    ) -> NoveltyDetector:
        """Store the training embeddings; set the threshold from the validation photos' scores.

        :param train_embeddings: the bank (training photos, with augmented copies)
        :param val_embeddings: photos the threshold is chosen on (validation photos, with augmented copies)
        :param k: which nearest neighbour counts
        :param false_alarm_rate: the share of ``val_embeddings`` allowed above the threshold (before the margin)
        :param fitted_on: what the bank and threshold came from, in words (kept in model.json)
        """
        bank = F.normalize(train_embeddings.float(), dim=1).half()
        detector = cls(bank, min(k, len(train_embeddings)), false_alarm_rate=false_alarm_rate, fitted_on=fitted_on)
        if val_embeddings is not None and len(val_embeddings):
            quantile = float(np.quantile(detector.scores(val_embeddings), 1.0 - false_alarm_rate))
            detector.threshold = max(quantile * THRESHOLD_MARGIN, MIN_THRESHOLD)
        return detector

    def scores(self, embeddings: torch.Tensor) -> np.ndarray:
        """Return one score per row of ``embeddings`` (higher = more unusual)."""
        queries = F.normalize(embeddings.float(), dim=1)
        similarity = queries @ self.bank.float().T
        kth = similarity.topk(self.k, dim=1).values[:, -1]
        return (1.0 - kth).clamp(min=0.0).numpy()

    def save(self, folder: Path, file_name: str = NOVELTY_FILE) -> dict:
        """Write the bank next to the weights.

        :param file_name: the bank's file in ``folder``
        :returns: the ``novelty`` entry of model.json (or a runtime's entry in it)
        """
        path = Path(folder) / file_name
        write_bytes_atomic(path, save({"bank": self.bank.contiguous()}))
        return {
            "method": "knn-cosine",
            "file": file_name,
            "k": self.k,
            "threshold": round(self.threshold, 5),
            "bank_size": int(self.bank.shape[0]),
            "false_alarm_rate": self.false_alarm_rate,
            "fitted_on": self.fitted_on,
            "sha256": file_sha256(path),
        }

    @classmethod
    def load(cls, folder: Path, meta: dict) -> NoveltyDetector:
        """Read the detector described by model.json's ``novelty`` entry (hash checked).

        :raises ValueError: when the file does not match its recorded SHA-256
        """
        path = Path(folder) / meta["file"]
        if meta.get("sha256") and file_sha256(path) != meta["sha256"]:
            raise ValueError(f"{path.name} does not match the SHA-256 in model.json")
        bank = load_file(str(path))["bank"]
        return cls(bank, k=int(meta["k"]), threshold=float(meta["threshold"]))


def auroc(inside: np.ndarray, outside: np.ndarray) -> float:
    """Return the probability that an outside photo scores above an inside one (ties count half)."""
    inside, outside = np.asarray(inside, dtype=float), np.asarray(outside, dtype=float)
    if not len(inside) or not len(outside):
        return float("nan")
    greater = (outside[:, None] > inside[None, :]).mean()
    ties = (outside[:, None] == inside[None, :]).mean()
    return float(greater + 0.5 * ties)
