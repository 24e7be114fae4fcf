"""Helpers every project screen uses."""

from __future__ import annotations

from flask import abort, request

from dashboard import projects as project_service
from dashboard.filters import Filters
from dashboard.models import Project


def project_or_404(slug: str) -> Project:
    try:
        return project_service.get_project(slug)
    except project_service.ProjectError:
        abort(404, f"There is no project called {slug!r}.")


def request_filters() -> Filters:
    return Filters.from_args(request.args)
