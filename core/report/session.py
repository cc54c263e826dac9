"""The report and phone verdicts of an inspected window session (the export's "morning report" option).

The window keeps its predictions with their heatmaps, so the overlays of the least certain photos
are drawn from memory; the inspector's decisions count: a photo the inspector put in a class is
decided, whatever doubt the model had.
"""

from __future__ import annotations

from pathlib import Path

from core.bundle import Bundle
from core.phones import PhoneGrouping, PhoneVerdict, phone_verdicts, photo_of_prediction, severity_order
from core.prediction import Prediction
from core.report.overlays import overlay_uris
from core.report.page import ReportContent
from core.report.run_stats import RunStats
from core.run_results import drift_for, write_report


def session_phones(
    predictions: list[Prediction],
    final_labels: dict[str, str],
    decided: set[str],
    grouping: PhoneGrouping,
    bundle: Bundle,
) -> list[PhoneVerdict]:
    """One verdict per phone, with the inspector's labels.

    :param predictions: the session's results (statuses set by the policy in force)
    :param final_labels: source -> the label in force
    :param decided: sources the inspector put in a class (their doubt is settled)
    :param grouping: which phone each photo shows
    :param bundle: the model (its severity order)
    :returns: the verdicts, phones in first-seen order
    """
    photos = [photo_of_prediction(p, final_labels.get(p.source, p.label), p.source in decided) for p in predictions]
    return phone_verdicts(photos, grouping, severity_order(bundle))


def write_session_report(
    folder: Path,
    items: list[dict],
    predictions: list[Prediction],
    bundle: Bundle,
    phones: list[PhoneVerdict] | None,
    review_threshold: float | None,
) -> Path:
    """Write ``report.html`` of an exported session into ``folder``.

    :param items: the exported results document's items
    :param predictions: the same photos, with heatmaps
    :param phones: the phone verdicts when the session is viewed by phone
    :param review_threshold: the threshold in force in the window
    :returns: the report's path
    """
    stats = RunStats()
    for item in items:
        stats.add(item)
    by_source = {p.source: p for p in predictions}
    overlays = overlay_uris([by_source[photo["source"]] for photo in stats.least_certain()])
    drift = drift_for(bundle, stats, run_id="window session")
    content = ReportContent(bundle, stats, drift, overlays, phones)
    content.review_threshold = review_threshold
    return write_report(folder, content)
