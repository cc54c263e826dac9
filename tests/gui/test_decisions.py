"""What the window shows is what it exports: one decision policy for sections, detail pane and files."""

import json

import pytest

from tests.conftest import GOLDEN
from tests.gui.conftest import export_and_wait, wait_idle

SECTION_STATUS = {"review": "review", "unknown": "unknown", "errors": "error"}  # class sections: "ok"


def _shown(window):
    """Return source -> (status its section stands for, the explanation the detail pane shows)."""
    shown = {}
    for entry in window.model.entries():
        section = window.model.section_of(entry)
        window.detail.show_entry(entry)
        shown[entry.prediction.source] = (SECTION_STATUS.get(section, "ok"), window.detail.explanation.text())
    return shown


@pytest.mark.parametrize("threshold", [None, 100.0, 50.0])
def test_every_photo_is_exported_with_the_status_of_its_section(qtbot, strict_window, tmp_path, monkeypatch, threshold):
    strict_window.open_paths([GOLDEN])
    wait_idle(qtbot, strict_window, 11)
    if threshold is not None:
        strict_window.toolbar.threshold.setValue(threshold)
    shown = _shown(strict_window)
    export_and_wait(qtbot, strict_window, monkeypatch, tmp_path / "export", overlays=False)
    document = json.loads((tmp_path / "export" / "results.json").read_text())
    exported = {item["source"]: item for item in document["items"]}
    assert exported.keys() == shown.keys()
    for source, (status, explanation) in shown.items():
        assert exported[source]["status"] == status, source
        assert exported[source]["explanation"] == explanation, source
    statuses = {status for status, _ in shown.values()}
    if threshold is None:  # the bundle's own threshold: every status occurs
        assert statuses == {"ok", "review", "unknown", "error"}
    elif threshold == 100.0:
        assert "ok" not in statuses  # every classified photo is below 100 % or unknown
    else:
        assert "review" not in statuses


def test_previews_come_through_the_worker_and_failures_are_shown(qtbot, window, photo_zip, tmp_path):
    archive = photo_zip(3, broken=0)
    window.open_paths([archive])
    wait_idle(qtbot, window, 3)
    entries = window.model.entries()
    window.detail.show_entry(entries[0])
    thumbnail = window.detail.photo.image
    assert thumbnail == entries[0].thumbnail  # until the preview arrives
    qtbot.waitUntil(lambda: window.detail.photo.image is not thumbnail, timeout=10_000)
    assert window.detail.photo.image.size() == entries[0].thumbnail.size()  # 320 x 180: no larger to show
    archive.rename(tmp_path / "moved.zip")
    window.detail.show_entry(entries[1])
    thumbnail = window.detail.photo.image
    qtbot.waitUntil(lambda: "Cannot show this photo" in window.detail.facts.text(), timeout=10_000)
    assert window.detail.photo.image is thumbnail and thumbnail == entries[1].thumbnail  # the thumbnail stays


def test_the_model_menu_is_filled_by_the_worker(qtbot, window):
    qtbot.waitUntil(lambda: bool(window.menu_actions._models), timeout=10_000)
    texts = [action.text() for action in window.menu_actions.model_menu.actions()]
    assert any(text.startswith("random-test 0.0.1") for text in texts)
