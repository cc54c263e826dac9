"""Training losses: classification (cross-entropy or focal) and heatmap pointing."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def focal_loss(
    logits: torch.Tensor, labels: torch.Tensor, gamma: float = 2.0, label_smoothing: float = 0.0
) -> torch.Tensor:
    """Focal loss (Lin et al. 2017): cross-entropy down-weighted on easy examples.

    :param logits: ``N x K``
    :param labels: ``N`` class indices
    :param gamma: focusing strength; 0 gives plain cross-entropy
    :returns: the mean loss
    """
    log_probs = F.log_softmax(logits, dim=1)
    per_item = F.nll_loss(log_probs, labels, reduction="none")
    if label_smoothing:
        per_item = (1 - label_smoothing) * per_item - label_smoothing * log_probs.mean(dim=1)
    true_prob = log_probs.gather(1, labels[:, None]).squeeze(1).exp()
    return ((1.0 - true_prob) ** gamma * per_item).mean()


def classification_loss(kind: str, label_smoothing: float = 0.05):
    """Return ``loss(logits, labels)`` for ``kind`` ``ce`` or ``focal``."""
    if kind == "focal":
        return lambda logits, labels: focal_loss(logits, labels, label_smoothing=label_smoothing)
    if kind == "ce":
        return lambda logits, labels: F.cross_entropy(logits, labels, label_smoothing=label_smoothing)
    raise ValueError(f"unknown loss '{kind}' (ce or focal)")


def pointing_loss(maps: torch.Tensor, labels: torch.Tensor, masks: torch.Tensor) -> torch.Tensor:
    """Teach the true class's map to peak on the defect.

    The map is turned into a distribution over positions (softmax); the loss is minus
    the log of the probability mass on cells that touch the defect mask. Photos
    without a mask (or whose mask is empty) do not contribute.

    :param maps: ``N x K x h x w`` class maps
    :param labels: ``N`` true classes
    :param masks: ``N x 1 x H x W`` defect masks (0..1) at input resolution
    :returns: the mean loss over photos with a defect mask (0 when there are none)
    """
    height, width = maps.shape[2:]
    inside = F.adaptive_max_pool2d(masks, (height, width)).flatten(1) > 0.05
    has_defect = inside.any(dim=1)
    if not has_defect.any():
        return maps.sum() * 0.0
    true_maps = maps[torch.arange(len(labels)), labels].flatten(1)
    log_p = F.log_softmax(true_maps, dim=1).masked_fill(~inside, float("-inf"))
    return -torch.logsumexp(log_p[has_defect], dim=1).mean()
