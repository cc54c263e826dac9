"""The run log: every result appended as it comes, so a run can resume (``classify --out``, the service's jobs).

This is the one resumable log of DefectSort, and its skip rule is the one rule: a photo is done when the
same source with the same bytes was classified by the same model. ``DIR/run-journal.jsonl`` holds one JSON
line per classified photo after a header line naming the model. Each line is flushed to the operating
system at once (a ``kill -9`` loses nothing written) and synced to disk every couple of seconds (a power cut
loses at most those seconds). A line cut short by a crash is dropped when the journal is opened again.

Resuming reads the journal back into a small index (source -> SHA-256 of the photo's bytes -> where its
line is) and skips every photo already done with the same bytes by the same model (a journal another model
wrote is set aside whole); photos that failed are tried again (a file may have been half-copied). The
results are then written from the journal in the order the sources were walked, so a resumed run writes
exactly what an uninterrupted one would. Memory stays flat: results live on disk, the index keeps a few
hundred bytes per photo.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime
from pathlib import Path

from core.inference.prediction import ERROR, Prediction
from core.journal.seen import SeenPhotos, source_key
from core.model.bundle import Bundle
from core.photos.sources import ImageItem

JOURNAL_FILE = "run-journal.jsonl"
FORMAT = "defectsort-run-journal/1"
SYNC_EVERY_S = 2.0


class RunJournal:
    """Append-only results of one output folder, with an index to read them back.

    :param path: the journal file (:data:`JOURNAL_FILE` inside the output folder)
    :param bundle: the model of this run
    :param resume: keep the results already in the journal (else it starts empty; an old one is kept
        beside it under a dated name, nothing is lost)
    :param say: told in one line why an existing journal is not resumed
    """

    def __init__(self, path: Path, bundle: Bundle, resume: bool, say=print, temporary: bool = False):
        self.path = Path(path)
        self.model = {"name": bundle.name, "version": bundle.version, "sha256": bundle.sha256}
        self.order: list[str] = []  # the source key of every item walked, in walk order
        self.seen = SeenPhotos()  # the photos already done (failed ones are tried again)
        self._offset: dict[str, int] = {}
        self._temporary = temporary
        if self.path.exists():
            header = _header(self.path)
            if not resume:
                self._set_aside(say, "without --resume the run starts again")
            elif header is None or header.get("model") != self.model:
                model = (header or {}).get("model") or {}
                why = f"another model wrote it ({model.get('name')} {model.get('version')}): all photos run again"
                self._set_aside(say, why)
            else:
                self._index()
        if not self.path.exists():
            self._start()
        started = (_header(self.path) or {}).get("started")
        self.run_id = f"{self.path.parent.resolve()}@{started}"  # the same for a run and its resumptions
        self.resumed = len(self.seen)
        self._file = open(self.path, "ab")  # noqa: SIM115 - kept open for the run, closed by close()
        self._synced = time.monotonic()

    @classmethod
    def temporary(cls, bundle: Bundle) -> RunJournal:
        """Return a journal in a temporary file (a run without ``--out``); :meth:`close` deletes it."""
        handle, name = tempfile.mkstemp(prefix="defectsort-run-", suffix=".jsonl")
        os.close(handle)
        os.unlink(name)
        return cls(Path(name), bundle, resume=False, temporary=True)

    def __enter__(self) -> RunJournal:
        return self

    def __exit__(self, *_) -> None:
        self.close()

    def walk(self, items: Iterable[ImageItem], on_skip: Callable[[ImageItem], None]) -> Iterator[ImageItem]:
        """Record the walk order and pass on the items not done yet (all of them in a fresh journal).

        :param items: e.g. :func:`core.photos.sources.iter_items`
        :param on_skip: told of each photo already done
        """

        def recorded() -> Iterator[ImageItem]:
            for item in items:
                self.order.append(source_key(item.ref, item.source))
                yield item

        return self.seen.unseen(recorded(), on_skip) if self.resumed else recorded()

    def append(self, prediction: Prediction, item: dict) -> None:
        """Write one result (flushed now, synced to disk every :data:`SYNC_EVERY_S` seconds).

        :param prediction: the photo's result (its source and bytes are what :meth:`walk` skips on resume)
        :param item: what the results files will say of it (see :func:`core.results.pipeline.result_item`)
        """
        key = source_key(prediction.ref, prediction.source)
        line = json.dumps({"key": key, "sha256": prediction.sha256, "item": item}, ensure_ascii=False)
        self._offset[key] = self._file.tell()
        if item["status"] != ERROR:
            self.seen.remember(key, prediction.sha256)  # a watch sees the same file again when it is touched
        self._file.write(line.encode("utf-8") + b"\n")
        self._file.flush()
        if time.monotonic() - self._synced > SYNC_EVERY_S:
            os.fsync(self._file.fileno())
            self._synced = time.monotonic()

    def keys(self) -> list[str]:
        """Return the source key of every photo in the journal, in the order each was first written."""
        return list(self._offset)

    def items(self, keys: list[str]) -> Iterator[dict]:
        """Return the results of ``keys`` in that order (one open file, read line by line)."""
        self._file.flush()
        with open(self.path, "rb") as stream:
            for key in keys:
                offset = self._offset.get(key)
                if offset is not None:
                    stream.seek(offset)
                    yield json.loads(stream.readline())["item"]

    def close(self) -> None:
        """Sync and close (a temporary journal is deleted)."""
        if self._file.closed:
            return
        self._file.flush()
        os.fsync(self._file.fileno())
        self._file.close()
        if self._temporary:
            self.path.unlink(missing_ok=True)

    def _start(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        header = {"format": FORMAT, "model": self.model, "started": datetime.now().isoformat(timespec="seconds")}
        self.path.write_text(json.dumps(header) + "\n", encoding="utf-8")

    def _index(self) -> None:
        """Index the journal's lines (the photos done, where each line is); cut a line torn by a crash."""
        with open(self.path, "rb") as stream:
            stream.readline()  # the header
            good_end = stream.tell()
            for line in iter(stream.readline, b""):
                record = _parse(line)
                if record is None or not line.endswith(b"\n"):
                    break
                self._offset[record["key"]] = good_end
                if record["item"]["status"] != ERROR:
                    self.seen.remember(record["key"], record["sha256"])
                good_end = stream.tell()
        if good_end < self.path.stat().st_size:
            os.truncate(self.path, good_end)

    def _set_aside(self, say, why: str) -> None:
        stamp = datetime.fromtimestamp(self.path.stat().st_mtime).strftime("%Y-%m-%d %H-%M-%S")
        kept = self.path.with_name(f"run-journal {stamp}.jsonl")
        os.replace(self.path, kept)
        say(f"note: {self.path} not resumed: {why} (kept as {kept.name})")


def _header(path: Path) -> dict | None:
    """Return the journal's header line, or None when it is not a run journal of this format."""
    with open(path, "rb") as stream:
        header = _parse(stream.readline())
    return header if header is not None and header.get("format") == FORMAT else None


def _parse(line: bytes) -> dict | None:
    try:
        record = json.loads(line)
    except ValueError:
        return None
    return record if isinstance(record, dict) else None
