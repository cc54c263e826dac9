"""The phone model's anomaly head: possible defects not in the classes, from the same forward pass."""

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from core.cli import main
from core.inference.decision import Decision, DecisionPolicy
from core.inference.engine import Engine
from core.inference.prediction import Prediction
from core.inference.runtime import reduced_precision_runtimes
from core.inference.unlisted import with_unlisted
from core.model.bundle import load_bundle
from core.model.registry import resolve_bundle
from core.photos.sources import collect_items
from core.training.dataset import scan_dataset
from core.training.evaluate import validation_baseline
from tests.conftest import REPO
from tests.images import screen_photo, write_screens

POLICY = DecisionPolicy(classes=("good", "scratch"), normal_class="good", review_below=0.9, unlisted_above=10.0)
PHONE_DATA = REPO / ".." / "shared" / "data" / "phone-msd"


def decision(label: str, boxes=()) -> Decision:
    index = POLICY.classes.index(label)
    return Decision(
        index=index,
        label=label,
        confidence=0.99,
        probabilities=np.array([0.99, 0.01][:: 1 if index == 0 else -1]),
        status="ok",
        heatmap=np.zeros((12, 20), np.float32),
        strength=0.01,
        peak=(0.5, 0.5),
        boxes=list(boxes),
        also=[],
        ood_score=None,
        normal=label == "good",
        anomaly_score=12.0,
    )


def hotspot(row: int, column: int) -> np.ndarray:
    anomaly = np.zeros((12, 20), np.float32)
    anomaly[row - 1 : row + 1, column - 1 : column + 1] = 1.0
    return anomaly


def test_a_good_photo_with_an_unusual_region_goes_to_review_with_that_region():
    decided = with_unlisted(decision("good"), hotspot(3, 4), score=12.0, policy=POLICY)
    assert decided.status == "review" and decided.unlisted_box == decided.boxes[0]
    x0, y0, x1, y1 = decided.unlisted_box
    assert x0 < 4 / 20 < x1 and y0 < 3 / 12 < y1 and decided.heatmap.max() == 1.0
    below = with_unlisted(decision("good"), hotspot(3, 4), score=9.0, policy=POLICY)  # under the threshold
    assert below.status == "ok" and below.unlisted_box is None and below.boxes == []


def test_a_defect_photo_names_an_unusual_region_elsewhere_but_keeps_its_label():
    scratch_box = [0.1, 0.1, 0.3, 0.3]
    elsewhere = with_unlisted(decision("scratch", [scratch_box]), hotspot(9, 16), score=12.0, policy=POLICY)
    assert elsewhere.label == "scratch" and elsewhere.status == "ok" and elsewhere.unlisted_box[0] > 0.6
    same_place = with_unlisted(decision("scratch", [scratch_box]), hotspot(3, 4), score=12.0, policy=POLICY)
    assert same_place.unlisted_box is None  # the anomaly is the scratch itself


def test_the_policy_keeps_such_photos_in_review_and_says_why():
    photo = Prediction(
        source="a.jpg",
        name="a.jpg",
        label="good",
        confidence=0.999,
        status="ok",
        unlisted_box=[0.1, 0.1, 0.2, 0.2],
        description="No defect the model knows (closest: good), but the screen looks unusual at the upper left: "
        "possibly a defect not in the model's classes.",
    )
    applied = POLICY.with_review_threshold(0.5).apply(photo)
    assert applied.status == "review" and applied.explanation.endswith("not in the model's classes. Please review.")
    assert POLICY.apply(Prediction(source="b.jpg", name="b.jpg", label="scratch", confidence=0.99)).status == "ok"


def test_the_bundled_head_gives_the_same_scores_on_both_backends(tmp_path):
    bundle = resolve_bundle(None)
    assert bundle.anomaly_head["bank_size"] > 0 and (bundle.folder / bundle.anomaly_head["file"]).is_file()
    for seed in range(2):
        screen_photo(seed, size=(960, 540), mark="scratch" if seed else None).save(tmp_path / f"{seed}.jpg")
    items = collect_items([tmp_path])
    torch_results = list(Engine(bundle, backend="torch").classify(items))
    onnx_results = list(Engine(bundle, backend="onnxruntime").classify(items))
    for reference, exported in zip(torch_results, onnx_results):
        assert reference.anomaly_score == pytest.approx(exported.anomaly_score, rel=1e-3)


def test_a_head_needs_a_no_defect_class_and_a_split(random_bundle, tmp_path, capsys):
    data = tmp_path / "data" / "good"
    data.mkdir(parents=True)
    assert main(["add-anomaly-head", str(random_bundle.folder), str(data.parent)]) == 2
    assert "needs a 'no defect' class and a recorded training split" in capsys.readouterr().err


