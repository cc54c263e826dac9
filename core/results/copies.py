"""Copies of the photos sorted into one folder per section, and heatmap overlays: written one photo at a time.

Every file is written atomically, under a safe unique name, inside the chosen folder, whatever the
original names say. Originals are only read, never moved or changed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path

from core.files import safe_file_name, unique_path, write_bytes_atomic
from core.inference.prediction import Prediction
from core.photos.decode import DecodeError
from core.photos.reader import SourceReader
from core.photos.sources import SourceError
from core.results.final import FinalDecision, SectionFolders
from core.results.overlay import overlay_png

OnError = Callable[[Prediction, str], None]


class SortedCopies:
    """Copies photos into ``out_dir/<section>/``: a class folder holds only the photos settled in that class.

    Photos nobody settled go to ``review/`` and ``unknown/`` (see :class:`core.results.final.SectionFolders`);
    unreadable ones are listed in the results, never copied.

    :param out_dir: destination folder (a section's folder is made when its first photo comes)
    :param reader: reads the photos (keeps their archives open while it lives)
    :param classes: the model's classes (they name the folders)
    :param on_error: told about a photo that could not be copied
    """

    def __init__(self, out_dir: Path, reader: SourceReader, classes: Iterable[str], on_error: OnError | None = None):
        self.out_dir, self.reader, self.on_error = Path(out_dir), reader, on_error
        self.folders = SectionFolders(classes)
        self.copied = 0
        self._taken: dict[Path, set[str]] = {}

    def add(self, prediction: Prediction, final: FinalDecision) -> None:
        """Copy one photo into its final section's folder (errors are not copied)."""
        folder_name = self.folders.folder_of(final)
        if folder_name is None or prediction.ref is None:
            return
        folder = self.out_dir / folder_name
        try:
            folder.mkdir(parents=True, exist_ok=True)
            target = unique_path(folder, safe_file_name(prediction.name), self._taken.setdefault(folder, set()))
            write_bytes_atomic(target, self.reader.read(prediction.ref))
            self.copied += 1
        except (SourceError, OSError) as error:
            if self.on_error:
                self.on_error(prediction, f"not copied: {error}")


class Overlays:
    """Writes a heatmap overlay PNG per classified photo into ``out_dir``, one by one.

    :param out_dir: destination folder (created at once)
    :param reader: reads the photos
    :param opacity: of the heatmap
    :param on_error: told about a photo whose overlay could not be made
    """

    def __init__(self, out_dir: Path, reader: SourceReader, opacity: float = 0.5, on_error: OnError | None = None):
        self.out_dir, self.reader, self.opacity, self.on_error = Path(out_dir), reader, opacity, on_error
        self.out_dir.mkdir(parents=True, exist_ok=True)
        self.written = 0
        self._taken: set[str] = set()

    def add(self, prediction: Prediction) -> None:
        """Write one overlay (errors and predictions without a heatmap are skipped)."""
        if not prediction.ok or prediction.heatmap is None or prediction.ref is None:
            return
        try:
            png = overlay_png(prediction, self.reader.read(prediction.ref), self.opacity)
            stem = safe_file_name(prediction.name).rsplit(".", 1)[0]
            write_bytes_atomic(unique_path(self.out_dir, f"{stem}_{prediction.label}.png", self._taken), png)
            self.written += 1
        except (SourceError, DecodeError, OSError) as error:
            if self.on_error:
                self.on_error(prediction, f"no overlay: {error}")
