"""Trust: review threshold, unknown photos, other defects, boxes, localisation scores."""

import numpy as np
import pytest
import torch
from PIL import Image

from core.inference.decision import DecisionPolicy
from core.inference.interpret import ReadPhoto, interpret
from core.inference.postprocess import decide_photo
from core.model.bundle import Bundle
from core.model.novelty import NoveltyDetector, auroc
from core.photos.decode import DecodedImage
from core.photos.sources import ImageItem, SourceRef
from core.training.calibration import choose_review_threshold
from core.training.dataset import Sample
from core.training.trust_metrics import localisation_scores, novelty_report

BUNDLE = Bundle(
    name="t",
    arch="mobilenet_v2",
    classes=["good", "oil", "scratch", "stain"],
    input_size=[8, 8],
    subject="screen",
    thresholds={"review": 0.6, "also": 0.2},
    novelty={"threshold": 0.3},
)
POLICY = DecisionPolicy.from_bundle(BUNDLE)
ITEM = ImageItem(source="a.jpg", name="a.jpg", ref=SourceRef("a.jpg"))
DECODED = DecodedImage(pixels=np.zeros((8, 8, 3), np.uint8), original_size=(80, 80))


def _predict(probabilities, heatmap, map_peaks, ood_score, policy=POLICY):
    """The post-process and interpret stages for one photo, its label decided by ``policy``."""
    probabilities = np.asarray(probabilities, dtype=np.float32)
    index = int(policy.decide_labels(probabilities)[0])
    decision = decide_photo(
        policy, index, probabilities, np.asarray(heatmap, np.float32), np.asarray(map_peaks), ood_score
    )
    return interpret(decision, ITEM, ReadPhoto(DECODED, 10, "0" * 64), policy.classes, "screen")


def _heatmap_with_two_spots():
    heatmap = np.zeros((10, 10), np.float32)
    heatmap[1, 1] = 1.0
    heatmap[8, 5] = 0.8
    return heatmap


def test_status_unknown_before_review_before_ok():
    assert POLICY.status(0.99, 0.5) == "unknown"
    assert POLICY.status(0.55, 0.1) == "review"
    assert POLICY.status(0.9, 0.1) == "ok"
    assert POLICY.status(0.9, None) == "ok"


def test_other_defects_need_probability_and_map_evidence():
    probabilities = np.array([0.05, 0.25, 0.6, 0.1])
    assert POLICY.other_defects(probabilities, np.array([0.0, 3.0, 4.0, 3.9]), top=2) == ["oil"]
    assert POLICY.other_defects(probabilities, np.array([0.0, 1.0, 4.0, 3.9]), top=2) == []  # weak oil map
    assert POLICY.other_defects(np.array([0.5, 0.1, 0.4, 0.0]), np.array([5.0, 0, 5.0, 0]), top=0) == ["scratch"]
    assert POLICY.other_defects(np.array([0.1, 0.1, 0.4, 0.4]), np.array([9.0, 0, 5.0, 5.0]), top=2) == ["stain"]


def test_doubtful_good_goes_to_the_likeliest_defect():
    bundle = Bundle(**{**BUNDLE.to_json(), "thresholds": {"good_min": 2 / 3}})
    probabilities = np.array([[0.9, 0.05, 0.03, 0.02], [0.6, 0.1, 0.05, 0.25], [0.1, 0.8, 0.05, 0.05]])
    assert DecisionPolicy.from_bundle(bundle).decide_labels(probabilities).tolist() == [0, 3, 1]
    assert POLICY.decide_labels(probabilities).tolist() == [0, 0, 1]  # no cost rule: plain argmax


def test_the_normal_class_is_a_field_not_a_name():
    renamed = Bundle(
        **{
            **BUNDLE.to_json(),
            "classes": ["ok_part", "dent"],
            "normal_class": "ok_part",
            "thresholds": {"good_min": 0.8},
        }
    )
    policy = DecisionPolicy.from_bundle(renamed)
    assert policy.normal_class == "ok_part"
    assert policy.decide_labels(np.array([[0.7, 0.3], [0.9, 0.1]])).tolist() == [1, 0]
    assert DecisionPolicy.from_bundle(BUNDLE).normal_class == "good"  # older bundles: "good" when present
    with pytest.raises(ValueError, match="normal class"):
        DecisionPolicy(classes=("a", "b"), normal_class="c")


