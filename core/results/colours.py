"""Colours of labels, shared by the window, the overlays' legend and the report (hex strings, no Qt)."""

from __future__ import annotations

import colorsys
import zlib

KNOWN = {
    "good": "#2e7d32",
    "oil": "#b26a00",
    "scratch": "#6a3fb5",
    "stain": "#c62828",
    "review": "#e07b00",
    "unknown": "#0b7285",
    "errors": "#6e7781",
}


def label_colour_hex(label: str | None) -> str:
    """Return a stable ``#rrggbb`` colour for a label (known phone classes have fixed ones)."""
    if not label:
        return KNOWN["errors"]
    if label in KNOWN:
        return KNOWN[label]
    hue = zlib.crc32(label.encode()) % 360
    red, green, blue = colorsys.hsv_to_rgb(hue / 360, 160 / 255, 170 / 255)
    return f"#{round(red * 255):02x}{round(green * 255):02x}{round(blue * 255):02x}"
