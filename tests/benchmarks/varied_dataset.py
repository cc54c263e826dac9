"""Build a harder product from ../shared: 6 imbalanced classes, varied sizes and shapes, small defects.

For tuning ``defectsort train``'s defaults without the customer's surface-defect dataset:

* ``good``, ``oil``, ``scratch``, ``stain`` (300, 90, 160 and 60 training photos, :data:`COUNTS`): crops of
  the MSD phone photos, 120-600 px on a side, width/height 1:2.5 to 2.5:1. A defect crop holds one of the
  defects of its mask anywhere, at least four times the defect's size (defects cover a few percent of the crop);
  a good crop comes from a defect-removed counterpart, or from a defect photo away from its masks.
* ``casting_good``, ``casting_defective`` (120 and 32): casting photos cropped (70-100 % of the area) and padded to
  another shape with their own background colour.

Train and test come from different phones (blocks of ten photo numbers, as the dataset's README says)
and from the casting train / test folders. File names keep the phone block first, so
``--group-by '^([A-Za-z]+_\\d{3})'`` keeps crops of one phone on one side of the validation split.

Run: ``python -m tests.benchmarks.varied_dataset OUT`` (about a minute).
"""

from __future__ import annotations

import argparse
import math
import random
import re
from pathlib import Path

import numpy as np
from PIL import Image

from core.photos.conditions import border_colour

SHARED = Path(__file__).resolve().parents[3] / "shared" / "data"
PHONE, CASTING = SHARED / "phone-msd", SHARED / "casting"
COUNTS = {  # training photos per class; the test split gets a third as many
    "good": 300,
    "scratch": 160,
    "oil": 90,
    "stain": 60,
    "casting_good": 120,
    "casting_defective": 32,
}
PHONE_FOLDERS = {"oil": "oil", "scratch": "scratch", "stain": "stain"}
GROUP = re.compile(r"^([A-Za-z]+_\d{3})")
TEST_SHARE = 0.3
NEAR = 150  # mask pixels this close (source pixels) to the chosen one make its defect


def random_shape(rng: random.Random) -> tuple[int, int]:
    """Return ``(width, height)``: long side 120-600 px, width/height log-uniform in 1/2.5..2.5."""
    aspect = math.exp(rng.uniform(math.log(1 / 2.5), math.log(2.5)))
    long_side = rng.uniform(120, 600)
    if aspect >= 1:
        return round(long_side), max(48, round(long_side / aspect))
    return max(48, round(long_side * aspect)), round(long_side)


def defect_crop(photo: Image.Image, mask: np.ndarray, rng: random.Random) -> Image.Image | None:
    """A crop of ``photo`` holding one defect of ``mask`` (the mask pixels near a random one of them),
    which covers a few percent of it."""
    ys, xs = np.nonzero(mask)
    if not len(xs):
        return None
    pick = rng.randrange(len(xs))
    near = (abs(xs - xs[pick]) < NEAR) & (abs(ys - ys[pick]) < NEAR)
    cols, rows = (int(xs[near].min()), int(xs[near].max()) + 1), (int(ys[near].min()), int(ys[near].max()) + 1)
    defect = max(rows[1] - rows[0], cols[1] - cols[0])
    width, height = random_shape(rng)
    scale = max(4 * defect / min(width, height), 1.0)  # source pixels per output pixel
    crop_w, crop_h = min(photo.width, round(width * scale)), min(photo.height, round(height * scale))
    left = _place(*cols, crop_w, photo.width, rng)
    top = _place(*rows, crop_h, photo.height, rng)
    crop = photo.crop((left, top, left + crop_w, top + crop_h))
    return crop.resize((max(48, round(crop_w / scale)), max(48, round(crop_h / scale))), Image.Resampling.LANCZOS)


def _place(start: int, stop: int, crop: int, limit: int, rng: random.Random) -> int:
    """Return the crop's first pixel so that ``start..stop`` lies inside it and the crop inside the photo."""
    low, high = max(0, stop - crop), min(start, limit - crop)
    return rng.randint(low, high) if high >= low else max(0, min(limit - crop, start))


def clean_crop(photo: Image.Image, mask: np.ndarray | None, rng: random.Random) -> Image.Image | None:
    """A crop of the same size range with no defect pixel in it (None after a few misses)."""
    for _ in range(20):
        width, height = random_shape(rng)
        scale = rng.uniform(1.0, 3.0)
        crop_w, crop_h = min(photo.width, round(width * scale)), min(photo.height, round(height * scale))
        left, top = rng.randint(0, photo.width - crop_w), rng.randint(0, photo.height - crop_h)
        if mask is not None and mask[top : top + crop_h, left : left + crop_w].any():
            continue
        crop = photo.crop((left, top, left + crop_w, top + crop_h))
        return crop.resize((round(crop_w / scale), round(crop_h / scale)), Image.Resampling.LANCZOS)
    return None


