"""A simulated photo station feeding ``defectsort watch``: exactly once, latency, kill -9, deliveries.

    python -m tests.benchmarks.station [--photos 2000] [--rate 4] [--model NAME|DIR]

A writer thread copies real-sized phone photos (``../shared/data/phone-msd``, 1920x1080 JPEGs) into a
scratch inbox, a phone at a time (3 photos in a burst) at ``--rate`` photos a second: every 10th phone's
first photo is written half, left for 3 s, then finished; every 25th phone comes as one ZIP. Meanwhile
``defectsort watch --group-by ... --on-phone URL`` runs in its own process, sending verdicts to a
loopback webhook of this script. Half-way the watch is killed (SIGKILL) and started again at once.

Reported: photos written and classified, photos classified more than once (journal lines per source),
latency from a photo's arrival (its file complete) to its line in the run log (p50, p95, max; photos that
arrived while the watch was down are left out), phones delivered and delivered twice, and whether the
final ``results.json`` equals ``defectsort classify`` of the same inbox.
"""

from __future__ import annotations

import argparse
import io
import json
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import zipfile
from collections import Counter
from pathlib import Path

from tests.benchmarks.service_load import ROOT, _photos
from tests.verdict_receiver import VerdictReceiver

PHOTOS_PER_PHONE = 3


