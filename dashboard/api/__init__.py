"""The JSON API under ``/api/v1/`` (uploads and reads)."""

from __future__ import annotations

from flask import Blueprint, jsonify

from dashboard import access
from dashboard import projects as project_service
from dashboard.analytics.runs import run_status
from dashboard.api.common import run_url

bp = Blueprint("api", __name__, url_prefix="/api/v1")


def project_json(summary: project_service.ProjectSummary) -> dict:
    project, latest = summary.project, summary.latest_default_run
    return {
        "slug": project.slug,
        "name": project.name,
        "default_branch": project.default_branch,
        "is_demo": project.is_demo,
        "latest_default_run": None
        if latest is None
        else {
            "id": latest.id,
            "status": run_status(latest),
            "started_at": latest.started_at.isoformat(),
            "url": run_url(project.slug, latest.id),
        },
        "runs_7d": summary.week_runs,
        "pass_rate_7d": summary.week_pass_rate,
    }


@bp.get("/projects")
def list_projects():
    """Every project (with a project token in private mode: that token's project),
    with its default branch's health as on the projects page."""
    readable = [project.id for project in access.readable_projects()]
    summaries = project_service.list_project_summaries(only=readable)
    return jsonify({"projects": [project_json(summary) for summary in summaries]})


from dashboard.api import openapi  # noqa: E402

LATEST_DEFAULT_RUN = openapi.object_schema(
    {
        "id": {"type": "integer", "minimum": 1},
        "status": openapi.RUN_STATUS,
        "started_at": openapi.DATE_TIME,
        "url": {"type": "string"},
    },
    nullable=True,
    description="the default branch's newest run with tests",
)

openapi.describe(
    "/projects",
    "get",
    {
        "summary": "List projects",
        "responses": {
            "200": openapi.json_response(
                {
                    "type": "object",
                    "required": ["projects"],
                    "properties": {
                        "projects": {
                            "type": "array",
                            "items": openapi.schema(
                                "Project",
                                {
                                    "type": "object",
                                    "required": [
                                        "slug",
                                        "name",
                                        "default_branch",
                                        "is_demo",
                                        "latest_default_run",
                                        "runs_7d",
                                        "pass_rate_7d",
                                    ],
                                    "properties": {
                                        "slug": {"type": "string"},
                                        "name": {"type": "string"},
                                        "default_branch": {"type": "string"},
                                        "is_demo": {"type": "boolean"},
                                        "latest_default_run": LATEST_DEFAULT_RUN,
                                        "runs_7d": {
                                            "type": "integer",
                                            "minimum": 0,
                                            "description": "runs of the default branch with "
                                            "tests in the last 7 days",
                                        },
                                        "pass_rate_7d": {
                                            "type": "number",
                                            "nullable": True,
                                            "description": "the share of them without a "
                                            "failure; null without runs",
                                        },
                                    },
                                },
                            ),
                        }
                    },
                }
            ),
            **openapi.error_responses(401),
        },
    },
)

# Each endpoint module registers its routes (and OpenAPI entries) on ``bp``.
from dashboard.api import (  # noqa: E402,F401
    catalog,
    coverage,
    durations,
    flaky,
    review,
    runs,
    uploads,
)
