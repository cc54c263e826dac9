"""The window watching a photo station: its speed beside ``defectsort watch``, stalls, latency and memory.

    python -m tests.benchmarks.window_station [--same 600] [--photos 2000] [--rate 4] [--model NAME|DIR]

1. **Speed on the same photos**: ``--same`` real-sized phone photos (``../shared/data/phone-msd``,
   1920x1080 JPEGs; generated ones without it) are put in a folder, then ``defectsort watch FOLDER
   --until-idle`` sorts them, and the window (offscreen, its own process and settings) watching a copy of the
   folder does too. Photos a second are counted from the first result to the last (the model's loading
   left out of both).
2. **A station day in miniature**: the window watches an empty inbox while a writer copies ``--photos``
   photos into it at ``--rate`` photos a second, a phone (3 photos) at a time, some half-written for 3 s,
   every 25th phone as one ZIP (the writer of :mod:`tests.benchmarks.station`).

In the window a 10 ms timer on the GUI thread notes each gap between two ticks and the GUI thread's own CPU
in it: a long gap with little of its own CPU is the host (other threads, the GIL, a busy machine), a long
gap full of its own CPU is the window's work. Also reported: latency from a photo's arrival (its file
complete) to its thumbnail in the model, and resident memory at every 500 photos.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tests.benchmarks.service_load import ROOT, _photos
from tests.benchmarks.station import JournalTail, Station

TICK_MS = 10


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--same", type=int, default=600, help="photos for the speed comparison (0: skip)")
    parser.add_argument("--photos", type=int, default=2000, help="photos the station writes (0: skip)")
    parser.add_argument("--rate", type=float, default=4.0, help="photos a second the station writes")
    parser.add_argument("--model", metavar="NAME|DIR")
    parser.add_argument("--child", nargs=3, metavar=("INBOX", "EXPECTED", "REPORT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        inbox, expected, report = args.child
        _run_window(Path(inbox), int(expected), Path(report), args.model)
        return
    scratch = Path(tempfile.mkdtemp(prefix="window-station-"))
    photos = _photos(141, scratch)
    if args.same:
        _compare_speed(scratch, photos, args.same, args.model)
    if args.photos:
        _station_day(scratch, photos, args.photos, args.rate, args.model)
    shutil.rmtree(scratch, ignore_errors=True)


# -- the parent: what is written, what is compared ----------------------------------------------------------
def _fill(folder: Path, photos: list[Path], count: int) -> None:
    folder.mkdir(parents=True)
    for number in range(count):
        shutil.copyfile(photos[number % len(photos)], folder / f"phone{number // 3:05d}_{number % 3}.jpg")


def _environment(home: Path) -> dict[str, str]:
    """Fresh settings, journal and caches for one program (the ONNX export cache is shared: made once)."""
    return {
        **os.environ,
        "QT_QPA_PLATFORM": os.environ.get("QT_QPA_PLATFORM", "offscreen"),
        **{f"XDG_{kind}_HOME": str(home / kind.lower()) for kind in ("CONFIG", "STATE", "DATA")},
        "XDG_CACHE_HOME": str(home.parent / "cache"),
    }


def _window(inbox: Path, expected: int, report: Path, model: str | None, home: Path) -> subprocess.Popen:
    command = [sys.executable, "-m", "tests.benchmarks.window_station", "--child", str(inbox), str(expected)]
    command += [str(report)] + (["--model", model] if model else [])
    home.mkdir(parents=True, exist_ok=True)
    with open(home / "stderr.txt", "w") as errors:  # a file, not a pipe: a chatty window never blocks on it
        return subprocess.Popen(command, cwd=ROOT, env=_environment(home), stderr=errors, text=True)


def _compare_speed(scratch: Path, photos: list[Path], count: int, model: str | None) -> None:
    """Sort the same photos with ``defectsort watch --until-idle`` and with the window watching them."""
    _fill(scratch / "same-cli", photos, count)
    shutil.copytree(scratch / "same-cli", scratch / "same-window")
    out = scratch / "same-out"
    tail = JournalTail(out / "run-journal.jsonl")
    tail.start()
    command = [sys.executable, "-m", "core", "watch", str(scratch / "same-cli"), "--out", str(out), "--until-idle", "2"]
    command += ["--model", model] if model else []
    subprocess.run(command, cwd=ROOT, env=_environment(scratch / "home-cli"), capture_output=True, check=True)
    time.sleep(0.2)
    tail.stop.set()
    cli_rate = _rate(list(tail.first_line.values()))
    report = scratch / "same-window.json"
    window = _window(scratch / "same-window", count, report, model, scratch / "home-window")
    _wait(window, scratch / "home-window")
    measured = json.loads(report.read_text())
    window_rate = _rate(list(measured["results"].values()))
    print(f"speed on the same {count} photos (first result to last):")
    print(f"  defectsort watch --until-idle: {cli_rate:5.2f} photos/s ({len(tail.first_line)} photos)")
    print(
        f"  the window watching:           {window_rate:5.2f} photos/s ({len(measured['results'])} photos), "
        f"{window_rate / cli_rate:.2f}x the command line"
    )
    _print_gui(measured)
    _print_memory(measured["memory"])


def _station_day(scratch: Path, photos: list[Path], count: int, rate: float, model: str | None) -> None:
    """The window watches an inbox while a station writes into it."""
    inbox, report = scratch / "inbox", scratch / "station-window.json"
    inbox.mkdir()
    station = Station(inbox, photos, count, rate)
    expected = (count // 3) * 3
    window = _window(inbox, expected, report, model, scratch / "home-station")
    while not (scratch / "home-station" / "ready").exists():  # the model is loaded before the first photo lands
        if window.poll() is not None:
            raise RuntimeError(f"the window ended early:\n{_errors(scratch / 'home-station')}")
        time.sleep(0.2)
    started = time.monotonic()
    station.start()
    _wait(window, scratch / "home-station")
    measured = json.loads(report.read_text())
    latencies = sorted(
        measured["results"][source] - arrived
        for source, arrived in station.arrived.items()
        if source in measured["results"]
    )
    missing = len(set(station.arrived) - set(measured["results"]))
    print(
        f"station: {len(station.arrived)} photos at {rate} photos/s in {time.monotonic() - started:.0f} s; "
        f"in the window: {len(measured['results'])} ({missing} missing)"
    )
    if latencies:
        p95 = latencies[int(len(latencies) * 0.95)]
        print(
            f"  latency arrival -> thumbnail: p50 {statistics.median(latencies):.2f} s, p95 {p95:.2f} s, "
            f"max {latencies[-1]:.2f} s"
        )
    _print_gui(measured)
    _print_memory(measured["memory"])


def _wait(window: subprocess.Popen, home: Path) -> None:
    if window.wait(timeout=4 * 3600):
        raise RuntimeError(f"the window failed ({window.returncode}):\n{_errors(home)}")


def _errors(home: Path) -> str:
    return (home / "stderr.txt").read_text()[-3000:]


def _rate(times: list[float]) -> float:
    times = sorted(times)
    return (len(times) - 1) / (times[-1] - times[0]) if len(times) > 1 and times[-1] > times[0] else float("nan")


def _print_gui(measured: dict) -> None:
    gaps = sorted(measured["gaps"], key=lambda gap: gap[0])
    walls = [wall for wall, _ in gaps]
    longest_wall, own_cpu_then = gaps[-1]
    busiest = max(cpu for _, cpu in gaps)
    over = sum(1 for wall in walls if wall > 0.1)
    over_own = sum(1 for _, cpu in gaps if cpu > 0.1)
    print(
        f"  GUI thread, {len(gaps)} gaps between {TICK_MS} ms ticks: p50 {statistics.median(walls) * 1000:.0f} ms, "
        f"p99 {walls[int(len(walls) * 0.99)] * 1000:.0f} ms, longest {longest_wall * 1000:.0f} ms "
        f"(its own CPU in it {own_cpu_then * 1000:.0f} ms); gaps over 100 ms: {over}; "
        f"gaps with over 100 ms of its own CPU: {over_own} (most in one gap {busiest * 1000:.0f} ms)"
    )


def _print_memory(memory: list[list[float]]) -> None:
    print("  resident memory: " + ", ".join(f"{count:.0f} photos {mb:.0f} MB" for count, mb in memory))
    past_first = [(count, mb) for count, mb in memory if count >= 1000]
    if len(past_first) > 1:
        (first_count, first_mb), (last_count, last_mb) = past_first[0], past_first[-1]
        growth = (last_mb - first_mb) / (last_count - first_count) * 1000
        print(f"  growth past the first 1,000 photos: {growth:.1f} MB per 1,000 photos")


# -- the child: the window, measured from inside ----------------------------------------------------------
def _run_window(inbox: Path, expected: int, report: Path, model: str | None) -> None:
    """Open the window, watch ``inbox`` until ``expected`` photos are in and nothing is left to do, report."""
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    from gui.gallery_model import ENTRY_ROLE
    from gui.main_window import MainWindow
    from gui.settings import Settings

    app = QApplication([])
    settings = Settings()
    if model:
        settings.set("model", model)
    window = MainWindow(settings)
    window.resize(1280, 800)
    window.show()
    while window.bundle is None:
        app.processEvents()
        time.sleep(0.01)
    results: dict[str, float] = {}
    memory: list[list[float]] = []
    gaps: list[tuple[float, float]] = []
    last = [time.monotonic(), time.thread_time()]

    def tick() -> None:
        now, cpu = time.monotonic(), time.thread_time()
        gaps.append((now - last[0], cpu - last[1]))
        last[:] = [now, cpu]
        if len(results) >= expected and not window.busy:
            app.quit()

    def on_rows_inserted(_parent, first: int, last_row: int) -> None:
        now = time.monotonic()
        for row in range(first, last_row + 1):
            results.setdefault(window.model.index(row).data(ENTRY_ROLE).prediction.source, now)
        if len(results) // 500 > len(memory):
            memory.append([len(results), _rss_mb()])

    window.model.rowsInserted.connect(on_rows_inserted)
    timer = QTimer(interval=TICK_MS)
    timer.timeout.connect(tick)
    timer.start()
    window.folder_watch.watch(str(inbox))
    Path(os.environ["XDG_CONFIG_HOME"]).parent.joinpath("ready").touch()
    app.exec()
    memory.append([len(results), _rss_mb()])
    report.write_text(json.dumps({"results": results, "gaps": gaps[1:], "memory": memory}))
    window.client.shutdown()


def _rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


if __name__ == "__main__":
    main()
