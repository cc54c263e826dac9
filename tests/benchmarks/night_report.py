"""Does the morning report notice another camera? Two nights of real phone photos, one re-shot.

    python -m tests.benchmarks.night_report [--out DIR]

Night 1 is the bundled model's validation photos as they are (from ``../shared/data/phone-msd``);
night 2 is the same photos as a worse camera would take them: JPEG quality 12 and sensor noise
(sigma 12 grey levels). Both nights run ``defectsort classify --out --report`` with the bundled model
and a fresh user data folder; the script prints each night's drift flags and where the reports are.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image

from core.model.registry import resolve_bundle

PHOTOS = Path(__file__).resolve().parents[3] / "shared" / "data" / "phone-msd" / "photos"


def validation_photos() -> list[Path]:
    """Return the bundled model's validation photos (never seen in training)."""
    names = set(resolve_bundle(None).training["split"]["validation"])
    return sorted(p for p in PHOTOS.glob("*/*.jpg") if p.name in names)


def reshoot(photo: Path, target: Path, seed: int) -> None:
    """Write ``photo`` as a cheaper camera would take it: noisy, strongly compressed."""
    pixels = np.asarray(Image.open(photo).convert("RGB"), dtype=np.float32)
    noisy = pixels + np.random.default_rng(seed).normal(0.0, 12.0, pixels.shape)
    Image.fromarray(np.clip(noisy, 0, 255).astype(np.uint8)).save(target, quality=12)


def night(photos: Path, out: Path, environment: dict) -> dict:
    """Run one night. :returns: its drift section."""
    command = [sys.executable, "-m", "core", "classify", str(photos), "--out", str(out), "--report", str(out)]
    subprocess.run(command, check=False, env=environment, capture_output=True, text=True)
    return json.loads((out / "results.json").read_text())["drift"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=Path(tempfile.mkdtemp(prefix="defectsort-nights-")))
    args = parser.parse_args()
    photos = validation_photos()
    if not photos:
        sys.exit(f"no validation photos under {PHOTOS}")
    as_usual, reshot = args.out / "photos-as-usual", args.out / "photos-reshot"
    for folder in (as_usual, reshot):
        folder.mkdir(parents=True, exist_ok=True)
    for index, photo in enumerate(photos):
        Image.open(photo).save(as_usual / photo.name, quality=95)
        reshoot(photo, reshot / photo.name, index)
    environment = {**os.environ, "XDG_DATA_HOME": str(args.out / "user-data")}
    for name, folder in (("night 1 (the usual camera)", as_usual), ("night 2 (another camera)", reshot)):
        drift = night(folder, args.out / name.split(" (")[0].replace(" ", "-"), environment)
        tonight = drift["tonight"]
        print(
            f"{name}: {tonight['photos']} photos, unknown {tonight['unknown']}, review {tonight['review']}, "
            f"mean confidence {tonight['mean_confidence']:.3f}"
        )
        for flag in drift["flags"] or [{"message": "no drift flagged"}]:
            print(f"    {flag['message']}")
    print(f"reports: {args.out}/night-1/report.html, {args.out}/night-2/report.html")


if __name__ == "__main__":
    main()
