"""Patch embeddings: a backbone's stride-8 and stride-16 features, locally averaged, side by side.

Mid-level features describe texture and small shapes (what a defect changes) without the
ImageNet-specific meaning of the last layers. Each position's 3x3 neighbourhood is averaged (a
patch sees a little context) and the stride-16 features are upsampled to the stride-8 grid, as
PatchCore does.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from core.model.network import split_model

# feature blocks (indices into the backbone's feature stack) whose outputs are at stride 8 and 16
PATCH_LAYERS = {
    "mobilenet_v2": (6, 13),
    "mobilenet_v3_large": (6, 12),
    "efficientnet_b0": (3, 5),
    "resnet18": (5, 6),
    "resnet50": (5, 6),
}


def combine_patches(collected: list[torch.Tensor], coarse: bool = False) -> torch.Tensor:
    """Mid-level feature maps (finest first) -> patch embeddings on one grid.

    :param collected: the stride-8 and stride-16 outputs
    :param coarse: on the stride-16 grid (the stride-8 features averaged 2x2: four times fewer patches,
        for a head that must stay cheap) instead of the stride-8 grid
    :returns: ``N x D x h x w``, each position averaged over its 3x3 neighbourhood
    """
    if coarse:
        collected = [F.avg_pool2d(collected[0], 2, ceil_mode=True), *collected[1:]]
    smoothed = [F.avg_pool2d(f, 3, stride=1, padding=1) for f in collected]
    size = smoothed[-1].shape[-2:] if coarse else smoothed[0].shape[-2:]
    resized = [
        f if f.shape[-2:] == size else F.interpolate(f, size=size, mode="bilinear", align_corners=False)
        for f in smoothed
    ]
    return torch.cat(resized, dim=1)


class PatchEmbedder(nn.Module):
    """``N x 3 x H x W`` images -> ``N x D x H/8 x W/8`` patch embeddings.

    :param model: a plain torchvision classifier (only its feature stack up to the stride-16 block runs)
    :param arch: its torchvision name
    """

    def __init__(self, model: nn.Module, arch: str):
        super().__init__()
        if arch not in PATCH_LAYERS:
            raise ValueError(f"anomaly detection supports {', '.join(PATCH_LAYERS)}, not {arch}")
        self.model = model  # registered once: the state_dict stays torchvision's
        self._backbone = split_model(model, arch)[0]
        self.layers = PATCH_LAYERS[arch]

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        collected = []
        features = images
        for index, block in enumerate(self._backbone):
            features = block(features)
            if index in self.layers:
                collected.append(features)
            if index == self.layers[-1]:
                break
        return combine_patches(collected)
