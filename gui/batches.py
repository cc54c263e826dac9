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

    def add(self, paths: list[str], classified: int, found: int | None) -> None:
        """Remember a cancelled job.

        :param classified: how many of its photos arrived in the window (the last progress report may be older)
        :param found: how many photos its walk had found (without those the session already had), or None if it
            never started
        """
        self.paths += [path for path in paths if path not in self.paths]
        self.done += classified
        if found is None:
            self.counted = False
        else:
            self.remaining += max(0, found - classified)

    def take(self) -> list[str]:
        """Return the paths to open again, forgetting them here."""
        paths = self.paths
        self.paths, self.done, self.remaining, self.counted = [], 0, 0, True
        return paths

    def summary(self) -> str:
        """Return e.g. ``"Cancelled: 37 photos classified and kept."``."""
        noun = "photo" if self.done == 1 else "photos"
        return f"Cancelled: {self.done} {noun} classified and kept."

    def offer(self) -> str:
        """Return the text of the button that continues, e.g. ``"Continue the 76 photos not yet classified"``."""
        if not self.counted or self.remaining == 0:
            return "Continue with the photos not yet classified"
        noun = "photo" if self.remaining == 1 else "photos"
        return f"Continue the {self.remaining} {noun} not yet classified"


class Batches:
    """Book-keeping of the window's classification jobs (the worker runs them; this only counts)."""

    def __init__(self) -> None:
        self.running: set[int] = set()  # queued or running jobs
        self.unfinished = Unfinished()
        self.skipped = 0  # photos the user opened again and that were left out: the session already had them
        self._paths: dict[int, list[str]] = {}
        self._found: dict[int, int] = {}
        self._classified: dict[int, int] = {}
        self._continuing: set[int] = set()  # jobs that continue cancelled ones: their skips are expected
        self.watched: set[int] = set()  # jobs of photos from the watched folder: the status line tells of them

    def queued(self, job: int, paths: list[str], continuing: bool = False, watched: bool = False) -> None:
        """A job was handed to the worker (``continuing``: it re-opens what cancelled jobs left; ``watched``:
        photos that landed in the watched folder)."""
        self.running.add(job)
        self._paths[job] = paths
        if continuing:
            self._continuing.add(job)
        if watched:
            self.watched.add(job)

    def progressed(self, job: int, found: int) -> None:
        """The worker's walk for ``job`` has found ``found`` photos so far."""
        self._found[job] = found

    def classified(self, job: int, count: int) -> None:
        """``count`` more results of ``job`` arrived."""
        self._classified[job] = self._classified.get(job, 0) + count

    def photos_skipped(self, job: int, count: int) -> None:
        """``job`` left out ``count`` photos the session already had (counted unless it was a Continue)."""
        if job not in self._continuing:
            self.skipped += count

    def finished(self, job: int, cancelled: bool) -> None:
        """A job ended; a cancelled one's paths are kept for "Continue"."""
        self.running.discard(job)
        self._continuing.discard(job)
        self.watched.discard(job)
        paths, found, classified = self._paths.pop(job, []), self._found.pop(job, None), self._classified.pop(job, 0)
        if cancelled:
            self.unfinished.add(paths, classified, found)

    @property
    def paths_waiting(self) -> int:
        """Return how many paths the queued and running jobs were given (a watched folder's: one per photo)."""
        return sum(len(paths) for paths in self._paths.values())

    def forget(self) -> None:
        """A new session: nothing to continue, nothing skipped."""
        self.unfinished.take()
        self.skipped = 0
