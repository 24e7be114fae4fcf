"""Flaky tests and the quarantine list as JSON, for bots and for CI.

``GET .../flaky`` is the flaky tests screen's report. ``GET .../quarantine``
is what CI reads before running its tests (``format=pytest`` gives node ids for
``pytest --deselect``); ``POST`` and ``DELETE`` on the same path change it with
the project's own token.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from flask import Response, abort, jsonify, request
from werkzeug.exceptions import BadRequest, Forbidden

from dashboard import access
from dashboard import quarantine as quarantine_service
from dashboard.analytics.flaky import REPORT_STATUSES, CaseFlakiness, flaky_report
from dashboard.analytics.scope import Scope
from dashboard.api import bp, openapi
from dashboard.api.common import (
    CASE_IDENTITY_PROPERTIES,
    api_project_or_404,
    case_identity_json,
    int_arg,
    iso,
    text_arg,
)
from dashboard.api.openapi import DATE_TIME
from dashboard.auth import require_token
from dashboard.filters import DEFAULT_WINDOW, WINDOWS, Filters
from dashboard.models import Case, Project, Quarantine

QUARANTINE_FORMATS = ("json", "pytest", "text")
IDENTITY_FIELDS = ("file", "classname", "name", "suite")


# --- reading ---------------------------------------------------------------------------


@bp.get("/projects/<slug>/flaky")
def flaky_tests(slug: str):
    project = api_project_or_404(slug)
    filters = report_filters()
    rows = flaky_report(Scope.from_filters(project, filters), status=filters.status)
    return jsonify({"window_days": filters.window, "tests": [flakiness_json(r) for r in rows]})


@bp.get("/projects/<slug>/quarantine")
def quarantine_list(slug: str):
    project = api_project_or_404(slug)
    output = text_arg("format", QUARANTINE_FORMATS) or "json"
    entries = quarantine_service.active_quarantines(project)
    if output == "pytest":
        return text_lines(
            quarantine_service.pytest_node_id(q.case.file, q.case.classname, q.case.name)
            for q in entries
        )
    if output == "text":
        return text_lines(quarantine_service.display_line(q.case) for q in entries)
    return jsonify({"quarantined": [quarantine_json(q) for q in entries]})


def report_filters() -> Filters:
    """The query string, validated: a bad value is a 400, never a guess."""
    return Filters(
        window=int_arg("window", DEFAULT_WINDOW, WINDOWS),
        branch=text_arg("branch"),
        job=text_arg("job"),
        status=text_arg("status", REPORT_STATUSES),
    )


def text_lines(lines: Iterable[str]) -> Response:
    unique = list(dict.fromkeys(lines))  # one line per node id, first come first kept
    body = "".join(f"{line}\n" for line in unique)
    return Response(body, mimetype="text/plain")


def flakiness_json(row: CaseFlakiness) -> dict:
    return {
        **case_identity_json(row.case_id, row),
        "status": row.status,
        "executions": row.executions,
        "failures": row.failures,
        "flaky_executions": row.flaky_executions,
        "flake_rate": row.flake_rate,
        "flake_rate_low": row.flake_rate_low,
        "flake_rate_high": row.flake_rate_high,
        "flip_rate": row.flip_rate,
        "retry_flakes": row.retry_flakes,
        "same_commit_flakes": row.same_commit_flakes,
        "runs_disrupted": row.runs_disrupted,
        "ci_seconds_lost": row.ci_seconds_lost,
        "last_flake_run_id": row.last_flake_run_id,
        "why": row.why,
        "quarantined": row.quarantine is not None,
        "evidence": [e.to_json() for e in row.evidence],
    }


def quarantine_json(quarantine: Quarantine) -> dict:
    case = quarantine.case
    return {
        **case_identity_json(case.id, case),
        "node_id": quarantine_service.pytest_node_id(case.file, case.classname, case.name),
        "reason": quarantine.reason,
        "created_by": quarantine.created_by,
        "created_at": iso(quarantine.created_at),
        "expires_at": iso(quarantine.expires_at),
        "lifted_at": iso(quarantine.lifted_at),
    }


# --- changing (with the project's token) -----------------------------------------------


@bp.post("/projects/<slug>/quarantine")
def add_quarantine(slug: str):
    project, created_by = token_project(slug)
    body = json_object()
    case = case_from(project, body)
    reason = string_field(body, "reason")
    expires = string_field(body, "expires_at")
    try:
        entry = quarantine_service.quarantine_case(
            project,
            case,
            reason or "",
            created_by=created_by,
            expires_at=quarantine_service.parse_expiry(expires),
        )
    except quarantine_service.AlreadyQuarantined as error:
        abort(409, str(error))
    except quarantine_service.QuarantineError as error:
        abort(422, str(error))
    return jsonify(quarantine_json(entry)), 201


@bp.delete("/projects/<slug>/quarantine")
def remove_quarantine(slug: str):
    project, _ = token_project(slug)
    # A JSON body like POST's, or the same fields in the query string.
    body = json_object() if request.content_length else request.args
    case = case_from(project, body)
    try:
        entry = quarantine_service.lift_quarantine(project, case)
    except quarantine_service.NotQuarantined as error:
        abort(404, str(error))
    return jsonify(quarantine_json(entry))


def token_project(slug: str) -> tuple[Project, str]:
    """The project, if the request's token belongs to it; and who to record as the author."""
    token = require_token()
    project = api_project_or_404(slug)
    if token.project_id != project.id:
        raise Forbidden("this token belongs to another project")
    access.record_token_use(token)
    return project, f"token {token.name or token.prefix}"


