"""The Flask application of ``defectsort serve``: authentication, errors, health, the page and the API.

Every error is ``{"error": "one line"}`` with a 4xx (or 503) status, never a stack trace.
With a token, every endpoint except ``/health`` and the page itself (``/``, static HTML that
asks for the token) needs ``Authorization: Bearer TOKEN``, compared in constant time.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import re
from pathlib import Path
from urllib.parse import urlsplit

from flask import Flask, current_app, jsonify, request, send_file
from werkzeug.exceptions import Forbidden, HTTPException

from core.paths import resources_dir
from core.service import openapi
from core.service.inference import QueueFullError
from core.service.routes_jobs import jobs_api
from core.service.routes_predict import predict_api
from core.service.routes_watch import watch_api
from core.service.state import Service, service
from core.service.uploads import SpoolingRequest

log = logging.getLogger(__name__)
OPEN_PATHS = ("/health", "/", "/favicon.ico")  # served without a token
LOOPBACK_HOSTS = ("localhost", "127.0.0.1")  # always answered to; others only when named (IPv6 literals: no)
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")
RETRY_AFTER_S = 2


def create_app(
    service_state: Service,
    jobs_dir: Path,
    token: str | None = None,
    max_upload_mb: int = 512,
    allowed_hosts: list[str] | None = None,
) -> Flask:
    """Build the application.

    :param service_state: the model, queue and jobs to serve
    :param jobs_dir: the only folder the service writes to (spooled uploads and jobs)
    :param token: the bearer token every request but ``/health`` and ``/`` must carry, if any
    :param max_upload_mb: larger uploads are refused with 413 before they are read
    :param allowed_hosts: host names requests may be addressed to (``Host``), besides the loopback names: a page
        on another site that resolves its own name to this machine (DNS rebinding) is refused
    """
    app = Flask(__name__, static_folder=None)
    app.request_class = SpoolingRequest
    spool = Path(jobs_dir) / "spool"
    spool.mkdir(parents=True, exist_ok=True)
    app.config.update(
        MAX_CONTENT_LENGTH=max_upload_mb * 1024 * 1024,
        SPOOL_DIR=str(spool),
        TOKEN=token or "",
        TRUSTED_HOSTS=[*LOOPBACK_HOSTS, *(allowed_hosts or [])],
        PAGE_POLICY=_page_policy(),
    )
    app.extensions["defectsort"] = service_state
    app.register_blueprint(predict_api)
    app.register_blueprint(jobs_api)
    app.register_blueprint(watch_api)
    app.before_request(_check_host_and_origin)
    app.before_request(_check_token)
    app.after_request(_security_headers)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(QueueFullError, _queue_full)
    app.register_error_handler(Exception, _unexpected_error)
    app.add_url_rule("/health", view_func=_health, methods=["GET"])
    app.add_url_rule("/openapi.json", view_func=_openapi, methods=["GET"])
    app.add_url_rule("/", view_func=_page, methods=["GET"])
    app.add_url_rule("/favicon.ico", view_func=_icon, methods=["GET"])
    return app


def _check_host_and_origin():
    """Refuse a request addressed to a host name this service does not answer to (400, by ``TRUSTED_HOSTS``),
    and a state-changing request sent by a page of another site (403)."""
    host = request.host  # raises SecurityError (400) for an untrusted Host
    origin = request.headers.get("Origin")
    if origin and request.method not in SAFE_METHODS and urlsplit(origin).netloc.lower() != host.lower():
        raise Forbidden("a request from another site's page is refused (its Origin is not this service)")


def _security_headers(response):
    """Every answer: no sniffing, no framing, no referrer; the page: a content policy that runs only its own
    script (by hash) and talks only to this service."""
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("Referrer-Policy", "no-referrer")
    response.headers.setdefault("Cross-Origin-Resource-Policy", "same-origin")
    if response.mimetype == "text/html":
        response.headers["Content-Security-Policy"] = current_app.config["PAGE_POLICY"]
    return response


def _page_policy() -> str:
    """Return the page's Content-Security-Policy: its one inline script allowed by its SHA-256, nothing else."""
    page = (resources_dir() / "web" / "index.html").read_text(encoding="utf-8")
    scripts = re.findall(r"<script>(.*?)</script>", page, flags=re.S)
    hashes = " ".join(f"'sha256-{base64.b64encode(hashlib.sha256(s.encode()).digest()).decode()}'" for s in scripts)
    return (
        f"default-src 'none'; script-src {hashes}; style-src 'unsafe-inline'; img-src 'self' data: blob:; "
        "connect-src 'self'; form-action 'none'; frame-ancestors 'none'; base-uri 'none'"
    )


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
    state = service()
    bundle, engine = state.bundle, state.inference.engine
    runtime = engine.runtime
    return jsonify(
        status="ok", model={"name": bundle.name, "version": bundle.version, "sha256": bundle.sha256, "runtime": runtime}
    )


def _openapi():
    return jsonify(openapi.document(service().bundle, token_required=bool(current_app.config["TOKEN"])))


def _page():
    return send_file(resources_dir() / "web" / "index.html", mimetype="text/html")


def _icon():
    return send_file(resources_dir() / "app.png", mimetype="image/png", max_age=86400)


def _http_error(error: HTTPException):
    response = jsonify(error=" ".join(str(error.description or error.name).split()))
    response.status_code = error.code or 500
    for name, value in error.get_headers():  # e.g. Allow on 405: the contract's headers, the JSON body
        if name.lower() != "content-type":
            response.headers[name] = value
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
