"""The report's overlays: small JPEGs of the least certain photos with their heatmaps, inline as data URIs."""

from __future__ import annotations

from core.inference.prediction import Prediction
from core.photos.decode import DecodeError
from core.photos.reader import SourceReader
from core.photos.sources import SourceError
from core.results.overlay import overlay_image
from core.results.report.charts import data_uri

REPORT_OVERLAY_EDGE = 480  # long edge, in pixels


def overlay_uris(predictions: list[Prediction]) -> dict[str, str]:
    """Return source -> overlay data URI for each prediction whose photo can still be read."""
    uris = {}
    with SourceReader() as reader:
        for prediction in predictions:
            if not prediction.ok or prediction.heatmap is None or prediction.ref is None:
                continue
            try:
                image = overlay_image(prediction, reader.read(prediction.ref), REPORT_OVERLAY_EDGE)
            except (SourceError, DecodeError, OSError):
                continue  # the photo moved since: the report says so instead of showing it
            uris[prediction.source] = data_uri(image, "image/jpeg")
    return uris
