"""Defects moved onto other clean screens: found by their counterparts, placed where the background matches."""

import numpy as np
import torch
from PIL import Image

from core.training.dataset import PhotoCache, Sample
from core.training.synthesis import DefectTransplants

SIZE = (96, 160)


def _screen(seed: int, level: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.normal(level, 3, (*SIZE, 3)).clip(0, 255).astype(np.uint8)


def _save(folder, name: str, pixels: np.ndarray):
    path = folder / name
    Image.fromarray(pixels).save(path)
    return path


def _data(tmp_path):
    """Group a: a stain (a bright speck, masked) and its counterpart; group b: two clean dark screens and a white one
    (where a bright speck would vanish); group c: a stain whose 'counterpart' is another photo."""
    clean = _screen(0, 30)
    stained = clean.copy()
    stained[40:44, 70:74] = 250
    mask = np.zeros(SIZE, dtype=np.uint8)
    mask[40:44, 70:74] = 255
    Image.fromarray(mask).save(tmp_path / "a_stain.png")
    Image.fromarray(mask).save(tmp_path / "c_stain.png")
    return [
        Sample(_save(tmp_path, "a_stain.bmp", stained), 1, "a", tmp_path / "a_stain.png"),
        Sample(_save(tmp_path, "a_clean.bmp", clean), 0, "a"),
        Sample(_save(tmp_path, "b_dark1.bmp", _screen(1, 35)), 0, "b"),
        Sample(_save(tmp_path, "b_dark2.bmp", _screen(2, 25)), 0, "b"),
        Sample(_save(tmp_path, "b_white.bmp", _screen(3, 230)), 0, "b"),
        Sample(_save(tmp_path, "c_stain.bmp", stained), 1, "c", tmp_path / "c_stain.png"),
        Sample(_save(tmp_path, "c_other.bmp", _screen(4, 120)), 0, "c"),
    ]


def test_a_defect_with_its_counterpart_moves_onto_other_clean_screens_of_like_brightness(tmp_path):
    samples = _data(tmp_path)
    cache = PhotoCache(SIZE)
    transplants = DefectTransplants(samples, cache, chance=1.0)
    assert list(transplants.donors) == [samples[0].path]  # c's 'counterpart' is another photo: no pair
    torch.manual_seed(0)
    placed = [drawn for drawn in (transplants.draw(samples[0]) for _ in range(20)) if drawn is not None]
    assert len(placed) >= 15  # half the screens match; a draw tries several
    for pixels, mask in placed:
        target = next(  # the clean screen it was placed on: the one it matches outside the mask
            cache.photo(s.path) for s in samples[2:5] if np.abs(pixels.astype(int) - cache.photo(s.path)).max() < 250
        )
        assert target.mean() < 100  # never on the white screen
        changed = np.abs(pixels.astype(int) - target).max(axis=2) > 30
        assert changed.any() and mask[changed].min() > 0  # the speck, and only where the moved mask is
        assert mask.sum() == np.float32(16)  # the whole mask moved along


def test_other_photos_and_a_zero_chance_are_left_as_they_are(tmp_path):
    samples = _data(tmp_path)
    transplants = DefectTransplants(samples, PhotoCache(SIZE), chance=0.0)
    assert transplants.draw(samples[0]) is None
    assert DefectTransplants(samples, PhotoCache(SIZE), chance=1.0).draw(samples[2]) is None  # a clean photo
