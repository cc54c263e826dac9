"""Write results: JSON and CSV reports, copies sorted into one folder per label, overlays.

Every file is written atomically, under a safe unique name, inside the chosen folder,
whatever the original names say. Originals are only read, never moved or changed.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from core.bundle import Bundle
from core.decision import DecisionPolicy
from core.decode import DecodeError
from core.files import (
    safe_file_name,
    unique_path,
    write_bytes_atomic,
)
from core.overlay import overlay_png
from core.phones import PhoneGrouping
from core.prediction import Prediction
from core.reader import SourceReader
from core.report.session import session_phones, write_session_report
from core.result_files import write_csv, write_json, write_phones_csv
from core.sources import SourceError

LabelOf = Callable[[Prediction], str | None]
OnError = Callable[[Prediction, str], None]


def _model_label(prediction: Prediction) -> str | None:
    return prediction.label


def summary(predictions: list[Prediction], label_of: LabelOf = _model_label) -> dict:
    """:returns: ``{"total", "by_label", "errors"}`` for a list of predictions."""
    return _summary([(label_of(p), p.ok) for p in predictions])


def summary_of_items(items: list[dict]) -> dict:
    """:returns: the same summary for items of a results document (e.g. stored by a service job)."""
    return _summary([(item.get("label"), item.get("status") != "error") for item in items])


def _summary(labels_read: list[tuple[str | None, bool]]) -> dict:
    labels = Counter(label for label, read in labels_read if read)
    return {
        "total": len(labels_read),
        "by_label": dict(sorted(labels.items())),
        "errors": sum(not read for _, read in labels_read),
    }


def results_document(
    predictions: list[Prediction],
    bundle: Bundle,
    extra: Callable[[Prediction], dict] | None = None,
    label_of: LabelOf = _model_label,
) -> dict:
    """Build the JSON document of ``defectsort classify --json``.

    :param predictions: the results, in order
    :param bundle: the model used
    :param extra: adds fields per item (the GUI adds ``final_label`` and ``corrected``)
    :param label_of: the label counted in the summary
    :returns: ``{"model", "summary", "items"}``
    """
    items = [{**p.to_dict(), **(extra(p) if extra else {})} for p in predictions]
    return {
        "model": {"name": bundle.name, "version": bundle.version, "sha256": bundle.sha256},
        "summary": summary(predictions, label_of),
        "items": items,
    }


class SortedCopies:
    """Copies photos into ``out_dir/<label>/`` one by one, under safe, unique names.

    :param out_dir: destination folder (created when the first photo comes)
    :param reader: reads the photos (keeps their archives open while it lives)
    :param label_of: the folder each prediction goes to
    :param on_error: told about a photo that could not be copied
    """

    def __init__(
        self, out_dir: Path, reader: SourceReader, label_of: LabelOf = _model_label, on_error: OnError | None = None
    ):
        self.out_dir, self.reader, self.label_of, self.on_error = Path(out_dir), reader, label_of, on_error
        self.copied = 0
        self._taken: dict[Path, set[str]] = {}

    def add(self, prediction: Prediction) -> None:
        """Copy one photo (errors and photos without a label are skipped)."""
        label = self.label_of(prediction)
        if not prediction.ok or label is None or prediction.ref is None:
            return
        folder = self.out_dir / safe_file_name(label, fallback="label")
        folder.mkdir(parents=True, exist_ok=True)
        target = unique_path(folder, safe_file_name(prediction.name), self._taken.setdefault(folder, set()))
        try:
            write_bytes_atomic(target, self.reader.read(prediction.ref))
            self.copied += 1
        except (SourceError, OSError) as error:
            if self.on_error:
                self.on_error(prediction, str(error))


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
        except (SourceError, DecodeError, OSError) as error:
            if self.on_error:
                self.on_error(prediction, str(error))
            return
        stem = safe_file_name(prediction.name).rsplit(".", 1)[0]
        write_bytes_atomic(unique_path(self.out_dir, f"{stem}_{prediction.label}.png", self._taken), png)
        self.written += 1


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


@dataclass(frozen=True)
class ExportOptions:
    """What an export writes besides the sorted copies and results.

    :param overlays: heatmap overlays into ``overlays/``
    :param report: ``report.html`` (charts, drift, the least certain photos)
    :param grouping: phone grouping: ``phones.csv`` and the JSON's ``phones`` section
    :param decided: sources the inspector put in a class (settled, whatever the model's doubt)
    """

    overlays: bool = False
    report: bool = False
    grouping: PhoneGrouping | None = None
    decided: frozenset[str] = frozenset()


def export_session(
    target: Path,
    predictions: list[Prediction],
    bundle: Bundle,
    policy: DecisionPolicy,
    final_labels: dict[str, str],
    options: ExportOptions = ExportOptions(),
    on_error: OnError | None = None,
) -> Path:
    """Export an inspected batch: copies per final label, results.csv/json, and what ``options`` add.

    :param target: the chosen folder (see :func:`fresh_export_folder`)
    :param predictions: the model's results
    :param bundle: the model used
    :param policy: the decision policy in force (the one the window shows): it sets each status
    :param final_labels: ``source -> label`` after the inspector's corrections
    :param options: overlays, report, phones
    :param on_error: told about each photo that could not be written
    :returns: the folder actually written
    """
    predictions = [policy.apply(p) for p in predictions]
    folder = fresh_export_folder(target)
    folder.mkdir(parents=True, exist_ok=True)

    def label_of(prediction: Prediction) -> str | None:
        return final_labels.get(prediction.source, prediction.label)

    def extra(prediction: Prediction) -> dict:
        final = label_of(prediction) if prediction.ok else None
        return {
            "final_label": final,
            "corrected": prediction.ok and final != prediction.label,
            "model_label": prediction.label,
            "model_confidence": prediction.confidence,
        }

    document = results_document(predictions, bundle, extra, label_of)
    phones = None
    if options.grouping is not None:
        phones = session_phones(predictions, final_labels, set(options.decided), options.grouping, bundle)
        document["phones"] = [phone.to_dict() for phone in phones]
        write_phones_csv(folder / "phones.csv", document["phones"])
    write_json(folder / "results.json", document)
    write_csv(folder / "results.csv", document, bundle.classes)
    with SourceReader() as reader:
        copies = SortedCopies(folder, reader, label_of, on_error)
        overlay_writer = Overlays(folder / "overlays", reader, on_error=on_error) if options.overlays else None
        for prediction in predictions:
            copies.add(prediction)
            if overlay_writer is not None:
                overlay_writer.add(prediction)
    if options.report:
        write_session_report(folder, document["items"], predictions, bundle, phones, policy.review_below)
    return folder
