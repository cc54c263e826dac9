"""Training settings chosen from the data: the profile, the plan, padded inputs end to end."""

import json

import numpy as np
import pytest
import torch
from PIL import Image

from core.cli import main
from core.inference.decision import DecisionPolicy
from core.inference.engine import Engine
from core.inference.explain import crop_to_content
from core.inference.postprocess import postprocess
from core.model.bundle import load_bundle
from core.model.network import NetworkOutputs
from core.photos.decode import FULL, PAD_COLOUR, decode
from core.photos.sources import collect_items
from core.training.data_profile import DataProfile, profile_dataset
from core.training.dataset import Sample
from core.training.plan import MIN_SIDE, batch_for, epochs_needed, plan_training
from core.training.trainer import TrainConfig
from tests.images import encode

CHOOSE_ALL = ("fit", "image_size", "batch_size", "lr")


def _profile(sizes, counts=None, grey=0) -> DataProfile:
    widths, heights = (np.array(v, dtype=float) for v in zip(*sizes))
    return DataProfile(counts or {"a": len(sizes)}, widths, heights, grey)


def test_padding_keeps_the_aspect_ratio_and_says_where_the_photo_is():
    photo = Image.new("RGB", (200, 100), (200, 10, 10))
    decoded = decode(encode(photo), (64, 64), fit="pad")
    assert decoded.content == pytest.approx((0.0, 0.25, 1.0, 0.75))
    assert tuple(decoded.pixels[2, 32]) == PAD_COLOUR and tuple(decoded.pixels[32, 32]) == (200, 10, 10)
    assert decode(encode(photo), (64, 64)).content == FULL
    with pytest.raises(ValueError, match="unknown fit"):
        decode(encode(photo), (64, 64), fit="crop")


def test_heatmaps_are_cut_to_the_photo_before_peaks_and_boxes():
    heatmap = np.zeros((8, 8), dtype=np.float32)
    assert crop_to_content(heatmap, (0.0, 0.25, 1.0, 0.75)).shape == (4, 8)
    assert crop_to_content(heatmap, (0.0, 0.0, 0.01, 1.0)).shape == (8, 1)  # never empty
    maps = torch.zeros(1, 2, 8, 8)
    maps[0, 1, 2, 6] = 5.0  # input cell (row 2, column 6): the top row of a photo padded above and below
    outputs = NetworkOutputs(torch.tensor([[0.0, 4.0]]), maps, None, torch.zeros(1, 4))
    policy = DecisionPolicy(classes=("good", "oil"), normal_class="good")
    padded = postprocess(outputs, policy, None, 5, [(0.0, 0.25, 1.0, 0.75)])[0]
    plain = postprocess(outputs, policy, None, 5)[0]
    assert padded.peak[0] == pytest.approx(plain.peak[0], abs=0.05)
    assert padded.peak[1] < 0.25 < plain.peak[1]  # the photo's top rows, not the input's
    assert padded.heatmap.shape == (4, 8)


def test_the_profile_reads_sizes_shapes_and_counts(tmp_path):
    sizes = [(300, 120), (120, 300), (200, 200), (400, 160)]
    samples = []
    for index, size in enumerate(sizes):
        path = tmp_path / f"{index}.png"
        Image.new("RGB", size).save(path)
        samples.append(Sample(path, index % 2, str(index)))
    (tmp_path / "broken.png").write_bytes(b"not a photo")
    samples.append(Sample(tmp_path / "broken.png", 0, "x"))
    profile = profile_dataset(["a", "b"], samples)
    assert profile.class_counts == {"a": 3, "b": 2} and len(profile.widths) == 4
    assert profile.median_long_side == 300 and profile.aspect_spread > 4
    summary = profile.to_json()
    assert summary["photos"] == 4 and summary["imbalance"] == 1.5
    assert "4 photos (a 3, b 2" in profile.describe() and _profile([(9, 9)]).describe().endswith("(median 1.0).")
    assert profile.all_grey and summary["grey"] == 4 and profile.describe().endswith("all grey.")  # black is grey


def test_a_grey_camera_trains_on_grey_copies_and_colour_photos_vary_their_colour():
    from core.training.augment import camera_variation

    config, choices = plan_training(TrainConfig(choose=("grey",)), _profile([(64, 64)] * 4, grey=4), 4, None)
    assert config.grey and choices["grey"]["reason"].startswith("all 4 photos are grey")
    config, choices = plan_training(TrainConfig(choose=("grey",)), _profile([(64, 64)] * 4, grey=1), 4, None)
    assert not config.grey and choices["grey"]["reason"].startswith("3 of 4 photos are in colour")
    torch.manual_seed(0)
    photo = torch.from_numpy(np.random.default_rng(0).integers(0, 255, (3, 32, 48), dtype=np.uint8))
    copies = [camera_variation(photo, jpeg_at_camera_scale=True, grey=True) for _ in range(20)]
    assert all(torch.equal(c[0], c[1]) and torch.equal(c[1], c[2]) for c in copies)
    coloured = [camera_variation(photo.expand(3, -1, -1).contiguous()) for _ in range(20)]
    assert any(not torch.equal(c[0], c[2]) for c in coloured)  # without it, white balance and noise tint


