"""Error responses: JSON under ``/api/``, HTML pages elsewhere, never a stack trace."""

from __future__ import annotations

import sqlite3

import psycopg
from flask import Flask, Response, current_app, jsonify, make_response, render_template, request
from flask_limiter import RateLimitExceeded
from sqlalchemy.exc import DBAPIError, OperationalError, PendingRollbackError
from werkzeug.exceptions import HTTPException, InternalServerError, RequestEntityTooLarge

from dashboard import ratelimits
from dashboard.database import missing_table
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


# Errors the drivers raise themselves, outside SQLAlchemy: bulk loads run on the
# raw driver cursor (COPY on PostgreSQL, executemany on SQLite).
DRIVER_ERRORS = (sqlite3.OperationalError, psycopg.OperationalError, psycopg.InterfaceError)

DATABASE_TROUBLE = {
    "read_only": (
        "the database is read-only (its file, directory or server refuses writes): "
        "nothing was stored; reading still works"
    ),
    "full": (
        "the database is full (no space left on its disk, or its size limit reached): "
        "nothing was stored; reading still works"
    ),
    "busy": "the database is busy with other writes; nothing was stored; retry shortly",
    "unavailable": "the database is unavailable; retry shortly",
    "not_migrated": (
        "the database has no Suitescope tables yet: run `suitescope db upgrade` "
        "(`make run` does), then reload"
    ),
}
# Troubles that waiting will not mend: no Retry-After.
LASTING_TROUBLE = frozenset({"not_migrated"})


# SQLite's primary result codes that mean "not now" rather than "not like this";
# its generic SQLITE_ERROR (a syntax error) stays a 500, but for a missing table.
SQLITE_TROUBLE = {
    "READONLY": "read_only",
    "FULL": "full",
    "BUSY": "busy",
    "LOCKED": "busy",
    "CANTOPEN": "unavailable",
    "IOERR": "unavailable",
}


def database_trouble(error: Exception) -> str | None:
    """Why the database cannot serve this request now (a key of ``DATABASE_TROUBLE``).

    ``None`` for an error that is our fault (a bad statement, a broken
    constraint): that is a 500, not a reason to come back later.
    """
    if isinstance(error, PendingRollbackError) and error.__context__ is not None:
        # Cleanup that touched the session after the connection died (a
        # ``finally`` dropping a staging table) masks the failure behind this
        # one: judge the failure it was raised while handling.
        return database_trouble(error.__context__)
    driver_error = getattr(error, "orig", error)
    if missing_table(driver_error):
        return "not_migrated"
    sqlite_name = getattr(driver_error, "sqlite_errorname", None)
    if sqlite_name is not None:  # "SQLITE_BUSY_SNAPSHOT": the primary code is BUSY
        return SQLITE_TROUBLE.get(sqlite_name.split("_")[1])
    if isinstance(driver_error, psycopg.errors.ReadOnlySqlTransaction):
        return "read_only"
    if isinstance(driver_error, psycopg.errors.DiskFull):
        return "full"
    if isinstance(driver_error, psycopg.errors.DeadlockDetected | psycopg.errors.LockNotAvailable):
        return "busy"
    if isinstance(error, OperationalError | psycopg.OperationalError | psycopg.InterfaceError):
        return "unavailable"
    if isinstance(error, DBAPIError) and error.connection_invalidated:
        return "unavailable"  # the connection dropped mid-request: a restart, a failover
    return None


def handle_database_error(error: Exception) -> Response:
    """The database cannot serve us now: say why and when to come back; nothing half-done stays.

    Answers 503 with ``Retry-After`` for an unreachable, restarting, busy,
    read-only or full database, and 503 without it for one never migrated;
    any other database error is a bug (500).
    """
    trouble = database_trouble(error)
    if trouble is None:
        return handle_unexpected(error)
    cause = error.__context__ if isinstance(error, PendingRollbackError) else error
    current_app.logger.warning("database %s: %s", trouble, getattr(cause, "orig", cause))
    try:
        db.session.rollback()
    except Exception:  # the connection may be gone; the pool discards it
        current_app.logger.warning("rollback after a database error failed", exc_info=True)
    response = error_response(
        503, DATABASE_TROUBLE[trouble], code="database_unavailable", details={"reason": trouble}
    )
    if trouble not in LASTING_TROUBLE:
        response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


def handle_unexpected(error: Exception) -> Response:
    if current_app.debug:
        raise error
    current_app.logger.exception("unhandled error on %s %s", request.method, request.path)
    try:
        db.session.rollback()
    except Exception:  # never let cleaning up turn a clear 500 into a crash
        current_app.logger.warning("rollback after an error failed", exc_info=True)
    return error_response(500, InternalServerError.description)


def remove_session(_error: BaseException | None) -> None:
    """End the request's session before Flask-SQLAlchemy would, without failing the reply.

    Ending it rolls back; if the database went away after the view's last
    statement, that rollback raises, and from a teardown function the error
    would reach the WSGI server, which turns a finished reply into a bare 500.
    """
    try:
        db.session.remove()
    except Exception:
        current_app.logger.warning("ending the session failed; connection dropped", exc_info=True)
        db.session.registry.clear()


def register(app: Flask) -> None:
    # Teardown functions run last-registered first: this one before Flask-SQLAlchemy's.
    app.teardown_appcontext(remove_session)
    app.register_error_handler(HTTPException, handle_http_exception)
    app.register_error_handler(RateLimitExceeded, handle_rate_limited)
    app.register_error_handler(IngestError, handle_ingest_error)
    app.register_error_handler(DBAPIError, handle_database_error)
    app.register_error_handler(PendingRollbackError, handle_database_error)
    for driver_error in DRIVER_ERRORS:
        app.register_error_handler(driver_error, handle_database_error)
    app.register_error_handler(Exception, handle_unexpected)
