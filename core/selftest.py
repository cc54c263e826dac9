"""``defectsort --selftest``: prove on a new workstation that the bundled model works.

Loads the default model, classifies a generated photo and checks every part of the
result a user relies on. Prints each check; the exit code is 0 only if all passed.
"""

from __future__ import annotations

import io
import json
import math

import numpy as np
from PIL import Image, ImageDraw

from core.bundle import BundleError
from core.engine import Engine
from core.export import results_document
from core.registry import resolve_bundle
from core.sources import ImageItem


def _generated_photo() -> bytes:
    image = Image.new("RGB", (1920, 1080), (18, 18, 22))
    ImageDraw.Draw(image).line([600, 400, 1100, 470], fill=(235, 235, 235), width=6)
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=90)
    return buffer.getvalue()


def run_selftest(model: str | None = None, say=print) -> int:
    """Run the checks. :returns: 0 when all passed, 1 otherwise."""
    try:
        bundle = resolve_bundle(model)
        engine = Engine(bundle)
    except BundleError as error:
        say(f"FAIL  load model: {error}")
        return 1
    say(f"ok    model {bundle.name} {bundle.version} ({bundle.arch}, {len(bundle.classes)} classes) from "
        f"{bundle.folder}; weights match their SHA-256")
    data = _generated_photo()
    item = ImageItem(source="selftest.jpg", name="selftest.jpg", read=lambda: data)
    prediction = next(engine.classify([item]))
    document = json.loads(json.dumps(results_document([prediction], bundle)))
    checks = [
        ("photo classified", prediction.ok and prediction.label in bundle.classes),
        ("probabilities sum to 1", math.isclose(sum(prediction.probabilities.values()), 1.0, abs_tol=1e-3)),
        ("heatmap present and finite", prediction.heatmap is not None and bool(np.isfinite(prediction.heatmap).all())),
        ("peak and box inside the photo", all(0 <= v <= 1 for v in (*prediction.peak, *prediction.box))),
        ("explanation written", prediction.label.lower() in prediction.explanation.lower()),
        ("JSON has the documented fields", set(document["items"][0]) >= {"source", "label", "confidence", "peak",
                                                                         "box", "explanation", "probabilities"}),
    ]
    for text, passed in checks:
        say(f"{'ok' if passed else 'FAIL':5} {text}")
    say(f"      result: {prediction.explanation}")
    if prediction.status == "unknown":
        say("      (a generated photo is no camera photo: 'unknown' is the detector doing its job)")
    failed = [text for text, passed in checks if not passed]
    say("Self-test passed." if not failed else f"Self-test FAILED: {', '.join(failed)}")
    return 0 if not failed else 1
