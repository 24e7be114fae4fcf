"""The durations screen, its wall-time chart and one test's duration chart."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace

from dashboard import charts
from dashboard import projects as project_service
from dashboard.analytics import durations
from dashboard.analytics.scope import FAILED_OUTCOMES, Scope
from dashboard.filters import Filters, paginate
from dashboard.rendering import render_project_screen
from dashboard.ui import bp
from dashboard.ui.common import case_or_404, project_or_404, request_filters

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
    filters = request_filters()
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
    scope = Scope.from_filters(project, request_filters())
    return charts.chart_response(wall_time_figure(durations.wall_time(scope)))


@bp.get("/p/<slug>/tests/<int:case_id>/durations.json")
def test_duration_chart(slug: str, case_id: int):
    project = project_or_404(slug)
    case = case_or_404(project, case_id)
    scope = Scope.from_filters(project, request_filters())
    points = durations.case_durations(scope, case.id)
    return charts.chart_response(case_duration_figure(case.display_name, points))


def durations_context(scope: Scope, filters: Filters) -> dict:
    sort = filters.sort if _sort_key(filters.sort) else DEFAULT_SORT
    found_slow = durations.slowest_tests(scope, limit=SLOWEST_LIMIT, search=filters.q)
    slowest = sorted_tests(found_slow, sort)
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


def chart_query(filters: Filters) -> str:
    """The query string the chart endpoints need: the scope filters only."""
    return Filters(window=filters.window, branch=filters.branch, job=filters.job).query_string()


def sorted_tests(tests: list[durations.SlowTest], sort: str) -> list[durations.SlowTest]:
    return sorted(tests, key=_sort_key(sort), reverse=sort.startswith("-"))


def _sort_key(sort: str | None):
    return SORT_KEYS.get((sort or "").removeprefix("-"))


# --- Figures (pure: data in, Plotly figure dict out) ----------------------------


def wall_time_figure(points: Sequence[durations.WallTimePoint]) -> dict:
    """One line per job: the suite's wall time of each run."""
    if not points:
        return charts.empty_figure("No run in this window reported a suite time.")
    traces = job_lines(points, 3, lambda p: f"run {p.run_id} · {p.job} · {_seconds(p.seconds)}")
    return charts.figure(traces, charts.base_layout(y_title="Suite wall time (s)"))


def case_duration_figure(name: str, points: Sequence[durations.DurationPoint]) -> dict:
    """One line per job: the case's duration in each run, and its median as a dashed line."""
    if not points:
        return charts.empty_figure("This test has no timed execution in this window.")
    traces = job_lines(
        points,
        6,
        lambda p: (
            f"{name} · run {p.run_id} · {p.job} · {p.branch or 'no branch'} · "
            f"{p.outcome} · {_seconds(p.seconds)}"
        ),
        outcome_colour,
    )
    for line in traces:  # thin: the points carry the news, the lines only join them
        line["line"]["width"] = 1
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


TimedPoint = durations.WallTimePoint | durations.DurationPoint


def job_lines(
    points: Sequence[TimedPoint],
    digits: int,
    hover: Callable[[TimedPoint], str],
    point_colour: Callable[[TimedPoint, str], str] | None = None,
) -> list[dict]:
    """One line of seconds per job, jobs by name and colours in turn; ``hover`` labels
    a point, and ``point_colour`` (given the point and its job's colour) colours it."""
    lines = []
    for job, job_points, colour in charts.by_job(points):
        line = charts.line_series(
            job,
            [p.started_at.isoformat() for p in job_points],
            [round(p.seconds, digits) for p in job_points],
            color=colour,
            hover=[hover(p) for p in job_points],
        )
        if point_colour is not None:
            line["marker"]["color"] = [point_colour(p, colour) for p in job_points]
        lines.append(line)
    return lines


def outcome_colour(point: durations.DurationPoint, job_colour: str) -> str:
    """A failed execution's point in red, whatever its job: a test that fails by
    timing out shows as a row of red points at the timeout."""
    return charts.PALETTE["fail"] if point.outcome in FAILED_OUTCOMES else job_colour


def _seconds(value: float) -> str:
    if value < 1:
        return f"{value * 1000:.0f} ms"
    if value < 120:
        return f"{value:.1f} s"
    return f"{value / 60:.1f} min"
