"""Corrections kept safely: a killed window's session comes back; quitting asks; the model improves from them."""

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from core.journal.restore import list_sessions, unfinished_session
from tests.gui.conftest import open_window, wait_idle

# Runs a real window in another process, sorts a ZIP, prints what it shows, then waits to be killed.
_SORTING_WINDOW = textwrap.dedent("""
    import json, sys
    from PySide6.QtWidgets import QApplication
    from core.model.bundle import load_bundle
    from gui.main_window import MainWindow
    from gui.settings import Settings
    app = QApplication([])
    settings = Settings()
    settings.set("model", "random-test")
    window = MainWindow(settings)
    window.show()
    window.open_paths([sys.argv[1]])
    while len(window.model.entries()) < int(sys.argv[2]) or window.busy or window.bundle is None:
        app.processEvents()
    keys = [e.key for e in window.model.entries()]
    window.relabel([keys[0]], "stain"); window.relabel([keys[1]], "oil"); window.relabel([keys[2]], "good")
    window.undo_stack.undo()  # the third move is taken back
    window.remove([keys[3]])
    shown = {e.prediction.source: [window.model.section_of(e), e.final_label] for e in window.model.entries()}
    print(json.dumps(shown), flush=True)
    while True:
        app.processEvents()
""")


@pytest.mark.slow
def test_a_killed_window_comes_back_with_every_photo_and_correction(qtbot, random_bundle, photo_zip, monkeypatch):
    archive = photo_zip(8, broken=1)
    environment = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "DEFECTSORT_MODELS": str(random_bundle.folder.parent)}
    child = subprocess.Popen(
        [sys.executable, "-c", _SORTING_WINDOW, str(archive), "9"],
        stdout=subprocess.PIPE,
        text=True,
        env=environment,
        cwd=Path(__file__).resolve().parents[2],
    )
    try:
        shown = json.loads(child.stdout.readline())
        time.sleep(0.5)  # "in the middle of sorting": the journal writes as it happens
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(10)
    assert len(shown) == 8  # 9 photos, one removed
    monkeypatch.setattr("gui.session_dialogs.ask_restore", lambda *_: True)
    window = open_window(qtbot, monkeypatch, random_bundle)
    qtbot.waitUntil(lambda: len(window.model.entries()) == 8, timeout=30_000)
    again = {e.prediction.source: [window.model.section_of(e), e.final_label] for e in window.model.entries()}
    assert again == shown
    assert sum(e.corrected for e in window.model.entries()) == 2
    assert all(e.thumbnail is not None for e in window.model.entries() if e.prediction.ok)  # made again
    assert all(e.heat is not None for e in window.model.entries() if e.prediction.ok)  # the journal kept them
    window.undo_stack.clear()
    window.client.shutdown()


def test_restoring_says_when_a_photo_is_gone_and_keeps_its_label(
    qtbot, random_bundle, photo_zip, monkeypatch, tmp_path
):
    archive = photo_zip(3, broken=0)
    first = open_window(qtbot, monkeypatch, random_bundle)
    first.open_paths([archive])
    wait_idle(qtbot, first, 3)
    moved = first.model.entries()[0]
    first.relabel([moved.key], "oil" if moved.prediction.label != "oil" else "stain")
    first.client.journal.flush()
    first.client.shutdown()  # as if the process died: the session was never ended
    archive.rename(tmp_path / "elsewhere.zip")
    monkeypatch.setattr("gui.session_dialogs.ask_restore", lambda *_: True)
    second = open_window(qtbot, monkeypatch, random_bundle)
    qtbot.waitUntil(lambda: len(second.model.entries()) == 3, timeout=30_000)
    entry = second.model.entry(moved.key)
    assert entry.final_label == moved.final_label and entry.thumbnail is None and "no longer readable" in entry.missing
    assert "Restored 3 photos and 1 corrections" in second.statusBar().currentMessage()
    second.client.shutdown()


