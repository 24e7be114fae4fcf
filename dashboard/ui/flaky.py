"""The flaky tests screen, and quarantining a test from it (admins only)."""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import parse_qsl, urlsplit

from flask import flash, redirect, request, url_for
from flask.wrappers import Response
from werkzeug.datastructures import MultiDict

from dashboard import access
from dashboard import projects as project_service
from dashboard import quarantine as quarantine_service
from dashboard.analytics.flaky import REPORT_STATUSES, CaseFlakiness, flaky_report
from dashboard.analytics.scope import Scope
from dashboard.filters import Filters, paginate
from dashboard.models import Project
from dashboard.rendering import is_htmx, render_project_screen
from dashboard.ui import bp, common

STATUS_CHOICES = [(status, status) for status in REPORT_STATUSES]
STATUS_ORDER = {"flaky": 0, "failing": 1, "quarantined": 2}

# Sortable columns; values that may be missing (no flip rate yet) sort last either way.
SORT_KEYS: dict[str, Callable[[CaseFlakiness], object]] = {
    "name": lambda r: r.display_name.lower(),
    "status": lambda r: STATUS_ORDER.get(r.status, len(STATUS_ORDER)),
    "flake_rate": lambda r: r.flake_rate,
    "flip_rate": lambda r: r.flip_rate,
    "retry_flakes": lambda r: r.retry_flakes,
    "same_commit_flakes": lambda r: r.same_commit_flakes,
    "executions": lambda r: r.executions,
    "runs_disrupted": lambda r: r.runs_disrupted,
    "ci_seconds_lost": lambda r: r.ci_seconds_lost,
    "last_flake": lambda r: r.last_flake_run_id,
}


# --- the screen ------------------------------------------------------------------------


@bp.get("/p/<slug>/flaky")
def flaky(slug: str):
    return flaky_screen(common.project_or_404(slug), common.request_filters())


def flaky_screen(
    project: Project, filters: Filters, *, error: str | None = None, status: int = 200
) -> Response:
    report_status = filters.status if filters.status in REPORT_STATUSES else None
    report = flaky_report(Scope.from_filters(project, filters), status=report_status)
    rows = sort_rows(search(report, filters.q), filters.sort)
    page = paginate(rows, filters)
    if page.page > page.pages:  # e.g. the last test of the last page was just quarantined
        filters = filters.with_(page=page.pages)
        page = paginate(rows, filters)
    response = render_project_screen(
        "flaky.html",
        project=project,
        filters=filters,
        page=page,
        options=project_service.filter_options(project),
        statuses=STATUS_CHOICES,
        user=access.current_user(),
        here=screen_url(project, filters),
        error=error,
    )
    response.status_code = status
    return response


def screen_url(project: Project, filters: Filters) -> str:
    query = filters.query_string()
    base = url_for("ui.flaky", slug=project.slug)
    return f"{base}?{query}" if query else base


def search(rows: list[CaseFlakiness], q: str | None) -> list[CaseFlakiness]:
    """Rows whose name, class or file contains ``q`` (case-insensitive)."""
    if not q:
        return rows
    needle = q.lower()
    return [r for r in rows if any(needle in t.lower() for t in (r.name, r.classname, r.file))]


def sort_rows(rows: list[CaseFlakiness], sort: str | None) -> list[CaseFlakiness]:
    """Rows by ``sort`` (``-key`` for descending); unknown keys keep the cost order."""
    key = (sort or "").removeprefix("-")
    if key not in SORT_KEYS:
        return rows
    value = SORT_KEYS[key]
    present = [r for r in rows if value(r) is not None]
    missing = [r for r in rows if value(r) is None]
    return sorted(present, key=value, reverse=sort.startswith("-")) + missing


# --- quarantine ------------------------------------------------------------------------


@bp.post("/p/<slug>/flaky/<int:case_id>/quarantine")
@access.admin_required
def quarantine_case(slug: str, case_id: int):
    project = common.project_or_404(slug)
    case = common.case_or_404(project, case_id)
    try:
        quarantine_service.quarantine_case(
            project,
            case,
            request.form.get("reason", ""),
            created_by=access.current_user().username,
            expires_at=quarantine_service.parse_expiry(request.form.get("expires_at")),
        )
    except quarantine_service.QuarantineError as error:
        return after_change(project, error=str(error))
    flash(f"{case.display_name} is quarantined.")
    return after_change(project)


@bp.post("/p/<slug>/flaky/<int:case_id>/lift")
@access.admin_required
def lift_quarantine(slug: str, case_id: int):
    project = common.project_or_404(slug)
    case = common.case_or_404(project, case_id)
    try:
        quarantine_service.lift_quarantine(project, case)
    except quarantine_service.QuarantineError as error:
        return after_change(project, error=str(error))
    flash(f"{case.display_name} is no longer quarantined.")
    return after_change(project)


def after_change(project: Project, *, error: str | None = None) -> Response:
    """Back to the filtered screen the form was on.

    A plain form gets a redirect (or, on error, the page again with a 422); htmx
    gets the screen re-rendered in place. htmx 2 does not swap 4xx responses, so
    its error screen comes with a 200.
    """
    back = access.safe_next(request.form.get("next")) or url_for("ui.flaky", slug=project.slug)
    if is_htmx():
        return flaky_screen(project, filters_of(back), error=error)
    if error:
        return flaky_screen(project, filters_of(back), error=error, status=422)
    return redirect(back)


def filters_of(url: str) -> Filters:
    """The filters in a screen URL's query."""
    return Filters.from_args(MultiDict(parse_qsl(urlsplit(url).query, keep_blank_values=True)))
