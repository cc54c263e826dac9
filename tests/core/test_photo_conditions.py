"""Other cameras' photos: the conditions, the augmentation that covers them, and the robustness check."""

import numpy as np
import pytest
import torch
from PIL import Image

from core.cli import main
from core.model.novelty import NoveltyDetector
from core.photos.conditions import CONDITIONS, border_colour, condition_named, place
from core.training.augment import augment, build_augmentation, camera_variation
from core.training.robustness import format_row, robustness_report
from tests.images import screen_photo


def _photo_with_defect(size=(320, 180)) -> tuple[Image.Image, Image.Image]:
    """A grey frame around a dark screen with one bright square defect, and its mask."""
    width, height = size
    photo = Image.new("RGB", size, (120, 120, 120))
    photo.paste((10, 10, 15), (width // 16, height // 12, width - width // 16, height - height // 12))
    defect = (width * 5 // 8, height // 3, width * 5 // 8 + width // 20, height // 3 + width // 20)
    photo.paste((250, 250, 250), defect)
    mask = Image.new("L", size, 0)
    mask.paste(255, defect)
    return photo, mask


def _bright_centre(image: Image.Image) -> np.ndarray:
    pixels = np.asarray(image.convert("L"), dtype=float)
    ys, xs = np.nonzero(pixels > 200)
    return np.array([xs.mean(), ys.mean()])


@pytest.mark.parametrize("condition", CONDITIONS, ids=lambda c: c.name)
def test_every_condition_moves_the_mask_with_the_defect(condition):
    photo, mask = _photo_with_defect()
    new_photo, new_mask = condition.render(photo, mask)
    assert new_photo.mode == "RGB" and new_mask is not None and new_mask.size == new_photo.size
    if condition.name in ("darker", "noise", "soft focus", "jpeg q15"):
        return  # the defect's brightness changes; the mask is untouched
    assert np.abs(_bright_centre(new_photo) - _bright_centre(new_mask)).max() <= 2.0


def test_conditions_change_what_they_say():
    photo, _ = _photo_with_defect()
    mean = np.asarray(photo, dtype=float).mean()
    darker = np.asarray(condition_named("darker").render(photo, None)[0], dtype=float).mean()
    assert darker == pytest.approx(0.67 * mean, rel=0.02)
    red, _, blue = np.asarray(condition_named("warmer").render(photo, None)[0], dtype=float).mean(axis=(0, 1))
    assert red > blue
    assert condition_named("1280x720").render(Image.new("RGB", (1920, 1080)), None)[0].size == (1280, 720)
    noisy = np.asarray(condition_named("noise").render(photo, None)[0], dtype=float)
    assert 8 < (noisy - np.asarray(photo, dtype=float)).std() < 12
    with pytest.raises(ValueError, match="no condition 'sepia'"):
        condition_named("sepia")


def test_placing_the_product_smaller_fills_with_the_border_colour():
    photo, _ = _photo_with_defect()
    assert border_colour(np.asarray(photo)) == (120, 120, 120)
    placed = np.asarray(place(photo, 0.5, (0.2, 0.0)))
    assert tuple(placed[2, 2]) == (120, 120, 120) and tuple(placed[-3, 5]) == (120, 120, 120)
    assert placed[:, :100].mean() > placed[:, 200:].mean()  # the dark screen moved right


def test_augmentation_keeps_mask_and_photo_together_and_varies_the_camera():
    torch.manual_seed(0)
    photo, mask = _photo_with_defect((160, 96))
    image = torch.from_numpy(np.asarray(photo).copy()).permute(2, 0, 1)
    mask_tensor = torch.from_numpy(np.asarray(mask, dtype=np.float32) / 255)[None]
    transform = build_augmentation((96, 160))
    means = []
    for _ in range(12):
        new_image, new_mask = augment(transform, image, mask_tensor)
        assert new_image.shape == (3, 96, 160) and new_image.dtype == torch.uint8 and new_mask.max() > 0
        means.append(float(new_image.float().mean()))
    assert max(means) - min(means) > 10  # exposure and white balance vary
    varied = camera_variation(image)
    assert varied.shape == image.shape and varied.dtype == torch.uint8


def test_unknown_threshold_allows_the_stated_share_of_validation_photos(tmp_path):
    generator = torch.Generator().manual_seed(1)
    centre = torch.randn(1, 16, generator=generator)
    bank = centre + 0.1 * torch.randn(60, 16, generator=generator)
    validation = centre + 0.1 * torch.randn(200, 16, generator=generator)
    validation[:10] += torch.randn(10, 16, generator=generator)  # 5 % far off
    detector = NoveltyDetector.fit(bank, validation, false_alarm_rate=0.01, fitted_on="test")
    assert (detector.scores(validation) > detector.threshold).mean() <= 0.01
    looser = NoveltyDetector.fit(bank, validation, false_alarm_rate=0.1)
    flagged = detector.scores(validation) > looser.threshold
    assert looser.threshold < detector.threshold and flagged[:10].all() and flagged.mean() <= 0.1
    meta = detector.save(tmp_path)
    assert meta["false_alarm_rate"] == 0.01 and meta["fitted_on"] == "test" and meta["bank_size"] == 60


def test_robustness_check_reports_every_condition(random_bundle, tmp_path, capsys):
    data, masks = tmp_path / "data", tmp_path / "masks"
    masks.mkdir()
    for label in ("good", "oil"):
        (data / label).mkdir(parents=True)
        for index in range(2):
            photo = screen_photo(index, mark=None if label == "good" else "oil")
            photo.save(data / label / f"{label}_{index}.jpg")
    _photo_with_defect()[1].resize((320, 180)).save(masks / "oil_0.png")
    rows = robustness_report(
        random_bundle, data, masks, only_validation=False, foreign_dir=data / "good", say=lambda line: None
    )
    assert [row["condition"] for row in rows] == [c.name for c in CONDITIONS]
    for row in rows:
        assert row["photos"] == 4 and 0 <= row["macro_f1"] <= 1 and 0 <= row["unknown_share"] <= 1
        assert 0 <= row["other_product_auroc"] <= 1 and "other products AUROC" in format_row(row)
    report = tmp_path / "r.json"
    assert main(["evaluate", str(random_bundle.folder), str(data), "--conditions", "--json", str(report)]) == 0
    out = capsys.readouterr().out
    assert "jpeg q15" in out and "off-centre" in out and report.is_file()
