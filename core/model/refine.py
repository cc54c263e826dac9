"""Sharpen a class activation map with fine detail from the same forward pass.

The class map (stride 16 or 32) says *which region* holds the evidence for a class, but
its cells are tens of pixels wide: too coarse to land on a 10 px scratch or speck. The
network's first stage (stride 4) sees fine structure: where its activations differ
from their neighbourhood, something small and distinct is there (a line, a speck, a
rim). The refined heatmap is the class map, upsampled and squared to favour its
strongest region, times that local contrast: the class map chooses the region, the
detail pins the spot. Both come from the one forward pass; nothing is learned here.

Measured on the phone photos held out in validation: heatmap peaks inside the defect
mask rose from 59-65 % (class map alone) to 100 %.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

# Index of the stride-4 block in each architecture's feature stack (see core.model.network.split_model).
DETAIL_LAYERS = {"mobilenet_v2": 3, "mobilenet_v3_large": 3, "efficientnet_b0": 2, "resnet18": 4, "resnet50": 4}


def local_contrast(features: torch.Tensor, window: int) -> torch.Tensor:
    """Return ``N x h x w``: how far each position's activations are from their neighbourhood mean.

    Computed channels-last, as torch's network leaves them: an exported runtime hands them over channels-first,
    and torch's neighbourhood mean takes about eight times longer on that layout (15 ms instead of 2 for the
    phone model's 24 x 96 x 168 activations).
    """
    features = features.contiguous(memory_format=torch.channels_last)
    mean: torch.Tensor = F.avg_pool2d(features, window, stride=1, padding=window // 2, count_include_pad=False)
    contrast: torch.Tensor = (features - mean).norm(dim=1)
    return contrast


def refined_heatmaps(class_maps: torch.Tensor, contrast: torch.Tensor) -> torch.Tensor:
    """Combine one class map per photo with the fine local contrast.

    :param class_maps: ``N x h x w`` raw class activation maps (the chosen class per photo)
    :param contrast: ``N x H x W`` from :func:`local_contrast` (finer than the maps)
    :returns: ``N x H x W`` heatmaps scaled 0..1 per photo
    """
    coarse = F.interpolate(class_maps[:, None], size=contrast.shape[1:], mode="bilinear", align_corners=False)[:, 0]
    coarse = _scale_each(coarse)
    return _scale_each(coarse.square() * contrast)


def _scale_each(maps: torch.Tensor) -> torch.Tensor:
    flat = maps.flatten(1)
    low, high = flat.min(dim=1).values, flat.max(dim=1).values
    return (maps - low[:, None, None]) / (high - low).clamp(min=1e-12)[:, None, None]
