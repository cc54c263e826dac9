"""Jobs: ``POST /jobs`` (a ZIP upload, or a folder/ZIP under an allowed root), then poll, fetch, cancel."""

from __future__ import annotations

import os
import zipfile
from pathlib import Path

from flask import Blueprint, jsonify, request, send_file, url_for
from werkzeug.exceptions import BadRequest, Conflict, Forbidden, NotFound, UnprocessableEntity

from core.service.jobs import INPUT_ZIP
from core.service.state import service
from core.service.uploads import move_upload, receive_upload

jobs_api = Blueprint("jobs", __name__)


@jobs_api.post("/jobs")
def create_job():
    """Start a job on an uploaded ZIP, or on ``{"path": ...}`` under an ``--allow-root``: 202 and where to poll."""
    state = service()
    if request.is_json:
        body = request.get_json(silent=True)
        path = _allowed_path(body.get("path") if isinstance(body, dict) else None)
        job_id, _ = state.store.create(str(path))
    else:
        with receive_upload(suffix=".zip", default_name="upload.zip") as upload:
            if not zipfile.is_zipfile(upload.path):
                raise UnprocessableEntity("not a ZIP archive: send the photos as one .zip file")
            job_id, folder = state.store.create(None)
            move_upload(upload, folder / INPUT_ZIP)
    state.runner.add(job_id)
    response = jsonify(id=job_id, status_url=url_for("jobs.job_status", job_id=job_id))
    response.status_code = 202
    return response


@jobs_api.get("/jobs/<job_id>")
def job_status(job_id: str):
    """``{"id", "status", "done", "total", ...}``."""
    return jsonify(_job(job_id))


@jobs_api.get("/jobs/<job_id>/results.<kind>")
def job_results(job_id: str, kind: str):
    """The finished job's ``results.json`` or ``results.csv``, as ``defectsort classify`` writes them."""
    job = _job(job_id)
    if kind not in ("json", "csv"):
        raise NotFound("results come as results.json or results.csv")
    path = service().store.results_file(job_id, kind)
    if path is None:
        raise Conflict(f"the job is {job['status']}: results are ready when it is done")
    return send_file(path, mimetype="application/json" if kind == "json" else "text/csv", as_attachment=True)


@jobs_api.post("/jobs/<job_id>/cancel")
def cancel_job(job_id: str):
    """Stop a queued or running job (its upload is deleted; what it finished stays until it is removed).
    :raises Conflict: when it has already ended"""
    job = _job(job_id)
    if not service().runner.cancel(job_id):  # it has already ended
        raise Conflict(f"the job is {job['status']}: only a queued or running job can be cancelled")
    return jsonify(_job(job_id))


@jobs_api.delete("/jobs/<job_id>")
def remove_job(job_id: str):
    """Remove a job with all its files (a queued or running one is cancelled first); it is then unknown (404)."""
    job = _job(job_id)
    service().runner.cancel(job_id)
    service().store.remove(job_id)
    return jsonify({**job, "status": "removed"})


def _job(job_id: str) -> dict:
    job = service().store.get(job_id)
    if job is None:
        raise NotFound(f"no job '{job_id[:40]}'")
    return {key: job.get(key) for key in ("id", "status", "done", "total", "created", "error") if key in job}


def _allowed_path(value) -> Path:
    """Return ``value`` resolved, if it lies under an allowed root. :raises Forbidden: otherwise."""
    if not isinstance(value, str) or not value:
        raise BadRequest('send {"path": "FOLDER or ZIP"} as JSON, or upload a ZIP')
    try:
        path = Path(os.path.realpath(value))
    except (ValueError, OSError):  # a NUL byte, a name too long: no such path lies under a root
        path = None
    roots = service().allow_roots
    if path is None or not any(path == root or path.is_relative_to(root) for root in roots):
        raise Forbidden("that path is outside the folders this service may read (--allow-root)")
    if not path.exists():
        raise BadRequest("no such file or folder on the server")
    return path
