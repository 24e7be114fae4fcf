"""``GET /api/v1/projects/<slug>/review``: the weekly review as JSON."""

from __future__ import annotations

from flask import abort, jsonify, request

from dashboard.analytics import antipatterns
from dashboard.analytics.diagnosis import ANTI_PATTERNS
from dashboard.analytics.review import InvalidWeek, review_json, weekly_review
from dashboard.api import bp, openapi
from dashboard.api.common import api_project_or_404
from dashboard.api.openapi import DATE_TIME


@bp.get("/projects/<slug>/review")
def project_review(slug: str):
    project = api_project_or_404(slug)
    try:
        review = weekly_review(project, request.args.get("week"))
    except InvalidWeek as error:
        abort(400, str(error))
    return jsonify(review_json(review))


# --- OpenAPI ---------------------------------------------------------------------------

NUMBER = {"type": "number"}
MAYBE_NUMBER = {"type": "number", "nullable": True}
MAYBE_STRING = {"type": "string", "nullable": True}
MAYBE_INTEGER = {"type": "integer", "nullable": True}
MAYBE_DATE_TIME = {**DATE_TIME, "nullable": True}
RUN_IDS = {"type": "array", "items": {"type": "integer"}}
STRINGS = {"type": "array", "items": {"type": "string"}}

CASE_PROPERTIES = {
    "case_id": {"type": "integer"},
    "file": {"type": "string"},
    "classname": {"type": "string"},
    "name": {"type": "string"},
    "owners": {**STRINGS, "description": "from the project's owners file, by the test's file"},
}


def case_schema(name: str, properties: dict, description: str = "") -> dict:
    return openapi.schema(
        name, openapi.object_schema({**CASE_PROPERTIES, **properties}, description=description)
    )


FIGURE = openapi.schema(
    "ReviewFigure",
    openapi.object_schema(
        {
            "label": {"type": "string"},
            "value": MAYBE_NUMBER,
            "previous": MAYBE_NUMBER,
            "change": MAYBE_NUMBER,
        },
        description="This week's value, the previous week's and the difference; null when unknown.",
    ),
)

EVIDENCE = openapi.schema(
    "ReviewEvidence",
    openapi.object_schema(
        {
            "kind": {"type": "string", "enum": ["retry_flake", "same_commit", "flip"]},
            "run_ids": RUN_IDS,
            "commit": MAYBE_STRING,
            "branch": MAYBE_STRING,
            "job": MAYBE_STRING,
            "started_at": DATE_TIME,
            "detail": {"type": "string"},
        }
    ),
)

FLAKY_ITEM = case_schema(
    "ReviewFlakyTest",
    {
        "flake_rate": NUMBER,
        "executions": {"type": "integer"},
        "runs_disrupted": {"type": "integer"},
        "ci_seconds_lost": NUMBER,
        "why": {"type": "string"},
        "quarantined": {"type": "boolean"},
        "first_flake_run_id": MAYBE_INTEGER,
        "last_flake_run_id": MAYBE_INTEGER,
        "evidence": {"type": "array", "items": EVIDENCE},
    },
)

FILE_DELTA = openapi.schema(
    "ReviewCoverageMove",
    openapi.object_schema(
        {
            "path": {"type": "string"},
            "old_branch_rate": MAYBE_NUMBER,
            "new_branch_rate": MAYBE_NUMBER,
            "delta_branch_rate": MAYBE_NUMBER,
            "old_missing_branches": MAYBE_INTEGER,
            "new_missing_branches": MAYBE_INTEGER,
        }
    ),
)

QUARANTINE_ITEM = case_schema(
    "ReviewQuarantine",
    {
        "reason": {"type": "string"},
        "created_by": {"type": "string"},
        "created_at": DATE_TIME,
        "expires_at": MAYBE_DATE_TIME,
        "age_days": {"type": "integer", "minimum": 0},
    },
)

ANTI_PATTERN = openapi.schema(
    "ReviewAntiPattern",
    openapi.object_schema(
        {
            "kind": {"type": "string", "enum": list(ANTI_PATTERNS)},
            "title": {"type": "string"},
            "remedy": {"type": "string"},
            "summary": {"type": "string"},
            "run_ids": RUN_IDS,
            "tests": {
                "type": "array",
                "items": case_schema(
                    "ReviewAntiPatternTest",
                    {
                        "run_ids": RUN_IDS,
                        "failures": {"type": "integer"},
                        "reasons": STRINGS,
                        "message": MAYBE_STRING,
                    },
                ),
            },
            "suites": {
                "type": "array",
                "items": openapi.schema(
                    "ReviewAntiPatternSuite",
                    openapi.object_schema(
                        {
                            "job": {"type": "string"},
                            "runs": {"type": "integer"},
                            "run_ids": RUN_IDS,
                            "wall_seconds": NUMBER,
                            "case_seconds": NUMBER,
                            "outside_seconds": NUMBER,
                            "outside_share": NUMBER,
                            "estimate": {
                                "type": "object",
                                "description": "estimated wall time (s) per worker count",
                                "properties": {"1": NUMBER, "2": NUMBER, "4": NUMBER, "8": NUMBER},
                                "additionalProperties": False,
                            },
                            "estimate_run_id": MAYBE_INTEGER,
                        }
                    ),
                ),
            },
            "files": {
                "type": "array",
                "items": openapi.schema(
                    "ReviewAntiPatternFile",
                    openapi.object_schema(
                        {
                            "path": {"type": "string"},
                            "branch_rate": NUMBER,
                            "missing_branches": {"type": "integer"},
                            "branches_valid": {"type": "integer"},
                        }
                    ),
                ),
            },
        }
    ),
)

