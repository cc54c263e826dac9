"""Anomaly models learned from good photos only: building one, its bad inputs, and the usual paths with it."""

import json

import numpy as np
import pytest
import torch

from core.cli import main
from core.inference.engine import Engine
from core.model.anomaly.memory import greedy_coreset, nearest_distances
from core.model.bundle import load_bundle
from core.model.network import build_torchvision_model
from core.photos.sources import collect_items
from tests.conftest import REPO
from tests.images import screen_photo


@pytest.fixture(scope="module")
def backbone(tmp_path_factory):
    """Stand-in "pretrained" weights (random, fixed): the tests check the mechanics, not ImageNet features."""
    torch.manual_seed(1)
    path = tmp_path_factory.mktemp("backbone") / "mobilenet_v2.pth"
    torch.save(build_torchvision_model("mobilenet_v2", 1000).state_dict(), path)
    return path


@pytest.fixture(scope="module")
def good_folder(tmp_path_factory):
    folder = tmp_path_factory.mktemp("goods") / "screens"
    (folder / "line-a").mkdir(parents=True)
    for seed in range(30):
        screen_photo(seed, size=(160, 96)).save(folder / "line-a" / f"good_{seed:02d}.png")
    (folder / "defect").mkdir()
    for seed in range(6):
        screen_photo(100 + seed, size=(160, 96), mark=["scratch", "oil"][seed % 2]).save(
            folder / "defect" / f"bad_{seed}.png"
        )
    return folder


@pytest.fixture(scope="module")
def anomaly_bundle(good_folder, backbone, tmp_path_factory):
    out = tmp_path_factory.mktemp("bundles") / "screens-anomaly"
    command = ["train", str(good_folder), "--anomaly", "--out", str(out), "--pretrained", str(backbone)]
    assert main([*command, "--image-size", "96", "160", "--false-alarm-rate", "0.05"]) == 0
    return load_bundle(out)


def test_coreset_covers_the_points_and_distances_are_exact():
    points = torch.cat([torch.randn(500, 8), torch.randn(5, 8) + 40.0])  # a far cluster of 5
    chosen = greedy_coreset(points, 20, projected_dim=64)
    assert len(set(chosen.tolist())) == 20 and (chosen >= 500).any()  # the far cluster is covered
    queries = torch.randn(7, 8)
    expected = torch.cdist(queries, points[chosen]).amin(dim=1)
    assert torch.allclose(nearest_distances(queries, points[chosen]), expected, atol=1e-4)


def test_an_anomaly_bundle_from_good_photos(anomaly_bundle, good_folder):
    assert anomaly_bundle.classes == ["good", "anomalous"] and anomaly_bundle.normal_class == "good"
    meta = anomaly_bundle.anomaly
    assert meta["method"] == "patchcore" and meta["bank_size"] > 0 and meta["threshold"] > 0 < meta["scale"]
    assert (anomaly_bundle.folder / meta["file"]).is_file() and len(meta["sha256"]) == 64
    validation = anomaly_bundle.metrics["validation"]
    assert validation["held_out_good"] == 6 and validation["defect_photos"] == 6 and 0 <= validation["auroc"] <= 1
    assert not list(anomaly_bundle.folder.glob("*.pt*"))  # safetensors only: nothing is unpickled

    predictions = list(Engine(anomaly_bundle, backend="auto").classify(collect_items([good_folder])))
    assert len(predictions) == 36 and all(p.label in ("good", "anomalous") for p in predictions)
    threshold = meta["threshold"]
    for prediction in predictions:  # the label is the threshold's verdict on the score
        if abs(prediction.anomaly_score - threshold) > 1e-4 * threshold:  # the photo that set it may go either way
            assert (prediction.label == "anomalous") == (prediction.anomaly_score > threshold)
        assert prediction.heatmap is not None and prediction.heatmap.max() <= 1.0
        if prediction.label == "anomalous":
            assert prediction.boxes  # the anomalous regions are framed


def test_classify_writes_the_anomaly_score(anomaly_bundle, good_folder, tmp_path):
    out = tmp_path / "out"
    assert (
        main(["classify", str(good_folder / "defect"), "--model", str(anomaly_bundle.folder), "--out", str(out)]) == 0
    )
    items = json.loads((out / "results.json").read_text())["items"]
    assert all(isinstance(item["anomaly_score"], float) for item in items)
    assert "anomaly_score" in (out / "results.csv").read_text().splitlines()[0]


