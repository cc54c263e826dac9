"""GUI fixtures: a window using the small random bundle, with isolated settings."""

import time

import pytest

from tests.images import encode, screen_photo, zip_bytes


@pytest.fixture(autouse=True)
def no_modal_questions_at_close(monkeypatch):
    """Closing a window with unexported corrections asks; tests that do not answer it themselves quit
    keeping the session (what the next start would offer to restore)."""
    monkeypatch.setattr("gui.session_dialogs.ask_quit_with_unexported", lambda *_: "keep")


def open_window(qtbot, monkeypatch, bundle):
    """Return a shown main window with ``bundle`` loaded (settings isolated per test)."""
    monkeypatch.setenv("DEFECTSORT_MODELS", str(bundle.folder.parent))
    from gui.main_window import MainWindow
    from gui.settings import Settings

    settings = Settings()
    settings.set("model", bundle.name)
    win = MainWindow(settings)
    qtbot.addWidget(win)
    win.resize(1200, 800)
    win.show()
    qtbot.waitUntil(lambda: win.bundle is not None, timeout=20_000)
    return win


@pytest.fixture
def window(qtbot, random_bundle, monkeypatch):
    win = open_window(qtbot, monkeypatch, random_bundle)
    yield win
    win.client.shutdown()


@pytest.fixture
def strict_window(qtbot, strict_phone_bundle, monkeypatch):
    """Return a window with the strict phone bundle (its golden photos come out ok, review, unknown and error)."""
    win = open_window(qtbot, monkeypatch, strict_phone_bundle)
    yield win
    win.client.shutdown()


@pytest.fixture
def photo_zip(tmp_path):
    def make(count: int, broken: int = 1, first: int = 0):
        photos = {
            f"day1/{i:03d}.jpg": encode(screen_photo(i, mark=[None, "scratch", "stain", "oil"][i % 4]), "JPEG")
            for i in range(first, first + count)
        }
        photos.update({f"day1/broken{i}.jpg": b"not a photo" for i in range(broken)})
        path = tmp_path / f"batch{count}-{time.monotonic_ns()}.zip"
        path.write_bytes(zip_bytes(photos))
        return path

    return make


def export_and_wait(qtbot, window, monkeypatch, target, overlays: bool, report: bool = False) -> str:
    """Export the session into ``target`` as if chosen in the dialog. :returns: the folder written."""
    monkeypatch.setattr("gui.dialogs.ask_export", lambda *_: (str(target), overlays, report))
    monkeypatch.setattr("gui.dialogs.show_export_done", lambda *_: None)
    folders = []
    window.client.worker.export_finished.connect(folders.append)
    window.export()
    qtbot.waitUntil(lambda: len(folders) == 1, timeout=30_000)
    window.client.worker.export_finished.disconnect(folders.append)
    return folders[0]


def wait_idle(qtbot, window, expected: int, timeout: int = 60_000) -> None:
    """Wait until ``expected`` items arrived and no job is left."""
    qtbot.waitUntil(lambda: len(window.model.entries()) >= expected and not window.busy, timeout=timeout)
