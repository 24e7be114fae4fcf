"""``POST /api/v1/uploads``: how CI sends reports.

Multipart (``file`` fields plus metadata fields) or a raw body with the
metadata as query parameters, for plain ``curl --data-binary``.
"""

from __future__ import annotations

from flask import current_app, jsonify, request, url_for
from werkzeug.exceptions import BadRequest, UnsupportedMediaType

from dashboard.api import bp
from dashboard.auth import require_token
from dashboard.extensions import db
from dashboard.models import utcnow
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


def run_url(project_slug: str, run_id: int) -> str:
    base = current_app.config.get("SUITESCOPE_BASE_URL")
    path = url_for("ui.run_detail", slug=project_slug, run_id=run_id)
    return (
        f"{base}{path}"
        if base
        else url_for("ui.run_detail", slug=project_slug, run_id=run_id, _external=True)
    )


@bp.post("/uploads")
def create_upload():
    token = require_token()
    files, fields = incoming_files()
    meta = parse_metadata(fields)
    token.last_used_at = utcnow()
    outcome = ingest_upload(
        db.session,
        token.project_id,
        meta,
        files,
        max_bytes=current_app.config["MAX_CONTENT_LENGTH"],
    )
    body = outcome.to_json(run_url(token.project.slug, outcome.run_id))
    return jsonify(body), 200 if outcome.duplicate else 201