def test_older_bundles_get_todays_numbers_and_new_ones_override_them():
    assert (POLICY.region_threshold, POLICY.region_min_peak, POLICY.also_map_ratio) == (0.35, 0.5, 0.5)
    assert (POLICY.heatmap_cells, POLICY.resize, POLICY.review_below, POLICY.unknown_above) == (
        7168,
        "bilinear",
        0.6,
        0.3,
    )
    tuned = Bundle(
        **{
            **BUNDLE.to_json(),
            "thresholds": {"region": 0.5, "also_map_ratio": 0.8},
            "heatmap_cells": 100,
            "resize": "bicubic",
        }
    )
    policy = DecisionPolicy.from_bundle(tuned)
    assert (policy.region_threshold, policy.also_map_ratio, policy.heatmap_cells, policy.resize) == (
        0.5,
        0.8,
        100,
        "bicubic",
    )


def test_a_review_override_is_a_new_policy_applied_to_predictions():
    prediction = _predict([0.02, 0.3, 0.68, 0.0], _heatmap_with_two_spots(), [0.0, 3.0, 4.0, 0.0], 0.05)
    assert prediction.status == "ok"
    stricter = POLICY.with_review_threshold(0.7)
    assert POLICY.review_below == 0.6 and stricter.review_below == 0.7
    reviewed = stricter.apply(prediction)
    assert reviewed.status == "review" and reviewed.explanation.endswith("Low confidence: please review.")
    assert POLICY.apply(reviewed).status == "ok"
    failed = POLICY.apply(reviewed.__class__(source="x", name="x", status="error", error="broken"))
    assert failed.status == "error" and failed.explanation == "Not classified: broken"


def test_interpret_lists_boxes_also_and_names_every_region():
    prediction = _predict([0.02, 0.3, 0.68, 0.0], _heatmap_with_two_spots(), [0.0, 3.0, 4.0, 0.0], 0.05)
    assert prediction.label == "scratch" and prediction.status == "ok" and prediction.also == ["oil"]
    assert len(prediction.boxes) == 2 and prediction.box == prediction.boxes[0]
    assert prediction.explanation == (
        "Scratch: the model looked mostly at the upper left of the screen, and also at the bottom. Also: Oil."
    )
    assert prediction.to_dict()["also"] == ["oil"] and prediction.to_dict()["ood_score"] == 0.05


def test_a_good_photo_shows_its_strongest_defect_evidence_faintly():
    prediction = _predict([0.9, 0.06, 0.04, 0.0], _heatmap_with_two_spots(), [5.0, 1.0, 1.0, 0.0], 0.05)
    assert prediction.label == "good" and prediction.boxes == [] and prediction.box is None
    assert prediction.heatmap.max() == pytest.approx(0.1, abs=1e-6)  # as strong as any defect is likely
    assert prediction.peak == (0.15, 0.15)
    assert prediction.explanation == (
        "Good: no defect found on the screen; the strongest (weak) hint of one is at the upper left."
    )


def test_unknown_photo_says_so():
    prediction = _predict([0.9, 0.1, 0, 0], _heatmap_with_two_spots(), np.zeros(4), 0.9)
    assert prediction.status == "unknown"
    assert prediction.explanation.startswith(
        "Unlike the photos this model was trained on: its answer is only a guess. Good: "
    )


def test_novelty_detector_flags_outliers_and_round_trips(tmp_path):
    generator = torch.Generator().manual_seed(0)
    centre = torch.randn(1, 32, generator=generator)
    train = centre + 0.1 * torch.randn(50, 32, generator=generator)
    val = centre + 0.1 * torch.randn(10, 32, generator=generator)
    detector = NoveltyDetector.fit(train, val)
    outliers = torch.randn(10, 32, generator=generator)
    assert (detector.scores(val) <= detector.threshold).all()
    assert (detector.scores(outliers) > detector.threshold).all()
    meta = detector.save(tmp_path)
    again = NoveltyDetector.load(tmp_path, meta)
    assert np.allclose(again.scores(outliers), detector.scores(outliers), atol=1e-3)
    (tmp_path / meta["file"]).write_bytes(b"changed")
    with pytest.raises(ValueError, match="SHA-256"):
        NoveltyDetector.load(tmp_path, meta)


