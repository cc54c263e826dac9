"""Watched folders: a file is taken once it is complete and unchanged, once per version."""

import os

import pytest

from core.photos.arrivals import LISTING_SHARE, POLL_S, Arrivals, looks_complete
from tests.images import encode, screen_photo, zip_bytes


class Clock:
    def __init__(self):
        self.now = 1_000_000.0

    def __call__(self):
        return self.now


@pytest.fixture
def clock():
    return Clock()


def _write(path, data: bytes, mtime: float):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    os.utime(path, (mtime, mtime))


def test_a_file_is_taken_once_it_stopped_changing_and_only_once(tmp_path, clock):
    arrivals = Arrivals([tmp_path], say=print, settle_s=1.0, clock=clock)
    jpeg = encode(screen_photo(1), "JPEG")
    _write(tmp_path / "phone1" / "a.jpg", jpeg[:-500], clock.now)  # being copied
    assert arrivals.scan() == []
    clock.now += 0.5
    _write(tmp_path / "phone1" / "a.jpg", jpeg, clock.now)  # grew
    assert arrivals.scan() == []
    clock.now += 0.6
    assert arrivals.scan() == []  # unchanged for 0.6 s only
    clock.now += 0.5
    assert arrivals.scan() == [tmp_path / "phone1" / "a.jpg"]
    clock.now += 5
    assert arrivals.scan() == []  # taken once
    _write(tmp_path / "phone1" / "a.jpg", encode(screen_photo(2), "JPEG"), clock.now)  # replaced by the station
    clock.now += 0.3
    assert arrivals.scan() == []  # changed 0.3 s ago
    clock.now += 1.0
    assert arrivals.scan() == [tmp_path / "phone1" / "a.jpg"]


def test_files_already_there_are_taken_at_once_oldest_first_and_junk_is_not(tmp_path, clock):
    _write(tmp_path / "b.png", encode(screen_photo(1)), clock.now - 50)
    _write(tmp_path / "a.jpg", encode(screen_photo(2), "JPEG"), clock.now - 100)
    _write(tmp_path / "notes.txt", b"station log", clock.now - 100)
    _write(tmp_path / ".hidden.jpg", encode(screen_photo(3), "JPEG"), clock.now - 100)
    _write(tmp_path / "c.jpg.part", b"partial", clock.now - 100)
    assert Arrivals([tmp_path], clock=clock).scan() == [tmp_path / "a.jpg", tmp_path / "b.png"]


def test_a_file_whose_end_is_missing_waits_then_goes_as_it_is(tmp_path, clock):
    said = []
    arrivals = Arrivals([tmp_path], say=said.append, settle_s=1.0, incomplete_wait_s=30.0, clock=clock)
    _write(tmp_path / "stalled.jpg", encode(screen_photo(1), "JPEG")[:3000], clock.now)  # the writer stalled
    arrivals.scan()
    clock.now += 10
    assert arrivals.scan() == []  # unchanged, but no end-of-image marker yet
    clock.now += 25
    assert arrivals.scan() == [tmp_path / "stalled.jpg"]  # the decoder will say it is truncated


def test_a_folder_that_cannot_be_listed_is_said_once_and_again_when_it_is_back(tmp_path, clock):
    said = []
    share = tmp_path / "share"
    arrivals = Arrivals([share], say=said.append, clock=clock)
    assert arrivals.scan() == [] and arrivals.scan() == []
    _write(share / "a.jpg", encode(screen_photo(1), "JPEG"), clock.now - 10)
    assert arrivals.scan() == [share / "a.jpg"]
    assert len(said) == 2 and said[0].startswith("error: cannot list") and "can be listed again" in said[1]


@pytest.mark.parametrize(
    "name, make",
    [
        ("a.jpg", lambda: encode(screen_photo(1), "JPEG")),
        ("a.png", lambda: encode(screen_photo(1), "PNG")),
        ("a.webp", lambda: encode(screen_photo(1), "WEBP")),
        ("a.bmp", lambda: encode(screen_photo(1), "BMP")),
        ("a.zip", lambda: zip_bytes({"x.jpg": encode(screen_photo(1), "JPEG")})),
    ],
)
def test_complete_files_look_complete_and_cut_ones_do_not(tmp_path, name, make):
    data = make()
    path = tmp_path / name
    path.write_bytes(data)
    assert looks_complete(path)
    path.write_bytes(data[: len(data) * 2 // 3])
    assert not looks_complete(path)


def test_a_file_that_never_stops_growing_is_said_once_and_never_taken_half(tmp_path, clock):
    said = []
    arrivals = Arrivals([tmp_path], say=said.append, settle_s=1.0, clock=clock)
    jpeg = encode(screen_photo(3), "JPEG")
    for minute in range(15):  # a stuck copy appends a little every half minute, for a quarter of an hour
        for _ in range(2):
            _write(tmp_path / "stuck.jpg", jpeg[: 1000 + 100 * (2 * minute + _)], clock.now)
            assert arrivals.scan() == []
            clock.now += 30
    assert len(said) == 1 and "stuck.jpg" in said[0] and "still being written after 10 minutes" in said[0]


def test_a_folder_that_takes_long_to_list_is_listed_less_often(tmp_path, clock, monkeypatch):
    arrivals = Arrivals([tmp_path], say=print, clock=clock)
    assert arrivals.next_scan_in() == POLL_S
    ticks = iter([100.0, 100.3])  # a share with 10,000 files: a listing takes 0.3 s
    monkeypatch.setattr("core.photos.arrivals.time.monotonic", lambda: next(ticks))
    arrivals.scan()
    assert arrivals.next_scan_in() == pytest.approx(LISTING_SHARE * 0.3) and arrivals.next_scan_in(poll_s=5.0) == 5.0
