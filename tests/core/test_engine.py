"""The engine on a random bundle: shapes, probabilities, ranges, order, errors, cancel, progress."""

import threading

import numpy as np
import pytest

from core.bundle import load_bundle
from core.engine import Engine
from core.sources import ImageItem
from tests.images import encode, screen_photo


def _items(count, broken=()):
    items = []
    for i in range(count):
        data = b"broken" if i in broken else encode(screen_photo(i, mark="scratch"), "JPEG")
        items.append(ImageItem(source=f"mem/{i}.jpg", name=f"{i}.jpg", read=lambda d=data: d))
    return items


@pytest.fixture(scope="module")
def engine(random_bundle):
    return Engine(load_bundle(random_bundle.folder), batch_size=4, thumbnail_edge=48)


def test_predictions_are_complete_and_in_range(engine):
    predictions = list(engine.classify(_items(6)))
    assert [p.source for p in predictions] == [f"mem/{i}.jpg" for i in range(6)]
    for p in predictions:
        assert p.status == "ok" and p.label in engine.bundle.classes
        assert sum(p.probabilities.values()) == pytest.approx(1.0, abs=1e-4)
        assert p.confidence == max(p.probabilities.values())
        assert all(0.0 <= v <= 1.0 for v in (*p.peak, *p.box))
        assert p.box[0] < p.box[2] and p.box[1] < p.box[3]
        assert p.heatmap.dtype == np.float32 and p.heatmap.max() == pytest.approx(1.0)
        assert p.image_size == (320, 180) and max(p.thumbnail.shape[:2]) == 48
        assert p.explanation.startswith(f"{p.label.capitalize()} (")


def test_same_photo_gives_same_result_in_any_batch(engine):
    alone = list(engine.classify(_items(1)))[0]
    in_batch = list(engine.classify(_items(5)))[0]
    assert alone.label == in_batch.label
    assert alone.confidence == pytest.approx(in_batch.confidence, abs=1e-4)


def test_broken_items_become_errors_in_place(engine):
    items = _items(5, broken={1, 3}) + [ImageItem(source="gone.jpg", name="gone.jpg", error="file or folder not found")]
    predictions = list(engine.classify(items))
    assert [p.status for p in predictions] == ["ok", "error", "ok", "error", "ok", "error"]
    assert predictions[1].error == "not an image, or a format Pillow cannot read"
    assert predictions[5].error == "file or folder not found"


def test_progress_and_cancel(engine):
    calls, cancel = [], threading.Event()

    def progress(done, total):
        calls.append((done, total))
        if done >= 4:
            cancel.set()

    predictions = list(engine.classify(_items(12), progress=progress, cancel=cancel))
    assert len(predictions) == 4 and calls == [(4, 12)]


def test_precision_choice():
    from core.engine import resolve_precision

    assert resolve_precision("fp32") == "fp32" and resolve_precision("bf16") == "bf16"
    assert resolve_precision("auto") in ("fp32", "bf16")
    with pytest.raises(ValueError):
        resolve_precision("int4")


def test_bf16_stays_close_to_fp32(random_bundle):
    bundle = load_bundle(random_bundle.folder)
    items = _items(4)
    exact = list(Engine(bundle, precision="fp32").classify(items))
    fast = list(Engine(bundle, precision="bf16").classify(items))
    for a, b in zip(exact, fast):
        assert max(abs(a.probabilities[c] - b.probabilities[c]) for c in a.probabilities) < 0.05
