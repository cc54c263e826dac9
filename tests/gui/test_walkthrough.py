"""What an inspector's walkthrough found: phone cards that filter and step, counts that add up, honest prompts."""

from dataclasses import replace
from pathlib import Path

from PySide6.QtCore import Qt

from core.inference.decision import DecisionPolicy
from core.inference.prediction import Prediction
from gui.batches import Batches
from gui.detail_text import verdict_text
from gui.gallery_model import Entry
from gui.thumbnail_delegate import badge_of
from tests.gui.conftest import export_and_wait, open_window, wait_idle
from tests.images import screen_photo


def _phones(tmp_path, phones=("A1", "B2", "C3"), loose=2):
    root = tmp_path / "station"
    root.mkdir()
    for number, phone in enumerate(phones):
        for side in range(2):
            screen_photo(10 * number + side).save(root / f"{phone}_{side}.jpg")
    for number in range(loose):
        screen_photo(90 + number).save(root / f"calibration{number}.jpg")
    return root


def test_by_phone_filters_steps_between_cards_and_gathers_photos_without_an_id(qtbot, window, tmp_path):
    window.open_paths([_phones(tmp_path)])
    wait_idle(qtbot, window, 8)
    window.toolbar.grouping.setText(r"^([A-Z]\d)_")
    window.toolbar.grouping.editingFinished.emit()
    window.toolbar.by_phone.setChecked(True)
    qtbot.waitUntil(lambda: len(window.phones.cards) == 4)
    assert "No phone id found" in window.phones.cards[-1].header.text()  # one card, not one per photo
    assert window.phones.cards[-1].photos.rowCount() == 2

    first, second = window.phones.cards[0].view, window.phones.cards[1].view
    first.select_row(-1)
    qtbot.keyClick(first, Qt.Key.Key_Right)
    assert window.phones.current_entry().key == second.currentIndex().data(Qt.ItemDataRole.UserRole + 1).key
    qtbot.keyClick(second, Qt.Key.Key_Left)
    assert second.selectedIndexes() == [] and first.currentIndex().row() == first.model().rowCount() - 1

    window.toolbar.filter.setText("b2_")
    qtbot.waitUntil(lambda: len(window.phones.cards) == 1)
    assert window.phones.cards[0].phone == "B2"


def test_arrow_keys_cross_from_one_section_into_the_next(qtbot, window, photo_zip):
    window.open_paths([photo_zip(12, broken=0)])
    wait_idle(qtbot, window, 12)
    entries = window.model.entries()
    window.relabel([e.key for e in entries[:3]], "oil")
    window.relabel([e.key for e in entries[3:5]], "stain")
    shown = [s for s in window.gallery.sections if s.count()]
    assert len(shown) >= 2
    window.gallery.select_at(shown[0].section, shown[0].count() - 1)
    qtbot.keyClick(shown[0].view, Qt.Key.Key_Right)
    assert window.gallery.current_entry() is shown[1].proxy.index(0, 0).data(Qt.ItemDataRole.UserRole + 1)
    qtbot.keyClick(shown[1].view, Qt.Key.Key_Up)
    assert window.gallery.position() == (shown[0].section, shown[0].count() - 1)


def test_cancel_and_continue_count_what_arrived_and_continuing_skips_are_no_news():
    batches = Batches()
    batches.queued(1, ["/day"])
    batches.progressed(1, found=110)
    batches.classified(1, 14)
    batches.classified(1, 82)  # arrived after the last progress report
    batches.finished(1, cancelled=True)
    assert batches.unfinished.offer() == "Continue the 14 photos not yet classified"
    assert batches.unfinished.summary() == "Cancelled: 96 photos classified and kept."
    batches.queued(2, batches.unfinished.take(), continuing=True)
    batches.photos_skipped(2, 96)
    batches.queued(3, ["/day"])
    batches.photos_skipped(3, 110)  # the user opened the same folder again
    assert batches.skipped == 110