class Station(threading.Thread):
    """Writes the photos into ``inbox`` and notes when each one is complete."""

    def __init__(self, inbox: Path, photos: list[Path], count: int, rate: float):
        super().__init__(daemon=True)
        self.inbox, self.photos, self.count, self.rate = inbox, photos, count, rate
        self.arrived: dict[str, float] = {}  # source as the watch names it -> when its file was complete

    def run(self) -> None:
        phones = self.count // PHOTOS_PER_PHONE
        for phone in range(phones):
            started = time.monotonic()
            names = [f"phone{phone:05d}_{k}.jpg" for k in range(PHOTOS_PER_PHONE)]
            data = [self.photos[(phone * PHOTOS_PER_PHONE + k) % len(self.photos)].read_bytes() for k in range(3)]
            if phone % 25 == 24:
                self._write_zip(f"phone{phone:05d}.zip", names, data)
            else:
                for position, (name, photo) in enumerate(zip(names, data, strict=True)):
                    self._write(name, photo, stall=phone % 10 == 9 and position == 0)
            time.sleep(max(0.0, PHOTOS_PER_PHONE / self.rate - (time.monotonic() - started)))

    def _write(self, name: str, data: bytes, stall: bool) -> None:
        path = self.inbox / name
        with open(path, "wb") as out:
            if stall:
                out.write(data[: len(data) // 2])
                out.flush()
                time.sleep(3.0)
                out.write(data[len(data) // 2 :])
            else:
                out.write(data)
        self.arrived[str(path)] = time.monotonic()

    def _write_zip(self, name: str, names: list[str], data: list[bytes]) -> None:
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w") as archive:
            for member, photo in zip(names, data, strict=True):
                archive.writestr(member, photo)
        path = self.inbox / name
        path.write_bytes(buffer.getvalue())
        for member in names:
            self.arrived[f"{path}!/{member}"] = time.monotonic()


class JournalTail(threading.Thread):
    """Notes when each source's line appears in the run log, and how many lines each source has."""

    def __init__(self, journal: Path):
        super().__init__(daemon=True)
        self.journal = journal
        self.first_line: dict[str, float] = {}
        self.lines: Counter[str] = Counter()
        self.stop = threading.Event()

    def run(self) -> None:
        position = 0
        while not self.stop.is_set():
            if self.journal.exists():
                with open(self.journal, "rb") as stream:
                    stream.seek(position)
                    for line in iter(stream.readline, b""):
                        if not line.endswith(b"\n"):
                            break
                        position += len(line)
                        record = json.loads(line)
                        if "item" in record:
                            source = record["item"]["source"]
                            self.lines[source] += 1
                            self.first_line.setdefault(source, time.monotonic())
            time.sleep(0.02)


def _watch(inbox: Path, out: Path, url: str, model: str | None) -> subprocess.Popen:
    command = [sys.executable, "-m", "core", "watch", str(inbox), "--out", str(out)]
    command += ["--group-by", r"^(phone\d+)_", "--quiet", "5", "--on-phone", url]
    command += ["--model", model] if model else []
    return subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--photos", type=int, default=2000)
    parser.add_argument("--rate", type=float, default=2.5, help="photos a second the station writes")
    parser.add_argument("--model", metavar="NAME|DIR")
    args = parser.parse_args()
    scratch = Path(tempfile.mkdtemp(prefix="station-bench-"))
    inbox, out = scratch / "inbox", scratch / "out"
    inbox.mkdir()
    hook = VerdictReceiver()
    url = hook.url
    tail = JournalTail(out / "run-journal.jsonl")
    tail.start()
    watch = _watch(inbox, out, url, args.model)
    time.sleep(8)  # the model loads before the first photo lands
    station = Station(inbox, _photos(141, scratch), args.photos, args.rate)
    started = time.monotonic()
    station.start()
    down: tuple[float, float] = (0.0, 0.0)
    while station.is_alive():
        if not down[0] and len(station.arrived) >= args.photos // 2:
            watch.kill()  # kill -9
            watch.wait()
            down = (time.monotonic(), float("inf"))
            watch = _watch(inbox, out, url, args.model)
        time.sleep(0.1)
    expected = set(station.arrived)
    while not expected <= set(tail.first_line) and time.monotonic() - started < 3600:
        time.sleep(0.2)
    time.sleep(8)  # the last phones' quiet period, then their deliveries
    watch.send_signal(signal.SIGINT)
    watch.wait(120)
    tail.stop.set()
    _report(args, station, tail, hook, down, inbox, out, scratch, time.monotonic() - started)


def _report(
    args, station: Station, tail: JournalTail, hook: VerdictReceiver, down, inbox, out, scratch, seconds
) -> None:
    killed = down[0]
    back = min((t for t in tail.first_line.values() if t > killed), default=killed)  # the restarted watch's first
    latencies, caught_up = [], []
    for source, arrived in station.arrived.items():
        if source in tail.first_line:
            waited = tail.first_line[source] - arrived
            (caught_up if killed <= arrived <= back else latencies).append(waited)
    latencies.sort()
    print(
        f"kill -9 after {len(station.arrived) // 2} photos: back {back - killed:.1f} s later (model loaded, log read); "
        f"{len(caught_up)} photos that landed meanwhile caught up within {max(caught_up, default=0):.1f} s"
    )
    twice = [source for source, lines in tail.lines.items() if lines > 1]
    phones = len({source.rsplit("/", 1)[-1].split("_")[0] for source in station.arrived})
    print(f"station: {len(station.arrived)} photos of {phones} phones in {seconds:.0f} s ({args.rate} photos/s)")
    print(f"classified: {len(tail.first_line)} ({len(set(station.arrived) - set(tail.first_line))} missing)")
    print(f"classified more than once: {len(twice)} {twice[:5]}")
    p95 = latencies[int(len(latencies) * 0.95)] if latencies else float("nan")
    print(
        f"latency arrival -> result ({len(latencies)} photos while the watch ran): "
        f"p50 {statistics.median(latencies):.2f} s, p95 {p95:.2f} s, max {latencies[-1]:.2f} s"
    )
    by_phone = Counter(body["phone"] for _, body in hook.received)
    by_key = Counter(key for key, _ in hook.received)
    twice_by_phone = sum(1 for n in by_phone.values() if n > 1)
    twice_by_key = sum(1 for n in by_key.values() if n > 1)
    print(f"phones delivered: {len(by_phone)} of {phones}; twice: {twice_by_phone} (same key twice: {twice_by_key})")
    classify_json = scratch / "classify.json"
    command = [sys.executable, "-m", "core", "classify", str(inbox), "--json", str(classify_json)]
    command += ["--model", args.model] if args.model else []
    subprocess.run(command, cwd=ROOT, capture_output=True, check=False)
    watched = {item["source"]: item for item in json.loads((out / "results.json").read_text())["items"]}
    classified = {item["source"]: item for item in json.loads(classify_json.read_text())["items"]}
    same = watched == classified
    differing = [s for s in classified if watched.get(s) != classified[s]]
    print(f"results.json equals classify on the same inbox: {same} ({len(differing)} items differ)")
    print(f"(scratch folder: {scratch}; rm -rf it when done)")


if __name__ == "__main__":
    main()
