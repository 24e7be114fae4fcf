"""Screens of runs and tests: the runs, one run, two runs compared, the test
catalog and one test's history."""

from __future__ import annotations

from dataclasses import replace

from flask import abort, request
from werkzeug.exceptions import BadRequest

from dashboard import projects as project_service
from dashboard.analytics import catalog
from dashboard.analytics import history as history_analytics
from dashboard.analytics import run_results as results_analytics
from dashboard.analytics import runs as run_analytics
from dashboard.analytics.scope import Scope
from dashboard.models import Project, Run
from dashboard.rendering import render_project_screen
from dashboard.ui import bp
from dashboard.ui.common import project_or_404, request_filters


def run_or_404(project: Project, run_id: int) -> Run:
    run = run_analytics.get_run(project, run_id)
    if run is None:
        abort(404, f"Project {project.slug!r} has no run {run_id}.")
    return run


@bp.get("/p/<slug>/runs")
def runs(slug: str):
    project = project_or_404(slug)
    filters = request_filters()
    page = run_analytics.runs_page(Scope.from_filters(project, filters), filters)
    return render_project_screen(
        "runs.html",
        project=project,
        filters=filters,
        page=page,
        options=project_service.filter_options(project),
        statuses=run_analytics.RUN_STATUSES,
    )


@bp.get("/p/<slug>/runs/<int:run_id>")
def run_detail(slug: str, run_id: int):
    project = project_or_404(slug)
    run = run_or_404(project, run_id)
    return render_project_screen("run.html", project=project, detail=run_analytics.run_detail(run))


@bp.get("/p/<slug>/runs/<int:run_id>/results")
def run_results(slug: str, run_id: int):
    project = project_or_404(slug)
    run = run_or_404(project, run_id)
    filters = request_filters()
    # The table's headers and pages mark the default order; the URL leaves it out.
    sort = results_analytics.sort_or_default(filters.sort)
    return render_project_screen(
        "run_results.html",
        project=project,
        run=run,
        filters=filters,
        table_filters=replace(filters, sort=sort),
        page=results_analytics.run_results(run, filters),
        statuses=results_analytics.RESULT_STATUSES,
    )


def run_id_arg(name: str) -> int | None:
    """A run id from the query string: blank means "not chosen"."""
    value = request.args.get(name, "").strip()
    if not value:
        return None
    if not value.isascii() or not value.isdigit():
        raise BadRequest(f"`{name}` must be a run id (a whole number), not {value[:40]!r}")
    return int(value)


@bp.get("/p/<slug>/compare")
def compare_runs(slug: str):
    """``?base=&head=``; without ``base``, the head's previous run of its branch and job."""
    project = project_or_404(slug)
    base_id, head_id = run_id_arg("base"), run_id_arg("head")
    head = run_or_404(project, head_id) if head_id is not None else None
    base = run_or_404(project, base_id) if base_id is not None else None
    if base is None and head is not None:
        base = run_analytics.previous_run(head)
    comparison = (
        run_analytics.compare_runs(base, head) if base is not None and head is not None else None
    )
    return render_project_screen(
        "compare.html",
        project=project,
        base=base,
        head=head,
        comparison=comparison,
    )


@bp.get("/p/<slug>/tests")
def tests(slug: str):
    project = project_or_404(slug)
    filters = request_filters()
    return render_project_screen(
        "tests.html", project=project, filters=filters, page=catalog.find_tests(project, filters)
    )


@bp.get("/p/<slug>/tests/<int:case_id>")
def test_history(slug: str, case_id: int):
    project = project_or_404(slug)
    history = history_analytics.case_history(project, case_id)
    if history is None:
        abort(404, f"Project {project.slug!r} has no test {case_id}.")
    return render_project_screen("test_history.html", project=project, history=history)
