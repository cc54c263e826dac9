"""How long the window's first batch takes on a first start, against a later start.

    python -m tests.benchmarks.first_batch [--photos 16] [--runs 3]

Each run is a fresh process (offscreen Qt) with fresh user folders (settings, journal, model
folder, matplotlib cache), as right after installation; as root on Linux the page cache is
dropped before the first run, so libraries and weights come from disk. Photos are dropped
the moment the window exists (before the model is loaded), as an inspector would, and the
run prints: window shown, model loaded, first result and all results, in seconds from the
drop, and the photos/s of the batch itself.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from core.photos.samples import write_phone_photos

_ONE_RUN = """
import sys, time
start = time.monotonic()
from gui.app import create_application
app = create_application()
from gui.main_window import MainWindow
window = MainWindow()
window.show()
shown = time.monotonic() - start
arrived = []
window.client.worker.items_classified.connect(lambda job, entries: arrived.append((time.monotonic(), len(entries))))
dropped = time.monotonic()
window.open_paths(sys.argv[1:])
loaded = None
while window.busy or not arrived:
    app.processEvents()
    if loaded is None and window.bundle is not None:
        loaded = time.monotonic() - dropped
    time.sleep(0.005)
first, last = arrived[0][0] - dropped, arrived[-1][0] - dropped
count = sum(n for _, n in arrived)
rate = (count - 1) / max(1e-9, last - first)
print(f"window shown {shown:.2f} s after imports began | then from the drop: model loaded {loaded:.2f} s | "
      f"first result {first:.2f} s | all {count} {last:.2f} s | batch {rate:.1f} photos/s")
window.recorder.end()
window.client.shutdown()
"""


def _drop_page_cache() -> bool:
    try:
        subprocess.run(["sync"], check=True)
        Path("/proc/sys/vm/drop_caches").write_text("3\n")
        return True
    except OSError:
        return False


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--photos", type=int, default=16)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        photos = write_phone_photos(Path(scratch) / "photos", args.photos)
        home = Path(scratch) / "home"
        env = {
            **os.environ,
            "QT_QPA_PLATFORM": "offscreen",
            "XDG_DATA_HOME": str(home / "data"),
            "XDG_CONFIG_HOME": str(home / "config"),
            "XDG_CACHE_HOME": str(home / "cache"),
            "MPLCONFIGDIR": str(home / "matplotlib"),
        }
        cold = _drop_page_cache()
        for run in range(args.runs):
            label = "first start" + (" (cold page cache)" if cold else "") if run == 0 else f"start {run + 1}"
            result = subprocess.run(
                [sys.executable, "-c", _ONE_RUN, *map(str, photos)],
                env=env,
                capture_output=True,
                text=True,
                check=False,
            )
            print(f"{label:<32} {result.stdout.strip() or result.stderr.strip()[-400:]}")


if __name__ == "__main__":
    main()
