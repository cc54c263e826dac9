"""The OpenAPI 3 description of the service (hand-written; a test keeps it equal to the real routes)."""

from __future__ import annotations

from core.model.bundle import Bundle

_ERROR = {
    "description": "One line saying what is wrong",
    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
}
_JOB_ID = [
    {"name": "job_id", "in": "path", "required": True, "schema": {"type": "string", "pattern": "^[0-9a-f]{32}$"}}
]


def _json(description: str, ref: str) -> dict:
    return {"description": description, "content": {"application/json": {"schema": _ref(ref)}}}


def _errors(*codes: int) -> dict:
    return {str(code): _ERROR for code in codes}


def _paths(token_required: bool) -> dict:
    """Every route; ``401`` is documented only where a token is asked for, ``400`` everywhere (a ``Host`` the
    service does not answer to) and ``403`` on state-changing requests (another site's ``Origin``)."""
    guarded = (401,) if token_required else ()
    return {
        "/": {"get": _open("getPage", "The web page: drop photos or a ZIP, see them grouped by label", "text/html")},
        "/favicon.ico": {"get": _open("getIcon", "The app's icon (PNG)", "image/png")},
        "/health": {
            "get": {
                "operationId": "getHealth",
                "summary": "Is the service up, and with which model",
                "security": [],
                "responses": {"200": _json("Up", "Health"), **_errors(400)},
            }
        },
        "/openapi.json": {
            "get": {
                "operationId": "getOpenapi",
                "summary": "This document",
                "responses": {
                    "200": {"description": "OpenAPI 3", "content": {"application/json": {}}},
                    **_errors(400, *guarded),
                },
            }
        },
        "/predict": {
            "post": {
                "operationId": "predict",
                "summary": "Classify one photo",
                "requestBody": _upload("photo"),
                "parameters": [_flag("overlay", "add a PNG heatmap overlay, base64 (overlay_png)")],
                "responses": {
                    "200": _json("The classify --json item", "Item"),
                    **_errors(400, *guarded, 403, 413, 422, 503),
                },
            }
        },
        "/predict_batch": {
            "post": {
                "operationId": "predictBatch",
                "summary": "Classify every photo of a ZIP archive",
                "requestBody": _upload("zip"),
                "parameters": [
                    _flag("detail", "answer the whole classify --json document instead of member -> label"),
                    _flag("overlay", "with detail: a PNG heatmap overlay per classified photo, base64"),
                ],
                "responses": {
                    "200": {
                        "description": "Member name -> label, or with ?detail=1 the classify --json document",
                        "content": {"application/json": {"schema": {"oneOf": [_ref("Labels"), _ref("Results")]}}},
                    },
                    **_errors(400, *guarded, 403, 413, 422, 503),
                },
            }
        },
        "/jobs": {
            "post": {
                "operationId": "createJob",
                "summary": "Start a job on an uploaded ZIP, or on a folder or ZIP under an --allow-root",
                "requestBody": {
                    "required": True,
                    "content": {
                        **_upload("zip")["content"],
                        "application/json": {
                            "schema": _object({"path": {"type": "string", "minLength": 1}}, closed=False)
                        },
                    },
                },
                "responses": {
                    "202": {**_json("Queued", "JobCreated"), "links": _JOB_LINKS},
                    **_errors(400, *guarded, 403, 413, 422),
                },
            }
        },
        "/jobs/{job_id}": {
            "get": {
                "operationId": "getJob",
                "summary": "A job's state",
                "parameters": _JOB_ID,
                "responses": {"200": _json("State", "Job"), **_errors(400, *guarded, 404)},
            },
            "delete": {
                "operationId": "removeJob",
                "summary": "Remove a job with all its files (a queued or running one is cancelled first)",
                "parameters": _JOB_ID,
                "responses": {"200": _json("Removed (status removed)", "Job"), **_errors(400, *guarded, 403, 404)},
            },
        },
        "/jobs/{job_id}/cancel": {
            "post": {
                "operationId": "cancelJob",
                "summary": "Stop a queued or running job (what it finished stays until the job is removed)",
                "parameters": _JOB_ID,
                "responses": {
                    "200": _json("Cancelled (status cancelled)", "Job"),
                    **_errors(400, *guarded, 403, 404, 409),
                },
            }
        },
        "/watch": {
            "get": {
                "operationId": "getWatch",
                "summary": "What serve --watch found in its folders: the results after the first ?after=N",
                "parameters": [
                    {"name": "after", "in": "query", "schema": {"type": "integer", "minimum": 0, "maximum": 999999999}}
                ],
                "responses": {"200": _json("The watch", "Watch"), **_errors(400, *guarded)},
            }
        },
        "/jobs/{job_id}/results.{kind}": {
            "get": {
                "operationId": "getJobResults",
                "summary": "A finished job's results.json or results.csv (as defectsort classify writes them)",
                "parameters": [
                    *_JOB_ID,
                    {"name": "kind", "in": "path", "required": True, "schema": {"enum": ["json", "csv"]}},
                ],
                "responses": {
                    "200": {
                        "description": "The file",
                        "content": {"application/json": {"schema": _ref("Results")}, "text/csv": {}},
                    },
                    **_errors(400, *guarded, 404, 409),
                },
            }
        },
    }


