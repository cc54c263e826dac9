"""The Flask application of ``defectsort serve``: authentication, errors, health, the page and the API.

Every error is ``{"error": "one line"}`` with a 4xx (or 503) status, never a stack trace.
With a token, every endpoint except ``/health`` and the page itself (``/``, static HTML that
asks for the token) needs ``Authorization: Bearer TOKEN``, compared in constant time.
"""

from __future__ import annotations

import hmac
import logging
from pathlib import Path

from flask import Flask, current_app, jsonify, request, send_file
from werkzeug.exceptions import HTTPException

from core.paths import resources_dir
from core.service import openapi
from core.service.inference import QueueFullError
from core.service.routes_jobs import jobs_api
from core.service.routes_predict import predict_api
from core.service.state import Service, service
from core.service.uploads import SpoolingRequest

log = logging.getLogger(__name__)
OPEN_PATHS = ("/health", "/")  # served without a token
RETRY_AFTER_S = 2


def create_app(service_state: Service, jobs_dir: Path, token: str | None = None, max_upload_mb: int = 512) -> Flask:
    """Build the application.

    :param service_state: the model, queue and jobs to serve
    :param jobs_dir: the only folder the service writes to (spooled uploads and jobs)
    :param token: the bearer token every request but ``/health`` and ``/`` must carry, if any
    :param max_upload_mb: larger uploads are refused with 413 before they are read
    """
    app = Flask(__name__, static_folder=None)
    app.request_class = SpoolingRequest
    spool = Path(jobs_dir) / "spool"
    spool.mkdir(parents=True, exist_ok=True)
    app.config.update(MAX_CONTENT_LENGTH=max_upload_mb * 1024 * 1024, SPOOL_DIR=str(spool), TOKEN=token or "")
    app.extensions["defectsort"] = service_state
    app.register_blueprint(predict_api)
    app.register_blueprint(jobs_api)
    app.before_request(_check_token)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(QueueFullError, _queue_full)
    app.register_error_handler(Exception, _unexpected_error)
    app.add_url_rule("/health", view_func=_health, methods=["GET"])
    app.add_url_rule("/openapi.json", view_func=_openapi, methods=["GET"])
    app.add_url_rule("/", view_func=_page, methods=["GET"])
    return app


def _check_token():
    token = current_app.config["TOKEN"]
    if not token or request.path in OPEN_PATHS:
        return None
    sent = request.headers.get("Authorization", "")
    if hmac.compare_digest(sent.encode(), f"Bearer {token}".encode()):
        return None
    response = jsonify(error="missing or wrong token: send 'Authorization: Bearer TOKEN'")
    response.status_code = 401
    response.headers["WWW-Authenticate"] = "Bearer"
    return response


def _health():
    bundle = service().bundle
    return jsonify(status="ok", model={"name": bundle.name, "version": bundle.version, "sha256": bundle.sha256})


def _openapi():
    return jsonify(openapi.document(service().bundle))


def _page():
    return send_file(resources_dir() / "web" / "index.html", mimetype="text/html")


def _http_error(error: HTTPException):
    response = jsonify(error=" ".join(str(error.description or error.name).split()))
    response.status_code = error.code or 500
    return response


def _queue_full(_: QueueFullError):
    response = jsonify(error="the service is busy: try again shortly")
    response.status_code = 503
    response.headers["Retry-After"] = str(RETRY_AFTER_S)
    return response


def _unexpected_error(error: Exception):
    if isinstance(error, HTTPException):
        return _http_error(error)
    log.exception("request failed")
    response = jsonify(error="internal error: the service log has the details")
    response.status_code = 500
    return response
