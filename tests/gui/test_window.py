"""The window: drop, classify, cancel, relabel (API, keys, drag), undo/redo, export, settings."""

import json
import time

from PySide6.QtCore import QMimeData, QPoint, Qt, QTimer, QUrl
from PySide6.QtGui import QDropEvent

from gui.gallery_model import ITEMS_MIME
from tests.gui.conftest import export_and_wait, wait_idle


def _drop_urls(window, paths):
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(p)) for p in paths])
    event = QDropEvent(
        QPoint(10, 10), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier
    )
    window.dropEvent(event)


def _section(window, key):
    return next(s for s in window.gallery.sections if s.section == key)


def test_window_starts_empty_with_the_drop_area(window):
    assert window.windowTitle() == "DefectSort"
    assert window.stack.currentWidget() is window.drop_area
    assert [s.title for s in window.gallery.sections] == [
        "Good",
        "Oil",
        "Scratch",
        "Stain",
        "Review",
        "Unknown",
        "Errors",
    ]


def test_dropping_a_zip_fills_the_sections(qtbot, window, photo_zip):
    _drop_urls(window, [photo_zip(8, broken=2)])
    wait_idle(qtbot, window, 10)
    counts = {s.section: s.count() for s in window.gallery.sections}
    assert counts["errors"] == 2 and sum(counts.values()) == 10
    assert "2" in _section(window, "errors").header.text()
    assert window.stack.currentWidget() is window.splitter
    errors = [e for e in window.model.entries() if not e.prediction.ok]
    assert all(
        e.prediction.error == "not a photo DefectSort can open: save it as JPEG, PNG, BMP, TIFF or WebP" for e in errors
    )


def test_cancel_keeps_what_was_finished_and_continuing_classifies_only_the_rest(qtbot, window, photo_zip):
    window.open_paths([photo_zip(160, broken=0)])
    qtbot.waitUntil(lambda: len(window.model.entries()) >= 8, timeout=30_000)
    window.cancel()
    qtbot.waitUntil(lambda: not window.busy, timeout=5_000)  # stops within a batch or two
    kept = len(window.model.entries())
    assert 8 <= kept < 160
    offer = window.progress.resume
    assert window.progress.isVisible() and offer.isVisible() and not window.progress.cancel.isVisible()
    assert offer.text() == f"Continue the {160 - kept} photos not yet classified"
    assert window.menu_actions.resume.isEnabled()
    offer.click()
    wait_idle(qtbot, window, 160)
    sources = [e.prediction.source for e in window.model.entries()]
    assert len(sources) == len(set(sources)) == 160  # each photo once
    assert "opened again" not in window.counts_label.text()  # Continue skipping what it kept is no news
    assert not window.progress.isVisible() and not window.menu_actions.resume.isEnabled()


def test_relabel_by_api_keys_and_drop_then_undo_redo(qtbot, window, photo_zip):
    window.open_paths([photo_zip(6, broken=0)])
    wait_idle(qtbot, window, 6)
    entries = window.model.entries()
    first, second, third = entries[0].key, entries[1].key, entries[2].key
    # 1. the model API
    window.relabel([first], "stain")
    assert window.model.entry(first).final_label == "stain" and window.model.entry(first).corrected
    # 2. the keyboard: select one photo, press 2 (= Oil)
    window.gallery.select(second)
    qtbot.keyClick(window.gallery.selected_view(), Qt.Key.Key_2)
    assert window.model.entry(second).final_label == "oil"
    # 3. a drag from one section dropped on another
    target = _section(window, "scratch").view
    mime = QMimeData()
    mime.setData(ITEMS_MIME, str(third).encode())
    drop = QDropEvent(
        QPoint(5, 5), Qt.DropAction.MoveAction, mime, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier
    )
    target.dropEvent(drop)
    assert window.model.entry(third).final_label == "scratch"
    assert _section(window, "scratch").count() >= 1
    # undo all three, then redo them
    for _ in range(3):
        window.undo_stack.undo()
    assert [window.model.entry(k).corrected for k in (first, second, third)] == [False, False, False]
    for _ in range(3):
        window.undo_stack.redo()
    assert [window.model.entry(k).final_label for k in (first, second, third)] == ["stain", "oil", "scratch"]


def test_review_threshold_moves_doubtful_items(qtbot, window, photo_zip):
    window.open_paths([photo_zip(6, broken=0)])
    wait_idle(qtbot, window, 6)
    window.toolbar.threshold.setValue(100)
    assert _section(window, "review").count() == 6
    window.relabel([window.model.entries()[0].key], "good")
    assert _section(window, "review").count() == 5  # a corrected item is decided


