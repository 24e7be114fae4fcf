"""The JSON API under ``/api/v1/`` (uploads and reads)."""

from __future__ import annotations

from flask import Blueprint, jsonify

from dashboard import projects as project_service

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
    return jsonify({"projects": [project_json(p) for p in project_service.list_projects()]})


from dashboard.api import uploads  # noqa: E402,F401  (registers the upload route)
