"""Model > Improve from corrections in the window, as an inspector uses it: the phone model, four corrections.

    python -m tests.benchmarks.improve_in_window [--corrections 4] [--photos 40] [--more 60]

Needs ``../shared``. The window (offscreen, its own process, settings and journal, the bundled phone
model) sorts ``--photos`` photos of its own training split re-rendered as other cameras take them
(:mod:`core.photos.conditions`: brighter, darker, warmer, off-centre), where the model errs most. The
inspector corrects ``--corrections`` of them (the wrong ones first, then Review ones, to their true
class) and starts Improve; while it retrains, the inspector opens ``--more`` photos and the window sorts
them. Reported:

* the verdict and the comparison on photos neither model trained on (the parent's validation photos,
  frozen; the held-back corrections): fixed, broken, the exact McNemar p-values;
* the GUI thread while retraining: gaps between 10 ms ticks, and its own CPU in the longest;
* resident memory before and at its peak during the retraining;
* how long the retraining took, and how many photos were sorted meanwhile;
* screenshots of the status strip and the comparison (``--shots DIR``).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from PIL import Image

from tests.benchmarks.window_station import TICK_MS, _environment, _print_gui, _rss_mb
from tests.conftest import SHARED

PHOTOS = SHARED / "data" / "phone-msd" / "photos"
RENDERED_AS = ("brighter", "off-centre", "darker", "warmer")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corrections", type=int, default=4)
    parser.add_argument("--photos", type=int, default=40, help="photos sorted before the corrections")
    parser.add_argument("--more", type=int, default=60, help="photos opened while the model retrains")
    parser.add_argument("--shots", type=Path, help="save screenshots here")
    parser.add_argument("--child", nargs=2, metavar=("WORK", "REPORT"), help=argparse.SUPPRESS)
    parser.add_argument(
        "--picture", nargs=2, type=Path, metavar=("CANDIDATE", "PNG"), help="only draw the comparison of a candidate"
    )
    args = parser.parse_args()
    if args.picture:
        _picture(*args.picture)
        return
    if args.child:
        _run_window(Path(args.child[0]), Path(args.child[1]), args.corrections, args.shots)
        return
    if not PHOTOS.is_dir():
        sys.exit(f"{PHOTOS} is needed")
    work = Path(tempfile.mkdtemp(prefix="improve-in-window-"))
    _render(work, args.photos, args.more)
    home, report = work / "home", work / "report.json"
    home.mkdir()
    command = [sys.executable, "-m", "tests.benchmarks.improve_in_window", "--child", str(work), str(report)]
    command += ["--corrections", str(args.corrections)] + (["--shots", str(args.shots)] if args.shots else [])
    with (home / "stderr.txt").open("w") as errors:
        code = subprocess.run(command, env=_environment(home), stderr=errors, check=False).returncode
    if code:
        sys.exit(f"the window failed ({code}):\n{(home / 'stderr.txt').read_text()[-3000:]}")
    _print(json.loads(report.read_text()))
    shutil.rmtree(work, ignore_errors=True)


def _render(work: Path, photos: int, more: int) -> None:
    """Write the parent's training photos re-rendered under other cameras into ``day/`` and ``more/``,
    with their true classes in ``truth.json``."""
    from core.model.registry import resolve_bundle
    from core.photos.conditions import condition_named

    parent = resolve_bundle("phone-defects")
    frozen = set(parent.training["split"]["validation"])
    originals = sorted(p for p in PHOTOS.glob("*/*.jpg") if p.name not in frozen)
    random.Random(0).shuffle(originals)
    truth = {}
    for number in range(photos + more):
        original = originals[number % len(originals)]
        condition = condition_named(RENDERED_AS[number % len(RENDERED_AS)])
        rendered, _ = condition.render(Image.open(original).convert("RGB"), None)
        folder = work / ("day" if number < photos else "more")
        folder.mkdir(exist_ok=True)
        name = f"{condition.name.replace(' ', '-')}_{number:03d}_{original.name}"
        rendered.save(folder / name, quality=92)
        truth[name] = original.parent.name
    (work / "truth.json").write_text(json.dumps(truth))


def _print(report: dict) -> None:
    print(f"Corrections: {report['corrections']}")
    print(f"Retraining took {report['seconds']:.0f} s; sorted meanwhile: {report['sorted_meanwhile']} photos")
    print(f"Verdict: {report['headline']}")
    for reason in report["reasons"]:
        print(f"  {reason}")
    memory = report["memory"]
    print(
        f"Resident memory: {memory['before']:.0f} MB before, peak {memory['peak']:.0f} MB while retraining "
        f"(+{memory['peak'] - memory['before']:.0f} MB)"
    )
    _print_gui({"gaps": report["gaps"]})
    print(
        f"  gaps over 50 ms (s after Improve, gap, own CPU): {report['slow']} (retraining ended at "
        f"{report['seconds']:.1f} s)"
    )


# -- the child: the window, measured from inside ----------------------------------------------------------
def _run_window(work: Path, report: Path, corrections: int, shots: Path | None) -> None:
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    from gui.improve import Improvement
    from gui.main_window import MainWindow
    from gui.settings import Settings

    app = QApplication([])
    window = MainWindow(Settings())
    window.resize(1280, 800)
    window.show()
    truth = json.loads((work / "truth.json").read_text())
    _wait(app, lambda: window.bundle is not None)
    window.open_paths([str(work / "day")])
    _wait(app, lambda: len(window.model.entries()) == len(list((work / "day").iterdir())) and not window.busy)
    corrected = _correct(window, truth, corrections)
    before = _rss_mb()
    gaps: list[tuple[float, float]] = []
    peak, last = [before], [time.monotonic(), time.thread_time()]

    def tick() -> None:
        now, cpu = time.monotonic(), time.thread_time()
        if last[0] > 0:  # 0: the benchmark itself took a screenshot
            gaps.append((now - last[0], cpu - last[1]))
            if now - last[0] > 0.05:
                slow.append((round(now - started, 2), round(now - last[0], 3), round(cpu - last[1], 3)))
        last[:] = [now, cpu]
        if len(gaps) % 50 == 0:
            peak[0] = max(peak[0], _rss_mb())

    timer = QTimer(interval=TICK_MS)
    timer.timeout.connect(tick)
    timer.start()
    slow: list[tuple[float, float, float]] = []  # (seconds since Improve, gap, the GUI thread's own CPU in it)
    started, shown_before = time.monotonic(), len(window.model.entries())
    improvement = Improvement(window, window.client, str(window.bundle.folder), work / "candidate")
    outcomes: list = []
    improvement.ended.connect(outcomes.append)
    _wait(app, lambda: bool(improvement.log))
    window.open_paths([str(work / "more")])  # the inspector goes on sorting
    _wait(app, lambda: improvement.status.bar.value() >= 30)
    if shots:
        shots.mkdir(parents=True, exist_ok=True)
        window.grab().save(str(shots / "improve-status.png"))
        last[0] = 0.0
    _wait(app, lambda: bool(outcomes))
    seconds = time.monotonic() - started
    outcome = outcomes[0]
    if shots and improvement.dialog is not None:
        app.processEvents()
        improvement.dialog.grab().save(str(shots / "improve-comparison.png"))
    report.write_text(
        json.dumps(
            {
                "corrections": corrected,
                "seconds": seconds,
                "sorted_meanwhile": len(window.model.entries()) - shown_before,
                "headline": outcome.headline if outcome else "no outcome",
                "reasons": outcome.reasons if outcome else [],
                "memory": {"before": before, "peak": peak[0]},
                "gaps": gaps[1:],
                "slow": slow,
            }
        )
    )
    window.client.shutdown()


def _picture(candidate: Path, png: Path) -> None:
    """Draw the window's comparison of a candidate ``defectsort retrain`` wrote (its photos must still exist)."""
    from PySide6.QtWidgets import QApplication

    from core.model.bundle import load_bundle
    from core.training.retrain import RetrainOutcome
    from gui.improve import ComparisonDialog
    from gui.worker import _comparison_thumbnails
    from gui.worker_client import WorkerClient

    app = QApplication([])
    bundle = load_bundle(candidate)
    comparison = json.loads((candidate / "comparison.json").read_text())
    promotion = bundle.promotion
    outcome = RetrainOutcome(
        bundle, comparison, promotion["passed"], promotion["reasons"], promotion.get("in_words", "")
    )
    client = WorkerClient()
    dialog = ComparisonDialog(outcome, _comparison_thumbnails(comparison), [], client)
    dialog.show()
    app.processEvents()
    dialog.grab().save(str(png))
    client.shutdown()


def _correct(window, truth: dict[str, str], count: int) -> list[str]:
    """Relabel ``count`` photos to their true class: wrongly sorted ones first, then photos in Review."""
    entries = window.model.entries()
    wrong = [e for e in entries if e.prediction.label != truth[e.prediction.name]]
    doubtful = [e for e in entries if window.model.section_of(e) == "review" and e not in wrong]
    chosen = (wrong + doubtful)[:count]
    for entry in chosen:
        window.relabel([entry.key], truth[entry.prediction.name])
    return [f"{e.prediction.name}: {e.prediction.label} -> {truth[e.prediction.name]}" for e in chosen]


def _wait(app, condition, timeout: float = 3600.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError("the window did not get there in time")
        app.processEvents()
        time.sleep(0.005)


if __name__ == "__main__":
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    main()
