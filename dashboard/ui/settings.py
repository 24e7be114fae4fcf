"""A project's settings: thresholds, time zone, owners and API tokens.

Anyone signed in may look; only admins may change anything. Anonymous
visitors are asked to sign in even when the dashboard is public, since the page
lists who uploads with which token.
"""

from __future__ import annotations

from collections.abc import Mapping

from flask import abort, flash, redirect, request, url_for
from flask.wrappers import Response

from dashboard import access, project_settings
from dashboard import projects as project_service
from dashboard.models import Project
from dashboard.rendering import render_project_screen
from dashboard.ui import bp
from dashboard.ui.common import project_or_404


@bp.get("/p/<slug>/settings")
@access.sign_in_required
def settings(slug: str):
    return settings_screen(project_or_404(slug))


@bp.post("/p/<slug>/settings")
@access.admin_required
def update_settings(slug: str):
    project = project_or_404(slug)
    errors = project_settings.update_settings(project, request.form)
    if errors:
        return settings_screen(project, form=request.form, errors=errors, status=422)
    flash("Settings saved.")
    return redirect(url_for("ui.settings", slug=slug))


@bp.post("/p/<slug>/settings/tokens")
@access.admin_required
def create_project_token(slug: str):
    project = project_or_404(slug)
    try:
        name = project_settings.parse_token_name(request.form.get("name", ""))
    except project_settings.InvalidSetting as error:
        return settings_screen(project, token_error=str(error), status=422)
    issued = project_service.create_token(project, name)
    # The secret exists only in this response, so it is rendered here rather
    # than after a redirect, and kept out of every cache.
    response = settings_screen(project, issued=issued, status=201)
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.post("/p/<slug>/settings/tokens/<int:token_id>/revoke")
@access.admin_required
def revoke_project_token(slug: str, token_id: int):
    project = project_or_404(slug)
    try:
        token = project_service.revoke_token(project, token_id)
    except project_service.ProjectError as error:
        abort(404, str(error))
    flash(f"Token {token.prefix}… revoked: uploads and reads with it are now refused.")
    return redirect(url_for("ui.settings", slug=slug))


def settings_screen(
    project: Project,
    *,
    form: Mapping[str, str] | None = None,
    errors: Mapping[str, str] | None = None,
    status: int = 200,
    **extra,
) -> Response:
    """The page, showing ``form`` (what was typed) when it has errors to point at."""
    user = access.current_user()
    response = render_project_screen(
        "settings.html",
        project=project,
        values=form if form is not None else project_settings.settings_values(project),
        errors=errors or {},
        tokens=project_service.list_tokens(project),
        can_edit=bool(user and user.is_admin),
        timezones=sorted(project_settings.timezone_names()),
        **extra,
    )
    response.status_code = status
    return response
