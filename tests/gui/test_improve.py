"""The comparison an inspector decides on after Model > Improve: the verdict in words, photos with thumbnails."""

import numpy as np

from core.model.bundle import load_bundle
from core.training.gate import CORRECTIONS, FROZEN
from core.training.retrain import RetrainOutcome
from gui.images import rgb_image
from gui.improve import ComparisonDialog


def _outcome(bundle, passed: bool) -> RetrainOutcome:
    fixed = {"source": "day.zip!/day1/004.jpg", "truth": "oil", "parent": "good", "candidate": "oil"}
    broken = {"source": "/photos/stain/Sta_0015.jpg", "truth": "stain", "parent": "stain", "candidate": "good"}
    counts = {"fixed": 1, "broken": 1, "both_right": 6, "both_wrong": 0}
    part = {
        "photos": 8,
        "parent": {"accuracy": 0.875, "macro_f1": 0.8, "correct": 7},
        "candidate": {"accuracy": 0.875, "macro_f1": 0.8, "correct": 7},
        "agreement": {"counts": counts},
    }
    comparison = {
        CORRECTIONS: {**part, "agreement": {"counts": counts, "fixed": [fixed], "broken": []}},
        FROZEN: {**part, "agreement": {"counts": counts, "fixed": [], "broken": [broken]}},
    }
    headline = "The new version is better: …" if passed else "Not enough corrections yet to be sure: …"
    return RetrainOutcome(bundle, comparison, passed, ["held-back corrections: fixed 1, broke 0"], headline)


def test_the_comparison_shows_what_was_fixed_and_broken_with_thumbnails_and_details_on_demand(window, random_bundle):
    bundle = load_bundle(random_bundle.folder)
    bundle.lineage = {"corrections": {"oil": 5, "stain": 3}, "held_back": 2}
    picture = rgb_image(np.full((60, 80, 3), 128, np.uint8))
    dialog = ComparisonDialog(
        _outcome(bundle, passed=False), {"day.zip!/day1/004.jpg": picture}, ["Retraining for 8 epochs"], window.client
    )
    assert dialog.headline.text() == "<b>Not enough corrections yet to be sure: …</b>"
    assert dialog.facts.text() == (
        "Checked on 8 photos neither version trained on: the new version gets 7 right, the current one 7. "
        "Of your 8 corrections, 6 went into training and 2 were set aside to check on."
    )
    assert [dialog.fixed.item(i).text() for i in range(dialog.fixed.count())] == ["004.jpg\noil (was good)"]
    assert not dialog.fixed.item(0).icon().isNull()  # its thumbnail
    assert dialog.broken.item(0).text() == "Sta_0015.jpg\nstain (now good)"
    assert dialog.broken.item(0).icon().isNull()  # no picture given: named without one
    assert "Frozen holdout" in dialog.broken.item(0).toolTip()
    assert not dialog.promote_button.isEnabled() and dialog.details.isHidden()
    dialog.details_button.click()
    details = dialog.details.toPlainText()
    assert "fixed: day.zip!/day1/004.jpg (true oil: good -> oil)" in details and "Retraining for 8 epochs" in details
    assert ComparisonDialog(_outcome(bundle, passed=True), {}, [], window.client).promote_button.isEnabled()
