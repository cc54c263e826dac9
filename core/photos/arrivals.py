"""Photos landing in watched folders: which files are complete and can be read now.

A photo station copies files into a shared folder all day, often over the network. A file is taken once it
has *settled*: its size and modification time have not changed for :attr:`Arrivals.settle_s` seconds, it
can be opened for reading (Windows refuses while the writer holds it), and its format's end is there (a
JPEG's end-of-image marker, a PNG's ``IEND`` chunk, a ZIP's central directory, a WebP's or BMP's declared
size). A file whose end is missing is waited for a while longer (:attr:`Arrivals.incomplete_wait_s`) and
then taken anyway, so a truncated photo becomes one error line instead of waiting forever. A file that
changes after it was taken arrives again (the run log then sees whether its bytes changed).

The folders are polled (:meth:`Arrivals.scan`), not watched through operating-system notifications:
notifications are not delivered for Windows shares mounted from another machine, nor for SMB/CIFS mounts
on Linux, which is where station photos land. A scan lists names and sizes only (about 12 ms per
1,000 files on a local disk); a folder that cannot be listed (a share that disconnected) is said once and
polled again until it is back.
"""

from __future__ import annotations

import os
import time
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from core.photos.sources import ARCHIVE_SUFFIXES, IMAGE_SUFFIXES, JUNK_NAMES

SETTLE_S = 0.5
POLL_S = 0.25  # folders are listed this often...
LISTING_SHARE = 5  # ...or, when listing takes long, at most every 5 times as long as a listing takes
INCOMPLETE_WAIT_S = 30.0
GROWING_WARNING_S = 600.0
_TAIL_BYTES = 64 * 1024
_PNG_END = b"IEND\xaeB`\x82"
_JPEG_END = b"\xff\xd9"


@dataclass
class _Pending:
    """A file seen but not yet taken: its signature and since when it has had it."""

    signature: tuple[int, int]
    since: float
    first_seen: float
    warned: bool = False


class Arrivals:
    """The settled files of some folders, each reported once per version of it.

    :param folders: the watched folders (searched recursively)
    :param say: told in one line about a folder that cannot be listed or a file that keeps growing
    :param settle_s: how long a file must stay unchanged before it is taken
    :param incomplete_wait_s: how long an unchanged file whose end is missing is waited for
    :param clock: the time source (tests move it by hand)
    """

    def __init__(
        self,
        folders: list[Path],
        say: Callable[[str], None] = print,
        settle_s: float = SETTLE_S,
        incomplete_wait_s: float = INCOMPLETE_WAIT_S,
        clock: Callable[[], float] = time.time,
    ):
        self.folders = [Path(folder) for folder in folders]
        self.settle_s = settle_s
        self.incomplete_wait_s = incomplete_wait_s
        self._say = say
        self._clock = clock
        self._pending: dict[str, _Pending] = {}
        self._taken: dict[str, tuple[int, int]] = {}  # path -> the signature it was taken with
        self._unreachable: set[Path] = set()
        self._listing_s = 0.0

    def next_scan_in(self, poll_s: float = POLL_S) -> float:
        """Return how long to wait before the next :meth:`scan`: ``poll_s``, or longer when a listing takes long
        (10,000 files take about 0.12 s here, so they are listed every 0.6 s), so listing never takes more than
        a fifth of the time from the classifying it shares the machine with."""
        return max(poll_s, LISTING_SHARE * self._listing_s)

    @property
    def waiting(self) -> int:
        """Return how many files are seen but not settled yet."""
        return len(self._pending)

    def scan(self) -> list[Path]:
        """List the folders once. :returns: the files that settled since the last scan, oldest first."""
        now, listing_started = self._clock(), time.monotonic()
        present: set[str] = set()
        settled: list[tuple[float, Path]] = []
        for folder in self.folders:
            for path, stat in self._listing(folder):
                key = str(path)
                present.add(key)
                signature = (stat.st_size, stat.st_mtime_ns)
                if self._taken.get(key) == signature:
                    continue
                if self._settled(key, path, signature, stat.st_mtime, now):
                    settled.append((stat.st_mtime, path))
                    self._taken[key] = signature
                    del self._pending[key]
        for gone in [key for key in self._pending if key not in present]:
            del self._pending[gone]  # deleted before it settled: nothing to report
        for gone in [key for key in self._taken if key not in present]:
            del self._taken[gone]  # removed after it was taken: a new file of that name is a new arrival
        self._listing_s = time.monotonic() - listing_started
        return [path for _, path in sorted(settled, key=lambda pair: pair[0])]

    def _settled(self, key: str, path: Path, signature: tuple[int, int], mtime: float, now: float) -> bool:
        pending = self._pending.get(key)
        if pending is None or pending.signature != signature:
            first_seen, warned = (pending.first_seen, pending.warned) if pending else (now, False)
            # a file already old when first seen (it was there before the watch began) need not wait
            since = now - self.settle_s if pending is None and now - mtime >= self.settle_s else now
            self._pending[key] = pending = _Pending(signature, since, first_seen, warned)  # said once, not per change
        self._warn_if_growing(path, pending, now)
        if now - pending.since < self.settle_s or not _readable(path):
            return False
        return looks_complete(path) or now - pending.since >= self.incomplete_wait_s

    def _warn_if_growing(self, path: Path, pending: _Pending, now: float) -> None:
        if not pending.warned and now - pending.first_seen >= GROWING_WARNING_S:
            pending.warned = True
            minutes = round((now - pending.first_seen) / 60)
            self._say(f"note: {path}: still being written after {minutes} minutes; it is taken once it settles")

    def _listing(self, folder: Path) -> Iterator[tuple[Path, os.stat_result]]:
        """Yield every photo or ZIP under ``folder`` with its stat; say once when the folder cannot be listed."""
        try:
            yield from _walk(folder)
        except OSError as error:
            if folder not in self._unreachable:
                self._unreachable.add(folder)
                self._say(f"error: cannot list {folder}: {error.strerror or error}; trying again")
            return
        if folder in self._unreachable:
            self._unreachable.discard(folder)
            self._say(f"note: {folder} can be listed again")


