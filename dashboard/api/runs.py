"""Runs and test histories as JSON: the same analytics as the run screens."""

from __future__ import annotations

from flask import abort, jsonify

from dashboard.analytics import history as history_analytics
from dashboard.analytics import run_results as results_analytics
from dashboard.analytics import runs as run_analytics
from dashboard.analytics.scope import Scope
from dashboard.api import bp, openapi
from dashboard.api.common import api_project_or_404, page_json, paging_args, run_url, text_arg
from dashboard.api.openapi import DATE_TIME, object_schema
from dashboard.filters import Filters
from dashboard.models import Project, Run

STATUS_VALUES = [value for value, _ in run_analytics.RUN_STATUSES]


def list_filters() -> Filters:
    """The runs list's query string, validated: a bad value is a 400, never a guess."""
    return Filters(
        branch=text_arg("branch"),
        job=text_arg("job"),
        status=text_arg("status", STATUS_VALUES),
        **paging_args(),
    )


@bp.get("/projects/<slug>/runs")
def list_runs(slug: str):
    project = api_project_or_404(slug)
    filters = list_filters()
    page = run_analytics.runs_page(Scope.from_filters(project, filters), filters)
    return jsonify(
        {
            "runs": [
                {**run_analytics.run_json(row.run), "url": run_url(project.slug, row.run.id)}
                for row in page.items
            ],
            **page_json(page),
        }
    )


def api_run_or_404(project: Project, run_id: int) -> Run:
    run = run_analytics.get_run(project, run_id)
    if run is None:
        abort(404, f"project {project.slug!r} has no run {run_id}")
    return run


@bp.get("/projects/<slug>/runs/<int:run_id>")
def get_run(slug: str, run_id: int):
    project = api_project_or_404(slug)
    run = api_run_or_404(project, run_id)
    detail = run_analytics.run_detail(run)
    return jsonify({**run_analytics.run_detail_json(detail), "url": run_url(project.slug, run.id)})


RESULT_SORTS = [
    prefix + key for key in results_analytics.SORT_KEYS for prefix in ("", "-")
]  # fmt: skip


@bp.get("/projects/<slug>/runs/<int:run_id>/results")
def list_run_results(slug: str, run_id: int):
    run = api_run_or_404(api_project_or_404(slug), run_id)
    filters = Filters(
        status=text_arg("status", results_analytics.STATUS_VALUES),
        q=text_arg("q"),
        sort=text_arg("sort", RESULT_SORTS),
        **paging_args(),
    )
    page = results_analytics.run_results(run, filters)
    return jsonify(
        {"results": [results_analytics.result_json(r) for r in page.items], **page_json(page)}
    )


@bp.get("/projects/<slug>/tests/<int:case_id>/history")
def test_history(slug: str, case_id: int):
    project = api_project_or_404(slug)
    history = history_analytics.case_history(project, case_id)
    if history is None:
        abort(404, f"project {slug!r} has no test {case_id}")
    return jsonify(history_analytics.history_json(history))


# --- OpenAPI ----------------------------------------------------------------------------

INTEGER = {"type": "integer", "minimum": 0}
SECONDS = {"type": "number", "minimum": 0}
NULLABLE_STRING = {"type": "string", "nullable": True}
OUTCOME = openapi.OUTCOME
ID_PARAMETER = {"in": "path", "required": True, "schema": {"type": "integer", "minimum": 1}}


TEST_REF = openapi.schema(
    "TestRef",
    object_schema(
        {
            "id": INTEGER,
            "file": {"type": "string"},
            "classname": {"type": "string"},
            "name": {"type": "string"},
        }
    ),
)
RUN_SUMMARY_PROPERTIES = {
    "id": INTEGER,
    "build": {"type": "string"},
    "job": {"type": "string"},
    "branch": NULLABLE_STRING,
    "commit": NULLABLE_STRING,
    "build_url": NULLABLE_STRING,
    "started_at": DATE_TIME,
    "status": openapi.RUN_STATUS,
    "infrastructure_failure": {"type": "boolean"},
    "counts": object_schema(
        dict.fromkeys(("tests", "passed", "failed", "errors", "skipped", "retry_flakes"), INTEGER)
    ),
    "wall_seconds": SECONDS,
    "case_seconds": SECONDS,
    "url": {"type": "string"},
}
RUN_SUMMARY = openapi.schema("RunSummary", object_schema(RUN_SUMMARY_PROPERTIES))
CASE_RESULT = openapi.schema(
    "RunCaseResult",
    object_schema(
        {"case": TEST_REF, "outcome": OUTCOME, "duration_s": SECONDS, "attempts": INTEGER}
    ),
)
RUN_DETAIL = openapi.schema(
    "RunDetail",
    object_schema(
        {
            **RUN_SUMMARY_PROPERTIES,
            "previous_run_id": {"type": "integer", "nullable": True},
            "failure_groups": {
                "type": "array",
                "items": openapi.schema(
                    "RunFailureGroup",
                    object_schema(
                        {
                            "fingerprint": NULLABLE_STRING,
                            "outcome": OUTCOME,
                            "failure_type": NULLABLE_STRING,
                            "message": NULLABLE_STRING,
                            "trace": NULLABLE_STRING,
                            "count": INTEGER,
                            "cases": {"type": "array", "items": TEST_REF},
                        }
                    ),
                ),
            },
            "failure_group_total": INTEGER,
            "retry_flakes": {"type": "array", "items": CASE_RESULT},
            "slowest": {"type": "array", "items": CASE_RESULT},
            "coverage": openapi.schema(
                "RunCoverage",
                object_schema(
                    {
                        "format": {"type": "string"},
                        "lines_valid": INTEGER,
                        "lines_covered": INTEGER,
                        "line_rate": {"type": "number", "nullable": True},
                        "branches_valid": {"type": "integer", "nullable": True},
                        "branches_covered": {"type": "integer", "nullable": True},
                        "branch_rate": {"type": "number", "nullable": True},
                    },
                    nullable=True,
                ),
            ),
            "uploads": {
                "type": "array",
                "items": openapi.schema(
                    "RunUpload",
                    object_schema(
                        {
                            "filename": {"type": "string"},
                            "kind": {"type": "string", "enum": ["tests", "coverage"]},
                            "format": {"type": "string"},
                            "size_bytes": INTEGER,
                            "cases": INTEGER,
                            "received_at": DATE_TIME,
                            "warnings": {"type": "array", "items": {"type": "string"}},
                        }
                    ),
                ),
            },
        }
    ),
)
TEST_HISTORY = openapi.schema(
    "TestHistory",
    object_schema(
        {
            "case": TEST_REF,
            "executions": {
                "type": "array",
                "description": "The latest 100 executions, oldest first.",
                "items": openapi.schema(
                    "TestExecution",
                    object_schema(
                        {
                            "run_id": INTEGER,
                            "build": {"type": "string"},
                            "started_at": DATE_TIME,
                            "branch": NULLABLE_STRING,
                            "job": {"type": "string"},
                            "commit": NULLABLE_STRING,
                            "outcome": OUTCOME,
                            "attempts": INTEGER,
                            "retry_flake": {"type": "boolean"},
                            "duration_s": SECONDS,
                            "infrastructure_failure": {"type": "boolean"},
                        }
                    ),
                ),
            },
            "failure_groups": {
                "type": "array",
                "items": openapi.schema(
                    "TestFailureGroup",
                    object_schema(
                        {
                            "fingerprint": NULLABLE_STRING,
                            "failure_type": NULLABLE_STRING,
                            "message": NULLABLE_STRING,
                            "count": INTEGER,
                            "first_seen_at": DATE_TIME,
                            "last_seen_at": DATE_TIME,
                            "last_run_id": INTEGER,
                        }
                    ),
                ),
            },
        }
    ),
)

