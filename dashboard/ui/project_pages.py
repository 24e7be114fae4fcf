"""A project's overview page."""

from __future__ import annotations

from flask import abort

from dashboard import projects as project_service
from dashboard.rendering import render_screen
from dashboard.ui import bp


def project_or_404(slug: str):
    try:
        return project_service.get_project(slug)
    except project_service.ProjectError:
        abort(404, f"There is no project called {slug!r}.")


@bp.get("/p/<slug>")
def project_overview(slug: str):
    project = project_or_404(slug)
    return render_screen("project.html", project=project, runs=project_service.latest_runs(project))