def test_quitting_after_an_export_asks_nothing_and_a_kept_session_is_not_called_a_crash(
    qtbot, window, photo_zip, monkeypatch, tmp_path, random_bundle
):
    window.open_paths([photo_zip(3, broken=0)])
    wait_idle(qtbot, window, 3)
    entry = window.model.entries()[0]
    window.relabel([entry.key], "oil" if entry.prediction.label != "oil" else "stain")
    assert window.recorder.unexported_decisions() == 1
    export_and_wait(qtbot, window, monkeypatch, tmp_path / "export", overlays=False)
    qtbot.waitUntil(lambda: window.recorder.unexported_decisions() == 0)  # told on the GUI thread
    second = window.model.entries()[1]
    window.relabel([second.key], second.prediction.label)  # a confirmation is a decision too
    asked = []
    monkeypatch.setattr("gui.session_dialogs.ask_quit_with_unexported", lambda _, n, p: asked.append(n) or "keep")
    assert window.close() and asked == [1]

    said = []
    monkeypatch.setattr("gui.session_dialogs.ask_restore", lambda _, session, kept: said.append(kept) or False)
    again = open_window(qtbot, monkeypatch, random_bundle)
    qtbot.waitUntil(lambda: said == [True])  # "You quit keeping the last session", not "not closed normally"
    again.client.shutdown()


def test_the_review_box_shows_no_number_until_the_model_is_loaded(qtbot, window):
    box = window.toolbar.threshold
    assert box.isEnabled() and box.text() != "…"
    box.wait_for_model()
    assert not box.isEnabled() and box.text() == "…"
    box.show_threshold(99.5)
    assert box.isEnabled() and box.text() == "99.5 %"


def test_a_possible_defect_says_why_it_is_not_called_good(random_bundle):
    policy = replace(DecisionPolicy.from_bundle(random_bundle), good_min=2 / 3, review_below=0.9)
    probabilities = {"good": 0.662, "oil": 0.03, "scratch": 0.031, "stain": 0.277}
    prediction = Prediction(
        source="a", name="a", label="stain", confidence=0.277, probabilities=probabilities, status="review"
    )
    text = verdict_text(Entry(key=1, prediction=prediction), policy)
    assert text.startswith("Possible defect, most likely Stain: 33.8 % likely a defect")
    assert "not called Good, which needs 66.7 % and has 66.2 %" in text


def test_a_confirmed_photo_wears_the_inspectors_mark():
    prediction = Prediction(source="a", name="a", label="oil", confidence=0.97, probabilities={}, status="review")
    assert badge_of(Entry(key=1, prediction=prediction, final_label="oil"), 0.99)[0] == "✓ Inspector"
    assert badge_of(Entry(key=1, prediction=prediction, final_label="good"), 0.99)[0] == "✎ Inspector"


def test_names_keep_the_phone_id_and_the_capture_and_same_names_show_their_origin():
    from collections import Counter

    from gui.thumbnail_delegate import index_name, name_lines

    def advance(text):
        return 7 * len(text)

    assert name_lines("356789012345678_front_clean_q88.jpg", 160, advance) == [
        "356789012345678_front_",
        "clean_q88.jpg",
    ]
    assert name_lines("1.jpg", 160, advance) == ["1.jpg"]
    names = Counter({"1.jpg": 2, "2.jpg": 1})
    in_zip = Entry(key=1, prediction=Prediction(source="/in/batch.zip!/day1/1.jpg", name="1.jpg"))
    in_folder = Entry(key=2, prediction=Prediction(source="/in/day1/1.jpg", name="1.jpg"))
    alone = Entry(key=3, prediction=Prediction(source="/in/day1/2.jpg", name="2.jpg"))
    assert [index_name(e, names) for e in (in_zip, in_folder, alone)] == ["batch.zip › 1.jpg", "day1 › 1.jpg", "2.jpg"]


def test_promoting_copies_on_the_side_pool_and_answers_either_way(qtbot, window, random_bundle):
    from core.model.bundle import load_bundle

    # The side pool emits from its own thread, so a plain callable is called there: collect the answers and
    # poll for them here (waitSignal could miss a quit sent from that thread just before its loop started).
    failures, installed = [], []
    window.client.worker.promotion_failed.connect(failures.append)
    window.client.worker.model_promoted.connect(installed.append)
    window.client.promote(load_bundle(random_bundle.folder))  # never through the gate
    qtbot.waitUntil(lambda: bool(failures), timeout=20_000)
    assert "did not pass the promotion gate" in failures[0] and not installed
    passed = load_bundle(random_bundle.folder)
    passed.promotion = {"passed": True}
    window.client.promote(passed)
    qtbot.waitUntil(lambda: bool(installed), timeout=20_000)
    assert (Path(installed[0]) / "model.json").exists() and len(failures) == 1