@pytest.mark.slow
@pytest.mark.skipif(not PHONE_DATA.is_dir(), reason="needs ../shared/data/phone-msd")
def test_the_head_separates_defects_from_their_inpainted_counterparts(tmp_path, capsys):
    folder = tmp_path / "phone-defects"
    shutil.copytree(resolve_bundle(None).folder, folder)
    command = ["add-anomaly-head", str(folder), str(PHONE_DATA / "photos"), "--masks", str(PHONE_DATA / "masks")]
    assert main(command) == 0
    head = json.loads((folder / "model.json").read_text())["anomaly_head"]
    measured = head["validation"]
    validation = set(resolve_bundle(None).training["split"]["validation"])
    defects = [p for p in (PHONE_DATA / "photos").glob("[!g]*/*") if p.name in validation]  # every folder but good
    assert measured["auroc"] >= 0.95 and measured["pointing"] >= 0.8 and measured["defect_photos"] == len(defects) > 0
    for runtime in reduced_precision_runtimes():  # a bank of its own patches for each reduced-precision runtime
        own = head["runtimes"][runtime]
        assert (folder / own["file"]).is_file() and own["bank_size"] == head["bank_size"] and own["threshold"] > 0


def test_a_new_anomaly_head_measures_the_drift_baseline_again(tmp_path):
    """The head sends photos to Review: a baseline measured without it would flag a rise in Review every night."""
    data = write_screens(tmp_path / "screens")
    out = tmp_path / "model"
    arguments = ["--epochs", "1", "--image-size", "64", "96", "--batch-size", "8", "--group-by", r"^(s_\d\d)"]
    assert main(["train", str(data), "--out", str(out), *arguments]) == 0
    record = json.loads((out / "model.json").read_text())
    record["baseline"] = {"photos": 1, "measured_on": "before the head"}
    (out / "model.json").write_text(json.dumps(record))
    assert main(["add-anomaly-head", str(out), str(data)]) == 0
    bundle = load_bundle(out)
    validation = set(bundle.training["split"]["validation"])
    photos = [s.path for s in scan_dataset(data)[1] if s.path.name in validation]
    assert bundle.baseline == validation_baseline(bundle, photos)  # measured with the head, as tonight's runs are


def test_a_cross_fitted_threshold_scores_every_good_photo_against_a_bank_without_its_phone():
    """threshold_folds=K: each good photo (and its copies) is scored by a bank of the other folds, the bank
    itself holds every photo; an odd phone therefore raises the threshold instead of hiding in the bank."""
    import torch

    from core.training.anomaly.head_fit import HeadSettings, fit_head
    from core.training.dataset import Sample

    good = [Sample(Path(f"good_{g}_{i}.jpg"), 0, f"good_{g}") for g in range(6) for i in range(2)]

    def photos(sample, augmented=False):
        _, group, index = sample.path.stem.split("_")
        noise = torch.randn(1, 4, 3, 3, generator=torch.Generator().manual_seed(int(group) * 2 + int(index)))
        return noise + (10.0 if group == "5" else 0.0), None

    crossed = fit_head(photos, good, HeadSettings(bank_size=1000, false_alarm_rate=0.0, threshold_folds=3))
    assert "other 2 of 3 folds" in crossed.fitted_on and len(crossed.bank) == len(good) * 3 * 9
    assert crossed.threshold > 15  # the odd phone, scored without its own patches in the bank
    uneven = good[:2] + [Sample(Path(f"good_9_{i}.jpg"), 0, "good_9") for i in range(6)]  # 2 phones, one large
    assert "other 1 of 2 folds" in fit_head(photos, uneven, HeadSettings(threshold_folds=5)).fitted_on
    with pytest.raises(ValueError, match="at least two phones"):
        fit_head(photos, good[:2], HeadSettings(threshold_folds=5))
    assert HeadSettings.of({"bank_size": 800, "threshold": 3.0}) == HeadSettings(bank_size=800, whole_bank=False)
    assert HeadSettings.of({"bank_size": 800, "whole_bank": True}) == HeadSettings(bank_size=800)


def test_the_threshold_comes_from_a_fifth_scored_against_the_rest_and_the_bank_keeps_every_phone():
    """The default: a fifth of the phones set the threshold as phones the bank has not seen, then the bank the
    head keeps takes them in too (a head knowing fewer phones flagged clean screens of the ones it lacked)."""
    import torch

    from core.model.anomaly.memory import patch_distances
    from core.training.anomaly.head_fit import HeadSettings, fit_head
    from core.training.dataset import Sample

    good = [Sample(Path(f"good_{g}_{i}.jpg"), 0, f"good_{g}") for g in range(6) for i in range(2)]
    seeds = {path: number for number, path in enumerate(s.path for s in good)}

    def photos(sample, augmented=False):  # each phone its own offset: a phone the bank lacks scores high
        phone = int(sample.path.stem.split("_")[1])
        return torch.randn(1, 4, 3, 3, generator=torch.Generator().manual_seed(seeds[sample.path])) + 5.0 * phone, None

    head = fit_head(photos, good, HeadSettings(bank_size=1000, false_alarm_rate=0.0))
    before = fit_head(photos, good, HeadSettings(bank_size=1000, false_alarm_rate=0.0, whole_bank=False))
    assert "threshold from 2 of them scored against a bank of the other 10" in head.fitted_on
    assert "threshold from 2 more" in before.fitted_on
    assert len(head.bank) == 12 * 3 * 9 and len(before.bank) == 10 * 3 * 9  # photos x (as shot + 2 copies) x patches
    assert head.threshold == before.threshold > 3.0  # the same fifth, scored against the same bank of the others
    every_photo = torch.cat([photos(s)[0] for s in good])
    assert patch_distances(every_photo, head.bank).max() < 0.1  # every phone it was fitted on is known to it
    assert patch_distances(every_photo, before.bank).max() > 3.0  # the phones that set the threshold were not
