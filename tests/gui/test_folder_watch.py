"""File > Watch a folder: photos landing in a station folder appear as they arrive, once each."""

from tests.gui.conftest import wait_idle
from tests.images import encode, screen_photo, zip_bytes


def _land(folder, name: str, data: bytes) -> None:
    partial = folder / f"~{name}"  # written under a temporary name, then renamed: as stations copy
    partial.write_bytes(data)
    partial.rename(folder / name)


def test_photos_landing_in_a_watched_folder_appear_once_each(qtbot, window, tmp_path):
    station = tmp_path / "station"
    station.mkdir()
    first = encode(screen_photo(1, mark="scratch"), "JPEG")
    (tmp_path / "dropped.jpg").write_bytes(first)
    window.open_paths([tmp_path / "dropped.jpg"])
    wait_idle(qtbot, window, 1)

    window.folder_watch.watch(str(station))
    for seed in range(3):
        _land(station, f"phone1_{seed}.jpg", encode(screen_photo(seed + 10, mark="stain"), "JPEG"))
    qtbot.waitUntil(lambda: len(window.model.entries()) == 4, timeout=30_000)
    _land(
        station, "phone2.zip", zip_bytes({"front.png": encode(screen_photo(20)), "back.png": encode(screen_photo(21))})
    )
    qtbot.waitUntil(lambda: len(window.model.entries()) == 6, timeout=30_000)
    qtbot.waitUntil(lambda: "up to date" in window.folder_watch.label.text(), timeout=10_000)
    label = window.folder_watch.label.text()
    assert label == f"Watching {station}: 4 photos so far, up to date"  # the ZIP is one file taken
    assert window.folder_watch.action.isChecked()

    _land(station, "again.jpg", first)  # the photo dropped before, landing under another name: a new photo
    (station / "notes.txt").write_text("not a photo")
    qtbot.waitUntil(lambda: len(window.model.entries()) == 7, timeout=30_000)
    window.folder_watch.stop()
    qtbot.waitUntil(lambda: not window.folder_watch.label.isVisible(), timeout=10_000)
    _land(station, "late.jpg", encode(screen_photo(30), "JPEG"))
    qtbot.wait(1500)
    assert len(window.model.entries()) == 7 and not window.folder_watch.action.isChecked()
    sources = [entry.prediction.source for entry in window.model.entries()]
    assert len(sources) == len(set(sources))
