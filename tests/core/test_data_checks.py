"""Training data that would make a dishonest model: said before training starts, one line each."""

import shutil

import numpy as np
import pytest
from PIL import Image

from core.cli import main
from core.training.data_checks import check_training_data
from core.training.dataset import scan_dataset


def _photo(path, seed: int, mode: str = "RGB", size=(64, 48)):
    pixels = np.random.default_rng(seed).integers(0, 255, (size[1], size[0], 3), dtype=np.uint8)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(pixels).convert(mode).save(path)


def _folder(tmp_path, counts: dict[str, int], mode_of=lambda name: "RGB"):
    for offset, (name, count) in enumerate(counts.items()):
        for i in range(count):
            _photo(tmp_path / name / f"{name}_{i}.png", 100 * offset + i, mode_of(name))
    return tmp_path


def _check(folder):
    return check_training_data(*scan_dataset(folder))


def test_a_class_with_three_photos_is_refused_in_one_line(tmp_path):
    found = _check(_folder(tmp_path, {"good": 10, "crack": 3}))
    assert found.refusals == [
        "class 'crack' has 3 photos: at least 5 are needed (some to learn from, some to check the model on)"
    ]


def test_identical_photos_are_refused_as_a_class_and_kept_together_as_copies(tmp_path):
    folder = _folder(tmp_path, {"good": 8, "dent": 6, "scratch": 6})
    for i in range(1, 6):  # every dent photo is the same photo
        shutil.copy(folder / "dent" / "dent_0.png", folder / "dent" / f"dent_{i}.png")
    shutil.copy(folder / "good" / "good_0.png", folder / "good" / "good_copy.png")
    shutil.copy(folder / "good" / "good_1.png", folder / "scratch" / "scratch_mislabelled.png")
    found = _check(folder)
    assert found.refusals == ["all 6 photos of class 'dent' are copies of one photo: nothing to learn from"]
    assert any("good_1.png is filed under good and scratch" in note for note in found.notes)
    assert any("photos are copies of others" in note for note in found.notes)
    groups = {s.path.name: s.group for s in found.samples}
    assert groups["good_copy.png"] == groups["good_0.png"] and groups["dent_3.png"] == groups["dent_0.png"]


def test_grey_beside_colour_and_an_outsized_photo_are_said(tmp_path):
    folder = _folder(tmp_path, {"good": 6, "crack": 6}, mode_of=lambda name: "L" if name == "crack" else "RGB")
    _photo(folder / "good" / "huge.png", 99, size=(1024, 768))
    notes = _check(folder).notes
    assert any("6 photos are grey and 7 colour" in n and "class crack is all grey" in n for n in notes)
    assert any(n.startswith("huge.png is 1024x768, 256x the pixels of the median photo") for n in notes)


@pytest.mark.slow
def test_train_refuses_before_training_and_says_why(tmp_path, capsys):
    folder = _folder(tmp_path / "data", {"good": 8, "crack": 3})
    code = main(["train", str(folder), "--out", str(tmp_path / "model"), "--epochs", "1", "--image-size", "32", "32"])
    assert code == 2
    error = capsys.readouterr().err
    assert "cannot train honestly" in error and "class 'crack' has 3 photos" in error
    assert not (tmp_path / "model").exists()