def json_object() -> dict:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise BadRequest("send a JSON object (Content-Type: application/json)")
    return body


def string_field(body: Mapping, name: str) -> str | None:
    value = body.get(name)
    if value is not None and not isinstance(value, str):
        raise BadRequest(f"`{name}` must be a string")
    return value


def case_from(project: Project, body: Mapping) -> Case:
    """The case named by ``case_id``, or by ``file``, ``classname``, ``name`` (and ``suite``)."""
    try:
        if body.get("case_id") is not None:
            return quarantine_service.find_case(project, case_id=case_id_field(body))
        if not isinstance(body.get("name"), str) or not body["name"]:
            raise BadRequest("identify the case by `case_id`, or by `file`, `classname`, `name`")
        fields = {name: string_field(body, name) for name in IDENTITY_FIELDS}
        return quarantine_service.find_case(project, **fields)
    except quarantine_service.UnknownCase as error:
        abort(404, str(error))


def case_id_field(body: Mapping) -> int:
    value = body["case_id"]
    if isinstance(value, str) and value.isascii() and value.isdigit():
        value = int(value)  # from a query string
    if isinstance(value, bool) or not isinstance(value, int):
        raise BadRequest("`case_id` must be an integer")
    return value


# --- OpenAPI ---------------------------------------------------------------------------

NULLABLE_STRING = {"type": "string", "nullable": True}

EVIDENCE_SCHEMA = openapi.schema(
    "FlakyEvidence",
    openapi.object_schema(
        {
            "kind": {"type": "string", "enum": ["retry_flake", "same_commit", "flip"]},
            "run_ids": {"type": "array", "items": {"type": "integer"}},
            "commit": NULLABLE_STRING,
            "branch": NULLABLE_STRING,
            "job": NULLABLE_STRING,
            "started_at": DATE_TIME,
            "detail": {"type": "string"},
        }
    ),
)

RATE = {"type": "number", "minimum": 0, "maximum": 1}
COUNT = {"type": "integer", "minimum": 0}

FLAKY_TEST_SCHEMA = openapi.schema(
    "FlakyTest",
    openapi.object_schema(
        {
            **CASE_IDENTITY_PROPERTIES,
            "status": {"type": "string", "enum": list(REPORT_STATUSES)},
            "executions": COUNT,
            "failures": COUNT,
            "flaky_executions": COUNT,
            "flake_rate": RATE,
            "flake_rate_low": RATE,
            "flake_rate_high": RATE,
            "flip_rate": {**RATE, "nullable": True},
            "retry_flakes": COUNT,
            "same_commit_flakes": COUNT,
            "runs_disrupted": COUNT,
            "ci_seconds_lost": {"type": "number", "minimum": 0},
            "last_flake_run_id": {"type": "integer", "nullable": True},
            "why": {"type": "string"},
            "quarantined": {"type": "boolean"},
            "evidence": {"type": "array", "items": EVIDENCE_SCHEMA},
        }
    ),
)