def test_varied_shapes_are_padded_and_one_shape_is_kept():
    varied = _profile([(600, 240), (240, 600), (300, 300), (500, 250), (250, 500)])
    config, choices = plan_training(TrainConfig(choose=CHOOSE_ALL), varied, 500, lambda size, batch: 0.001)
    assert config.fit == "pad" and choices["fit"]["value"] == "pad" and "padded" in choices["fit"]["reason"]
    assert config.image_size == (512, 512) and config.choose == ()  # median long side 500, capped at 512
    wide = _profile([(1920, 1080)] * 5)
    config, choices = plan_training(TrainConfig(choose=CHOOSE_ALL), wide, 100, lambda size, batch: 0.001)
    assert config.fit == "stretch" and config.image_size == (288, 512)  # the photos' shape, capped at 512
    assert config.batch_size == batch_for(config.image_size, 100) and config.lr == pytest.approx(1e-3 * (8 / 32) ** 0.5)


def test_small_photos_are_not_blown_up_and_slow_machines_get_smaller_inputs():
    small = _profile([(64, 64)] * 5)
    config, _ = plan_training(TrainConfig(choose=CHOOSE_ALL), small, 200, lambda size, batch: 0.001)
    assert config.image_size == (MIN_SIDE, MIN_SIDE)
    large = _profile([(300, 300)] * 5)
    timed = []

    def slow(size, batch):
        timed.append(size)
        return 0.2 * size[0] * size[1] / 224**2

    config, choices = plan_training(TrainConfig(choose=CHOOSE_ALL, time_budget_s=300), large, 500, slow)
    assert timed == [(288, 288)] and config.image_size[0] < 288 and "shrunk to fit" in choices["image_size"]["reason"]
    assert epochs_needed(500) == 16 and epochs_needed(10_000) == 8 and epochs_needed(10) == 30


def test_given_settings_are_kept():
    varied = _profile([(600, 240), (240, 600), (300, 300)])
    given = TrainConfig(image_size=(64, 128), batch_size=4, lr=0.01, fit="stretch")
    config, choices = plan_training(given, varied, 50, lambda size, batch: 1.0)
    assert config == given and choices == {}


@pytest.fixture(scope="module")
def varied_shapes(tmp_path_factory):
    """Two classes of photos 40-110 px of every shape: a bright bar or a bright dot on dark noise."""
    root = tmp_path_factory.mktemp("varied")
    rng = np.random.default_rng(0)
    for label in ("bar", "dot"):
        (root / label).mkdir()
        for index in range(12):
            width, height = (int(v) for v in rng.integers(40, 110, 2))
            pixels = rng.normal(30, 5, (height, width, 3)).clip(0, 255).astype(np.uint8)
            y, x = height // 2, width // 2
            if label == "bar":
                pixels[y - 1 : y + 2, 5 : width - 5] = 240
            else:
                pixels[y - 3 : y + 3, x - 3 : x + 3] = 240
            Image.fromarray(pixels).save(root / label / f"{label}_{index:02d}.png")
    return root


def test_train_with_defaults_chooses_prints_and_stores_its_settings(varied_shapes, tmp_path, capsys):
    out = tmp_path / "model"
    assert main(["train", str(varied_shapes), "--out", str(out), "--epochs", "2", "--tta", "hflip"]) == 0
    printed = capsys.readouterr().out
    assert "Data: 24 photos (bar 12, dot 12" in printed and "Chose fit pad" in printed
    bundle = load_bundle(out)
    assert bundle.fit == "pad" and bundle.input_size == [MIN_SIDE, MIN_SIDE]
    recorded = json.loads((out / "model.json").read_text())["training"]
    assert set(recorded["choices"]) == set(CHOOSE_ALL) and recorded["data_profile"]["photos"] == 24
    assert recorded["config"]["fit"] == "pad" and "val_macro_f1" in recorded["history"][0]
    assert recorded["config"]["grey"] is False and "grey" not in recorded["choices"]  # --grey no, the default
    assert bundle.tta == ["hflip"] and recorded["tta"]["used"] and "Flip test-time augmentation" in printed
    predictions = list(Engine(bundle).classify(collect_items([varied_shapes / "bar"])))
    assert len(predictions) == 12 and all(p.ok and p.heatmap is not None for p in predictions)
    wide = [p for p in predictions if p.image_size[0] > 1.3 * p.image_size[1]]
    assert all(p.heatmap.shape[1] > p.heatmap.shape[0] for p in wide)  # the photo's part of the input only


def test_train_with_grey_auto_keeps_a_grey_cameras_copies_grey_and_says_why(varied_shapes, tmp_path, capsys):
    grey = tmp_path / "grey"
    for path in varied_shapes.rglob("*.png"):
        (grey / path.parent.name).mkdir(parents=True, exist_ok=True)
        Image.open(path).convert("L").save(grey / path.parent.name / path.name)
    out = tmp_path / "model"
    arguments = ["--epochs", "1", "--image-size", "64", "64", "--batch-size", "8", "--grey", "auto", "--tta", "off"]
    assert main(["train", str(grey), "--out", str(out), *arguments]) == 0
    assert "Chose grey True: all 24 photos are grey" in capsys.readouterr().out
    recorded = json.loads((out / "model.json").read_text())["training"]
    assert recorded["config"]["grey"] is True and recorded["data_profile"]["grey"] == 24


def test_flip_tta_averages_the_logits_of_the_photo_and_its_mirror_image(random_bundle):
    import dataclasses

    pixels = np.random.default_rng(0).integers(0, 255, (2, 96, 160, 3), dtype=np.uint8)
    plain = Engine(random_bundle)
    mirrored = Engine(dataclasses.replace(random_bundle, tta=["hflip"]))
    batch = plain.preprocess(pixels)
    expected = (plain.forward(batch).logits + plain.forward(batch.flip(3)).logits) / 2
    outputs = mirrored.forward(batch)
    torch.testing.assert_close(outputs.logits, expected, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(outputs.maps, plain.forward(batch).maps)  # heatmaps come from the photo itself
