"""Charts as plain Plotly figure dicts: pure functions from data to JSON.

The page only holds an empty ``<figure data-chart-src=...>``; ``static/app.js``
fetches the figure when it scrolls into view and draws it with plotly.js
(served from the installed ``plotly`` wheel). Figures are built as dicts rather
than ``plotly.graph_objects`` objects: the same JSON, without the validation
cost on every request.
"""

from __future__ import annotations

import html
from collections import defaultdict
from collections.abc import Iterable, Sequence
from itertools import cycle
from typing import TypeVar

from flask import Response, jsonify

T = TypeVar("T")

PALETTE = {
    "pass": "#2e7d32",
    "fail": "#c62828",
    "flaky": "#ef6c00",
    "skip": "#757575",
    "line": "#1565c0",
    "branch": "#6a1b9a",
    "neutral": "#455a64",
}

# One colour per job, jobs in name order; a seventh job takes the first again.
JOB_COLOURS = [PALETTE[k] for k in ("line", "branch", "flaky", "pass", "fail", "neutral")]


def by_job(points: Iterable[T]) -> list[tuple[str, list[T], str]]:
    """(job, its points in their order, its colour) for points with a ``job``, by job name."""
    groups: dict[str, list[T]] = defaultdict(list)
    for point in points:
        groups[point.job].append(point)
    return [
        (job, job_points, colour)
        for (job, job_points), colour in zip(sorted(groups.items()), cycle(JOB_COLOURS))
    ]


def safe_text(value: object) -> str:
    """Report strings are untrusted: plotly.js renders a subset of HTML in hover
    text and labels, so every string from a report is escaped first."""
    return html.escape(str(value), quote=True)


def safe_texts(values: Iterable[object]) -> list[str]:
    return [safe_text(v) for v in values]


def base_layout(*, y_title: str = "", y_format: str | None = None, height: int = 320) -> dict:
    layout: dict = {
        "height": height,
        "margin": {"l": 56, "r": 16, "t": 16, "b": 40},
        "hovermode": "closest",
        "legend": {"orientation": "h", "y": -0.2},
        "xaxis": {"automargin": True},
        "yaxis": {"title": {"text": y_title}, "automargin": True, "rangemode": "tozero"},
        "paper_bgcolor": "rgba(0,0,0,0)",
        "plot_bgcolor": "rgba(0,0,0,0)",
    }
    if y_format:
        layout["yaxis"]["tickformat"] = y_format
    return layout


def line_series(
    name: str,
    x: Sequence,
    y: Sequence,
    *,
    color: str,
    hover: Sequence[str] | None = None,
    dash: str | None = None,
) -> dict:
    trace: dict = {
        "type": "scatter",
        "mode": "lines+markers",
        "name": safe_text(name),
        "x": list(x),
        "y": list(y),
        "line": {"color": color, "width": 2},
        "marker": {"size": 5},
        "connectgaps": False,
    }
    if dash:
        trace["line"]["dash"] = dash
    if hover is not None:
        trace["text"] = safe_texts(hover)
        trace["hovertemplate"] = "%{text}<extra></extra>"
    return trace


def figure(traces: list[dict], layout: dict) -> dict:
    return {"data": traces, "layout": layout}


def empty_figure(message: str) -> dict:
    layout = base_layout()
    layout["xaxis"] = {"visible": False}
    layout["yaxis"] = {"visible": False}
    layout["annotations"] = [
        {
            "text": safe_text(message),
            "showarrow": False,
            "xref": "paper",
            "yref": "paper",
            "x": 0.5,
            "y": 0.5,
        }
    ]
    return figure([], layout)


def chart_response(fig: dict) -> Response:
    response = jsonify(fig)
    response.headers["Cache-Control"] = "private, max-age=30"
    return response


def sparkline_points(values: Sequence[float], width: int = 100, height: int = 24) -> str:
    """SVG polyline points for a tiny inline trend (no JavaScript needed)."""
    if not values:
        return ""
    low, high = min(values), max(values)
    span = (high - low) or 1.0
    step = width / max(len(values) - 1, 1)
    return " ".join(
        f"{i * step:.1f},{height - (v - low) / span * (height - 2) - 1:.1f}"
        for i, v in enumerate(values)
    )
