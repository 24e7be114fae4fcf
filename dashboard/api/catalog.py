"""The test catalog as JSON: find a test's id by its name, class or file."""

from __future__ import annotations

from flask import jsonify, url_for

from dashboard.analytics import catalog
from dashboard.api import bp, openapi
from dashboard.api.common import (
    CASE_IDENTITY_PROPERTIES,
    api_project_or_404,
    case_identity_json,
    iso,
    page_json,
    paging_args,
    text_arg,
)
from dashboard.api.openapi import DATE_TIME, object_schema
from dashboard.filters import Filters
from dashboard.models import Project


@bp.get("/projects/<slug>/tests")
def list_tests(slug: str):
    project = api_project_or_404(slug)
    page = catalog.find_tests(project, Filters(q=text_arg("q"), **paging_args()))
    return jsonify({"tests": [entry_json(project, e) for e in page.items], **page_json(page)})


def entry_json(project: Project, entry: catalog.CatalogEntry) -> dict:
    latest = entry.latest
    return {
        **case_identity_json(entry.case.id, entry.case),
        "first_seen_at": iso(entry.first_seen_at),
        "latest": None
        if latest is None
        else {
            "run_id": latest.run_id,
            "started_at": iso(latest.started_at),
            "outcome": latest.outcome,
            "retry_flake": latest.retry_flake,
        },
        "history_url": url_for(
            "api.test_history", slug=project.slug, case_id=entry.case.id, _external=True
        ),
    }


# --- OpenAPI ----------------------------------------------------------------------------

LATEST = object_schema(
    {
        "run_id": {"type": "integer", "minimum": 1},
        "started_at": DATE_TIME,
        "outcome": openapi.OUTCOME,
        "retry_flake": {"type": "boolean"},
    },
    nullable=True,
    description="the test's result in the latest run received that has one",
)

openapi.describe(
    "/projects/{slug}/tests",
    "get",
    {
        "summary": "Find tests by name, class or file",
        "description": "Every test the project has reported, by file, class and name, "
        "each with its result in the latest run received that has one. `q` keeps the "
        "tests whose name, class or file contains it, in any case. A page past the "
        "last one is empty.",
        "parameters": [
            openapi.SLUG_PARAMETER,
            openapi.SEARCH_PARAMETER,
            *openapi.paging_parameters(),
        ],
        "responses": {
            "200": openapi.json_response(
                openapi.schema(
                    "TestPage",
                    object_schema(
                        {
                            "tests": {
                                "type": "array",
                                "items": openapi.schema(
                                    "CatalogTest",
                                    object_schema(
                                        {
                                            **CASE_IDENTITY_PROPERTIES,
                                            "first_seen_at": DATE_TIME,
                                            "latest": LATEST,
                                            "history_url": {"type": "string"},
                                        }
                                    ),
                                ),
                            },
                            **openapi.PAGE_PROPERTIES,
                        }
                    ),
                )
            ),
            **openapi.error_responses(400, 404),
        },
    },
)