def casting_variant(photo: Image.Image, rng: random.Random) -> Image.Image:
    """Crop 70-100 % of a casting photo's area and pad it to another shape."""
    side = photo.width
    keep = math.sqrt(rng.uniform(0.7, 1.0))
    crop = round(side * keep)
    left, top = rng.randint(0, side - crop), rng.randint(0, side - crop)
    part = photo.crop((left, top, left + crop, top + crop))
    width, height = random_shape(rng)
    inner = min(width, height)
    canvas = Image.new("RGB", (width, height), border_colour(np.asarray(part)))
    canvas.paste(
        part.resize((inner, inner), Image.Resampling.LANCZOS),
        (rng.randint(0, width - inner), rng.randint(0, height - inner)),
    )
    return canvas


def build(out: Path, seed: int = 0) -> dict[str, dict[str, int]]:
    """Write ``out/train/<class>/`` and ``out/test/<class>/``. :returns: photos per split and class."""
    rng = random.Random(seed)
    phone_split = phone_blocks(rng)
    made: dict[str, dict[str, int]] = {}
    for split in ("train", "test"):
        share = 1.0 if split == "train" else TEST_SHARE
        wanted = {name: max(8, round(count * share)) for name, count in COUNTS.items()}
        makers = {name: maker_for(name, phone_split[split], split) for name in wanted}
        made[split] = write_split(out / split, wanted, makers, rng)
    return made


def maker_for(name: str, blocks: set[str], split: str):
    """Return the maker of class ``name``'s photos: casting variants, or crops of the phones in ``blocks``."""
    return casting_maker(name, split) if name.startswith("casting") else phone_maker(name, blocks)


def phone_blocks(rng: random.Random) -> dict[str, set[str]]:
    """Hold out about :data:`TEST_SHARE` of each defect kind's blocks (at least one) for the test split."""
    blocks = sorted({_block(p) for p in (PHONE / "photos").rglob("*.jpg")})
    test: set[str] = set()
    for kind in sorted({block.split("_")[0] for block in blocks}):
        own = [block for block in blocks if block.startswith(kind + "_")]
        rng.shuffle(own)
        test.update(own[: max(1, round(len(own) * TEST_SHARE))])
    return {"train": set(blocks) - test, "test": test}


def _block(path: Path) -> str:
    match = GROUP.match(path.stem)
    return match.group(1) if match else path.stem


def write_split(folder: Path, wanted: dict[str, int], makers: dict, rng: random.Random) -> dict[str, int]:
    """Write ``wanted[name]`` photos of each class into ``folder/name/``, each from ``makers[name](rng)``
    (``(source stem, image)`` or None for a miss). :returns: photos written per class."""
    counts = {}
    for name, count in wanted.items():
        (folder / name).mkdir(parents=True, exist_ok=True)
        written = 0
        for _attempt in range(count * 20):
            made = makers[name](rng)
            if made is None:
                continue
            stem, image = made
            image.save(folder / name / f"{stem}__{written:03d}.jpg", quality=92)
            written += 1
            if written == count:
                break
        counts[name] = written
    return counts


def phone_maker(name: str, blocks: set[str], cut=None):
    """Return a maker of crops of the phone photos of class ``name`` in ``blocks`` (``good``: clean crops of any
    photo; ``cut``: how a defect crop is cut, default :func:`defect_crop`)."""
    masks = PHONE / "masks"
    if name == "good":
        photos = [p for p in (PHONE / "photos").rglob("*.jpg") if _block(p) in blocks]
    else:
        photos = [
            p for p in (PHONE / "photos" / PHONE_FOLDERS[name]).glob("*.jpg") if GROUP.match(p.stem).group(1) in blocks
        ]  # type: ignore[union-attr]

    def make(rng: random.Random):
        path = rng.choice(photos)
        photo = Image.open(path).convert("RGB")
        mask_path = masks / f"{path.stem}.png"
        mask = np.asarray(Image.open(mask_path).convert("L")) if mask_path.is_file() else None
        crop = (
            clean_crop(photo, mask, rng)
            if name == "good"
            else (cut or defect_crop)(photo, mask, rng)
            if mask is not None
            else None
        )
        return None if crop is None else (path.stem, crop)

    return make


def casting_maker(name: str, split: str):
    """Return a maker of :func:`casting_variant` photos of the casting ``split``'s good or defective folder."""
    folder = CASTING / split / ("good" if name == "casting_good" else "defective")
    photos = sorted(folder.iterdir())

    def make(rng: random.Random):
        path = rng.choice(photos)
        return path.stem, casting_variant(Image.open(path).convert("RGB"), rng)

    return make


def build_from_command_line(builder, doc: str) -> None:
    """Parse ``OUT [--seed N]``, run ``builder(OUT, seed)`` and print the photos it wrote."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    print(builder(args.out, args.seed))


if __name__ == "__main__":
    build_from_command_line(build, __doc__)
