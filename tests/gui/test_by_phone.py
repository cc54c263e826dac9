"""The "By phone" view: one card per phone, verdicts that follow the inspector, an export with phones and a report."""

import csv
import json
from pathlib import Path

from gui.gallery_model import ENTRY_ROLE
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
    assert [card.proxy.rowCount() for card in window.phones.cards] == [3, 3, 3]

    # the inspector settles B2: two photos good, one stain; B2's verdict becomes stain, decided by that photo
    photos = {e.prediction.name: e for e in window.model.entries()}
    window.relabel([photos["B2_0.jpg"].key, photos["B2_2.jpg"].key], "good")
    window.phones.select(photos["B2_1.jpg"].key)
    assert window.phones.current_entry().prediction.name == "B2_1.jpg"
    window.relabel_selection("stain")
    qtbot.waitUntil(lambda: "Stain" in _card(window, "B2").header.text())
    card = _card(window, "B2")
    assert "worst photo: B2_1.jpg" in card.header.text()
    assert card.proxy.index(0, 0).data(ENTRY_ROLE).prediction.name == "B2_1.jpg"  # the deciding photo first
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
