"""A project's overview page."""

from __future__ import annotations

from flask import abort

from dashboard import projects as project_service
from dashboard import runs
from dashboard.rendering import render_project_screen
from dashboard.ui import bp
from dashboard.ui.common import project_or_404


@bp.get("/p/<slug>")
def project_overview(slug: str):
    project = project_or_404(slug)
    return render_project_screen(
        "project.html", project=project, runs=project_service.latest_runs(project)
    )


@bp.get("/p/<slug>/runs/<int:run_id>")
def run_detail(slug: str, run_id: int):
    project = project_or_404(slug)
    run = runs.get_run(project, run_id)
    if run is None:
        abort(404, f"Project {slug!r} has no run {run_id}.")
    return render_project_screen("run.html", project=project, detail=runs.run_detail(run))
