"""The JSON contract of ``classify`` did not move: labels, probabilities, statuses and the heatmaps
of defect labels are those the engine gave when they were recorded.

``tests/data/golden`` holds generated photos and what the engine wrote for them with
:func:`tests.conftest.strict_phone_bundle` (``expected.json``: the classify JSON items,
``heatmaps.npz``: each photo's heatmap), recorded by ``python -m tests.golden``: first before the
decision stage was rebuilt, again (engine unchanged, the old results still matched) when the bundled
phone model was retrained for other cameras.
"""

import json

import numpy as np
import pytest

from core.cli import main
from tests.conftest import GOLDEN


def _classify(bundle, folder, *options) -> dict:
    out = folder / "results.json"
    main(["classify", str(GOLDEN), "--model", str(bundle.folder), "--json", str(out), *options])
    return {item["name"]: item for item in json.loads(out.read_text())["items"]}


@pytest.fixture(scope="module")
def today(strict_phone_bundle, tmp_path_factory):
    """The reference backend (torch fp32), compared exactly."""
    return _classify(strict_phone_bundle, tmp_path_factory.mktemp("golden"), "--backend", "torch")


@pytest.fixture(scope="module")
def before():
    return {item["name"]: item for item in json.loads((GOLDEN / "expected.json").read_text())}


def test_every_status_is_covered(before):
    assert {item["status"] for item in before.values()} == {"ok", "review", "unknown", "error"}


def test_fields_labels_probabilities_and_statuses_are_unchanged(today, before):
    assert today.keys() == before.keys()
    for name, old in before.items():
        new = today[name]
        added = {"anomaly_score", "unlisted_box"}  # added since: this copy of the model has no anomaly head
        final = {"model_status", "final_label", "settled_by", "corrected"}  # added since: the final word
        assert set(new) == set(old) | added | final and all(new[field] is None for field in added), name
        assert new["model_status"] == new["status"] and new["corrected"] is False, name  # nobody inspected
        settled = new["status"] == "ok"
        assert (new["final_label"], new["settled_by"]) == ((new["label"], "model") if settled else (None, None)), name
        assert (new["label"], new["status"], new["error"]) == (old["label"], old["status"], old["error"]), name
        # within one unit of the JSON's sixth decimal: pooling reduces over both axes at once since it runs on
        # OpenVINO too (the same sum in another order)
        assert new["probabilities"] == pytest.approx(old["probabilities"], abs=1.01e-6), name
        assert new["confidence"] == pytest.approx(old["confidence"], abs=1.01e-6), name
        assert new["ood_score"] == old["ood_score"] and new["also"] == old["also"], name


def test_defect_heatmaps_peaks_boxes_and_sentences_are_unchanged(today, before, strict_phone_bundle, tmp_path):
    from core.inference.engine import Engine
    from core.photos.sources import iter_items

    old_maps = np.load(GOLDEN / "heatmaps.npz")
    predictions = {p.name: p for p in Engine(strict_phone_bundle).classify(iter_items([GOLDEN])) if p.ok}
    defects = [name for name, item in before.items() if item["status"] != "error" and item["label"] != "good"]
    assert len(defects) >= 5
    for name in defects:
        np.testing.assert_allclose(predictions[name].heatmap, old_maps[name], atol=1e-6, err_msg=name)
        for field in ("peak", "box", "boxes", "explanation"):
            assert today[name][field] == before[name][field], (name, field)


def test_good_photos_now_show_faint_defect_evidence(today, before):
    goods = [name for name, item in before.items() if item["label"] == "good"]
    assert goods
    for name in goods:
        assert today[name]["boxes"] == [] and today[name]["box"] is None
        assert "no defect found on the screen" in today[name]["explanation"]


def test_the_default_backend_gives_the_same_results_within_rounding(strict_phone_bundle, today, tmp_path):
    default = _classify(strict_phone_bundle, tmp_path, "--precision", "fp32")  # OpenVINO fp32 (core.inference.runtime)
    assert default.keys() == today.keys()
    for name, old in today.items():
        new = default[name]
        assert (new["label"], new["status"], new["also"]) == (old["label"], old["status"], old["also"]), name
        for label, probability in old["probabilities"].items():
            assert new["probabilities"][label] == pytest.approx(probability, abs=1e-4), name
        if old["peak"]:
            assert np.abs(np.subtract(new["peak"], old["peak"])).max() < 1 / 24, name  # within a heatmap cell
