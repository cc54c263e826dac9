"""What leaves the window is what it showed: folders, results, summary and report after an inspector's corrections."""

import json
import re
from collections import Counter

import pytest

from tests.conftest import GOLDEN
from tests.gui.conftest import export_and_wait, wait_idle

DOUBTS = ("review", "unknown")


def _correct_as_an_inspector(window) -> None:
    """Move a doubtful photo into a class, confirm another in the model's guess, confirm a settled photo in its
    own class, and move a settled photo elsewhere then undo that move."""
    model, classes = window.model, window.bundle.classes
    entries = model.entries()
    doubtful = [e for e in entries if model.section_of(e) in DOUBTS]
    settled = [e for e in entries if e.prediction.ok and model.section_of(e) not in DOUBTS]
    if doubtful:
        window.relabel([doubtful[0].key], next(c for c in classes if c != doubtful[0].prediction.label))
    if len(doubtful) > 1:
        window.relabel([doubtful[1].key], doubtful[1].prediction.label)
    if settled:
        window.relabel([settled[0].key], settled[0].prediction.label)
    if len(settled) > 1:
        window.relabel([settled[1].key], next(c for c in classes if c != settled[1].prediction.label))
        window.undo_stack.undo()


def _copied(folder) -> dict[str, str]:
    """Return photo name -> the export sub-folder holding its copy."""
    return {
        photo.name: sub.name
        for sub in folder.iterdir()
        if sub.is_dir() and sub.name != "overlays"
        for photo in sub.iterdir()
    }


def _report_totals(page: str) -> dict[str, int]:
    return {name: int(count) for count, name in re.findall(r'<div class="total"><b>(\d+)</b>([^<]+)</div>', page)}


@pytest.mark.parametrize("threshold", [None, 100.0, 50.0])
def test_folders_results_and_report_say_what_the_window_showed(qtbot, strict_window, tmp_path, monkeypatch, threshold):
    strict_window.open_paths([GOLDEN])
    wait_idle(qtbot, strict_window, 11)
    if threshold is not None:
        strict_window.toolbar.threshold.setValue(threshold)
    _correct_as_an_inspector(strict_window)
    model = strict_window.model
    shown = {e.prediction.source: (e.prediction.name, model.section_of(e), e) for e in model.entries()}
    assert any(e.decided for *_, e in shown.values())

    folder = tmp_path / "export"
    export_and_wait(qtbot, strict_window, monkeypatch, folder, overlays=False, report=True)
    document = json.loads((folder / "results.json").read_text())
    copied = _copied(folder)
    exported = {item["source"]: item for item in document["items"]}
    assert exported.keys() == shown.keys()

    for source, (name, section, entry) in shown.items():
        item = exported[source]
        if section == "errors":
            assert item["status"] == "error" and name not in copied, source
            continue
        assert copied[name] == section, source  # the class folder, or review/ and unknown/
        if section in DOUBTS:
            assert (item["status"], item["final_label"], item["settled_by"]) == (section, None, None), source
        else:
            assert (item["status"], item["final_label"]) == ("ok", section), source
            assert item["settled_by"] == ("inspector" if entry.decided else "model"), source
            assert item["corrected"] == entry.corrected, source

    sections = Counter(section for _, section, _ in shown.values())
    summary = document["summary"]
    assert summary["review"] == sections["review"] and summary["unknown"] == sections["unknown"]
    assert summary["errors"] == sections["errors"]
    assert summary["by_label"] == {s: n for s, n in sections.items() if s not in (*DOUBTS, "errors")}
    assert Counter(copied.values()) == +Counter({s: n for s, n in sections.items() if s != "errors"})

    page = (folder / "report.html").read_text()
    totals = _report_totals(page)
    assert totals["in review"] == sections["review"] and totals["unknown"] == sections["unknown"]
    assert all(totals[c] == sections[c] for c in strict_window.bundle.classes if sections[c])
    for *_, entry in shown.values():  # settled photos are not listed as still to review
        if entry.decided and entry.prediction.status == "review":
            listed = page.split("Photos to review")[-1] if "Photos to review" in page else ""
            assert entry.prediction.source not in listed
