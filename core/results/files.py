"""Results as files: the JSON document and the CSV table of a run, written atomically.

The streaming writers take items one at a time (e.g. read back from a run journal), so a run
of any size writes its results without holding them in memory.
"""

from __future__ import annotations

import csv
import itertools
import json
from collections.abc import Iterable
from pathlib import Path

from core.files import atomic_text_file, write_text_atomic
from core.inference.prediction import JSON_FIELDS


def write_json(path: Path, document: dict) -> None:
    """Write a results document as indented UTF-8 JSON, atomically."""
    write_text_atomic(Path(path), json.dumps(document, indent=2, ensure_ascii=False) + "\n")


def write_json_streaming(path: Path, head: dict, items: Iterable[dict], tail: dict) -> None:
    """Write ``{**head, "items": [...], **tail}`` exactly as :func:`write_json` would, one item at a time
    (a run of 100,000 photos never holds its items in memory).

    :param path: destination, replaced atomically
    :param head: the keys before ``items`` (``model``, ``summary``)
    :param items: the items, e.g. read back from a :class:`core.journal.run_log.RunJournal`
    :param tail: the keys after ``items`` (``phones``, ``drift``)
    """

    def nested(value: object, depth: int) -> str:
        return json.dumps(value, indent=2, ensure_ascii=False).replace("\n", "\n" + "  " * depth)

    with atomic_text_file(Path(path)) as out:
        out.write("{")
        for key, value in head.items():
            out.write(f"\n  {json.dumps(key)}: {nested(value, 1)},")
        out.write('\n  "items": [')
        written = 0
        for item in items:
            out.write(f"{',' if written else ''}\n    {nested(item, 2)}")
            written += 1
        out.write("\n  ]" if written else "]")
        for key, value in tail.items():
            out.write(f",\n  {json.dumps(key)}: {nested(value, 1)}")
        out.write("\n}\n")


def write_csv_streaming(path: Path, items: Iterable[dict], classes: list[str]) -> None:
    """Write one CSV row per item, one item at a time: the JSON fields (structured ones as JSON), the item's
    other fields in their order (the first item's), then ``p_<class>`` columns.

    :param items: the results items, e.g. read back from a :class:`core.journal.run_log.RunJournal`
    """
    items = iter(items)
    first = next(items, None)
    extra_fields = [key for key in (first or {}) if key not in JSON_FIELDS]
    fields = [*JSON_FIELDS, *extra_fields, *(f"p_{c}" for c in classes)]
    with atomic_text_file(Path(path)) as out:
        writer = csv.DictWriter(out, fieldnames=fields, extrasaction="ignore")
        writer.writeheader()
        for item in itertools.chain([first] if first is not None else [], items):
            row = {k: json.dumps(v) if isinstance(v, (list, dict, tuple)) else v for k, v in item.items()}
            row.update({f"p_{c}": item["probabilities"].get(c) for c in classes})
            writer.writerow(row)


PHONE_FIELDS = ("phone", "verdict", "decided_by", "confidence", "reason", "photos")


def write_phones_csv(path: Path, phones: Iterable[dict]) -> None:
    """Write one row per phone (the ``phones`` section as a table); ``photos`` reads ``name=label; ...``."""
    with atomic_text_file(Path(path)) as out:
        writer = csv.DictWriter(out, fieldnames=PHONE_FIELDS, extrasaction="ignore")
        writer.writeheader()
        for phone in phones:
            photos = "; ".join(f"{p['source']}={p['label'] or p['status']}" for p in phone["photos"])
            writer.writerow({**phone, "photos": photos})
