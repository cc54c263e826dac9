"""The one results pipeline: every writer (the window's export, ``classify``, ``--cluster``, the service's jobs).

A writer turns each photo into a results item with :func:`result_item` (the model's fields plus the final
decision of :mod:`core.results.final`), copies it with :class:`~core.results.copies.SortedCopies` when
asked, and keeps the items somewhere it can read them back in order: the run log on disk
(:class:`core.journal.run_log.RunJournal`: ``classify``, the service's jobs) or memory (a window session).
:func:`write_results` then reads them as often as it needs: a first pass gathers the statistics
(:class:`~core.results.report.run_stats.RunStats`, which also gives the one summary) and the photos of each
phone, further passes write the JSON and the CSV one item at a time; the phones, drift and report follow.
Nothing holds every result at once.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from core.inference.prediction import ERROR, REVIEW, UNKNOWN, Prediction
from core.model.bundle import Bundle
from core.results.files import write_csv_streaming, write_json_streaming, write_phones_csv
from core.results.final import FinalDecision, final_decision, final_fields
from core.results.phones import PhoneGrouping, PhoneVerdict, phone_verdicts, photo_of_item, severity_order
from core.results.report import history
from core.results.report.drift import drift_for
from core.results.report.page import ReportContent, write_report
from core.results.report.run_stats import RunStats

ItemsOf = Callable[[], Iterable[dict]]  # the results in order, read again for every pass
OverlaysOf = Callable[[list[dict]], dict[str, str]]  # photos -> source: overlay data URI


def result_item(prediction: Prediction, final: FinalDecision | None = None, extra: dict | None = None) -> dict:
    """Return the results item of one photo: the ``classify --json`` fields with the final word.

    :param prediction: the model's result, its status set by the policy in force
    :param final: the photo's final decision (default: the model's alone, nobody inspected it)
    :param extra: more fields (the window adds the model's label and confidence under their own names)
    """
    final = final or final_decision(prediction)
    return {**prediction.to_dict(), **final_fields(prediction, final), **(extra or {})}


def model_of(bundle: Bundle) -> dict:
    """Return the ``model`` section of a results document."""
    return {"name": bundle.name, "version": bundle.version, "sha256": bundle.sha256}


def summary_of(stats: RunStats) -> dict:
    """Return the ``summary`` of a results document: what the window's sections would show.

    ``by_label`` counts the photos settled in each class; ``review``, ``unknown`` and ``errors`` the rest.
    """
    sections = stats.sections
    doubts = (REVIEW, UNKNOWN, ERROR)
    return {
        "total": stats.total,
        "by_label": dict(sorted((label, n) for label, n in sections.items() if label not in doubts)),
        "review": sections[REVIEW],
        "unknown": sections[UNKNOWN],
        "errors": sections[ERROR],
    }


def results_document(items: list[dict], bundle: Bundle) -> dict:
    """Return a small results document held in memory (one request's photos): ``{"model", "summary", "items"}``."""
    return {"model": model_of(bundle), "summary": summary_of(gather(items, None, bundle)[0]), "items": items}


@dataclass
class ResultsRequest:
    """What to write from a run's results (all optional).

    :param report: a folder: ``report.html`` goes inside
    :param keep_history: record this run for "usual" drift (runs with an output folder)
    :param review_threshold: the threshold in force, printed in the report (default: the model's)
    :param run_id: names the run in the history (the same for a run and its resumptions)
    """

    json: Path | None = None
    csv: Path | None = None
    phones_csv: Path | None = None
    report: Path | None = None
    grouping: PhoneGrouping | None = None
    sources: list[str] = field(default_factory=list)
    keep_history: bool = False
    review_threshold: float | None = None
    run_id: str = ""


@dataclass
class WrittenResults:
    """What the run produced: its statistics (and summary), the phones when grouped, the drift section."""

    stats: RunStats
    phones: list[PhoneVerdict] | None
    drift: dict

    @property
    def summary(self) -> dict:
        """Return the results document's ``summary``."""
        return summary_of(self.stats)


def gather(items: Iterable[dict], grouping: PhoneGrouping | None, bundle: Bundle) -> tuple[RunStats, list | None]:
    """Read the results once. :returns: the statistics, and the phone verdicts when grouped."""
    stats, photos = RunStats(), []
    for item in items:
        stats.add(item)
        if grouping is not None:
            photos.append(photo_of_item(item))
    if grouping is None:
        return stats, None
    return stats, phone_verdicts(photos, grouping, severity_order(bundle))


def write_results(
    items_of: ItemsOf,
    bundle: Bundle,
    request: ResultsRequest,
    speed: dict | None = None,
    overlays_of: OverlaysOf | None = None,
) -> WrittenResults:
    """Write what ``request`` asks for; record the run in the history when asked.

    :param items_of: the results items in order (each call reads them again)
    :param bundle: the model used
    :param request: the files to write
    :param speed: this run's pace (see :class:`core.results.report.page.ReportContent`)
    :param overlays_of: makes overlays for the report's least certain photos
    :returns: the statistics, phones and drift
    """
    stats, phones = gather(items_of(), request.grouping, bundle)
    drift = drift_for(bundle, stats, request.run_id)
    head = {"model": model_of(bundle), "summary": summary_of(stats)}
    tail: dict[str, object] = {"drift": drift}
    if phones is not None:
        tail = {"phones": [phone.to_dict() for phone in phones], **tail}
    if request.json:
        write_json_streaming(request.json, head, items_of(), tail)
    if request.csv:
        write_csv_streaming(request.csv, items_of(), bundle.classes)
    if phones is not None and request.phones_csv:
        write_phones_csv(request.phones_csv, (phone.to_dict() for phone in phones))
    if request.report:
        overlays = overlays_of(stats.least_certain()) if overlays_of else {}
        content = ReportContent(bundle, stats, drift, overlays, phones, speed or {})
        content.sources = request.sources
        content.review_threshold = (
            request.review_threshold if request.review_threshold is not None else bundle.thresholds.get("review")
        )
        write_report(request.report, content)
    if request.keep_history and stats.total:
        history.record_run(model_of(bundle), request.run_id, stats.profile(), speed or {})
    return WrittenResults(stats, phones, drift)