def test_quitting_with_unexported_corrections_asks_and_can_keep_them_for_next_time(
    qtbot, window, photo_zip, monkeypatch
):
    window.open_paths([photo_zip(3, broken=0)])
    wait_idle(qtbot, window, 3)
    entry = window.model.entries()[0]
    window.relabel([entry.key], "oil" if entry.prediction.label != "oil" else "stain")
    asked = []
    monkeypatch.setattr(
        "gui.session_dialogs.ask_quit_with_unexported", lambda _, n, photos: asked.append((n, photos)) or "cancel"
    )
    assert not window.close() and window.isVisible() and asked == [(1, 3)]
    monkeypatch.setattr("gui.session_dialogs.ask_quit_with_unexported", lambda *_: "keep")
    assert window.close()  # the journal is written and closed on the way out
    assert unfinished_session(window.client.journal_file).edits == 1  # offered at the next start


def test_quitting_without_corrections_ends_the_session_without_asking(qtbot, window, photo_zip, monkeypatch):
    window.open_paths([photo_zip(2, broken=0)])
    wait_idle(qtbot, window, 2)
    monkeypatch.setattr("gui.session_dialogs.ask_quit_with_unexported", lambda *_: pytest.fail("asked"))
    journal = window.client.journal_file
    assert window.close()
    assert unfinished_session(journal) is None and list_sessions(journal)[0].photos == 2


@pytest.mark.slow
def test_improving_runs_in_the_background_and_shows_the_comparison(qtbot, window, photo_zip, tmp_path):
    """The inspector keeps sorting while the model retrains; the comparison comes up at the end, in words,
    with the gate's figures behind Details (here refused: the random model has no training data to check on)."""
    from gui.improve import Improvement, ImproveStatus

    window.open_paths([photo_zip(8, broken=0)])
    wait_idle(qtbot, window, 8)
    for number, entry in enumerate(window.model.entries()):
        window.relabel([entry.key], ["good", "oil", "scratch", "stain"][number % 4])
    improvement = Improvement(window, window.client, str(window.bundle.folder), tmp_path / "candidate")
    qtbot.waitUntil(lambda: bool(improvement.log), timeout=60_000)
    window.open_paths([photo_zip(4, broken=0, first=100)])  # sorting goes on beside the retraining
    qtbot.waitUntil(lambda: len(window.model.entries()) == 12, timeout=120_000)
    qtbot.waitUntil(lambda: improvement.dialog is not None, timeout=180_000)
    dialog = improvement.dialog
    assert not dialog.isModal() and not dialog.promote_button.isEnabled()
    assert "cannot be checked: the photos it was trained on are not here" in dialog.headline.text()
    assert dialog.details.isHidden()
    dialog.details_button.click()
    assert dialog.details.isVisible() and "no frozen holdout" in dialog.details.toPlainText()
    assert "fine-tuning on the corrections alone" in dialog.details.toPlainText()  # the training log
    assert dialog.outcome.bundle.lineage["corrections"] == {"good": 2, "oil": 2, "scratch": 2, "stain": 2}
    assert (tmp_path / "candidate" / "comparison.json").is_file()
    qtbot.waitUntil(lambda: not window.statusBar().findChildren(ImproveStatus))  # the strip is gone (deleteLater)


def test_improving_can_be_cancelled_without_cancelling_the_photos(qtbot, window, photo_zip, tmp_path):
    from gui.improve import Improvement

    window.open_paths([photo_zip(4, broken=0)])
    wait_idle(qtbot, window, 4)
    for number, entry in enumerate(window.model.entries()):
        window.relabel([entry.key], ["good", "oil"][number % 2])
    ended = []
    improvement = Improvement(window, window.client, str(window.bundle.folder), tmp_path / "candidate")
    improvement.ended.connect(ended.append)
    qtbot.waitUntil(lambda: improvement.status.bar.maximum() > 0, timeout=60_000)  # training has started
    improvement.status.cancel_button.click()
    qtbot.waitUntil(lambda: ended == [None], timeout=60_000)
    assert improvement.dialog is None and not (tmp_path / "candidate").exists()
    assert not window.busy and len(window.model.entries()) == 4
