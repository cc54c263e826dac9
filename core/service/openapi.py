"""The OpenAPI 3 description of the service (hand-written; a test keeps it equal to the real routes)."""

from __future__ import annotations

from core.inference.prediction import JSON_FIELDS
from core.model.bundle import Bundle
from core.results.final import FINAL_FIELDS

_ERROR = {
    "description": "One line saying what is wrong",
    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
}
_UPLOAD_CONTENT: dict = {
    "multipart/form-data": {
        "schema": {"type": "object", "properties": {"file": {"type": "string", "format": "binary"}}}
    },
    "application/octet-stream": {"schema": {"type": "string", "format": "binary"}},
}
_UPLOAD = {"required": True, "content": _UPLOAD_CONTENT}
_JOB_ID = [
    {"name": "job_id", "in": "path", "required": True, "schema": {"type": "string", "pattern": "^[0-9a-f]{32}$"}}
]


def _json(description: str, ref: str) -> dict:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{ref}"}}},
    }


def _errors(*codes: int) -> dict:
    return {str(code): _ERROR for code in codes}


def _paths() -> dict:
    return {
        "/": {
            "get": {
                "summary": "The web page: drop photos or a ZIP, see them grouped by label",
                "security": [],
                "responses": {"200": {"description": "HTML", "content": {"text/html": {}}}},
            }
        },
        "/favicon.ico": {
            "get": {
                "summary": "The app's icon (PNG)",
                "security": [],
                "responses": {"200": {"description": "PNG", "content": {"image/png": {}}}},
            }
        },
        "/health": {
            "get": {
                "summary": "Is the service up, and with which model",
                "security": [],
                "responses": {"200": _json("Up", "Health")},
            }
        },
        "/openapi.json": {
            "get": {"summary": "This document", "responses": {"200": {"description": "OpenAPI 3"}, **_errors(401)}}
        },
        "/predict": {
            "post": {
                "summary": "Classify one photo",
                "requestBody": _UPLOAD,
                "parameters": [
                    {
                        "name": "overlay",
                        "in": "query",
                        "schema": {"type": "boolean"},
                        "description": "add a PNG heatmap overlay, base64",
                    }
                ],
                "responses": {"200": _json("The classify --json item", "Item"), **_errors(400, 401, 413, 422, 503)},
            }
        },
        "/predict_batch": {
            "post": {
                "summary": "Classify every photo of a ZIP archive",
                "requestBody": _UPLOAD,
                "parameters": [
                    {
                        "name": "detail",
                        "in": "query",
                        "schema": {"type": "boolean"},
                        "description": "the whole classify --json document",
                    },
                    {
                        "name": "overlay",
                        "in": "query",
                        "schema": {"type": "boolean"},
                        "description": "with detail: a PNG heatmap overlay per classified photo, base64",
                    },
                ],
                "responses": {
                    "200": _json(
                        "Member name -> label ('error' when unreadable), or the document with ?detail=1", "Labels"
                    ),
                    **_errors(400, 401, 413, 422, 503),
                },
            }
        },
        "/jobs": {
            "post": {
                "summary": "Start a job on an uploaded ZIP, or on a folder or ZIP under an --allow-root",
                "requestBody": {
                    "required": True,
                    "content": {
                        **_UPLOAD_CONTENT,
                        "application/json": {
                            "schema": {
                                "type": "object",
                                "required": ["path"],
                                "properties": {"path": {"type": "string"}},
                            }
                        },
                    },
                },
                "responses": {"202": _json("Queued", "JobCreated"), **_errors(400, 401, 403, 413, 422)},
            }
        },
        "/jobs/{job_id}": {
            "get": {
                "summary": "A job's state",
                "parameters": _JOB_ID,
                "responses": {"200": _json("State", "Job"), **_errors(401, 404)},
            },
            "delete": {
                "summary": "Cancel a queued or running job, or remove an ended one with its files",
                "parameters": _JOB_ID,
                "responses": {
                    "200": _json("Cancelled (status cancelled) or removed (status removed)", "Job"),
                    **_errors(401, 404),
                },
            },
        },
        "/jobs/{job_id}/results.{kind}": {
            "get": {
                "summary": "A finished job's results.json or results.csv (as defectsort classify writes them)",
                "parameters": [
                    *_JOB_ID,
                    {"name": "kind", "in": "path", "required": True, "schema": {"enum": ["json", "csv"]}},
                ],
                "responses": {
                    "200": {"description": "The file", "content": {"application/json": {}, "text/csv": {}}},
                    **_errors(401, 404, 409),
                },
            }
        },
    }


def document(bundle: Bundle) -> dict:
    """Return the OpenAPI 3 document of the service running ``bundle``."""
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "DefectSort",
            "version": "1",
            "description": f"Model: {bundle.name} {bundle.version}; classes: {', '.join(bundle.classes)}",
        },
        "security": [{"bearer": []}],
        "paths": _paths(),
        "components": {
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer", "description": "only when the service has a token"}
            },
            "schemas": {
                "Error": {"type": "object", "properties": {"error": {"type": "string"}}},
                "Health": {
                    "type": "object",
                    "properties": {
                        "status": {"type": "string"},
                        "model": {
                            "type": "object",
                            "properties": {
                                "name": {"type": "string"},
                                "version": {"type": "string"},
                                "sha256": {"type": "string"},
                            },
                        },
                    },
                },
                "Item": {
                    "type": "object",
                    "properties": {name: {} for name in (*JSON_FIELDS, *FINAL_FIELDS)},
                    "description": "The item of classify --json; status is the final one: ok (settled), review, "
                    "unknown or error; model_status the model's",
                },
                "Labels": {
                    "type": "object",
                    "additionalProperties": {"type": "string", "enum": [*bundle.classes, "error"]},
                },
                "JobCreated": {
                    "type": "object",
                    "properties": {"id": {"type": "string"}, "status_url": {"type": "string"}},
                },
                "Job": {
                    "type": "object",
                    "properties": {
                        "id": {"type": "string"},
                        "status": {"enum": ["queued", "running", "done", "failed", "cancelled", "removed"]},
                        "done": {"type": "integer"},
                        "total": {"type": "integer"},
                        "created": {"type": "string"},
                        "error": {"type": "string"},
                    },
                },
            },
        },
    }
