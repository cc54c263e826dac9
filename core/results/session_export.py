"""The window's export: an inspected session through the one results pipeline (:mod:`core.results.pipeline`).

The folders, files and report say what the window showed: every photo's final decision
(:func:`core.results.final.final_decision`) under the policy the window used. The window keeps its
predictions with their heatmaps, so the report's overlays are drawn from memory.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from core.inference.decision import DecisionPolicy
from core.inference.prediction import Prediction
from core.model.bundle import Bundle
from core.photos.reader import SourceReader
from core.results.copies import OnError, Overlays, SortedCopies
from core.results.final import final_decision
from core.results.phones import PhoneGrouping
from core.results.pipeline import ResultsRequest, result_item, write_results
from core.results.report.overlays import overlay_uris

SESSION_RUN = "window session"  # names a window session in drift's run history


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
    """

    overlays: bool = False
    report: bool = False
    grouping: PhoneGrouping | None = None


def export_session(
    target: Path,
    photos: list[tuple[Prediction, str | None]],
    bundle: Bundle,
    policy: DecisionPolicy,
    options: ExportOptions = ExportOptions(),
    on_error: OnError | None = None,
) -> Path:
    """Export an inspected batch: copies per final section, results.csv/json, and what ``options`` add.

    :param target: the chosen folder (see :func:`fresh_export_folder`)
    :param photos: each photo's prediction with the class the inspector put it in (None: untouched)
    :param bundle: the model used
    :param policy: the decision policy in force (the one the window shows): it sets each model status
    :param options: overlays, report, phones
    :param on_error: told about each photo that could not be written
    :returns: the folder actually written
    """
    folder = fresh_export_folder(target)
    folder.mkdir(parents=True, exist_ok=True)
    items, by_source = [], {}
    with SourceReader() as reader:
        copies = SortedCopies(folder, reader, bundle.classes, on_error)
        overlay_writer = Overlays(folder / "overlays", reader, on_error=on_error) if options.overlays else None
        for shown, inspector_label in photos:
            prediction = policy.apply(shown)
            final = final_decision(prediction, inspector_label)
            extra = {"model_label": prediction.label, "model_confidence": prediction.confidence}
            items.append(result_item(prediction, final, extra))
            by_source[prediction.source] = prediction
            copies.add(prediction, final)
            if overlay_writer is not None:
                overlay_writer.add(prediction)
    request = ResultsRequest(
        json=folder / "results.json",
        csv=folder / "results.csv",
        phones_csv=folder / "phones.csv" if options.grouping else None,
        report=folder if options.report else None,
        grouping=options.grouping,
        review_threshold=policy.review_below,
        run_id=SESSION_RUN,
    )
    write_results(
        lambda: items, bundle, request, overlays_of=lambda ps: overlay_uris([by_source[p["source"]] for p in ps])
    )
    return folder
