"""``GET /api/v1/projects/<slug>/durations``: the durations screen as JSON."""

from __future__ import annotations

from dataclasses import replace

from flask import jsonify

from dashboard.analytics import durations
from dashboard.analytics.scope import Scope
from dashboard.api import bp, openapi
from dashboard.api.common import api_filters, api_project_or_404, iso
from dashboard.filters import Filters

SLOWEST_LIMIT = 50


@bp.get("/projects/<slug>/durations")
def project_durations(slug: str):
    project = api_project_or_404(slug)
    scope = Scope.from_filters(project, without_nul(api_filters()))
    run = durations.parallelism_run(scope)
    estimate = durations.parallelism_estimate(scope, run) if run else {}
    return jsonify(
        {
            "slowest": [slow_test_json(t) for t in durations.slowest_tests(scope, SLOWEST_LIMIT)],
            "regressions": [regression_json(r) for r in durations.regressions(scope)],
            "wall_time": [wall_time_json(p) for p in durations.wall_time(scope)],
            "parallelism": {str(workers): seconds for workers, seconds in estimate.items()},
            "parallelism_run_id": run.id if run else None,
        }
    )


def without_nul(filters: Filters) -> Filters:
    # PostgreSQL text cannot hold NUL, so the query would fail; no branch or job
    # contains one, so dropping it changes no answer.
    return replace(
        filters,
        branch=(filters.branch or "").replace("\x00", "") or None,
        job=(filters.job or "").replace("\x00", "") or None,
    )


def case_fields(item: durations.SlowTest | durations.Regression) -> dict:
    return {
        "case_id": item.case_id,
        "file": item.file,
        "classname": item.classname,
        "name": item.name,
    }


def slow_test_json(test: durations.SlowTest) -> dict:
    return {
        **case_fields(test),
        "median_s": test.median_s,
        "p95_s": test.p95_s,
        "executions": test.executions,
    }


def regression_json(regression: durations.Regression) -> dict:
    return {
        **case_fields(regression),
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


CASE_PROPERTIES = {
    "case_id": {"type": "integer"},
    "file": {"type": "string"},
    "classname": {"type": "string"},
    "name": {"type": "string"},
}
SECONDS = {"type": "number", "minimum": 0}

openapi.describe(
    "/projects/{slug}/durations",
    "get",
    {
        "summary": "Slowest tests, duration regressions, suite wall time and parallelism",
        "description": "Medians and p95 over the window's executed (not skipped) runs, "
        "leaving out infrastructure failures. Regressions compare the last 7 days with "
        "the 21 days before, whatever the window. The parallelism estimate (seconds per "
        "worker count) comes from the latest timed run; it is empty when there is none.",
        "parameters": [openapi.SLUG_PARAMETER, *openapi.FILTER_PARAMETERS],
        "responses": {
            "200": openapi.json_response(
                openapi.schema(
                    "Durations",
                    {
                        "type": "object",
                        "required": [
                            "slowest",
                            "regressions",
                            "wall_time",
                            "parallelism",
                            "parallelism_run_id",
                        ],
                        "properties": {
                            "slowest": {
                                "type": "array",
                                "items": openapi.schema(
                                    "DurationSlowTest",
                                    {
                                        "type": "object",
                                        "required": [
                                            *CASE_PROPERTIES,
                                            "median_s",
                                            "p95_s",
                                            "executions",
                                        ],
                                        "properties": {
                                            **CASE_PROPERTIES,
                                            "median_s": SECONDS,
                                            "p95_s": SECONDS,
                                            "executions": {"type": "integer", "minimum": 1},
                                        },
                                    },
                                ),
                            },
                            "regressions": {
                                "type": "array",
                                "items": openapi.schema(
                                    "DurationRegression",
                                    {
                                        "type": "object",
                                        "required": [
                                            *CASE_PROPERTIES,
                                            "baseline_median_s",
                                            "recent_median_s",
                                            "change_pct",
                                            "first_slow_run_id",
                                        ],
                                        "properties": {
                                            **CASE_PROPERTIES,
                                            "baseline_median_s": SECONDS,
                                            "recent_median_s": SECONDS,
                                            "change_pct": {"type": "number"},
                                            "first_slow_run_id": {"type": "integer"},
                                        },
                                    },
                                ),
                            },
                            "wall_time": {
                                "type": "array",
                                "items": openapi.schema(
                                    "DurationWallTimePoint",
                                    {
                                        "type": "object",
                                        "required": ["run_id", "started_at", "job", "seconds"],
                                        "properties": {
                                            "run_id": {"type": "integer"},
                                            "started_at": {"type": "string", "format": "date-time"},
                                            "job": {"type": "string"},
                                            "seconds": SECONDS,
                                        },
                                    },
                                ),
                            },
                            "parallelism": {
                                "type": "object",
                                "properties": {
                                    str(workers): SECONDS for workers in durations.WORKER_COUNTS
                                },
                                "additionalProperties": False,
                            },
                            "parallelism_run_id": {"type": "integer", "nullable": True},
                        },
                    },
                )
            ),
            **openapi.error_responses(404),
        },
    },
)
