"""Trust: review threshold, unknown photos, other defects, boxes, localisation scores."""

import numpy as np
import pytest
import torch
from PIL import Image

from core.bundle import Bundle
from core.decode import DecodedImage
from core.interpret import decide_labels, interpret, other_defects, status_of
from core.novelty import NoveltyDetector, auroc
from core.sources import ImageItem
from core.training.calibration import choose_review_threshold
from core.training.dataset import Sample
from core.training.trust_metrics import localisation_scores, novelty_report

BUNDLE = Bundle(name="t", arch="mobilenet_v2", classes=["good", "oil", "scratch", "stain"], input_size=[8, 8],
                subject="screen", thresholds={"review": 0.6, "also": 0.2}, novelty={"threshold": 0.3})
ITEM = ImageItem(source="a.jpg", name="a.jpg", read=lambda: b"")
DECODED = DecodedImage(pixels=np.zeros((8, 8, 3), np.uint8), original_size=(80, 80))


def _heatmap_with_two_spots():
    heatmap = np.zeros((10, 10), np.float32)
    heatmap[1, 1] = 1.0
    heatmap[8, 5] = 0.8
    return heatmap


def test_status_unknown_before_review_before_ok():
    assert status_of(BUNDLE, 0.99, 0.5) == "unknown"
    assert status_of(BUNDLE, 0.55, 0.1) == "review"
    assert status_of(BUNDLE, 0.9, 0.1) == "ok"
    assert status_of(BUNDLE, 0.9, None) == "ok"


def test_other_defects_need_probability_and_map_evidence():
    probabilities = np.array([0.05, 0.25, 0.6, 0.1])
    assert other_defects(BUNDLE, probabilities, np.array([0.0, 3.0, 4.0, 3.9]), top=2) == ["oil"]
    assert other_defects(BUNDLE, probabilities, np.array([0.0, 1.0, 4.0, 3.9]), top=2) == []  # weak oil map
    assert other_defects(BUNDLE, np.array([0.5, 0.1, 0.4, 0.0]), np.array([5.0, 0, 5.0, 0]), top=0) == ["scratch"]
    assert other_defects(BUNDLE, np.array([0.1, 0.1, 0.4, 0.4]), np.array([9.0, 0, 5.0, 5.0]), top=2) == ["stain"]


def test_doubtful_good_goes_to_the_likeliest_defect():
    bundle = Bundle(**{**BUNDLE.to_json(), "thresholds": {"good_min": 2 / 3}})
    probabilities = np.array([[0.9, 0.05, 0.03, 0.02], [0.6, 0.1, 0.05, 0.25], [0.1, 0.8, 0.05, 0.05]])
    assert decide_labels(bundle, probabilities).tolist() == [0, 3, 1]
    assert decide_labels(BUNDLE, probabilities).tolist() == [0, 0, 1]  # no cost rule: plain argmax


def test_interpret_lists_boxes_also_and_names_every_region():
    prediction = interpret(BUNDLE, ITEM, DECODED, 10, np.array([0.02, 0.3, 0.68, 0.0]), _heatmap_with_two_spots(),
                           np.array([0.0, 3.0, 4.0, 0.0]), 0.05)
    assert prediction.label == "scratch" and prediction.status == "ok" and prediction.also == ["oil"]
    assert len(prediction.boxes) == 2 and prediction.box == prediction.boxes[0]
    assert prediction.explanation == ("Scratch (68 %): the model looked mostly at the upper left of the screen, "
                                      "and also at the bottom. Also: Oil.")
    assert prediction.to_dict()["also"] == ["oil"] and prediction.to_dict()["ood_score"] == 0.05


def test_unknown_photo_says_so():
    prediction = interpret(BUNDLE, ITEM, DECODED, 10, np.array([0.9, 0.1, 0, 0]), _heatmap_with_two_spots(),
                           np.zeros(4), 0.9)
    assert prediction.status == "unknown"
    assert prediction.explanation.startswith("Unlike the photos this model was trained on; good (90 %)")


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
    probabilities = np.array([[0.9, 0.1], [0.8, 0.2], [0.7, 0.3], [0.95, 0.05], [0.99, 0.01]] * 4)
    labels = np.array([0, 0, 1, 0, 0] * 4)  # the 0.7-confident photos are wrong
    assert choose_review_threshold(probabilities, labels, max_share=0.5) == pytest.approx(0.701)
    assert choose_review_threshold(probabilities, labels, max_share=0.1) == pytest.approx(0.7)  # capped
    assert 0.7 <= choose_review_threshold(probabilities, np.zeros(20, int)) <= 0.8  # no mistakes: least sure 5 %


def test_localisation_scores_point_and_overlap(tmp_path):
    mask = np.zeros((100, 200), np.uint8)
    mask[20:40, 50:90] = 255
    Image.fromarray(mask).save(tmp_path / "m.png")
    sample = Sample(path=tmp_path / "x.jpg", label=1, group="g", mask_path=tmp_path / "m.png")
    hit = interpret(BUNDLE, ITEM, DECODED, 1, np.array([0, 0.9, 0.1, 0]), np.zeros((2, 2)), np.zeros(4), None)
    hit = hit.__class__(**{**hit.__dict__, "peak": (0.35, 0.3), "boxes": [[0.25, 0.2, 0.45, 0.4]]})
    miss = hit.__class__(**{**hit.__dict__, "peak": (0.9, 0.9), "boxes": [[0.5, 0.5, 1.0, 1.0]]})
    scores = localisation_scores([sample, sample], [hit, miss], ["oil", "oil"])
    assert scores["pointing"]["overall"] == 0.5 and scores["count"] == 2
    assert scores["box_iou"]["per_class"]["oil"] == pytest.approx(0.5)


def test_novelty_report_counts_flags():
    def fake(status, score):
        return interpret(BUNDLE, ITEM, DECODED, 1, np.array([0.9, 0.1, 0, 0]), np.zeros((2, 2)), np.zeros(4), score)
    inside = [fake("ok", 0.1), fake("ok", 0.2)]
    foreign = [fake("unknown", 0.5), fake("unknown", 0.6)]
    report = novelty_report(inside, foreign, [fake("ok", 0.15)])
    assert report["flagged"] == {"inside": 0.0, "foreign": 1.0, "generated": 0.0}
    assert report["auroc"] == {"foreign": 1.0, "generated": 0.5}
