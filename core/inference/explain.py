"""Turn a class activation map into a heatmap, a peak, boxes and a plain sentence.

Everything here is numpy/Pillow on small arrays; coordinates are normalised to 0..1 of
the upright photo: maps are first cut to the part of the input the photo covers
(:func:`crop_to_content`; all of it unless the model pads photos to keep their aspect ratio).
"""

from __future__ import annotations

from collections import deque

import numpy as np

from core.inference.decision import DEFAULTS

_EDGE = 0.12  # within this fraction of a border, a point is "near the ... edge"


def normalise_map(class_map: np.ndarray) -> np.ndarray:
    """Scale a raw class map to 0..1 (min to max), as float32.

    :param class_map: ``h x w`` raw CAM values
    :returns: the heatmap
    """
    low, high = float(class_map.min()), float(class_map.max())
    if high - low < 1e-12:
        return np.zeros_like(class_map, dtype=np.float32)
    return ((class_map - low) / (high - low)).astype(np.float32)


def crop_to_content(heatmap: np.ndarray, content: tuple[float, float, float, float]) -> np.ndarray:
    """Cut a map of the whole model input down to the part the photo covers.

    :param heatmap: ``h x w`` map of the input
    :param content: ``(x0, y0, x1, y1)``, 0..1 of the input (:func:`core.photos.decode.decode`'s ``content``)
    :returns: the cells over the photo (at least one)
    """
    rows, cols = heatmap.shape
    top, bottom = _cell_span(content[1], content[3], rows)
    left, right = _cell_span(content[0], content[2], cols)
    return heatmap[top:bottom, left:right]


def _cell_span(start: float, end: float, cells: int) -> tuple[int, int]:
    """Return the cells ``[first, last)`` whose centres lie within ``start..end`` (at least one)."""
    first = min(cells - 1, max(0, round(start * cells)))
    return first, max(first + 1, min(cells, round(end * cells)))


