"""The inspectors' corrections as training data, read from wherever they were kept.

A source is the session journal (SQLite), a ``results.json`` or ``results.csv`` exported by
the window (``source`` + ``final_label``), or a folder with one sub-folder per class. Photos
are read where they are (files and ZIP members); a photo that can no longer be read is
reported and skipped. The same photo (SHA-256 of its bytes) counts once: the latest
decision wins, in the order of the sources and, in the journal, of the events; where two
decisions disagree, a line says which one was used. Corrections made while another model was in
use (another product's classes, whatever their names) are left out with a line.
"""

from __future__ import annotations

import csv
import hashlib
import json
import sqlite3
from collections import Counter
from collections.abc import Iterator
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

from core.journal.session import RELABEL, JournalError, connect
from core.photos.reader import SourceReader
from core.photos.sources import SourceError, SourceRef, iter_items

SQLITE_MAGIC = b"SQLite format 3\x00"


@dataclass(frozen=True)
class Correction:
    """A photo and the label an inspector gave it.

    :param source: where the photo is (``batch.zip!/day1/1.jpg``)
    :param label: the inspector's label
    :param origin: which correction source said so (for messages and lineage)
    :param event: the journal event id, when it came from the journal
    :param model: the name of the model the inspector corrected, where the source says
    """

    source: str
    label: str
    origin: str
    event: int | None = None
    model: str | None = None


@dataclass(frozen=True)
class LabelledPhoto:
    """A correction whose photo was read: its bytes and their SHA-256."""

    correction: Correction
    data: bytes
    sha256: str


def read_corrections(paths: list[Path]) -> tuple[list[Correction], list[str]]:
    """Read every correction source.

    :returns: the corrections in order, and one-line problems (a source that cannot be read)
    """
    corrections: list[Correction] = []
    problems: list[str] = []
    for path in paths:
        try:
            corrections.extend(_from_source(Path(path)))
        except (OSError, ValueError, KeyError, JournalError, sqlite3.Error) as error:
            problems.append(f"{path}: {error}")
    return corrections, problems


def load_photos(
    corrections: list[Correction], classes: list[str], model: str | None = None
) -> tuple[list[LabelledPhoto], list[str]]:
    """Read each correction's photo; keep the last decision per photo (by SHA-256).

    :param classes: the model's classes: other labels are reported and skipped
    :param model: the model's name: corrections of another model are reported and skipped
    :returns: the labelled photos and one-line problems
    """
    latest: dict[str, LabelledPhoto] = {}
    problems = []
    other_model: Counter[tuple[str, str]] = Counter()
    with SourceReader() as reader:
        for correction in corrections:
            if model and correction.model and correction.model != model:
                other_model[(correction.origin, correction.model)] += 1
                continue
            if correction.label not in classes:
                problems.append(
                    f"{correction.source}: '{correction.label}' is not a class of the model ({', '.join(classes)})"
                )
                continue
            try:
                data = reader.read(SourceRef.parse(correction.source))
            except SourceError as error:
                problems.append(f"{correction.source}: photo cannot be read any more ({error})")
                continue
            sha256 = hashlib.sha256(data).hexdigest()
            earlier = latest.pop(sha256, None)  # re-inserted at the end: the order follows the last decision
            if earlier is not None and earlier.correction.label != correction.label:
                problems.append(_disagreement(earlier.correction, correction))
            latest[sha256] = LabelledPhoto(correction, data, sha256)
    problems += [
        f"{origin}: {count} correction(s) made with the model '{name}', not '{model}': left out"
        for (origin, name), count in other_model.items()
    ]
    return list(latest.values()), problems


def _disagreement(earlier: Correction, later: Correction) -> str:
    same = "" if earlier.source == later.source else f" (the same photo as {earlier.source})"
    return (
        f"{later.source}{same}: labelled '{earlier.label}' in {earlier.origin} and '{later.label}' in "
        f"{later.origin}: the later label, '{later.label}', is used"
    )


def _from_source(path: Path) -> Iterator[Correction]:
    if path.is_dir():
        yield from _from_folder(path)
    elif path.suffix.lower() == ".json":
        document = json.loads(path.read_text(encoding="utf-8"))
        yield from _from_results(path, document.get("items", []), (document.get("model") or {}).get("name"))
    elif path.suffix.lower() == ".csv":
        with path.open(encoding="utf-8", newline="") as stream:
            yield from _from_results(path, list(csv.DictReader(stream)))
    elif path.is_file() and path.open("rb").read(16) == SQLITE_MAGIC:
        yield from _from_journal(path)
    else:
        raise ValueError("not a journal, results.json, results.csv or folder of class folders")


def _from_results(path: Path, items: list[dict], model: str | None = None) -> Iterator[Correction]:
    if items and "final_label" not in items[0]:
        raise ValueError("has no final_label column: export the results from the window, where inspectors decide")
    for item in items:
        if item.get("final_label") and item.get("status") != "error":
            yield Correction(item["source"], item["final_label"], str(path), model=model)


def _from_folder(folder: Path) -> Iterator[Correction]:
    for class_folder in sorted(p for p in folder.iterdir() if p.is_dir()):
        for item in iter_items([class_folder]):
            if item.error is None:
                yield Correction(item.source, class_folder.name, str(folder))


def _from_journal(path: Path) -> Iterator[Correction]:
    """The last relabel event of every photo that still has an inspector's label."""
    with closing(connect(path)) as connection:
        rows = connection.execute(
            "SELECT id, session_id, item_key, source, new_label, model_name FROM events WHERE kind = ? ORDER BY id",
            (RELABEL,),
        ).fetchall()
    last: dict[tuple[str, int], tuple[int, str, str | None, str | None]] = {}
    for event, session, key, source, label, model in rows:
        last.pop((session, key), None)
        last[(session, key)] = (event, source, label, model)
    for event, source, label, model in last.values():
        if label is not None:  # None: undone back to the model's own label
            yield Correction(source, label, str(path), event, model)
