"""``defectsort --selftest``: prove on a new workstation that the bundled model works.

Loads the default model, classifies a generated photo and checks every part of the
result a user relies on. Prints each check; the exit code is 0 only if all passed.
"""

from __future__ import annotations

import json
import math
import tempfile
from pathlib import Path

import numpy as np

from core.inference.engine import Engine
from core.inference.prediction import UNKNOWN, Prediction
from core.inference.runtime import USERS_BACKEND
from core.model.bundle import BundleError
from core.model.registry import resolve_bundle
from core.photos.samples import jpeg_bytes, phone_photo
from core.photos.sources import iter_items
from core.results.pipeline import result_item, results_document

SELFTEST_SEED = 7


def _inside_the_photo(prediction: Prediction) -> bool:
    values = [*(prediction.peak or (-1.0,)), *(v for box in prediction.boxes for v in box)]
    return all(0.0 <= v <= 1.0 for v in values)


def run_selftest(model: str | None = None, say=print) -> int:
    """Run the checks. :returns: 0 when all passed, 1 otherwise."""
    try:
        bundle = resolve_bundle(model)
        engine = Engine(bundle, backend=USERS_BACKEND)  # the runtime every command and the window use
    except BundleError as error:
        say(f"FAIL  load model: {error}")
        return 1
    say(
        f"ok    model {bundle.name} {bundle.version} ({bundle.arch}, {len(bundle.classes)} classes) from "
        f"{bundle.folder}; weights match their SHA-256"
    )
    say(f"ok    runtime {engine.runtime} (the default on this CPU)")
    with tempfile.TemporaryDirectory(prefix="defectsort-selftest-") as folder:
        photo = Path(folder, "selftest.jpg")
        photo.write_bytes(jpeg_bytes(phone_photo(SELFTEST_SEED, "scratch")))
        prediction = next(engine.classify(iter_items([photo])))
    document = json.loads(json.dumps(results_document([result_item(prediction)], bundle)))
    checks = [
        ("photo classified", prediction.ok and prediction.label in bundle.classes),
        ("probabilities sum to 1", math.isclose(sum(prediction.probabilities.values()), 1.0, abs_tol=1e-3)),
        ("heatmap present and finite", prediction.heatmap is not None and bool(np.isfinite(prediction.heatmap).all())),
        ("peak and boxes inside the photo", _inside_the_photo(prediction)),
        ("explanation written", (prediction.label or "?").lower() in prediction.explanation.lower()),
        (
            "JSON has the documented fields",
            set(document["items"][0])
            >= {"source", "label", "confidence", "peak", "box", "explanation", "probabilities"},
        ),
    ]
    for text, passed in checks:
        say(f"{'ok' if passed else 'FAIL':5} {text}")
    say(f"      result: {prediction.explanation}")
    if prediction.status == UNKNOWN:
        say("      (a generated photo is no camera photo: 'unknown' is the detector doing its job)")
    failed = [text for text, passed in checks if not passed]
    say("Self-test passed." if not failed else f"Self-test FAILED: {', '.join(failed)}")
    return 0 if not failed else 1
