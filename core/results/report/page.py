"""``report.html``: one self-contained page (charts and overlays inline, no script, no internet), printable.

:func:`render` takes what a run gathered (:class:`ReportContent`) and returns the page's text.
Every text from photos or models is escaped.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from html import escape
from pathlib import Path

from core.files import write_text_atomic
from core.inference.percent import percent_text, threshold_text
from core.inference.prediction import ERROR, REVIEW, UNKNOWN
from core.model.bundle import Bundle
from core.results.colours import label_colour_hex
from core.results.phones import REVIEW_VERDICT, PhoneVerdict
from core.results.report.charts import class_mix_chart, confidence_chart
from core.results.report.run_stats import MAX_LISTED, RunStats

MAX_PHONES = 1000  # rows of the phone table (phones.csv has them all)
_STYLE = """
body { font-family: system-ui, "Segoe UI", Arial, sans-serif; margin: 24px auto; max-width: 1100px; color: #1f2328;
       padding: 0 16px; }
h1 { font-size: 22px; margin-bottom: 4px; } h2 { font-size: 17px; margin-top: 28px; border-bottom: 1px solid #d9dde3; }
.sub { color: #57606a; } .tiles { display: flex; flex-wrap: wrap; gap: 10px; }
.total { border: 1px solid #d9dde3; border-radius: 8px; padding: 8px 14px; min-width: 90px; }
.total b { display: block; font-size: 22px; } .flags li { margin: 6px 0; }
.flag { background: #fff4e5; border-left: 4px solid #e07b00; padding: 8px 12px; list-style: none; }
.calm { background: #eaf5ea; border-left: 4px solid #2e7d32; padding: 8px 12px; }
table { border-collapse: collapse; width: 100%; font-size: 13px; } td, th { text-align: left; padding: 4px 8px;
       border-bottom: 1px solid #eef1f4; vertical-align: top; }
.badge { color: #fff; border-radius: 4px; padding: 0 6px; font-weight: 600; white-space: nowrap; }
.photo { width: 250px; border: 1px solid #d9dde3; border-radius: 8px; padding: 6px; font-size: 12px; }
.photo img { width: 100%; border-radius: 4px; display: block; } .photo .name { font-weight: 600; margin: 4px 0;
       overflow-wrap: anywhere; }
.charts { display: flex; gap: 12px; } .charts img { width: 50%; min-width: 0; }
.note { color: #57606a; font-size: 12px; }
@media print { body { margin: 0; } .photo, tr, .total { break-inside: avoid; } h2 { break-after: avoid; } }
"""


@dataclass
class ReportContent:
    """Everything a report shows.

    :param bundle: the model used
    :param stats: the run's statistics
    :param drift: the ``drift`` section (:func:`core.results.report.drift.drift_section`)
    :param overlays: source -> data URI of the photo with its heatmap, for the least certain photos
    :param phones: the per-phone verdicts when the run was grouped
    :param speed: ``{"new", "skipped", "seconds", "photos_per_second"}`` of this run
    :param sources: what was classified (folders, archives), for the heading
    :param review_threshold: the threshold in force
    """

    bundle: Bundle
    stats: RunStats
    drift: dict
    overlays: dict[str, str] = field(default_factory=dict)
    phones: list[PhoneVerdict] | None = None
    speed: dict = field(default_factory=dict)
    sources: list[str] = field(default_factory=list)
    review_threshold: float | None = None
    written: datetime = field(default_factory=datetime.now)


def render(content: ReportContent) -> str:
    """Return the HTML text of ``report.html``."""
    parts = [
        _heading(content),
        _totals(content),
        _drift(content.drift),
        _charts(content),
        _phones(content.phones) if content.phones is not None else "",
        _least_certain(content),
        *(_listed(content.stats, status) for status in (UNKNOWN, REVIEW, ERROR)),
        _model(content.bundle),
    ]
    body = "\n".join(part for part in parts if part)
    title = f"DefectSort report {content.written:%Y-%m-%d %H:%M}"
    return (
        f'<!doctype html>\n<html lang="en"><head><meta charset="utf-8"><title>{title}</title>'
        f"<style>{_STYLE}</style></head>\n<body>\n{body}\n</body></html>\n"
    )


def _badge(label: str | None) -> str:
    colour = label_colour_hex("errors" if label is None else label)
    return f'<span class="badge" style="background:{colour}">{escape(label or "error")}</span>'


def _heading(content: ReportContent) -> str:
    sources = ", ".join(escape(source) for source in content.sources[:5])
    more = f" and {len(content.sources) - 5} more" if len(content.sources) > 5 else ""
    return (
        f"<h1>DefectSort report, {content.written:%A %d %B %Y, %H:%M}</h1>"
        f'<p class="sub">{sources}{more} · model {escape(content.bundle.name)} {escape(content.bundle.version)}</p>'
    )


def _totals(content: ReportContent) -> str:
    stats, speed = content.stats, content.speed
    doubts = {REVIEW: "in review", UNKNOWN: "unknown", ERROR: "errors"}
    tiles = [("photos", stats.total)]
    tiles += [(label, count) for label, count in sorted(stats.sections.items()) if label not in doubts]
    tiles += [(name, stats.sections[section]) for section, name in doubts.items()]
    boxes = "".join(f'<div class="total"><b>{count}</b>{escape(name)}</div>' for name, count in tiles)
    pace = ""
    if speed:
        pace = (
            f'<p class="note">This run: {speed["new"]} photos classified in {speed["seconds"]:.0f} s '
            f"({speed['photos_per_second']:.1f} photos/s); {speed['skipped']} already done by an earlier run "
            "(resumed).</p>"
        )
    return f'<h2>Totals</h2><div class="tiles">{boxes}</div>{pace}'


def _drift(drift: dict) -> str:
    flags = drift.get("flags", [])
    if flags:
        items = "".join(f'<li class="flag">{escape(flag["message"])}</li>' for flag in flags)
        body = f'<ul class="flags">{items}</ul>'
    elif drift.get("baseline") or drift.get("history"):
        body = '<p class="calm">Nothing unusual: tonight looks like the photos this model knows.</p>'
    else:
        body = '<p class="note">No baseline to compare with: this model stores none and has no earlier runs.</p>'
    runs = drift.get("history_runs", 0)
    earlier = f"its last {runs} runs" if drift.get("history") else f"its last runs once there are 3 ({runs} so far)"
    note = f"Compared with the model's validation photos and {earlier}. Tests: {escape(drift['tests'])}."
    return f'<h2>Drift</h2>{body}<p class="note">{note}</p>'


def _charts(content: ReportContent) -> str:
    mixes = {"tonight": dict(content.stats.labels)}
    if content.drift.get("history"):
        mixes["usual (last runs)"] = content.drift["history"]["labels"]
    if content.drift.get("baseline"):
        mixes["validation photos"] = content.drift["baseline"]["labels"]
    mix = class_mix_chart(content.bundle.classes, mixes)
    confidence = confidence_chart(content.stats.histogram, content.review_threshold)
    return (
        f'<h2>Class mix and confidence</h2><div class="charts"><img alt="class mix" src="{mix}">'
        f'<img alt="confidence histogram" src="{confidence}"></div>'
    )


def _phones(phones: list[PhoneVerdict]) -> str:
    in_review = sum(phone.verdict == REVIEW_VERDICT for phone in phones)
    rows = "".join(
        f"<tr><td>{escape(p.phone)}</td><td>{_badge(p.verdict)}</td><td>{escape(p.reason)}</td>"
        f"<td>{escape(', '.join(f'{photo.name}: {photo.label or photo.status}' for photo in p.photos))}</td></tr>"
        for p in phones[:MAX_PHONES]
    )
    more = f'<p class="note">First {MAX_PHONES} of {len(phones)} phones: phones.csv lists them all.</p>'
    return (
        f"<h2>Phones ({len(phones)}, {in_review} in review)</h2><table><tr><th>phone</th><th>verdict</th>"
        f"<th>why</th><th>photos</th></tr>{rows}</table>{more if len(phones) > MAX_PHONES else ''}"
    )


def _least_certain(content: ReportContent) -> str:
    tiles = []
    for photo in content.stats.least_certain():
        image = content.overlays.get(photo["source"])
        picture = f'<img alt="" src="{image}">' if image else '<p class="note">(photo not readable now)</p>'
        confidence = percent_text(photo["confidence"], content.review_threshold)
        tiles.append(
            f'<div class="photo">{picture}<div class="name">{escape(photo["name"])}</div>'
            f"{_badge(photo['label'])} {confidence} · {escape(photo['status'])}"
            f'<div class="note">{escape(photo["explanation"] or "")}</div></div>'
        )
    return f'<h2>The least certain photos</h2><div class="tiles">{"".join(tiles)}</div>' if tiles else ""


def _listed(stats: RunStats, status: str) -> str:
    photos, count = stats.listed[status], stats.sections[status]
    if not count:
        return ""
    title = {UNKNOWN: "Unknown photos", REVIEW: "Photos to review", ERROR: "Photos that could not be classified"}
    rows = "".join(
        f"<tr><td>{escape(p['source'])}</td><td>{_badge(p['label']) if status != ERROR else ''}</td>"
        f"<td>{escape(p['explanation'] or '')}</td></tr>"
        for p in photos
    )
    more = (
        f'<p class="note">First {MAX_LISTED} of {count}: results.csv lists them all.</p>' if count > len(photos) else ""
    )
    return f"<h2>{title[status]} ({count})</h2><table>{rows}</table>{more}"


def _model(bundle: Bundle) -> str:
    validation = bundle.metrics.get("validation", {})
    facts = [
        ("model", f"{bundle.name} {bundle.version} ({bundle.arch}, {bundle.input_hw[0]}x{bundle.input_hw[1]})"),
        ("weights SHA-256", bundle.sha256[:16] + "…"),
        ("classes", ", ".join(bundle.classes)),
        ("validation", f"accuracy {validation.get('accuracy', 'n/a')}, macro-F1 {validation.get('macro_f1', 'n/a')}"),
        ("review threshold", threshold_text(bundle.thresholds["review"]) if "review" in bundle.thresholds else "none"),
        ("trained on", str(bundle.training.get("data", "n/a"))),
    ]
    parent = bundle.lineage.get("parent")
    if parent:
        corrections = sum(bundle.lineage.get("corrections", {}).values())
        facts.append(("lineage", f"retrained from {parent['name']} {parent['version']} with {corrections} corrections"))
    if bundle.severity:
        facts.append(("severity", f"{' > '.join(bundle.severity['order'])}: {bundle.severity.get('reason', '')}"))
    rows = "".join(f"<tr><th>{escape(name)}</th><td>{escape(value)}</td></tr>" for name, value in facts)
    return f"<h2>Model</h2><table>{rows}</table>"


REPORT_FILE = "report.html"


def write_report(folder: Path, content: ReportContent) -> Path:
    """Return the ``report.html`` written into ``folder``."""
    path = Path(folder) / REPORT_FILE
    write_text_atomic(path, render(content))
    return path
