"""Reading files, folders and ZIP archives, including hostile and broken ones."""

import struct
import zipfile

import pytest

from core import sources
from core.sources import SourceError, collect_items
from tests.images import encode, screen_photo, zip_bytes

PNG = encode(screen_photo(1))


def _write(path, data):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def test_folder_is_recursive_skips_junk_and_keeps_equal_names_apart(tmp_path):
    _write(tmp_path / "day1" / "1.jpg", PNG)
    _write(tmp_path / "day2" / "1.JPG", PNG)
    _write(tmp_path / "day2" / "x.WebP", PNG)
    for junk in ("notes.txt", ".DS_Store", "Thumbs.db", "day1/._1.jpg", "__MACOSX/day1/1.jpg"):
        _write(tmp_path / junk, b"junk")
    items = collect_items([tmp_path])
    assert [i.source for i in items] == [str(tmp_path / "day1" / "1.jpg"), str(tmp_path / "day2" / "1.JPG"),
                                         str(tmp_path / "day2" / "x.WebP")]
    assert all(i.error is None and i.read() == PNG for i in items)


def test_zip_members_are_read_in_place_with_their_origin(tmp_path):
    archive = _write(tmp_path / "batch.zip", zip_bytes({
        "returns/day1/1.jpg": PNG, "returns/day2/1.jpg": PNG, "__MACOSX/returns/._1.jpg": b"x",
        "returns/.DS_Store": b"x", "readme.txt": b"hello",
        "inner.zip": zip_bytes({"deep/2.png": PNG}),
    }))
    items = collect_items([archive])
    assert [i.source for i in items] == [f"{archive}!/inner.zip!/deep/2.png", f"{archive}!/returns/day1/1.jpg",
                                         f"{archive}!/returns/day2/1.jpg"]
    assert [i.name for i in items] == ["2.png", "1.jpg", "1.jpg"]
    assert all(i.read() == PNG for i in items)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["batch.zip"]  # nothing extracted


@pytest.mark.parametrize("data, reason", [
    (b"", "not a readable ZIP"),
    (b"PK\x03\x04 this is not really a zip", "not a readable ZIP"),
])
def test_fake_zip_is_one_error_item(tmp_path, data, reason):
    items = collect_items([_write(tmp_path / "fake.zip", data)])
    assert len(items) == 1 and reason in items[0].error


def test_truncated_zip_is_reported(tmp_path):
    data = zip_bytes({f"{i}.png": PNG for i in range(3)})
    items = collect_items([_write(tmp_path / "cut.zip", data[: len(data) // 2])])
    assert len(items) == 1 and "not a readable ZIP" in items[0].error


def test_empty_zip_says_it_held_no_images(tmp_path):
    items = collect_items([_write(tmp_path / "empty.zip", zip_bytes({"notes.txt": b"hi"}))])
    assert len(items) == 1 and items[0].error == "the ZIP archive holds no images"


def test_member_inflating_beyond_the_limit_is_refused(tmp_path, monkeypatch):
    monkeypatch.setattr(sources, "MAX_MEMBER_BYTES", 1000)
    items = collect_items([_write(tmp_path / "bomb.zip", zip_bytes({"big.png": b"\0" * 50_000}))])
    with pytest.raises(SourceError, match="over the 1,000-byte limit"):
        items[0].read()


def test_member_lying_about_its_size_is_stopped_at_the_limit(tmp_path, monkeypatch):
    monkeypatch.setattr(sources, "MAX_MEMBER_BYTES", 1000)
    path = _write(tmp_path / "liar.zip", zip_bytes({"big.png": b"\0" * 50_000}))
    archive = zipfile.ZipFile(path)
    archive.getinfo("big.png").file_size = 10  # what a hostile central directory would claim
    with pytest.raises(SourceError):
        sources._read_member(archive, archive.getinfo("big.png"), 1000)


def test_encrypted_member_is_refused(tmp_path):
    data = bytearray(zip_bytes({"secret.png": PNG}))
    data[6:8] = struct.pack("<H", 0x1)  # local header: encrypted
    central = data.rfind(b"PK\x01\x02")
    data[central + 8:central + 10] = struct.pack("<H", 0x1)  # central directory: encrypted
    items = collect_items([_write(tmp_path / "locked.zip", bytes(data))])
    with pytest.raises(SourceError, match="encrypted"):
        items[0].read()


def test_missing_path_and_unsupported_file_are_error_items(tmp_path):
    items = collect_items([tmp_path / "nope.jpg", _write(tmp_path / "list.txt", b"x")])
    assert items[0].error == "file or folder not found"
    assert "unsupported file type" in items[1].error


def test_nesting_depth_is_limited(tmp_path, monkeypatch):
    monkeypatch.setattr(sources, "MAX_NESTING", 1)
    nested = zip_bytes({"a.zip": zip_bytes({"b.zip": zip_bytes({"c.png": PNG})})})
    items = collect_items([_write(tmp_path / "n.zip", nested)])
    assert len(items) == 1 and "nested deeper" in items[0].error
