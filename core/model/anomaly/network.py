"""A network whose outputs are those of a classifier with two classes, ``good`` and ``anomalous``.

The engine runs it like any bundle's network (:meth:`AnomalyNet.forward_all` gives
:class:`core.model.network.NetworkOutputs`): each patch's distance to the nearest good patch is the
anomaly map; the photo's score is its largest value. Both are put on the scale of the bundle's
threshold: ``(distance - threshold) / scale``, so the logit of ``anomalous`` against ``good`` is
that number, a photo is anomalous exactly when its score passes the threshold, and the map of
``anomalous`` is the anomaly map past the threshold (its boxes frame the anomalous regions).
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from core.model.anomaly.memory import load_bank, patch_distances
from core.model.anomaly.patches import PatchEmbedder
from core.model.network import NetworkOutputs


class AnomalyNet(nn.Module):
    """Patch embeddings + memory bank -> logits, maps and raw scores of ``good`` / ``anomalous``.

    :param model: the plain torchvision backbone model
    :param arch: its torchvision name
    :param bank: ``B x D`` good patch embeddings (the coreset)
    :param threshold: the image score above which a photo is anomalous
    :param scale: the spread of good photos' scores: one unit of the logit
    """

    def __init__(self, model: nn.Module, arch: str, bank: torch.Tensor, threshold: float, scale: float):
        super().__init__()
        self.embedder = PatchEmbedder(model, arch)
        self.bank: torch.Tensor
        self.register_buffer("bank", bank, persistent=False)
        self.threshold, self.scale = float(threshold), float(scale)

    @property
    def model(self) -> nn.Module:
        """Return the plain torchvision model inside (as :attr:`core.model.network.ClassMapNet.model`)."""
        return self.embedder.model

    def anomaly_maps(self, images: torch.Tensor) -> torch.Tensor:
        """Return ``N x h x w`` distances of each patch to its nearest good patch."""
        return patch_distances(self.embedder(images), self.bank)

    def forward_all(self, images: torch.Tensor) -> NetworkOutputs:
        """Return the outputs the engine expects, plus the raw distance maps in ``anomaly``."""
        distances = self.anomaly_maps(images)
        scores = distances.flatten(1).amax(dim=1)
        evidence = (distances - self.threshold) / self.scale
        logit = (scores - self.threshold) / self.scale
        logits = torch.stack([torch.zeros_like(logit), logit], dim=1)
        # only patches past the threshold are evidence: the heatmap and boxes show where, not how normal the rest is
        maps = torch.stack([-evidence, evidence.clamp_min(0.0)], dim=1)
        embedding = torch.zeros(len(images), 1)
        return NetworkOutputs(logits, maps, None, embedding, distances)


def load_anomaly_network(model: nn.Module, arch: str, folder: Path, meta: dict) -> AnomalyNet:
    """Return the network of an anomaly bundle: ``model`` (weights loaded) with the bank ``meta`` names.

    :param folder: the bundle folder
    :param meta: model.json's ``anomaly``: ``file``, ``sha256``, ``threshold``, ``scale``
    :raises ValueError: a bank file that changed since the bundle was written
    """
    return AnomalyNet(model, arch, load_bank(folder, meta), meta["threshold"], meta["scale"])
