"""The durations screen, its wall-time chart and one test's duration chart."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import replace

from flask import abort
from sqlalchemy import select

from dashboard import charts
from dashboard import projects as project_service
from dashboard.analytics import durations
from dashboard.analytics.scope import Scope
from dashboard.extensions import db
from dashboard.filters import Filters, paginate
from dashboard.models import Case, Project
from dashboard.rendering import render_project_screen
from dashboard.ui import bp
from dashboard.ui.common import project_or_404, request_filters

# The slowest table pages through this many tests; the API's default is smaller.
SLOWEST_LIMIT = 100
DEFAULT_SORT = "-median"
SORT_KEYS = {
    "name": lambda t: (t.name.lower(), t.classname.lower(), t.case_id),
    "median": lambda t: (t.median_s, t.case_id),
    "p95": lambda t: (t.p95_s, t.case_id),
    "executions": lambda t: (t.executions, t.case_id),
}


@bp.get("/p/<slug>/durations", endpoint="durations")
def durations_screen(slug: str):
    project = project_or_404(slug)
    filters = screen_filters()
    scope = Scope.from_filters(project, filters)
    context = {"project": project, "filters": filters, "chart_query": chart_query(filters)}
    context["options"] = project_service.filter_options(project)
    context["runs"] = durations.run_count(scope)
    if context["runs"]:
        context.update(durations_context(scope, filters))
    return render_project_screen("durations.html", **context)


@bp.get("/p/<slug>/durations/wall-time.json")
def durations_wall_time_chart(slug: str):
    project = project_or_404(slug)
    scope = Scope.from_filters(project, screen_filters())
    return charts.chart_response(wall_time_figure(durations.wall_time(scope)))


@bp.get("/p/<slug>/tests/<int:case_id>/durations.json")
def test_duration_chart(slug: str, case_id: int):
    project = project_or_404(slug)
    case = project_case_or_404(project, case_id)
    scope = Scope.from_filters(project, screen_filters())
    points = durations.case_durations(scope, case.id)
    return charts.chart_response(case_duration_figure(case.display_name, points))


def durations_context(scope: Scope, filters: Filters) -> dict:
    sort = filters.sort if _sort_key(filters.sort) else DEFAULT_SORT
    slowest = sorted_tests(durations.slowest_tests(scope, limit=SLOWEST_LIMIT), sort)
    found = durations.regressions(scope)
    run = durations.parallelism_run(scope)
    return {
        # The table's headers and pages mark the default order; the filter form
        # and so the URL leave it out.
        "table_filters": replace(filters, sort=sort),
        "slowest": paginate(slowest, filters),
        "regressions": found,
        "comparable": None if found else durations.comparable_cases(scope),
        "periods": durations.RegressionPeriods.of(scope),
        "parallel_run": run,
        "parallelism": durations.parallelism_estimate(scope, run) if run else {},
        "sparkline_points": charts.sparkline_points,
    }


def screen_filters() -> Filters:
    filters = request_filters()
    # PostgreSQL text cannot hold NUL, so a NUL in a hand-edited URL would fail
    # the query; no branch or job can contain one, so dropping it changes nothing.
    return replace(
        filters,
        branch=(filters.branch or "").replace("\x00", "") or None,
        job=(filters.job or "").replace("\x00", "") or None,
    )


def chart_query(filters: Filters) -> str:
    """The query string the chart endpoints need: the scope filters only."""
    return Filters(window=filters.window, branch=filters.branch, job=filters.job).query_string()


def sorted_tests(tests: list[durations.SlowTest], sort: str) -> list[durations.SlowTest]:
    return sorted(tests, key=_sort_key(sort), reverse=sort.startswith("-"))


def _sort_key(sort: str | None):
    return SORT_KEYS.get((sort or "").removeprefix("-"))


def project_case_or_404(project: Project, case_id: int) -> Case:
    case = db.session.scalar(select(Case).where(Case.id == case_id, Case.project_id == project.id))
    if case is None:
        abort(404, f"Project {project.slug!r} has no test {case_id}.")
    return case


# --- Figures (pure: data in, Plotly figure dict out) ----------------------------


def wall_time_figure(points: Sequence[durations.WallTimePoint]) -> dict:
    """One line per job: the suite's wall time of each run."""
    if not points:
        return charts.empty_figure("No run in this window reported a suite time.")
    by_job: dict[str, list[durations.WallTimePoint]] = defaultdict(list)
    for point in points:
        by_job[point.job].append(point)
    colours = _colours()
    traces = [
        charts.line_series(
            job,
            [p.started_at.isoformat() for p in job_points],
            [round(p.seconds, 3) for p in job_points],
            color=next(colours),
            hover=[f"run {p.run_id} · {job} · {_seconds(p.seconds)}" for p in job_points],
        )
        for job, job_points in sorted(by_job.items())
    ]
    return charts.figure(traces, charts.base_layout(y_title="Suite wall time (s)"))


def case_duration_figure(name: str, points: Sequence[durations.DurationPoint]) -> dict:
    """One line per job: the case's duration in each run, and its median as a dashed line."""
    if not points:
        return charts.empty_figure("This test has no timed execution in this window.")
    by_job: dict[str, list[durations.DurationPoint]] = defaultdict(list)
    for point in points:
        by_job[point.job].append(point)
    colours = _colours()
    traces = [
        charts.line_series(
            job,
            [p.started_at.isoformat() for p in job_points],
            [round(p.seconds, 6) for p in job_points],
            color=next(colours),
            hover=[
                f"{name} · run {p.run_id} · {job} · {p.branch or 'no branch'} · "
                f"{p.outcome} · {_seconds(p.seconds)}"
                for p in job_points
            ],
        )
        for job, job_points in sorted(by_job.items())
    ]
    middle = durations.median(p.seconds for p in points)
    ends = [points[0].started_at.isoformat(), points[-1].started_at.isoformat()]
    traces.append(
        charts.line_series(
            "median",
            ends,
            [round(middle, 6)] * 2,
            color=charts.PALETTE["neutral"],
            hover=[f"median {_seconds(middle)}"] * 2,
            dash="dash",
        )
    )
    return charts.figure(traces, charts.base_layout(y_title="Duration (s)"))


def _colours():
    palette = ("line", "branch", "flaky", "pass", "fail", "neutral")
    while True:
        yield from (charts.PALETTE[key] for key in palette)


def _seconds(value: float) -> str:
    if value < 1:
        return f"{value * 1000:.0f} ms"
    if value < 120:
        return f"{value:.1f} s"
    return f"{value / 60:.1f} min"
