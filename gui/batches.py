"""The window's classification jobs: which are running, what each was asked to classify, and what
cancelled ones left behind, for "Continue the 76 photos not yet classified"."""

from __future__ import annotations


class Unfinished:
    """Paths of cancelled jobs and, where known, how many of their photos were not classified.

    Continuing opens the same paths again; the photos already classified are skipped by the worker
    (same source, same bytes), so only the rest goes through the model.
    """

    def __init__(self) -> None:
        self.paths: list[str] = []
        self.done = 0
        self.remaining = 0
        self.counted = True  # False once a job was cancelled before it started: its size is unknown

    def __bool__(self) -> bool:
        return bool(self.paths)

    def add(self, paths: list[str], progress: tuple[int, int] | None) -> None:
        """Remember a cancelled job.

        :param progress: its last ``(done, found)``, or None if it never started
        """
        self.paths += [path for path in paths if path not in self.paths]
        if progress is None:
            self.counted = False
        else:
            done, found = progress
            self.done += done
            self.remaining += max(0, found - done)

    def take(self) -> list[str]:
        """:returns: the paths to open again, forgetting them here."""
        paths = self.paths
        self.paths, self.done, self.remaining, self.counted = [], 0, 0, True
        return paths

    def summary(self) -> str:
        """:returns: e.g. ``"Cancelled: 37 photos classified and kept."``."""
        noun = "photo" if self.done == 1 else "photos"
        return f"Cancelled: {self.done} {noun} classified and kept."

    def offer(self) -> str:
        """:returns: the text of the button that continues, e.g. ``"Continue the 76 photos not yet classified"``."""
        if not self.counted or self.remaining == 0:
            return "Continue with the photos not yet classified"
        noun = "photo" if self.remaining == 1 else "photos"
        return f"Continue the {self.remaining} {noun} not yet classified"


class Batches:
    """Book-keeping of the window's classification jobs (the worker runs them; this only counts)."""

    def __init__(self) -> None:
        self.running: set[int] = set()  # queued or running jobs
        self.unfinished = Unfinished()
        self.skipped = 0  # photos opened again and left out: the session already had them
        self._paths: dict[int, list[str]] = {}
        self._progress: dict[int, tuple[int, int]] = {}

    def queued(self, job: int, paths: list[str]) -> None:
        """A job was handed to the worker."""
        self.running.add(job)
        self._paths[job] = paths

    def progressed(self, job: int, done: int, found: int) -> None:
        """The worker reported ``done`` of ``found`` photos."""
        self._progress[job] = (done, found)

    def finished(self, job: int, cancelled: bool) -> None:
        """A job ended; a cancelled one's paths are kept for "Continue"."""
        self.running.discard(job)
        paths, progress = self._paths.pop(job, []), self._progress.pop(job, None)
        if cancelled:
            self.unfinished.add(paths, progress)

    def forget(self) -> None:
        """A new session: nothing to continue, nothing skipped."""
        self.unfinished.take()
        self.skipped = 0
