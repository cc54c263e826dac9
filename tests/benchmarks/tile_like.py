"""Build a look-alike of the hard customer case from ../shared: grey crops of odd shapes, thin small defects,
six classes as imbalanced as a magnetic-tile dataset.

The customer's magnetic-tile photos are grey crops 120-606 px wide and 245-381 px high (width/height
0.42-2.44), defects a few percent of the area, some of them hairline cracks; classes good 300, blowhole 115,
uneven 103, break 85, crack 57, fray 32. None of those photos is here, so this set copies their properties
from real photos that are, with real defects only (nothing drawn):

* ``good``: crops of phone photos away from every defect (two thirds), casting photos recropped (one third);
* ``crack``: crops around a phone scratch (a hairline a few percent of the crop);
* ``fray``: the same, cut so that the scratch runs into the crop's edge (a defect at the border);
* ``blowhole``: crops around a stain (a speck of a few pixels);
* ``uneven``: crops around an oil smudge (low contrast, soft edges);
* ``break``: casting photos with a real defect, recropped.

Every photo is stored grey. Train and test come from different phones (blocks of ten photo numbers) and from
the casting train / test folders. ``train/good`` alone is a good-only anomaly training folder; ``test/`` holds
good and defect photos to score it on.

Run: ``python -m tests.benchmarks.tile_like OUT`` (about a minute).
"""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
from PIL import Image

from tests.benchmarks.varied_dataset import (
    NEAR,
    TEST_SHARE,
    build_from_command_line,
    casting_maker,
    phone_blocks,
    phone_maker,
    random_shape,
    write_split,
)

COUNTS = {"good": 300, "blowhole": 115, "uneven": 103, "break": 85, "crack": 57, "fray": 32}  # train + test
DEFECT_CLASSES = tuple(name for name in COUNTS if name != "good")
CASTING_GOOD_SHARE = 1 / 3
EDGE_SHARE = 0.08  # a fray's centre lies within this share of the crop's side from its edge
EDGE_CROP = 2  # a fray crop's short side over the defect's size (half the defect is cut off)


def edge_crop(photo: Image.Image, mask: np.ndarray, rng: random.Random) -> Image.Image | None:
    """A crop around one defect of ``mask``, twice the defect's size,
    placed so that the defect's centre lies at one of the crop's edges (part of the defect cut off)."""
    ys, xs = np.nonzero(mask)
    if not len(xs):
        return None
    pick = rng.randrange(len(xs))
    near = (abs(xs - xs[pick]) < NEAR) & (abs(ys - ys[pick]) < NEAR)
    defect = max(int(np.ptp(xs[near])), int(np.ptp(ys[near]))) + 1
    width, height = random_shape(rng)
    scale = max(EDGE_CROP * defect / min(width, height), 1.0)
    crop_w, crop_h = min(photo.width, round(width * scale)), min(photo.height, round(height * scale))
    centre_x, centre_y = int(xs[near].mean()), int(ys[near].mean())
    inset = rng.uniform(0, EDGE_SHARE)
    side = rng.choice(("left", "right", "top", "bottom"))
    left = {"left": inset, "right": 1 - inset}.get(side, rng.uniform(0.2, 0.8))
    top = {"top": inset, "bottom": 1 - inset}.get(side, rng.uniform(0.2, 0.8))
    left_px = min(max(0, round(centre_x - left * crop_w)), photo.width - crop_w)
    top_px = min(max(0, round(centre_y - top * crop_h)), photo.height - crop_h)
    crop = photo.crop((left_px, top_px, left_px + crop_w, top_px + crop_h))
    return crop.resize((max(48, round(crop_w / scale)), max(48, round(crop_h / scale))), Image.Resampling.LANCZOS)


def grey(maker):
    """Return ``maker`` whose photos are converted to grey."""

    def make(rng: random.Random):
        made = maker(rng)
        return None if made is None else (made[0], made[1].convert("L"))

    return make


def good_maker(blocks: set[str], split: str):
    """Clean phone crops, and casting photos recropped for :data:`CASTING_GOOD_SHARE` of the photos."""
    phone, casting = phone_maker("good", blocks), casting_maker("casting_good", split)
    return lambda rng: casting(rng) if rng.random() < CASTING_GOOD_SHARE else phone(rng)


def makers_for(blocks: set[str], split: str) -> dict:
    """Return each class's maker of grey photos from the phones in ``blocks`` and the casting ``split``."""
    return {
        name: grey(maker)
        for name, maker in {
            "good": good_maker(blocks, split),
            "blowhole": phone_maker("stain", blocks),
            "uneven": phone_maker("oil", blocks),
            "break": casting_maker("casting_defective", split),
            "crack": phone_maker("scratch", blocks),
            "fray": phone_maker("scratch", blocks, cut=edge_crop),
        }.items()
    }


def build(out: Path, seed: int = 0) -> dict[str, dict[str, int]]:
    """Write ``out/train/<class>/`` and ``out/test/<class>/``. :returns: photos per split and class."""
    rng = random.Random(seed)
    blocks = phone_blocks(rng)
    made = {}
    for split, share in (("train", 1 - TEST_SHARE), ("test", TEST_SHARE)):
        wanted = {name: max(8, round(count * share)) for name, count in COUNTS.items()}
        made[split] = write_split(out / split, wanted, makers_for(blocks[split], split), rng)
    return made


if __name__ == "__main__":
    build_from_command_line(build, __doc__)
