"""``GET /api/v1/projects/<slug>/coverage``: the trend and the latest run's files.

The same analytics as the coverage page, so the two can never disagree. Rates
are ``null`` where there is nothing to divide (no branch data, no branches).
"""

from __future__ import annotations

from flask import jsonify

from dashboard.analytics import coverage as analytics
from dashboard.analytics.scope import Scope
from dashboard.api import bp, openapi
from dashboard.api.common import api_filters, api_project_or_404, iso
from dashboard.api.openapi import DATE_TIME


def point_json(point: analytics.CoveragePoint) -> dict:
    return {
        "run_id": point.run_id,
        "commit": point.commit,
        "started_at": iso(point.started_at),
        "line_rate": point.line_rate,
        "branch_rate": point.branch_rate,
        "lines_valid": point.lines_valid,
        "lines_covered": point.lines_covered,
        "branches_valid": point.branches_valid,
        "branches_covered": point.branches_covered,
    }


def file_json(f: analytics.FileCoverage) -> dict:
    return {
        "path": f.path,
        "lines_valid": f.lines_valid,
        "lines_covered": f.lines_covered,
        "branches_valid": f.branches_valid,
        "branches_covered": f.branches_covered,
        "line_rate": f.line_rate,
        "branch_rate": f.branch_rate,
        "delta_branch_rate": f.delta_branch_rate,
    }


@bp.get("/projects/<slug>/coverage")
def project_coverage(slug: str):
    project = api_project_or_404(slug)
    scope = Scope.from_filters(project, api_filters())
    trend = analytics.coverage_trend(scope)
    files = analytics.file_table(scope, analytics.coverage_summary(scope, trend))
    return jsonify(
        {
            "branch": analytics.coverage_branch(scope),
            "trend": [point_json(p) for p in trend],
            "files": [file_json(f) for f in files],
        }
    )


# Types only, no bounds: the values come from uploaded reports, and a response
# must match its schema even when a report's own numbers are odd.
RATE = {"type": "number", "nullable": True, "description": "0..1; null: nothing to divide"}
COUNT = {"type": "integer"}
NULLABLE_COUNT = {"type": "integer", "nullable": True, "description": "null: no branch data"}

POINT_PROPERTIES = {
    "run_id": {"type": "integer"},
    "commit": {"type": "string", "nullable": True},
    "started_at": DATE_TIME,
    "line_rate": RATE,
    "branch_rate": RATE,
    "lines_valid": COUNT,
    "lines_covered": COUNT,
    "branches_valid": NULLABLE_COUNT,
    "branches_covered": NULLABLE_COUNT,
}
FILE_PROPERTIES = {
    "path": {"type": "string"},
    "lines_valid": COUNT,
    "lines_covered": COUNT,
    "branches_valid": NULLABLE_COUNT,
    "branches_covered": NULLABLE_COUNT,
    "line_rate": RATE,
    "branch_rate": RATE,
    "delta_branch_rate": {
        "type": "number",
        "nullable": True,
        "description": "branch rate minus the previous run's; null when either has none",
    },
}


openapi.describe(
    "/projects/{slug}/coverage",
    "get",
    {
        "summary": "Coverage trend and per-file coverage of a branch",
        "description": "The trend holds each run of the branch in the window that has a "
        "coverage report, oldest first; files are those of the latest such run, with the "
        "change of branch rate against the previous run of the same branch and job. The "
        "branch defaults to the project's default branch. Rates are null where there is "
        "nothing to divide: the format records no branches, or a file has none.",
        "parameters": [openapi.SLUG_PARAMETER, *openapi.FILTER_PARAMETERS],
        "responses": {
            "200": openapi.json_response(
                openapi.object_schema(
                    {
                        "branch": {"type": "string"},
                        "trend": {
                            "type": "array",
                            "items": openapi.schema(
                                "CoveragePoint", openapi.object_schema(POINT_PROPERTIES)
                            ),
                        },
                        "files": {
                            "type": "array",
                            "items": openapi.schema(
                                "FileCoverage", openapi.object_schema(FILE_PROPERTIES)
                            ),
                        },
                    }
                )
            ),
            **openapi.error_responses(401, 404),
        },
    },
)
