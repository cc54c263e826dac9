"""The report's charts with matplotlib (Agg, no display), as PNG data URIs to inline in the page."""

from __future__ import annotations

import base64
import io
from types import ModuleType

from core.results.colours import label_colour_hex
from core.results.report.run_stats import HISTOGRAM_BINS


def data_uri(png: bytes, kind: str = "image/png") -> str:
    """Return ``data:`` URI of an image, so the page needs no other file."""
    return f"data:{kind};base64,{base64.b64encode(png).decode('ascii')}"


def pyplot() -> ModuleType:
    """Return pyplot on the Agg backend, imported on first use: a run without a report (and the service) never
    loads matplotlib's fonts."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _png(figure) -> str:
    plt = pyplot()
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=110)
    plt.close(figure)
    return data_uri(buffer.getvalue())


def class_mix_chart(labels: list[str], mixes: dict[str, dict[str, int]]) -> str:
    """Bars of each label's share, one group per label, one bar per mix (tonight, usual, validation).

    :param labels: the model's classes
    :param mixes: name -> label counts, e.g. ``{"tonight": {...}, "validation photos": {...}}``
    :returns: a PNG data URI
    """
    plt = pyplot()
    figure, axes = plt.subplots(figsize=(6.4, 2.8))
    width = 0.8 / max(1, len(mixes))
    shades = (1.0, 0.55, 0.3)
    for number, (name, counts) in enumerate(mixes.items()):
        total = sum(counts.values()) or 1
        shares = [100 * counts.get(label, 0) / total for label in labels]
        positions = [i + (number - (len(mixes) - 1) / 2) * width for i in range(len(labels))]
        colours = [label_colour_hex(label) for label in labels]
        axes.bar(positions, shares, width, color=colours, alpha=shades[number % 3], label=name, edgecolor="white")
    axes.set_xticks(range(len(labels)), labels)
    axes.set_ylabel("% of photos")
    axes.spines[["top", "right"]].set_visible(False)
    if len(mixes) > 1:
        axes.legend(frameon=False, fontsize=8)
    return _png(figure)


def confidence_chart(histogram: list[int], review_threshold: float | None) -> str:
    """Return a PNG data URI of the confidence histogram, with the review threshold marked."""
    plt = pyplot()
    figure, axes = plt.subplots(figsize=(6.4, 2.6))
    step = 100 / HISTOGRAM_BINS
    axes.bar([i * step for i in range(HISTOGRAM_BINS)], histogram, step * 0.9, align="edge", color="#4a6fa5")
    if review_threshold is not None:
        axes.axvline(100 * review_threshold, color="#e07b00", linestyle="--", linewidth=1.2)
        axes.text(
            100 * review_threshold,
            max(histogram or [1]),
            "review below ",
            color="#e07b00",
            fontsize=8,
            ha="right",
            va="top",
            bbox={"facecolor": "white", "edgecolor": "none", "pad": 1},
        )
    axes.set_xlim(0, 100)
    axes.set_xlabel("confidence (%)")
    axes.set_ylabel("photos")
    axes.spines[["top", "right"]].set_visible(False)
    return _png(figure)
