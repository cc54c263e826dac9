"""Write results: JSON and CSV reports, copies sorted into one folder per label, overlays.

Every file is written atomically, under a safe unique name, inside the chosen folder,
whatever the original names say. Originals are only read, never moved or changed.
"""

from __future__ import annotations

import csv
import io
import json
from collections import Counter
from datetime import datetime
from pathlib import Path
from typing import Callable, Iterable

import numpy as np
from PIL import Image

from core.bundle import Bundle
from core.decode import DecodeError, open_upright
from core.files import safe_file_name, unique_path, write_bytes_atomic, write_text_atomic
from core.overlay import blend_heatmap
from core.prediction import JSON_FIELDS, Prediction
from core.sources import SourceError

OVERLAY_EDGE = 1280  # long edge of overlay images, in pixels
LabelOf = Callable[[Prediction], str | None]


def _model_label(prediction: Prediction) -> str | None:
    return prediction.label


def summary(predictions: list[Prediction], label_of: LabelOf = _model_label) -> dict:
    """:returns: ``{"total", "by_label", "errors"}`` for a list of predictions."""
    labels = Counter(label_of(p) for p in predictions if p.ok)
    return {"total": len(predictions), "by_label": dict(sorted(labels.items())),
            "errors": sum(not p.ok for p in predictions)}


def results_document(predictions: list[Prediction], bundle: Bundle,
                     extra: Callable[[Prediction], dict] | None = None,
                     label_of: LabelOf = _model_label) -> dict:
    """Build the JSON document of ``defectsort classify --json``.

    :param predictions: the results, in order
    :param bundle: the model used
    :param extra: adds fields per item (the GUI adds ``final_label`` and ``corrected``)
    :param label_of: the label counted in the summary
    :returns: ``{"model", "summary", "items"}``
    """
    items = [{**p.to_dict(), **(extra(p) if extra else {})} for p in predictions]
    return {"model": {"name": bundle.name, "version": bundle.version, "sha256": bundle.sha256},
            "summary": summary(predictions, label_of), "items": items}


def write_json(path: Path, document: dict) -> None:
    """Write a results document as indented UTF-8 JSON, atomically."""
    write_text_atomic(Path(path), json.dumps(document, indent=2, ensure_ascii=False) + "\n")


def write_csv(path: Path, document: dict, classes: list[str]) -> None:
    """Write one CSV row per item: the JSON fields (structured ones as JSON) plus ``p_<class>`` columns."""
    items = document["items"]
    extra_fields = [k for k in (items[0] if items else {}) if k not in JSON_FIELDS]
    fields = [*JSON_FIELDS, *extra_fields, *(f"p_{c}" for c in classes)]
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=fields, extrasaction="ignore")
    writer.writeheader()
    for item in items:
        row = {k: json.dumps(v) if isinstance(v, (list, dict, tuple)) else v for k, v in item.items()}
        row.update({f"p_{c}": item["probabilities"].get(c) for c in classes})
        writer.writerow(row)
    write_text_atomic(Path(path), buffer.getvalue())


def sort_copies(out_dir: Path, predictions: Iterable[Prediction], label_of: LabelOf = _model_label,
                on_error: Callable[[Prediction, str], None] | None = None) -> int:
    """Copy every readable photo into ``out_dir/<label>/`` under a safe, unique name.

    :param out_dir: destination folder (created if needed)
    :param predictions: results whose items can still be read
    :param label_of: the folder each prediction goes to
    :param on_error: told about a photo that could not be copied
    :returns: the number of photos copied
    """
    taken: dict[Path, set[str]] = {}
    copied = 0
    for prediction in predictions:
        label = label_of(prediction)
        if not prediction.ok or label is None or prediction.item is None:
            continue
        folder = Path(out_dir) / safe_file_name(label, fallback="label")
        folder.mkdir(parents=True, exist_ok=True)
        target = unique_path(folder, safe_file_name(prediction.name), taken.setdefault(folder, set()))
        try:
            write_bytes_atomic(target, prediction.item.read())
            copied += 1
        except (SourceError, OSError) as error:
            if on_error:
                on_error(prediction, str(error))
    return copied


def write_overlays(out_dir: Path, predictions: Iterable[Prediction], opacity: float = 0.5,
                   on_error: Callable[[Prediction, str], None] | None = None) -> int:
    """Write a heatmap overlay PNG per classified photo into ``out_dir``.

    :returns: the number of overlays written
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    taken: set[str] = set()
    written = 0
    for prediction in predictions:
        if not prediction.ok or prediction.heatmap is None or prediction.item is None:
            continue
        try:
            png = overlay_png(prediction, opacity)
        except (SourceError, DecodeError, OSError) as error:
            if on_error:
                on_error(prediction, str(error))
            continue
        stem = safe_file_name(prediction.name).rsplit(".", 1)[0]
        write_bytes_atomic(unique_path(out_dir, f"{stem}_{prediction.label}.png", taken), png)
        written += 1
    return written


def overlay_png(prediction: Prediction, opacity: float = 0.5) -> bytes:
    """:returns: PNG bytes of the photo with its heatmap and boxes, long edge ``OVERLAY_EDGE``."""
    image = open_upright(prediction.item.read())
    image.thumbnail((OVERLAY_EDGE, OVERLAY_EDGE), Image.Resampling.BILINEAR)
    blended = blend_heatmap(np.asarray(image), prediction.heatmap, opacity, prediction.boxes)
    buffer = io.BytesIO()
    Image.fromarray(blended).save(buffer, format="PNG")
    return buffer.getvalue()


def fresh_export_folder(target: Path, now: datetime | None = None) -> Path:
    """Never overwrite: an existing non-empty ``target`` gets a new dated sub-folder.

    :param target: the folder the user chose
    :param now: the time used in the sub-folder's name (default: now)
    :returns: an empty or new folder to export into
    """
    target = Path(target)
    if not target.exists() or not any(target.iterdir()):
        return target
    stamp = (now or datetime.now()).strftime("DefectSort export %Y-%m-%d %H-%M-%S")
    candidate, counter = target / stamp, 1
    while candidate.exists():
        counter += 1
        candidate = target / f"{stamp} ({counter})"
    return candidate


def export_session(target: Path, predictions: list[Prediction], bundle: Bundle, final_labels: dict[str, str],
                   overlays: bool = False, on_error=None) -> Path:
    """Export an inspected batch: copies per final label, results.csv/json, optional overlays.

    :param target: the chosen folder (see :func:`fresh_export_folder`)
    :param predictions: the model's results
    :param bundle: the model used
    :param final_labels: ``source -> label`` after the inspector's corrections
    :param overlays: also write heatmap overlays into ``overlays/``
    :param on_error: told about each photo that could not be written
    :returns: the folder actually written
    """
    folder = fresh_export_folder(target)
    folder.mkdir(parents=True, exist_ok=True)
    def label_of(prediction: Prediction) -> str | None:
        return final_labels.get(prediction.source, prediction.label)

    def extra(prediction: Prediction) -> dict:
        final = label_of(prediction) if prediction.ok else None
        return {"final_label": final, "corrected": prediction.ok and final != prediction.label,
                "model_label": prediction.label, "model_confidence": prediction.confidence}

    document = results_document(predictions, bundle, extra, label_of)
    write_json(folder / "results.json", document)
    write_csv(folder / "results.csv", document, bundle.classes)
    sort_copies(folder, predictions, label_of, on_error)
    if overlays:
        write_overlays(folder / "overlays", predictions, on_error=on_error)
    return folder
