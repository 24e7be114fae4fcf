"""The coverage screen: summary, trend, per-file table and directory treemap.

The charts are JSON figure endpoints that ``static/app.js`` loads lazily; the
figure builders below are pure functions from analytics results to Plotly
dicts, every report string (paths, branches, commits) escaped.
"""

from __future__ import annotations

from dataclasses import replace

from dashboard import charts
from dashboard import projects as project_service
from dashboard.analytics import coverage as analytics
from dashboard.analytics.scope import Scope
from dashboard.charts import (
    PALETTE,
    base_layout,
    chart_response,
    empty_figure,
    figure,
    line_series,
    safe_text,
)
from dashboard.filters import Filters, paginate
from dashboard.models import Project
from dashboard.rendering import render_project_screen
from dashboard.ui import bp
from dashboard.ui.common import project_or_404, request_filters

LOWEST_LIMIT = 10
NO_BRANCH_COLOR = "#bdbdbd"  # tiles without a branch rate; the hover text says why
TREEMAP_DEPTH = 3  # root plus two levels at once; clicking a tile drills down


def coverage_filters(project: Project) -> Filters:
    """The URL's filters with the branch made explicit (default: the default branch)."""
    filters = request_filters()
    return replace(filters, branch=filters.branch or project.default_branch)


@bp.get("/p/<slug>/coverage")
def coverage(slug: str):
    project = project_or_404(slug)
    filters = coverage_filters(project)
    scope = Scope.from_filters(project, filters)
    summary = analytics.coverage_summary(scope)
    files = analytics.file_table(scope, summary)
    shown = analytics.sort_files(analytics.search_files(files, filters.q), filters.sort)
    lowest = analytics.rank_by_uncovered_branches(files, project.branch_coverage_threshold)
    return render_project_screen(
        "coverage.html",
        project=project,
        filters=filters,
        # The table's headers and pages mark the default order; the URL leaves it out.
        table_filters=replace(filters, sort=analytics.file_sort(filters.sort)),
        options=branch_options(project, filters),
        summary=summary,
        file_count=len(files),
        page=paginate(shown, filters),
        lowest=lowest[:LOWEST_LIMIT],
    )


def branch_options(project: Project, filters: Filters) -> project_service.FilterOptions:
    """The filter choices, with the chosen branch present even if it has no recent run."""
    options = project_service.filter_options(project)
    if filters.branch not in options.branches:
        options = replace(options, branches=[*options.branches, filters.branch])
    return options


@bp.get("/p/<slug>/coverage/trend.json")
def coverage_trend_chart(slug: str):
    project = project_or_404(slug)
    scope = Scope.from_filters(project, coverage_filters(project))
    return chart_response(trend_figure(analytics.coverage_trend(scope)))


@bp.get("/p/<slug>/coverage/treemap.json")
def coverage_treemap_chart(slug: str):
    project = project_or_404(slug)
    scope = Scope.from_filters(project, coverage_filters(project))
    tree = analytics.directory_tree(analytics.file_table(scope))
    return chart_response(treemap_figure(tree, project.branch_coverage_threshold))


# --- figures (pure) -------------------------------------------------------------------


def percent(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.1f}%"


def _point_hover(point: analytics.CoveragePoint) -> str:
    branch = percent(point.branch_rate) if point.has_branch_data else "no branch data"
    return (
        f"{point.started_at:%Y-%m-%d %H:%M} · {(point.commit or 'no commit')[:10]} · "
        f"{point.job} · line {percent(point.line_rate)} · branch {branch}"
    )


