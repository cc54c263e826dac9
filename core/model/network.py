"""Wrap a plain torchvision classifier so one forward pass gives logits and class maps.

A class activation map (CAM) is the classifier's weights applied at every position of
the last convolutional feature map. With average pooling, the mean of the map plus the
bias *is* the ordinary logit, so the heatmap costs one tiny 1x1 convolution. The bundle may ask
for another pooling of the class maps (``max``, ``lse``): the logit then comes from the
strongest region, which makes the map point at small defects. The weights stay those of
the plain torchvision model either way.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import torch
from torch import nn
from torch.nn import functional as F
from torch.utils.checkpoint import checkpoint

from core.torchvision_compat import torchvision

SUPPORTED_ARCHS = ("mobilenet_v2", "mobilenet_v3_large", "efficientnet_b0", "resnet18", "resnet50")


@dataclass(frozen=True)
class Pooling:
    """How class maps become logits.

    :param kind: ``avg`` (torchvision's own), ``max``, or ``lse`` (log-sum-exp, a soft max)
    :param sharpness: the ``r`` of log-sum-exp pooling; larger is closer to max
    """

    kind: str = "avg"
    sharpness: float = 5.0

    @classmethod
    def from_json(cls, value: str | dict[str, object] | None) -> Pooling:
        """Return a Pooling from model.json's ``pooling`` (a string or a dict)."""
        default = cls()
        if value is None:
            return default
        if isinstance(value, str):
            return cls(kind=value)
        return cls(
            kind=str(value.get("kind", default.kind)), sharpness=float(str(value.get("sharpness", default.sharpness)))
        )

    def to_json(self) -> dict:
        """Return the dict stored in model.json."""
        return {"kind": self.kind, "sharpness": self.sharpness}

    def __call__(self, maps: torch.Tensor) -> torch.Tensor:
        """Pool ``N x K x h x w`` maps to ``N x K`` scores.

        Reduced over both spatial axes at once, never over a flattened view, and log-sum-exp written out: OpenVINO
        (2026.4) computes a reduction that follows a reshape wrongly for batches of more than one photo, and reads
        the exported ReduceLogSumExp as a reduction over every axis (``tests/core/test_runtimes.py``).
        """
        spatial = (2, 3)
        if self.kind == "avg":
            return maps.mean(dim=spatial)
        if self.kind == "max":
            return maps.amax(dim=spatial)
        if self.kind == "lse":
            scaled = self.sharpness * maps
            largest = scaled.amax(dim=spatial, keepdim=True)
            mean_exp = torch.exp(scaled - largest).mean(dim=spatial)  # the mean: log-sum-exp less log(cells)
            return (largest.squeeze(3).squeeze(2) + torch.log(mean_exp)) / self.sharpness
        raise ValueError(f"unknown pooling '{self.kind}'")


def build_torchvision_model(arch: str, num_classes: int) -> nn.Module:
    """Return the plain torchvision model for ``arch`` with a ``num_classes`` head."""
    if arch not in SUPPORTED_ARCHS:
        raise ValueError(f"unsupported architecture '{arch}' (choose from {', '.join(SUPPORTED_ARCHS)})")
    model: nn.Module = torchvision.models.get_model(arch, weights=None, num_classes=num_classes)
    return model


def set_output_stride(model: nn.Module, output_stride: int) -> nn.Module:
    """Halve the network's final downsampling (stride 32 -> 16) without changing its weights.

    The last stride-2 block runs at stride 1 and the convolutions after it are dilated
    by 2, as DeepLab does: the class maps get twice the resolution, so small defects are
    located more precisely. The state_dict is untouched, so the weights still load into
    the plain torchvision model; the bundle records ``output_stride`` and the engine
    applies it.

    :param model: a torchvision classifier
    :param output_stride: 32 (unchanged) or 16
    :returns: the same model, modified in place
    """
    if output_stride == 32:
        return model
    if output_stride != 16:
        raise ValueError("output_stride must be 32 or 16")
    convs = [(name, m) for name, m in model.named_modules() if isinstance(m, nn.Conv2d)]
    strided = [name for name, m in convs if m.stride == (2, 2)]
    last_block = ".".join(strided[-1].split(".")[:2])
    in_last_stage = False
    for name, conv in convs:
        if name in strided and name.startswith(last_block + "."):
            conv.stride, in_last_stage = (1, 1), True
        elif in_last_stage and conv.kernel_size[0] > 1:
            conv.dilation = (2, 2)
            conv.padding = (conv.kernel_size[0] - 1, conv.kernel_size[1] - 1)
    return model


def split_model(model: nn.Module, arch: str) -> tuple[nn.Sequential, nn.Module | None, nn.Linear]:
    """Split a torchvision classifier into convolutional features, an optional per-vector
    head (MobileNetV3's hidden layer) and the final linear layer.

    :returns: ``(features, hidden, linear)``
    """
    if arch.startswith("resnet"):
        body = nn.Sequential(*[m for name, m in model.named_children() if name not in ("avgpool", "fc")])
        return body, None, _linear(model.fc)
    features, classifier = model.features, model.classifier
    assert isinstance(features, nn.Sequential) and isinstance(classifier, nn.Sequential), arch
    if arch == "mobilenet_v3_large":
        return features, classifier[:-1], _linear(classifier[-1])
    return features, None, _linear(classifier[-1])


def _linear(module: nn.Module | torch.Tensor) -> nn.Linear:
    if not isinstance(module, nn.Linear):
        raise ValueError(f"expected the classifier's last layer to be linear, found {type(module).__name__}")
    return module


class ClassMapNet(nn.Module):
    """A torchvision classifier that returns ``(logits, class_maps)`` from one pass.

    :param model: the plain torchvision model (its parameters are shared, not copied)
    :param arch: its torchvision name
    :param pooling: how class maps are pooled into logits
    :param detail_layer: also return the output of this block of the feature stack
        (fine detail for :mod:`core.model.refine`), or None
    :param anomaly_head: also return its anomaly map, from features of the same pass (:mod:`core.model.anomaly.head`)
    """

    def __init__(
        self,
        model: nn.Module,
        arch: str,
        pooling: Pooling = Pooling(),
        detail_layer: int | None = None,
        anomaly_head: nn.Module | None = None,
    ):
        super().__init__()
        self.model = model  # the state_dict a bundle stores is this plain torchvision model's
        self._parts = split_model(model, arch)  # a tuple, so not registered a second time
        self.pooling = pooling
        self.detail_layer = detail_layer
        self.anomaly_head = anomaly_head
        self._captured_layers: tuple[int, ...] = tuple(getattr(anomaly_head, "layers", ()))
        self.recompute = False  # training: keep only each block's output, recompute its insides in backward
        if self._parts[1] is not None and pooling.kind != "avg":
            raise ValueError(f"{arch} has a non-linear head: only average pooling is supported")

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Return logits ``N x K`` and class maps ``N x K x h x w``."""
        outputs = self.forward_all(images)
        return outputs.logits, outputs.maps

    def forward_all(self, images: torch.Tensor) -> NetworkOutputs:
        """Return logits, class maps, the ``detail_layer`` output and the pooled embedding."""
        backbone, hidden, linear = self._parts
        features, detail, captured = images, None, []
        recompute = self.recompute and torch.is_grad_enabled()
        for index, block in enumerate(backbone):
            features = checkpoint(block, features, use_reentrant=False) if recompute else block(features)
            if index == self.detail_layer:
                detail = features
            if index in self._captured_layers:
                captured.append(features)
        embedding = features.mean(dim=(2, 3))
        anomaly = self.anomaly_head(captured) if self.anomaly_head is not None else None
        if hidden is None:
            maps = F.conv2d(features, linear.weight[:, :, None, None])  # the classifier at every position (1x1)
            return NetworkOutputs(self.pooling(maps) + linear.bias, maps, detail, embedding, anomaly)
        # A non-linear head: exact logits from pooled features; maps apply the head per position.
        logits = linear(hidden(embedding))
        per_position = hidden(features.permute(0, 2, 3, 1))
        maps = (per_position @ linear.weight.T).permute(0, 3, 1, 2)
        return NetworkOutputs(logits, maps, detail, embedding, anomaly)


class NetworkOutputs(NamedTuple):
    """Everything one forward pass of :class:`ClassMapNet` yields."""

    logits: torch.Tensor  # N x K
    maps: torch.Tensor  # N x K x h x w class activation maps
    detail: torch.Tensor | None  # N x C' x H' x W' early features (fine detail), or None
    embedding: torch.Tensor  # N x C globally pooled last features (for the unknown-photo score)
    anomaly: torch.Tensor | None = None  # N x h' x w' distances to the nearest good patch (core.model.anomaly), or None
