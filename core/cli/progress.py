"""A progress bar on stderr when it is a terminal, silent otherwise (and in windowed builds)."""

from __future__ import annotations

import sys

from tqdm import tqdm


def progress_bar(total: int, description: str, unit: str = "img") -> tqdm:
    """Return a tqdm bar that stays quiet when stderr is not a terminal or is missing."""
    stream = sys.stderr
    quiet = stream is None or not hasattr(stream, "isatty") or not stream.isatty()
    return tqdm(total=total, desc=description, unit=unit, file=stream, disable=quiet, dynamic_ncols=True)


def batch_updater(bar: tqdm):
    """Return an engine ``progress(done, total)`` callback that advances ``bar`` (and sets its total)."""

    def update(done: int, total: int) -> None:
        bar.total = total
        bar.update(done - bar.n)

    return update
