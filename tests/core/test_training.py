"""Training on a tiny generated dataset, evaluation, grouped splits, temperature scaling."""

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from core.cli import main
from core.inference.engine import Engine
from core.inference.runtime import users_runtime
from core.model.bundle import load_bundle
from core.photos.sources import collect_items
from core.training.calibration import expected_calibration_error, fit_temperature, nll
from core.training.dataset import Sample, grouped_split, scan_dataset
from core.training.evaluate import evaluate_bundle
from core.training.losses import focal_loss, pointing_loss
from tests.images import SHAPES, shape_image, write_shapes


@pytest.fixture(scope="module")
def shapes_dir(tmp_path_factory):
    return write_shapes(tmp_path_factory.mktemp("shapes"), per_class=14)


@pytest.fixture(scope="module")
def trained(shapes_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("trained") / "shapes-model"
    code = main(
        [
            "train",
            str(shapes_dir),
            "--out",
            str(out),
            "--epochs",
            "2",
            "--image-size",
            "64",
            "64",
            "--batch-size",
            "8",
            "--group-by",
            r"^([a-z]+_\d\d)",
            "--seed",
            "3",
            "--severity",
            ",".join(reversed(SHAPES)),
            "--severity-reason",
            "test order",
        ]
    )
    assert code == 0
    return load_bundle(out)


def test_training_writes_a_complete_bundle_that_classifies(trained, shapes_dir):
    assert trained.classes == list(SHAPES) and trained.input_size == [64, 64]
    assert len(trained.training["history"]) == 2 and trained.temperature > 0
    validation = trained.metrics["validation"]
    confusion = np.array(validation["confusion"])
    assert confusion.sum() == len(trained.training["split"]["validation"])
    assert validation["accuracy"] == pytest.approx(np.trace(confusion) / confusion.sum(), abs=1e-4)
    f1 = [m["f1"] for m in validation["per_class"].values() if m["support"]]
    assert validation["macro_f1"] == pytest.approx(np.mean(f1), abs=1e-4)
    assert 0 <= validation["calibration"]["ece_after"] <= 1
    # the decision numbers are stored explicitly; no class here means "no defect"
    assert trained.normal_class is None and "good_min" not in trained.thresholds and validation["defect_recall"] is None
    assert {k: trained.thresholds[k] for k in ("region", "region_min_peak", "also", "also_map_ratio")} == {
        "region": 0.35,
        "region_min_peak": 0.5,
        "also": 0.2,
        "also_map_ratio": 0.5,
    }
    assert {"training_curves.png", "confusion_matrix.png", "per_class.png"} <= {
        p.name for p in trained.folder.iterdir()
    }
    assert (trained.folder / trained.novelty["file"]).is_file() and trained.novelty["threshold"] > 0
    assert 0.0 <= trained.thresholds["review"] <= 1.0
    predictions = list(Engine(trained).classify(collect_items([shapes_dir / "bar"])))
    assert len(predictions) == 14 and all(p.label in SHAPES for p in predictions)
    assert all(p.ood_score is not None and p.status in ("ok", "review", "unknown") for p in predictions)
    # per-phone verdicts and drift: the severity asked for, the validation photos' profile
    assert trained.severity == {"order": list(reversed(SHAPES)), "reason": "test order"}
    baseline = trained.baseline
    assert baseline["photos"] == len(trained.training["split"]["validation"]) == sum(baseline["labels"].values())
    assert 0 < baseline["mean_confidence"] <= 1 and baseline["measured_on"].endswith("validation photos")
    assert baseline["runtime"] == users_runtime()  # tonight's runs are measured on it too


def test_training_refuses_a_severity_that_does_not_name_every_class(shapes_dir, tmp_path, capsys):
    code = main(["train", str(shapes_dir), "--out", str(tmp_path / "m"), "--severity", f"{SHAPES[0]},blob"])
    assert code == 2
    assert "--severity must name every class once, worst first" in capsys.readouterr().err
    assert not (tmp_path / "m").exists()


def test_split_is_grouped_and_recorded(trained):
    split = trained.training["split"]

    def groups(names):
        return {n.rsplit("_", 1)[0] for n in names}

    assert split["train"] and split["validation"]
    assert not groups(split["train"]) & groups(split["validation"])


def test_evaluate_json_keys_and_confusion_sums(trained, shapes_dir, tmp_path):
    code = main(
        [
            "evaluate",
            str(trained.folder),
            str(shapes_dir),
            "--json",
            str(tmp_path / "m.json"),
            "--report",
            str(tmp_path / "report"),
        ]
    )
    metrics = json.loads((tmp_path / "m.json").read_text())
    assert code == 0
    confusion = np.array(metrics["confusion"])
    assert metrics["classes"] == list(SHAPES) and confusion.sum() == 42
    assert metrics["accuracy"] == pytest.approx(np.trace(confusion) / 42, abs=1e-4)
    for index, name in enumerate(SHAPES):
        column = confusion[:, index].sum()
        precision = confusion[index, index] / column if column else 0.0
        assert metrics["per_class"][name]["precision"] == pytest.approx(precision, abs=1e-4)
    assert [metrics["per_class"][c]["support"] for c in SHAPES] == [14, 14, 14]
    assert {p.name for p in (tmp_path / "report").iterdir()} == {
        "confusion_matrix.png",
        "per_class.png",
        "reliability.png",
    }


def test_set_baseline_stores_the_validation_profile_and_the_runtime_that_measured_it(trained, shapes_dir, tmp_path):
    copy = shutil.copytree(trained.folder, tmp_path / "model")
    asked = ["--only-validation", "--set-baseline", "--backend", "torch"]
    assert main(["evaluate", str(copy), str(shapes_dir), *asked]) == 0
    baseline = load_bundle(copy).baseline
    assert baseline["photos"] == len(trained.training["split"]["validation"])
    assert baseline["runtime"] == "torch fp32" and baseline["measured_on"].endswith("validation photos")


def test_grouped_split_keeps_groups_apart_and_is_reproducible():
    samples = [
        Sample(path=f"{c}_{g}_{i}.png", label=c, group=f"g{c}{g}")
        for c in range(2)
        for g in range(10)
        for i in range(3)
    ]
    train, val = grouped_split(samples, 0.2, seed=7)
    assert {s.group for s in train}.isdisjoint({s.group for s in val})
    assert [s.label for s in val].count(0) == 6 and [s.label for s in val].count(1) == 6
    assert grouped_split(samples, 0.2, seed=7) == (train, val)


def test_scan_matches_masks_and_groups(tmp_path):
    for name in (
        "photos/good/Sta_0011_clean.jpg",
        "photos/stain/Sta_0011.jpg",
        "photos/stain/Sta_0012.jpg",
        "masks/Sta_0011.png",
    ):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        shape_image("bar", 1).save(tmp_path / name, format="PNG")
    classes, samples = scan_dataset(tmp_path / "photos", tmp_path / "masks", r"^([A-Za-z]+_\d{3})")
    assert classes == ["good", "stain"]
    by_name = {s.path.name: s for s in samples}
    assert by_name["Sta_0011.jpg"].mask_path.name == "Sta_0011.png"
    assert by_name["Sta_0011_clean.jpg"].mask_path is None
    assert by_name["Sta_0011.jpg"].group == by_name["Sta_0011_clean.jpg"].group == "Sta_001"


def test_a_missing_data_folder_is_one_clear_line(tmp_path, capsys):
    from core.cli import main

    with pytest.raises(ValueError, match="is not a folder"):
        scan_dataset(tmp_path / "nowhere")
    assert main(["train", str(tmp_path / "nowhere"), "--out", str(tmp_path / "model")]) == 2
    assert (
        capsys.readouterr().err.strip()
        == f"error: {tmp_path / 'nowhere'} is not a folder (expected one sub-folder of photos per class)"
    )
    assert not (tmp_path / "model").exists()


def test_temperature_lowers_the_nll_of_an_over_confident_model():
    rng = np.random.default_rng(0)
    labels = torch.as_tensor(rng.integers(0, 3, 300))
    logits = torch.as_tensor(rng.normal(0, 1, (300, 3)), dtype=torch.float32)
    right = rng.random(300) < 0.7
    logits[torch.arange(300), labels] += torch.as_tensor(np.where(right, 2.0, 0.0), dtype=torch.float32)
    logits *= 6.0  # over-confident
    temperature = fit_temperature(logits, labels)
    assert temperature > 2.0
    assert nll(logits, labels, temperature) < nll(logits, labels) - 0.3
    before = torch.softmax(logits, 1).numpy()
    after = torch.softmax(logits / temperature, 1).numpy()
    assert expected_calibration_error(after, labels.numpy()) < expected_calibration_error(before, labels.numpy())


def test_focal_loss_is_cross_entropy_at_gamma_zero_and_smaller_on_easy_examples():
    logits = torch.tensor([[4.0, 0.0], [0.2, 0.0]])
    labels = torch.tensor([0, 0])
    ce = torch.nn.functional.cross_entropy(logits, labels)
    assert focal_loss(logits, labels, gamma=0.0) == pytest.approx(ce.item(), rel=1e-5)
    assert focal_loss(logits, labels, gamma=2.0) < ce


def test_pointing_loss_prefers_maps_that_peak_on_the_defect():
    masks = torch.zeros(1, 1, 8, 8)
    masks[0, 0, 0:2, 0:2] = 1.0
    on_defect, elsewhere = torch.zeros(1, 2, 4, 4), torch.zeros(1, 2, 4, 4)
    on_defect[0, 1, 0, 0] = 5.0
    elsewhere[0, 1, 3, 3] = 5.0
    labels = torch.tensor([1])
    assert pointing_loss(on_defect, labels, masks) < pointing_loss(elsewhere, labels, masks)
    assert pointing_loss(on_defect, labels, torch.zeros_like(masks)) == 0.0


def test_evaluate_reports_review_localisation_and_novelty(trained, shapes_dir, tmp_path):
    masks = tmp_path / "masks"
    masks.mkdir()
    for path in (shapes_dir / "bar").glob("*.png"):
        mask = np.zeros((64, 64), np.uint8)
        mask[8:56, 8:56] = 255
        Image.fromarray(mask).save(masks / path.name)
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    Image.new("RGB", (64, 64), (200, 10, 10)).save(foreign / "red.png")
    metrics = evaluate_bundle(trained, shapes_dir, masks_dir=masks, foreign_dir=foreign)
    predictions = list(Engine(trained).classify(collect_items(sorted(shapes_dir.rglob("*.png")))))
    share = sum(p.status == "review" for p in predictions) / len(predictions)
    assert metrics["review"]["review_share"] == pytest.approx(share, abs=1e-4)
    assert metrics["localisation"]["count"] == 14 and 0 <= metrics["localisation"]["pointing"]["overall"] <= 1
    flagged = metrics["novelty"]["flagged"]
    assert flagged["inside"] == pytest.approx(sum(p.status == "unknown" for p in predictions) / 42, abs=1e-4)
    assert flagged["foreign"] in (0.0, 1.0)  # one red photo: flagged or not
    assert all(0.0 <= value <= 1.0 for value in metrics["novelty"]["auroc"].values())


def test_training_draws_photos_decoded_both_ways_and_validation_the_engines_way(tmp_path):
    from core.training.augment import build_augmentation
    from core.training.dataset import PhotoCache
    from core.training.trainer import _PhotoDataset
    from tests.images import screen_photo

    path = tmp_path / "screen.jpg"
    screen_photo(1, size=(960, 540)).save(path, quality=90)
    cache = PhotoCache((96, 160))
    sample = Sample(path, 0, "screen")
    torch.manual_seed(0)
    training = _PhotoDataset([sample], cache, build_augmentation((96, 160)), decode_variation=True)
    for _ in range(12):
        training[0]
    assert {every_pixel for _, every_pixel in cache._photos} == {False, True}
    validation_cache = PhotoCache((96, 160))
    _PhotoDataset([sample], validation_cache, decode_variation=True)[0]  # no transform: as the engine decodes
    assert list(validation_cache._photos) == [(path, False)]


def test_review_threshold_is_chosen_on_the_kept_weights_validation_logits_and_copies(
    random_bundle, tmp_path, monkeypatch
):
    """Those logits are mirrored and averaged when flip TTA is on, as the engine's are: a fresh plain pass is not.
    The augmented copies' mistakes count too."""
    import dataclasses

    from core.inference.decision import DecisionPolicy
    from core.model.bundle import build_network
    from core.training import finishing
    from core.training.calibration import choose_review_threshold
    from core.training.dataset import PhotoCache
    from core.training.finishing import fit_trust, verdicts
    from core.training.trainer import TrainConfig, TrainResult

    samples = []
    for index, shape in enumerate(SHAPES * 3):
        path = tmp_path / "photos" / f"{shape}-{index}.png"
        path.parent.mkdir(exist_ok=True)
        shape_image(shape, index).save(path)
        samples.append(Sample(path, index % 4, str(index), None))
    bundle = dataclasses.replace(random_bundle, thresholds=dict(random_bundle.thresholds), novelty={})
    val_logits = torch.tensor([[6.0, 0, 0, 0], [0, 5.0, 0, 0], [0, 0, 4.0, 0], [0, 0, 0, 3.5]])
    val_labels = torch.arange(4)
    cache = PhotoCache(bundle.input_hw, bundle.fit)
    result = TrainResult(build_network(bundle), [], 1, val_logits, val_labels, "finished", cache)
    copy_logits = torch.tensor([[0, 0, 0, 2.5]] * 4)  # every copy called the last class: three confident mistakes
    monkeypatch.setattr(finishing, "augmented_logits", lambda network, samples, *_: [copy_logits])
    fit_trust(bundle, result, samples[:4], samples[4:8], TrainConfig(batch_size=4), tmp_path / "model")
    policy = DecisionPolicy.from_bundle(bundle)
    copies = [verdicts(policy, copy_logits, np.arange(4))]
    expected = choose_review_threshold(*verdicts(policy, val_logits, np.arange(4)), copies=copies)
    assert bundle.thresholds["review"] == expected
    assert copies[0][0].max() < expected < choose_review_threshold(*verdicts(policy, val_logits, np.arange(4)))
    assert bundle.novelty["bank_size"] > 0


def test_imbalanced_classes_are_drawn_equally_or_by_the_root_of_their_counts():
    from core.training.trainer import class_draw_weights

    counts = np.array([300.0, 30.0, 0.0])
    balanced = class_draw_weights(counts, "balanced", imbalanced=True) * counts
    assert balanced[0] == balanced[1] and balanced[2] == 0  # each class drawn as often; an empty one never
    by_root = class_draw_weights(counts, "sqrt", imbalanced=True) * counts
    assert by_root[0] / by_root[1] == pytest.approx(np.sqrt(10))  # sqrt(10) times as often, not 10
    assert (class_draw_weights(counts, "sqrt", imbalanced=False) == 1).all()  # even classes: drawn as they come


def test_training_says_how_it_draws_imbalanced_classes_and_corrections_alone_change_nothing_it_says():
    from core.training.pipeline import sampling_line

    def photos(counts: list[int], weight: float = 1.0) -> list[Sample]:
        return [
            Sample(Path(f"{label}-{i}.png"), label, f"g{i}", weight=weight)
            for label, count in enumerate(counts)
            for i in range(count)
        ]

    line = sampling_line(["good", "fray"], photos([400, 100]), "sqrt")
    assert line == (
        "Training draws the classes by the square root of their photo counts (--sampling sqrt): "
        "good 67%, fray 33% of the draws."
    )
    assert "good 50%, fray 50%" in sampling_line(["good", "fray"], photos([400, 100]), "balanced")
    assert sampling_line(["good", "fray"], photos([100, 90], weight=3.0), "sqrt") is None
