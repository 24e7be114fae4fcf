"""The OpenAPI document at ``/api/v1/openapi.json``, assembled from each API module.

Every endpoint module describes its own paths with ``describe(...)`` next to its
view, so the document cannot drift from the code it sits beside.
"""

from __future__ import annotations

from flask import jsonify

from dashboard.analytics.runs import FAILED, INFRASTRUCTURE, PASSED
from dashboard.api import bp
from dashboard.filters import PER_PAGE_CHOICES, WINDOWS
from dashboard.projects import SLUG_PATTERN

PATHS: dict[str, dict] = {}
SCHEMAS: dict[str, dict] = {
    "Error": {
        "type": "object",
        "required": ["error"],
        "properties": {
            "error": {
                "type": "object",
                "required": ["code", "message"],
                "properties": {
                    "code": {"type": "string"},
                    "message": {"type": "string"},
                    "filename": {"type": "string"},
                    "line": {"type": "integer"},
                    "column": {"type": "integer"},
                },
            }
        },
    },
}

SLUG_PARAMETER = {
    "name": "slug",
    "in": "path",
    "required": True,
    "schema": {"type": "string", "pattern": SLUG_PATTERN.pattern},
}


def query_parameter(name: str, schema: dict, description: str = "") -> dict:
    return {
        "name": name,
        "in": "query",
        "required": False,
        "schema": schema,
        "description": description,
    }


def paging_parameters() -> list[dict]:
    """``page`` and ``per_page`` of a paged list."""
    return [
        query_parameter("page", {"type": "integer", "minimum": 1}),
        query_parameter("per_page", {"type": "integer", "enum": list(PER_PAGE_CHOICES)}),
    ]


DATE_TIME = {"type": "string", "format": "date-time"}
OUTCOME = {"type": "string", "enum": ["passed", "failed", "error", "skipped"]}
# A run's status (``dashboard.analytics.runs.run_status``).
RUN_STATUS = {"type": "string", "enum": [PASSED, FAILED, INFRASTRUCTURE]}

# Beside the items of a paged list (``dashboard.api.common.page_json``).
PAGE_PROPERTIES = {
    "page": {"type": "integer", "minimum": 1},
    "per_page": {"type": "integer"},
    "pages": {"type": "integer", "minimum": 1},
    "total": {"type": "integer", "minimum": 0},
}


# The search of every list of tests (a case-insensitive substring; % and _ literal).
SEARCH_PARAMETER = query_parameter(
    "q", {"type": "string"}, "keeps the tests whose name, class or file contains it, in any case"
)

FILTER_PARAMETERS = [
    query_parameter("window", {"type": "integer", "enum": list(WINDOWS)}, "days"),
    query_parameter("branch", {"type": "string"}),
    query_parameter("job", {"type": "string"}),
]


def object_schema(properties: dict, nullable: bool = False, description: str = "") -> dict:
    """An object schema whose every property is always present (null where allowed)."""
    schema = {"type": "object", "required": list(properties), "properties": properties}
    if nullable:
        schema["nullable"] = True
    if description:
        schema["description"] = description
    return schema


def error_responses(*statuses: int) -> dict:
    ref = {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
    return {str(status): {"description": "error", **ref} for status in statuses}


def json_response(schema: dict, description: str = "OK") -> dict:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


# Reads are open unless private mode (SUITESCOPE_PRIVATE) is on; then each wants a signed-in
# session or a project token, which reads only its own project (``access.guard_private_mode``).
READ_SECURITY = [{}, {"bearer": []}]
READ_ERRORS = (401, 403)


def describe(path: str, method: str, operation: dict) -> None:
    """Register one operation under ``/api/v1`` + ``path``.

    Every read also gets the optional bearer token and the 401 and 403 that private
    mode answers, so no endpoint can forget them.
    """
    if method.lower() == "get":
        operation = {
            "security": READ_SECURITY,
            **operation,
            "responses": {**operation["responses"], **error_responses(*READ_ERRORS)},
        }
    PATHS.setdefault(f"/api/v1{path}", {})[method.lower()] = operation


def schema(name: str, definition: dict) -> dict:
    """Register a named schema; returns a ``$ref`` to it."""
    SCHEMAS[name] = definition
    return {"$ref": f"#/components/schemas/{name}"}


@bp.get("/openapi.json")
def openapi_document():
    return jsonify(
        {
            "openapi": "3.0.3",
            "info": {
                "title": "Suitescope API",
                "version": "1",
                "description": "Upload test and coverage reports; read flakiness, "
                "durations, coverage and runs.",
            },
            "components": {
                "schemas": SCHEMAS,
                "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            },
            "paths": PATHS,
        }
    )
