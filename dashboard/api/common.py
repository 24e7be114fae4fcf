"""Helpers shared by the JSON endpoints."""

from __future__ import annotations

from datetime import datetime

from flask import abort, request

from dashboard import projects as project_service
from dashboard.filters import Filters
from dashboard.models import Project


def api_project_or_404(slug: str) -> Project:
    try:
        return project_service.get_project(slug)
    except project_service.ProjectError:
        abort(404, f"no project with slug {slug!r}")


def api_filters() -> Filters:
    return Filters.from_args(request.args)


def iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None
