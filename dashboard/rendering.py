"""One template per screen; htmx requests get only the named block.

Following htmx's "template fragments" essay: a request carrying ``HX-Request``
receives the block it swaps, any other request the whole page, and every
response says ``Vary: HX-Request`` so caches keep the two apart.
"""

from __future__ import annotations

from flask import current_app, make_response, render_template, request
from flask.wrappers import Response

PARTIAL_BLOCK = "content"
PROJECT_SCREEN_BLOCK = "screen"


def is_htmx() -> bool:
    # A history restore asks for the whole page even though htmx sends it.
    return request.headers.get("HX-Request") == "true" and not request.headers.get(
        "HX-History-Restore-Request"
    )


def render_block(template_name: str, block_name: str, **context) -> str:
    """Render one named block of a template with Flask's usual context."""
    current_app.update_template_context(context)
    template = current_app.jinja_env.get_template(template_name)
    block = template.blocks[block_name]
    return "".join(block(template.new_context(context)))


def render_screen(template_name: str, *, block: str = PARTIAL_BLOCK, **context) -> Response:
    """The whole page, or for htmx only ``block`` (the region it swaps)."""
    if is_htmx():
        body = render_block(template_name, block, **context)
        if block == PROJECT_SCREEN_BLOCK:
            # project_base.html wraps this block in the element htmx targets.
            body = f'<section id="screen">{body}</section>'
    else:
        body = render_template(template_name, **context)
    response = make_response(body)
    response.vary.add("HX-Request")
    return response


def render_project_screen(template_name: str, **context) -> Response:
    """A screen of one project (templates extending ``project_base.html``)."""
    return render_screen(template_name, block=PROJECT_SCREEN_BLOCK, **context)