QUARANTINE_SCHEMA = openapi.schema(
    "QuarantinedTest",
    openapi.object_schema(
        {
            **CASE_IDENTITY_PROPERTIES,
            "node_id": {"type": "string", "description": "pytest node id, for --deselect"},
            "reason": {"type": "string"},
            "created_by": {"type": "string"},
            "created_at": DATE_TIME,
            "expires_at": {**NULLABLE_STRING, "format": "date-time"},
            "lifted_at": {**NULLABLE_STRING, "format": "date-time"},
        }
    ),
)

CASE_FIELDS = {
    "case_id": {"type": "integer", "description": "the case's id (or give file/classname/name)"},
    "file": {"type": "string"},
    "classname": {"type": "string"},
    "name": {"type": "string"},
    "suite": {"type": "string", "description": "only for cases without a classname"},
}

openapi.describe(
    "/projects/{slug}/flaky",
    "get",
    {
        "summary": "Flaky, failing and quarantined tests, the costliest first",
        "parameters": [
            openapi.SLUG_PARAMETER,
            *openapi.FILTER_PARAMETERS,
            openapi.query_parameter("status", {"type": "string", "enum": list(REPORT_STATUSES)}),
        ],
        "responses": {
            "200": openapi.json_response(
                openapi.object_schema(
                    {
                        "window_days": {"type": "integer", "enum": list(WINDOWS)},
                        "tests": {"type": "array", "items": FLAKY_TEST_SCHEMA},
                    }
                )
            ),
            **openapi.error_responses(400, 401, 403, 404),
        },
    },
)

openapi.describe(
    "/projects/{slug}/quarantine",
    "get",
    {
        "summary": "The active quarantine list, for CI",
        "description": "`format=pytest`: one node id per line, for `pytest --deselect`; "
        "`format=text`: one display name per line.",
        "parameters": [
            openapi.SLUG_PARAMETER,
            openapi.query_parameter("format", {"type": "string", "enum": list(QUARANTINE_FORMATS)}),
        ],
        "responses": {
            "200": {
                "description": "OK",
                "content": {
                    "application/json": {
                        "schema": openapi.object_schema(
                            {"quarantined": {"type": "array", "items": QUARANTINE_SCHEMA}}
                        )
                    },
                    "text/plain": {"schema": {"type": "string"}},
                },
            },
            **openapi.error_responses(400, 401, 403, 404),
        },
    },
)

openapi.describe(
    "/projects/{slug}/quarantine",
    "post",
    {
        "summary": "Quarantine a test (with the project's token)",
        "security": [{"bearer": []}],
        "parameters": [openapi.SLUG_PARAMETER],
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {
                    "schema": {
                        "type": "object",
                        "required": ["reason"],
                        "properties": {
                            **CASE_FIELDS,
                            "reason": {"type": "string"},
                            "expires_at": {
                                **NULLABLE_STRING,
                                "description": "YYYY-MM-DD (the end of that day, UTC) "
                                "or an ISO 8601 date-time",
                            },
                        },
                    }
                }
            },
        },
        "responses": {
            "201": openapi.json_response(QUARANTINE_SCHEMA, "quarantined"),
            **openapi.error_responses(400, 401, 403, 404, 409, 422),
        },
    },
)

openapi.describe(
    "/projects/{slug}/quarantine",
    "delete",
    {
        "summary": "Lift a test's quarantine (with the project's token)",
        "description": "Identify the case in the query string, or in a JSON body as for POST.",
        "security": [{"bearer": []}],
        "parameters": [
            openapi.SLUG_PARAMETER,
            *(openapi.query_parameter(name, spec) for name, spec in CASE_FIELDS.items()),
        ],
        "responses": {
            "200": openapi.json_response(QUARANTINE_SCHEMA, "lifted"),
            **openapi.error_responses(400, 401, 403, 404),
        },
    },
)
