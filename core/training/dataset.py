"""Labelled photos for training: class folders, optional defect masks, grouped splits.

``DATA_DIR`` holds one folder per class; the folder names are the class names. A masks
folder (file stems matching the photos) is optional: where a photo has a mask, training
also teaches the heatmap to point at the masked pixels.
"""

from __future__ import annotations

import random
import re
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from core.photos.decode import decode, fit_to_input
from core.photos.sources import is_image_name


@dataclass(frozen=True)
class Sample:
    """One labelled photo.

    :param path: the photo file
    :param label: index into the class list
    :param group: photos of one group always land on the same side of a split
    :param mask_path: the defect mask, or None
    :param weight: how much more often than its classmates training draws it (an inspector's correction)
    """

    path: Path
    label: int
    group: str
    mask_path: Path | None = None
    weight: float = 1.0


def scan_dataset(
    data_dir, masks_dir=None, group_by: str | None = None, classes: list[str] | None = None
) -> tuple[list[str], list[Sample]]:
    """List class folders and their photos.

    :param data_dir: folder with one sub-folder per class
    :param masks_dir: folder of masks named ``<photo stem>.png``, or None
    :param group_by: regular expression whose first group (or whole match) names a file's group
    :param classes: the classes in this order (a model's, when retraining it); a class may have no
        folder, a folder of another name is an error. Default: the folders with photos, by name.
    :returns: ``(classes, samples)``
    :raises ValueError: no such folder, fewer than two class folders with photos, or a folder that is no class
    """
    data_dir = Path(data_dir)
    if not data_dir.is_dir():
        raise ValueError(f"{data_dir} is not a folder (expected one sub-folder of photos per class)")
    found = sorted(p.name for p in data_dir.iterdir() if p.is_dir() and any(_photos(p)))
    if classes is None:
        if len(found) < 2:
            raise ValueError(f"{data_dir} needs at least two class folders with photos")
        classes = found
    unknown = sorted(set(found) - set(classes))
    if unknown:
        raise ValueError(f"class folders that are not classes of the model: {', '.join(unknown)}")
    pattern = re.compile(group_by) if group_by else None
    samples = []
    for label, folder in enumerate(data_dir / name for name in classes):
        for path in _photos(folder) if folder.is_dir() else []:
            mask = Path(masks_dir, path.stem + ".png") if masks_dir else None
            samples.append(
                Sample(path, label, _group_of(path, folder.name, pattern), mask if mask and mask.is_file() else None)
            )
    return list(classes), samples


def _photos(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file() and is_image_name(p.name) and not p.name.startswith("."))


def _group_of(path: Path, class_name: str, pattern: re.Pattern | None) -> str:
    if pattern is None:
        return str(path)  # every photo is its own group
    match = pattern.search(path.name)
    if not match:
        return f"{class_name}/{path.name}"
    return match.group(1) if match.groups() else match.group(0)


def grouped_split(samples: list[Sample], val_fraction: float, seed: int) -> tuple[list[Sample], list[Sample]]:
    """Split into train and validation, keeping groups whole and each class near ``val_fraction``.

    :param samples: all samples
    :param val_fraction: wanted share of each class in validation (0 disables validation)
    :param seed: the same seed gives the same split
    :returns: ``(train, validation)``
    """
    val, train = take_share(samples, lambda s: s.group, lambda s: s.label, val_fraction, seed)
    return train, val


def take_share(items: list, group_of, label_of, share: float, seed: int) -> tuple[list, list]:
    """Take about ``share`` of each class's items, whole groups at a time, in a seeded random order of groups.

    A group is taken when that brings each of its classes nearer the wanted count (half of it fits): large
    groups (one phone's photos) can be taken too, single items fill up to the count.

    :param group_of: an item's group name
    :param label_of: an item's class
    :returns: ``(taken, the rest)``, each in the order of the groups
    """
    groups: dict[str, list] = defaultdict(list)
    for item in items:
        groups[group_of(item)].append(item)
    order = sorted(groups)
    random.Random(seed).shuffle(order)
    wanted = {label: share * count for label, count in Counter(label_of(i) for i in items).items()}
    taken_counts: Counter = Counter()
    taken, rest = [], []
    for name in order:
        members = groups[name]
        counts = Counter(label_of(i) for i in members)
        if share > 0 and all(taken_counts[label] + n / 2 <= wanted[label] for label, n in counts.items()):
            taken.extend(members)
            taken_counts.update(counts)
        else:
            rest.extend(members)
    return taken, rest


class PhotoCache:
    """Decodes each photo (and mask) once at the training size and keeps it in memory.

    :param size: ``(height, width)`` to decode to
    :param fit: ``stretch`` or ``pad`` (see :mod:`core.photos.decode`); masks are fitted the same way
    """

    def __init__(self, size: tuple[int, int], fit: str = "stretch"):
        self.size = size
        self.fit = fit
        self._photos: dict[tuple[Path, bool], np.ndarray] = {}
        self._masks: dict[Path, np.ndarray] = {}

    def photo(self, path: Path, every_pixel: bool = False) -> np.ndarray:
        """Return ``H x W x 3`` uint8 pixels, decoded like the engine decodes (or from every pixel of the photo:
        see :func:`core.photos.decode.decode`)."""
        key = (path, every_pixel)
        if key not in self._photos:
            decoded = decode(path.read_bytes(), self.size, fit=self.fit, every_pixel=every_pixel)
            self._photos[key] = decoded.pixels.copy()  # writable for torch
        return self._photos[key]

    def mask(self, path: Path) -> np.ndarray:
        """Return ``H x W`` float32 mask 0..1, area-resized so a tiny defect never vanishes."""
        if path not in self._masks:
            mask = Image.open(path).convert("L")
            fitted, _ = fit_to_input(mask, self.size, Image.Resampling.BOX, self.fit, 0)
            self._masks[path] = np.asarray(fitted, dtype=np.float32) / 255.0
        return self._masks[path]
