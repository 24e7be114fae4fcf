"""Helpers every project screen uses."""

from __future__ import annotations

from flask import abort, request

from dashboard import projects as project_service
from dashboard import quarantine as quarantine_service
from dashboard.filters import Filters
from dashboard.models import Case, Project


def project_or_404(slug: str) -> Project:
    try:
        return project_service.get_project(slug)
    except project_service.ProjectError:
        abort(404, f"There is no project called {slug!r}.")


def case_or_404(project: Project, case_id: int) -> Case:
    try:
        return quarantine_service.find_case(project, case_id=case_id)
    except quarantine_service.UnknownCase as error:
        abort(404, str(error))


def request_filters() -> Filters:
    return Filters.from_args(request.args)
