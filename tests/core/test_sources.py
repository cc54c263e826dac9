"""Reading files, folders and ZIP archives, including hostile and broken ones."""

import io
import random
import struct
import tracemalloc
import zipfile

import pytest

from core.photos import sources
from core.photos.reader import SourceReader, read_once
from core.photos.sources import SourceError, collect_items, iter_items
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
    assert [i.source for i in items] == [
        str(tmp_path / "day1" / "1.jpg"),
        str(tmp_path / "day2" / "1.JPG"),
        str(tmp_path / "day2" / "x.WebP"),
    ]
    assert all(i.error is None and read_once(i.ref) == PNG for i in items)


def test_zip_members_are_read_in_place_with_their_origin(tmp_path):
    archive = _write(
        tmp_path / "batch.zip",
        zip_bytes(
            {
                "returns/day1/1.jpg": PNG,
                "returns/day2/1.jpg": PNG,
                "__MACOSX/returns/._1.jpg": b"x",
                "returns/.DS_Store": b"x",
                "readme.txt": b"hello",
                "inner.zip": zip_bytes({"deep/2.png": PNG}),
            }
        ),
    )
    items = collect_items([archive])
    assert [i.source for i in items] == [
        f"{archive}!/inner.zip!/deep/2.png",
        f"{archive}!/returns/day1/1.jpg",
        f"{archive}!/returns/day2/1.jpg",
    ]
    assert [i.name for i in items] == ["2.png", "1.jpg", "1.jpg"]
    assert items[0].ref.members == ("inner.zip", "deep/2.png") and items[1].ref.path == str(archive)
    with SourceReader() as reader:
        assert all(reader.read_item(i) == PNG for i in items)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["batch.zip"]  # nothing extracted


@pytest.mark.parametrize(
    "data, reason",
    [
        (b"", "not a readable ZIP"),
        (b"PK\x03\x04 this is not really a zip", "not a readable ZIP"),
    ],
)
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
        read_once(items[0].ref)


def test_member_lying_about_its_size_is_stopped_at_the_limit(tmp_path, monkeypatch):
    monkeypatch.setattr(sources, "MAX_MEMBER_BYTES", 1000)
    path = _write(tmp_path / "liar.zip", zip_bytes({"big.png": b"\0" * 50_000}))
    archive = zipfile.ZipFile(path)
    archive.getinfo("big.png").file_size = 10  # what a hostile central directory would claim
    with pytest.raises(SourceError):
        sources.read_member(archive, archive.getinfo("big.png"), 1000)


def test_encrypted_member_is_refused(tmp_path):
    data = bytearray(zip_bytes({"secret.png": PNG}))
    data[6:8] = struct.pack("<H", 0x1)  # local header: encrypted
    central = data.rfind(b"PK\x01\x02")
    data[central + 8 : central + 10] = struct.pack("<H", 0x1)  # central directory: encrypted
    items = collect_items([_write(tmp_path / "locked.zip", bytes(data))])
    with pytest.raises(SourceError, match="password-protected"):
        read_once(items[0].ref)


def test_missing_path_and_unsupported_file_are_error_items(tmp_path):
    items = collect_items([tmp_path / "nope.jpg", _write(tmp_path / "list.txt", b"x")])
    assert items[0].error == "file or folder not found"
    assert "unsupported file type" in items[1].error


def test_nesting_depth_is_limited(tmp_path, monkeypatch):
    monkeypatch.setattr(sources, "MAX_NESTING", 1)
    nested = zip_bytes({"a.zip": zip_bytes({"b.zip": zip_bytes({"c.png": PNG})})})
    items = collect_items([_write(tmp_path / "n.zip", nested)])
    assert len(items) == 1 and "nested deeper" in items[0].error


def test_a_large_inner_archive_is_inflated_to_disk_not_memory(tmp_path, monkeypatch):
    monkeypatch.setattr(sources, "NESTED_IN_MEMORY_BYTES", 64 * 1024)
    filler = random.Random(3).randbytes(16 * 1024 * 1024)  # incompressible: the inner ZIP is > 16 MB
    inner = zip_bytes({"filler.bin": filler, "day1/1.png": PNG}, compression=zipfile.ZIP_STORED)
    path = _write(tmp_path / "outer.zip", zip_bytes({"inner.zip": inner}))
    tracemalloc.start()
    try:
        items = collect_items([path])
        with SourceReader() as reader:
            photos = [reader.read_item(item) for item in items]
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert [item.source for item in items] == [f"{path}!/inner.zip!/day1/1.png"] and photos == [PNG]
    assert peak < 4 * 1024 * 1024  # the 16 MB inner archive never sat in memory whole


def test_an_inner_archive_over_the_limit_is_one_error_and_its_file_is_closed(tmp_path, monkeypatch):
    monkeypatch.setattr(sources, "NESTED_IN_MEMORY_BYTES", 1024)
    monkeypatch.setattr(sources, "MAX_NESTED_ARCHIVE_BYTES", 150_000)
    inner = zip_bytes({"a.png": PNG, "pad.bin": b"\0" * 50_000}, compression=zipfile.ZIP_STORED)
    items = collect_items([_write(tmp_path / "outer.zip", zip_bytes({"inner.zip": inner}))])
    assert len(items) == 1 and "not a readable ZIP archive" in items[0].error and "150,000-byte" in items[0].error
    archive = zipfile.ZipFile(io.BytesIO(zip_bytes({"ok.zip": zip_bytes({"a.png": PNG})})))
    opened = sources.open_nested_archive(archive, archive.getinfo("ok.zip"))
    opened.close()
    assert opened._spool.closed


def test_items_come_as_the_walk_finds_them(tmp_path):
    for i in range(3):
        _write(tmp_path / f"{i}.png", PNG)
    walk = iter_items([tmp_path, tmp_path / "missing"])
    assert next(walk).name == "0.png"  # nothing else was listed yet: a generator, not a list
    assert [i.name for i in walk] == ["1.png", "2.png", "missing"]


def test_archives_are_closed_when_the_reader_is_done_and_reopened_on_demand(tmp_path):
    archive = _write(tmp_path / "batch.zip", zip_bytes({"a.png": PNG, "inner.zip": zip_bytes({"b.png": PNG})}))
    items = collect_items([archive])
    reader = SourceReader()
    assert [reader.read_item(i) for i in items] == [PNG, PNG]
    assert _open_files(archive) == 1
    reader.close()
    assert _open_files(archive) == 0 and not reader._nested  # nothing locked, no inner bytes kept
    assert read_once(items[0].ref) == PNG and _open_files(archive) == 0


def test_a_photo_gone_from_its_archive_is_a_clear_error(tmp_path):
    archive = _write(tmp_path / "batch.zip", zip_bytes({"a.png": PNG, "b.png": PNG}))
    items = collect_items([archive])
    archive.write_bytes(zip_bytes({"a.png": PNG}))
    with pytest.raises(SourceError, match="no longer holds this photo"):
        read_once(items[1].ref)
    archive.unlink()
    with pytest.raises(SourceError, match="cannot open the ZIP archive"):
        read_once(items[0].ref)


def _open_files(path) -> int:
    """Return how many file descriptors of this process point at ``path`` (Linux)."""
    import os
    from pathlib import Path

    fds = Path("/proc/self/fd")
    if not fds.is_dir():
        pytest.skip("needs /proc to count open files")
    return sum(1 for fd in fds.iterdir() if os.path.realpath(fd) == str(Path(path).resolve()))
