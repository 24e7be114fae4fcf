"""The JSON API under ``/api/v1/`` (uploads and reads)."""

from __future__ import annotations

from flask import Blueprint, jsonify

from dashboard import access

bp = Blueprint("api", __name__, url_prefix="/api/v1")


def project_json(project) -> dict:
    return {
        "slug": project.slug,
        "name": project.name,
        "default_branch": project.default_branch,
        "is_demo": project.is_demo,
    }


@bp.get("/projects")
def list_projects():
    """Every project (with a project token in private mode: that token's project)."""
    return jsonify({"projects": [project_json(p) for p in access.readable_projects()]})


from dashboard.api import openapi  # noqa: E402

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
                                    "required": ["slug", "name", "default_branch", "is_demo"],
                                    "properties": {
                                        "slug": {"type": "string"},
                                        "name": {"type": "string"},
                                        "default_branch": {"type": "string"},
                                        "is_demo": {"type": "boolean"},
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