openapi.describe(
    "/projects/{slug}/runs",
    "get",
    {
        "summary": "List a project's runs, newest first",
        "description": "Every run of the project (not limited to a window), narrowed by "
        "branch, job and status. A page past the last one is empty.",
        "parameters": [
            openapi.SLUG_PARAMETER,
            openapi.query_parameter("branch", {"type": "string"}),
            openapi.query_parameter("job", {"type": "string"}),
            openapi.query_parameter(
                "status",
                {"type": "string", "enum": STATUS_VALUES},
                "infrastructure: more than 80% of the executed cases failed; failed: "
                "other runs with a failure; retry-flakes: a case passed after a retry",
            ),
            *openapi.paging_parameters(),
        ],
        "responses": {
            "200": openapi.json_response(
                openapi.schema(
                    "RunPage",
                    object_schema(
                        {
                            "runs": {"type": "array", "items": RUN_SUMMARY},
                            **openapi.PAGE_PROPERTIES,
                        }
                    ),
                )
            ),
            **openapi.error_responses(400, 404),
        },
    },
)

openapi.describe(
    "/projects/{slug}/runs/{run_id}",
    "get",
    {
        "summary": "One run: counts, failures grouped by fingerprint, retry flakes, "
        "slowest tests, coverage and the uploads received",
        "parameters": [openapi.SLUG_PARAMETER, {"name": "run_id", **ID_PARAMETER}],
        "responses": {
            "200": openapi.json_response(RUN_DETAIL),
            **openapi.error_responses(404),
        },
    },
)

openapi.describe(
    "/projects/{slug}/runs/{run_id}/results",
    "get",
    {
        "summary": "Every result of one run, narrowed by outcome and name, sorted and paged",
        "description": "`status`: one outcome, `failing` (failed or error) or `retried` (a "
        "pass after failed attempts). `q` keeps the tests whose name, class or file "
        "contains it, in any case. `sort` (a leading `-` reverses it): `status` (the "
        "default: errors, failures, retried passes, skips, passes), `name`, `duration` or "
        "`attempts`; ties in file, class and name order. A page past the last one is empty.",
        "parameters": [
            openapi.SLUG_PARAMETER,
            {"name": "run_id", **ID_PARAMETER},
            openapi.query_parameter(
                "status", {"type": "string", "enum": list(results_analytics.STATUS_VALUES)}
            ),
            openapi.SEARCH_PARAMETER,
            openapi.query_parameter("sort", {"type": "string", "enum": RESULT_SORTS}),
            *openapi.paging_parameters(),
        ],
        "responses": {
            "200": openapi.json_response(
                openapi.schema(
                    "RunResultPage",
                    object_schema(
                        {
                            "results": {
                                "type": "array",
                                "items": openapi.schema(
                                    "RunResult",
                                    object_schema(
                                        {
                                            "case": TEST_REF,
                                            "outcome": OUTCOME,
                                            "retry_flake": {"type": "boolean"},
                                            "duration_s": SECONDS,
                                            "attempts": INTEGER,
                                            "message": NULLABLE_STRING,
                                        }
                                    ),
                                ),
                            },
                            **openapi.PAGE_PROPERTIES,
                        }
                    ),
                )
            ),
            **openapi.error_responses(400, 404),
        },
    },
)

openapi.describe(
    "/projects/{slug}/tests/{case_id}/history",
    "get",
    {
        "summary": "One test's identity, latest executions and failures grouped by fingerprint",
        "parameters": [openapi.SLUG_PARAMETER, {"name": "case_id", **ID_PARAMETER}],
        "responses": {
            "200": openapi.json_response(TEST_HISTORY),
            **openapi.error_responses(404),
        },
    },
)