_JOB_LINKS = {
    name: {"operationId": operation, "parameters": {"job_id": "$response.body#/id"}}
    for name, operation in (
        ("GetJob", "getJob"),
        ("GetJobResults", "getJobResults"),
        ("CancelJob", "cancelJob"),
        ("RemoveJob", "removeJob"),
    )
}


def _open(operation: str, summary: str, media_type: str) -> dict:
    """A GET served to anyone (no token)."""
    content = {media_type: {"schema": {"type": "string"}}}
    return {
        "operationId": operation,
        "summary": summary,
        "security": [],
        "responses": {"200": {"description": summary, "content": content}, **_errors(400)},
    }


PHOTO_TYPES = ("image/jpeg", "image/png", "image/bmp", "image/tiff", "image/webp")


def _upload(kind: str) -> dict:
    """A request body that is one file, a ``photo`` or a ``zip``: the multipart field ``file``, or the raw body
    (the service reads the bytes whatever the ``Content-Type``; these are the types it documents)."""
    binary = {"type": "string", "format": "binary"}
    file_part = {"schema": _object({"file": binary}), "encoding": {"file": {"contentType": _TYPES[kind]}}}
    raw = {media_type: {"schema": binary} for media_type in _TYPES[kind].split(", ")}
    return {"required": True, "content": {"multipart/form-data": file_part, **raw}}


_TYPES = {"photo": ", ".join(PHOTO_TYPES), "zip": "application/zip"}


def _flag(name: str, description: str) -> dict:
    return {"name": name, "in": "query", "schema": {"type": "boolean"}, "description": description}


def _ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def document(bundle: Bundle, token_required: bool = False) -> dict:
    """Return the OpenAPI 3 document of the service running ``bundle``.

    :param token_required: whether the service was started with a token: only then does the document
        declare bearer security (a service without one applies none)
    """
    security: dict = {"security": [{"bearer": []}]} if token_required else {}
    schemes: dict = {"securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}} if token_required else {}
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "DefectSort",
            "version": "1",
            "description": f"Model: {bundle.name} {bundle.version}; classes: {', '.join(bundle.classes)}",
        },
        **security,
        "paths": _paths(token_required),
        "components": {**schemes, "schemas": _schemas(bundle)},
    }