def test_export_writes_corrections_and_never_overwrites(qtbot, window, photo_zip, tmp_path, monkeypatch):
    window.open_paths([photo_zip(5, broken=1)])
    wait_idle(qtbot, window, 6)
    moved = window.model.entries()[0]
    new_label = "stain" if moved.prediction.label != "stain" else "oil"
    window.relabel([moved.key], new_label)
    target = tmp_path / "export"
    assert export_and_wait(qtbot, window, monkeypatch, target, overlays=True) == str(target)
    document = json.loads((target / "results.json").read_text())
    item = next(i for i in document["items"] if i["source"] == moved.prediction.source)
    assert item["final_label"] == new_label and item["corrected"] is True
    assert item["model_label"] == moved.prediction.label
    assert len(list((target / new_label).iterdir())) >= 1
    assert len(list((target / "overlays").glob("*.png"))) == 5
    again = export_and_wait(qtbot, window, monkeypatch, target, overlays=True)
    assert again != str(target) and again.startswith(str(target))
    assert json.loads((target / "results.json").read_text()) == document  # untouched


def test_settings_persist_between_runs(qtbot, window):
    window.toolbar.size_slider.setValue(222)
    window.toolbar.threshold.setValue(40)
    window.close()
    from gui.main_window import MainWindow
    from gui.settings import Settings

    again = MainWindow(Settings())
    qtbot.addWidget(again)
    qtbot.waitUntil(lambda: again.bundle is not None, timeout=20_000)
    assert again.toolbar.size_slider.value() == 222
    assert again.policy.review_below == 0.4 and again.model.policy is again.policy  # remembered for this model
    again.client.shutdown()


def _longest_gui_gap(qtbot, window, batch, expected: int) -> tuple[float, int]:
    """Classify ``batch`` while a 10 ms timer ticks on the GUI thread. :returns: the longest gap between ticks
    and how many ticks there were."""
    gaps, last = [], [time.perf_counter()]

    def tick():
        now = time.perf_counter()
        gaps.append(now - last[0])
        last[0] = now

    probe = QTimer()
    probe.setInterval(10)
    probe.timeout.connect(tick)
    probe.start()
    window.open_paths([batch])
    wait_idle(qtbot, window, expected)
    probe.stop()
    return max(gaps), len(gaps)


def test_gui_thread_is_never_blocked_while_classifying(qtbot, window, photo_zip):
    # On this 2-core machine the GUI thread shares the CPU with two decoding threads and the engine. Drawing
    # thumbnails was most of its work (0.9 ms a cell, every visible cell on each arrival): the longest gap was
    # 70-125 ms and a CI run failed at 118 ms. Cells are now drawn once and copied (20 us): the longest gap is
    # 22-56 ms over 6 batches. A blocking call on the GUI thread stalls every batch, so a second batch is
    # classified when the first had a late tick (scheduling alone), and that one must be clean.
    gaps = []
    for attempt in range(2):
        gap, ticks = _longest_gui_gap(qtbot, window, photo_zip(160, broken=0), 160 * (attempt + 1))
        assert ticks > 25  # the probe ran while the batch did (ONNX Runtime does 160 small photos in ~0.5 s)
        gaps.append(gap)
        if gap < 0.100:
            break
    assert min(gaps) < 0.100, f"GUI thread blocked for {', '.join(f'{g * 1000:.0f}' for g in gaps)} ms"


def test_clearing_drops_results_still_in_flight(qtbot, window, photo_zip, monkeypatch):
    window.open_paths([photo_zip(120, broken=0)])
    qtbot.waitUntil(lambda: len(window.model.entries()) >= 8, timeout=30_000)
    monkeypatch.setattr("gui.dialogs.confirm", lambda *_: True)
    window.relabel([window.model.entries()[0].key], "stain")
    window.clear_session()
    qtbot.waitUntil(lambda: not window.busy, timeout=10_000)
    qtbot.wait(300)
    assert window.model.entries() == [] and window.stack.currentWidget() is window.drop_area
    assert not window.undo_stack.canUndo()


def test_the_inference_backend_is_a_persisted_choice(qtbot, window, photo_zip):
    assert "ONNX Runtime" in window.model_label.text()  # automatic: the benchmark's choice
    window.open_paths([photo_zip(2, broken=0)])
    wait_idle(qtbot, window, 2)
    window.choose_backend("torch")
    qtbot.waitUntil(lambda: "PyTorch" in window.model_label.text(), timeout=20_000)
    assert window.settings.get("backend") == "torch" and len(window.model.entries()) == 2  # the session stays
