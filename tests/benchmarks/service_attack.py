"""What an attacker's uploads cost ``defectsort serve``, and what a single photo waits meanwhile.

    python -m tests.benchmarks.service_attack [--model NAME|DIR] [--skip-memory] [--skip-latency]

Starts the service in its own process (loopback, a scratch ``--jobs-dir``) and measures:

* **memory**: the server's peak RSS (sampled every 20 ms) above its idle RSS while it answers
  hostile archives on ``/predict_batch``: a small ZIP holding a 500 MB inner ZIP, four of them at
  once, a small ZIP holding a 300 MB inner ZIP, an archive of 2,000 nested archives, and a ZIP
  holding a PNG of 120 megapixels (the decoder's limit);
* **latency**: ``/predict`` of one real photo, sent again and again (one client) while a
  300-member ``/predict_batch`` and a 300-member job run: p50, p99 and the slowest answer.

The hostile archives are built in the scratch folder (about 1 GB of disk for a moment).
"""

from __future__ import annotations

import argparse
import http.client
import io
import json
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import zipfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image

from tests.benchmarks.service_load import ROOT, _free_port, _photos, _rss_kb, _wait_until_up

MB = 1024 * 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model")
    parser.add_argument("--skip-memory", action="store_true")
    parser.add_argument("--skip-latency", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        scratch = Path(folder)
        port = _free_port()
        command = [sys.executable, "-m", "core", "serve", "--port", str(port), "--jobs-dir", str(scratch / "jobs")]
        server = subprocess.Popen(command + (["--model", args.model] if args.model else []), cwd=ROOT)
        try:
            _wait_until_up(port)
            _post(port, "/predict", _photos(1, scratch)[0].read_bytes())  # first answer: warm, as in use
            if not args.skip_memory:
                _memory(port, server.pid, scratch)
            if not args.skip_latency:
                _latency(port, scratch)
        finally:
            server.terminate()
            server.wait(10)


# --- memory ------------------------------------------------------------------------------------------------------


def _memory(port: int, pid: int, scratch: Path) -> None:
    idle = _rss_kb(pid) / 1024
    print(f"server RSS idle: {idle:.0f} MB")
    inner_500 = _archive_of_archive(scratch / "inner-500.zip", 500 * MB)
    inner_300 = _archive_of_archive(scratch / "inner-300.zip", 300 * MB)
    attacks: list[tuple[str, Callable[[], object]]] = [
        (f"a {_mb(inner_500)} ZIP holding a 500 MB inner ZIP", lambda: _post(port, "/predict_batch", inner_500)),
        ("four of those at once", lambda: _at_once(4, lambda: _post(port, "/predict_batch", inner_500))),
        (f"a {_mb(inner_300)} ZIP holding a 300 MB inner ZIP", lambda: _post(port, "/predict_batch", inner_300)),
        ("a ZIP of 2,000 nested archives", lambda: _post(port, "/predict_batch", _many_nested(2000))),
        ("a ZIP holding a 120-megapixel grey PNG", lambda: _post(port, "/predict_batch", _pixel_bomb("L"))),
        ("a ZIP holding a 120-megapixel colour PNG", lambda: _post(port, "/predict_batch", _pixel_bomb("RGB"))),
        ("four 40-megapixel colour PNGs at once", lambda: _at_once(4, lambda: _post(port, "/predict", _flat_png(40)))),
    ]
    for name, attack in attacks:
        peak, answer = _peak_rss_during(pid, attack)
        print(f"  {name}: peak {peak:.0f} MB, {peak - idle:+.0f} MB above idle; answer {str(answer)[:160]}")
    print(f"server RSS after: {_rss_kb(pid) / 1024:.0f} MB")


def _mb(data: bytes) -> str:
    return f"{len(data) / MB:.1f} MB"


def _archive_of_archive(path: Path, inner_bytes: int) -> bytes:
    """Return a small deflated ZIP whose one member is a stored ZIP of ``inner_bytes`` (a member of zeros)."""
    inner = path.with_suffix(".inner")
    with (
        zipfile.ZipFile(inner, "w", zipfile.ZIP_STORED) as archive,
        archive.open("1.png", "w", force_zip64=True) as out,
    ):
        chunk = bytes(MB)
        for _ in range(inner_bytes // MB):
            out.write(chunk)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as outer:
        outer.write(inner, "inner.zip")
    inner.unlink()
    return path.read_bytes()


def _many_nested(count: int) -> bytes:
    inner = io.BytesIO()
    with zipfile.ZipFile(inner, "w") as archive:
        archive.writestr("1.png", b"\0" * 1000)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for index in range(count):
            archive.writestr(f"{index}.zip", inner.getvalue())
    return buffer.getvalue()


def _flat_png(megapixels: int, mode: str = "RGB") -> bytes:
    image = io.BytesIO()
    Image.new(mode, (1000 * megapixels // 10, 10_000), (30,) * len(mode)).save(image, "PNG", optimize=True)
    return image.getvalue()


def _pixel_bomb(mode: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("big.png", _flat_png(120, mode))
    return buffer.getvalue()


def _at_once(count: int, call: Callable[[], str]) -> str:
    answers: list[str] = []
    threads = [threading.Thread(target=lambda: answers.append(call())) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return " | ".join(answers)


def _peak_rss_during(pid: int, call: Callable[[], object]) -> tuple[float, object]:
    result: list[object] = []
    worker = threading.Thread(target=lambda: result.append(call()))
    peak = 0
    worker.start()
    while worker.is_alive():
        peak = max(peak, _rss_kb(pid))
        time.sleep(0.02)
    return peak / 1024, result[0] if result else "no answer"


def _post(port: int, path: str, body: bytes, content_type: str = "application/octet-stream") -> str:
    """Send ``body``; :returns: the answer as ``HTTP 200 {...}`` (its text whole)."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
    try:
        connection.request("POST", path, body, {"Content-Type": content_type})
        answer = connection.getresponse()
        text = answer.read().decode("utf-8", "replace")
    finally:
        connection.close()
    return f"HTTP {answer.status} {text.strip()}"


# --- latency -----------------------------------------------------------------------------------------------------


def _latency(port: int, scratch: Path) -> None:
    photo = _photos(1, scratch)[0].read_bytes()
    batch = _tiny_photos_zip(300)
    background = [
        threading.Thread(target=lambda: _post(port, "/predict_batch", batch, "application/zip")),
        threading.Thread(target=lambda: _run_job(port, batch)),
    ]
    for thread in background:
        thread.start()
    latencies = []
    while any(thread.is_alive() for thread in background):
        started = time.perf_counter()
        _post(port, "/predict", photo)
        latencies.append(time.perf_counter() - started)
    latencies.sort()
    p99 = latencies[min(len(latencies) - 1, round(0.99 * (len(latencies) - 1)))]
    print(
        f"/predict while a 300-member batch and a 300-member job run: {len(latencies)} answers, "
        f"p50 {statistics.median(latencies) * 1000:.0f} ms, p99 {p99 * 1000:.0f} ms, "
        f"slowest {latencies[-1] * 1000:.0f} ms"
    )


def _tiny_photos_zip(count: int) -> bytes:
    generator = np.random.default_rng(0)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for index in range(count):
            image = io.BytesIO()
            Image.fromarray(generator.integers(0, 255, (24, 24, 3), dtype=np.uint8)).save(image, "PNG")
            archive.writestr(f"{index}.png", image.getvalue())
    return buffer.getvalue()


def _run_job(port: int, batch: bytes) -> None:
    answer = json.loads(_post(port, "/jobs", batch, "application/zip").split(" ", 2)[2])
    while True:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        connection.request("GET", f"/jobs/{answer['id']}")
        status = json.loads(connection.getresponse().read())["status"]
        connection.close()
        if status not in ("queued", "running"):
            return
        time.sleep(0.2)


if __name__ == "__main__":
    main()