REVIEW = openapi.schema(
    "Review",
    openapi.object_schema(
        {
            "project": openapi.object_schema(
                {
                    "slug": {"type": "string"},
                    "name": {"type": "string"},
                    "timezone": {"type": "string"},
                    "default_branch": {"type": "string"},
                }
            ),
            "week": openapi.object_schema(
                {
                    "label": {"type": "string", "example": "2026-W47"},
                    "start": DATE_TIME,
                    "end": DATE_TIME,
                    "first_day": {"type": "string", "format": "date"},
                    "last_day": {"type": "string", "format": "date"},
                    "timezone": {"type": "string"},
                    "complete": {"type": "boolean"},
                    "first_week": {"type": "boolean"},
                    "runs": {"type": "integer", "minimum": 0},
                },
                description="start and end are the UTC instants of the local Mondays 00:00.",
            ),
            "previous_week": MAYBE_STRING,
            "next_week": MAYBE_STRING,
            "generated_at": DATE_TIME,
            "headline": openapi.object_schema(
                {
                    "runs": FIGURE,
                    "pass_rate": FIGURE,
                    "flaky_run_share": FIGURE,
                    "flaky_ci_seconds": FIGURE,
                    "line_coverage": FIGURE,
                    "branch_coverage": FIGURE,
                    "wall_time": {
                        "type": "array",
                        "items": openapi.object_schema(
                            {
                                "job": {"type": "string"},
                                "runs": {"type": "integer"},
                                "median_s": MAYBE_NUMBER,
                                "p95_s": MAYBE_NUMBER,
                                "previous_median_s": MAYBE_NUMBER,
                                "previous_p95_s": MAYBE_NUMBER,
                            }
                        ),
                    },
                }
            ),
            "new_flaky": {"type": "array", "items": FLAKY_ITEM},
            "recovered": {
                "type": "array",
                "items": case_schema(
                    "ReviewRecoveredTest",
                    {
                        "executions": {"type": "integer"},
                        "last_flake_run_id": MAYBE_INTEGER,
                        "why_before": {"type": "string"},
                    },
                ),
            },
            "new_failing": {
                "type": "array",
                "items": case_schema(
                    "ReviewFailingTest",
                    {
                        "job": MAYBE_STRING,
                        "first_failure_run_id": MAYBE_INTEGER,
                        "latest_failure_run_id": MAYBE_INTEGER,
                        "message": MAYBE_STRING,
                        "why": {"type": "string"},
                    },
                ),
            },
            "top_flaky": {"type": "array", "items": FLAKY_ITEM},
            "regressions": {
                "type": "array",
                "items": case_schema(
                    "ReviewRegression",
                    {
                        "baseline_median_s": NUMBER,
                        "recent_median_s": NUMBER,
                        "change_pct": NUMBER,
                        "first_slow_run_id": {"type": "integer"},
                    },
                ),
            },
            "coverage_movers": openapi.object_schema(
                {
                    "from_run_id": MAYBE_INTEGER,
                    "to_run_id": MAYBE_INTEGER,
                    "drops": {"type": "array", "items": FILE_DELTA},
                    "gains": {"type": "array", "items": FILE_DELTA},
                }
            ),
            "quarantine": openapi.object_schema(
                {
                    "active": {"type": "array", "items": QUARANTINE_ITEM},
                    "expired": {"type": "array", "items": QUARANTINE_ITEM},
                }
            ),
            "anti_patterns": {"type": "array", "items": ANTI_PATTERN},
        }
    ),
)

openapi.describe(
    "/projects/{slug}/review",
    "get",
    {
        "summary": "The weekly reliability review",
        "description": "One ISO week in the project's time zone against the week before: "
        "headline figures, newly flaky, recovered and newly failing tests, the costliest "
        "flaky tests, duration regressions, coverage movers, quarantine debt and the "
        "testing chapter's anti-patterns with the tests and runs behind them. "
        f"Thresholds: parallel runs at {antipatterns.PARALLEL_RATIO}x case time over wall "
        f"time; setup bloat at {antipatterns.SETUP_SHARE:.0%} and "
        f"{antipatterns.SETUP_MIN_SECONDS:.0f} s outside test cases; serial suites over "
        f"{antipatterns.SERIAL_MIN_SECONDS / 60:.0f} min with case time within "
        f"{antipatterns.SERIAL_CLOSENESS:.0%} of wall time.",
        "parameters": [
            openapi.SLUG_PARAMETER,
            openapi.query_parameter(
                "week",
                {"type": "string", "pattern": "^[0-9]{4}-W[0-9]{2}$"},
                "ISO week such as 2026-W47 (default: the last complete week)",
            ),
        ],
        "responses": {
            "200": openapi.json_response(REVIEW),
            **openapi.error_responses(400, 404),
        },
    },
)
