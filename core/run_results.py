"""The end of a ``classify`` run: results, phones, drift and the report, all read back from the run journal.

Everything is written from :class:`core.run_journal.RunJournal` in walk order, one item at a time:
a first pass gathers the statistics (:class:`~core.report.run_stats.RunStats`) and the photos of
each phone, a second pass writes the JSON and a third the CSV. Nothing holds every result at once.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from core.bundle import Bundle
from core.files import write_text_atomic
from core.phones import PhoneGrouping, PhoneVerdict, phone_verdicts, photo_of_item, severity_order
from core.report import history
from core.report.drift import drift_section
from core.report.page import ReportContent, render
from core.report.run_stats import RunStats
from core.result_files import write_csv_streaming, write_json_streaming, write_phones_csv
from core.run_journal import RunJournal

REPORT_FILE = "report.html"
OverlaysOf = Callable[[list[dict]], dict[str, str]]  # photos -> source: overlay data URI


@dataclass
class RunRequest:
    """What to write at the end of a run (all optional)."""

    json: Path | None = None
    csv: Path | None = None
    phones_csv: Path | None = None
    report: Path | None = None  # a folder: report.html goes inside
    grouping: PhoneGrouping | None = None
    sources: list[str] = field(default_factory=list)
    keep_history: bool = False  # record this run for "usual" drift (runs with an output folder)


@dataclass
class FinishedRun:
    """What the run produced: its statistics, the phones when grouped, the drift section."""

    stats: RunStats
    phones: list[PhoneVerdict] | None
    drift: dict


def gather(items: Iterable[dict], grouping: PhoneGrouping | None, bundle: Bundle) -> tuple[RunStats, list | None]:
    """One pass over the results. :returns: the statistics, and the phone verdicts when grouped."""
    stats, photos = RunStats(), []
    for item in items:
        stats.add(item)
        if grouping is not None:
            photos.append(photo_of_item(item))
    if grouping is None:
        return stats, None
    order = severity_order(bundle)
    return stats, phone_verdicts(photos, grouping, order)


def drift_for(bundle: Bundle, stats: RunStats, run_id: str) -> dict:
    """:returns: the drift section of a run: against the bundle's baseline and the model's recent runs."""
    model = {"name": bundle.name, "version": bundle.version, "sha256": bundle.sha256}
    recent = history.recent_runs(model, run_id)
    return drift_section(stats.profile(), bundle.baseline, history.pooled_profile(recent), len(recent))


def finish_run(
    journal: RunJournal, bundle: Bundle, request: RunRequest, speed: dict, overlays_of: OverlaysOf
) -> FinishedRun:
    """Write what ``request`` asks for from the journal; record the run in the history when asked.

    :param journal: the run's journal (its :attr:`~RunJournal.order` is the walk order)
    :param bundle: the model used
    :param request: the files to write
    :param speed: this run's pace (see :class:`core.report.page.ReportContent`)
    :param overlays_of: makes overlays for the report's least certain photos
    :returns: the statistics, phones and drift
    """
    stats, phones = gather(journal.items(journal.order), request.grouping, bundle)
    drift = drift_for(bundle, stats, journal.run_id)
    head = {"model": journal.model, "summary": summary_of(stats)}
    tail: dict[str, object] = {"drift": drift}
    if phones is not None:
        tail = {"phones": [phone.to_dict() for phone in phones], **tail}
    if request.json:
        write_json_streaming(request.json, head, journal.items(journal.order), tail)
    if request.csv:
        write_csv_streaming(request.csv, journal.items(journal.order), bundle.classes, [])
    if phones is not None and request.phones_csv:
        write_phones_csv(request.phones_csv, (phone.to_dict() for phone in phones))
    if request.report:
        content = ReportContent(bundle, stats, drift, overlays_of(stats.least_certain()), phones, speed)
        content.sources, content.review_threshold = request.sources, bundle.thresholds.get("review")
        write_report(request.report, content)
    if request.keep_history and stats.total:
        history.record_run(journal.model, journal.run_id, stats.profile(), speed)
    return FinishedRun(stats, phones, drift)


def summary_of(stats: RunStats) -> dict:
    """:returns: the ``summary`` of a results document (as :func:`core.export.summary` makes it)."""
    return {"total": stats.total, "by_label": dict(sorted(stats.labels.items())), "errors": stats.statuses["error"]}


def write_report(folder: Path, content: ReportContent) -> Path:
    """:returns: the ``report.html`` written into ``folder``."""
    path = Path(folder) / REPORT_FILE
    write_text_atomic(path, render(content))
    return path
