"""``POST /predict`` (one photo) and ``POST /predict_batch`` (a ZIP), answered while the client waits."""

from __future__ import annotations

import base64
import zipfile
from collections import Counter

from flask import Blueprint, jsonify, request
from werkzeug.exceptions import BadRequest, UnprocessableEntity

from core.inference.prediction import Prediction
from core.photos.decode import DecodeError
from core.photos.reader import SourceReader
from core.photos.sources import ImageItem, SourceError, SourceRef, collect_items
from core.results.overlay import overlay_png
from core.results.pipeline import result_item, results_document
from core.service.job_runner import client_item, name_in_archive
from core.service.state import service
from core.service.uploads import receive_upload

predict_api = Blueprint("predict", __name__)


@predict_api.post("/predict")
def predict():
    """Classify one photo: the item object of ``classify --json`` (``?overlay=1`` adds a PNG, base64)."""
    overlay = _flag("overlay")
    with receive_upload(suffix="", default_name="upload") as upload:
        item = ImageItem(source=upload.name, name=upload.name, ref=SourceRef(str(upload.path)))
        prediction = service().inference.classify([item])[0]
        if not prediction.ok:
            raise UnprocessableEntity(prediction.error)
        body = result_item(prediction)
        if overlay:
            body["overlay_png"] = base64.b64encode(overlay_png(prediction, upload.path.read_bytes())).decode()
    return jsonify(body)


@predict_api.post("/predict_batch")
def predict_batch():
    """Classify every photo of a ZIP: ``{"1.jpg": "stain", ...}`` (``"error"`` for unreadable members),
    or with ``?detail=1`` the whole ``classify --json`` document."""
    detail, overlay = _flag("detail"), _flag("overlay")
    with receive_upload(suffix=".zip", default_name="upload.zip") as upload:
        if not zipfile.is_zipfile(upload.path):
            raise UnprocessableEntity("not a ZIP archive: send the photos as one .zip file")
        predictions = service().inference.classify_in_turns(collect_items([upload.path]))
        if detail:
            items = [client_item(p, upload.path, upload.name) for p in predictions]
            if overlay:
                _add_overlays(items, predictions)
            return jsonify(results_document(items, service().bundle))
        return jsonify(labels_by_name(predictions, lambda p: name_in_archive(p.source, upload.path, upload.name)))


def _add_overlays(items: list[dict], predictions: list[Prediction]) -> None:
    """Give each classified photo of an uploaded archive its heatmap overlay (``overlay_png``, base64)."""
    with SourceReader() as reader:
        for item, prediction in zip(items, predictions):
            if prediction.ok and prediction.ref is not None and prediction.heatmap is not None:
                try:
                    png = overlay_png(prediction, reader.read(prediction.ref))
                except (SourceError, DecodeError, OSError):
                    continue  # classified, but not drawable now: the tile shows the words only
                item["overlay_png"] = base64.b64encode(png).decode()


def labels_by_name(predictions: list[Prediction], name_of) -> dict[str, str]:
    """Return member name -> label (``"error"`` when unreadable); a name that occurs twice in a
    hostile archive gets ``" (2)"``, so every photo keeps its own entry."""
    labels: dict[str, str] = {}
    seen: Counter[str] = Counter()
    for prediction in predictions:
        name = name_of(prediction)
        seen[name] += 1
        if seen[name] > 1:
            name = f"{name} ({seen[name]})"
        labels[name] = (prediction.label or "error") if prediction.ok else "error"
    return labels


_FLAG_VALUES = {"1": True, "true": True, "yes": True, "0": False, "false": False, "no": False}


def _flag(name: str) -> bool:
    """Return a query flag (absent: False). :raises BadRequest: for a value that is not a yes or a no."""
    values = request.args.getlist(name)
    if not values:
        return False
    if len(values) > 1 or values[0].lower() not in _FLAG_VALUES:
        raise BadRequest(f"?{name} takes one value: true or false (also 1/0, yes/no)")
    return _FLAG_VALUES[values[0].lower()]