def shrink(heatmap: np.ndarray, max_cells: int) -> np.ndarray:
    """Max-pool a fine heatmap by a whole factor until it has at most ``max_cells`` cells.

    Predictions cross threads and live in the GUI by the thousand, so they carry this
    small copy; max pooling keeps a one-cell speck visible.
    """
    factor = 1
    while (heatmap.shape[0] // factor) * (heatmap.shape[1] // factor) > max_cells:
        factor += 1
    if factor == 1:
        return heatmap
    rows, cols = heatmap.shape[0] // factor, heatmap.shape[1] // factor
    blocks = heatmap[: rows * factor, : cols * factor].reshape(rows, factor, cols, factor)
    pooled: np.ndarray = blocks.max(axis=(1, 3))
    return pooled


def find_peak(heatmap: np.ndarray) -> tuple[float, float]:
    """Locate the heatmap's maximum with sub-cell precision (a parabola through each axis).

    :param heatmap: ``h x w`` map
    :returns: ``(x, y)`` normalised to 0..1
    """
    rows, cols = heatmap.shape
    y, x = (int(v) for v in np.unravel_index(int(np.argmax(heatmap)), heatmap.shape))
    dx = _parabola_offset(heatmap[y, max(x - 1, 0)], heatmap[y, x], heatmap[y, min(x + 1, cols - 1)])
    dy = _parabola_offset(heatmap[max(y - 1, 0), x], heatmap[y, x], heatmap[min(y + 1, rows - 1), x])
    return float((x + 0.5 + dx) / cols), float((y + 0.5 + dy) / rows)


def _parabola_offset(before: float, centre: float, after: float) -> float:
    curvature = before - 2.0 * centre + after
    if curvature >= -1e-12:
        return 0.0
    return float(np.clip(0.5 * (before - after) / curvature, -0.5, 0.5))


def strong_regions(
    heatmap: np.ndarray, threshold: float = DEFAULTS["region"], min_peak: float = DEFAULTS["region_min_peak"]
) -> list[dict]:
    """Find the connected regions where the heatmap reaches ``threshold`` of its maximum.

    :param heatmap: ``h x w`` map scaled 0..1
    :param threshold: fraction of the maximum that a region's cells reach
    :param min_peak: fraction of the maximum that a region's own peak must reach
    :returns: regions, strongest first, each ``{"box": [x0, y0, x1, y1], "strength": float}``
        with the box normalised to 0..1
    """
    rows, cols = heatmap.shape
    top = float(heatmap.max(initial=0.0))
    strong = heatmap >= threshold * top
    seen = np.zeros_like(strong)
    regions = []
    for start in zip(*np.nonzero(strong)):
        if seen[start]:
            continue
        cells = _flood(strong, seen, start)
        ys, xs = zip(*cells)
        box = [int(min(xs)) / cols, int(min(ys)) / rows, (int(max(xs)) + 1) / cols, (int(max(ys)) + 1) / rows]
        strength = max(float(heatmap[c]) for c in cells)
        if strength < min_peak * top:
            continue
        regions.append({"box": [round(v, 4) for v in box], "strength": round(strength, 4)})
    return sorted(regions, key=lambda r: -r["strength"])


def _flood(mask: np.ndarray, seen: np.ndarray, start: tuple[int, int]) -> list[tuple[int, int]]:
    rows, cols = mask.shape
    queue, cells = deque([start]), []
    seen[start] = True
    while queue:
        y, x = queue.popleft()
        cells.append((y, x))
        for ny, nx in ((y - 1, x), (y + 1, x), (y, x - 1), (y, x + 1)):
            if 0 <= ny < rows and 0 <= nx < cols and mask[ny, nx] and not seen[ny, nx]:
                seen[ny, nx] = True
                queue.append((ny, nx))
    return cells


def describe_location(x: float, y: float) -> str:
    """Name a normalised point in plain words, e.g. ``"at the upper left"``.

    :param x: 0 (left) .. 1 (right)
    :param y: 0 (top) .. 1 (bottom)
    :returns: a phrase that reads after "the model looked mostly"
    """
    near = [
        side
        for side, close in (
            ("top", y < _EDGE),
            ("bottom", y > 1 - _EDGE),
            ("left", x < _EDGE),
            ("right", x > 1 - _EDGE),
        )
        if close
    ]
    if len(near) == 1:
        return f"near the {near[0]} edge"
    vertical = "upper" if y < 1 / 3 else "lower" if y > 2 / 3 else ""
    horizontal = "left" if x < 1 / 3 else "right" if x > 2 / 3 else ""
    if vertical and horizontal:
        return f"at the {vertical} {horizontal}"
    if vertical:
        return {"upper": "at the top", "lower": "at the bottom"}[vertical]
    if horizontal:
        return f"at the {horizontal} side"
    return "at the centre"


def explanation(
    label: str,
    peak: tuple[float, float],
    subject: str,
    also: list[str] | None = None,
    other_places: list[str] | None = None,
) -> str:
    """Return e.g. ``"Scratch: the model looked mostly at the upper left of the screen."`` (the confidence
    is shown beside it, with the decimals the review threshold needs: :mod:`core.inference.percent`).

    :param other_places: phrases for further strong regions ("near the bottom edge")
    :param also: other defect classes with strong evidence
    """
    where = describe_location(*peak)
    sentence = f"{label.capitalize()}: the model looked mostly {where} of the {subject}"
    places = list(dict.fromkeys(p for p in other_places or [] if p != where))
    sentence += f", and also {' and '.join(places)}." if places else "."
    if also:
        sentence += " Also: " + ", ".join(a.capitalize() for a in also) + "."
    return sentence


def no_defect_sentence(label: str, peak: tuple[float, float], subject: str, also: list[str] | None = None) -> str:
    """Return e.g. ``"Good: no defect found on the screen; the strongest (weak) hint of one
    is at the upper left."`` (the heatmap of a "no defect" photo shows that hint, faintly)."""
    sentence = (
        f"{label.capitalize()}: no defect found on the {subject}; "
        f"the strongest (weak) hint of one is {describe_location(*peak)}."
    )
    if also:
        sentence += " Also possible: " + ", ".join(a.capitalize() for a in also) + "."
    return sentence


def unlisted_sentence(label: str, peak: tuple[float, float], subject: str) -> str:
    """Return e.g. ``"No defect the model knows (closest: good), but the screen looks unusual at the upper
    left: possibly a defect not in the model's classes."``."""
    return (
        f"No defect the model knows (closest: {label}), but the {subject} looks unusual {describe_location(*peak)}: "
        "possibly a defect not in the model's classes."
    )
