"""The "By phone" view: one card per phone, verdicts that follow the inspector, an export with phones and a report."""

import csv
import json
from pathlib import Path

from core.results.phones import phone_verdict
from gui.gallery_model import ENTRY_ROLE
from gui.phone_gallery import PhoneCard
from tests.gui.conftest import export_and_wait, open_window, wait_idle
from tests.images import screen_photo


def _phones_folder(tmp_path):
    root = tmp_path / "returns"
    for number, phone in enumerate(("A1", "B2", "C3")):
        (root / phone).mkdir(parents=True)
        for side in range(3):
            screen_photo(10 * number + side).save(root / phone / f"{phone}_{side}.jpg")
    return root


def _card(window, phone_suffix):
    return next(card for card in window.phones.cards if card.phone.endswith(phone_suffix))


def test_phone_cards_follow_relabels_and_export_with_phones_and_report(qtbot, window, monkeypatch, tmp_path):
    window.open_paths([_phones_folder(tmp_path)])
    wait_idle(qtbot, window, 9)
    window.toolbar.by_phone.setChecked(True)
    assert window.view is window.phones and window.settings.get("by_phone")
    qtbot.waitUntil(lambda: len(window.phones.cards) == 3)
    assert [card.photos.rowCount() for card in window.phones.cards] == [3, 3, 3]

    # the inspector settles B2: two photos good, one stain; B2's verdict becomes stain, decided by that photo
    photos = {e.prediction.name: e for e in window.model.entries()}
    window.relabel([photos["B2_0.jpg"].key, photos["B2_2.jpg"].key], "good")
    window.phones.select(photos["B2_1.jpg"].key)
    assert window.phones.current_entry().prediction.name == "B2_1.jpg"
    window.relabel_selection("stain")
    qtbot.waitUntil(lambda: "Stain" in _card(window, "B2").header.text())
    card = _card(window, "B2")
    assert "worst photo: B2_1.jpg" in card.header.text()
    assert card.photos.index(0, 0).data(ENTRY_ROLE).prediction.name == "B2_1.jpg"  # the deciding photo first
    assert window.phones.current_entry().prediction.name == "B2_1.jpg"  # still selected after the rebuild

    folder = export_and_wait(qtbot, window, monkeypatch, tmp_path / "export", overlays=False, report=True)
    with open(f"{folder}/phones.csv") as table:
        rows = {row["phone"].rsplit("/", 1)[-1]: row for row in csv.DictReader(table)}
    assert rows["B2"]["verdict"] == "stain" and rows["B2"]["decided_by"].endswith("B2_1.jpg")
    document = json.loads(Path(folder, "results.json").read_text())
    assert len(document["phones"]) == 3
    page = Path(folder, "report.html").read_text()
    assert "Phones (3," in page and "data:image/jpeg;base64," in page


def test_the_grouping_pattern_is_checked_and_kept(qtbot, random_bundle, monkeypatch, tmp_path):
    window = open_window(qtbot, monkeypatch, random_bundle)
    window.toolbar.grouping.setText("([0-9")
    window.toolbar.grouping.editingFinished.emit()
    assert "not a valid regular expression" in window.toolbar.grouping.toolTip()
    assert window.phones.grouping.spec == "folder"  # the last valid one stays
    window.toolbar.grouping.setText(r"^([A-Z]\d)_")
    window.toolbar.grouping.editingFinished.emit()
    assert window.phones.grouping.spec == r"^([A-Z]\d)_" and window.settings.get("group_by") == r"^([A-Z]\d)_"
    window.client.shutdown()


def test_only_the_phones_that_changed_are_worked_out_again(qtbot, window, monkeypatch, tmp_path):
    """A station adds photos all day: an arrival or a relabel redraws its own phone's card, never the others."""
    told, judged = [], []
    show_photos = PhoneCard.show_photos
    monkeypatch.setattr(
        PhoneCard, "show_photos", lambda card, *args: (told.append(card.phone), show_photos(card, *args))
    )
    monkeypatch.setattr(
        "gui.phone_gallery.phone_verdict", lambda phone, *args: (judged.append(phone), phone_verdict(phone, *args))[1]
    )
    root = _phones_folder(tmp_path)
    window.open_paths([root])
    wait_idle(qtbot, window, 9)
    window.toolbar.by_phone.setChecked(True)
    qtbot.waitUntil(lambda: len(window.phones.cards) == 3)
    cards = list(window.phones.cards)
    told.clear(), judged.clear()

    photos = {e.prediction.name: e for e in window.model.entries()}
    window.relabel([photos["B2_0.jpg"].key], "oil")
    qtbot.waitUntil(lambda: told == [str(root / "B2")])
    assert [Path(phone).name for phone in judged] == ["B2"] and window.phones.cards == cards

    told.clear(), judged.clear()
    (root / "D4").mkdir()
    screen_photo(40).save(root / "D4" / "D4_0.jpg")
    window.open_paths([root / "D4"])
    wait_idle(qtbot, window, 10)
    qtbot.waitUntil(lambda: len(window.phones.cards) == 4)
    assert window.phones.cards[:3] == cards and window.phones.cards[3].phone.endswith("D4")  # a new card at the end
    assert told == [] and [Path(phone).name for phone in judged] == ["D4"]

    window.remove([photos["A1_0.jpg"].key, photos["A1_1.jpg"].key, photos["A1_2.jpg"].key])  # the whole phone goes
    qtbot.waitUntil(lambda: len(window.phones.cards) == 3)
    window.undo_stack.undo()  # and comes back, where it was
    qtbot.waitUntil(lambda: len(window.phones.cards) == 4)
    assert window.phones.cards[0].phone.endswith("A1") and window.phones.cards[0].photos.rowCount() == 3


def test_a_day_of_phones_shows_the_newest_and_says_so(qtbot, window, monkeypatch, tmp_path):
    monkeypatch.setattr("gui.phone_gallery.MAX_CARDS", 2)
    window.open_paths([_phones_folder(tmp_path)])
    wait_idle(qtbot, window, 9)
    window.toolbar.by_phone.setChecked(True)
    qtbot.waitUntil(lambda: len(window.phones.cards) == 2)
    assert [card.phone[-2:] for card in window.phones.cards] == ["B2", "C3"]
    note = window.phones.newest_note
    assert "Showing the newest 2 of 3 phones" in note.text() and note.isVisible()
    window.toolbar.filter.setText("A1_")
    qtbot.waitUntil(lambda: [card.phone[-2:] for card in window.phones.cards] == ["A1"])
    assert not note.isVisible()
