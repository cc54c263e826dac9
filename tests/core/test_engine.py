"""The engine on a random bundle: shapes, probabilities, ranges, order, errors, cancel, progress."""

import threading

import numpy as np
import pytest

from core.inference.engine import Engine
from core.model.bundle import load_bundle
from core.photos.sources import ImageItem, collect_items
from core.photos.stream import ItemStream
from tests.images import encode, screen_photo


@pytest.fixture(scope="module")
def photo_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("photos")
    for i in range(12):
        (folder / f"{i:02d}.jpg").write_bytes(encode(screen_photo(i, mark="scratch"), "JPEG"))
    (folder / "broken.jpg").write_bytes(b"broken")
    return folder


def _items(folder, count, broken=()):
    """``count`` photo items, those at the ``broken`` positions reading a file that is no image."""
    paths = [folder / ("broken.jpg" if i in broken else f"{i:02d}.jpg") for i in range(count)]
    return collect_items(paths)


@pytest.fixture(scope="module")
def engine(random_bundle):
    return Engine(load_bundle(random_bundle.folder), batch_size=4, thumbnail_edge=48)


def test_predictions_are_complete_and_in_range(engine, photo_dir):
    predictions = list(engine.classify(_items(photo_dir, 6)))
    assert [p.source for p in predictions] == [str(photo_dir / f"{i:02d}.jpg") for i in range(6)]
    for p in predictions:
        assert p.status == "ok" and p.label in engine.bundle.classes
        assert sum(p.probabilities.values()) == pytest.approx(1.0, abs=1e-4)
        assert p.confidence == max(p.probabilities.values())
        assert all(0.0 <= v <= 1.0 for v in (*p.peak, *(v for box in p.boxes for v in box)))
        assert p.heatmap.dtype == np.float32 and p.image_size == (320, 180) and max(p.thumbnail.shape[:2]) == 48
        assert p.explanation.startswith(f"{p.label.capitalize()}: ")
        if p.label == "good":  # the faint strongest defect evidence, no box
            assert p.box is None and p.heatmap.max() == pytest.approx(1 - p.probabilities["good"], abs=1e-5)
        else:
            assert p.box[0] < p.box[2] and p.box[1] < p.box[3] and p.heatmap.max() == pytest.approx(1.0)


def test_same_photo_gives_same_result_in_any_batch(engine, photo_dir):
    alone = next(iter(engine.classify(_items(photo_dir, 1))))
    in_batch = next(iter(engine.classify(_items(photo_dir, 5))))
    assert alone.label == in_batch.label
    assert alone.confidence == pytest.approx(in_batch.confidence, abs=1e-4)


def test_broken_items_become_errors_in_place(engine, photo_dir):
    gone = ImageItem(source="gone.jpg", name="gone.jpg", error="file or folder not found")
    items = [*_items(photo_dir, 5, broken={1, 3}), gone]
    predictions = list(engine.classify(items))
    assert [p.status for p in predictions] == ["ok", "error", "ok", "error", "ok", "error"]
    assert predictions[1].error == "not a photo DefectSort can open: save it as JPEG, PNG, BMP, TIFF or WebP"
    assert predictions[5].error == "file or folder not found"


def test_progress_and_cancel(engine, photo_dir):
    calls, cancel = [], threading.Event()

    def progress(done, total):
        calls.append((done, total))
        if done >= 4:
            cancel.set()

    predictions = list(engine.classify(_items(photo_dir, 12), progress=progress, cancel=cancel))
    assert len(predictions) == 4 and calls == [(4, 12)]


def test_bf16_stays_close_to_fp32(random_bundle, photo_dir):
    bundle = load_bundle(random_bundle.folder)
    items = _items(photo_dir, 4)
    exact = list(Engine(bundle, precision="fp32").classify(items))
    fast = list(Engine(bundle, precision="bf16").classify(items))
    for a, b in zip(exact, fast):
        assert max(abs(a.probabilities[c] - b.probabilities[c]) for c in a.probabilities) < 0.05


def test_results_come_while_the_sources_are_still_being_walked(engine, photo_dir):
    """A slow walk (a network share, a huge folder) does not hold back the photos already found."""
    walk_may_go_on = threading.Event()
    seen_before_the_walk_ended = []

    def slow_walk():
        yield from _items(photo_dir, 3)
        walk_may_go_on.wait(timeout=30)
        yield from _items(photo_dir, 2)

    totals = []
    stream = ItemStream(slow_walk())
    results = engine.classify(stream, progress=lambda done, found: totals.append((done, found)))
    for _ in range(3):
        seen_before_the_walk_ended.append(next(results))
    assert stream.found == 3
    walk_may_go_on.set()
    rest = list(results)
    assert len(seen_before_the_walk_ended) == 3 and len(rest) == 2
    assert totals[-1] == (5, 5)  # the total grew as photos were found
