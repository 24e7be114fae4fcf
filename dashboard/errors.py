"""Error responses: JSON under ``/api/``, HTML pages elsewhere, never a stack trace."""

from __future__ import annotations

from flask import Flask, Response, current_app, jsonify, make_response, render_template, request
from flask_limiter import RateLimitExceeded
from sqlalchemy.exc import OperationalError
from werkzeug.exceptions import HTTPException, InternalServerError, RequestEntityTooLarge

from dashboard import ratelimits
from dashboard.extensions import db
from ingest.errors import IngestError

RETRY_AFTER_SECONDS = 5
# An ingest error may quote the report (a line, an attribute): enough to find it.
MAX_INGEST_MESSAGE_CHARS = 1000

CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "too_large",
    415: "unsupported_media_type",
    422: "unprocessable",
    429: "rate_limited",
    500: "internal_error",
    503: "unavailable",
}


def wants_json() -> bool:
    return request.path.startswith("/api/") or request.path == "/healthz"


def error_response(
    status: int, message: str, *, code: str | None = None, details: dict | None = None
) -> Response:
    """The one shape of every error: ``{"error": {"code", "message", ...}}`` or a page."""
    code = code or CODES.get(status, "error")
    if wants_json():
        response = jsonify({"error": {"code": code, "message": message, **(details or {})}})
    else:
        page = render_template("error.html", status=status, message=message, code=code)
        response = make_response(page)
    response.status_code = status
    return response


def handle_http_exception(error: HTTPException) -> Response:
    message = error.description or error.name
    limit = current_app.config.get("MAX_CONTENT_LENGTH")
    if message == RequestEntityTooLarge.description and limit:
        # Werkzeug's words ("The data value transmitted exceeds the capacity limit.")
        # do not say which limit, nor how to change it.
        message = (
            f"the request is larger than this server accepts: {limit:,} bytes "
            f"({limit / 1024 / 1024:g} MB, SUITESCOPE_MAX_UPLOAD_MB)"
        )
    response = error_response(error.code or 500, message)
    # Keep headers such as Allow (405) and WWW-Authenticate (401).
    for name, value in error.get_headers():
        if name.lower() != "content-type":
            response.headers[name] = value
    return response


def handle_rate_limited(error: RateLimitExceeded) -> Response:
    """429 in our shape, saying which limit was hit and when to retry (also as Retry-After)."""
    seconds = ratelimits.seconds_to_wait(error)
    response = error_response(429, ratelimits.breach_message(error, seconds))
    response.headers["Retry-After"] = str(seconds)
    return response


def handle_ingest_error(error: IngestError) -> Response:
    details = {k: v for k, v in error.to_dict().items() if k not in ("code", "message")}
    message = str(error)
    if len(message) > MAX_INGEST_MESSAGE_CHARS:  # it may quote a line of the report
        message = message[: MAX_INGEST_MESSAGE_CHARS - 1] + "…"
    return error_response(error.status, message, code=error.code, details=details)


def handle_database_unavailable(error: OperationalError) -> Response:
    """The database went away: tell clients when to come back; nothing half-done stays."""
    current_app.logger.warning("database unavailable: %s", error.orig)
    db.session.rollback()
    response = error_response(
        503, "the database is unavailable; retry shortly", code="database_unavailable"
    )
    response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


def handle_unexpected(error: Exception) -> Response:
    if current_app.debug:
        raise error
    current_app.logger.exception("unhandled error on %s %s", request.method, request.path)
    db.session.rollback()
    return error_response(500, InternalServerError.description)


def register(app: Flask) -> None:
    app.register_error_handler(HTTPException, handle_http_exception)
    app.register_error_handler(RateLimitExceeded, handle_rate_limited)
    app.register_error_handler(IngestError, handle_ingest_error)
    app.register_error_handler(OperationalError, handle_database_unavailable)
    app.register_error_handler(Exception, handle_unexpected)
