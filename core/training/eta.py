"""How far a training run has got and how long it still needs, from its epoch and step callbacks."""

from __future__ import annotations

import time
from collections.abc import Callable


class TrainingClock:
    """Follows one training run: feed it :meth:`on_step` and :meth:`on_epoch`, ask :meth:`fraction` and
    :meth:`seconds_left`.

    The estimate is the time so far scaled by what is left. The first epoch also decodes every photo,
    so early estimates run long and settle as the run goes on.

    :param epochs: the epochs planned before the run starts (a run's own plan replaces it after an epoch)
    :param clock: seconds, monotonic (tests pass a fake)
    """

    def __init__(self, epochs: int, clock: Callable[[], float] = time.monotonic):
        self._clock = clock
        self._started = clock()
        self._planned = max(1, epochs)
        self._epochs_done = 0
        self._step_share = 0.0

    def on_step(self, step: int, steps: int) -> None:
        """Note that ``step`` of the epoch's ``steps`` is done."""
        self._step_share = step / max(1, steps)

    def on_epoch(self, record: dict) -> None:
        """Note a finished epoch (the trainer's record: ``epoch`` and ``epochs_planned``)."""
        self._epochs_done = record["epoch"]
        self._planned = max(self._epochs_done, record.get("epochs_planned", self._planned))
        self._step_share = 0.0

    def fraction(self) -> float:
        """Return the share of the planned training done, 0..1."""
        return min(1.0, (self._epochs_done + self._step_share) / self._planned)

    def seconds_left(self) -> float | None:
        """Return the estimated seconds left, or None before the first step finished."""
        done = self.fraction()
        if done <= 0:
            return None
        return (self._clock() - self._started) * (1.0 - done) / done


def describe_time_left(seconds: float | None) -> str:
    """Return "about 4 min left", "less than a minute left", or "" when not known yet."""
    if seconds is None:
        return ""
    if seconds < 60:
        return "less than a minute left"
    return f"about {round(seconds / 60)} min left"
