"""A day's session keeps each heatmap in 256 levels, compressed: drawn, exported and journalled as before."""

import numpy as np

from core.inference.prediction import Prediction
from core.results.overlay import heatmap_rgba
from gui.gallery_model import Entry
from gui.images import heat_levels, heatmap_from_levels


def test_the_kept_levels_draw_the_same_colours_in_a_fraction_of_the_memory():
    rows, cols = np.mgrid[0:48, 0:84]
    heatmap = np.exp(-((rows - 20.0) ** 2 + (cols - 50.0) ** 2) / 60.0).astype(np.float32)  # a defect's bump
    kept = heat_levels(heatmap)
    assert len(kept) < heatmap.astype(np.float16).nbytes / 4
    opened = heatmap_from_levels(kept)
    assert opened.shape == (48, 84) and np.abs(opened - heatmap).max() <= 1 / 255
    before, after = heatmap_rgba(heatmap).astype(int), heatmap_rgba(opened).astype(int)
    assert (before[..., :3] == after[..., :3]).all() and np.abs(before[..., 3] - after[..., 3]).max() <= 1


def test_an_entry_gives_the_journal_and_the_export_its_heatmap_back():
    heatmap = np.linspace(0, 1, 48 * 84, dtype=np.float32).reshape(48, 84)
    entry = Entry(key=1, prediction=Prediction(source="a.jpg", name="a.jpg"), heat_levels=heat_levels(heatmap))
    full = entry.full_prediction()
    assert entry.prediction.heatmap is None and np.abs(full.heatmap - heatmap).max() <= 1 / 255
    assert entry.heat is not None and entry.heat.size().toTuple() == (84, 48)
    assert Entry(key=2, prediction=entry.prediction).full_prediction() is entry.prediction  # none kept: none given
