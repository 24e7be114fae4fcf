"""The weekly review page and its Markdown export."""

from __future__ import annotations

from flask import Response, abort, request

from dashboard.analytics.review import InvalidWeek, Review, weekly_review
from dashboard.models import Project
from dashboard.rendering import render_project_screen
from dashboard.review_render import Links, review_markdown, template_context
from dashboard.ui import bp
from dashboard.ui.common import project_or_404

MARKDOWN_TYPE = "text/markdown; charset=utf-8"


@bp.get("/p/<slug>/review", endpoint="review")
def review_screen(slug: str):
    project = project_or_404(slug)
    review = review_or_400(project)
    return render_project_screen(
        "review.html", **template_context(review, Links.for_page(project.slug))
    )


@bp.get("/p/<slug>/review.md", endpoint="review_markdown")
def review_markdown_export(slug: str):
    project = project_or_404(slug)
    review = review_or_400(project)
    body = review_markdown(review, Links(project.slug))
    response = Response(body, content_type=MARKDOWN_TYPE)
    # Shown in the browser; the page's link offers it as a download.
    response.headers["Content-Disposition"] = (
        f'inline; filename="review-{project.slug}-{review.week.label}.md"'
    )
    return response


def review_or_400(project: Project) -> Review:
    try:
        return weekly_review(project, request.args.get("week"))
    except InvalidWeek as error:
        abort(400, str(error))
