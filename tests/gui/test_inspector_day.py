"""An inspector's day: confidences that show what decides, no duplicates, a relabel flow that keeps its place."""

import pytest
from PySide6.QtCore import QMimeData, QPoint, Qt
from PySide6.QtGui import QDropEvent
from PySide6.QtWidgets import QApplication, QMessageBox

from core.inference.percent import percent_text
from gui.gallery_model import ENTRY_ROLE, ITEMS_MIME
from gui.menus import shortcut_rows
from gui.thumbnail_delegate import badge_of
from tests.conftest import GOLDEN
from tests.gui.conftest import open_window, wait_idle


def _section(window, key):
    return next(s for s in window.gallery.sections if s.section == key)


def _drop_on_header(section, keys):
    mime = QMimeData()
    mime.setData(ITEMS_MIME, ",".join(map(str, keys)).encode())
    event = QDropEvent(
        QPoint(5, 5), Qt.DropAction.MoveAction, mime, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier
    )
    section.header.dropEvent(event)
    return event


@pytest.mark.parametrize(
    "value, threshold, text",
    [
        (0.9846, 0.986, "98.5 %"),  # one decimal tells it from the threshold
        (0.9859, 0.986, "98.59 %"),  # 98.6 would look as if it reached the threshold
        (0.99996, None, "99.996 %"),  # never "100 %" for a doubt
        (0.9999996, None, "> 99.999 %"),
        (1.0, None, "> 99.999 %"),  # a probability rounded to 1.0 is still no certainty
        (0.9995596, 0.9995599, "< 99.956 %"),  # too close to tell apart at three decimals
    ],
)
def test_confidences_show_the_decimals_that_decide(value, threshold, text):
    assert percent_text(value, threshold) == text


def test_badges_agree_with_the_sections_and_unknown_photos_wear_no_class(qtbot, strict_phone_bundle, monkeypatch):
    window = open_window(qtbot, monkeypatch, strict_phone_bundle)
    window.open_paths([GOLDEN])
    wait_idle(qtbot, window, 11)
    threshold = window.policy.review_below
    for entry in window.model.entries():
        if not entry.prediction.ok:
            continue
        text, colour = badge_of(entry, threshold)
        if window.model.section_of(entry) == "unknown":
            assert (text, colour) == ("Unknown", "unknown")
            window.detail.show_entry(entry)
            assert window.detail.verdict.text().startswith("Unknown: the model's guess would be")
        else:
            assert text == percent_text(entry.prediction.confidence, threshold) and "%" in text
            shown = float(text.strip("<> %"))
            if window.model.section_of(entry) == "review":
                assert shown < threshold * 100 or text.startswith("<")
    assert any(window.model.section_of(e) == "unknown" for e in window.model.entries())
    window.client.shutdown()


def test_the_threshold_is_set_at_the_precision_it_acts_on(qtbot, window):
    box = window.toolbar.threshold
    box.setValue(99.95)
    assert window.policy.review_below == pytest.approx(0.9995) and box.text() == "99.95 %"
    box.setValue(99.9)
    box.stepBy(1)  # the arrows follow the nines
    assert box.value() == pytest.approx(99.95)
    box.stepBy(-3)
    assert box.value() == pytest.approx(99.5)


def test_a_threshold_set_for_one_version_of_the_model_stays_with_that_version(qtbot, window):
    """A threshold set against one version's confidences is not applied to another's (phone-defects 1.0.0 was
    kept at 99.81 %: 2.0.0, far less sure of itself, would send every photo to Review)."""
    from gui.settings import Settings

    bundle, own = window.bundle, window.policy.review_below
    window.toolbar.threshold.setValue(99.95)
    window.close()  # remembered on closing
    settings = Settings()
    assert settings.review_threshold(bundle.name, bundle.version, own) == pytest.approx(0.9995)
    assert settings.review_threshold(bundle.name, "9.9.9", own) == own


