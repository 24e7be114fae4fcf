"""Helpers shared by the JSON endpoints."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

from flask import abort, current_app, request, url_for

from dashboard import projects as project_service
from dashboard.filters import DEFAULT_PER_PAGE, PER_PAGE_CHOICES, Filters, Page, clean_text
from dashboard.models import Project


def api_project_or_404(slug: str) -> Project:
    try:
        return project_service.get_project(slug)
    except project_service.ProjectError:
        abort(404, f"no project with slug {slug!r}")


def api_filters() -> Filters:
    """The screens' lenient filters: a malformed value falls back to its default."""
    return Filters.from_args(request.args)


# Strict parameters, for endpoints that answer a bad value with a 400, never a guess.


def int_arg(name: str, default: int, choices: Collection[int] | None = None) -> int:
    """A whole number of at least 1 (one of ``choices`` if given); absent: ``default``."""
    value = request.args.get(name)
    if value is None:
        return default
    number = int(value) if value.isascii() and value.isdigit() else 0
    if choices is not None and number not in choices:
        abort(400, f"`{name}` must be one of {', '.join(map(str, choices))}")
    if number < 1:
        abort(400, f"`{name}` must be a whole number of at least 1")
    return number


def paging_args() -> dict[str, int]:
    """``page`` and ``per_page`` of a paged list, strictly (see ``int_arg``)."""
    return {
        "page": int_arg("page", 1),
        "per_page": int_arg("per_page", DEFAULT_PER_PAGE, PER_PAGE_CHOICES),
    }


def page_json(page: Page) -> dict[str, int]:
    """Where a paged list stands, beside its items."""
    return {"page": page.page, "per_page": page.per_page, "pages": page.pages, "total": page.total}


def text_arg(name: str, choices: Collection[str] | None = None) -> str | None:
    """A text parameter cleaned as the screens clean theirs (blank: ``None``);
    with ``choices``, any other value is a 400."""
    value = clean_text(request.args.get(name))
    if value is not None and choices is not None and value not in choices:
        abort(400, f"`{name}` must be one of {', '.join(choices)}")
    return value


def case_identity_json(case_id: int, case) -> dict:
    """A test's identity as every endpoint listing tests spells it; ``case`` is a ``Case``
    or an analytics row (anything with ``file``, ``classname`` and ``name``)."""
    return {"case_id": case_id, "file": case.file, "classname": case.classname, "name": case.name}


CASE_IDENTITY_PROPERTIES = {
    "case_id": {"type": "integer"},
    "file": {"type": "string"},
    "classname": {"type": "string"},
    "name": {"type": "string"},
}


def iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def run_url(project_slug: str, run_id: int) -> str:
    """A run's page, for people following a link from CI, a bot or a wallboard:
    under ``SUITESCOPE_BASE_URL`` when set (behind a proxy), else this request's host."""
    base = current_app.config.get("SUITESCOPE_BASE_URL")
    if base:
        return base + url_for("ui.run_detail", slug=project_slug, run_id=run_id)
    return url_for("ui.run_detail", slug=project_slug, run_id=run_id, _external=True)
