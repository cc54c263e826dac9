"""GUI fixtures: a window using the small random bundle, with isolated settings."""

import time

import pytest

from tests.images import encode, screen_photo, zip_bytes


@pytest.fixture
def window(qtbot, random_bundle, monkeypatch):
    monkeypatch.setenv("DEFECTSORT_MODELS", str(random_bundle.folder.parent))
    from gui.main_window import MainWindow
    from gui.settings import Settings

    settings = Settings()
    settings.set("model", "random-test")
    win = MainWindow(settings)
    qtbot.addWidget(win)
    win.resize(1200, 800)
    win.show()
    qtbot.waitUntil(lambda: win.bundle is not None, timeout=20_000)
    yield win
    win.client.shutdown()


@pytest.fixture
def photo_zip(tmp_path):
    def make(count: int, broken: int = 1):
        photos = {f"day1/{i:03d}.jpg": encode(screen_photo(i, mark=[None, "scratch", "stain", "oil"][i % 4]), "JPEG")
                  for i in range(count)}
        photos.update({f"day1/broken{i}.jpg": b"not a photo" for i in range(broken)})
        path = tmp_path / f"batch{count}-{time.monotonic_ns()}.zip"
        path.write_bytes(zip_bytes(photos))
        return path
    return make


def wait_idle(qtbot, window, expected: int, timeout: int = 60_000) -> None:
    """Wait until ``expected`` items arrived and no job is left."""
    qtbot.waitUntil(lambda: len(window.model.entries()) >= expected and not window.busy, timeout=timeout)
