"""``POST /api/v1/uploads``: how CI sends reports.

Multipart (``file`` fields plus metadata fields) or a raw body with the
metadata as query parameters, for plain ``curl --data-binary``.
"""

from __future__ import annotations

from flask import current_app, jsonify, request
from werkzeug.exceptions import BadRequest, ClientDisconnected, UnsupportedMediaType

from dashboard.access import record_token_use
from dashboard.api import bp, openapi
from dashboard.api.common import run_url
from dashboard.api.openapi import DATE_TIME
from dashboard.auth import require_token
from dashboard.extensions import db
from ingest.metadata import parse_metadata
from ingest.pipeline import IncomingFile, ingest_upload

RAW_BODY_TYPES = {
    "application/xml",
    "text/xml",
    "application/json",
    "text/plain",
    "application/gzip",
    "application/x-gzip",
    "application/octet-stream",
}


def incoming_files() -> tuple[list[IncomingFile], dict]:
    """The files of the request and the fields carrying their metadata."""
    try:
        return read_files()
    except ClientDisconnected:
        # The body ended before the bytes its Content-Length promised.
        raise BadRequest(
            f"the request body is shorter than its Content-Length ({request.content_length:,} "
            "bytes): the upload was cut off, or the header is wrong; send it again"
        ) from None


def read_files() -> tuple[list[IncomingFile], dict]:
    if request.mimetype == "multipart/form-data":
        files = [
            IncomingFile(name=storage.filename or "upload", data=storage.read())
            for storage in request.files.getlist("file")
        ]
        if not files:
            raise BadRequest("no `file` field in the upload; send each report as -F file=@path")
        return files, request.form
    if request.mimetype in RAW_BODY_TYPES:
        name = request.args.get("name") or "upload"
        return [IncomingFile(name=name, data=request.get_data(cache=False))], request.args
    raise UnsupportedMediaType(
        "send multipart/form-data with `file` fields, or a raw body typed "
        "application/xml, application/json, text/plain or application/gzip"
    )


@bp.post("/uploads")
def create_upload():
    token = require_token()
    files, fields = incoming_files()
    meta = parse_metadata(fields)
    project_id, slug = token.project_id, token.project.slug
    # Keep the token as it was read: the commits below would expire it, and
    # noting its use afterwards would then read it again.
    db.session.expunge(token)
    # End the token's read transaction: the upload is written in a transaction of
    # its own, begun as a writer (see ingest.transactions).
    db.session.commit()
    outcome = ingest_upload(
        db.session,
        project_id,
        meta,
        files,
        max_bytes=current_app.config["MAX_CONTENT_LENGTH"],
    )
    record_token_use(token)
    body = outcome.to_json(run_url(slug, outcome.run_id))
    return jsonify(body), 200 if outcome.duplicate else 201


RUN_COUNTS = ("tests", "passed", "failed", "errors", "skipped", "retry_flakes")
COUNT = {"type": "integer", "minimum": 0}
# A rate is null where there is nothing to measure (no branch data, no lines).
RATE = {"type": "number", "nullable": True, "minimum": 0, "maximum": 1}
FILE_REPLY = {
    "type": "object",
    "required": ["name", "format", "kind", "duplicate", "warnings"],
    "properties": {
        "name": {"type": "string"},
        "format": {"type": "string"},
        "kind": {"type": "string", "enum": ["tests", "coverage"]},
        "cases": {**COUNT, "description": "test cases in the file (kind tests)"},
        "coverage_files": {**COUNT, "description": "source files covered (kind coverage)"},
        "duplicate": {"type": "boolean"},
        "warnings": {"type": "array", "items": {"type": "string"}},
    },
}

UPLOAD_FIELDS = {
    "commit": {"type": "string", "maxLength": 64},
    "branch": {"type": "string", "maxLength": 255},
    "build": {"type": "string", "maxLength": 255},
    "job": {"type": "string", "maxLength": 255},
    "build_url": {"type": "string", "format": "uri", "maxLength": 2000},
    "started_at": DATE_TIME,
}

openapi.describe(
    "/uploads",
    "post",
    {
        "summary": "Upload test and coverage reports for one run",
        "security": [{"bearer": []}],
        "parameters": [
            openapi.query_parameter(name, spec, "for a raw body")
            for name, spec in UPLOAD_FIELDS.items()
        ],
        "requestBody": {
            "required": True,
            "content": {
                "multipart/form-data": {
                    "schema": {
                        "type": "object",
                        "required": ["file"],
                        "properties": {
                            "file": {
                                "type": "array",
                                "items": {"type": "string", "format": "binary"},
                            },
                            **UPLOAD_FIELDS,
                        },
                    }
                },
                "application/xml": {"schema": {"type": "string"}},
                "application/json": {"schema": {"type": "object"}},
                "text/plain": {"schema": {"type": "string"}},
                "application/gzip": {"schema": {"type": "string", "format": "binary"}},
            },
        },
        "responses": {
            "201": openapi.json_response(
                openapi.schema(
                    "UploadReply",
                    openapi.object_schema(
                        {
                            "run_id": {"type": "integer"},
                            "run_url": {"type": "string"},
                            "duplicate": {"type": "boolean"},
                            "counts": openapi.object_schema(
                                dict.fromkeys(RUN_COUNTS, COUNT),
                                description="the run's totals after this upload, shards merged",
                            ),
                            "coverage": openapi.object_schema(
                                {"line_rate": RATE, "branch_rate": RATE},
                                nullable=True,
                                description="null when the run has no coverage report",
                            ),
                            "files": {"type": "array", "items": FILE_REPLY},
                        }
                    ),
                ),
                "stored",
            ),
            "200": openapi.json_response({"$ref": "#/components/schemas/UploadReply"}, "duplicate"),
            **openapi.error_responses(400, 401, 403, 413, 415, 422, 429),
        },
    },
)
