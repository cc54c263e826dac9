"""Build the network to fine-tune: a torchvision model with a pretrained backbone."""

from __future__ import annotations

import logging

import torch

from core.model.bundle import read_state_dict
from core.model.network import build_torchvision_model
from core.torchvision_compat import torchvision

log = logging.getLogger(__name__)


def pretrained_model(
    arch: str, num_classes: int, pretrained_path=None, say=print, required_by: str | None = None
) -> torch.nn.Module:
    """Create ``arch`` with ``num_classes`` outputs and ImageNet backbone weights.

    The backbone comes from ``pretrained_path`` (a torchvision state_dict) when given,
    else from torchvision's own download; when neither works, training starts from
    scratch and ``say`` tells the user so. The classifier head is always new.

    :param arch: torchvision model name
    :param num_classes: outputs of the new head
    :param pretrained_path: path of a state_dict for ``arch``, or None
    :param say: where to report what was loaded
    :param required_by: refuse to start from scratch, saying this (e.g. "anomaly detection needs ImageNet
        features"): for uses where features that were never trained are useless
    :returns: the model
    :raises ValueError: ``required_by`` and no pretrained weights
    """
    model = build_torchvision_model(arch, num_classes)
    state = _load_backbone_state(arch, pretrained_path, say)
    if state is None and required_by:
        raise ValueError(
            f"{required_by}: give --pretrained PATH (e.g. ../shared/pretrained/{arch}_imagenet.pth) "
            "or allow torchvision's download"
        )
    if state is None:
        say(f"WARNING: no pretrained weights for {arch}: training from scratch (expect lower accuracy).")
        return model
    own = model.state_dict()
    usable = {k: v for k, v in state.items() if k in own and own[k].shape == v.shape}
    missing = [k for k in own if k not in usable]
    model.load_state_dict(usable, strict=False)
    say(f"Loaded {len(usable)} pretrained tensors; new head: {', '.join(missing) or 'none'}.")
    return model


def _load_backbone_state(arch: str, pretrained_path, say) -> dict | None:
    if pretrained_path:
        state = read_state_dict(pretrained_path)
        say(f"Backbone weights: {pretrained_path}")
        return state
    try:
        weights = torchvision.models.get_model_weights(arch).DEFAULT
        downloaded: dict = weights.get_state_dict(progress=False)
        say(f"Backbone weights: torchvision {weights}")
        return downloaded
    except Exception as error:  # noqa: BLE001 - no network, no cache: any failure means "from scratch"
        log.info("torchvision weights unavailable: %s", error)
        return None
