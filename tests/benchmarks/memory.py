"""Peak memory of ``defectsort classify`` and of the window against the number of photos.

    python -m tests.benchmarks.memory [--counts 300 3000] [--model NAME|DIR] [--no-gui | --no-cli]
                                      [--checkouts DIR...]

For each count it writes that many generated 1280x720 JPEGs into one ZIP, then runs, each
in a fresh process, ``defectsort classify ZIP --json FILE`` and (unless ``--no-gui``) the
window on the same ZIP (``defectsort gui --screenshot``, offscreen), and prints each
process's peak resident memory (``ru_maxrss``) and its wall time. ``--checkouts`` runs each program from
each of several checkouts of the project (e.g. a ``git worktree`` of an earlier commit), side by side in
one run. Linux and macOS (the ``resource`` module); the README quotes its output.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

from core.photos.samples import DEFECTS, jpeg_bytes, phone_photo

PHOTO_SIZE = (1280, 720)
# Runs a module like ``python -m`` and prints its peak RSS (kB on Linux) to stderr when it ends.
_PEAK_RSS_RUNNER = """
import atexit, resource, runpy, sys
atexit.register(lambda: print(f"PEAK_RSS_KB {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}", file=sys.stderr))
module, sys.argv = sys.argv[1], sys.argv[1:]
runpy.run_module(module, run_name="__main__", alter_sys=True)
"""


def write_zip(path: Path, count: int, distinct: int = 24) -> Path:
    """Write ``count`` generated photos (``distinct`` different ones, repeated) into one ZIP (stored)."""
    photos = [jpeg_bytes(phone_photo(seed, DEFECTS[seed % len(DEFECTS)], PHOTO_SIZE)) for seed in range(distinct)]
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as archive:
        for number in range(count):
            archive.writestr(f"returns/{number // 500:03d}/{number:06d}.jpg", photos[number % distinct])
    return path


def peak_rss_mb(module: str, args: list[str], home: Path, checkout: Path | None = None) -> tuple[float, float]:
    """Run ``python -m module args`` in a fresh process with fresh settings under ``home`` (from ``checkout``'s
    code when given).

    :returns: its peak RSS in MB and its wall seconds
    """
    environment = {
        **os.environ,
        "QT_QPA_PLATFORM": os.environ.get("QT_QPA_PLATFORM", "offscreen"),
        **{f"XDG_{kind}_HOME": str(home / kind.lower()) for kind in ("CONFIG", "STATE", "CACHE", "DATA")},
    }
    started = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-c", _PEAK_RSS_RUNNER, module, *args],
        capture_output=True,
        text=True,
        env=environment,
        cwd=checkout,
        check=False,
    )
    seconds = time.perf_counter() - started
    line = next((row for row in result.stderr.splitlines() if row.startswith("PEAK_RSS_KB")), None)
    if line is None:
        raise RuntimeError(f"python -m {module} failed ({result.returncode}):\n{result.stderr[:3000]}")
    kilobytes = int(line.split()[1])
    return kilobytes / (1024 * 1024 if sys.platform == "darwin" else 1024), seconds


def main() -> int:
    """Measure and print one row per count and program."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--counts", type=int, nargs="+", default=[300, 3000])
    parser.add_argument("--model", default="", help="bundle name or folder (default: the phone model)")
    parser.add_argument("--no-gui", action="store_true", help="measure the command line only")
    parser.add_argument("--no-cli", action="store_true", help="measure the window only")
    parser.add_argument("--checkouts", type=Path, nargs="+", default=[None], help="run each from these checkouts")
    args = parser.parse_args()
    model = ["--model", args.model] if args.model else []
    print(f"{'photos':>7}  {'program':<26} {'checkout':<24} {'peak RSS':>10} {'wall':>8}")
    with tempfile.TemporaryDirectory(prefix="defectsort-memory-") as folder:
        warm_up = write_zip(Path(folder, "warm-up.zip"), 1)
        for checkout in args.checkouts:  # the first run exports the ONNX model: not what is measured
            peak_rss_mb("core", ["classify", str(warm_up), *model], Path(folder, "home"), checkout)
        for count in args.counts:
            archive = write_zip(Path(folder, f"{count}.zip"), count)
            runs = []
            if not args.no_cli:
                classify = ["classify", str(archive), "--json", str(Path(folder, f"{count}.json")), *model]
                runs.append(("defectsort classify --json", "core", classify))
            if not args.no_gui:
                runs.append(
                    (
                        "window (gui --screenshot)",
                        "gui",
                        ["gui", "--screenshot", str(Path(folder, f"{count}.png")), str(archive)],
                    )
                )
            for title, module, module_args in runs:
                for checkout in args.checkouts:
                    megabytes, seconds = peak_rss_mb(module, module_args, Path(folder, "home"), checkout)
                    name = checkout.name if checkout else "this one"
                    print(f"{count:>7}  {title:<26} {name:<24} {megabytes:>7.0f} MB {seconds:>7.0f} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
