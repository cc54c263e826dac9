"""The anomaly head of a classifier: "possible defect not in the model's classes", from the same forward pass.

The classifier's own mid-level features (stride 8 and 16, captured while its forward pass runs)
become patch embeddings on the stride-16 grid; each patch's distance to the nearest patch of the
good training photos (a coreset of at most a few thousand) is the anomaly map. It costs one
matrix product per photo: a few milliseconds for the phone model.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from core.model.anomaly.memory import load_bank
from core.model.anomaly.patches import combine_patches


class AnomalyHead(nn.Module):
    """Captured feature maps -> ``N x h x w`` distances to the nearest good patch.

    :param layers: the feature blocks whose outputs it reads (stride 8, stride 16)
    :param bank: ``B x D`` good patch embeddings
    """

    def __init__(self, layers: tuple[int, int], bank: torch.Tensor):
        super().__init__()
        self.layers = tuple(layers)
        self.bank: torch.Tensor
        self.register_buffer("bank", bank, persistent=False)

    def forward(self, captured: list[torch.Tensor]) -> torch.Tensor:
        return photo_distances(combine_patches(captured, coarse=True), self.bank)


def photo_distances(embeddings: torch.Tensor, bank: torch.Tensor) -> torch.Tensor:
    """Return ``N x h x w`` distances of ``N x D x h x w`` patch embeddings to their nearest bank row.

    The same distances as :func:`core.model.anomaly.memory.patch_distances`, one batched matrix product for the
    whole batch instead of fixed-size chunks: a head's few thousand patches a photo need no chunking, and the
    graph keeps a free batch size when it is exported (a traced chunk loop would fix it to the example's).
    """
    height, width = embeddings.shape[-2:]
    rows = embeddings.float().flatten(2).transpose(1, 2)  # N x hw x D
    squared = (rows * rows).sum(dim=2, keepdim=True) + (bank * bank).sum(dim=1) - 2.0 * rows @ bank.T
    distances: torch.Tensor = squared.amin(dim=2).clamp_min(0.0).sqrt().reshape(-1, height, width)
    return distances


def load_anomaly_head(folder: Path, meta: dict) -> AnomalyHead:
    """Return the head model.json's ``anomaly_head`` describes (``file``, ``sha256``, ``layers``).

    :raises ValueError: a bank file that changed since it was written
    """
    return AnomalyHead(tuple(meta["layers"]), load_bank(folder, meta))
