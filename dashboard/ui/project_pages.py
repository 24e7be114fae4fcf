"""A project's overview: headline cards, trends, the costliest flaky tests, latest runs."""

from __future__ import annotations

from collections.abc import Sequence

from dashboard import charts
from dashboard import projects as project_service
from dashboard.analytics import overview
from dashboard.analytics.scope import Scope
from dashboard.rendering import render_project_screen
from dashboard.ui import bp
from dashboard.ui.common import project_or_404, request_filters


@bp.get("/p/<slug>")
def project_overview(slug: str):
    project = project_or_404(slug)
    filters = request_filters()
    scope = Scope.from_filters(project, filters)
    return render_project_screen(
        "project.html",
        project=project,
        filters=filters,
        options=project_service.filter_options(project),
        overview=overview.project_overview(scope),
        chart_query=filters.query_string(),
    )


@bp.get("/p/<slug>/overview/health.json")
def overview_health_chart(slug: str):
    project = project_or_404(slug)
    scope = Scope.from_filters(project, request_filters())
    return charts.chart_response(health_figure(overview.daily_health(scope)))


def health_figure(days: Sequence[overview.DailyHealth]) -> dict:
    """Runs per day (bars) and the share that passed (line, right axis)."""
    if not days:
        return charts.empty_figure("No runs in this window")
    x = [day.day.isoformat() for day in days]
    layout = charts.base_layout(y_title="runs")
    layout["yaxis2"] = {
        "title": {"text": "share passed"},
        "overlaying": "y",
        "side": "right",
        "range": [0, 1.05],
        # Quarters, not ticks lined up with the run counts' (96%, 77%, ...); room
        # made for them and the title, which the fixed right margin cut off.
        "tickvals": [0, 0.25, 0.5, 0.75, 1],
        "tickformat": ".0%",
        "showgrid": False,
        "automargin": True,
    }
    runs = {
        "type": "bar",
        "name": "runs",
        "x": x,
        "y": [day.runs for day in days],
        "marker": {"color": "#90a4ae"},
        "hovertemplate": "%{x}: %{y} runs<extra></extra>",
    }
    passed = charts.line_series(
        "runs passed",
        x,
        [day.green_rate for day in days],
        color=charts.PALETTE["pass"],
        hover=[f"{day.day}: {day.green_runs} of {day.runs} runs passed" for day in days],
    )
    passed["yaxis"] = "y2"
    return charts.figure([runs, passed], layout)