def _walk(folder: Path) -> Iterator[tuple[Path, os.stat_result]]:
    """Yield the photos and ZIPs under ``folder`` (hidden and junk files skipped); raise when it is unreachable."""
    with os.scandir(folder) as entries:
        listed = list(entries)
    for entry in listed:
        if entry.name.startswith((".", "~")) or entry.name.lower() in JUNK_NAMES:
            continue
        try:
            if entry.is_dir(follow_symlinks=False):
                yield from _walk(Path(entry.path))
            elif entry.is_file(follow_symlinks=False) and _wanted(entry.name):
                yield Path(entry.path), entry.stat(follow_symlinks=False)
        except FileNotFoundError:
            continue  # removed while listed


def _wanted(name: str) -> bool:
    suffix = os.path.splitext(name)[1].lower()
    return suffix in IMAGE_SUFFIXES or suffix in ARCHIVE_SUFFIXES


def _readable(path: Path) -> bool:
    """Return True when the file can be opened for reading now (a writer on Windows may lock it)."""
    try:
        with open(path, "rb"):
            return True
    except OSError:
        return False


def looks_complete(path: Path) -> bool:
    """Return True when the file's format says it ends here (formats without such a sign: True).

    :param path: a photo or ZIP
    """
    suffix = path.suffix.lower()
    try:
        if suffix in ARCHIVE_SUFFIXES:
            return zipfile.is_zipfile(path)
        with open(path, "rb") as stream:
            size = stream.seek(0, os.SEEK_END)
            if suffix in {".jpg", ".jpeg"}:
                # no end-of-image marker can occur inside compressed data: one near the end closes the photo
                # (some cameras append data after it); the first half is left out for the thumbnail's own
                stream.seek(size - min(_TAIL_BYTES, size // 2))
                return _JPEG_END in stream.read()
            if suffix == ".png":
                stream.seek(max(0, size - len(_PNG_END)))
                return stream.read() == _PNG_END
            stream.seek(0)
            head = stream.read(12)
    except OSError:
        return False
    if suffix == ".webp":
        return len(head) == 12 and head[:4] == b"RIFF" and int.from_bytes(head[4:8], "little") + 8 <= size
    if suffix == ".bmp":
        return len(head) >= 6 and head[:2] == b"BM" and int.from_bytes(head[2:6], "little") <= size
    return True
