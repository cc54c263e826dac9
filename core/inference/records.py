"""A Prediction's stored form: the JSON record and heatmap bytes that journals and cluster workers pass on.

The record is the ``classify --json`` item plus what a restore needs (description, sizes, SHA-256, the
reference to the photo); the heatmap travels as two uint16 (its shape) and float16 values.
"""

from __future__ import annotations

import json

import numpy as np

from core.inference.prediction import Prediction
from core.photos.sources import SourceRef


def photo_record(prediction: Prediction) -> str:
    """Return the JSON stored for a photo: the classify fields plus what a restore needs."""
    extra = {
        "description": prediction.description,
        "image_size": prediction.image_size,
        "file_size": prediction.file_size,
        "sha256": prediction.sha256,
        "ref": None if prediction.ref is None else [prediction.ref.path, list(prediction.ref.members)],
    }
    return json.dumps({**prediction.to_dict(), **extra}, ensure_ascii=False)


def heatmap_blob(heatmap: np.ndarray | None) -> bytes | None:
    """Return a heatmap as bytes (two uint16 for the shape, then float16 values), or None."""
    if heatmap is None:
        return None
    shape = np.array(heatmap.shape, dtype=np.uint16).tobytes()
    return shape + heatmap.astype(np.float16).tobytes()


def prediction_from_record(record: dict, heatmap: bytes | None) -> Prediction:
    """Return the Prediction stored by :func:`photo_record` (and its heatmap)."""
    ref = record.get("ref")
    return Prediction(
        source=record["source"],
        name=record["name"],
        label=record.get("label"),
        confidence=record.get("confidence"),
        probabilities=record.get("probabilities") or {},
        status=record.get("status", "ok"),
        error=record.get("error"),
        peak=tuple(record["peak"]) if record.get("peak") else None,
        box=record.get("box"),
        description=record.get("description", ""),
        boxes=record.get("boxes") or [],
        also=record.get("also") or [],
        ood_score=record.get("ood_score"),
        anomaly_score=record.get("anomaly_score"),
        unlisted_box=record.get("unlisted_box"),
        heatmap=heatmap_from_blob(heatmap),
        image_size=tuple(record["image_size"]) if record.get("image_size") else None,
        file_size=record.get("file_size"),
        sha256=record.get("sha256"),
        ref=SourceRef(ref[0], tuple(ref[1])) if ref else None,
    )


def heatmap_from_blob(blob: bytes | None) -> np.ndarray | None:
    """Return the heatmap :func:`heatmap_blob` stored (float32), or None."""
    if not blob:
        return None
    rows, cols = np.frombuffer(blob[:4], dtype=np.uint16)
    return np.frombuffer(blob[4:], dtype=np.float16).reshape(int(rows), int(cols)).astype(np.float32)
