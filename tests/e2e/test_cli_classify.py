"""``defectsort classify`` end to end on a generated ZIP: JSON, CSV, sorted copies, overlays."""

import csv
import json
import subprocess
import sys

import pytest

from core.cli import main
from tests.images import encode, screen_photo, zip_bytes

PHOTOS = {
    "returns/day1/1.jpg": encode(screen_photo(1, mark="scratch"), "JPEG"),
    "returns/day2/1.jpg": encode(screen_photo(2, mark="stain"), "JPEG"),
    "returns/day2/2.png": encode(screen_photo(3)),
    "../../escape.jpg": encode(screen_photo(4), "JPEG"),
    "/abs/evil.jpg": encode(screen_photo(5), "JPEG"),
    "returns/notes.txt": b"not a photo",
    "returns/broken.jpg": b"this is text",
    "__MACOSX/returns/._1.jpg": b"junk",
}


@pytest.fixture
def batch_zip(tmp_path):
    path = tmp_path / "in" / "batch.zip"
    path.parent.mkdir()
    path.write_bytes(zip_bytes(PHOTOS))
    return path


def test_classify_writes_every_output_inside_out(batch_zip, random_bundle, tmp_path, capsys):
    out = tmp_path / "out"
    code = main(
        [
            "classify",
            str(batch_zip),
            "--model",
            str(random_bundle.folder),
            "--out",
            str(out),
            "--json",
            str(out / "results.json"),
            "--csv",
            str(out / "results.csv"),
            "--sort",
            "--overlays",
        ]
    )
    assert code == 1  # one broken photo
    document = json.loads((out / "results.json").read_text())
    assert document["model"]["name"] == "random-test" and len(document["model"]["sha256"]) == 64
    assert document["summary"]["total"] == 6 and document["summary"]["errors"] == 1
    items = {i["source"].split("!/", 1)[1]: i for i in document["items"]}
    assert set(items) == {
        "returns/day1/1.jpg",
        "returns/day2/1.jpg",
        "returns/day2/2.png",
        "../../escape.jpg",
        "/abs/evil.jpg",
        "returns/broken.jpg",
    }
    assert items["returns/broken.jpg"]["status"] == "error"
    assert set(document["items"][0]) >= {
        "source",
        "name",
        "label",
        "confidence",
        "probabilities",
        "status",
        "error",
        "peak",
        "box",
        "explanation",
    }
    rows = list(csv.DictReader((out / "results.csv").open()))
    assert len(rows) == 6 and {"p_good", "p_stain", "explanation"} <= set(rows[0])
    copies = sorted(
        p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file() and p.parent.name != "overlays"
    )
    assert len([c for c in copies if not c.startswith(("results", "run-journal"))]) == 5
    assert sum(c.endswith(("1.jpg", "1_2.jpg")) for c in copies) >= 2  # equal names kept apart
    assert len(list((out / "overlays").glob("*.png"))) == 5
    user_cache = (tmp_path / "user" / "cache").resolve()  # the ONNX Runtime backend's exported model
    user_data = (tmp_path / "user" / "data").resolve()  # the run history (drift "against usual")
    written = {
        p.resolve()
        for p in tmp_path.rglob("*")
        if p.is_file() and not p.resolve().is_relative_to(user_cache) and not p.resolve().is_relative_to(user_data)
    }
    assert all(str(p).startswith(str(out.resolve())) or p == batch_zip.resolve() for p in written)
    assert "Classified 5 of 6 items" in capsys.readouterr().out


def test_exit_codes(batch_zip, random_bundle, tmp_path):
    assert main(["classify", str(batch_zip), "--model", str(tmp_path / "missing")]) == 2
    assert main(["classify", str(batch_zip), "--sort", "--model", str(random_bundle.folder)]) == 2
    good = tmp_path / "good.png"
    good.write_bytes(PHOTOS["returns/day2/2.png"])
    assert main(["classify", str(good), "--model", str(random_bundle.folder)]) == 0


def test_console_script_runs(batch_zip, random_bundle, tmp_path):
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "core",
            "classify",
            str(batch_zip),
            "--model",
            str(random_bundle.folder),
            "--json",
            str(tmp_path / "r.json"),
        ],
        capture_output=True,
        check=False,
        text=True,
    )
    assert result.returncode == 1, result.stderr
    assert "error: " in result.stderr and "broken.jpg" in result.stderr


def test_selftest_passes_with_a_working_model(random_bundle, monkeypatch, capsys):
    monkeypatch.setenv("DEFECTSORT_MODELS", str(random_bundle.folder.parent))
    monkeypatch.setattr("core.model.registry.DEFAULT_MODEL", "random-test")
    assert main(["--selftest"]) == 0
    out = capsys.readouterr().out
    assert "Self-test passed." in out and "FAIL" not in out


def test_selftest_fails_clearly_without_a_model(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr("core.model.registry.model_search_dirs", lambda: [tmp_path])
    assert main(["--selftest"]) == 1
    assert "FAIL  load model" in capsys.readouterr().out


def test_launcher_opens_the_window_for_bare_paths(monkeypatch, tmp_path):
    opened = []
    monkeypatch.setattr("gui.command.run", lambda args: opened.append(args.paths) or 0)
    photo = tmp_path / "a.png"
    photo.write_bytes(PHOTOS["returns/day2/2.png"])
    from gui.launcher import main as launcher_main

    assert launcher_main([str(photo)]) == 0
    assert launcher_main([]) == 0
    assert opened == [[str(photo)], []]


def test_sorted_folders_hold_what_the_results_say(strict_phone_bundle, tmp_path):
    """``classify --sort``: a class folder holds only photos settled in it; Review and Unknown have their own."""
    from tests.conftest import GOLDEN

    out = tmp_path / "sorted"
    main(["classify", str(GOLDEN), "--model", str(strict_phone_bundle.folder), "--out", str(out), "--sort"])
    document = json.loads((out / "results.json").read_text())
    folder_of = {p.name: p.parent.name for p in out.rglob("*") if p.is_file() and p.parent != out}
    statuses = {item["status"] for item in document["items"]}
    assert statuses == {"ok", "review", "unknown", "error"}  # every case occurs
    for item in document["items"]:
        expected = {"ok": item["final_label"], "review": "review", "unknown": "unknown"}.get(item["status"])
        assert folder_of.get(item["name"]) == expected, item["name"]
        assert item["model_status"] == item["status"]  # nobody inspected: the final word is the model's
    summary = document["summary"]
    counts = {folder: list(folder_of.values()).count(folder) for folder in set(folder_of.values())}
    assert counts == {**summary["by_label"], "review": summary["review"], "unknown": summary["unknown"]}
    assert summary["total"] == sum(counts.values()) + summary["errors"]