def test_evaluate_reports_auroc_and_false_alarms(anomaly_bundle, good_folder, tmp_path, capsys):
    test = tmp_path / "test"
    (test / "good").mkdir(parents=True)
    (test / "cracked").mkdir()  # a defect kind the model never saw named
    for seed in range(8):
        screen_photo(200 + seed, size=(160, 96)).save(test / "good" / f"{seed}.png")
        screen_photo(300 + seed, size=(160, 96), mark="scratch").save(test / "cracked" / f"{seed}.png")
    assert main(["evaluate", str(anomaly_bundle.folder), str(test), "--json", str(tmp_path / "m.json")]) == 0
    report = json.loads((tmp_path / "m.json").read_text())["anomaly"]
    assert report["good_photos"] == 8 and report["defective_photos"] == 8
    assert 0 <= report["auroc"] <= 1 and 0 <= report["false_alarm_rate"] <= 1
    assert "image AUROC" in capsys.readouterr().out


def test_bad_training_folders_get_clear_words(backbone, tmp_path, capsys):
    few = tmp_path / "few"
    few.mkdir()
    for seed in range(5):
        screen_photo(seed).save(few / f"{seed}.png")
    assert main(["train", str(few), "--anomaly", "--out", str(tmp_path / "m1"), "--pretrained", str(backbone)]) == 2
    assert "has 5 good photos: an anomaly model needs at least 20" in capsys.readouterr().err

    mixed = tmp_path / "mixed"
    (mixed / "defect").mkdir(parents=True)  # empty: no metrics, said so
    for seed in range(22):
        screen_photo(seed, size=(160, 96) if seed % 2 else (200, 120)).save(mixed / f"{seed}.png")
    (mixed / "broken.png").write_bytes(b"not a photo")
    noise = np.random.default_rng(0).integers(0, 255, (96, 160, 3), dtype=np.uint8)
    from PIL import Image

    Image.fromarray(noise).save(mixed / "other_product.png")  # not a screen at all
    command = ["train", str(mixed), "--anomaly", "--out", str(tmp_path / "m2"), "--pretrained", str(backbone)]
    assert main([*command, "--image-size", "96", "160"]) == 0
    said = capsys.readouterr().out
    assert "defect holds no photos: no defect metrics" in said
    assert "of 3 sizes" in said and "skipped broken.png" in said
    assert "unlike the others" in said and "other_product.png" in said


def test_an_anomaly_model_needs_pretrained_features(good_folder, tmp_path, capsys, monkeypatch):
    monkeypatch.setattr("core.training.model_setup._load_backbone_state", lambda *_: None)
    assert main(["train", str(good_folder), "--anomaly", "--out", str(tmp_path / "m")]) == 2
    assert "anomaly detection needs ImageNet features" in capsys.readouterr().err


CASTING = REPO / ".." / "shared" / "data" / "casting"


@pytest.mark.slow
@pytest.mark.skipif(not CASTING.is_dir(), reason="needs ../shared/data/casting")
def test_good_only_casting_model_separates_real_defects(tmp_path):
    """Real photos: 120 good castings build the model; unseen good and defective ones test it."""
    pretrained = REPO / ".." / "shared" / "pretrained" / "mobilenet_v2_imagenet.pth"
    good = tmp_path / "good"
    good.mkdir()
    for photo in sorted((CASTING / "train" / "good").iterdir())[:120]:
        (good / photo.name).symlink_to(photo)
    command = ["train", str(good), "--anomaly", "--out", str(tmp_path / "casting-anomaly"), "--pretrained"]
    assert main([*command, str(pretrained)]) == 0
    test = tmp_path / "test"
    for kind, count in (("good", 40), ("defective", 40)):
        (test / kind).mkdir(parents=True)
        for photo in sorted((CASTING / "test" / kind).iterdir())[:count]:
            (test / kind / photo.name).symlink_to(photo)
    assert main(["evaluate", str(tmp_path / "casting-anomaly"), str(test), "--json", str(tmp_path / "m.json")]) == 0
    report = json.loads((tmp_path / "m.json").read_text())["anomaly"]
    assert report["auroc"] >= 0.9 and report["false_alarm_rate"] <= 0.1