def _schemas(bundle: Bundle) -> dict:
    label = {"type": "string", "enum": list(bundle.classes)}
    model = _object({"name": _STRING, "version": _STRING, "sha256": _STRING})
    serving = _object({"name": _STRING, "version": _STRING, "sha256": _STRING, "runtime": _STRING})
    return {
        "Error": _object({"error": _STRING}),
        "Health": _object({"status": {"type": "string", "enum": ["ok"]}, "model": serving}),
        "Item": _item(bundle, label),
        "Labels": {
            "type": "object",
            "description": "Member name -> the photo's label (the final one: 'review' or 'unknown' when in doubt), "
            "or 'error' when unreadable",
            "additionalProperties": {"type": "string", "enum": [*bundle.classes, "review", "unknown", "error"]},
        },
        "Results": _object(
            {
                "model": model,
                "summary": _object(
                    {
                        "total": _COUNT,
                        "by_label": {"type": "object", "additionalProperties": _COUNT},
                        "review": _COUNT,
                        "unknown": _COUNT,
                        "errors": _COUNT,
                    }
                ),
                "items": {"type": "array", "items": {"$ref": "#/components/schemas/Item"}},
            },
            closed=False,  # a job's results.json also says how the run went
        ),
        "JobCreated": _object({"id": _STRING, "status_url": _STRING}),
        "Watch": _object(
            {
                "watching": {"type": "boolean"},
                "folders": {"type": "array", "items": _STRING},
                "landing": _COUNT,
                "total": _COUNT,
                "items": {"type": "array", "items": {"$ref": "#/components/schemas/Item"}},
            }
        ),
        "Job": _object(
            {
                "id": _STRING,
                "status": {"type": "string", "enum": ["queued", "running", "done", "failed", "cancelled", "removed"]},
                "done": _COUNT,
                "total": _COUNT,
                "created": _STRING,
                "error": _STRING,
            },
            required=("id", "status"),
        ),
    }


def _item(bundle: Bundle, label: dict) -> dict:
    """The item of ``classify --json``: the model's answer (``JSON_FIELDS``) and the final decision."""
    status = {"type": "string", "enum": ["ok", "review", "unknown", "error"]}
    properties = {
        "source": _STRING,
        "name": _STRING,
        "label": {**label, "nullable": True},
        "confidence": _SHARE_OR_NULL,
        "probabilities": {"type": "object", "additionalProperties": _SHARE},
        "status": status,
        "error": _STRING_OR_NULL,
        "peak": {**_numbers(2), "nullable": True},
        "box": {**_numbers(4), "nullable": True},
        "explanation": _STRING_OR_NULL,
        "boxes": {"type": "array", "items": _numbers(4)},
        "also": {"type": "array", "items": label},
        "ood_score": {"type": "number", "nullable": True},
        "anomaly_score": {"type": "number", "nullable": True},
        "unlisted_box": {**_numbers(4), "nullable": True},
        "model_status": status,
        "final_label": {**label, "nullable": True},
        "settled_by": {"type": "string", "enum": ["model", "inspector"], "nullable": True},
        "corrected": {"type": "boolean"},
    }
    return {
        **_object({**properties, "overlay_png": {"type": "string", "format": "byte"}}, optional=("overlay_png",)),
        "description": "The item of classify --json; status is the final one: ok (settled), review, unknown or "
        "error; model_status the model's; overlay_png (base64 PNG) only when asked for",
    }


_STRING = {"type": "string"}
_STRING_OR_NULL = {"type": "string", "nullable": True}
_COUNT = {"type": "integer", "minimum": 0}
_SHARE = {"type": "number", "minimum": 0, "maximum": 1}
_SHARE_OR_NULL = {**_SHARE, "nullable": True}


def _numbers(count: int) -> dict:
    return {"type": "array", "items": {"type": "number"}, "minItems": count, "maxItems": count}


def _object(
    properties: dict, required: tuple[str, ...] | None = None, optional: tuple[str, ...] = (), closed: bool = True
) -> dict:
    """An object schema: every property required (unless named ``optional`` or ``required`` is given)."""
    names = [name for name in properties if name not in optional] if required is None else list(required)
    return {"type": "object", "properties": properties, "required": names, "additionalProperties": not closed}
