"""Overnight runs: ``classify --out DIR --resume`` after a crash, per-phone verdicts, the morning report."""

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from core.cli import main
from core.journal.run_log import JOURNAL_FILE
from tests.images import encode, screen_photo, zip_bytes

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def returns(tmp_path):
    """A night of returns: phones in folders and in a ZIP, one broken photo, a hostile name."""
    root = tmp_path / "returns"
    for phone in range(6):
        folder = root / f"phone-{phone}"
        folder.mkdir(parents=True)
        for side, mark in (("front", "scratch" if phone % 3 == 0 else None), ("back", None)):
            screen_photo(10 * phone + len(side), mark=mark).save(folder / f"35678901234567{phone}_{side}.jpg")
    (root / "phone-5" / "broken.jpg").write_bytes(b"not a photo")
    members = {f"phone-z/35678901234567{9}_{i}.png": encode(screen_photo(90 + i, mark="stain")) for i in range(2)}
    members["phone-z/<img src=x onerror=alert(1)>.png"] = encode(screen_photo(99))
    (root / "late.zip").write_bytes(zip_bytes(members))
    return root


def classify(*args) -> int:
    return main(["classify", *map(str, args)])


def outputs(out: Path) -> tuple[dict, list[dict], str]:
    document = json.loads((out / "results.json").read_text())
    document.pop("drift")  # compares this run with the runs before it: not part of "the same results"
    return document, list(csv.DictReader((out / "results.csv").open())), (out / "phones.csv").read_text()


def test_a_resumed_run_writes_what_an_uninterrupted_run_writes(returns, random_bundle, tmp_path, capsys):
    model = ("--model", random_bundle.folder, "--group-by", "folder")
    assert classify(returns, "--out", tmp_path / "whole", *model) == 1  # the broken photo
    whole = outputs(tmp_path / "whole")
    assert whole[0]["summary"]["total"] == 16 and len(whole[0]["phones"]) == 7

    crashed = tmp_path / "crashed"
    classify(returns, "--out", crashed, *model)
    journal = crashed / JOURNAL_FILE
    lines = journal.read_bytes().splitlines(keepends=True)
    journal.write_bytes(b"".join(lines[:8]) + lines[8][:40])  # 7 results, then a line torn by the crash
    for name in ("results.json", "results.csv", "phones.csv"):
        (crashed / name).unlink()
    capsys.readouterr()

    assert classify(returns, "--out", crashed, "--resume", *model) == 1
    assert "This run: 9 new, 7 skipped (already done), 1 failed." in capsys.readouterr().out
    assert outputs(crashed) == whole
    assert len(journal.read_bytes().splitlines()) == 1 + 16  # header + each photo once: the torn line is gone


def test_resume_classifies_changed_photos_again_and_only_with_the_same_model(
    returns, random_bundle, strict_phone_bundle, tmp_path, capsys
):
    out = tmp_path / "out"
    classify(returns, "--out", out, "--model", random_bundle.folder)
    photo = returns / "phone-1" / "356789012345671_front.jpg"
    screen_photo(1234, mark="stain").save(photo)  # new bytes under the same name
    capsys.readouterr()
    classify(returns, "--out", out, "--model", random_bundle.folder, "--resume")
    assert "This run: 2 new, 14 skipped" in capsys.readouterr().out  # the changed photo, the broken one again

    classify(returns, "--out", out, "--model", strict_phone_bundle.folder, "--resume")
    said = capsys.readouterr().out
    assert "not resumed: another model wrote it (random-test 0.0.1)" in said and "16 new, 0 skipped" in said
    assert len(list(out.glob("run-journal *.jsonl"))) == 1  # the old journal is kept, not overwritten


def test_resume_needs_an_output_folder(returns, capsys):
    assert classify(returns, "--resume") == 2
    assert "--sort, --overlays and --resume need --out DIR" in capsys.readouterr().err


def test_the_morning_report_is_self_contained_and_escapes_names(returns, random_bundle, tmp_path):
    out = tmp_path / "out"
    classify(returns, "--out", out, "--model", random_bundle.folder, "--group-by", r"^(\d+)_", "--report", out)
    page = (out / "report.html").read_text()
    for section in ("Totals", "Drift", "Class mix and confidence", "Phones (", "least certain", "Model"):
        assert section in page
    assert "could not be classified (1)" in page and "broken.jpg" in page
    assert "<img src=x" not in page and "&lt;img src=x onerror=alert(1)&gt;" in page  # a hostile name stays text
    assert "http://" not in page and "https://" not in page  # nothing to fetch: it works offline
    assert page.count("data:image/jpeg;base64,") >= 10 and page.count("data:image/png;base64,") == 2
    phones = list(csv.DictReader((out / "phones.csv").open()))
    assert {"356789012345673", "356789012345679"} <= {row["phone"] for row in phones}


def _journal_lines(path: Path) -> int:
    try:
        return len(path.read_bytes().splitlines())
    except FileNotFoundError:
        return 0


@pytest.mark.slow
def test_kill_9_in_the_middle_of_a_night_loses_nothing(strict_phone_bundle, tmp_path):
    """A real process killed while it classifies the real-size phone model, then resumed."""
    photos = tmp_path / "night"
    photos.mkdir()
    for index in range(40):
        screen_photo(index, size=(960, 540), mark=("scratch", "stain", None, None)[index % 4]).save(
            photos / f"{index:03d}.jpg"
        )
    command = [sys.executable, "-m", "core", "classify", str(photos), "--model", str(strict_phone_bundle.folder)]
    environment = {**os.environ, "PYTHONPATH": str(ROOT)}
    subprocess.run([*command, "--out", str(tmp_path / "whole")], check=False, env=environment, cwd=tmp_path)
    journal = tmp_path / "killed" / JOURNAL_FILE
    process = subprocess.Popen([*command, "--out", str(tmp_path / "killed")], env=environment, cwd=tmp_path)
    deadline = time.monotonic() + 120
    while _journal_lines(journal) < 10 and time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait()
    done_before = _journal_lines(journal) - 1
    assert 9 <= done_before < 40, "the run should have been killed half-way"
    resumed = subprocess.run(
        [*command, "--out", str(tmp_path / "killed"), "--resume"],
        check=False,
        capture_output=True,
        text=True,
        env=environment,
    )
    assert f"{40 - done_before} new, {done_before} skipped" in resumed.stdout
    whole = json.loads((tmp_path / "whole" / "results.json").read_text())
    killed = json.loads((tmp_path / "killed" / "results.json").read_text())
    assert killed["items"] == whole["items"] and killed["summary"] == whole["summary"]