def test_auroc():
    assert auroc([0.1, 0.2], [0.3, 0.4]) == 1.0
    assert auroc([0.3, 0.4], [0.1, 0.2]) == 0.0
    assert auroc([0.1, 0.3], [0.2, 0.4]) == 0.75


def test_review_threshold_catches_validation_mistakes_within_a_cap():
    confidence = np.array([0.9, 0.8, 0.7, 0.95, 0.99] * 4)
    correct = np.array([True, True, False, True, True] * 4)  # the 0.7-confident photos are wrong
    assert choose_review_threshold(confidence, correct, max_share=0.5) == pytest.approx(0.701)
    assert choose_review_threshold(confidence, correct, max_share=0.1) == pytest.approx(0.7)  # capped
    assert 0.7 <= choose_review_threshold(confidence, np.ones(20, bool)) <= 0.8  # no mistakes: least sure 5 %


def test_review_threshold_learns_from_the_copies_mistakes_capped_by_the_photos_as_shot():
    """A validation split without a mistake says little; its augmented copies' confident mistakes count."""
    confidence, correct = np.r_[np.linspace(0.5, 0.6, 4), np.full(36, 0.99)], np.ones(40, bool)  # a sure model
    without_copies = choose_review_threshold(confidence, correct)
    copy_confidence = np.linspace(0.5, 0.99, 40)
    copy_correct = copy_confidence != copy_confidence[30]  # one copy wrong, at about 0.88
    with_copies = choose_review_threshold(confidence, correct, copies=[(copy_confidence, copy_correct)])
    assert without_copies == pytest.approx(np.quantile(confidence, 0.05), abs=1e-4)
    assert with_copies == pytest.approx(copy_confidence[30] + 1e-3, abs=1e-4) and with_copies > without_copies
    sure_mistake = [(np.array([0.999]), np.array([False]))]  # the cap reads the photos as shot, not the copies
    assert choose_review_threshold(confidence, correct, copies=sure_mistake) == pytest.approx(
        np.quantile(confidence, 0.15), abs=1e-4
    )


def test_localisation_scores_point_and_overlap(tmp_path):
    mask = np.zeros((100, 200), np.uint8)
    mask[20:40, 50:90] = 255
    Image.fromarray(mask).save(tmp_path / "m.png")
    sample = Sample(path=tmp_path / "x.jpg", label=1, group="g", mask_path=tmp_path / "m.png")
    hit = _predict([0, 0.9, 0.1, 0], np.zeros((2, 2)), np.zeros(4), None)
    hit = hit.__class__(**{**hit.__dict__, "peak": (0.35, 0.3), "boxes": [[0.25, 0.2, 0.45, 0.4]]})
    miss = hit.__class__(**{**hit.__dict__, "peak": (0.9, 0.9), "boxes": [[0.5, 0.5, 1.0, 1.0]]})
    scores = localisation_scores([sample, sample], [hit, miss], ["oil", "oil"])
    assert scores["pointing"]["overall"] == 0.5 and scores["count"] == 2
    assert scores["box_iou"]["per_class"]["oil"] == pytest.approx(0.5)


def test_novelty_report_counts_flags():
    def fake(status, score):
        prediction = _predict([0.9, 0.1, 0, 0], np.zeros((2, 2)), np.zeros(4), score)
        assert prediction.status == status  # the score decides the status: the report must count that
        return prediction

    inside = [fake("ok", 0.1), fake("ok", 0.2)]
    foreign = [fake("unknown", 0.5), fake("unknown", 0.6)]
    report = novelty_report(inside, foreign, [fake("ok", 0.15)])
    assert report["flagged"] == {"inside": 0.0, "foreign": 1.0, "generated": 0.0}
    assert report["auroc"] == {"foreign": 1.0, "generated": 0.5}
