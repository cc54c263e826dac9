"""What a training dataset looks like before anything is trained: photo sizes, shapes, class counts, grey or colour.

Only file headers and small drafts are read (Pillow opens lazily), so a thousand photos take a second or two.
:mod:`core.training.plan` chooses the input size, fit, batch size and schedule from it.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import numpy as np
from PIL import Image, UnidentifiedImageError

from core.photos.decode import is_grey, upright_size
from core.training.dataset import Sample


@dataclass(frozen=True)
class DataProfile:
    """Sizes and counts of a labelled dataset.

    :param class_counts: photos per class name
    :param widths: upright width of every readable photo
    :param heights: upright height of every readable photo
    :param grey: how many of them are grey (:func:`core.photos.decode.is_grey`)
    """

    class_counts: dict[str, int]
    widths: np.ndarray
    heights: np.ndarray
    grey: int = 0

    @property
    def all_grey(self) -> bool:
        """Return whether every readable photo is grey (a grey camera's)."""
        return self.grey == len(self.widths)

    @property
    def aspects(self) -> np.ndarray:
        """Return width / height of every photo."""
        aspects: np.ndarray = self.widths / np.maximum(self.heights, 1)
        return aspects

    @property
    def median_aspect(self) -> float:
        return float(np.median(self.aspects))

    @property
    def aspect_spread(self) -> float:
        """Return how much the shapes differ: the 95th over the 5th percentile of the aspect ratios."""
        low, high = np.percentile(self.aspects, [5, 95])
        return float(high / max(low, 1e-6))

    @property
    def median_long_side(self) -> int:
        return int(np.median(np.maximum(self.widths, self.heights)))

    @property
    def imbalance(self) -> float:
        """Return the largest class's photo count over the smallest's."""
        counts = [n for n in self.class_counts.values() if n]
        return max(counts) / min(counts)

    def to_json(self) -> dict:
        """Return the summary stored in model.json (``training.data_profile``)."""
        low, high = np.percentile(self.aspects, [5, 95])
        return {
            "photos": len(self.widths),
            "class_counts": dict(self.class_counts),
            "median_size": [int(np.median(self.widths)), int(np.median(self.heights))],
            "median_long_side": self.median_long_side,
            "aspect_ratio": {
                "p5": round(float(low), 3),
                "median": round(self.median_aspect, 3),
                "p95": round(float(high), 3),
            },
            "imbalance": round(self.imbalance, 2),
            "grey": self.grey,
        }

    def describe(self) -> str:
        """Return one line for the user."""
        summary = self.to_json()
        aspect = summary["aspect_ratio"]
        width, height = summary["median_size"]
        counts = ", ".join(f"{name} {count}" for name, count in self.class_counts.items())
        return (
            f"Data: {summary['photos']} photos ({counts}; largest/smallest class {summary['imbalance']}x), "
            f"median {width}x{height}, width/height {aspect['p5']}-{aspect['p95']} (median {aspect['median']})"
            + (", all grey." if self.all_grey else f", {self.grey} grey." if self.grey else ".")
        )


def profile_dataset(classes: list[str], samples: list[Sample]) -> DataProfile:
    """Read every photo's header.

    :param classes: class names (``Sample.label`` indexes them)
    :param samples: the photos
    :returns: the :class:`DataProfile` (unreadable photos are left out; training reports them later)
    :raises ValueError: when no photo can be read
    """
    headers = [header for header in (photo_header(s.path) for s in samples) if header]
    if not headers:
        raise ValueError("none of the photos can be read")
    counts = Counter(classes[s.label] for s in samples)
    widths, heights, grey = (np.array(values, dtype=float) for values in zip(*headers))
    return DataProfile({name: counts[name] for name in classes}, widths, heights, int(grey.sum()))


def photo_header(path) -> tuple[int, int, bool] | None:
    """Return a photo's upright ``(width, height, grey)``, or None when it cannot be read."""
    try:
        with Image.open(path) as image:
            width, height = upright_size(image)
            return width, height, is_grey(image)
    except (OSError, UnidentifiedImageError, ValueError, Image.DecompressionBombError):
        return None


def photo_upright_size(path) -> tuple[int, int] | None:
    """Return a photo's upright ``(width, height)`` from its header, or None when it cannot be read."""
    try:
        with Image.open(path) as image:
            return upright_size(image)
    except (OSError, UnidentifiedImageError, ValueError, Image.DecompressionBombError):
        return None
