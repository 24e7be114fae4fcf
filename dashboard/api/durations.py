"""``GET /api/v1/projects/<slug>/durations``: the durations screen as JSON."""

from __future__ import annotations

from flask import jsonify

from dashboard.analytics import durations
from dashboard.analytics.scope import Scope
from dashboard.api import bp, openapi
from dashboard.api.common import (
    CASE_IDENTITY_PROPERTIES,
    api_filters,
    api_project_or_404,
    case_identity_json,
    iso,
)
from dashboard.api.openapi import DATE_TIME

SLOWEST_LIMIT = 50


@bp.get("/projects/<slug>/durations")
def project_durations(slug: str):
    project = api_project_or_404(slug)
    filters = api_filters()
    scope = Scope.from_filters(project, filters)
    run = durations.parallelism_run(scope)
    estimate = durations.parallelism_estimate(scope, run) if run else {}
    slowest = durations.slowest_tests(scope, SLOWEST_LIMIT, search=filters.q)
    return jsonify(
        {
            "slowest": [slow_test_json(t) for t in slowest],
            "regressions": [regression_json(r) for r in durations.regressions(scope)],
            "wall_time": [wall_time_json(p) for p in durations.wall_time(scope)],
            "parallelism": {str(workers): seconds for workers, seconds in estimate.items()},
            "parallelism_run_id": run.id if run else None,
        }
    )


def slow_test_json(test: durations.SlowTest) -> dict:
    return {
        **case_identity_json(test.case_id, test),
        "median_s": test.median_s,
        "p95_s": test.p95_s,
        "executions": test.executions,
    }


def regression_json(regression: durations.Regression) -> dict:
    return {
        **case_identity_json(regression.case_id, regression),
        "baseline_median_s": regression.baseline_median_s,
        "recent_median_s": regression.recent_median_s,
        "change_pct": regression.change_pct,
        "first_slow_run_id": regression.first_slow_run_id,
    }


def wall_time_json(point: durations.WallTimePoint) -> dict:
    return {
        "run_id": point.run_id,
        "started_at": iso(point.started_at),
        "job": point.job,
        "seconds": point.seconds,
    }


SECONDS = {"type": "number", "minimum": 0}
SLOW_TEST = openapi.schema(
    "DurationSlowTest",
    openapi.object_schema(
        {
            **CASE_IDENTITY_PROPERTIES,
            "median_s": SECONDS,
            "p95_s": SECONDS,
            "executions": {"type": "integer", "minimum": 1},
        }
    ),
)
REGRESSION = openapi.schema(
    "DurationRegression",
    openapi.object_schema(
        {
            **CASE_IDENTITY_PROPERTIES,
            "baseline_median_s": SECONDS,
            "recent_median_s": SECONDS,
            "change_pct": {"type": "number"},
            "first_slow_run_id": {"type": "integer"},
        }
    ),
)
WALL_TIME_POINT = openapi.schema(
    "DurationWallTimePoint",
    openapi.object_schema(
        {
            "run_id": {"type": "integer"},
            "started_at": DATE_TIME,
            "job": {"type": "string"},
            "seconds": SECONDS,
        }
    ),
)

openapi.describe(
    "/projects/{slug}/durations",
    "get",
    {
        "summary": "Slowest tests, duration regressions, suite wall time and parallelism",
        "description": "Medians and p95 over the window's executed (not skipped) runs, "
        "leaving out infrastructure failures. Regressions compare the last 7 days with "
        "the 21 days before, whatever the window. The parallelism estimate (seconds per "
        "worker count) comes from the latest timed run; it is empty when there is none. "
        "`q` narrows the slowest tests to those whose name, class or file contains it, in "
        "any case, as the page's search box does; it leaves the rest of the reply alone.",
        "parameters": [
            openapi.SLUG_PARAMETER,
            *openapi.FILTER_PARAMETERS,
            openapi.SEARCH_PARAMETER,
        ],
        "responses": {
            "200": openapi.json_response(
                openapi.schema(
                    "Durations",
                    openapi.object_schema(
                        {
                            "slowest": {"type": "array", "items": SLOW_TEST},
                            "regressions": {"type": "array", "items": REGRESSION},
                            "wall_time": {"type": "array", "items": WALL_TIME_POINT},
                            "parallelism": {
                                "type": "object",
                                "properties": {
                                    str(workers): SECONDS for workers in durations.WORKER_COUNTS
                                },
                                "additionalProperties": False,
                            },
                            "parallelism_run_id": {"type": "integer", "nullable": True},
                        }
                    ),
                )
            ),
            **openapi.error_responses(404),
        },
    },
)
