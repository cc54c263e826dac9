"""More defect photos from the same few: a masked defect moved onto other clean screens, at other places.

Where a data set holds a defect photo, its mask and a *defect-removed counterpart* (the same photo with only
the defect pixels inpainted, as the phone photos do), their difference is the defect alone. Added to another
clean photo, elsewhere, it is that defect on another phone: the model meets defects on screens of every
colour and in every position, instead of learning that stains come on black phones. The difference is
feathered at the mask's edge, and only placed where the new background is about as bright as the old one
(a bright speck added to a white screen would vanish under a label that still says "stain").

Counterparts are found by their pixels, not their names: a photo of the same group and another class that
matches the defect photo everywhere outside the (widened) mask.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageFilter

from core.training.dataset import PhotoCache, Sample

SAME_OUTSIDE = 4.0  # mean grey-level difference outside the mask below which two photos are one photo
BACKGROUND_TOLERANCE = 40.0  # grey levels between the old and the new background of a moved defect
FEATHER_PX = 2  # the mask's edge is widened and softened by this much
PLACEMENT_TRIES = 6


@dataclass(frozen=True)
class _Donor:
    """One defect, cut out as its difference from the clean counterpart, within its box."""

    delta: np.ndarray  # h x w x 3 float32: defect photo minus counterpart, faded out past the mask
    mask: np.ndarray  # h x w float32: the mask within the box
    background: float  # mean brightness of the counterpart within the box


class DefectTransplants:
    """The defects of ``samples`` that have a counterpart, ready to be moved onto other clean photos.

    :param samples: training photos (a defect needs a mask and a counterpart among them)
    :param cache: decodes the photos at the training size
    :param chance: how often a drawn defect photo is replaced by its defect moved onto another clean photo
    """

    def __init__(self, samples: list[Sample], cache: PhotoCache, chance: float = 0.5):
        self.cache, self.chance = cache, chance
        self.donors: dict[Path, _Donor] = {}
        clean_labels: set[int] = set()
        by_group: dict[str, list[Sample]] = {}
        for sample in samples:
            by_group.setdefault(sample.group, []).append(sample)
        for sample in samples:
            pair = self._counterpart(sample, by_group[sample.group])
            if pair is not None:
                self.donors[sample.path] = _cut_out(cache.photo(sample.path), cache.photo(pair.path), pair.mask)
                clean_labels.add(pair.label)
        self.targets = [s for s in samples if s.label in clean_labels]

    def __len__(self) -> int:
        return len(self.donors)

    def draw(self, sample: Sample) -> tuple[np.ndarray, np.ndarray] | None:
        """With :attr:`chance`, ``sample``'s defect on another clean photo: ``(pixels, mask)``; else None."""
        donor = self.donors.get(sample.path)
        if donor is None or float(torch.rand(())) >= self.chance:
            return None
        others = [t for t in self.targets if t.group != sample.group]
        for _ in range(PLACEMENT_TRIES if others else 0):
            target = others[int(torch.randint(len(others), ()))]
            placed = _place(donor, self.cache.photo(target.path))
            if placed is not None:
                return placed
        return None

    def _counterpart(self, sample: Sample, group: list[Sample]):
        if sample.mask_path is None:
            return None
        mask = self.cache.mask(sample.mask_path)
        if not mask.any():
            return None
        outside = _widened(mask) == 0
        photo = self.cache.photo(sample.path).astype(np.float32)
        for other in group:
            if other.label == sample.label or other.mask_path is not None:
                continue
            difference = np.abs(photo - self.cache.photo(other.path)).mean(axis=2)
            if outside.any() and float(difference[outside].mean()) < SAME_OUTSIDE:
                return _Pair(other.path, other.label, mask)
        return None


@dataclass(frozen=True)
class _Pair:
    path: Path
    label: int
    mask: np.ndarray


def _widened(mask: np.ndarray) -> np.ndarray:
    """The mask grown by :data:`FEATHER_PX` and softened: 1 inside, fading to 0 past its edge."""
    image = Image.fromarray((mask > 0).astype(np.uint8) * 255)
    grown = image.filter(ImageFilter.MaxFilter(2 * FEATHER_PX + 1)).filter(ImageFilter.GaussianBlur(FEATHER_PX / 2))
    return np.asarray(grown, dtype=np.float32) / 255.0


def _cut_out(photo: np.ndarray, clean: np.ndarray, mask: np.ndarray) -> _Donor:
    fade = _widened(mask)
    rows, columns = np.nonzero(fade > 0)
    y0, y1, x0, x1 = rows.min(), rows.max() + 1, columns.min(), columns.max() + 1
    delta = (photo.astype(np.float32) - clean.astype(np.float32))[y0:y1, x0:x1] * fade[y0:y1, x0:x1, None]
    background = float(clean[y0:y1, x0:x1].mean())
    return _Donor(delta, mask[y0:y1, x0:x1].copy(), background)


def _place(donor: _Donor, target: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """Add the defect at a random place of ``target`` whose brightness matches; None when that one does not."""
    height, width = donor.mask.shape
    if height >= target.shape[0] or width >= target.shape[1]:
        return None
    top = int(torch.randint(target.shape[0] - height, ()))
    left = int(torch.randint(target.shape[1] - width, ()))
    region = target[top : top + height, left : left + width].astype(np.float32)
    if abs(float(region.mean()) - donor.background) > BACKGROUND_TOLERANCE:
        return None
    pixels = target.copy()
    pixels[top : top + height, left : left + width] = np.clip(region + donor.delta, 0, 255).round().astype(np.uint8)
    mask = np.zeros(target.shape[:2], dtype=np.float32)
    mask[top : top + height, left : left + width] = donor.mask
    return pixels, mask
