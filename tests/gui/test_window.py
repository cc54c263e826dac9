"""The window: drop, classify, cancel, relabel (API, keys, drag), undo/redo, export, settings."""

import json
import threading
import time
from collections import Counter

from PySide6.QtCore import QMimeData, QPoint, Qt, QTimer, QUrl
from PySide6.QtGui import QDropEvent

from core.inference.runtime import native_bf16
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
    window.remove([window.model.entries()[1].key])
    window.undo_stack.undo()
    window.remove([window.model.entries()[2].key])
    window.toolbar.threshold.setValue(40)
    recounted = Counter(window.model.section_of(e) for e in window.model.entries())
    assert +window.model.section_counts == recounted + Counter({None: 1})  # kept current, never walked again
    assert window.model.shown_count() == 5 and window.counts_label.text().startswith("5 photos: ")


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


def _gui_thread_gaps(qtbot, window, batch, expected: int) -> list[tuple[float, float]]:
    """Classify ``batch`` while a 10 ms timer ticks on the GUI thread. :returns: per gap between two ticks,
    its length and the GUI thread's own CPU time in it (seconds)."""
    gaps, last = [], [time.perf_counter(), time.thread_time()]

    def tick():
        now, cpu = time.perf_counter(), time.thread_time()
        gaps.append((now - last[0], cpu - last[1]))
        last[:] = [now, cpu]

    probe = QTimer()
    probe.setInterval(10)
    probe.timeout.connect(tick)
    probe.start()
    window.open_paths([batch])
    wait_idle(qtbot, window, expected)
    probe.stop()
    return gaps


# What reads, decodes, classifies or waits: none of it may run on the GUI thread.
_BLOCKING = [
    ("core.inference.engine.Engine", "classify"),
    ("core.inference.engine.Engine", "_load"),
    ("core.photos.reader.SourceReader", "read"),
    ("concurrent.futures.Future", "result"),
    ("gui.worker", "decode_for_display"),
    ("gui.worker", "compressed_thumbnail"),
]


def test_gui_thread_is_never_blocked_while_classifying(qtbot, window, photo_zip, monkeypatch):
    # How long the GUI thread waits between two ticks on this 2-core virtual machine says more about the host
    # than about the window: the same code gave longest gaps of 22-56 ms in one run and 72-414 ms in the next
    # (other threads, the GIL, stolen CPU), and two CI runs failed on a 100 ms wall-clock limit. So the test
    # checks what a blocking GUI thread would be made of: no call that reads, decodes, classifies or waits runs
    # on it, and the CPU time the GUI thread itself spends between two ticks stays small (a synchronous decode
    # or classification would spend its whole length there; measured today: 6-45 ms, rarely up to 90 ms when
    # many cells are drawn for the first time at once).
    on_gui_thread = []
    for owner, name in _BLOCKING:
        target = _resolve(owner)
        original = getattr(target, name)

        def watched(*args, _original=original, _name=f"{owner}.{name}", **kwargs):
            if threading.current_thread() is threading.main_thread():
                on_gui_thread.append(_name)
            return _original(*args, **kwargs)

        monkeypatch.setattr(target, name, watched)
    gaps = _gui_thread_gaps(qtbot, window, photo_zip(160, broken=0), 160)
    assert len(gaps) > 25  # the probe ran while the batch did (ONNX Runtime does 160 small photos in ~0.5 s)
    assert on_gui_thread == [], f"blocking calls on the GUI thread: {sorted(set(on_gui_thread))}"
    longest, busiest = max(gaps), max(gaps, key=lambda gap: gap[1])
    assert busiest[1] < 0.150, f"the GUI thread worked {busiest[1] * 1000:.0f} ms without a break (longest gap "
    f"{longest[0] * 1000:.0f} ms)"


def _resolve(dotted: str):
    """Return the module or class that ``dotted`` names."""
    import importlib

    parts = dotted.split(".")
    for split in range(len(parts), 0, -1):
        try:
            target = importlib.import_module(".".join(parts[:split]))
        except ImportError:
            continue
        for attribute in parts[split:]:
            target = getattr(target, attribute)
        return target
    raise ImportError(dotted)


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
    assert "OpenVINO" in window.model_label.text()  # automatic: the runtime judged by the truth
    window.open_paths([photo_zip(2, broken=0)])
    wait_idle(qtbot, window, 2)
    window.choose_backend("torch")
    qtbot.waitUntil(lambda: "PyTorch fp32" in window.model_label.text(), timeout=20_000)
    assert window.settings.get("backend") == "torch" and len(window.model.entries()) == 2  # the session stays
    window.choose_backend("openvino bf16")  # the faster arithmetic, asked for (float32 where the CPU lacks bf16)
    expected = "OpenVINO bf16" if native_bf16() else "OpenVINO fp32"
    qtbot.waitUntil(lambda: expected in window.model_label.text(), timeout=30_000)
    assert window.settings.get("backend") == "openvino bf16"
