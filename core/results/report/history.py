"""The last runs of each model, kept in a small file in the user data folder, for drift "against usual".

One JSON line per finished run (``run-history.jsonl``): when, which model, which output folder, the
run's profile (:meth:`core.results.report.run_stats.RunStats.profile`) and its speed. The file keeps the
last :data:`KEEP` runs of all models. A run finished again (``--resume`` after it was done) replaces
its own line instead of counting twice.
"""

from __future__ import annotations

import json
import os
from datetime import datetime
from pathlib import Path

from core.files import write_text_atomic
from core.paths import user_data_dir

HISTORY_FILE = "run-history.jsonl"
KEEP = 500  # lines kept (all models together)
RECENT = 14  # runs pooled into "usual" (two weeks of nightly runs)
MIN_RUNS = 3  # fewer earlier runs: no "usual" to compare with


def history_path() -> Path:
    """Return the history file in the per-user data folder."""
    return user_data_dir() / HISTORY_FILE


def _read(path: Path) -> list[dict]:
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        return []
    runs = []
    for line in lines:
        try:
            runs.append(json.loads(line))
        except ValueError:
            continue  # a line torn by a crash: the others still count
    return runs


def recent_runs(model: dict, run_id: str, path: Path | None = None) -> list[dict]:
    """Return the last :data:`RECENT` runs of the same model (name and weights), this run excluded."""
    same = [
        run
        for run in _read(path or history_path())
        if run.get("model", {}).get("sha256") == model["sha256"] and run.get("run") != run_id
    ]
    return same[-RECENT:]


def pooled_profile(runs: list[dict]) -> dict | None:
    """Return the profile of all ``runs`` together (None under :data:`MIN_RUNS` runs)."""
    profiles = [run["profile"] for run in runs if run.get("profile", {}).get("photos")]
    if len(profiles) < MIN_RUNS:
        return None
    photos = sum(p["photos"] for p in profiles)
    labels: dict[str, int] = {}
    for profile in profiles:
        for label, count in profile["labels"].items():
            labels[label] = labels.get(label, 0) + count
    mean = sum(p["mean_confidence"] * p["photos"] for p in profiles) / photos
    squares = sum((p["confidence_std"] ** 2 + p["mean_confidence"] ** 2) * p["photos"] for p in profiles) / photos
    return {
        "photos": photos,
        "labels": dict(sorted(labels.items())),
        "unknown": sum(p["unknown"] for p in profiles),
        "review": sum(p["review"] for p in profiles),
        "errors": sum(p["errors"] for p in profiles),
        "mean_confidence": round(mean, 5),
        "confidence_std": round(max(0.0, squares - mean * mean) ** 0.5, 5),
    }


def record_run(model: dict, run_id: str, profile: dict, speed: dict, path: Path | None = None) -> None:
    """Add (or replace) this run's line, keeping the last :data:`KEEP` lines."""
    path = path or history_path()
    runs = [run for run in _read(path) if run.get("run") != run_id]
    runs.append(
        {
            "run": run_id,
            "at": datetime.now().isoformat(timespec="seconds"),
            "model": model,
            "profile": profile,
            "speed": speed,
        }
    )
    text = "".join(json.dumps(run, ensure_ascii=False) + "\n" for run in runs[-KEEP:])
    os.makedirs(path.parent, exist_ok=True)
    write_text_atomic(path, text)
