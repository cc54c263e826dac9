"""``defectsort serve`` as a real process (waitress), and its web page in a real headless browser."""

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests.images import encode, screen_photo, zip_bytes

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOT = Path(os.environ.get("DEFECTSORT_PAGE_SCREENSHOT", ""))  # set it to keep the page's picture


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def server(random_bundle, tmp_path):
    """Return the base URL of a running ``defectsort serve`` (stopped after the test), its model a copy of the
    random one whose review threshold (50 %) puts its photos (25 % sure) in Review; it watches ``station``."""
    model = tmp_path / "random-review"
    shutil.copytree(random_bundle.folder, model)
    meta = json.loads((model / "model.json").read_text())
    (model / "model.json").write_text(json.dumps({**meta, "thresholds": {**meta["thresholds"], "review": 0.5}}))
    port = _free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "core",
            "serve",
            "--port",
            str(port),
            "--model",
            str(model),
            "--jobs-dir",
            str(tmp_path / "service"),
            "--max-upload-mb",
            "2",
            "--watch",
            str(tmp_path / "station"),
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    for _ in range(300):
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=1) as answer:
                if json.load(answer)["status"] == "ok":
                    break
        except OSError:
            if process.poll() is not None:
                pytest.fail(process.stdout.read())
            time.sleep(0.1)
    yield url
    process.terminate()
    process.wait(10)


def _post(url: str, data: bytes) -> dict:
    request = urllib.request.Request(url, data=data, headers={"Content-Type": "application/octet-stream"})
    with urllib.request.urlopen(request, timeout=60) as answer:
        return json.load(answer)


@pytest.mark.slow
def test_the_served_api_answers_over_http(server):
    photo = encode(screen_photo(1, mark="scratch"), "JPEG")
    item = _post(f"{server}/predict", photo)
    assert item["status"] in ("ok", "review", "unknown") and set(item["probabilities"]) == {
        "good",
        "oil",
        "scratch",
        "stain",
    }
    assert set(_post(f"{server}/predict_batch", zip_bytes({"1.jpg": photo, "2.jpg": b"x"}))) == {"1.jpg", "2.jpg"}


def test_an_upload_over_the_limit_gets_its_json_413_even_while_still_sending(server):
    oversized = os.urandom(5 * 1024 * 1024)  # 5 MB to a 2 MB service: a plain client must read the answer
    with pytest.raises(urllib.error.HTTPError) as refused:
        _post(f"{server}/predict", oversized)
    assert refused.value.code == 413 and "error" in json.load(refused.value)


def _chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.mark.slow
@pytest.mark.skipif(_chromium() is None, reason="needs Debian's chromium (apt-get install chromium)")
def test_the_page_classifies_dropped_photos_and_a_zip_in_a_real_browser(server, tmp_path):
    playwright = pytest.importorskip("playwright.sync_api")
    photos = []
    for seed, mark in enumerate([None, "scratch", "stain"]):
        path = tmp_path / f"phone{seed}.jpg"
        path.write_bytes(encode(screen_photo(seed, mark=mark), "JPEG"))
        photos.append(path)
    archive = tmp_path / "batch.zip"
    archive.write_bytes(zip_bytes({"day1/a.jpg": photos[0].read_bytes(), "day1/notes.jpg": b"not a photo"}))
    fake = tmp_path / "fake.zip"
    fake.write_bytes(b"this is no archive")  # refused by the service: it must still get a tile
    with playwright.sync_playwright() as driver:
        browser = driver.chromium.launch(executable_path=_chromium(), args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1200, "height": 800})
        page.goto(server)  # under its Content-Security-Policy: the checks below wait without evaluating strings
        playwright.expect(page.locator("#model")).to_have_text(re.compile(r"^Model random-test"))
        page.set_input_files("#files", [*map(str, photos), str(archive), str(fake)])
        playwright.expect(page.locator(".tile")).to_have_count(6, timeout=60_000)
        assert page.locator(".tile img").count() == 4  # overlays of the three photos and of the one in the ZIP
        assert page.locator("section[data-group='error'] .tile").count() == 2  # notes.jpg and the refused ZIP
        playwright.expect(page.locator("#status")).to_contain_text("5 of 5 files done: 1 refused")
        assert page.request.get(f"{server}/favicon.ico").headers["content-type"] == "image/png"
        badges = page.locator(".tile .badge").all_inner_texts()
        assert all(text.endswith("%") or text in ("Unknown", "error") for text in badges)
        review = page.locator("section[data-group='review'] .tile .badge").all_inner_texts()
        assert len(review) == 4 and all(re.match(r"^(Good|Oil|Scratch|Stain)\? \d", text) for text in review)
        with page.expect_download() as download:
            page.click("#download-json")
        saved = json.loads(Path(download.value.path()).read_text())
        assert len(saved["items"]) == 6 and "overlay_png" not in saved["items"][0]
        if SCREENSHOT.name:
            page.screenshot(path=str(SCREENSHOT), full_page=True)
        browser.close()


@pytest.mark.skipif(_chromium() is None, reason="needs Debian's chromium (apt-get install chromium)")
def test_the_page_shows_the_watched_folders_photos_as_they_land(server, tmp_path):
    playwright = pytest.importorskip("playwright.sync_api")
    station = tmp_path / "station"
    station.mkdir(exist_ok=True)
    (station / "first.jpg").write_bytes(encode(screen_photo(1, mark="oil"), "JPEG"))
    with playwright.sync_playwright() as driver:
        browser = driver.chromium.launch(executable_path=_chromium(), args=["--no-sandbox"])
        page = browser.new_page()
        page.goto(server)
        playwright.expect(page.locator(".tile")).to_have_count(1, timeout=30_000)
        (station / "second.jpg").write_bytes(encode(screen_photo(2, mark="stain"), "JPEG"))  # while the page is open
        playwright.expect(page.locator(".tile")).to_have_count(2, timeout=30_000)
        playwright.expect(page.locator("#watch")).to_have_text(f"Watching {station}: 2 photos so far")
        names = page.locator(".tile .name").all_inner_texts()
        assert [name.endswith(("first.jpg", "second.jpg")) for name in names] == [True, True]
        browser.close()
