"""Load test of ``defectsort serve`` on loopback, against the engine alone on the same photos.

    python -m tests.benchmarks.service_load [--clients 8] [--requests 50] [--photos 50] [--model NAME|DIR]

Uses real phone photos from ``../shared/data/phone-msd`` when present (else generated ones).
Prints the engine's photos/s (what ``defectsort classify`` does, model already loaded), then
starts the service in its own process and reports for ``/predict`` (CLIENTS threads with
keep-alive connections, REQUESTS each): requests/s, p50/p95 latency, failed responses and
mixed-up ones (a response whose name or probabilities are not those of the photo sent);
for ``/predict_batch`` (one ZIP of the photos): photos/s; and the server's memory (RSS)
before, during and after the load.
"""

from __future__ import annotations

import argparse
import http.client
import io
import json
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import zipfile
from pathlib import Path

from core.inference.engine import Engine
from core.model.registry import resolve_bundle
from core.photos.samples import write_phone_photos
from core.photos.sources import collect_items

ROOT = Path(__file__).resolve().parents[2]
REAL_PHOTOS = ROOT.parent / "shared" / "data" / "phone-msd" / "photos"


def _photos(count: int, scratch: Path) -> list[Path]:
    real = sorted(REAL_PHOTOS.glob("*/*.jpg"))
    if real:
        step = max(1, len(real) // count)
        return real[::step][:count]
    return write_phone_photos(scratch / "photos", count)


def _engine_rate(model: str | None, photos: list[Path]) -> tuple[float, dict[str, dict]]:
    engine = Engine(resolve_bundle(model), backend="auto")  # the backend the service runs on
    start = time.perf_counter()
    predictions = list(engine.classify(collect_items(photos)))
    rate = len(photos) / (time.perf_counter() - start)
    return rate, {p.name: p.probabilities for p in predictions}


def _rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _client(port: int, jobs: list[Path], expected: dict, latencies: list, problems: list) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
    for photo in jobs:
        body = photo.read_bytes()
        started = time.perf_counter()
        while True:
            connection.request("POST", "/predict", body, {"Content-Type": "application/octet-stream"})
            answer = connection.getresponse()
            data = answer.read()
            if answer.status != 503:
                break
            time.sleep(float(answer.getheader("Retry-After") or 1))
        latencies.append(time.perf_counter() - started)
        if answer.status != 200:
            problems.append(f"{photo.name}: HTTP {answer.status}")
            continue
        probabilities = json.loads(data)["probabilities"]
        if any(abs(probabilities[k] - v) > 1e-4 for k, v in expected[photo.name].items()):
            problems.append(f"{photo.name}: another photo's result")
    connection.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--requests", type=int, default=50, help="per client")
    parser.add_argument("--photos", type=int, default=50)
    parser.add_argument("--model")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        photos = _photos(args.photos, Path(scratch))
        rate, expected = _engine_rate(args.model, photos)
        print(f"engine alone (the CLI's path): {rate:.1f} photos/s on {len(photos)} photos")
        port = _free_port()
        command = [sys.executable, "-m", "core", "serve", "--port", str(port), "--jobs-dir", f"{scratch}/service"]
        server = subprocess.Popen(command + (["--model", args.model] if args.model else []), cwd=ROOT)
        try:
            _wait_until_up(port)
            _load(args, port, photos, expected, server.pid, rate)
            for _ in range(3):  # timings on a shared machine vary: three runs
                _batch(port, photos, rate)
            print(f"server RSS after: {_rss_kb(server.pid) / 1024:.0f} MB")
        finally:
            server.terminate()
            server.wait(10)


def _wait_until_up(port: int) -> None:
    for _ in range(600):
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
            connection.request("GET", "/health")
            if connection.getresponse().status == 200:
                return
        except OSError:
            time.sleep(0.1)
    raise SystemExit("the service did not start")


def _load(args, port: int, photos: list[Path], expected: dict, pid: int, engine_rate: float) -> None:
    before = _rss_kb(pid)
    latencies: list[float] = []
    problems: list[str] = []
    plans = [[photos[(c * 7 + i) % len(photos)] for i in range(args.requests)] for c in range(args.clients)]
    threads = [threading.Thread(target=_client, args=(port, plan, expected, latencies, problems)) for plan in plans]
    rss_samples = []
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    while any(thread.is_alive() for thread in threads):
        rss_samples.append(_rss_kb(pid))
        time.sleep(1)
    elapsed = time.perf_counter() - started
    total = args.clients * args.requests
    quantiles = statistics.quantiles(latencies, n=20)
    print(
        f"/predict: {args.clients} clients x {args.requests} = {total} requests in {elapsed:.1f} s: "
        f"{total / elapsed:.1f} requests/s ({total / elapsed / engine_rate:.0%} of the engine alone), "
        f"p50 {statistics.median(latencies) * 1000:.0f} ms, p95 {quantiles[18] * 1000:.0f} ms, "
        f"failed or mixed up: {len(problems)}"
    )
    for problem in problems[:10]:
        print("  ", problem)
    quarters = [rss_samples[min(len(rss_samples) - 1, len(rss_samples) * q // 4)] / 1024 for q in (1, 2, 3, 4)]
    print(
        f"server RSS: {before / 1024:.0f} MB before; after a quarter, half, three quarters and all of the load: "
        + ", ".join(f"{mb:.0f}" for mb in quarters)
        + " MB"
    )


def _batch(port: int, photos: list[Path], engine_rate: float) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
        for photo in photos:
            archive.writestr(photo.name, photo.read_bytes())
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
    started = time.perf_counter()
    connection.request("POST", "/predict_batch", buffer.getvalue(), {"Content-Type": "application/zip"})
    answer = connection.getresponse()
    labels = json.loads(answer.read())
    rate = len(photos) / (time.perf_counter() - started)
    print(
        f"/predict_batch: {len(labels)} photos in one ZIP: {rate:.1f} photos/s "
        f"({rate / engine_rate:.0%} of the engine alone), HTTP {answer.status}"
    )


if __name__ == "__main__":
    main()
