"""Safe names, atomic writes, and finding bundled folders whatever the current directory."""

import sys

import pytest

from core import paths
from core.files import safe_file_name, unique_path, write_text_atomic


@pytest.mark.parametrize(
    "hostile, safe",
    [
        ("../../x.jpg", "x.jpg"),
        ("/abs/evil.jpg", "evil.jpg"),
        ("C:\\\\Windows\\\\a.png", "a.png"),
        ("con.jpg", "image_con.jpg"),
        ("", "image"),
        ("we?ird*na:me.jpg", "we_ird_na_me.jpg"),
        ("..", "image"),
    ],
)
def test_hostile_names_become_harmless(hostile, safe):
    assert safe_file_name(hostile) == safe


def test_unique_names_inside_the_folder(tmp_path):
    taken = set()
    (tmp_path / "a.jpg").write_bytes(b"x")
    assert unique_path(tmp_path, "a.jpg", taken).name == "a_2.jpg"  # exists on disk
    assert unique_path(tmp_path, "b.jpg", taken).name == "b.jpg"
    assert unique_path(tmp_path, "B.jpg", taken).name == "B_2.jpg"  # case-insensitive, as on Windows
    assert unique_path(tmp_path, "..", taken).resolve().parent == tmp_path.resolve()


def test_atomic_write_leaves_no_temporary_files(tmp_path):
    target = tmp_path / "sub" / "r.json"
    write_text_atomic(target, "one")
    write_text_atomic(target, "two")
    assert target.read_text() == "two" and [p.name for p in target.parent.iterdir()] == ["r.json"]


def test_bundled_folders_follow_the_package_or_the_frozen_root(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    assert (paths.bundled_weights_dir().parent / "core").is_dir()
    monkeypatch.setattr(sys, "_MEIPASS", str(tmp_path / "frozen"), raising=False)
    assert paths.resources_dir() == tmp_path / "frozen" / "resources"


def test_written_files_are_readable_by_others(tmp_path):
    target = tmp_path / "r.json"
    write_text_atomic(target, "x")
    assert target.stat().st_mode & 0o777 == 0o644
