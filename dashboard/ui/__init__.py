"""Pages: server-rendered screens, each one template with htmx-swappable blocks."""

from __future__ import annotations

from flask import Blueprint, current_app, request
from sqlalchemy.exc import SQLAlchemyError

from dashboard import projects as project_service
from dashboard.analytics.runs import run_status
from dashboard.extensions import db
from dashboard.rendering import render_screen

bp = Blueprint("ui", __name__)


@bp.app_context_processor
def endpoints() -> dict:
    """Lets layouts link only to screens that exist."""
    return {"has_endpoint": lambda name: name in current_app.view_functions}


@bp.app_context_processor
def navigation() -> dict:
    """Every page's project switcher; an error page must render even without a database."""
    try:
        return {"nav_projects": project_service.list_projects()}
    except SQLAlchemyError:
        db.session.rollback()
        return {"nav_projects": []}


@bp.get("/")
def projects():
    upload_url = request.host_url + "api/v1/uploads"
    return render_screen(
        "projects.html",
        projects=project_service.list_project_summaries(),
        upload_url=upload_url,
        run_status=run_status,
        health_days=project_service.HEALTH_DAYS,
    )


# Each screen module registers its routes on ``bp`` when imported.
from dashboard.ui import (  # noqa: E402,F401
    account,
    coverage,
    durations,
    flaky,
    project_pages,
    review,
    runs,
    settings,
)
