"""The golden results: generated photos in ``tests/data/golden`` and what the engine says of them.

:func:`make_strict_bundle` copies the bundled phone model with stricter thresholds, so that the
generated photos come out ok, review, unknown and error. ``python -m tests.golden`` records
``expected.json`` (the classify JSON items, torch fp32: the reference backend) and ``heatmaps.npz``
(each classified photo's heatmap); they are recorded again only when the bundled model is
retrained, and ``tests/core/test_golden.py`` then holds every later change of the engine to them.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
GOLDEN = REPO / "tests" / "data" / "golden"
STRICT_UNKNOWN_ABOVE = 0.25
STRICT_REVIEW_BELOW = 0.99


def make_strict_bundle(folder: Path):
    """Copy the bundled phone model into ``folder`` with the strict thresholds. :returns: the bundle."""
    from core.model.bundle import load_bundle

    shutil.copytree(REPO / "weights" / "phone-defects", folder)
    meta = json.loads((folder / "model.json").read_text())
    meta["name"] = "phone-strict"
    meta["novelty"]["threshold"], meta["thresholds"]["review"] = STRICT_UNKNOWN_ABOVE, STRICT_REVIEW_BELOW
    for detector in meta["novelty"].get("runtimes", {}).values():  # a reduced-precision runtime's own detector
        detector["threshold"] = STRICT_UNKNOWN_ABOVE
    meta["anomaly_head"] = {}  # the golden results are the classifier's own (the head has tests of its own)
    (folder / "model.json").write_text(json.dumps(meta))
    return load_bundle(folder)


def record(work: Path) -> None:
    """Classify the golden photos with the strict bundle and write what the engine said."""
    from core.cli import main
    from core.inference.engine import Engine
    from core.photos.sources import iter_items

    bundle = make_strict_bundle(work / "phone-strict")
    results = work / "results.json"
    main(["classify", str(GOLDEN), "--model", str(bundle.folder), "--json", str(results), "--backend", "torch"])
    items = json.loads(results.read_text())["items"]
    (GOLDEN / "expected.json").write_text(json.dumps(items, indent=1) + "\n")
    predictions = Engine(bundle).classify(iter_items([GOLDEN]))
    np.savez_compressed(GOLDEN / "heatmaps.npz", **{p.name: p.heatmap for p in predictions if p.ok})
    for item in items:
        print(item["name"], item["label"], item["status"], item["confidence"], item["ood_score"])


if __name__ == "__main__":
    import tempfile

    with tempfile.TemporaryDirectory() as temporary:
        record(Path(temporary))
