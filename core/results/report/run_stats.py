"""Statistics of a run, gathered one item at a time (memory does not grow with the number of photos).

:meth:`RunStats.profile` is the run's summary for drift checks; the same profile of a model's
validation photos is the baseline stored in ``model.json`` (see :mod:`core.results.report.drift`).
"""

from __future__ import annotations

import heapq
import math
from collections import Counter
from collections.abc import Iterable

from core.inference.prediction import ERROR, REVIEW, UNKNOWN

HISTOGRAM_BINS = 20  # confidence histogram: bins of 5 %
LEAST_CERTAIN = 24  # photos shown with their overlays
MAX_LISTED = 200  # photos listed per status in the report (the CSV has them all)


class RunStats:
    """Counts, a confidence histogram, the least certain photos and the doubtful ones of a run.

    Two views of the same photos: :attr:`sections` counts the final decisions (a class for a settled photo,
    else ``review``, ``unknown`` or ``error``: what the window shows and the summary says), and the photos
    listed as doubtful are those still in doubt; :attr:`labels` and :attr:`statuses` count what the *model*
    said (drift watches the model, whatever the inspector did).
    """

    def __init__(self) -> None:
        self.total = 0
        self.sections: Counter[str] = Counter()
        self.labels: Counter[str] = Counter()
        self.statuses: Counter[str] = Counter()
        self.histogram = [0] * HISTOGRAM_BINS
        self.listed: dict[str, list[dict]] = {REVIEW: [], UNKNOWN: [], ERROR: []}
        self._confidence_sum = 0.0
        self._confidence_squares = 0.0
        self._least_certain: list[tuple[float, int, dict]] = []  # a max-heap of the lowest, by -confidence

    def add(self, item: dict) -> None:
        """Count one item of a results document."""
        self.total += 1
        final_status = item["status"]
        self.sections[final_status if final_status in self.listed else _settled_label(item)] += 1
        if final_status in self.listed and len(self.listed[final_status]) < MAX_LISTED:
            self.listed[final_status].append(_brief(item))
        self.statuses[item.get("model_status", final_status)] += 1
        if final_status == ERROR:
            return
        confidence = float(item["confidence"])
        self.labels[item["label"]] += 1
        self._confidence_sum += confidence
        self._confidence_squares += confidence * confidence
        self.histogram[min(HISTOGRAM_BINS - 1, int(confidence * HISTOGRAM_BINS))] += 1
        entry = (-confidence, self.total, _brief(item))
        if len(self._least_certain) < LEAST_CERTAIN:
            heapq.heappush(self._least_certain, entry)
        elif -confidence > self._least_certain[0][0]:
            heapq.heapreplace(self._least_certain, entry)

    @property
    def classified(self) -> int:
        """Return the items that got a label (all but errors)."""
        return self.total - self.statuses[ERROR]

    def least_certain(self) -> list[dict]:
        """Return the least confident photos, least confident first."""
        return [brief for _, _, brief in sorted(self._least_certain, key=lambda e: (-e[0], e[1]))]

    def profile(self) -> dict:
        """Return what drift is measured on: label counts, unknown and review counts, confidence mean and spread."""
        count = self.classified
        mean = self._confidence_sum / count if count else None
        spread = math.sqrt(max(0.0, self._confidence_squares / count - mean * mean)) if mean is not None else None
        return {
            "photos": count,
            "labels": dict(sorted(self.labels.items())),
            "unknown": self.statuses[UNKNOWN],
            "review": self.statuses[REVIEW],
            "errors": self.statuses[ERROR],
            "mean_confidence": None if mean is None else round(mean, 5),
            "confidence_std": None if spread is None else round(spread, 5),
        }


def profile_of(items: Iterable[dict]) -> dict:
    """Return the :meth:`RunStats.profile` of results (e.g. a model's validation photos: its drift baseline)."""
    stats = RunStats()
    for item in items:
        stats.add(item)
    return stats.profile()


def _settled_label(item: dict) -> str:
    """Return the class a settled item is in (results written before final labels existed: the model's)."""
    return str(item.get("final_label") or item["label"])


def _brief(item: dict) -> dict:
    """Return what the report shows of one photo."""
    keys = ("source", "name", "label", "confidence", "status", "explanation")
    return {key: item.get(key) for key in keys}