def test_opening_the_same_photos_again_adds_none_twice(qtbot, window, photo_zip):
    archive = photo_zip(6, broken=1)
    window.open_paths([archive])
    wait_idle(qtbot, window, 7)
    window.open_paths([archive, archive.parent / ".." / archive.parent.name / archive.name])  # same ZIP, other spelling
    qtbot.waitUntil(lambda: not window.busy, timeout=30_000)
    assert len(window.model.entries()) == 7
    assert "14 opened again and skipped" in window.counts_label.text()  # both spellings: 2 x 7


def test_after_a_move_the_next_photo_of_the_section_is_selected(qtbot, window, photo_zip):
    window.open_paths([photo_zip(12, broken=0)])
    wait_idle(qtbot, window, 12)
    window.gallery.set_classes(window.gallery.classes)  # a fresh layout, as after a model switch
    section = max(window.gallery.sections, key=lambda s: s.count())
    assert section.count() >= 3
    second = section.proxy.index(1, 0).data(ENTRY_ROLE)
    third = section.proxy.index(2, 0).data(ENTRY_ROLE)
    window.gallery.select(second.key)
    target = next(label for label in window.gallery.classes if label != section.section)
    window.relabel_selection(target)
    assert window.gallery.current_entry() is third  # took the moved photo's place, and is selected
    assert window.detail.photo.entry is third
    window.relabel_selection(section.section)  # confirming keeps the photo here: the next one is selected
    assert window.gallery.current_entry() is not third and window.gallery.position() == (section.section, 2)


def test_photos_dropped_on_a_section_title_move_there_also_when_collapsed(qtbot, window, photo_zip):
    window.open_paths([photo_zip(4, broken=0)])
    wait_idle(qtbot, window, 4)
    first, second = window.model.entries()[:2]
    stain = _section(window, "stain")
    stain.header.setChecked(False)  # collapsed: only its title shows
    assert not stain.view.isVisible()
    event = _drop_on_header(stain, [first.key, second.key])
    assert event.isAccepted()
    assert first.final_label == second.final_label == "stain" and stain.count() >= 2
    window.undo_stack.undo()
    assert not first.decided and not second.decided


def test_shortcut_help_names_each_class_key(window):
    rows = dict(shortcut_rows(window.gallery.classes))
    assert rows["1"].endswith("Good") and rows["2"].endswith("Oil") and rows["4"].endswith("Stain")


def test_the_detail_pane_empties_when_the_filter_hides_its_photo(qtbot, window, photo_zip):
    window.open_paths([photo_zip(4, broken=0)])
    wait_idle(qtbot, window, 4)
    entry = window.model.entries()[0]
    window.gallery.select(entry.key)
    assert window.detail.photo.entry is entry
    window.toolbar.filter.setText("no-such-photo")
    assert window.detail.photo.entry is None
    window.toolbar.filter.setText(entry.prediction.name)
    window.gallery.select(entry.key)
    assert window.detail.photo.entry is entry


def test_the_focus_comes_back_after_a_message_box(qtbot, window):
    window.activateWindow()
    window.drop_area.setFocus()
    window.stack.setCurrentWidget(window.splitter)  # the focused drop area is hidden, as after an open
    box = QMessageBox(QMessageBox.Icon.Information, "DefectSort", "Something to read", parent=window)
    box.open()
    qtbot.waitUntil(lambda: QApplication.focusWidget() is not None and QApplication.focusWidget().window() is box)
    box.accept()

    def focus_is_back():
        focused = QApplication.focusWidget()
        return focused is not None and focused.isVisible() and focused.window() is window

    qtbot.waitUntil(focus_is_back, timeout=2_000)  # without FocusReturner: no window is active any more


def test_photo_errors_say_what_to_do(qtbot, window, photo_zip):
    window.open_paths([photo_zip(1, broken=1)])
    wait_idle(qtbot, window, 2)
    error = next(e for e in window.model.entries() if not e.prediction.ok)
    assert "Pillow" not in error.prediction.error and "save it as JPEG" in error.prediction.error
    window.detail.show_entry(next(e for e in window.model.entries() if e.prediction.ok))
    assert "Unusualness" not in window.detail.facts.text() or "(Unknown from" in window.detail.facts.text()
