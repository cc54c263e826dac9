"""Class activation maps on a hand-built model, pooling, peaks, regions and sentences."""

import math

import numpy as np
import pytest
import torch
from torch import nn

from core.inference import explain
from core.model.network import (
    SUPPORTED_ARCHS,
    ClassMapNet,
    Pooling,
    build_torchvision_model,
    set_output_stride,
)


class _HandBuilt(nn.Module):
    """Shaped like torchvision's MobileNetV2: ``features`` then ``classifier[-1]`` linear."""

    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(nn.Identity())
        self.classifier = nn.Sequential(nn.Dropout(0.0), nn.Linear(2, 2))
        with torch.no_grad():
            self.classifier[1].weight.copy_(torch.tensor([[1.0, 0.0], [2.0, -1.0]]))
            self.classifier[1].bias.copy_(torch.tensor([0.5, -0.5]))


def _features():
    features = torch.zeros(1, 2, 2, 3)
    features[0, 0] = torch.tensor([[1.0, 0.0, 0.0], [0.0, 0.0, 3.0]])
    features[0, 1] = torch.tensor([[0.0, 1.0, 0.0], [2.0, 0.0, 0.0]])
    return features


def test_cam_is_the_classifier_applied_at_every_position():
    logits, maps = ClassMapNet(_HandBuilt(), "mobilenet_v2")(_features())
    expected_class1 = 2 * _features()[0, 0] - _features()[0, 1]
    assert torch.allclose(maps[0, 0], _features()[0, 0])
    assert torch.allclose(maps[0, 1], expected_class1)
    # average pooling of the maps plus the bias is exactly the ordinary logit
    assert torch.allclose(logits[0], torch.tensor([4.0 / 6 + 0.5, 5.0 / 6 - 0.5]))


def test_max_and_lse_pooling():
    maps = _features()
    assert torch.allclose(Pooling("max")(maps)[0], torch.tensor([3.0, 2.0]))
    lse = Pooling("lse", sharpness=2.0)(maps)[0, 0]
    expected = math.log(sum(math.exp(2 * v) for v in [1, 0, 0, 0, 0, 3]) / 6) / 2
    assert lse.item() == pytest.approx(expected, rel=1e-5)


@pytest.mark.parametrize("arch", SUPPORTED_ARCHS)
def test_every_architecture_gives_torchvision_logits(arch):
    model = build_torchvision_model(arch, 3).eval()
    images = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        logits, maps = ClassMapNet(model, arch)(images)
        assert torch.allclose(logits, model(images), atol=1e-4)
        set_output_stride(model, 16)
        _, finer = ClassMapNet(model, arch)(images)
    assert maps.shape[1:] == (3, 2, 2) and finer.shape[1:] == (3, 4, 4)


def test_peak_is_refined_between_cells():
    heatmap = np.zeros((5, 5), dtype=np.float32)
    heatmap[2, 2], heatmap[2, 3] = 1.0, 0.8
    x, y = explain.find_peak(heatmap)
    assert 2.5 / 5 < x < 3.5 / 5  # pulled towards the strong right neighbour
    assert y == pytest.approx(2.5 / 5)


def test_strong_regions_are_separate_boxes_strongest_first():
    heatmap = np.zeros((4, 8), dtype=np.float32)
    heatmap[0:2, 0:2] = 0.7
    heatmap[3, 6:8] = 1.0
    regions = explain.strong_regions(heatmap)
    assert [r["box"] for r in regions] == [[0.75, 0.75, 1.0, 1.0], [0.0, 0.0, 0.25, 0.5]]


@pytest.mark.parametrize(
    "point, words",
    [
        ((0.2, 0.2), "at the upper left"),
        ((0.5, 0.5), "at the centre"),
        ((0.5, 0.95), "near the bottom edge"),
        ((0.8, 0.5), "at the right side"),
        ((0.93, 0.5), "near the right edge"),
        ((0.5, 0.25), "at the top"),
        ((0.02, 0.02), "at the upper left"),
    ],
)
def test_locations_in_plain_words(point, words):
    assert explain.describe_location(*point) == words


def test_explanation_sentence():
    text = explain.explanation("scratch", (0.2, 0.2), "screen")
    assert text == "Scratch: the model looked mostly at the upper left of the screen."
