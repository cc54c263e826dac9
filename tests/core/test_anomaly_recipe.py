"""An anomaly model's input chosen by drawn defects on held-out good photos."""

import json

import numpy as np
import pytest
import torch

from core.cli import main
from core.model.bundle import load_bundle
from core.model.network import build_torchvision_model
from core.training.anomaly.recipe import BEFORE, AnomalyInput, InputCheck, _choose, candidate_inputs, clearly_better
from core.training.anomaly.synthetic import KINDS, draw_defect
from tests.images import screen_photo


def textured(seed: int, height: int = 120, width: int = 200) -> np.ndarray:
    """A grey surface with a little grain, neither white nor black."""
    rng = np.random.default_rng(seed)
    grey = np.clip(120 + rng.normal(0, 6, (height, width)), 0, 255).astype(np.uint8)
    return np.repeat(grey[:, :, None], 3, axis=2)


@pytest.mark.parametrize("kind", KINDS)
def test_a_drawn_defect_is_small_and_changes_only_its_place(kind):
    photo = textured(0)
    drawn = draw_defect(photo, kind, np.random.default_rng(3))
    assert drawn.shape == photo.shape and drawn.dtype == np.uint8
    changed = np.abs(drawn.astype(int) - photo.astype(int)).max(axis=2) > 8
    assert changed.any(), "the defect must be visible"
    assert changed.mean() < 0.08, "a defect is a few percent of the photo at most"
    assert np.array_equal(drawn, draw_defect(photo, kind, np.random.default_rng(3)))  # seeded: one defect
    assert np.array_equal(photo, textured(0))  # the photo itself is left alone


def test_a_crack_is_a_hairline_at_the_photos_own_resolution():
    photo = textured(1, 600, 900)
    drawn = draw_defect(photo, "crack", np.random.default_rng(0))
    changed = np.abs(drawn.astype(int) - photo.astype(int)).max(axis=2) > 8
    extent = changed.any(axis=1).sum() + changed.any(axis=0).sum()  # at least the line's length
    assert changed.sum() < 1.5 * 0.01 * 600 * extent  # a line no wider than 1 % of the short side (6 px)


def photos_of(folder, sizes):
    folder.mkdir(parents=True, exist_ok=True)
    for index, size in enumerate(sizes):
        screen_photo(index, size=size).save(folder / f"{index}.png")
    return sorted(folder.iterdir())


def test_candidates_follow_the_photos_shape_and_size(tmp_path):
    small_squares = photos_of(tmp_path / "squares", [(96, 96)] * 6)
    assert candidate_inputs(small_squares) == [AnomalyInput(*BEFORE)]  # nothing to gain above 224 px
    wide = photos_of(tmp_path / "wide", [(640, 360)] * 6)
    candidates = candidate_inputs(wide)
    assert candidates[0].size == (128, 224) and candidates[-1].size == (256, 448)
    assert AnomalyInput(*BEFORE) in candidates and all(c.fit == "stretch" for c in candidates)
    mixed = photos_of(tmp_path / "mixed", [(300, 120), (120, 300), (300, 300), (200, 100)] * 3)
    assert {c.fit for c in candidate_inputs(mixed) if c != AnomalyInput(*BEFORE)} == {"pad"}


def check_of(side: int, drawn_shift: float, seed: int) -> InputCheck:
    """A check whose 30 held-out photos score around 1, their drawn versions ``drawn_shift`` higher."""
    rng = np.random.default_rng(seed)
    clean = rng.normal(1.0, 0.3, 30)
    drawn = clean[:, None] + drawn_shift + rng.normal(0, 0.3, (30, len(KINDS)))
    return InputCheck(AnomalyInput((side, side), "stretch"), clean, drawn, 1.0)


def test_the_input_of_before_stays_unless_another_is_clearly_better():
    before = check_of(224, 0.3, seed=0)
    assert _choose([check_of(160, 0.31, seed=1), before, check_of(320, 0.32, seed=2)]) is before  # within noise
    assert not clearly_better(before, before)
    smaller = check_of(160, 1.5, seed=1)
    assert clearly_better(smaller, before) and _choose([smaller, before]) is smaller
    winner = _choose([before, check_of(320, 1.5, seed=2), check_of(448, 1.52, seed=3)])
    assert winner.candidate.size == (320, 320)  # clearly better, and no larger one clearly better than it
    assert _choose([before, check_of(320, 0.8, seed=2), check_of(448, 3.0, seed=3)]).candidate.size == (448, 448)


def test_train_anomaly_chooses_its_input_and_says_why(tmp_path, capsys):
    torch.manual_seed(1)
    backbone = tmp_path / "mobilenet_v2.pth"
    torch.save(build_torchvision_model("mobilenet_v2", 1000).state_dict(), backbone)
    good = tmp_path / "good"
    photos_of(good, [(320, 180)] * 24)
    out = tmp_path / "model"
    assert main(["train", str(good), "--anomaly", "--out", str(out), "--pretrained", str(backbone)]) == 0
    said = capsys.readouterr().out
    assert "drawn-defect AUROC" in said and "Chose input" in said
    bundle = load_bundle(out)
    choice = json.loads((out / "model.json").read_text())["training"]["choices"]["input"]
    assert choice["value"] == f"{bundle.input_size[0]}x{bundle.input_size[1]} {bundle.fit}"
    assert len(choice["checks"]) == len(candidate_inputs(sorted(good.iterdir())))
    assert all(0.0 <= check["auroc"] <= 1.0 and set(check["per_kind"]) == set(KINDS) for check in choice["checks"])
