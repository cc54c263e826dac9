"""``GET /watch``: what ``serve --watch`` found in the station folders, for the page to show as it comes."""

from __future__ import annotations

from flask import Blueprint, jsonify, request
from werkzeug.exceptions import BadRequest

from core.service.state import service

watch_api = Blueprint("watch", __name__)


@watch_api.get("/watch")
def watch_status():
    """``{"watching", "folders", "landing", "total", "items"}``: ``items`` are the results after the first
    ``?after=N`` (the page asks for what it has not shown yet); without a watch, nothing is watched."""
    text = request.args.get("after", "0")
    if not text.isdigit() or len(text) > 9:
        raise BadRequest("after must be a whole number of results already shown")
    watch = service().watch
    if watch is None:
        return jsonify(watching=False, folders=[], landing=0, total=0, items=[])
    return jsonify(watch.status(int(text)))