def trend_figure(points: list[analytics.CoveragePoint]) -> dict:
    """Line and branch rate per run; both series always (branch gaps where no data).

    With several jobs, each job has its own pair of lines in its own colour: the
    jobs of one commit may measure different code (a frontend job, another
    Python), and one line through all of them zigzags from job to job.
    """
    if not points:
        return empty_figure("No coverage reports for this branch in the window.")
    jobs = charts.by_job(points)
    layout = base_layout(y_title="Coverage", y_format=".0%")
    layout["yaxis"]["range"] = [0, 1.02]
    if len(jobs) == 1:
        return figure(_rate_lines(points, "", PALETTE["line"], PALETTE["branch"]), layout)
    traces = []
    for job, job_points, colour in jobs:
        traces += _rate_lines(job_points, f" · {job}", colour, colour, group=job)
    return figure(traces, layout)


def _rate_lines(
    points: list[analytics.CoveragePoint],
    suffix: str,
    line_colour: str,
    branch_colour: str,
    group: str | None = None,
) -> list[dict]:
    """The line rate (solid) and branch rate (dotted) of these runs, names ending in ``suffix``."""
    x = [p.started_at.isoformat() for p in points]
    hover = [_point_hover(p) for p in points]
    branch_name = "Branch rate"
    if not any(p.has_branch_data for p in points):
        branch_name = "Branch rate (no branch data)"
    # line_series escapes the names and hover texts (commit and job come from reports).
    line = line_series(
        f"Line rate{suffix}", x, [p.line_rate for p in points], color=line_colour, hover=hover
    )
    branch = line_series(
        f"{branch_name}{suffix}",
        x,
        [p.branch_rate for p in points],
        color=branch_colour,
        hover=hover,
        dash="dot",
    )
    if group is not None:  # a click on the legend shows or hides the job's pair
        line["legendgroup"] = branch["legendgroup"] = safe_text(group)
    return [line, branch]


def _colorscale(threshold: float) -> list[list]:
    # Amber sits at the project's threshold: red below it, green towards 100%.
    middle = min(max(threshold, 0.05), 0.95)
    return [[0.0, PALETTE["fail"]], [middle, "#f9a825"], [1.0, PALETTE["pass"]]]


def _node_hover(node: analytics.DirectoryNode) -> str:
    if node.branches_valid is None:
        branches = "no branch data (this format does not record branches)"
    elif node.branch_rate is None:
        branches = "no branches"
    else:
        branches = f"{node.branches_covered}/{node.branches_valid} ({percent(node.branch_rate)})"
    name = safe_text(node.path or node.label)
    lines = f"{node.lines_covered}/{node.lines_valid} ({percent(node.line_rate)})"
    return f"{name}<br>branches {branches}<br>lines {lines}"


def treemap_figure(nodes: list[analytics.DirectoryNode], threshold: float) -> dict:
    """Tiles sized by lines valid, coloured by branch rate (grey: no rate)."""
    if len(nodes) <= 1:
        return empty_figure("No coverage reports for this branch in the window.")
    trace = {
        "type": "treemap",
        # ids and parents are escaped like labels: escaping is one-to-one, so
        # the tree is unchanged, and nothing raw reaches plotly.js.
        "ids": [safe_text(n.id) for n in nodes],
        "parents": [safe_text(n.parent) if n.parent else "" for n in nodes],
        "labels": [safe_text(n.label) for n in nodes],
        "values": [n.value("lines") for n in nodes],
        "branchvalues": "total",
        "maxdepth": TREEMAP_DEPTH,
        "textinfo": "label",
        "text": [_node_hover(n) for n in nodes],
        "hovertemplate": "%{text}<extra></extra>",
        "marker": {
            # Numbers go through the colour scale; plotly.js draws a colour
            # string (the grey) as it is.
            "colors": [NO_BRANCH_COLOR if n.branch_rate is None else n.branch_rate for n in nodes],
            "colorscale": _colorscale(threshold),
            "cmin": 0,
            "cmax": 1,
            "showscale": True,
            "colorbar": {"title": {"text": "Branch rate"}, "tickformat": ".0%"},
        },
    }
    layout = {**base_layout(height=480), "margin": {"l": 8, "r": 8, "t": 24, "b": 8}}
    del layout["xaxis"], layout["yaxis"]  # a treemap has no axes
    return figure([trace], layout)
