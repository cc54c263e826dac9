"""``defectsort watch`` as the team lead runs it: a station folder, a kill -9, a restart, Ctrl+C."""

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

from core.cli import main
from tests.images import encode, screen_photo

ROOT = Path(__file__).resolve().parents[2]


def _land(inbox: Path, phone: int, side: str) -> None:
    folder = inbox / f"phone-{phone}"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{side}.jpg").write_bytes(encode(screen_photo(10 * phone + len(side), mark="scratch"), "JPEG"))


def _watch(inbox: Path, out: Path, bundle, record: Path, *more: str) -> subprocess.Popen:
    hook = f'"{sys.executable}" -c "import sys; open(sys.argv[1], \'a\').write(sys.stdin.read() + chr(10))" "{record}"'
    command = [sys.executable, "-m", "core", "watch", str(inbox), "--out", str(out), "--model", str(bundle.folder)]
    command += ["--group-by", "folder", "--quiet", "1", "--settle", "0.2", "--poll", "0.1", "--on-phone-cmd", hook]
    return subprocess.Popen([*command, *more], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _lines(path: Path) -> list[str]:
    return path.read_text().splitlines() if path.exists() else []


def _wait_for(condition, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert condition()


def test_a_killed_watch_restarts_where_it_was_and_ctrl_c_writes_everything(tmp_path, random_bundle):
    inbox, out, record = tmp_path / "station", tmp_path / "sorted", tmp_path / "verdicts.jsonl"
    inbox.mkdir()
    watch = _watch(inbox, out, random_bundle, record)
    for phone in range(3):
        _land(inbox, phone, "front")
        _land(inbox, phone, "back")
    journal = out / "run-journal.jsonl"
    _wait_for(lambda: len(_lines(journal)) == 1 + 6)
    _wait_for(lambda: len(_lines(record)) == 3)  # each phone complete after a quiet second
    # The kill waits for the watch's own delivery journal: a kill between the receiver taking a verdict and
    # that line being written sends the verdict again after the restart (at least once, as documented).
    _wait_for(lambda: len(_lines(out / "deliveries.jsonl")) == 3)
    watch.kill()  # kill -9
    watch.wait()

    _land(inbox, 3, "front")  # while the watch is down
    _land(inbox, 0, "side")  # a late photo of a phone already delivered
    watch = _watch(inbox, out, random_bundle, record)
    _wait_for(lambda: len(_lines(journal)) == 1 + 8)
    _wait_for(lambda: len(_lines(record)) == 5)
    watch.send_signal(signal.SIGINT)  # Ctrl+C
    stdout, stderr = watch.communicate(timeout=60)
    assert watch.returncode == 0, stderr
    assert "Stopped. 8 photos" in stdout and "(6 from before, 2 new, 0 failed)" in stdout

    verdicts = [json.loads(line) for line in _lines(record)]
    phones = sorted(Path(v["phone"]).name for v in verdicts)
    assert phones == ["phone-0", "phone-0", "phone-1", "phone-2", "phone-3"], verdicts
    assert len(verdicts[-1]["photos"]) + len(verdicts[-2]["photos"]) == 4  # phone-0 again with 3 photos
    classify_json = tmp_path / "classify.json"
    main(["classify", str(inbox), "--model", str(random_bundle.folder), "--json", str(classify_json)])
    watched = json.loads((out / "results.json").read_text())["items"]
    classified = json.loads(classify_json.read_text())["items"]
    assert sorted(watched, key=lambda i: i["source"]) == sorted(classified, key=lambda i: i["source"])
    assert (out / "phones.csv").read_text().count("\n") == 1 + 4


def test_watch_says_what_is_wrong_with_its_options_in_one_line(tmp_path, random_bundle, capsys):
    code = main(["watch", str(tmp_path), "--out", str(tmp_path / "o"), "--on-phone", "http://127.0.0.1:9/x"])
    assert code == 2
    assert capsys.readouterr().err.strip() == (
        "error: --on-phone and --on-phone-cmd need --group-by (which photos show the same phone)"
    )
    code = main(["watch", str(tmp_path), "--out", str(tmp_path / "o"), "--group-by", "folder", "--on-phone", "ftp://x"])
    assert code == 2 and "http:// or https://" in capsys.readouterr().err
