"""Signing in and out."""

from __future__ import annotations

from flask import flash, redirect, request, url_for
from flask.wrappers import Response

from dashboard import access
from dashboard.rendering import render_screen
from dashboard.ui import bp

# The same words whichever was wrong, so the page does not say which names exist.
WRONG_CREDENTIALS = "Wrong name or password."


@bp.route("/sign-in", methods=["GET", "POST"])
def sign_in():
    next_url = access.safe_next(request.values.get("next"))
    if request.method == "GET":
        return sign_in_page(next_url)
    user = access.authenticate(request.form.get("username", ""), request.form.get("password", ""))
    if user is None:
        return sign_in_page(next_url, error=WRONG_CREDENTIALS, status=422)
    access.sign_in(user)
    return redirect(next_url or url_for("ui.projects"))


def sign_in_page(next_url: str | None, *, error: str | None = None, status: int = 200) -> Response:
    response = render_screen(
        "sign_in.html",
        next_url=next_url,
        error=error,
        username=request.form.get("username", "").strip(),
    )
    response.status_code = status
    return response


@bp.post("/sign-out")
def sign_out():
    access.sign_out()
    flash("You are signed out.")
    return redirect(url_for("ui.sign_in"))
